//! The resumable step machine of one customer's migration, sans-IO: `next` says which request to make,
//! `read` takes its answer. What is persisted (`Progress`) holds only what Power BI confirmed (ids); every
//! run looks up before it creates, so a crash between a create and its record is found again by name rather
//! than created twice. Imports use `nameConflict=Abort`, so even a lookup that misses cannot duplicate an item.

use std::collections::{BTreeMap, HashMap};

use embedgate_client::powerbi::{self, Api, As, NameConflict};
use embedgate_client::{Failure, Method, Request};
use embedgate_core::powerbi::GroupUserAccessRight;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::inventory::{profile_name, CustomerIn, Inventory, Target};
use crate::plan::IdentityAfter;

/// What one customer's migration has achieved, as recorded in the state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// The profile is Admin of the workspace (granted or found).
    #[serde(default)]
    pub admin: bool,
    /// Per template key: what its import made.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, Item>,
    /// The worker's document before the migration (what `rollback` restores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_document: Option<Value>,
    #[serde(default)]
    pub document_written: bool,
    /// `verify`'s verdict: problems found (empty = passed); absent until verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Vec<String>>,
    /// The flow the worker serves the customer with, as last set by `rollout` / `rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
}

impl Progress {
    pub fn applied(&self) -> bool {
        self.document_written
    }
}

/// The worker's admin API.
#[derive(Debug, Clone)]
pub struct Worker {
    pub base: String,
    pub admin_key: String,
}

impl Worker {
    fn call(&self, name: &'static str, method: Method, id: &str, body: Option<&Value>) -> Request {
        let mut headers = vec![
            ("authorization", format!("Bearer {}", self.admin_key)),
            ("accept", "application/json".into()),
        ];
        if body.is_some() {
            headers.push(("content-type", "application/json".into()));
        }
        Request {
            name,
            method,
            url: format!(
                "{}/api/admin/customers/{}",
                self.base,
                embedgate_client::encode::path_segment(id)
            ),
            headers,
            body: body.map(|b| b.to_string().into_bytes()),
        }
    }
    pub fn get_customer(&self, id: &str) -> Request {
        self.call("worker.getCustomer", Method::Get, id, None)
    }
    pub fn put_customer(&self, id: &str, doc: &Value) -> Request {
        self.call("worker.putCustomer", Method::Put, id, Some(doc))
    }
}

/// What a step needs besides its customer: who calls, and what this run already knows.
pub struct Session<'a> {
    pub api: &'a Api,
    /// The service principal's Entra token.
    pub token: &'a str,
    pub sp_object_id: &'a str,
    pub worker: Option<&'a Worker>,
    /// Profiles by lower-cased display name, listed once at the start of the run (`None`: each customer
    /// looks its profile up itself).
    pub profiles: Option<&'a HashMap<String, String>>,
    /// Template key → file bytes.
    pub files: &'a HashMap<String, Vec<u8>>,
}

/// Which answer `read` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Profiles,
    ProfileCreated,
    Groups,
    GroupCreated,
    Users,
    AdminAdded,
    Reports,
    Imported(String),
    ImportState(String),
    Document,
    DocumentWritten,
}

#[derive(Debug)]
pub enum Action {
    Send(Request, Expect),
    /// Wait this long, then ask `next` again (an import still publishing).
    Wait(u64),
    Done,
}

/// A step that cannot go on: the message is safe to print (no token, no body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError(pub String);

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn failed(what: &str, f: &Failure) -> StepError {
    let detail = match f {
        Failure::Status { status, .. } => format!(
            "HTTP {status}{}",
            f.upstream_code()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        ),
        Failure::Timeout => "timed out".into(),
        Failure::Network => "network error".into(),
        Failure::BadBody => "unreadable answer".into(),
    };
    StepError(format!("{what}: {detail}"))
}

/// One customer's machine for one run.
pub struct Machine {
    pub customer: CustomerIn,
    templates: Vec<(String, String)>,
    /// Per-run lookups (never persisted: a lookup must happen again after a crash).
    looked_profile: bool,
    looked_group: bool,
    looked_users: bool,
    looked_items: bool,
    read_document: bool,
    refetch_profiles: bool,
    /// Creates refused as duplicates, then not found: a bounded loop, not an endless one.
    conflicts: u32,
    polls: u32,
}

impl Machine {
    pub fn new(inv: &Inventory, customer: &CustomerIn) -> Self {
        let templates = match &customer.target {
            Target::NewWorkspace { templates, .. } => templates
                .iter()
                .map(|t| (t.clone(), inv.templates[t].name.clone()))
                .collect(),
            Target::ExistingWorkspace { .. } => Vec::new(),
        };
        Machine {
            customer: customer.clone(),
            templates,
            looked_profile: false,
            looked_group: false,
            looked_users: false,
            looked_items: false,
            read_document: false,
            refetch_profiles: false,
            conflicts: 0,
            polls: 0,
        }
    }

    fn as_profile<'a>(s: &'a Session, p: &'a Progress) -> As<'a> {
        As {
            token: s.token,
            profile: p.profile_id.as_deref(),
        }
    }

    /// The next request, or `Done` when everything is recorded.
    pub fn next(&mut self, s: &Session, p: &mut Progress) -> Action {
        let name = profile_name(&self.customer);
        if p.profile_id.is_none() {
            if self.refetch_profiles || (!self.looked_profile && s.profiles.is_none()) {
                return Action::Send(s.api.get_profiles(s.token), Expect::Profiles);
            }
            if let (false, Some(list)) = (self.looked_profile, s.profiles) {
                self.looked_profile = true;
                p.profile_id = list.get(&name.to_lowercase()).cloned();
            }
            if p.profile_id.is_none() {
                return Action::Send(s.api.create_profile(s.token, &name), Expect::ProfileCreated);
            }
        }
        match &self.customer.target {
            Target::NewWorkspace { name: ws, .. } if p.workspace_id.is_none() => {
                if !self.looked_group {
                    let filter = format!("name eq '{}'", ws.replace('\'', "''"));
                    return Action::Send(
                        s.api.get_groups(Self::as_profile(s, p), Some(&filter)),
                        Expect::Groups,
                    );
                }
                return Action::Send(
                    s.api.create_group(Self::as_profile(s, p), ws),
                    Expect::GroupCreated,
                );
            }
            Target::NewWorkspace { .. } => p.admin = true, // made by the profile: it is the Admin
            Target::ExistingWorkspace { workspace_id } => {
                p.workspace_id.get_or_insert_with(|| workspace_id.clone());
                if !p.admin {
                    let sp = As {
                        token: s.token,
                        profile: None,
                    };
                    if !self.looked_users {
                        return Action::Send(
                            s.api.get_group_users(sp, workspace_id),
                            Expect::Users,
                        );
                    }
                    let member = Api::profile_member(
                        s.sp_object_id,
                        p.profile_id.as_deref().unwrap_or(""),
                        GroupUserAccessRight::Admin,
                    );
                    return Action::Send(
                        s.api.add_group_user(sp, workspace_id, &member),
                        Expect::AdminAdded,
                    );
                }
            }
        }
        let ws = p.workspace_id.clone().unwrap_or_default();
        let pending: Vec<(String, String)> = self
            .templates
            .iter()
            .filter(|(k, _)| p.items.get(k).is_none_or(|i| i.report_id.is_none()))
            .cloned()
            .collect();
        if !pending.is_empty() {
            if !self.looked_items {
                return Action::Send(
                    s.api.get_reports(Self::as_profile(s, p), &ws),
                    Expect::Reports,
                );
            }
            let (key, display) = &pending[0];
            match p.items.get(key).and_then(|i| i.import_id.clone()) {
                Some(import) => {
                    return Action::Send(
                        s.api.get_import(Self::as_profile(s, p), &ws, &import),
                        Expect::ImportState(key.clone()),
                    );
                }
                None => {
                    let file = s.files.get(key).map(Vec::as_slice).unwrap_or_default();
                    let boundary = format!("embedgate-{}", key.len() + file.len());
                    let req = s.api.post_import(
                        Self::as_profile(s, p),
                        &ws,
                        display,
                        NameConflict::Abort,
                        file,
                        &boundary,
                    );
                    return Action::Send(req, Expect::Imported(key.clone()));
                }
            }
        }
        if !p.document_written {
            if let Some(w) = s.worker {
                if !self.read_document {
                    return Action::Send(w.get_customer(&self.customer.id), Expect::Document);
                }
                let doc = legacy_with_profile(&self.customer, p);
                return Action::Send(
                    w.put_customer(&self.customer.id, &doc),
                    Expect::DocumentWritten,
                );
            }
        }
        Action::Done
    }

    /// Reads the answer to the request `next` gave.
    pub fn read(
        &mut self,
        p: &mut Progress,
        e: Expect,
        answer: Result<String, Failure>,
    ) -> Result<Option<u64>, StepError> {
        let name = profile_name(&self.customer);
        match e {
            Expect::Profiles => {
                let list =
                    powerbi::read_profiles(&answer.map_err(|f| failed("list profiles", &f))?)
                        .map_err(|f| failed("list profiles", &f))?;
                self.looked_profile = true;
                self.refetch_profiles = false;
                p.profile_id = list
                    .into_iter()
                    .find(|x| {
                        x.display_name
                            .as_deref()
                            .is_some_and(|d| d.eq_ignore_ascii_case(&name))
                    })
                    .map(|x| x.id);
            }
            Expect::ProfileCreated => match answer {
                Ok(body) => {
                    p.profile_id = Some(
                        powerbi::read_profile(&body)
                            .map_err(|f| failed("create profile", &f))?
                            .id,
                    )
                }
                // Another run made it meanwhile (display names are unique): look it up again.
                Err(
                    f @ Failure::Status {
                        status: 400 | 409, ..
                    },
                ) => {
                    self.conflicts += 1;
                    if self.conflicts > 2 {
                        return Err(failed("create profile", &f));
                    }
                    self.refetch_profiles = true;
                }
                Err(f) => return Err(failed("create profile", &f)),
            },
            Expect::Groups => {
                let Target::NewWorkspace { name: ws, .. } = &self.customer.target else {
                    return Ok(None);
                };
                let groups =
                    powerbi::read_groups(&answer.map_err(|f| failed("find workspace", &f))?)
                        .map_err(|f| failed("find workspace", &f))?;
                self.looked_group = true;
                p.workspace_id = groups
                    .into_iter()
                    .find(|g| g.name.as_deref() == Some(ws.as_str()))
                    .map(|g| g.id);
            }
            Expect::GroupCreated => {
                let g = powerbi::read_group(&answer.map_err(|f| failed("create workspace", &f))?)
                    .map_err(|f| failed("create workspace", &f))?;
                p.workspace_id = Some(g.id);
            }
            Expect::Users => {
                let users = powerbi::read_group_users(
                    &answer.map_err(|f| failed("list workspace users", &f))?,
                )
                .map_err(|f| failed("list workspace users", &f))?;
                self.looked_users = true;
                p.admin = users.iter().any(|u| {
                    u.group_user_access_right == GroupUserAccessRight::Admin
                        && u.profile.as_ref().is_some_and(|x| {
                            p.profile_id
                                .as_deref()
                                .is_some_and(|id| id.eq_ignore_ascii_case(&x.id))
                        })
                });
            }
            Expect::AdminAdded => {
                answer.map_err(|f| failed("grant the profile Admin", &f))?;
                p.admin = true;
            }
            Expect::Reports => {
                let body = answer.map_err(|f| failed("list reports", &f))?;
                let reports: Vec<Value> =
                    powerbi::read_list(&body).map_err(|f| failed("list reports", &f))?;
                self.looked_items = true;
                for (key, display) in &self.templates {
                    if let Some(r) = reports
                        .iter()
                        .find(|r| r["name"].as_str() == Some(display.as_str()))
                    {
                        let item = p.items.entry(key.clone()).or_default();
                        item.report_id = r["id"].as_str().map(str::to_string);
                        item.dataset_id = r["datasetId"].as_str().map(str::to_string);
                    }
                }
            }
            Expect::Imported(key) => match answer {
                Ok(body) => {
                    let id = powerbi::read_object(&body)
                        .map_err(|f| failed("import", &f))?
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    p.items.entry(key).or_default().import_id = id;
                }
                // Abort: an item of that name exists (made by a run that crashed before recording it).
                Err(f @ Failure::Status { status: 409, .. }) => {
                    self.conflicts += 1;
                    if self.conflicts > 2 {
                        return Err(failed("import", &f));
                    }
                    self.looked_items = false;
                }
                Err(f) => return Err(failed("import", &f)),
            },
            Expect::ImportState(key) => {
                let imp = powerbi::read_import(&answer.map_err(|f| failed("import status", &f))?)
                    .map_err(|f| failed("import status", &f))?;
                if imp.failed() {
                    return Err(StepError(format!("import of `{key}` failed in Power BI")));
                }
                if !imp.done() {
                    self.polls += 1;
                    // 0.5 s, 1 s, 2 s ... at most 10 s between status reads.
                    return Ok(Some((500u64 << self.polls.min(5)).min(10_000)));
                }
                let item = p.items.entry(key).or_default();
                item.report_id = imp.reports.first().map(|r| r.id.clone());
                item.dataset_id = imp.datasets.first().map(|d| d.id.clone());
            }
            Expect::Document => {
                self.read_document = true;
                match answer {
                    Ok(body) => {
                        if p.legacy_document.is_none() {
                            let mut v: Value = serde_json::from_str(&body).map_err(|_| {
                                StepError("the worker's customer document is unreadable".into())
                            })?;
                            if let Value::Object(m) = &mut v {
                                for k in ["cacheGeneration", "createdAt", "updatedAt"] {
                                    m.remove(k);
                                }
                            }
                            p.legacy_document = Some(v);
                        }
                    }
                    Err(Failure::Status { status: 404, .. }) => {}
                    Err(f) => return Err(failed("read the worker's customer document", &f)),
                }
            }
            Expect::DocumentWritten => {
                answer.map_err(|f| failed("write the worker's customer document", &f))?;
                p.document_written = true;
            }
        }
        Ok(None)
    }
}

/// The legacy document as the customer's users are served today, built from the inventory when the worker
/// has none.
pub fn legacy_document(c: &CustomerIn, p: &Progress) -> Value {
    if let Some(d) = &p.legacy_document {
        return d.clone();
    }
    let rls = &c.legacy.rls;
    let mut doc = json!({
        "id": c.id, "name": c.name, "flow": "legacy",
        "workspaces": [c.legacy.workspace_id],
        "reports": c.legacy.reports.iter().map(|r| json!({"id": r, "workspaceId": c.legacy.workspace_id})).collect::<Vec<_>>(),
        "permissions": ["View"],
    });
    if let Some(u) = &rls.username {
        doc["rls"] = json!({"username": {"value": u}, "roles": rls.roles});
        if let Some(cd) = &rls.custom_data {
            doc["rls"]["customData"] = json!({"value": cd});
        }
    }
    doc
}

/// Apply's document: still the legacy flow, with the profile recorded (seed 000: keep the mapping of each
/// customer to its profile in your database).
pub fn legacy_with_profile(c: &CustomerIn, p: &Progress) -> Value {
    let mut doc = legacy_document(c, p);
    doc["profileId"] = json!(p.profile_id);
    doc["flow"] = json!("legacy");
    doc
}

/// Rollout's document: the profile flow on the customer's own workspace and items, with the identity the plan
/// gave (dynamic RLS: the profile's name).
pub fn profile_document(c: &CustomerIn, p: &Progress, after: &IdentityAfter) -> Value {
    let mut doc = legacy_document(c, p);
    let ws = p.workspace_id.clone().unwrap_or_default();
    let reports: Vec<Value> = match &c.target {
        Target::NewWorkspace { .. } => p
            .items
            .values()
            .filter_map(|i| i.report_id.as_ref())
            .map(|r| json!({"id": r, "workspaceId": ws}))
            .collect(),
        Target::ExistingWorkspace { .. } => c
            .legacy
            .reports
            .iter()
            .map(|r| json!({"id": r, "workspaceId": ws}))
            .collect(),
    };
    doc["flow"] = json!("profile");
    doc["profileId"] = json!(p.profile_id);
    doc["workspaces"] = json!([ws]);
    doc["reports"] = json!(reports);
    if let Some(m) = doc.as_object_mut() {
        m.remove("datasets");
    }
    match &after.username {
        Some(u) => {
            let mut rls = doc.get("rls").cloned().unwrap_or_else(|| json!({}));
            rls["username"] = json!({"value": u});
            rls["roles"] = json!(after.roles);
            doc["rls"] = rls;
        }
        None => {
            if let Some(m) = doc.as_object_mut() {
                m.remove("rls");
            }
        }
    }
    doc
}
