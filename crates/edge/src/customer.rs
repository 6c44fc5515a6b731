//! A customer's configuration (one row in D1, edited through the admin API) and what its users may embed.
//!
//! ```json
//! {"id": "contoso", "name": "Contoso", "enabled": true,
//!  "flow": "profile", "profileId": "<profile GUID>",
//!  "workspaces": ["<workspace GUID>"],
//!  "reports": [{"id": "<report GUID>", "workspaceId": "<workspace GUID>"}],
//!  "datasets": [],
//!  "permissions": ["View"],
//!  "maxLifetimeMinutes": 60,
//!  "rls": {"username": {"value": "Contoso"}, "roles": ["Customer"],
//!          "roleClaim": "roles", "allowedRoles": ["Region"], "customData": {"claim": "region"}},
//!  "rateLimit": {"perMinute": 600, "perUserPerMinute": 60}}
//! ```
//! `flow` selects the code path per customer (*Migrate multi-customer applications to the service principal profiles model*, step 4: "keep two code flows side by side"):
//! `profile` calls Power BI as the customer's service principal profile (`X-PowerBI-Profile-Id`), `legacy`
//! as the service principal itself on a shared workspace, RLS separating customers.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::request::{wrong_type, TokenRequest};
use super::{pointer_push, same_id, EdgeError};
use embedgate_core::powerbi::XmlaPermissions;
use embedgate_core::text::is_guid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    Profile,
    Legacy,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Profile => "profile",
            Flow::Legacy => "legacy",
        }
    }
}

/// Where a value of the effective identity comes from. Never from the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The verified user claim (`USER_CLAIM`).
    User,
    /// The customer's id (the verified customer claim).
    Customer,
    /// Another claim of the verified token.
    Claim(String),
    /// A fixed value from the configuration.
    Value(String),
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Source::User => "user".serialize(s),
            Source::Customer => "customer".serialize(s),
            Source::Claim(c) => json!({ "claim": c }).serialize(s),
            Source::Value(v) => json!({ "value": v }).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let msg = "expected \"user\", \"customer\", {\"claim\": name} or {\"value\": text}";
        match &v {
            Value::String(s) if s == "user" => Ok(Source::User),
            Value::String(s) if s == "customer" => Ok(Source::Customer),
            Value::Object(m) if m.len() == 1 => match m.iter().next() {
                Some((k, Value::String(x))) if k == "claim" && !x.is_empty() => {
                    Ok(Source::Claim(x.clone()))
                }
                Some((k, Value::String(x))) if k == "value" && !x.is_empty() => {
                    Ok(Source::Value(x.clone()))
                }
                _ => Err(D::Error::custom(msg)),
            },
            _ => Err(D::Error::custom(msg)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rls {
    /// Effective identity username. Default: the user.
    #[serde(default = "default_username")]
    pub username: Source,
    /// Roles every token of this customer carries.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Claim holding the user's roles; only those in `allowedRoles` are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<Source>,
}

fn default_username() -> Source {
    Source::User
}

impl Default for Rls {
    fn default() -> Self {
        Rls {
            username: Source::User,
            roles: Vec::new(),
            role_claim: None,
            allowed_roles: Vec::new(),
            custom_data: None,
        }
    }
}

/// An item the customer may embed: its id and the workspace it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Item {
    pub id: String,
    /// May be omitted when the customer has exactly one workspace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workspace_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Permission {
    View,
    /// `reports[].allowEdit`.
    Edit,
    /// `datasets[].xmlaPermissions: "ReadOnly"`.
    XmlaReadOnly,
    /// `targetWorkspaces` (save a copy into the customer's workspace).
    SaveAs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_user_per_minute: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Customer {
    /// The value of the customer claim in the users' tokens.
    pub id: String,
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub flow: Flow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    pub workspaces: Vec<String>,
    #[serde(deserialize_with = "items")]
    pub reports: Vec<Item>,
    #[serde(default, deserialize_with = "items")]
    pub datasets: Vec<Item>,
    #[serde(default = "view_only")]
    pub permissions: Vec<Permission>,
    #[serde(default = "default_lifetime")]
    pub max_lifetime_minutes: u32,
    #[serde(default)]
    pub rls: Rls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

fn yes() -> bool {
    true
}
fn view_only() -> Vec<Permission> {
    vec![Permission::View]
}
fn default_lifetime() -> u32 {
    60
}

/// Items as `"<id>"` or `{"id", "workspaceId"}`.
fn items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Item>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum One {
        Id(String),
        Full(Item),
    }
    let list: Vec<One> = Vec::deserialize(d)?;
    Ok(list
        .into_iter()
        .map(|o| match o {
            One::Id(id) => Item {
                id,
                workspace_id: String::new(),
            },
            One::Full(i) => i,
        })
        .collect())
}

pub const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "name",
    "enabled",
    "flow",
    "profileId",
    "workspaces",
    "reports",
    "datasets",
    "permissions",
    "maxLifetimeMinutes",
    "rls",
    "rateLimit",
];

/// Customer ids are what the customer claim carries: 1-64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_customer_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn serde_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out = pointer_push(&out, index),
            Segment::Map { key } => out = pointer_push(&out, key),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> EdgeError {
    EdgeError::bad_request("invalid_value", message).at(path)
}

fn role_ok(r: &str) -> bool {
    (1..=50).contains(&r.chars().count()) && !r.contains(',')
}

impl Customer {
    /// Parses and validates a customer document (admin API body, D1 row). Errors carry the JSON Pointer.
    pub fn from_value(v: &Value) -> Result<Customer, EdgeError> {
        let Value::Object(m) = v else {
            return Err(wrong_type("", "an object", v));
        };
        for k in m.keys() {
            if !CUSTOMER_FIELDS.contains(&k.as_str()) {
                return Err(super::request::unknown_field(
                    &pointer_push("", k),
                    CUSTOMER_FIELDS,
                ));
            }
        }
        let mut c: Customer = serde_path_to_error::deserialize(v).map_err(|e| {
            let path = serde_pointer(e.path());
            let msg = e.inner().to_string();
            let code = if msg.starts_with("missing field") {
                "missing_field"
            } else {
                "invalid_value"
            };
            EdgeError::bad_request(code, format!("{msg}.")).at(path)
        })?;
        c.normalise()?;
        Ok(c)
    }

    fn normalise(&mut self) -> Result<(), EdgeError> {
        if !valid_customer_id(&self.id) {
            return Err(invalid(
                "/id",
                "A customer id is 1 to 64 letters, digits, '.', '_' or '-'.",
            ));
        }
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(invalid("/name", "name is 1 to 200 characters."));
        }
        match (&self.flow, &self.profile_id) {
            (Flow::Profile, None) => {
                return Err(EdgeError::bad_request(
                    "missing_field",
                    "The profile flow needs the customer's profileId.",
                )
                .at("/profileId"))
            }
            (_, Some(p)) if !is_guid(p) => {
                return Err(invalid("/profileId", "profileId is a GUID."))
            }
            _ => {}
        }
        self.profile_id = self.profile_id.as_ref().map(|p| p.to_ascii_lowercase());
        if self.workspaces.is_empty() {
            return Err(invalid("/workspaces", "At least one workspace."));
        }
        for (i, w) in self.workspaces.iter_mut().enumerate() {
            if !is_guid(w) {
                return Err(invalid(
                    format!("/workspaces/{i}"),
                    "Workspace ids are GUIDs.",
                ));
            }
            *w = w.to_ascii_lowercase();
        }
        let single = (self.workspaces.len() == 1).then(|| self.workspaces[0].clone());
        let workspaces = self.workspaces.clone();
        for (list, name) in [
            (&mut self.reports, "reports"),
            (&mut self.datasets, "datasets"),
        ] {
            for (i, it) in list.iter_mut().enumerate() {
                if !is_guid(&it.id) {
                    return Err(invalid(format!("/{name}/{i}/id"), "Ids are GUIDs."));
                }
                it.id = it.id.to_ascii_lowercase();
                if it.workspace_id.is_empty() {
                    match &single {
                        Some(w) => it.workspace_id = w.clone(),
                        None => {
                            return Err(EdgeError::bad_request(
                                "missing_field",
                                "workspaceId is required when the customer has several workspaces.",
                            )
                            .at(format!("/{name}/{i}/workspaceId")))
                        }
                    }
                }
                it.workspace_id = it.workspace_id.to_ascii_lowercase();
                if !workspaces.contains(&it.workspace_id) {
                    return Err(invalid(
                        format!("/{name}/{i}/workspaceId"),
                        "The workspace is not one of the customer's workspaces.",
                    ));
                }
            }
        }
        if !self.permissions.contains(&Permission::View) {
            self.permissions.insert(0, Permission::View);
        }
        self.permissions.sort();
        self.permissions.dedup();
        if !(1..=1440).contains(&self.max_lifetime_minutes) {
            return Err(invalid(
                "/maxLifetimeMinutes",
                "maxLifetimeMinutes is from 1 to 1440.",
            ));
        }
        if self.rls.roles.len() > 50 {
            return Err(invalid("/rls/roles", "At most 50 roles."));
        }
        for (i, r) in self.rls.roles.iter().enumerate() {
            if !role_ok(r) {
                return Err(invalid(
                    format!("/rls/roles/{i}"),
                    "A role name is 1 to 50 characters without commas.",
                ));
            }
        }
        for (i, r) in self.rls.allowed_roles.iter().enumerate() {
            if !role_ok(r) {
                return Err(invalid(
                    format!("/rls/allowedRoles/{i}"),
                    "A role name is 1 to 50 characters without commas.",
                ));
            }
        }
        match (&self.rls.role_claim, self.rls.allowed_roles.is_empty()) {
            (Some(_), true) => {
                return Err(invalid(
                    "/rls/allowedRoles",
                    "roleClaim needs an allow-list of roles.",
                ))
            }
            (None, false) => {
                return Err(invalid(
                    "/rls/roleClaim",
                    "allowedRoles needs the claim to read roles from.",
                ))
            }
            _ => {}
        }
        if let Some(RateLimit {
            per_minute,
            per_user_per_minute,
        }) = self.rate_limit
        {
            if per_minute == Some(0) {
                return Err(invalid("/rateLimit/perMinute", "Limits are positive."));
            }
            if per_user_per_minute == Some(0) {
                return Err(invalid(
                    "/rateLimit/perUserPerMinute",
                    "Limits are positive.",
                ));
            }
        }
        Ok(())
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    pub fn report(&self, id: &str) -> Option<&Item> {
        self.reports.iter().find(|r| same_id(&r.id, id))
    }

    pub fn dataset(&self, id: &str) -> Option<&Item> {
        self.datasets.iter().find(|d| same_id(&d.id, id))
    }

    /// The profile to call Power BI as, `None` in the legacy flow.
    pub fn caller_profile(&self) -> Option<&str> {
        match self.flow {
            Flow::Profile => self.profile_id.as_deref(),
            Flow::Legacy => None,
        }
    }

    /// Checks a token request against what this customer may embed. Dataset access is completed by
    /// [`Plan::authorize_datasets`] once the reports' metadata is known.
    pub fn authorize(&self, req: &TokenRequest) -> Result<Plan, EdgeError> {
        if !self.enabled {
            return Err(EdgeError::forbidden(
                "customer_disabled",
                "Embedding is disabled for your organisation.",
            ));
        }
        let mut plan = Plan::default();
        for (i, r) in req.reports.iter().enumerate() {
            let Some(item) = self.report(&r.id) else {
                // Same answer whether the report exists elsewhere or not: nothing about other customers leaks.
                return Err(EdgeError::forbidden(
                    "forbidden_item",
                    format!("Report {} is not available to your organisation.", r.id),
                )
                .at(format!("/reports/{i}")));
            };
            if r.allow_edit && !self.may(Permission::Edit) {
                return Err(EdgeError::forbidden(
                    "forbidden_permission",
                    "Your organisation may not edit reports (allowEdit).",
                )
                .at(format!("/reports/{i}/allowEdit")));
            }
            plan.reports.push(PlannedItem {
                id: item.id.clone(),
                workspace_id: item.workspace_id.clone(),
                allow_edit: r.allow_edit,
                xmla: None,
            });
        }
        for (i, d) in req.datasets.iter().enumerate() {
            if d.xmla_permissions == Some(XmlaPermissions::ReadOnly)
                && !self.may(Permission::XmlaReadOnly)
            {
                return Err(EdgeError::forbidden(
                    "forbidden_permission",
                    "Your organisation may not use XMLA read access.",
                )
                .at(format!("/datasets/{i}/xmlaPermissions")));
            }
            plan.requested_datasets
                .push((i, d.id.clone(), d.xmla_permissions));
        }
        for (i, w) in req.target_workspaces.iter().enumerate() {
            if !self.may(Permission::SaveAs) {
                return Err(EdgeError::forbidden(
                    "forbidden_permission",
                    "Your organisation may not save copies (targetWorkspaces).",
                )
                .at(format!("/targetWorkspaces/{i}")));
            }
            if !self.workspaces.iter().any(|x| same_id(x, w)) {
                return Err(EdgeError::forbidden(
                    "forbidden_item",
                    format!("Workspace {w} is not available to your organisation."),
                )
                .at(format!("/targetWorkspaces/{i}")));
            }
            plan.target_workspaces.push(w.to_ascii_lowercase());
        }
        plan.lifetime_minutes = match req.lifetime_in_minutes {
            Some(l) if l > self.max_lifetime_minutes => {
                return Err(EdgeError::bad_request(
                    "lifetime_too_long",
                    format!(
                        "lifetimeInMinutes is at most {} for your organisation.",
                        self.max_lifetime_minutes
                    ),
                )
                .at("/lifetimeInMinutes"))
            }
            Some(l) => l,
            None => self.max_lifetime_minutes,
        };
        Ok(plan)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedItem {
    pub id: String,
    pub workspace_id: String,
    pub allow_edit: bool,
    pub xmla: Option<XmlaPermissions>,
}

/// What a request will embed, after authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub reports: Vec<PlannedItem>,
    /// Datasets to embed: the reports' datasets and authorized extra datasets.
    pub datasets: Vec<PlannedItem>,
    /// Datasets the body asked for: (index in the body, id, xmla), resolved by [`Plan::authorize_datasets`].
    pub requested_datasets: Vec<(usize, String, Option<XmlaPermissions>)>,
    pub target_workspaces: Vec<String>,
    pub lifetime_minutes: u32,
}

impl Plan {
    /// Adds the reports' datasets (`(dataset id, dataset workspace id)` from the report metadata) and the
    /// requested extra datasets. A requested dataset is allowed when the customer lists it, or when it is the
    /// dataset of a report in this request.
    pub fn authorize_datasets(
        &mut self,
        customer: &Customer,
        report_datasets: &[(String, String)],
    ) -> Result<(), EdgeError> {
        let add =
            |datasets: &mut Vec<PlannedItem>, id: &str, ws: &str, xmla: Option<XmlaPermissions>| {
                match datasets.iter_mut().find(|d| same_id(&d.id, id)) {
                    Some(d) => {
                        if xmla.is_some() {
                            d.xmla = xmla;
                        }
                    }
                    None => datasets.push(PlannedItem {
                        id: id.to_ascii_lowercase(),
                        workspace_id: ws.to_ascii_lowercase(),
                        allow_edit: false,
                        xmla,
                    }),
                }
            };
        for (id, ws) in report_datasets {
            add(&mut self.datasets, id, ws, None);
        }
        for (i, id, xmla) in std::mem::take(&mut self.requested_datasets) {
            if let Some(item) = customer.dataset(&id) {
                add(&mut self.datasets, &item.id, &item.workspace_id, xmla);
            } else if let Some((_, ws)) = report_datasets.iter().find(|(d, _)| same_id(d, &id)) {
                add(&mut self.datasets, &id, ws, xmla);
            } else {
                return Err(EdgeError::forbidden(
                    "forbidden_item",
                    format!("Dataset {id} is not available to your organisation."),
                )
                .at(format!("/datasets/{i}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_token_request;

    const WS: &str = "c0c0c0c0-0000-4000-8000-00000000a001";
    const R1: &str = "c0c0c0c0-0000-4000-8000-00000000b001";
    const D1: &str = "c0c0c0c0-0000-4000-8000-00000000d001";
    const OTHER: &str = "fab0fab0-0000-4000-8000-00000000b002";

    pub fn contoso() -> Value {
        json!({"id": "contoso", "name": "Contoso", "flow": "profile", "profileId": "C0C0C0C0-0000-4000-8000-000000000001",
               "workspaces": [WS], "reports": [R1], "rls": {"username": {"value": "Contoso"}, "roles": ["Customer"]}})
    }

    #[test]
    fn parses_with_defaults() {
        let c = Customer::from_value(&contoso()).unwrap();
        assert!(c.enabled);
        assert_eq!(
            c.profile_id.as_deref(),
            Some("c0c0c0c0-0000-4000-8000-000000000001")
        );
        assert_eq!(c.reports[0].workspace_id, WS, "single workspace filled in");
        assert_eq!(c.permissions, vec![Permission::View]);
        assert_eq!(c.max_lifetime_minutes, 60);
        assert_eq!(c.caller_profile(), c.profile_id.as_deref());
        // Round trip through the stored form.
        assert_eq!(Customer::from_value(&c.to_value()).unwrap(), c);
    }

    fn err(patch: impl FnOnce(&mut Value)) -> (u16, &'static str, String) {
        let mut v = contoso();
        patch(&mut v);
        let e = Customer::from_value(&v).unwrap_err();
        (e.status, e.code, e.path.unwrap_or_default())
    }

    #[test]
    fn validation_errors_have_paths() {
        assert_eq!(
            err(|v| v["id"] = json!("a b")),
            (400, "invalid_value", "/id".into())
        );
        assert_eq!(
            err(|v| {
                v.as_object_mut().unwrap().remove("profileId");
            }),
            (400, "missing_field", "/profileId".into())
        );
        assert_eq!(err(|v| v["flow"] = json!("magic")).2, "/flow");
        assert_eq!(
            err(|v| v["workspaces"] = json!(["x"])),
            (400, "invalid_value", "/workspaces/0".into())
        );
        assert_eq!(
            err(|v| v["reports"] = json!([{"id": R1, "workspaceId": OTHER}])).2,
            "/reports/0/workspaceId"
        );
        assert_eq!(err(|v| v["reports"] = json!([7])).2, "/reports/0");
        assert_eq!(
            err(|v| v["rls"]["roles"] = json!(["a,b"])).2,
            "/rls/roles/0"
        );
        assert_eq!(
            err(|v| v["rls"]["username"] = json!("boss")).2,
            "/rls/username"
        );
        assert_eq!(
            err(|v| v["rls"]["roleClaim"] = json!("roles")).2,
            "/rls/allowedRoles"
        );
        assert_eq!(err(|v| v["rls"]["extra"] = json!(1)).2, "/rls/extra");
        assert_eq!(
            err(|v| v["secret"] = json!(1)),
            (400, "unknown_field", "/secret".into())
        );
        assert_eq!(
            err(|v| v["maxLifetimeMinutes"] = json!(0)).2,
            "/maxLifetimeMinutes"
        );
        assert_eq!(
            err(|v| v["permissions"] = json!(["Root"])).2,
            "/permissions/0"
        );
        assert_eq!(
            err(|v| {
                v.as_object_mut().unwrap().remove("reports");
            }),
            (400, "missing_field", "".into())
        );
        // Several workspaces: each item names its workspace.
        assert_eq!(
            err(|v| v["workspaces"] = json!([WS, "fab0fab0-0000-4000-8000-00000000a002"])).2,
            "/reports/0/workspaceId"
        );
        // Legacy needs no profile.
        let mut v = contoso();
        v["flow"] = json!("legacy");
        v.as_object_mut().unwrap().remove("profileId");
        let c = Customer::from_value(&v).unwrap();
        assert_eq!(c.caller_profile(), None);
    }

    #[test]
    fn authorization() {
        let c = Customer::from_value(&contoso()).unwrap();
        let req = |b: String| parse_token_request(b.as_bytes()).unwrap();
        let plan = c
            .authorize(&req(format!(r#"{{"reports": ["{R1}"]}}"#)))
            .unwrap();
        assert_eq!(plan.reports[0].workspace_id, WS);
        assert_eq!(plan.lifetime_minutes, 60);
        // Another customer's report: 403 with the path, and no hint whether it exists.
        let e = c
            .authorize(&req(format!(r#"{{"reports": ["{R1}", "{OTHER}"]}}"#)))
            .unwrap_err();
        assert_eq!(
            (e.status, e.code, e.path.as_deref()),
            (403, "forbidden_item", Some("/reports/1"))
        );
        let e = c
            .authorize(&req(format!(
                r#"{{"reports": [{{"id": "{R1}", "allowEdit": true}}]}}"#
            )))
            .unwrap_err();
        assert_eq!(
            (e.code, e.path.as_deref()),
            ("forbidden_permission", Some("/reports/0/allowEdit"))
        );
        let e = c
            .authorize(&req(format!(
                r#"{{"reports": ["{R1}"], "targetWorkspaces": ["{WS}"]}}"#
            )))
            .unwrap_err();
        assert_eq!(e.code, "forbidden_permission");
        let e = c
            .authorize(&req(format!(
                r#"{{"reports": ["{R1}"], "lifetimeInMinutes": 61}}"#
            )))
            .unwrap_err();
        assert_eq!((e.status, e.code), (400, "lifetime_too_long"));
        let mut off = c.clone();
        off.enabled = false;
        assert_eq!(
            off.authorize(&req(format!(r#"{{"reports": ["{R1}"]}}"#)))
                .unwrap_err()
                .code,
            "customer_disabled"
        );
    }

    #[test]
    fn datasets_follow_reports_or_the_allow_list() {
        let c = Customer::from_value(&contoso()).unwrap();
        let req = |b: String| parse_token_request(b.as_bytes()).unwrap();
        let mut plan = c
            .authorize(&req(format!(
                r#"{{"reports": ["{R1}"], "datasets": ["{D1}"]}}"#
            )))
            .unwrap();
        plan.authorize_datasets(&c, &[(D1.into(), WS.into())])
            .unwrap();
        assert_eq!(plan.datasets.len(), 1, "the report's dataset, once");
        let other_ds = "fab0fab0-0000-4000-8000-00000000d002";
        let mut plan = c
            .authorize(&req(format!(
                r#"{{"reports": ["{R1}"], "datasets": ["{other_ds}"]}}"#
            )))
            .unwrap();
        let e = plan
            .authorize_datasets(&c, &[(D1.into(), WS.into())])
            .unwrap_err();
        assert_eq!((e.status, e.path.as_deref()), (403, Some("/datasets/0")));
        let e = c
            .authorize(&req(format!(
                r#"{{"datasets": [{{"id": "{D1}", "xmlaPermissions": "ReadOnly"}}]}}"#
            )))
            .unwrap_err();
        assert_eq!(e.code, "forbidden_permission");
    }
}
