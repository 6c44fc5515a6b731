//! The registry: which customer owns which profile and which workspaces, and which flow serves it. The worker's
//! customer documents (`GET /api/admin/customers`) are the truth; a run adds what its own state file records
//! (ids Power BI confirmed for a customer whose document does not carry them yet). Every step that creates,
//! adopts, moves or removes something asks the registry first.

use embedgate_edge::customer::{Customer, Flow};
use serde_json::Value;

/// A thing some customer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claim {
    customer: String,
    kind: Kind,
    id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Profile,
    Workspace,
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    customers: Vec<Customer>,
    claims: Vec<Claim>,
}

/// The fields the worker adds to a stored document (not part of the document itself).
pub const STORED_FIELDS: &[&str] = &["cacheGeneration", "createdAt", "updatedAt"];

/// A stored document without the worker's bookkeeping fields, typed.
pub fn customer_doc(v: &Value) -> Result<Customer, String> {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        for k in STORED_FIELDS {
            m.remove(*k);
        }
    }
    Customer::from_value(&v).map_err(|e| {
        let at = e.path.clone().unwrap_or_default();
        format!("{at}: {}", e.message)
    })
}

impl Registry {
    /// Reads `GET /api/admin/customers` (`{"customers": [...]}`).
    pub fn read(body: &str) -> Result<Registry, String> {
        let v: Value = serde_json::from_str(body)
            .map_err(|_| "the worker's customer list is not JSON".to_string())?;
        let list = v["customers"]
            .as_array()
            .ok_or("the worker's customer list has no `customers` array")?;
        let mut customers = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            customers.push(
                customer_doc(c)
                    .map_err(|e| format!("the worker's customer {i} is unreadable ({e})"))?,
            );
        }
        Ok(Registry::new(customers))
    }

    pub fn new(customers: Vec<Customer>) -> Registry {
        Registry {
            customers,
            claims: Vec::new(),
        }
    }

    /// Records what a state file says `customer` holds (a profile or workspace Power BI confirmed).
    pub fn claim(&mut self, customer: &str, profile: Option<&str>, workspace: Option<&str>) {
        for (kind, id) in [(Kind::Profile, profile), (Kind::Workspace, workspace)] {
            if let Some(id) = id.filter(|i| !i.is_empty()) {
                self.claims.push(Claim {
                    customer: customer.to_string(),
                    kind,
                    id: id.to_ascii_lowercase(),
                });
            }
        }
    }

    pub fn customers(&self) -> &[Customer] {
        &self.customers
    }

    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    /// The flow the worker serves `id` with (`None`: no document).
    pub fn flow(&self, id: &str) -> Option<Flow> {
        self.customer(id).map(|c| c.flow)
    }

    /// Every customer that holds profile `profile_id` (its document names it, or a state file recorded it).
    pub fn profile_holders(&self, profile_id: &str) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .customers
            .iter()
            .filter(|c| {
                c.profile_id
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(profile_id))
            })
            .map(|c| c.id.as_str())
            .chain(self.claimed(Kind::Profile, profile_id))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every customer whose document references workspace `ws` (its workspaces or an item's workspace), or
    /// whose state records it.
    pub fn workspace_holders(&self, ws: &str) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .customers
            .iter()
            .filter(|c| {
                c.workspaces.iter().any(|w| w.eq_ignore_ascii_case(ws))
                    || c.reports
                        .iter()
                        .chain(&c.datasets)
                        .any(|i| i.workspace_id.eq_ignore_ascii_case(ws))
            })
            .map(|c| c.id.as_str())
            .chain(self.claimed(Kind::Workspace, ws))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn claimed(&self, kind: Kind, id: &str) -> Vec<&str> {
        self.claims
            .iter()
            .filter(|c| c.kind == kind && c.id.eq_ignore_ascii_case(id))
            .map(|c| c.customer.as_str())
            .collect()
    }

    /// Another customer that holds the profile, if any.
    pub fn profile_owner_other_than(&self, profile_id: &str, customer: &str) -> Option<&str> {
        self.profile_holders(profile_id)
            .into_iter()
            .find(|c| *c != customer)
    }

    /// Another customer that uses the workspace, if any.
    pub fn workspace_user_other_than(&self, ws: &str, customer: &str) -> Option<&str> {
        self.workspace_holders(ws)
            .into_iter()
            .find(|c| *c != customer)
    }

    /// The profile the registry records as `customer`'s.
    pub fn profile_of(&self, customer: &str) -> Option<&str> {
        self.customer(customer)
            .and_then(|c| c.profile_id.as_deref())
            .or_else(|| {
                self.claims
                    .iter()
                    .find(|c| c.kind == Kind::Profile && c.customer == customer)
                    .map(|c| c.id.as_str())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WS: &str = "5a5a5a5a-0000-4000-8000-00000000a000";
    const WS2: &str = "5a5a5a5a-0000-4000-8000-00000000a002";
    const P1: &str = "9a9a9a9a-0000-4000-8000-000000000001";

    fn registry() -> Registry {
        Registry::read(&json!({"customers": [
            {"id": "a", "name": "A", "flow": "legacy", "workspaces": [WS], "reports": [], "cacheGeneration": 3},
            {"id": "b", "name": "B", "flow": "profile", "profileId": P1.to_uppercase(), "workspaces": [WS2], "reports": []},
        ]}).to_string())
        .unwrap()
    }

    #[test]
    fn documents_and_state_claims_both_hold_things() {
        let mut r = registry();
        assert_eq!(r.profile_holders(P1), ["b"]);
        assert_eq!(r.profile_owner_other_than(P1, "b"), None);
        assert_eq!(r.profile_owner_other_than(P1, "a"), Some("b"));
        assert_eq!(r.workspace_holders(&WS.to_uppercase()), ["a"]);
        r.claim("c", Some("9a9a9a9a-0000-4000-8000-000000000002"), Some(WS));
        assert_eq!(r.workspace_holders(WS), ["a", "c"]);
        assert_eq!(
            r.profile_of("c"),
            Some("9a9a9a9a-0000-4000-8000-000000000002")
        );
        assert_eq!(r.flow("b"), Some(Flow::Profile));
        assert_eq!(r.flow("zzz"), None);
    }

    #[test]
    fn an_unreadable_list_is_refused_with_the_customer_index() {
        let e = Registry::read(r#"{"customers": [{"id": "a"}]}"#).unwrap_err();
        assert!(e.contains("customer 0"), "{e}");
        assert!(Registry::read("[]").is_err());
    }
}
