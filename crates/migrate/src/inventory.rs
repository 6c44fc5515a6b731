//! The inventory: today's layout, as the team running the migration describes it. Read with the JSON path of
//! every problem (`docs/schemas/migration-inventory.schema.json`).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// One migration's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The service principal's object id (Entra): its workspace rows are told apart from its profiles'.
    pub service_principal_object_id: String,
    /// How many service principals the app uses today (Microsoft's migration document: apps with one service principal per customer shouldn't migrate).
    #[serde(default = "one")]
    pub service_principals: u32,
    /// The master user the app embedded with before profiles (a UPN). `cleanup` removes this user's rows from
    /// migrated customers' workspaces, and no other user's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user: Option<String>,
    /// Item templates (PBIX files) imported into workspaces that are created, by key.
    #[serde(default)]
    pub templates: BTreeMap<String, Template>,
    pub customers: Vec<CustomerIn>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// The PBIX file, relative to the inventory file.
    pub file: String,
    /// The item name in the workspace (the import's `datasetDisplayName`).
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerIn {
    /// The customer's id in the app (the worker's customer id).
    pub id: String,
    pub name: String,
    /// The profile's display name (unique per service principal). Default: the legacy username for dynamic RLS
    /// (so `UserName()` keeps returning it), else the customer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    pub legacy: Legacy,
    pub target: Target,
    /// The claims of a sign-in `verify` mints for (`sub` and whatever the customer's RLS reads: a role
    /// claim, a customData claim). Default: `{"sub": "embedgate-verify"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<std::collections::BTreeMap<String, serde_json::Value>>")
    )]
    pub sample_user: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Where the customer's items are today and the RLS they rely on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Legacy {
    pub workspace_id: String,
    pub reports: Vec<String>,
    #[serde(default)]
    pub rls: LegacyRls,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacyRls {
    /// `dynamic` (the model filters on `USERNAME()`), `static` (roles overridden per token) or `none`.
    #[serde(default)]
    pub kind: RlsKind,
    /// The username sent today (dynamic RLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum RlsKind {
    #[default]
    None,
    Dynamic,
    Static,
}

/// The migration document's "Organize your workspaces": keep the customer's own workspace (the profile gets Admin), or create
/// one as the profile and import the templates into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", tag = "kind", deny_unknown_fields)]
pub enum Target {
    #[serde(rename_all = "camelCase")]
    ExistingWorkspace { workspace_id: String },
    #[serde(rename_all = "camelCase")]
    NewWorkspace {
        name: String,
        templates: Vec<String>,
    },
}

/// A problem in the inventory, at its JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            if self.path.is_empty() {
                "/"
            } else {
                &self.path
            },
            self.message
        )
    }
}

pub(crate) fn err(path: String, message: impl Into<String>) -> InputError {
    InputError {
        path,
        message: message.into(),
    }
}

/// serde_path_to_error's `customers[3].legacy` as a JSON Pointer, `/customers/3/legacy`.
pub(crate) fn pointer(p: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    p.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{key}")),
            Segment::Enum { variant } => Some(format!("/{variant}")),
            Segment::Unknown => None,
        })
        .collect()
}

/// Reads and checks an inventory.
pub fn read(text: &str) -> Result<Inventory, InputError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let inv: Inventory = serde_path_to_error::deserialize(de).map_err(|e| {
        let msg = e.inner().to_string();
        // serde_json appends " at line L column C"; the path says where.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        err(pointer(e.path()), msg)
    })?;
    check(&inv)?;
    Ok(inv)
}

fn check(inv: &Inventory) -> Result<(), InputError> {
    use embedgate_core::text::is_guid;
    if !is_guid(&inv.service_principal_object_id) {
        return Err(err(
            "/servicePrincipalObjectId".into(),
            "must be a GUID (the service principal's object id)",
        ));
    }
    if let Some(m) = &inv.master_user {
        if m.trim().is_empty() || m.chars().any(char::is_whitespace) || !m.contains('@') {
            return Err(err(
                "/masterUser".into(),
                "the master user is a user principal name (name@domain, no spaces)",
            ));
        }
    }
    if inv.customers.is_empty() {
        return Err(err("/customers".into(), "lists no customer"));
    }
    let (mut ids, mut profiles, mut workspaces) = (HashSet::new(), HashSet::new(), HashSet::new());
    for (i, c) in inv.customers.iter().enumerate() {
        let at = |p: &str| format!("/customers/{i}{p}");
        if c.id.trim().is_empty() {
            return Err(err(at("/id"), "is empty"));
        }
        if !ids.insert(c.id.to_ascii_lowercase()) {
            return Err(err(at("/id"), format!("`{}` appears twice", c.id)));
        }
        let name = profile_name(c);
        if name.trim().is_empty() || name.len() > 256 {
            return Err(err(
                at("/profileName"),
                "a profile name is 1 to 256 characters",
            ));
        }
        // Display names are unique per service principal: two customers cannot share a profile.
        if !profiles.insert(name.to_lowercase()) {
            return Err(err(
                at("/profileName"),
                format!("profile name `{name}` is used by another customer"),
            ));
        }
        // With RLS the profile's name becomes the effective identity's username (USERNAME() returns it under
        // dynamic RLS), and a username has no spaces.
        if c.legacy.rls.kind != RlsKind::None && name.chars().any(char::is_whitespace) {
            return Err(err(
                at(if c.profile_name.is_some() {
                    "/profileName"
                } else {
                    "/legacy/rls/username"
                }),
                format!(
                    "`{name}` becomes the effective identity username, which cannot contain spaces"
                ),
            ));
        }
        if !is_guid(&c.legacy.workspace_id) {
            return Err(err(at("/legacy/workspaceId"), "must be a GUID"));
        }
        for (j, r) in c.legacy.reports.iter().enumerate() {
            if !is_guid(r) {
                return Err(err(
                    at(&format!("/legacy/reports/{j}")),
                    "must be a report GUID",
                ));
            }
        }
        if c.legacy.rls.kind == RlsKind::Dynamic && c.legacy.rls.username.is_none() {
            return Err(err(
                at("/legacy/rls/username"),
                "dynamic RLS needs the username sent today",
            ));
        }
        check_roles(&c.legacy.rls.roles).map_err(|(j, m)| {
            err(
                at(&j
                    .map(|j| format!("/legacy/rls/roles/{j}"))
                    .unwrap_or_else(|| "/legacy/rls/roles".into())),
                m,
            )
        })?;
        if let Some(u) = &c.sample_user {
            if u.get("sub")
                .and_then(|v| v.as_str())
                .is_none_or(str::is_empty)
            {
                return Err(err(
                    at("/sampleUser/sub"),
                    "the sample user's claims name the user (`sub`, a string)",
                ));
            }
        }
        if c.legacy.rls.kind == RlsKind::Static && c.legacy.rls.roles.is_empty() {
            return Err(err(
                at("/legacy/rls/roles"),
                "static RLS needs the roles sent today",
            ));
        }
        match &c.target {
            Target::ExistingWorkspace { workspace_id } if !is_guid(workspace_id) => {
                return Err(err(at("/target/workspaceId"), "must be a GUID"));
            }
            Target::NewWorkspace { name, templates } => {
                if name.trim().is_empty() {
                    return Err(err(at("/target/name"), "is empty"));
                }
                // Workspace names are unique in a tenant, regardless of case and surrounding spaces.
                if !workspaces.insert(name.trim().to_lowercase()) {
                    return Err(err(
                        at("/target/name"),
                        format!("workspace name `{name}` is used by another customer (names differ in more than case and spaces)"),
                    ));
                }
                if templates.is_empty() {
                    return Err(err(
                        at("/target/templates"),
                        "a new workspace needs at least one template to import",
                    ));
                }
                for (j, t) in templates.iter().enumerate() {
                    if !inv.templates.contains_key(t) {
                        return Err(err(
                            at(&format!("/target/templates/{j}")),
                            format!("no template `{t}` in /templates"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Roles as the service takes them (the effective identity's `roles`): at most 50, each 1 to 50 characters
/// without a comma. The error gives the index of the bad role, if one is.
pub fn check_roles(roles: &[String]) -> Result<(), (Option<usize>, &'static str)> {
    if roles.len() > 50 {
        return Err((None, "at most 50 roles"));
    }
    for (i, r) in roles.iter().enumerate() {
        if r.trim().is_empty() || r.chars().count() > 50 || r.contains(',') {
            return Err((Some(i), "a role name is 1 to 50 characters without commas"));
        }
    }
    Ok(())
}

/// The profile's display name for a customer.
pub fn profile_name(c: &CustomerIn) -> String {
    if let Some(p) = &c.profile_name {
        return p.clone();
    }
    match (&c.legacy.rls.kind, &c.legacy.rls.username) {
        (RlsKind::Dynamic, Some(u)) => u.clone(),
        _ => c.name.clone(),
    }
}
