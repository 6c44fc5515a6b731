//! A new customer's sign-up (the migration document's "Management code change": each new customer tenant gets a new profile,
//! which creates and administers its workspace). The body of the worker's
//! `POST /api/admin/customers/{id}/onboard` is read here with the JSON path of every problem, turned into the
//! same one-customer step machine `migrate apply` runs, and, once the machine is done, into the customer's
//! document in the profile flow. The worker only does the I/O.

use std::collections::BTreeMap;

use embedgate_edge::customer::Customer;
use serde::{Deserialize, Serialize};

use crate::inventory::{
    err, pointer, profile_name, CustomerIn, InputError, Inventory, Legacy, LegacyRls, RlsKind,
    Target, Template,
};
use crate::machine::{profile_document, Item, Progress, StepError};
use crate::plan::{plan, IdentityAfter};

/// The onboarding request's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnboardRequest {
    /// The customer's display name.
    pub name: String,
    /// The profile's display name (unique per service principal). Default: the customer id, which with
    /// dynamic RLS is what `USERNAME()` returns.
    #[serde(default)]
    pub profile_name: Option<String>,
    /// The workspace the profile creates. Default: the customer's name.
    #[serde(default)]
    pub workspace_name: Option<String>,
    /// Template keys (uploaded with `PUT /api/admin/templates/{key}`), imported in this order.
    pub templates: Vec<String>,
    #[serde(default)]
    pub rls: OnboardRls,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnboardRls {
    /// `dynamic` (the model filters on `USERNAME()`, which returns the profile's name), `static` (these roles
    /// on every token) or `none` (the workspace alone separates the customer).
    #[serde(default)]
    pub kind: RlsKind,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub custom_data: Option<String>,
}

/// A checked onboarding: the one-customer inventory the machine runs, and the identity its users get.
#[derive(Debug, Clone)]
pub struct Onboarding {
    pub inventory: Inventory,
    pub customer: CustomerIn,
    pub identity: IdentityAfter,
}

/// Reads the body (the JSON path of the first problem on error).
pub fn read(body: &[u8]) -> Result<OnboardRequest, InputError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let r: OnboardRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let msg = e.inner().to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        err(pointer(e.path()), msg)
    })?;
    let name_ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    if !name_ok(&r.name, 200) {
        return Err(err(
            "/name".into(),
            "a customer name is 1 to 200 characters",
        ));
    }
    if let Some(p) = &r.profile_name {
        if !name_ok(p, 256) {
            return Err(err(
                "/profileName".into(),
                "a profile name is 1 to 256 characters",
            ));
        }
        if r.rls.kind != RlsKind::None && p.chars().any(char::is_whitespace) {
            return Err(err(
                "/profileName".into(),
                "with RLS the profile's name is the effective identity's username, which cannot contain spaces",
            ));
        }
    }
    if let Some(w) = &r.workspace_name {
        if !name_ok(w, 256) {
            return Err(err(
                "/workspaceName".into(),
                "a workspace name is 1 to 256 characters",
            ));
        }
    }
    if r.templates.is_empty() {
        return Err(err(
            "/templates".into(),
            "a new workspace needs at least one template to import",
        ));
    }
    for (i, t) in r.templates.iter().enumerate() {
        if !valid_template_key(t) {
            return Err(err(format!("/templates/{i}"), TEMPLATE_KEY_RULE));
        }
        if r.templates[..i].contains(t) {
            return Err(err(
                format!("/templates/{i}"),
                format!("`{t}` is listed twice"),
            ));
        }
    }
    if r.rls.kind == RlsKind::Static && r.rls.roles.is_empty() {
        return Err(err(
            "/rls/roles".into(),
            "static RLS needs the roles to send",
        ));
    }
    crate::inventory::check_roles(&r.rls.roles).map_err(|(i, m)| {
        err(
            i.map(|i| format!("/rls/roles/{i}"))
                .unwrap_or_else(|| "/rls/roles".into()),
            m,
        )
    })?;
    if r.rls.custom_data.as_deref().is_some_and(str::is_empty) {
        return Err(err("/rls/customData".into(), "customData is not empty"));
    }
    if r.rls.kind == RlsKind::None && (!r.rls.roles.is_empty() || r.rls.custom_data.is_some()) {
        return Err(err(
            "/rls/kind".into(),
            "roles or customData need RLS: set kind to dynamic or static",
        ));
    }
    Ok(r)
}

pub const TEMPLATE_KEY_RULE: &str = "a template key is 1 to 64 letters, digits, '_' or '-'";

pub fn valid_template_key(k: &str) -> bool {
    (1..=64).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The error for a listed template that was never uploaded.
pub fn missing_template(index: usize, key: &str) -> InputError {
    err(
        format!("/templates/{index}"),
        format!("no template `{key}`; upload it first with PUT /api/admin/templates/{key}"),
    )
}

/// Why an onboarding call is refused before it starts (the driver answers with `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub path: Option<String>,
}

/// Where an onboarding call starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// Onboarded before and its document is there: nothing to do.
    Done,
    /// Run the machine from this progress.
    Run(Box<Progress>),
}

/// Decides how a call for customer `id` starts, from what the driver stored: the request and progress of an
/// earlier call (`stored`), and whether the customer has a document (`exists`).
pub fn begin(
    id: &str,
    r: &OnboardRequest,
    request: &str,
    stored: Option<(&str, &str)>,
    exists: bool,
) -> Result<Begin, Refusal> {
    let Some((before, progress)) = stored else {
        if exists {
            return Err(Refusal {
                status: 409,
                code: "customer_exists",
                message: format!("Customer {id} already exists: onboarding creates new customers (move existing ones with `embedgate migrate`)."),
                path: None,
            });
        }
        return Ok(Begin::Run(Box::default()));
    };
    // Unreadable progress starts over: every step looks up before it creates.
    let mut p: Progress = serde_json::from_str(progress).unwrap_or_default();
    // A changed request resumes as long as it keeps what Power BI already made for the first one.
    if before != request {
        let earlier: Option<OnboardRequest> = serde_json::from_str(before).ok();
        if let Some((path, why)) = earlier.and_then(|b| resume_conflict(id, &b, r, &p)) {
            return Err(Refusal {
                status: 409,
                code: "onboarding_differs",
                message: format!("Customer {id}'s onboarding already {why}; resume it with the same value, or change the customer afterwards with PUT /api/admin/customers/{id}."),
                path: Some(path),
            });
        }
    }
    if p.document_written {
        if exists {
            return Ok(Begin::Done);
        }
        // Deleted since: the machine finds everything again and writes the document anew.
        p.document_written = false;
    }
    Ok(Begin::Run(Box::new(p)))
}

/// Whether a changed onboarding request can resume `p`, the progress of the one before: `Some((path, why))`
/// when it changes a name Power BI already made something under, or drops a template already imported.
pub fn resume_conflict(
    id: &str,
    before: &OnboardRequest,
    now: &OnboardRequest,
    p: &Progress,
) -> Option<(String, String)> {
    let profile = |r: &OnboardRequest| r.profile_name.clone().unwrap_or_else(|| id.to_string());
    let workspace = |r: &OnboardRequest| r.workspace_name.clone().unwrap_or_else(|| r.name.clone());
    if (p.profile_id.is_some() || p.creating_profile.is_some()) && profile(before) != profile(now) {
        return Some((
            "/profileName".into(),
            format!("made profile `{}`", profile(before)),
        ));
    }
    if (p.workspace_id.is_some() || p.creating_workspace.is_some())
        && workspace(before) != workspace(now)
    {
        return Some((
            "/workspaceName".into(),
            format!("made workspace `{}`", workspace(before)),
        ));
    }
    for (k, item) in &p.items {
        if (item.report_id.is_some() || item.import_id.is_some()) && !now.templates.contains(k) {
            return Some(("/templates".into(), format!("imported template `{k}`")));
        }
    }
    None
}

/// The machine's input for customer `id`: `names` gives each template key's item name.
pub fn build(id: &str, r: &OnboardRequest, names: &BTreeMap<String, String>) -> Onboarding {
    let profile = r.profile_name.clone().unwrap_or_else(|| id.to_string());
    let customer = CustomerIn {
        id: id.to_string(),
        name: r.name.clone(),
        profile_name: Some(profile.clone()),
        // A new customer has no legacy layout; the RLS it gets is described as if it had.
        legacy: Legacy {
            workspace_id: String::new(),
            reports: vec![],
            rls: LegacyRls {
                kind: r.rls.kind,
                username: (r.rls.kind == RlsKind::Dynamic).then(|| profile.clone()),
                roles: r.rls.roles.clone(),
                custom_data: r.rls.custom_data.clone(),
            },
        },
        target: Target::NewWorkspace {
            name: r.workspace_name.clone().unwrap_or_else(|| r.name.clone()),
            templates: r.templates.clone(),
        },
        sample_user: None,
    };
    let inventory = Inventory {
        schema: None,
        service_principal_object_id: String::new(),
        service_principals: 1,
        master_user: None,
        templates: r
            .templates
            .iter()
            .map(|k| {
                let name = names.get(k).cloned().unwrap_or_else(|| k.clone());
                (
                    k.clone(),
                    Template {
                        file: k.clone(),
                        name,
                    },
                )
            })
            .collect(),
        customers: vec![customer.clone()],
    };
    let identity = plan(&inventory).customers.remove(0).identity_after;
    Onboarding {
        inventory,
        customer,
        identity,
    }
}

impl Onboarding {
    pub fn profile_name(&self) -> String {
        profile_name(&self.customer)
    }

    /// The customer's document once the machine is done: the profile flow from the first page view.
    pub fn document(&self, p: &Progress) -> Result<Customer, StepError> {
        profile_document(&self.customer, p, &self.identity)
    }

    /// The document this onboarding would write, built with stand-in ids before anything is created: a
    /// request whose document the worker would refuse is refused before the first Power BI call.
    pub fn check_document(&self) -> Result<(), StepError> {
        const STAND_IN: &str = "00000000-0000-4000-8000-000000000000";
        let mut p = Progress {
            profile_id: Some(STAND_IN.into()),
            workspace_id: Some(STAND_IN.into()),
            ..Progress::default()
        };
        for k in self.inventory.templates.keys() {
            p.items.insert(
                k.clone(),
                Item {
                    report_id: Some(STAND_IN.into()),
                    ..Item::default()
                },
            );
        }
        self.document(&p).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Item;
    use serde_json::json;

    const P1: &str = "9a9a9a9a-0000-4000-8000-000000000001";
    const W1: &str = "9a9a9a9a-0000-4000-8000-00000000000a";
    const R1: &str = "9a9a9a9a-0000-4000-8000-00000000000b";

    fn made() -> Progress {
        let mut p = Progress {
            profile_id: Some(P1.into()),
            workspace_id: Some(W1.into()),
            ..Default::default()
        };
        p.items.insert(
            "sales".into(),
            Item {
                import_id: None,
                report_id: Some(R1.into()),
                dataset_id: None,
            },
        );
        p
    }

    fn names() -> BTreeMap<String, String> {
        [("sales".to_string(), "Sales".to_string())].into()
    }

    #[test]
    fn problems_carry_their_json_path() {
        let cases: &[(&str, &str)] = &[
            (r#"{"templates": ["sales"]}"#, ""),
            (r#"{"name": "N", "templates": []}"#, "/templates"),
            (r#"{"name": "N", "templates": ["a b"]}"#, "/templates/0"),
            (r#"{"name": "N", "templates": ["a", "a"]}"#, "/templates/1"),
            (r#"{"name": " ", "templates": ["a"]}"#, "/name"),
            (
                r#"{"name": "N", "templates": ["a"], "rls": {"kind": "static"}}"#,
                "/rls/roles",
            ),
            (
                r#"{"name": "N", "templates": ["a"], "rls": {"kind": "sideways"}}"#,
                "/rls/kind",
            ),
            (
                r#"{"name": "N", "templates": ["a"], "rls": {"roles": ["R"]}}"#,
                "/rls/kind",
            ),
            (r#"{"name": "N", "templates": ["a"], "extra": 1}"#, "/extra"),
            (r#"{"name": "N", "templates": [7]}"#, "/templates/0"),
            (
                r#"{"name": "N", "profileName": "a b", "templates": ["a"], "rls": {"kind": "dynamic"}}"#,
                "/profileName",
            ),
        ];
        for (body, path) in cases {
            let e = read(body.as_bytes()).expect_err(body);
            assert_eq!(e.path, *path, "{body}: {e}");
            assert!(!e.message.is_empty());
        }
        assert_eq!(missing_template(2, "x").path, "/templates/2");
    }

    #[test]
    fn dynamic_rls_sends_the_profile_name_and_the_document_is_the_profile_flow() {
        let r = read(
            br#"{"name": "Northwind Traders", "templates": ["sales"], "rls": {"kind": "dynamic", "roles": ["Customer"]}}"#,
        )
        .unwrap();
        let o = build("northwind", &r, &names());
        assert_eq!(o.profile_name(), "northwind");
        assert_eq!(o.inventory.templates["sales"].name, "Sales");
        let Target::NewWorkspace { name, .. } = &o.customer.target else {
            panic!()
        };
        assert_eq!(name, "Northwind Traders");
        let p = made();
        let doc = o.document(&p).unwrap().to_value();
        assert_eq!(doc["flow"], "profile");
        assert_eq!(doc["profileId"], P1);
        assert_eq!(doc["workspaces"], json!([W1]));
        assert_eq!(doc["reports"], json!([{"id": R1, "workspaceId": W1}]));
        assert_eq!(doc["rls"]["username"]["value"], "northwind");
        assert_eq!(doc["rls"]["roles"], json!(["Customer"]));
    }

    #[test]
    fn static_rls_keeps_roles_and_custom_data_and_none_has_no_identity() {
        let r = read(br#"{"name": "N", "templates": ["sales"], "rls": {"kind": "static", "roles": ["East"], "customData": "x"}}"#).unwrap();
        let doc = build("n", &r, &names())
            .document(&made())
            .unwrap()
            .to_value();
        assert_eq!(doc["rls"]["roles"], json!(["East"]));
        assert_eq!(doc["rls"]["customData"]["value"], "x");
        let r = read(br#"{"name": "N", "templates": ["sales"]}"#).unwrap();
        let doc = build("n", &r, &names())
            .document(&made())
            .unwrap()
            .to_value();
        assert_eq!(doc["rls"], json!({"username": "user", "roles": []}));
    }

    #[test]
    fn a_changed_request_resumes_unless_it_renames_what_power_bi_made() {
        let a = read(br#"{"name": "N", "templates": ["sales"]}"#).unwrap();
        let ra = serde_json::to_string(&a).unwrap();
        let renamed =
            read(br#"{"name": "N", "profileName": "other", "templates": ["sales"]}"#).unwrap();
        let rb = serde_json::to_string(&renamed).unwrap();
        // Nothing made yet (a refused name): the corrected request runs.
        let nothing = serde_json::to_string(&Progress::default()).unwrap();
        assert!(matches!(
            begin("n", &renamed, &rb, Some((&ra, &nothing)), false),
            Ok(Begin::Run(_))
        ));
        // A profile made (or its create in flight) under the first name: refused at /profileName.
        for p in [
            Progress {
                profile_id: Some(P1.into()),
                ..Default::default()
            },
            Progress {
                creating_profile: Some("n".into()),
                ..Default::default()
            },
        ] {
            let stored = serde_json::to_string(&p).unwrap();
            let e = begin("n", &renamed, &rb, Some((&ra, &stored)), false).unwrap_err();
            assert_eq!(
                (e.status, e.code, e.path.as_deref()),
                (409, "onboarding_differs", Some("/profileName"))
            );
        }
        // Dropping an imported template is refused; an existing customer is not onboarded; done is done.
        let fewer = read(br#"{"name": "N", "templates": ["other"]}"#).unwrap();
        let imported = serde_json::to_string(&made()).unwrap();
        let e = begin(
            "n",
            &fewer,
            &serde_json::to_string(&fewer).unwrap(),
            Some((&ra, &imported)),
            false,
        )
        .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("/templates"));
        assert_eq!(
            begin("n", &a, &ra, None, true).unwrap_err().code,
            "customer_exists"
        );
        let mut done = made();
        done.document_written = true;
        let done = serde_json::to_string(&done).unwrap();
        assert_eq!(
            begin("n", &a, &ra, Some((&ra, &done)), true),
            Ok(Begin::Done)
        );
        // Deleted since: runs again from what was made.
        assert!(
            matches!(begin("n", &a, &ra, Some((&ra, &done)), false), Ok(Begin::Run(p)) if p.profile_id.is_some() && !p.document_written)
        );
    }

    #[test]
    fn roles_the_service_would_refuse_are_refused_before_anything_is_made() {
        let many: Vec<String> = (0..51).map(|i| format!("\"R{i}\"")).collect();
        let body = format!(
            r#"{{"name": "N", "templates": ["sales"], "rls": {{"kind": "static", "roles": [{}]}}}}"#,
            many.join(",")
        );
        assert_eq!(read(body.as_bytes()).unwrap_err().path, "/rls/roles");
        let comma = br#"{"name": "N", "templates": ["sales"], "rls": {"kind": "static", "roles": ["East,West"]}}"#;
        assert_eq!(read(comma).unwrap_err().path, "/rls/roles/0");
        let space = br#"{"name": "N", "profileName": "a b", "templates": ["sales"], "rls": {"kind": "static", "roles": ["R"]}}"#;
        assert_eq!(read(space).unwrap_err().path, "/profileName");
    }
}
