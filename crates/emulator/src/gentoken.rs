//! GenerateToken (V2 and every V1 variant) with the service's server-side checks, written from Microsoft's
//! documentation (seed documents and shared NOTES), independently of embedgate-core. README.md lists every check
//! with its error message.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{json, Value};

use crate::app::{
    caller, new_id, now, ok_json, parse_body, rfc3339, ApiError, ApiResult, Caller, Shared,
};
use crate::crypto;
use crate::state::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    V2,
    Report {
        group: String,
        report: String,
    },
    Create {
        group: String,
    },
    Dataset {
        group: String,
        dataset: String,
    },
    Dashboard {
        group: String,
        dashboard: String,
    },
    Tile {
        group: String,
        dashboard: String,
        tile: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    View,
    Edit,
    Create,
}

impl Access {
    fn name(self) -> &'static str {
        match self {
            Access::View => "View",
            Access::Edit => "Edit",
            Access::Create => "Create",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ident {
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub custom_data: Option<String>,
    pub blob: bool,
    pub datasets: Vec<String>,
    pub reports: Vec<String>,
}

impl Ident {
    fn covers_dataset(&self, id: &str) -> bool {
        self.datasets.iter().any(|d| d.eq_ignore_ascii_case(id))
    }
    fn to_json(&self) -> Value {
        json!({"username": self.username, "roles": self.roles, "customData": self.custom_data,
               "identityBlob": self.blob, "datasets": self.datasets, "reports": self.reports})
    }
}

#[derive(Debug, Clone)]
struct Req {
    access: Access,
    allow_save_as: bool,
    dataset_id: Option<String>,
    identities: Vec<Ident>,
    lifetime: Option<i64>,
    reports: Vec<(String, bool)>,
    datasets: Vec<(String, String)>,
    targets: Vec<String>,
}

pub const MAX_ITEMS: usize = 50;

fn str_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::invalid(format!("{what} must be a list of strings")))
            })
            .collect(),
        _ => Err(ApiError::invalid(format!(
            "{what} must be a list of strings"
        ))),
    }
}

fn opt_str(v: Option<&Value>, what: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Err(ApiError::invalid(format!("{what} must be a string"))),
    }
}

fn parse_identity(v: &Value) -> Result<Ident, ApiError> {
    if !v.is_object() {
        return Err(ApiError::invalid(
            "Each effective identity must be an object",
        ));
    }
    let username = opt_str(v.get("username"), "Effective identity username")?;
    let roles = str_list(v.get("roles"), "Effective identity roles")?;
    let custom_data = opt_str(v.get("customData"), "Effective identity customData")?;
    let datasets = str_list(v.get("datasets"), "Effective identity datasets")?;
    let reports = str_list(v.get("reports"), "Effective identity reports")?;
    let blob = match v.get("identityBlob") {
        None | Some(Value::Null) => false,
        Some(b) => match b.get("value").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => true,
            _ => {
                return Err(ApiError::invalid(
                    "Effective identity identityBlob must have a non-empty value",
                ))
            }
        },
    };
    if datasets.is_empty() && reports.is_empty() {
        return Err(ApiError::invalid(
            "Effective identity must specify the datasets it applies to",
        ));
    }
    if let Some(u) = &username {
        if u.chars().count() > 256 {
            return Err(ApiError::invalid(
                "Effective identity username must not exceed 256 characters",
            ));
        }
        if u.chars().any(char::is_whitespace) {
            return Err(ApiError::invalid(
                "Effective identity username must not contain spaces",
            ));
        }
        if u.is_empty() {
            return Err(ApiError::invalid(
                "Effective identity username must not be empty",
            ));
        }
    }
    if username.is_none() && !blob {
        return Err(ApiError::invalid(
            "Effective identity username must be provided",
        ));
    }
    if roles.len() > MAX_ITEMS {
        return Err(ApiError::invalid(
            "Effective identity can contain up to 50 roles",
        ));
    }
    for r in &roles {
        if r.chars().count() > 50 {
            return Err(ApiError::invalid(format!(
                "Role '{r}' exceeds the maximum length of 50 characters"
            )));
        }
        if r.contains(',') {
            return Err(ApiError::invalid(format!(
                "Role '{r}' must not contain ','"
            )));
        }
    }
    Ok(Ident {
        username,
        roles,
        custom_data,
        blob,
        datasets,
        reports,
    })
}

fn id_list(body: &Value, key: &str) -> Result<Vec<Value>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => {
            if a.len() > MAX_ITEMS {
                return Err(ApiError::invalid(format!(
                    "The number of {key} in the request exceeds the maximum of {MAX_ITEMS}"
                )));
            }
            for x in a {
                if !x.get("id").is_some_and(Value::is_string) {
                    return Err(ApiError::invalid(format!(
                        "Each item of {key} must have an id"
                    )));
                }
            }
            Ok(a.clone())
        }
        _ => Err(ApiError::invalid(format!("{key} must be a list"))),
    }
}

/// Request-shape checks that need no state.
fn parse_request(ep: &Endpoint, body: &Value) -> Result<Req, ApiError> {
    let lifetime = match body.get("lifetimeInMinutes") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Some(n),
            _ => {
                return Err(ApiError::invalid(
                    "lifetimeInMinutes must be a positive integer",
                ))
            }
        },
    };
    let identities = match body.get("identities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            if a.len() > MAX_ITEMS {
                return Err(ApiError::invalid(format!(
                    "The number of identities in the request exceeds the maximum of {MAX_ITEMS}"
                )));
            }
            a.iter()
                .map(parse_identity)
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => return Err(ApiError::invalid("identities must be a list")),
    };
    let mut req = Req {
        access: Access::View,
        allow_save_as: false,
        dataset_id: None,
        identities,
        lifetime,
        reports: Vec::new(),
        datasets: Vec::new(),
        targets: Vec::new(),
    };
    if *ep == Endpoint::V2 {
        for r in id_list(body, "reports")? {
            let allow_edit = match r.get("allowEdit") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                _ => return Err(ApiError::invalid("allowEdit must be a boolean")),
            };
            req.reports
                .push((r["id"].as_str().unwrap().to_string(), allow_edit));
        }
        for d in id_list(body, "datasets")? {
            let xmla = match d.get("xmlaPermissions").and_then(Value::as_str) {
                None => "Off".to_string(),
                Some(x) if x.eq_ignore_ascii_case("Off") => "Off".into(),
                Some(x) if x.eq_ignore_ascii_case("ReadOnly") => "ReadOnly".into(),
                Some(x) => {
                    return Err(ApiError::invalid(format!(
                        "xmlaPermissions '{x}' is not valid; use Off or ReadOnly"
                    )))
                }
            };
            req.datasets
                .push((d["id"].as_str().unwrap().to_string(), xmla));
        }
        req.targets = id_list(body, "targetWorkspaces")?
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect();
        if req.reports.is_empty() && req.datasets.is_empty() {
            return Err(ApiError::invalid(
                "GenerateToken requires at least one report or dataset",
            ));
        }
        return Ok(req);
    }
    // V1 token permissions
    let is_create = matches!(ep, Endpoint::Create { .. });
    let is_report = matches!(ep, Endpoint::Report { .. });
    req.access = match body.get("accessLevel") {
        // No document gives a default for the create endpoint; its swagger example sends `Create`,
        // and the core (EG0502) asks for it explicitly (found by the generated differential test).
        None | Some(Value::Null) => Access::View,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("View") => Access::View,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("Edit") => Access::Edit,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("Create") => Access::Create,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "accessLevel {other} is not valid; use View, Edit or Create"
            )))
        }
    };
    req.allow_save_as = match body.get("allowSaveAs") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        _ => return Err(ApiError::invalid("allowSaveAs must be a boolean")),
    };
    req.dataset_id = opt_str(body.get("datasetId"), "datasetId")?.filter(|s| !s.is_empty());
    if req.access == Access::Edit && !is_report {
        return Err(ApiError::invalid(
            "Edit access level only applies when generating an embed token for a report",
        ));
    }
    if req.access == Access::Create && !is_create {
        return Err(ApiError::invalid(
            "Create access level only applies when generating an embed token for report creation",
        ));
    }
    if is_create && req.access != Access::Create {
        return Err(ApiError::invalid(
            "Generating an embed token for report creation requires accessLevel Create",
        ));
    }
    if is_create && req.dataset_id.is_none() {
        return Err(ApiError::invalid(
            "Generating an embed token for report creation requires datasetId",
        ));
    }
    if req.allow_save_as && !is_report {
        return Err(ApiError::invalid(
            "allowSaveAs only applies when generating an embed token for a report",
        ));
    }
    if req.identities.len() > 1 {
        return Err(ApiError::invalid(
            "Creating embed token with multiple identities is not supported",
        ));
    }
    Ok(req)
}

/// What the token will grant, once the caller's rights are checked.
#[derive(Default)]
struct Plan {
    reports: Vec<Value>,
    datasets: Vec<(Dataset, String)>,
    dashboards: Vec<Value>,
    tiles: Vec<Value>,
    targets: Vec<Value>,
    paginated: Vec<String>,
    create_dataset: Option<String>,
}

impl Plan {
    fn add_dataset(&mut self, d: &Dataset, xmla: &str) {
        if let Some(e) = self
            .datasets
            .iter_mut()
            .find(|(x, _)| x.id.eq_ignore_ascii_case(&d.id))
        {
            if xmla == "ReadOnly" {
                e.1 = xmla.into();
            }
        } else {
            self.datasets.push((d.clone(), xmla.to_string()));
        }
    }
}

/// Workspace rules for embed tokens (*Considerations when generating an embed token*): no My workspace; classic needs a master user who is Admin;
/// new workspaces need at least Member.
fn check_workspace(
    st: &Fixture,
    c: &Caller,
    ws_id: &str,
    v2: bool,
) -> Result<WorkspaceType, ApiError> {
    let ws = st.workspace(ws_id).ok_or_else(ApiError::not_authorized)?;
    let access = c
        .access(ws)
        .filter(|a| *a > AccessRight::None)
        .ok_or_else(ApiError::not_authorized)?;
    match ws.kind {
        WorkspaceType::PersonalGroup => Err(ApiError::invalid("Creating embed token for items in My workspace is not supported")),
        WorkspaceType::Group if v2 => Err(ApiError::invalid(format!(
            "GenerateToken for multiple items supports only new workspaces; workspace {} is a classic workspace", ws.id))),
        WorkspaceType::Group if c.is_app() => Err(ApiError::not_authorized()),
        WorkspaceType::Group if access != AccessRight::Admin => Err(ApiError::forbidden(format!(
            "Generating an embed token in classic workspace {} requires the Admin role", ws.id))),
        WorkspaceType::Workspace if access < AccessRight::Member => Err(ApiError::forbidden(format!(
            "Generating an embed token requires at least Member access to workspace {}", ws.id))),
        k => Ok(k),
    }
}

/// V1: the dataset behind an item; classic workspaces need it in the same workspace, new ones need the caller to
/// be at least Member of the dataset's (new) workspace too.
fn v1_dataset(
    st: &Fixture,
    c: &Caller,
    item_ws: &str,
    kind: WorkspaceType,
    ds_id: &str,
) -> Result<Dataset, ApiError> {
    let d = st
        .dataset(ds_id)
        .ok_or_else(|| ApiError::not_found("Dataset", ds_id))?;
    if !d.workspace_id.eq_ignore_ascii_case(item_ws) {
        if kind == WorkspaceType::Group {
            return Err(ApiError::invalid(
                "In a classic workspace the dataset and the item must be in the same workspace",
            ));
        }
        if check_workspace(st, c, &d.workspace_id, false)? != WorkspaceType::Workspace {
            return Err(ApiError::invalid("The dataset and the item can be in two different workspaces only if both are new workspaces"));
        }
    }
    if d.kind == DatasetKind::DirectLake {
        return Err(ApiError::invalid(format!(
            "Dataset {} is a Direct Lake model; use the multi-resource GenerateToken API (POST /v1.0/myorg/GenerateToken)", d.id)));
    }
    Ok(d.clone())
}

fn resolve(st: &Fixture, c: &Caller, ep: &Endpoint, req: &Req) -> Result<Plan, ApiError> {
    let mut plan = Plan::default();
    match ep {
        Endpoint::V2 => {
            for (rid, allow_edit) in &req.reports {
                let r = st
                    .report(rid)
                    .ok_or_else(|| ApiError::not_found("Report", rid))?;
                check_workspace(st, c, &r.workspace_id, true)?;
                if r.report_type == ReportType::PaginatedReport {
                    if !c.is_app() {
                        return Err(ApiError::invalid(format!(
                            "Creating embed token for paginated report {} is not supported with a master user; use a service principal", r.id)));
                    }
                    plan.paginated.push(r.id.clone());
                }
                plan.reports.push(
                    json!({"id": r.id, "workspaceId": r.workspace_id, "allowEdit": allow_edit,
                                         "reportType": r.report_type}),
                );
                // "A paginated report doesn't require a Power BI semantic model as a data source ... you cannot
                // rely on the datasetId property" (Embed a paginated report): its models are listed in `datasets`.
                if let Some(ds) = r
                    .dataset_id
                    .as_ref()
                    .filter(|_| r.report_type != ReportType::PaginatedReport)
                {
                    let d = st
                        .dataset(ds)
                        .ok_or_else(|| ApiError::not_found("Dataset", ds))?;
                    check_workspace(st, c, &d.workspace_id, true)?;
                    plan.add_dataset(d, "Off");
                }
            }
            for (did, xmla) in &req.datasets {
                let d = st
                    .dataset(did)
                    .ok_or_else(|| ApiError::not_found("Dataset", did))?;
                check_workspace(st, c, &d.workspace_id, true)?;
                plan.add_dataset(d, xmla);
            }
            for t in &req.targets {
                check_workspace(st, c, t, true)?;
                plan.targets.push(json!({"id": t}));
            }
        }
        Endpoint::Report { group, report } => {
            let kind = check_workspace(st, c, group, false)?;
            let r = st
                .report(report)
                .filter(|r| r.workspace_id.eq_ignore_ascii_case(group))
                .ok_or_else(|| ApiError::not_found("Report", report))?;
            plan.reports.push(json!({"id": r.id, "workspaceId": r.workspace_id, "allowEdit": req.access == Access::Edit,
                                     "reportType": r.report_type}));
            // The V1 report endpoint embeds paginated reports too (its documented example "Generate a paginated
            // report embed token using an effective identity"); as on V2, a service principal only.
            if r.report_type == ReportType::PaginatedReport {
                if !c.is_app() {
                    return Err(ApiError::invalid(format!(
                        "Creating embed token for paginated report {} is not supported with a master user; use a service principal", r.id)));
                }
                plan.paginated.push(r.id.clone());
            } else {
                let ds = r.dataset_id.clone().unwrap_or_default();
                let d = v1_dataset(st, c, group, kind, &ds)?;
                plan.add_dataset(&d, "Off");
            }
        }
        Endpoint::Create { group } => {
            let kind = check_workspace(st, c, group, false)?;
            let ds = req.dataset_id.clone().unwrap_or_default();
            let d = v1_dataset(st, c, group, kind, &ds)?;
            plan.create_dataset = Some(d.id.clone());
            plan.targets.push(json!({"id": group}));
            plan.add_dataset(&d, "Off");
        }
        Endpoint::Dataset { group, dataset } => {
            let kind = check_workspace(st, c, group, false)?;
            let d = st
                .dataset(dataset)
                .filter(|d| d.workspace_id.eq_ignore_ascii_case(group))
                .ok_or_else(|| ApiError::not_found("Dataset", dataset))?;
            let d = v1_dataset(st, c, group, kind, &d.id.clone())?;
            plan.add_dataset(&d, "Off");
        }
        Endpoint::Dashboard { group, dashboard }
        | Endpoint::Tile {
            group, dashboard, ..
        } => {
            let kind = check_workspace(st, c, group, false)?;
            let dash = st
                .dashboard(dashboard)
                .filter(|d| d.workspace_id.eq_ignore_ascii_case(group))
                .ok_or_else(|| ApiError::not_found("Dashboard", dashboard))?;
            let tiles: Vec<&Tile> = match ep {
                Endpoint::Tile { tile, .. } => {
                    let t = dash
                        .tiles
                        .iter()
                        .find(|t| t.id.eq_ignore_ascii_case(tile))
                        .ok_or_else(|| ApiError::not_found("Tile", tile))?;
                    plan.tiles.push(json!({"id": t.id, "dashboardId": dash.id, "workspaceId": dash.workspace_id}));
                    vec![t]
                }
                _ => {
                    plan.dashboards
                        .push(json!({"id": dash.id, "workspaceId": dash.workspace_id}));
                    dash.tiles.iter().collect()
                }
            };
            for t in tiles {
                let ds = t.dataset_id.clone().or_else(|| {
                    t.report_id
                        .as_ref()
                        .and_then(|r| st.report(r))
                        .and_then(|r| r.dataset_id.clone())
                });
                if let Some(ds) = ds {
                    let d = v1_dataset(st, c, group, kind, &ds)?;
                    plan.add_dataset(&d, "Off");
                }
            }
        }
    }
    if c.profile.is_some() {
        if let Some((d, _)) = plan
            .datasets
            .iter()
            .find(|(d, _)| d.kind == DatasetKind::DirectLake)
        {
            return Err(ApiError::invalid(format!(
                "Dataset {} is a Direct Lake model; Direct Lake models don't support service principal profiles", d.id)));
        }
    }
    Ok(plan)
}

/// Allowed characters of an on-premises (SSAS) effective username.
/// *Set effective identity*: "The username must be a Windows account, using UPN or DOMAIN\\username format."
fn on_prem_username_ok(u: &str) -> bool {
    let windows = match (u.split_once('@'), u.split_once('\\')) {
        (Some((name, domain)), None) => !name.is_empty() && !domain.is_empty(),
        (None, Some((domain, name))) => !name.is_empty() && !domain.is_empty(),
        _ => false,
    };
    windows
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_!#^~\\@".contains(c))
}

/// Effective identity rules per dataset kind and caller kind (*Set effective identity* and *Considerations when generating an embed token*, NOTES).
fn check_identities(c: &Caller, req: &Req, plan: &Plan) -> Result<(), ApiError> {
    for id in &req.identities {
        for r in &id.reports {
            if !plan.paginated.iter().any(|p| p.eq_ignore_ascii_case(r)) {
                return Err(ApiError::invalid(format!(
                    "Effective identity reports are only supported for paginated reports included in the token; {r} is not one")));
            }
        }
        // Identities are for the token's datasets; one naming another dataset would leave the meant one without.
        for d in &id.datasets {
            if !plan
                .datasets
                .iter()
                .any(|(ds, _)| ds.id.eq_ignore_ascii_case(d))
            {
                return Err(ApiError::invalid(format!(
                    "Effective identity datasets must be included in the token; dataset {d} is not"
                )));
            }
        }
    }
    for (ds, _) in &plan.datasets {
        let pre = format!("Creating embed token for accessing dataset {} ", ds.id);
        let idents: Vec<&Ident> = req
            .identities
            .iter()
            .filter(|i| i.covers_dataset(&ds.id))
            .collect();
        if idents.len() > 1 {
            return Err(ApiError::invalid(
                "Creating embed token with multiple identities is not supported",
            ));
        }
        let ident = idents.first().copied();
        if !ds.is_effective_identity_required() {
            if ident.is_some() {
                return Err(ApiError::invalid(format!(
                    "{pre}shouldn't have effective identity"
                )));
            }
            continue;
        }
        let Some(id) = ident else {
            // Master users may omit the identity (the caller's own rights apply; *Considerations when generating an embed token*'s table, also for
            // SSAS live connections); service principals must always provide one.
            if c.is_app() {
                return Err(ApiError::invalid(format!(
                    "{pre}requires effective identity to be provided"
                )));
            }
            continue;
        };
        if id.blob && ds.kind != DatasetKind::AzureSqlDirectQuerySso {
            return Err(ApiError::invalid(format!(
                "{pre}shouldn't have identityBlob; identityBlob is only supported for datasets with a DirectQuery connection to Azure SQL")));
        }
        if id.custom_data.is_some() && ds.kind == DatasetKind::SqlServerAnalysisServicesLive {
            return Err(ApiError::invalid(format!("{pre}shouldn't have customData; CustomData is not supported for SQL Server Analysis Services")));
        }
        let Some(username) = &id.username else {
            // A master user's blob-only identity is enough for SSO alone; *Considerations when generating an embed token*'s "SSO and cloud
            // RLS" row also asks for the effective (RLS) identity, the username.
            if ds.kind == DatasetKind::AzureSqlDirectQuerySso
                && id.blob
                && !c.is_app()
                && ds.roles.is_empty()
            {
                continue;
            }
            return Err(ApiError::invalid(format!(
                "{pre}requires effective identity username to be provided"
            )));
        };
        match ds.kind {
            DatasetKind::AzureAnalysisServicesLive => {
                if !username.eq_ignore_ascii_case(c.principal_name()) {
                    return Err(ApiError::invalid(format!(
                        "{pre}requires effective identity username to be identical to the caller's principal name")));
                }
            }
            DatasetKind::SqlServerAnalysisServicesLive => {
                if !on_prem_username_ok(username) {
                    return Err(ApiError::invalid(format!(
                        "{pre}requires a Windows account as the on-premises effective identity username (user@domain or DOMAIN\\user, made of alphanumerics and . - _ ! # ^ ~ \\ @)")));
                }
                let allowed = ds.gateway.as_ref().is_some_and(|g| {
                    c.ids().iter().any(|i| {
                        g.admins
                            .iter()
                            .chain(&g.read_override_effective_identity)
                            .any(|a| a.eq_ignore_ascii_case(i))
                    })
                });
                if !allowed {
                    return Err(ApiError::forbidden(format!(
                        "{pre}requires the caller to be a gateway admin or to have ReadOverrideEffectiveIdentity permission on the gateway data source")));
                }
            }
            _ => {
                if ds.is_effective_identity_roles_required() && id.roles.is_empty() {
                    return Err(ApiError::invalid(format!(
                        "{pre}requires roles to be included in provided effective identity"
                    )));
                }
                // *Considerations when generating an embed token*, "SSO and cloud RLS": the explicit SSO identity (identityBlob) must be provided too.
                if ds.kind == DatasetKind::AzureSqlDirectQuerySso
                    && !ds.roles.is_empty()
                    && !id.blob
                {
                    return Err(ApiError::invalid(format!(
                        "{pre}requires identityBlob: a dataset with SSO and row-level security needs the explicit SSO identity")));
                }
            }
        }
    }
    Ok(())
}

async fn generate(app: Shared, headers: HeaderMap, ep: Endpoint, body: Bytes) -> ApiResult {
    let c = caller(&app, &headers)?;
    let body = parse_body(&body, "requestParameters")?;
    let req = parse_request(&ep, &body)?;
    let st = app.state.lock().unwrap().clone();
    let plan = resolve(&st, &c, &ep, &req)?;
    check_identities(&c, &req, &plan)?;

    let issued = now();
    let default_min = st.settings.embed_token_default_minutes.max(1);
    let minutes = match req.lifetime {
        Some(n) if n > 0 => n.min(default_min),
        _ => default_min,
    };
    let seconds = match st.settings.embed_token_lifetime_seconds {
        Some(s) if s > 0 => s,
        _ => minutes * 60,
    };
    let exp = (issued + seconds).min(c.token_exp);
    let token_id = new_id();
    let payload = json!({
        "v": 1, "tokenId": token_id, "iat": issued, "exp": exp, "tenant": st.tenant.id,
        "caller": c.to_json(),
        "accessLevel": if ep == Endpoint::V2 { Value::Null } else { json!(req.access.name()) },
        "allowSaveAs": req.allow_save_as,
        "reports": plan.reports,
        "datasets": plan.datasets.iter().map(|(d, x)| json!({"id": d.id, "workspaceId": d.workspace_id, "xmlaPermissions": x})).collect::<Vec<_>>(),
        "dashboards": plan.dashboards, "tiles": plan.tiles, "targetWorkspaces": plan.targets,
        "createForDataset": plan.create_dataset,
        "identities": req.identities.iter().map(Ident::to_json).collect::<Vec<_>>(),
    });
    let token = crypto::embed_sign(&app.embed_key, &payload);
    ok_json(json!({
        "@odata.context": format!("{}/v1.0/myorg/$metadata#Microsoft.PowerBI.ServiceContract.Responses.TokenInfo", app.api_base),
        "token": token, "tokenId": token_id, "expiration": rfc3339(exp),
    }))
}

pub async fn v2(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    generate(app, headers, Endpoint::V2, body).await
}
pub async fn report(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((group, report)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    generate(app, headers, Endpoint::Report { group, report }, body).await
}
pub async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(group): Path<String>,
    body: Bytes,
) -> ApiResult {
    generate(app, headers, Endpoint::Create { group }, body).await
}
pub async fn dataset(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((group, dataset)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    generate(app, headers, Endpoint::Dataset { group, dataset }, body).await
}
pub async fn dashboard(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((group, dashboard)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    generate(app, headers, Endpoint::Dashboard { group, dashboard }, body).await
}
pub async fn tile(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((group, dashboard, tile)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    generate(
        app,
        headers,
        Endpoint::Tile {
            group,
            dashboard,
            tile,
        },
        body,
    )
    .await
}
