//! Power BI REST API (`/v1.0/myorg/...`): profiles, groups, group users, reports, datasets, dashboards, imports.
//! GenerateToken lives in `gentoken.rs`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use crate::app::{
    caller, new_id, now, ok_json, parse_body, rfc3339, ApiError, ApiResult, Caller, Principal,
    Shared,
};
use crate::state::*;

pub fn odata(app: &Shared, what: &str) -> String {
    format!("{}/v1.0/myorg/$metadata#{what}", app.api_base)
}

pub fn group_json(ws: &Workspace) -> Value {
    let mut v = json!({"id": ws.id, "isReadOnly": false, "isOnDedicatedCapacity": ws.is_on_dedicated_capacity,
                       "type": ws.kind, "name": ws.name});
    if let Some(c) = &ws.capacity_id {
        v["capacityId"] = json!(c);
    }
    v
}

pub fn report_embed_url(app: &Shared, r: &Report) -> String {
    let page = if r.report_type == ReportType::PaginatedReport {
        "rdlEmbed"
    } else {
        "reportEmbed"
    };
    format!(
        "{}/{page}?reportId={}&groupId={}",
        app.embed_base, r.id, r.workspace_id
    )
}

pub fn report_json(app: &Shared, st: &Fixture, r: &Report) -> Value {
    let mut v = json!({
        "id": r.id, "reportType": r.report_type, "name": r.name,
        "webUrl": format!("https://app.powerbi.com/groups/{}/reports/{}", r.workspace_id, r.id),
        "embedUrl": report_embed_url(app, r),
        "isFromPbix": r.report_type == ReportType::PowerBIReport, "isOwnedByMe": true,
        "users": [], "subscriptions": [],
    });
    if let Some(ds) = &r.dataset_id {
        v["datasetId"] = json!(ds);
        if let Some(d) = st.dataset(ds) {
            v["datasetWorkspaceId"] = json!(d.workspace_id);
        }
    }
    v
}

pub fn dataset_json(app: &Shared, d: &Dataset) -> Value {
    json!({
        "id": d.id, "name": d.name,
        "webUrl": format!("https://app.powerbi.com/groups/{}/datasets/{}", d.workspace_id, d.id),
        "addRowsAPIEnabled": false, "configuredBy": d.configured_by,
        "isRefreshable": matches!(d.kind, DatasetKind::Import),
        "isEffectiveIdentityRequired": d.is_effective_identity_required(),
        "isEffectiveIdentityRolesRequired": d.is_effective_identity_roles_required(),
        "isOnPremGatewayRequired": d.gateway.is_some(),
        "targetStorageMode": d.kind.storage_mode(),
        // Spelt as the swagger's Dataset defines them (capital first letters, unlike the other fields).
        "CreateReportEmbedURL": format!("{}/reportEmbed?config=create&datasetId={}&groupId={}", app.embed_base, d.id, d.workspace_id),
        "QnaEmbedURL": format!("{}/qnaEmbed?datasetId={}&groupId={}", app.embed_base, d.id, d.workspace_id),
        "upstreamDatasets": [], "users": [],
        "queryScaleOutSettings": {"autoSyncReadOnlyReplicas": true, "maxReadOnlyReplicas": 0},
    })
}

fn dashboard_json(app: &Shared, d: &Dashboard) -> Value {
    json!({"id": d.id, "displayName": d.display_name, "isReadOnly": false,
           "webUrl": format!("https://app.powerbi.com/groups/{}/dashboards/{}", d.workspace_id, d.id),
           "embedUrl": format!("{}/dashboardEmbed?dashboardId={}&groupId={}", app.embed_base, d.id, d.workspace_id),
           "users": [], "subscriptions": []})
}

fn tile_json(app: &Shared, d: &Dashboard, t: &Tile) -> Value {
    let mut v = json!({"id": t.id, "title": t.title, "rowSpan": 0, "colSpan": 0,
        "embedUrl": format!("{}/embed?dashboardId={}&tileId={}&groupId={}", app.embed_base, d.id, t.id, d.workspace_id),
        "embedData": "{}"});
    if let Some(r) = &t.report_id {
        v["reportId"] = json!(r);
    }
    if let Some(ds) = &t.dataset_id {
        v["datasetId"] = json!(ds);
    }
    v
}

/// The caller's access to a workspace; a workspace the caller does not belong to (or that does not exist)
/// answers 401 like the service.
pub fn group_access<'a>(
    st: &'a Fixture,
    c: &Caller,
    gid: &str,
) -> Result<(&'a Workspace, AccessRight), ApiError> {
    let ws = st.workspace(gid).ok_or_else(ApiError::not_authorized)?;
    match c.access(ws) {
        Some(a) if a > AccessRight::None => Ok((ws, a)),
        _ => Err(ApiError::not_authorized()),
    }
}

fn paginate(items: Vec<Value>, q: &HashMap<String, String>) -> Result<Vec<Value>, ApiError> {
    let skip = match q.get("$skip") {
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| ApiError::invalid("$skip must be a non-negative integer"))?,
        None => 0,
    };
    let top = match q.get("$top") {
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| ApiError::invalid("$top must be a positive integer"))?,
        None => usize::MAX,
    };
    Ok(items.into_iter().skip(skip).take(top).collect())
}

// ---------------------------------------------------------------------------------------------------------------
// Profiles

/// Profiles API: only a service principal (not a user, not a profile) may call it.
fn sp_caller(app: &Shared, headers: &HeaderMap) -> Result<(Caller, String), ApiError> {
    let c = caller(app, headers)?;
    match &c.principal {
        Principal::App { app_id, .. } if c.profile.is_none() => {
            let id = app_id.clone();
            Ok((c, id))
        }
        _ => Err(ApiError::not_authorized()),
    }
}

fn profile_json(p: &Profile) -> Value {
    json!({"id": p.id, "displayName": p.display_name})
}

fn display_name(body: &Value) -> Result<String, ApiError> {
    match body
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err(ApiError::pbi(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "displayName is required",
        )),
    }
}

/// The string literal of a `$filter` clause `<prefix>'<text>'`, unescaped as OData does (a quote inside the
/// literal is written twice: `name eq 'O''Brien'` is the name `O'Brien`). `None` for anything else, including
/// a lone quote inside the literal.
fn odata_string(filter: &str, prefix: &str) -> Option<String> {
    let lit = filter
        .strip_prefix(prefix)?
        .strip_prefix('\'')?
        .strip_suffix('\'')?;
    let mut out = String::with_capacity(lit.len());
    let mut chars = lit.chars();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

fn duplicate_profile(name: &str) -> ApiError {
    ApiError::pbi(
        StatusCode::CONFLICT,
        "PowerBIEntityAlreadyExists",
        format!("A profile with display name '{name}' already exists for this service principal"),
    )
}

pub async fn get_profiles(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (_, sp) = sp_caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let mut items: Vec<Value> = st
        .profiles
        .iter()
        .filter(|p| p.service_principal.eq_ignore_ascii_case(&sp))
        .map(profile_json)
        .collect();
    if let Some(f) = q.get("$filter") {
        // supports: displayName eq 'x'
        if let Some(name) = odata_string(f, "displayName eq ") {
            items.retain(|p| p["displayName"] == name.as_str());
        } else {
            return Err(ApiError::invalid(format!("Unsupported $filter '{f}'")));
        }
    }
    let items = paginate(items, &q)?;
    ok_json(json!({"@odata.context": odata(&app, "profiles"), "value": items}))
}

pub async fn create_profile(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, sp) = sp_caller(&app, &headers)?;
    let body = parse_body(&body, "CreateOrUpdateProfileRequest")?;
    let name = display_name(&body)?;
    let mut st = app.state.lock().unwrap();
    let mine: Vec<&Profile> = st
        .profiles
        .iter()
        .filter(|p| p.service_principal.eq_ignore_ascii_case(&sp))
        .collect();
    if mine
        .iter()
        .any(|p| p.display_name.eq_ignore_ascii_case(&name))
    {
        return Err(duplicate_profile(&name));
    }
    if mine.len() >= st.settings.max_profiles_per_service_principal {
        return Err(ApiError::pbi(
            StatusCode::BAD_REQUEST,
            "ProfileLimitExceeded",
            format!(
                "A service principal can own at most {} profiles",
                st.settings.max_profiles_per_service_principal
            ),
        ));
    }
    let p = Profile {
        id: new_id(),
        display_name: name,
        service_principal: sp,
    };
    let out = profile_json(&p);
    st.profiles.push(p);
    ok_json(out)
}

fn own_profile<'a>(st: &'a mut Fixture, sp: &str, id: &str) -> Result<&'a mut Profile, ApiError> {
    st.profiles
        .iter_mut()
        .find(|p| p.id.eq_ignore_ascii_case(id) && p.service_principal.eq_ignore_ascii_case(sp))
        .ok_or_else(|| ApiError::not_found("Profile", id))
}

pub async fn get_profile(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let (_, sp) = sp_caller(&app, &headers)?;
    let mut st = app.state.lock().unwrap();
    let p = own_profile(&mut st, &sp, &id)?;
    ok_json(profile_json(p))
}

pub async fn update_profile(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let (_, sp) = sp_caller(&app, &headers)?;
    let body = parse_body(&body, "CreateOrUpdateProfileRequest")?;
    let name = display_name(&body)?;
    let mut st = app.state.lock().unwrap();
    own_profile(&mut st, &sp, &id)?;
    if st.profiles.iter().any(|p| {
        p.service_principal.eq_ignore_ascii_case(&sp)
            && !p.id.eq_ignore_ascii_case(&id)
            && p.display_name.eq_ignore_ascii_case(&name)
    }) {
        return Err(duplicate_profile(&name));
    }
    let p = own_profile(&mut st, &sp, &id)?;
    p.display_name = name;
    // The swagger's Update Profile answers the profile (`ServicePrincipalProfile`), as its example shows.
    ok_json(profile_json(p))
}

pub async fn delete_profile(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let (_, sp) = sp_caller(&app, &headers)?;
    let mut st = app.state.lock().unwrap();
    own_profile(&mut st, &sp, &id)?;
    st.profiles.retain(|p| !p.id.eq_ignore_ascii_case(&id));
    for ws in &mut st.workspaces {
        ws.members.retain(|m| {
            !m.profile
                .as_ref()
                .is_some_and(|p| p.id.eq_ignore_ascii_case(&id))
        });
    }
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------------------------------
// Groups

pub async fn get_groups(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let mut items: Vec<&Workspace> = st
        .workspaces
        .iter()
        .filter(|w| {
            w.kind != WorkspaceType::PersonalGroup
                && c.access(w).is_some_and(|a| a > AccessRight::None)
        })
        .collect();
    if let Some(f) = q.get("$filter") {
        let f = f.trim();
        if let Some(n) = odata_string(f, "name eq ") {
            items.retain(|w| w.name == n);
        } else if let Some(n) = odata_string(f, "tolower(name) eq ") {
            items.retain(|w| w.name.to_lowercase() == n);
        } else if let Some(n) = f
            .strip_prefix("contains(name,")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| odata_string(r, ""))
        {
            items.retain(|w| w.name.contains(n.as_str()));
        } else {
            return Err(ApiError::invalid(format!("Unsupported $filter '{f}'")));
        }
    }
    let count = items.len();
    let items = paginate(items.into_iter().map(group_json).collect(), &q)?;
    ok_json(json!({"@odata.context": odata(&app, "groups"), "@odata.count": count, "value": items}))
}

pub async fn create_group(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let c = caller(&app, &headers)?;
    let body = parse_body(&body, "requestParameters")?;
    let name = match body.get("name").and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            return Err(ApiError::pbi(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "name is required",
            ))
        }
    };
    let mut st = app.state.lock().unwrap();
    if st
        .workspaces
        .iter()
        .any(|w| w.name.eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::pbi(
            StatusCode::CONFLICT,
            "PowerBIEntityAlreadyExists",
            format!("A workspace named '{name}' already exists"),
        ));
    }
    let member = match &c.principal {
        Principal::App { object_id, .. } => Member {
            principal_type: "App".into(),
            identifier: object_id.clone(),
            profile: c.profile.as_ref().map(|p| ProfileRef { id: p.id.clone() }),
            group_user_access_right: AccessRight::Admin,
        },
        Principal::User { upn, .. } => Member {
            principal_type: "User".into(),
            identifier: upn.clone(),
            profile: None,
            group_user_access_right: AccessRight::Admin,
        },
    };
    let ws = Workspace {
        id: new_id(),
        name,
        kind: WorkspaceType::Workspace,
        is_on_dedicated_capacity: false,
        capacity_id: None,
        members: vec![member],
    };
    let mut out = group_json(&ws);
    out["@odata.context"] = json!(odata(&app, "groups/$entity"));
    st.workspaces.push(ws);
    ok_json(out)
}

pub async fn get_group(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let mut out = group_json(ws);
    out["@odata.context"] = json!(odata(&app, "groups/$entity"));
    ok_json(out)
}

pub async fn delete_group(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let mut st = app.state.lock().unwrap();
    let (ws, a) = group_access(&st, &c, &g)?;
    if a != AccessRight::Admin {
        return Err(ApiError::not_authorized());
    }
    let id = ws.id.clone();
    st.workspaces.retain(|w| w.id != id);
    st.reports.retain(|r| r.workspace_id != id);
    st.datasets.retain(|d| d.workspace_id != id);
    st.dashboards.retain(|d| d.workspace_id != id);
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------------------------------
// Group users

fn member_json(st: &Fixture, m: &Member) -> Value {
    let mut v = json!({"identifier": m.identifier, "principalType": m.principal_type,
                       "groupUserAccessRight": m.group_user_access_right});
    if m.principal_type.eq_ignore_ascii_case("App") {
        if let Some(sp) = st.sp_by_any_id(&m.identifier) {
            v["displayName"] = json!(sp.display_name);
        }
    } else if m.principal_type.eq_ignore_ascii_case("User") {
        v["emailAddress"] = json!(m.identifier);
        if let Some(u) = st
            .user_by_upn(&m.identifier)
            .or_else(|| st.user_by_oid(&m.identifier))
        {
            v["displayName"] = json!(u.display_name);
        }
    }
    if let Some(p) = &m.profile {
        v["profile"] = match st.profile(&p.id) {
            Some(p) => json!({"id": p.id, "displayName": p.display_name}),
            None => json!({"id": p.id}),
        };
    }
    v
}

pub async fn get_group_users(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let items = paginate(ws.members.iter().map(|m| member_json(&st, m)).collect(), &q)?;
    ok_json(json!({"@odata.context": odata(&app, "groups/users"), "value": items}))
}

pub async fn add_group_user(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
    body: Bytes,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let body = parse_body(&body, "userDetails")?;
    let mut st = app.state.lock().unwrap();
    let (ws, a) = group_access(&st, &c, &g)?;
    if a != AccessRight::Admin {
        return Err(ApiError::not_authorized());
    }
    let ws_id = ws.id.clone();
    let right: AccessRight = match body
        .get("groupUserAccessRight")
        .cloned()
        .map(serde_json::from_value)
    {
        Some(Ok(r)) if r != AccessRight::None => r,
        _ => {
            return Err(ApiError::invalid(
                "groupUserAccessRight must be one of Admin, Member, Contributor, Viewer",
            ))
        }
    };
    let email = body.get("emailAddress").and_then(Value::as_str);
    let identifier = body
        .get("identifier")
        .and_then(Value::as_str)
        .or(email)
        .map(str::to_string);
    let Some(identifier) = identifier.filter(|s| !s.is_empty()) else {
        return Err(ApiError::invalid("identifier is required"));
    };
    let ptype = body
        .get("principalType")
        .and_then(Value::as_str)
        .unwrap_or(if email.is_some() { "User" } else { "" })
        .to_string();
    let profile = body
        .get("profile")
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let (ptype, identifier) = match ptype.to_ascii_lowercase().as_str() {
        "app" => {
            let Some(sp) = st.sp_by_any_id(&identifier) else {
                return Err(ApiError::invalid(format!(
                    "Service principal {identifier} was not found"
                )));
            };
            if let Some(pid) = &profile {
                if !st
                    .profile(pid)
                    .is_some_and(|p| p.service_principal.eq_ignore_ascii_case(&sp.app_id))
                {
                    return Err(ApiError::invalid(format!(
                        "Profile {pid} was not found for service principal {identifier}"
                    )));
                }
            }
            ("App".to_string(), sp.object_id.clone())
        }
        "user" => {
            if profile.is_some() {
                return Err(ApiError::invalid(
                    "profile is only valid with principalType App",
                ));
            }
            ("User".to_string(), identifier)
        }
        "group" => ("Group".to_string(), identifier),
        _ => {
            return Err(ApiError::invalid(
                "principalType must be one of User, Group, App",
            ))
        }
    };
    let m = Member {
        principal_type: ptype,
        identifier,
        profile: profile.map(|id| ProfileRef { id }),
        group_user_access_right: right,
    };
    let ws = st.workspace_mut(&ws_id).expect("exists");
    let same = |x: &Member| {
        x.principal_type.eq_ignore_ascii_case(&m.principal_type)
            && x.identifier.eq_ignore_ascii_case(&m.identifier)
            && x.profile.as_ref().map(|p| p.id.to_lowercase())
                == m.profile.as_ref().map(|p| p.id.to_lowercase())
    };
    if ws.members.iter().any(same) {
        return Err(ApiError::pbi(
            StatusCode::BAD_REQUEST,
            "AddingAlreadyExistsGroupUserNotSupportedError",
            format!("{} already has access to the workspace", m.identifier),
        ));
    }
    ws.members.push(m);
    Ok(StatusCode::OK.into_response())
}

pub async fn delete_group_user(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((g, user)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let mut st = app.state.lock().unwrap();
    let (ws, a) = group_access(&st, &c, &g)?;
    if a != AccessRight::Admin {
        return Err(ApiError::not_authorized());
    }
    let ws_id = ws.id.clone();
    // an App identifier may be given as app id or object id
    let sp_oid = st.sp_by_any_id(&user).map(|s| s.object_id.clone());
    let profile = q.get("profileId").map(|s| s.to_lowercase());
    let ws = st.workspace_mut(&ws_id).expect("exists");
    let before = ws.members.len();
    ws.members.retain(|m| {
        let id_match = m.identifier.eq_ignore_ascii_case(&user)
            || sp_oid
                .as_ref()
                .is_some_and(|o| m.identifier.eq_ignore_ascii_case(o));
        !(id_match && m.profile.as_ref().map(|p| p.id.to_lowercase()) == profile)
    });
    if ws.members.len() == before {
        return Err(ApiError::not_found("User", &user));
    }
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------------------------------
// Reports, datasets, dashboards

pub async fn get_reports(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let items: Vec<Value> = st
        .reports
        .iter()
        .filter(|r| r.workspace_id == ws.id && !st.publishing(&r.id))
        .map(|r| report_json(&app, &st, r))
        .collect();
    ok_json(json!({"@odata.context": odata(&app, "reports"), "value": items}))
}

pub async fn get_report(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((g, r)): Path<(String, String)>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let rep = st
        .report(&r)
        .filter(|x| x.workspace_id == ws.id)
        .ok_or_else(|| ApiError::not_found("Report", &r))?;
    let mut v = report_json(&app, &st, rep);
    v["@odata.context"] = json!(odata(&app, "reports/$entity"));
    ok_json(v)
}

pub async fn get_datasets(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let items: Vec<Value> = st
        .datasets
        .iter()
        .filter(|d| d.workspace_id == ws.id && !st.publishing(&d.id))
        .map(|d| dataset_json(&app, d))
        .collect();
    ok_json(json!({"@odata.context": odata(&app, "datasets"), "value": items}))
}

fn dataset_in<'a>(st: &'a Fixture, ws: &Workspace, d: &str) -> Result<&'a Dataset, ApiError> {
    st.dataset(d)
        .filter(|x| x.workspace_id == ws.id)
        .ok_or_else(|| ApiError::not_found("Dataset", d))
}

pub async fn get_dataset(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((g, d)): Path<(String, String)>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let mut v = dataset_json(&app, dataset_in(&st, ws, &d)?);
    v["@odata.context"] = json!(odata(&app, "datasets/$entity"));
    ok_json(v)
}

pub async fn get_datasources(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((g, d)): Path<(String, String)>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let ds = dataset_in(&st, ws, &d)?;
    let items: Vec<Value> = ds
        .datasources
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if let (Some(gw), Value::Object(o)) = (&ds.gateway, &mut s) {
                o.entry("gatewayId").or_insert(json!(gw.id));
                o.entry("datasourceId").or_insert(json!(gw.datasource_id));
            }
            s
        })
        .collect();
    ok_json(json!({"@odata.context": odata(&app, "datasources"), "value": items}))
}

pub async fn get_dashboards(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let items: Vec<Value> = st
        .dashboards
        .iter()
        .filter(|d| d.workspace_id == ws.id)
        .map(|d| dashboard_json(&app, d))
        .collect();
    ok_json(json!({"@odata.context": odata(&app, "dashboards"), "value": items}))
}

pub async fn get_tiles(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((g, d)): Path<(String, String)>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let dash = st
        .dashboard(&d)
        .filter(|x| x.workspace_id == ws.id)
        .ok_or_else(|| ApiError::not_found("Dashboard", &d))?;
    let items: Vec<Value> = dash
        .tiles
        .iter()
        .map(|t| tile_json(&app, dash, t))
        .collect();
    ok_json(json!({"@odata.context": odata(&app, "tiles"), "value": items}))
}

// ---------------------------------------------------------------------------------------------------------------
// Imports

/// Extracts the uploaded file from a multipart/form-data body (first part), or takes the raw body.
fn upload_bytes(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = ct
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string());
    let Some(boundary) = boundary.filter(|_| ct.to_ascii_lowercase().starts_with("multipart/"))
    else {
        return body.to_vec();
    };
    let delim = format!("--{boundary}");
    let text = body;
    let find = |hay: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let Some(start) = find(text, delim.as_bytes(), 0) else {
        return Vec::new();
    };
    let after = start + delim.len();
    let Some(hdr_end) = find(text, b"\r\n\r\n", after) else {
        return Vec::new();
    };
    let content_start = hdr_end + 4;
    let end = find(text, format!("\r\n{delim}").as_bytes(), content_start).unwrap_or(text.len());
    text[content_start..end].to_vec()
}

pub async fn post_import(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let mut st = app.state.lock().unwrap();
    let (ws, a) = group_access(&st, &c, &g)?;
    if a < AccessRight::Contributor {
        return Err(ApiError::not_authorized());
    }
    let ws_id = ws.id.clone();
    let Some(display) = q.get("datasetDisplayName").filter(|s| !s.trim().is_empty()) else {
        return Err(ApiError::invalid("datasetDisplayName is required"));
    };
    let name = display
        .trim_end_matches(".pbix")
        .trim_end_matches(".json")
        .trim_end_matches(".rdl")
        .to_string();
    let conflict = q
        .get("nameConflict")
        .map(String::as_str)
        .unwrap_or("Ignore");
    if ![
        "Ignore",
        "Abort",
        "Overwrite",
        "CreateOrOverwrite",
        "GenerateUniqueName",
    ]
    .contains(&conflict)
    {
        return Err(ApiError::invalid(format!(
            "nameConflict '{conflict}' is not supported"
        )));
    }
    let file = upload_bytes(&headers, &body);
    let corrupted =
        |why: String| {
            ApiError::pbi(StatusCode::BAD_REQUEST, "RequestedFileIsEncryptedOrCorrupted",
        format!("The uploaded file is not a valid pbix (emulator format embedgate-pbix/1): {why}"))
        };
    let pbix: Value = serde_json::from_slice(&file).map_err(|e| corrupted(e.to_string()))?;
    if pbix["format"] != "embedgate-pbix/1" {
        return Err(corrupted("missing \"format\": \"embedgate-pbix/1\"".into()));
    }
    let paginated = pbix["reportType"] == "PaginatedReport";
    let existing_ds = st
        .datasets
        .iter()
        .position(|d| d.workspace_id == ws_id && d.name == name);
    let existing_rep = st
        .reports
        .iter()
        .position(|r| r.workspace_id == ws_id && r.name == name);
    let exists = existing_ds.is_some() || existing_rep.is_some();
    let mut final_name = name.clone();
    match conflict {
        "Abort" if exists => {
            return Err(ApiError::pbi(
                StatusCode::CONFLICT,
                "DuplicatePackageNotFoundError",
                format!("A dataset or report named '{name}' already exists in the workspace"),
            ));
        }
        "Overwrite" if !exists => {
            return Err(ApiError::pbi(
                StatusCode::BAD_REQUEST,
                "OverwriteNotAllowedNoExistingItem",
                format!("No dataset or report named '{name}' exists to overwrite"),
            ));
        }
        "GenerateUniqueName" if exists => {
            let mut n = 2;
            while st
                .datasets
                .iter()
                .any(|d| d.workspace_id == ws_id && d.name == format!("{name} ({n})"))
            {
                n += 1;
            }
            final_name = format!("{name} ({n})");
        }
        _ => {}
    }
    let overwrite = matches!(conflict, "Overwrite" | "CreateOrOverwrite") && exists;
    let ds_spec = pbix.get("dataset").cloned().unwrap_or(json!({}));
    let mut dataset_ids = Vec::new();
    let mut dataset_id = None;
    if !paginated || pbix.get("dataset").is_some() {
        let mut spec = ds_spec.as_object().cloned().unwrap_or_default();
        let id = match (overwrite, existing_ds) {
            (true, Some(i)) => st.datasets[i].id.clone(),
            _ => new_id(),
        };
        spec.insert("id".into(), json!(id));
        spec.insert("workspaceId".into(), json!(ws_id));
        spec.insert("name".into(), json!(final_name));
        spec.entry("kind").or_insert(json!("Import"));
        spec.entry("configuredBy")
            .or_insert(json!(match &c.principal {
                Principal::App { app_id, .. } => app_id.clone(),
                Principal::User { upn, .. } => upn.clone(),
            }));
        let d: Dataset = serde_json::from_value(Value::Object(spec))
            .map_err(|e| corrupted(format!("dataset: {e}")))?;
        for r in &d.roles {
            crate::rls::parse(&r.filter).map_err(|e| corrupted(format!("role {}: {e}", r.name)))?;
        }
        match (overwrite, existing_ds) {
            (true, Some(i)) => st.datasets[i] = d,
            _ => st.datasets.push(d),
        }
        dataset_ids.push(id.clone());
        dataset_id = Some(id);
    }
    let mut report_ids = Vec::new();
    if q.get("skipReport").map(String::as_str) != Some("true") {
        let mut spec: Map<String, Value> = pbix
            .get("report")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let id = match (overwrite, existing_rep) {
            (true, Some(i)) => st.reports[i].id.clone(),
            _ => new_id(),
        };
        spec.insert("id".into(), json!(id));
        spec.insert("workspaceId".into(), json!(ws_id));
        spec.insert("name".into(), json!(final_name));
        spec.insert(
            "reportType".into(),
            json!(if paginated {
                "PaginatedReport"
            } else {
                "PowerBIReport"
            }),
        );
        if let Some(d) = &dataset_id {
            spec.insert("datasetId".into(), json!(d));
        }
        let r: Report = serde_json::from_value(Value::Object(spec))
            .map_err(|e| corrupted(format!("report: {e}")))?;
        match (overwrite, existing_rep) {
            (true, Some(i)) => st.reports[i] = r,
            _ => st.reports.push(r),
        }
        report_ids.push(id);
    }
    let imp = Import {
        id: new_id(),
        workspace_id: ws_id,
        name: final_name,
        created_date_time: rfc3339(now()),
        report_ids,
        dataset_ids,
        ready_at_ms: crate::app::now_ms() + st.settings.import_publish_ms,
    };
    let id = imp.id.clone();
    st.imports.push(imp);
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"id": id}))).into_response())
}

fn import_json(app: &Shared, st: &Fixture, i: &Import) -> Value {
    let reports: Vec<Value> = i
        .report_ids
        .iter()
        .filter_map(|r| st.report(r))
        .map(|r| report_json(app, st, r))
        .collect();
    let datasets: Vec<Value> = i
        .dataset_ids
        .iter()
        .filter_map(|d| st.dataset(d))
        .map(|d| dataset_json(app, d))
        .collect();
    if i.publishing() {
        return json!({"id": i.id, "importState": "Publishing", "createdDateTime": i.created_date_time,
               "updatedDateTime": i.created_date_time, "name": i.name, "connectionType": "import", "source": "Upload",
               "reports": [], "datasets": []});
    }
    json!({"id": i.id, "importState": "Succeeded", "createdDateTime": i.created_date_time,
           "updatedDateTime": i.created_date_time, "name": i.name, "connectionType": "import", "source": "Upload",
           "reports": reports, "datasets": datasets})
}

pub async fn get_import(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((g, id)): Path<(String, String)>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let imp = st
        .imports
        .iter()
        .find(|i| i.id.eq_ignore_ascii_case(&id) && i.workspace_id == ws.id)
        .ok_or_else(|| ApiError::not_found("Import", &id))?;
    let mut v = import_json(&app, &st, imp);
    v["@odata.context"] = json!(odata(&app, "imports/$entity"));
    ok_json(v)
}

pub async fn get_imports(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult {
    let c = caller(&app, &headers)?;
    let st = app.state.lock().unwrap();
    let (ws, _) = group_access(&st, &c, &g)?;
    let items: Vec<Value> = st
        .imports
        .iter()
        .filter(|i| i.workspace_id == ws.id)
        .map(|i| import_json(&app, &st, i))
        .collect();
    ok_json(json!({"@odata.context": odata(&app, "imports"), "value": items}))
}

pub fn unknown_route() -> Response {
    ApiError::pbi(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested route is not emulated",
    )
    .into_response()
}
