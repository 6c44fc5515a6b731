//! The resumable step machine of one customer's migration or onboarding, sans-IO: `next` says which request to
//! make, `read` takes its answer. What is persisted (`Progress`) holds what Power BI confirmed (ids) and what a
//! run was about to create (the name of a profile or workspace whose create was sent). Every run looks up
//! before it creates, so a crash between a create and its record is found again by name rather than created
//! twice; imports use `nameConflict=Abort`, so even a lookup that misses cannot duplicate an item.
//!
//! Ownership: a profile or workspace found by name is adopted only when the registry (the worker's documents,
//! the state file) records it as this customer's, or when this customer's own progress records the create of
//! exactly that name. A name that matches anything else, in any case, stops the customer with a
//! [`StepError`] naming the setting to change: one profile per customer, one customer per workspace.

use std::collections::{BTreeMap, HashMap};

use embedgate_client::powerbi::{self, Api, As, NameConflict};
use embedgate_client::{Failure, Method, Request};
use embedgate_core::powerbi::{GroupUserAccessRight, ServicePrincipalProfile};
use embedgate_edge::customer::{Customer, Flow, Item as DocItem, Permission, Rls, Source};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::inventory::{profile_name, CustomerIn, Inventory, RlsKind, Target};
use crate::plan::IdentityAfter;
use crate::registry::{customer_doc, Registry};

/// What one customer's migration has achieved, as recorded in the state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// The display name of the profile this customer's run sent a create for (kept until the id is known:
    /// a profile of exactly this name found later is the one that create made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// Likewise for the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating_workspace: Option<String>,
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
    /// Why the last run stopped on this customer (cleared when a run gets through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why `apply` left this customer as it is (already on the profile flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
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
    fn call(
        &self,
        name: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Request {
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
            url: format!("{}/api/admin/{path}", self.base),
            headers,
            body: body.map(|b| b.to_string().into_bytes()),
        }
    }
    fn customer_path(id: &str) -> String {
        format!("customers/{}", embedgate_client::encode::path_segment(id))
    }
    pub fn list_customers(&self) -> Request {
        self.call("worker.listCustomers", Method::Get, "customers", None)
    }
    pub fn get_customer(&self, id: &str) -> Request {
        self.call(
            "worker.getCustomer",
            Method::Get,
            &Self::customer_path(id),
            None,
        )
    }
    pub fn put_customer(&self, id: &str, doc: &Customer) -> Request {
        self.call(
            "worker.putCustomer",
            Method::Put,
            &Self::customer_path(id),
            Some(&doc.to_value()),
        )
    }
}

/// What a step needs besides its customer: who calls, and what this run already knows.
pub struct Session<'a> {
    pub api: &'a Api,
    /// The service principal's Entra token.
    pub token: String,
    pub sp_object_id: &'a str,
    pub worker: Option<&'a Worker>,
    /// Who holds which profile and workspace.
    pub registry: &'a Registry,
    /// The service principal's profiles, listed once at the start of the run (`None`: each customer lists
    /// them itself).
    pub profiles: Option<&'a [ServicePrincipalProfile]>,
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
    Imports(String),
    ImportState(String),
    Document,
    DocumentWritten,
}

#[derive(Debug)]
pub enum Action {
    Send(Request, Expect),
    /// Wait this long, then ask `next` again (an import still publishing).
    Wait(u64),
    /// The customer cannot go on (nothing was sent for this step).
    Fail(StepError),
    Done,
}

/// The setting a clash is resolved by changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The profile's display name (inventory `profileName`, onboarding `profileName`).
    ProfileName,
    /// The name of the workspace to create (inventory `target/name`, onboarding `workspaceName`).
    WorkspaceName,
    /// The existing workspace to use (inventory `target/workspaceId`).
    WorkspaceId,
}

/// A step that cannot go on: the message is safe to print (no token, no body). `clash` is set when the
/// customer's input names something another owner holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    pub message: String,
    pub clash: Option<Field>,
}

impl StepError {
    pub fn new(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
            clash: None,
        }
    }
    pub fn clash(field: Field, message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
            clash: Some(field),
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A failed call, for people: the status and Power BI's error code, never the body.
pub fn describe(f: &Failure) -> String {
    match f {
        Failure::Status { status, .. } => format!(
            "HTTP {status}{}",
            f.upstream_code()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        ),
        Failure::Timeout => "timed out".into(),
        Failure::Network => "network error".into(),
        Failure::BadBody => "unreadable answer".into(),
    }
}

fn failed(what: &str, f: &Failure) -> StepError {
    StepError::new(format!("{what}: {}", describe(f)))
}

/// The answer may have been lost after the service acted on the request.
fn maybe_done(f: &Failure) -> bool {
    matches!(
        f,
        Failure::Network
            | Failure::Timeout
            | Failure::Status {
                status: 500..=599,
                ..
            }
    )
}

/// OData string literal: a quote inside is doubled.
pub fn odata_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
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
    /// The worker's document as read by this run (`None`: it has none).
    live: Option<Customer>,
    /// Create-workspace was refused as a duplicate: the lookup that follows must find it, or it is not ours.
    group_conflict: bool,
    /// An import's answer was lost or refused as a duplicate: find it among the workspace's imports.
    find_import: Option<String>,
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
            live: None,
            group_conflict: false,
            find_import: None,
            conflicts: 0,
            polls: 0,
        }
    }

    fn as_profile<'a>(s: &'a Session, p: &'a Progress) -> As<'a> {
        As {
            token: &s.token,
            profile: p.profile_id.as_deref(),
        }
    }

    fn conflict(&mut self, what: &str, f: &Failure) -> Result<(), StepError> {
        self.conflicts += 1;
        if self.conflicts > 3 {
            return Err(failed(what, f));
        }
        Ok(())
    }

    /// Takes the profile the registry or this customer's own create made, or refuses a name someone else holds.
    fn adopt_profile(
        &self,
        s: &Session,
        p: &mut Progress,
        list: &[ServicePrincipalProfile],
    ) -> Result<(), StepError> {
        let (id, name) = (&self.customer.id, profile_name(&self.customer));
        let Some(found) = list.iter().find(|x| {
            x.display_name
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(&name))
        }) else {
            return Ok(());
        };
        let display = found.display_name.as_deref().unwrap_or_default();
        if let Some(other) = s.registry.profile_owner_other_than(&found.id, id) {
            return Err(StepError::clash(
                Field::ProfileName,
                format!("profile `{display}` ({}) is customer `{other}`'s profile; give customer `{id}` a profile name of its own", found.id),
            ));
        }
        if display == name && p.creating_profile.as_deref() == Some(name.as_str()) {
            p.profile_id = Some(found.id.to_ascii_lowercase());
            return Ok(());
        }
        Err(StepError::clash(
            Field::ProfileName,
            format!("a profile named `{display}` ({}) already exists and nothing records it as customer `{id}`'s (no worker document or state file names it); give customer `{id}` another profile name, or set its document's profileId if that profile is its own", found.id),
        ))
    }

    /// The next request, or `Done` when everything is recorded.
    pub fn next(&mut self, s: &Session, p: &mut Progress) -> Action {
        match self.step(s, p) {
            Ok(a) => a,
            Err(e) => Action::Fail(e),
        }
    }

    fn step(&mut self, s: &Session, p: &mut Progress) -> Result<Action, StepError> {
        let id = self.customer.id.clone();
        let name = profile_name(&self.customer);
        if p.profile_id.is_none() {
            // The registry (the worker's document, the state file) records this customer's profile.
            if let Some(mine) = s.registry.profile_of(&id) {
                if let Some(other) = s.registry.profile_owner_other_than(mine, &id) {
                    return Err(StepError::new(format!("customer `{id}`'s profile {mine} is also customer `{other}`'s: fix the worker's documents first (one profile per customer)")));
                }
                p.profile_id = Some(mine.to_ascii_lowercase());
            }
        }
        if p.profile_id.is_none() {
            if !self.looked_profile {
                match s.profiles {
                    Some(list) if self.conflicts == 0 => {
                        self.looked_profile = true;
                        self.adopt_profile(s, p, list)?;
                    }
                    _ => return Ok(Action::Send(s.api.get_profiles(&s.token), Expect::Profiles)),
                }
            }
            if p.profile_id.is_none() {
                p.creating_profile = Some(name.clone());
                return Ok(Action::Send(
                    s.api.create_profile(&s.token, &name),
                    Expect::ProfileCreated,
                ));
            }
        }
        p.creating_profile = None;
        match &self.customer.target {
            Target::NewWorkspace { name: ws, .. } if p.workspace_id.is_none() => {
                if !self.looked_group {
                    let filter = format!("name eq {}", odata_quote(ws));
                    return Ok(Action::Send(
                        s.api.get_groups(Self::as_profile(s, p), Some(&filter)),
                        Expect::Groups,
                    ));
                }
                if self.group_conflict {
                    return Err(StepError::clash(
                        Field::WorkspaceName,
                        format!("a workspace named `{ws}` already exists and customer `{id}`'s profile cannot see it (it belongs to someone else); give customer `{id}` another workspace name"),
                    ));
                }
                p.creating_workspace = Some(ws.clone());
                return Ok(Action::Send(
                    s.api.create_group(Self::as_profile(s, p), ws),
                    Expect::GroupCreated,
                ));
            }
            Target::NewWorkspace { .. } => p.admin = true, // made by the profile: it is the Admin
            Target::ExistingWorkspace { workspace_id } => {
                if let Some(other) = s.registry.workspace_user_other_than(workspace_id, &id) {
                    return Err(StepError::clash(
                        Field::WorkspaceId,
                        format!("workspace {workspace_id} is used by customer `{other}`; a profile's workspace serves one customer"),
                    ));
                }
                p.workspace_id
                    .get_or_insert_with(|| workspace_id.to_ascii_lowercase());
                if !p.admin {
                    let sp = As {
                        token: &s.token,
                        profile: None,
                    };
                    if !self.looked_users {
                        return Ok(Action::Send(
                            s.api.get_group_users(sp, workspace_id),
                            Expect::Users,
                        ));
                    }
                    let member = Api::profile_member(
                        s.sp_object_id,
                        p.profile_id.as_deref().unwrap_or(""),
                        GroupUserAccessRight::Admin,
                    );
                    return Ok(Action::Send(
                        s.api.add_group_user(sp, workspace_id, &member),
                        Expect::AdminAdded,
                    ));
                }
            }
        }
        p.creating_workspace = None;
        let ws = p.workspace_id.clone().unwrap_or_default();
        let pending: Vec<(String, String)> = self
            .templates
            .iter()
            .filter(|(k, _)| p.items.get(k).is_none_or(|i| i.report_id.is_none()))
            .cloned()
            .collect();
        if let Some((key, display)) = pending.first() {
            if let Some(k) = &self.find_import {
                return Ok(Action::Send(
                    s.api.get_imports(Self::as_profile(s, p), &ws),
                    Expect::Imports(k.clone()),
                ));
            }
            if !self.looked_items {
                return Ok(Action::Send(
                    s.api.get_reports(Self::as_profile(s, p), &ws),
                    Expect::Reports,
                ));
            }
            return Ok(match p.items.get(key).and_then(|i| i.import_id.clone()) {
                Some(import) => Action::Send(
                    s.api.get_import(Self::as_profile(s, p), &ws, &import),
                    Expect::ImportState(key.clone()),
                ),
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
                    Action::Send(req, Expect::Imported(key.clone()))
                }
            });
        }
        if !p.document_written {
            if let Some(w) = s.worker {
                if !self.read_document {
                    return Ok(Action::Send(w.get_customer(&id), Expect::Document));
                }
                let mine = p.profile_id.clone().unwrap_or_default();
                match &self.live {
                    // Already on the profile flow: never moved back, never pointed elsewhere.
                    Some(doc) if doc.flow == Flow::Profile => {
                        if doc
                            .profile_id
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(&mine))
                        {
                            p.document_written = true;
                        } else {
                            return Err(StepError::new(format!("customer `{id}` is already on the profile flow with profile {}; apply leaves it as it is", doc.profile_id.as_deref().unwrap_or("?"))));
                        }
                    }
                    Some(doc)
                        if doc
                            .profile_id
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(&mine)) =>
                    {
                        p.document_written = true;
                    }
                    // Someone pointed the document at another profile since: not this run's to overwrite.
                    Some(doc) if doc.profile_id.is_some() => {
                        return Err(StepError::new(format!(
                            "the worker's document of customer `{id}` names profile {}, while this migration made {mine}; set its profileId to the one it should have, then run apply again",
                            doc.profile_id.as_deref().unwrap_or("?")
                        )));
                    }
                    _ => {
                        let doc = legacy_with_profile(&self.customer, p)?;
                        return Ok(Action::Send(
                            w.put_customer(&id, &doc),
                            Expect::DocumentWritten,
                        ));
                    }
                }
            }
        }
        Ok(Action::Done)
    }

    /// Reads the answer to the request `next` gave: `Ok(Some(ms))` asks the driver to wait before `next`.
    pub fn read(
        &mut self,
        s: &Session,
        p: &mut Progress,
        e: Expect,
        answer: Result<String, Failure>,
    ) -> Result<Option<u64>, StepError> {
        match e {
            Expect::Profiles => {
                let list =
                    powerbi::read_profiles(&answer.map_err(|f| failed("list profiles", &f))?)
                        .map_err(|f| failed("list profiles", &f))?;
                self.looked_profile = true;
                self.adopt_profile(s, p, &list)?;
            }
            Expect::ProfileCreated => match answer {
                Ok(body) => {
                    p.profile_id = Some(
                        powerbi::read_profile(&body)
                            .map_err(|f| failed("create profile", &f))?
                            .id
                            .to_ascii_lowercase(),
                    );
                    p.creating_profile = None;
                }
                // Made meanwhile, or by this create before its answer was lost: look it up again (exactly).
                Err(f @ Failure::Status { status: 409, .. }) => {
                    self.conflict("create profile", &f)?;
                    self.looked_profile = false;
                }
                Err(f) if maybe_done(&f) => {
                    self.conflict("create profile", &f)?;
                    self.looked_profile = false;
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
                let id = &self.customer.id;
                if let Some(g) = groups.into_iter().find(|g| {
                    g.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(ws))
                }) {
                    let found = g.name.clone().unwrap_or_default();
                    if let Some(other) = s.registry.workspace_user_other_than(&g.id, id) {
                        return Err(StepError::clash(
                            Field::WorkspaceName,
                            format!("workspace `{found}` ({}) is used by customer `{other}`; give customer `{id}` another workspace name", g.id),
                        ));
                    }
                    let recorded = s.registry.workspace_holders(&g.id).contains(&id.as_str())
                        || (found == *ws && p.creating_workspace.as_deref() == Some(ws.as_str()));
                    if !recorded {
                        return Err(StepError::clash(
                            Field::WorkspaceName,
                            format!("a workspace named `{found}` ({}) already exists and nothing records it as customer `{id}`'s; give customer `{id}` another workspace name", g.id),
                        ));
                    }
                    p.workspace_id = Some(g.id.to_ascii_lowercase());
                    p.creating_workspace = None;
                }
            }
            Expect::GroupCreated => match answer {
                Ok(body) => {
                    let g =
                        powerbi::read_group(&body).map_err(|f| failed("create workspace", &f))?;
                    p.workspace_id = Some(g.id.to_ascii_lowercase());
                    p.creating_workspace = None;
                }
                // The name is taken: ours (a lost answer) if the profile can see it, else someone else's.
                Err(f @ Failure::Status { status: 409, .. }) => {
                    self.conflict("create workspace", &f)?;
                    self.looked_group = false;
                    self.group_conflict = true;
                }
                Err(f) if maybe_done(&f) => {
                    self.conflict("create workspace", &f)?;
                    self.looked_group = false;
                }
                Err(f) => return Err(failed("create workspace", &f)),
            },
            Expect::Users => {
                let users = powerbi::read_group_users(
                    &answer.map_err(|f| failed("list workspace users", &f))?,
                )
                .map_err(|f| failed("list workspace users", &f))?;
                self.looked_users = true;
                p.admin = crate::checks::profile_is_admin(
                    &users,
                    p.profile_id.as_deref().unwrap_or_default(),
                );
            }
            Expect::AdminAdded => match answer {
                Ok(_) => p.admin = true,
                Err(f) if maybe_done(&f) || matches!(f, Failure::Status { status: 409, .. }) => {
                    self.conflict("grant the profile Admin", &f)?;
                    self.looked_users = false;
                }
                Err(f) => return Err(failed("grant the profile Admin", &f)),
            },
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
                // Abort: an item of that name exists or is still publishing (an import whose answer was lost):
                // find that import and follow it.
                Err(f @ Failure::Status { status: 409, .. }) => {
                    self.conflict("import", &f)?;
                    self.find_import = Some(key);
                }
                Err(f) if maybe_done(&f) => {
                    self.conflict("import", &f)?;
                    self.find_import = Some(key);
                }
                Err(f) => return Err(failed("import", &f)),
            },
            Expect::Imports(key) => {
                let imports =
                    powerbi::read_imports(&answer.map_err(|f| failed("list imports", &f))?)
                        .map_err(|f| failed("list imports", &f))?;
                self.find_import = None;
                let display = self
                    .templates
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, d)| d.clone())
                    .unwrap_or_default();
                match imports
                    .iter()
                    .rev()
                    .find(|i| i.name == display && !i.failed())
                {
                    Some(i) => p.items.entry(key).or_default().import_id = Some(i.id.clone()),
                    // Not among the imports: the item exists (listed as a report next time) or the import
                    // has not registered yet; wait, then look again.
                    None => {
                        self.looked_items = false;
                        self.polls += 1;
                        return Ok(Some((500u64 << self.polls.min(5)).min(10_000)));
                    }
                }
            }
            Expect::ImportState(key) => {
                let imp = powerbi::read_import(&answer.map_err(|f| failed("import status", &f))?)
                    .map_err(|f| failed("import status", &f))?;
                if imp.failed() {
                    p.items.entry(key.clone()).or_default().import_id = None;
                    return Err(StepError::new(format!(
                        "import of `{key}` failed in Power BI"
                    )));
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
                        let v: Value = serde_json::from_str(&body).map_err(|_| {
                            StepError::new("the worker's customer document is unreadable")
                        })?;
                        let doc = customer_doc(&v).map_err(|e| {
                            StepError::new(format!(
                                "the worker's customer document is unreadable ({e})"
                            ))
                        })?;
                        if p.legacy_document.is_none() && doc.flow == Flow::Legacy {
                            let mut legacy = doc.clone();
                            legacy.profile_id = None;
                            p.legacy_document = Some(legacy.to_value());
                        }
                        self.live = Some(doc);
                    }
                    Err(Failure::Status { status: 404, .. }) => self.live = None,
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

/// The legacy document as the customer's users are served today: the one read from the worker before the
/// migration, else one built from the inventory (a customer the worker has no document for).
pub fn legacy_document(c: &CustomerIn, p: &Progress) -> Result<Customer, StepError> {
    if let Some(d) = &p.legacy_document {
        let mut doc = customer_doc(d).map_err(|e| {
            StepError::new(format!("the recorded legacy document is unreadable ({e})"))
        })?;
        doc.flow = Flow::Legacy;
        doc.profile_id = None;
        return Ok(doc);
    }
    let rls = &c.legacy.rls;
    let ws = c.legacy.workspace_id.to_ascii_lowercase();
    let doc = Customer {
        id: c.id.clone(),
        name: c.name.clone(),
        enabled: true,
        flow: Flow::Legacy,
        profile_id: None,
        workspaces: vec![ws.clone()],
        reports: c
            .legacy
            .reports
            .iter()
            .map(|r| DocItem {
                id: r.to_ascii_lowercase(),
                workspace_id: ws.clone(),
            })
            .collect(),
        datasets: vec![],
        permissions: vec![Permission::View],
        max_lifetime_minutes: 60,
        rls: match rls.kind {
            RlsKind::None => Rls::default(),
            // Static RLS without a fixed username sends the signed-in user, as the worker does by default.
            RlsKind::Dynamic | RlsKind::Static => Rls {
                username: rls
                    .username
                    .clone()
                    .map(Source::Value)
                    .unwrap_or(Source::User),
                roles: rls.roles.clone(),
                custom_data: rls.custom_data.clone().map(Source::Value),
                ..Rls::default()
            },
        },
        rate_limit: None,
    };
    // Checked by the caller, once the document is complete (an onboarding has no legacy workspace).
    Ok(doc)
}

/// A document as the worker would store it (normalised and validated); the error says which field.
fn checked(doc: Customer) -> Result<Customer, StepError> {
    Customer::from_value(&doc.to_value()).map_err(|e| {
        StepError::new(format!(
            "the customer document would be refused at {}: {}",
            e.path.unwrap_or_default(),
            e.message
        ))
    })
}

/// Apply's document: the worker's own document with the profile recorded and its flow unchanged (the
/// mapping of each customer to its profile lives with the customer).
pub fn legacy_with_profile(c: &CustomerIn, p: &Progress) -> Result<Customer, StepError> {
    let mut doc = legacy_document(c, p)?;
    doc.profile_id = p.profile_id.clone();
    checked(doc)
}

/// Rollout's document: the profile flow on the customer's own workspace and items. Its row-level security is
/// the legacy document's (static roles, a role claim and its allow-list, customData), with the username the
/// plan gives (the profile's name); a customer without RLS gets none.
pub fn profile_document(
    c: &CustomerIn,
    p: &Progress,
    after: &IdentityAfter,
) -> Result<Customer, StepError> {
    let mut doc = legacy_document(c, p)?;
    let ws = p
        .workspace_id
        .clone()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let reports: Vec<String> = match &c.target {
        Target::NewWorkspace { .. } => p
            .items
            .values()
            .filter_map(|i| i.report_id.clone())
            .collect(),
        Target::ExistingWorkspace { .. } => c.legacy.reports.clone(),
    };
    doc.flow = Flow::Profile;
    doc.profile_id = p.profile_id.clone();
    doc.workspaces = vec![ws.clone()];
    doc.reports = reports
        .into_iter()
        .map(|r| DocItem {
            id: r.to_ascii_lowercase(),
            workspace_id: ws.clone(),
        })
        .collect();
    doc.datasets.clear();
    match &after.username {
        Some(u) => doc.rls.username = Source::Value(u.clone()),
        None => doc.rls = Rls::default(),
    }
    checked(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SP: &str = "33333333-3333-4333-8333-333333333333";
    const WS: &str = "5a5a5a5a-0000-4000-8000-00000000a000";
    const MINE: &str = "5a5a5a5a-0000-4000-8000-00000000a001";
    const P1: &str = "9a9a9a9a-0000-4000-8000-000000000001";
    const P2: &str = "9a9a9a9a-0000-4000-8000-000000000002";

    fn inventory() -> Inventory {
        crate::read_inventory(
            &json!({"servicePrincipalObjectId": SP, "customers": [{
                "id": "c0", "name": "Customer 0",
                "legacy": {"workspaceId": WS, "reports": [], "rls": {"kind": "dynamic", "username": "Customer0", "roles": ["R"]}},
                "target": {"kind": "existingWorkspace", "workspaceId": MINE}}]})
            .to_string(),
        )
        .unwrap()
    }

    fn profile(id: &str, name: &str) -> ServicePrincipalProfile {
        ServicePrincipalProfile {
            id: id.into(),
            display_name: Some(name.into()),
        }
    }

    /// Runs the machine with scripted answers (by request name) until it stops; returns the requests made.
    fn drive(
        registry: &Registry,
        profiles: &[ServicePrincipalProfile],
        p: &mut Progress,
        answer: impl Fn(&str) -> Result<String, Failure>,
    ) -> (Vec<&'static str>, Option<StepError>) {
        let inv = inventory();
        let api = Api {
            base: "https://api.powerbi.com".into(),
        };
        let worker = Worker {
            base: "https://worker.example".into(),
            admin_key: "k".into(),
        };
        let files = HashMap::new();
        let s = Session {
            api: &api,
            token: "t".into(),
            sp_object_id: SP,
            worker: Some(&worker),
            registry,
            profiles: Some(profiles),
            files: &files,
        };
        let mut m = Machine::new(&inv, &inv.customers[0]);
        let mut sent = Vec::new();
        for _ in 0..20 {
            match m.next(&s, p) {
                Action::Done => return (sent, None),
                Action::Fail(e) => return (sent, Some(e)),
                Action::Wait(_) => {}
                Action::Send(req, expect) => {
                    sent.push(req.name);
                    if let Err(e) = m.read(&s, p, expect, answer(req.name)) {
                        return (sent, Some(e));
                    }
                }
            }
        }
        panic!("no end: {sent:?}");
    }

    fn upstream(name: &str) -> Result<String, Failure> {
        Ok(match name {
            "powerbi.createProfile" => json!({"id": P1, "displayName": "Customer0"}),
            "powerbi.getGroupUsers" => json!({"value": []}),
            "worker.getCustomer" => json!({"id": "c0", "name": "Customer 0", "flow": "legacy", "workspaces": [WS], "reports": []}),
            _ => json!({}),
        }
        .to_string())
    }

    #[test]
    fn a_profile_named_like_the_customer_in_another_case_is_never_adopted() {
        let mut p = Progress::default();
        let (sent, e) = drive(
            &Registry::default(),
            &[profile(P2, "customer0")],
            &mut p,
            upstream,
        );
        let e = e.expect("refused");
        assert_eq!(e.clash, Some(Field::ProfileName), "{e}");
        assert!(sent.is_empty(), "nothing sent: {sent:?}");
        assert_eq!(p.profile_id, None);
    }

    #[test]
    fn a_profile_of_exactly_the_name_this_customer_was_creating_is_its_own() {
        let mut p = Progress {
            creating_profile: Some("Customer0".into()),
            ..Progress::default()
        };
        let (sent, e) = drive(
            &Registry::default(),
            &[profile(P2, "Customer0")],
            &mut p,
            upstream,
        );
        assert_eq!(e, None);
        assert_eq!(p.profile_id.as_deref(), Some(P2));
        assert!(!sent.contains(&"powerbi.createProfile"), "{sent:?}");
        assert!(p.document_written);
    }

    #[test]
    fn another_customers_profile_is_refused_even_when_this_one_was_creating_that_name() {
        let reg = Registry::read(&json!({"customers": [{"id": "other", "name": "O", "flow": "profile", "profileId": P2, "workspaces": [MINE.replace("a001", "a009")], "reports": []}]}).to_string()).unwrap();
        let mut p = Progress {
            creating_profile: Some("Customer0".into()),
            ..Progress::default()
        };
        let (_, e) = drive(&reg, &[profile(P2, "Customer0")], &mut p, upstream);
        assert!(e
            .expect("refused")
            .message
            .contains("customer `other`'s profile"));
    }

    #[test]
    fn a_document_pointed_at_another_profile_is_not_overwritten() {
        let mut p = Progress::default();
        let (sent, e) = drive(&Registry::default(), &[], &mut p, |name| {
            match name {
            "worker.getCustomer" => Ok(json!({"id": "c0", "name": "Customer 0", "flow": "legacy", "profileId": P2, "workspaces": [WS], "reports": []}).to_string()),
            n => upstream(n),
        }
        });
        assert!(e
            .expect("refused")
            .message
            .contains(&format!("names profile {P2}")));
        assert!(!sent.contains(&"worker.putCustomer"), "{sent:?}");
        assert!(!p.document_written);
    }

    #[test]
    fn an_existing_workspace_another_customer_uses_is_refused() {
        let reg = Registry::read(&json!({"customers": [{"id": "other", "name": "O", "flow": "legacy", "workspaces": [MINE], "reports": []}]}).to_string()).unwrap();
        let mut p = Progress::default();
        let (sent, e) = drive(&reg, &[], &mut p, upstream);
        let e = e.expect("refused");
        assert_eq!(e.clash, Some(Field::WorkspaceId));
        assert!(!sent.contains(&"powerbi.addGroupUser"), "{sent:?}");
    }
}
