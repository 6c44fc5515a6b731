//! Shared application state, error bodies in the services' formats, caller resolution, and the call-count /
//! fault-injection middleware.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::crypto::{self, IdpKey};
use crate::state::{AccessRight, Fixture, Member, Profile, Workspace};

pub type Shared = Arc<App>;

pub struct App {
    pub state: Mutex<Fixture>,
    pub entra_key: [u8; 32],
    pub embed_key: [u8; 32],
    /// `http://127.0.0.1:port` of the API listener.
    pub api_base: String,
    /// `https://<embed-host>:<port>` of the embed listener.
    pub embed_base: String,
    pub cert_pem: String,
    pub faults: Mutex<Vec<FaultEntry>>,
    pub calls: Mutex<BTreeMap<String, u64>>,
    pub call_log: Mutex<VecDeque<Value>>,
    /// The fixed-rate throttle's window: (unix second, Power BI calls in it).
    pub throttle: Mutex<(u64, u32)>,
    /// Portal IdP keys, newest last.
    pub idp_keys: Arc<tokio::sync::RwLock<Vec<IdpKey>>>,
    /// Whether the initial RS256 key has been made (lazily, see `admin::ensure_rsa`).
    pub idp_rsa_made: std::sync::atomic::AtomicBool,
    /// Authorization codes of the PKCE sign-in, until used or expired.
    pub idp_codes: crate::idp::Codes,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn rfc3339(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// An error answer: status, JSON body and optional extra headers.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        ApiError {
            status,
            body,
            headers: Vec::new(),
        }
    }
    /// `{"error":{"code":..,"message":..}}`, the Power BI REST error shape.
    pub fn pbi(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self::new(
            status,
            json!({"error": {"code": code, "message": message.into()}}),
        )
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::pbi(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }
    /// 401 as the service sends it for a missing/invalid token or an object the caller may not reach.
    pub fn not_authorized() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"code": "PowerBINotAuthorizedException",
                   "pbi.error": {"code": "PowerBINotAuthorizedException", "parameters": {}, "details": [],
                                  "exceptionCulprit": 1}}}),
        );
        e.headers.push((
            "www-authenticate",
            "Bearer realm=\"\", authorization_uri=\"\", error=\"invalid_token\"".into(),
        ));
        e
    }
    pub fn token_expired() -> Self {
        Self::pbi(
            StatusCode::FORBIDDEN,
            "TokenExpired",
            "Access token has expired, resubmit with a new access token",
        )
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::pbi(
            StatusCode::NOT_FOUND,
            "PowerBIEntityNotFound",
            format!("{what} {id} was not found"),
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::pbi(StatusCode::FORBIDDEN, "Forbidden", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body)).into_response();
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                r.headers_mut().insert(k, v);
            }
        }
        r
    }
}

pub type ApiResult = Result<Response, ApiError>;

pub fn ok_json(v: Value) -> ApiResult {
    Ok(axum::Json(v).into_response())
}

/// Parses a JSON request body the way the service does: an unparsable body is a 400 BadRequest.
pub fn parse_body(body: &[u8], target: &str) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "BadRequest", "message": "Bad Request",
                   "details": [{"message": format!("{target} is required"), "target": target}]}}),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "BadRequest", "message": "Bad Request",
                   "details": [{"message": "A JSON object was expected", "target": target}]}}),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "BadRequest", "message": "Bad Request",
                   "details": [{"message": format!("Invalid JSON: {e}"), "target": target}]}}),
        )),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Callers

#[derive(Debug, Clone)]
pub enum Principal {
    App {
        app_id: String,
        object_id: String,
        name: String,
    },
    User {
        upn: String,
        object_id: String,
        name: String,
    },
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub profile: Option<Profile>,
    /// Expiry (unix seconds) of the Entra token used for the call.
    pub token_exp: i64,
}

impl Caller {
    pub fn is_app(&self) -> bool {
        matches!(self.principal, Principal::App { .. })
    }
    /// Does this workspace membership row name the caller (a profile only matches rows for that profile)?
    pub fn matches(&self, m: &Member) -> bool {
        match &self.principal {
            Principal::App {
                app_id, object_id, ..
            } => {
                m.principal_type.eq_ignore_ascii_case("App")
                    && (m.identifier.eq_ignore_ascii_case(object_id)
                        || m.identifier.eq_ignore_ascii_case(app_id))
                    && match (&self.profile, &m.profile) {
                        (None, None) => true,
                        (Some(p), Some(r)) => p.id.eq_ignore_ascii_case(&r.id),
                        _ => false,
                    }
            }
            Principal::User { upn, object_id, .. } => {
                self.profile.is_none()
                    && m.principal_type.eq_ignore_ascii_case("User")
                    && (m.identifier.eq_ignore_ascii_case(upn)
                        || m.identifier.eq_ignore_ascii_case(object_id))
            }
        }
    }
    /// Highest access right the caller holds on the workspace.
    pub fn access(&self, ws: &Workspace) -> Option<AccessRight> {
        ws.members
            .iter()
            .filter(|m| self.matches(m))
            .map(|m| m.group_user_access_right)
            .max()
    }
    /// The principal name Power BI compares an Analysis Services effective identity with: the UPN of a master
    /// user, the object id of a service principal.
    pub fn principal_name(&self) -> &str {
        match &self.principal {
            Principal::App { object_id, .. } => object_id,
            Principal::User { upn, .. } => upn,
        }
    }
    /// Ids that may appear in gateway permission lists.
    pub fn ids(&self) -> Vec<&str> {
        match &self.principal {
            Principal::App {
                app_id, object_id, ..
            } => vec![app_id, object_id],
            Principal::User { upn, object_id, .. } => vec![upn, object_id],
        }
    }
    pub fn to_json(&self) -> Value {
        let mut v = match &self.principal {
            Principal::App {
                app_id,
                object_id,
                name,
            } => {
                json!({"type": "App", "appId": app_id, "objectId": object_id, "name": name})
            }
            Principal::User {
                upn,
                object_id,
                name,
            } => {
                json!({"type": "User", "upn": upn, "objectId": object_id, "name": name})
            }
        };
        if let Some(p) = &self.profile {
            v["profileId"] = json!(p.id);
            v["profileName"] = json!(p.display_name);
        }
        v
    }
}

pub const PBI_AUDIENCE: &str = "https://analysis.windows.net/powerbi/api";

/// Resolves the caller of a Power BI REST call from its bearer token and `X-PowerBI-Profile-Id` header.
pub fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => return Err(ApiError::not_authorized()),
    };
    let claims =
        crypto::hs256_verify(&app.entra_key, token).map_err(|_| ApiError::not_authorized())?;
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= now() {
        return Err(ApiError::token_expired());
    }
    let st = app.state.lock().unwrap();
    if claims["aud"] != PBI_AUDIENCE
        || !claims["tid"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(&st.tenant.id))
    {
        return Err(ApiError::not_authorized());
    }
    let principal = match claims["idtyp"].as_str() {
        Some("app") => {
            let sp = st
                .sp_by_app_id(claims["appid"].as_str().unwrap_or(""))
                .ok_or_else(ApiError::not_authorized)?;
            Principal::App {
                app_id: sp.app_id.clone(),
                object_id: sp.object_id.clone(),
                name: sp.display_name.clone(),
            }
        }
        Some("user") => {
            let u = st
                .user_by_oid(claims["oid"].as_str().unwrap_or(""))
                .ok_or_else(ApiError::not_authorized)?;
            Principal::User {
                upn: u.upn.clone(),
                object_id: u.object_id.clone(),
                name: u.display_name.clone(),
            }
        }
        _ => return Err(ApiError::not_authorized()),
    };
    let values: Vec<&HeaderValue> = headers.get_all("x-powerbi-profile-id").iter().collect();
    let profile = match values.as_slice() {
        [] => None,
        [one] => {
            let raw = one.to_str().unwrap_or("").trim();
            if raw.contains(',') {
                return Err(ApiError::invalid(
                    "The X-PowerBI-Profile-Id header must be sent at most once",
                ));
            }
            if uuid::Uuid::parse_str(raw).is_err() {
                return Err(ApiError::invalid(format!(
                    "X-PowerBI-Profile-Id '{raw}' is not a valid profile id"
                )));
            }
            let Principal::App { app_id, .. } = &principal else {
                // Profiles belong to service principals; a user cannot act as one.
                return Err(ApiError::not_authorized());
            };
            match st.profile(raw) {
                Some(p) if p.service_principal.eq_ignore_ascii_case(app_id) => Some(p.clone()),
                _ => {
                    return Err(ApiError::pbi(
                        StatusCode::NOT_FOUND,
                        "PowerBIEntityNotFound",
                        format!("Profile {raw} was not found"),
                    ))
                }
            }
        }
        _ => {
            return Err(ApiError::invalid(
                "The X-PowerBI-Profile-Id header must be sent at most once",
            ))
        }
    };
    Ok(Caller {
        principal,
        profile,
        token_exp: exp,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Route names, call counts and fault injection

/// The documented name of a route (README.md lists them), or `None` for admin routes and unknown paths.
pub fn route_name(method: &str, path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let m = method;
    Some(match (m, l.as_slice()) {
        ("POST", [_, "oauth2", "v2.0", "token"]) => "entra.token",
        ("GET", [_, "v2.0", ".well-known", "openid-configuration"]) => "entra.openidConfiguration",
        ("GET", ["common", "discovery", "instance"]) => "entra.instanceDiscovery",
        ("GET", ["reportembed"]) => "embed.reportEmbed",
        ("GET", ["rdlembed"]) => "embed.rdlEmbed",
        ("POST", ["__embed", "load"]) => "embed.load",
        (_, ["__emulator", ..]) => return None,
        ("POST", ["v1.0", "myorg", "generatetoken"]) => "powerbi.generateToken",
        ("GET", ["v1.0", "myorg", "profiles"]) => "powerbi.getProfiles",
        ("POST", ["v1.0", "myorg", "profiles"]) => "powerbi.createProfile",
        ("GET", ["v1.0", "myorg", "profiles", _]) => "powerbi.getProfile",
        ("PUT", ["v1.0", "myorg", "profiles", _]) => "powerbi.updateProfile",
        ("DELETE", ["v1.0", "myorg", "profiles", _]) => "powerbi.deleteProfile",
        ("GET", ["v1.0", "myorg", "groups"]) => "powerbi.getGroups",
        ("POST", ["v1.0", "myorg", "groups"]) => "powerbi.createGroup",
        ("GET", ["v1.0", "myorg", "groups", _]) => "powerbi.getGroup",
        ("DELETE", ["v1.0", "myorg", "groups", _]) => "powerbi.deleteGroup",
        ("GET", ["v1.0", "myorg", "groups", _, "users"]) => "powerbi.getGroupUsers",
        ("POST", ["v1.0", "myorg", "groups", _, "users"]) => "powerbi.addGroupUser",
        ("DELETE", ["v1.0", "myorg", "groups", _, "users", _]) => "powerbi.deleteGroupUser",
        ("GET", ["v1.0", "myorg", "groups", _, "reports"]) => "powerbi.getReports",
        ("POST", ["v1.0", "myorg", "groups", _, "reports", "generatetoken"]) => {
            "powerbi.generateTokenForCreate"
        }
        ("GET", ["v1.0", "myorg", "groups", _, "reports", _]) => "powerbi.getReport",
        ("POST", ["v1.0", "myorg", "groups", _, "reports", _, "generatetoken"]) => {
            "powerbi.generateTokenForReport"
        }
        ("GET", ["v1.0", "myorg", "groups", _, "datasets"]) => "powerbi.getDatasets",
        ("GET", ["v1.0", "myorg", "groups", _, "datasets", _]) => "powerbi.getDataset",
        ("GET", ["v1.0", "myorg", "groups", _, "datasets", _, "datasources"]) => {
            "powerbi.getDatasources"
        }
        ("POST", ["v1.0", "myorg", "groups", _, "datasets", _, "generatetoken"]) => {
            "powerbi.generateTokenForDataset"
        }
        ("GET", ["v1.0", "myorg", "groups", _, "dashboards"]) => "powerbi.getDashboards",
        ("GET", ["v1.0", "myorg", "groups", _, "dashboards", _, "tiles"]) => "powerbi.getTiles",
        ("POST", ["v1.0", "myorg", "groups", _, "dashboards", _, "generatetoken"]) => {
            "powerbi.generateTokenForDashboard"
        }
        ("POST", ["v1.0", "myorg", "groups", _, "dashboards", _, "tiles", _, "generatetoken"]) => {
            "powerbi.generateTokenForTile"
        }
        ("GET", ["v1.0", "myorg", "groups", _, "imports"]) => "powerbi.getImports",
        ("POST", ["v1.0", "myorg", "groups", _, "imports"]) => "powerbi.postImport",
        ("GET", ["v1.0", "myorg", "groups", _, "imports", _]) => "powerbi.getImport",
        _ => return None,
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub hang_ms: Option<u64>,
    #[serde(default)]
    pub garbage: bool,
    /// The call takes effect, then its answer is replaced by `status`: a lost answer, as when the caller
    /// crashes right after a create (migration tests).
    #[serde(default)]
    pub after_handler: bool,
}

#[derive(Debug, Clone)]
pub struct FaultEntry {
    /// A route name (`powerbi.generateToken`), or a path pattern where `*` matches one segment and a trailing
    /// `**` any rest (`/v1.0/myorg/groups/*/reports/**`), optionally prefixed by a method (`POST /v1.0/...`).
    pub route: String,
    pub remaining: u64,
    /// Matching calls let through before the fault applies ("the third createGroup fails").
    pub skip: u64,
    pub fault: Fault,
}

fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (i, seg) in p.iter().enumerate() {
        if *seg == "**" {
            return true;
        }
        match s.get(i) {
            Some(x) if *seg == "*" || seg.eq_ignore_ascii_case(x) => {}
            _ => return false,
        }
    }
    p.len() == s.len()
}

impl FaultEntry {
    fn matches(&self, method: &str, path: &str, name: Option<&str>) -> bool {
        if name.is_some_and(|n| n == self.route) {
            return true;
        }
        let (m, pat) = match self.route.split_once(' ') {
            Some((m, p)) => (Some(m), p.trim()),
            None => (None, self.route.as_str()),
        };
        if !pat.starts_with('/') {
            return false;
        }
        m.is_none_or(|m| m.eq_ignore_ascii_case(method)) && glob_match(pat, path)
    }
}

/// Middleware on both listeners: counts calls per route name and applies injected faults.
pub async fn count_and_fault(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let name = route_name(&method, &path);
    if path.starts_with("/__emulator/") {
        return next.run(req).await;
    }
    let key = name
        .map(str::to_string)
        .unwrap_or_else(|| format!("other:{method} {path}"));
    *app.calls.lock().unwrap().entry(key.clone()).or_insert(0) += 1;
    let profile = req
        .headers()
        .get("x-powerbi-profile-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let limit = app.state.lock().unwrap().settings.power_bi_calls_per_second;
    let throttled = limit > 0 && name.is_some_and(|n| n.starts_with("powerbi.")) && {
        let mut w = app.throttle.lock().unwrap();
        let second = now_ms() / 1000;
        if w.0 != second {
            *w = (second, 0);
        }
        w.1 += 1;
        w.1 > limit
    };
    let fault = if throttled {
        Some(Fault {
            status: Some(429),
            retry_after: Some(1),
            ..Default::default()
        })
    } else {
        let mut faults = app.faults.lock().unwrap();
        let pos = faults
            .iter()
            .position(|f| f.remaining > 0 && f.matches(&method, &path, name));
        let pos = pos.filter(|&i| {
            if faults[i].skip > 0 {
                faults[i].skip -= 1;
                return false;
            }
            true
        });
        pos.map(|i| {
            faults[i].remaining -= 1;
            let f = faults[i].fault.clone();
            if faults[i].remaining == 0 {
                faults.remove(i);
            }
            f
        })
    };
    let mut injected = Value::Null;
    let resp = match fault {
        Some(f) => {
            injected = json!({"status": f.status, "retryAfter": f.retry_after, "hangMs": f.hang_ms, "garbage": f.garbage, "afterHandler": f.after_handler});
            if let Some(ms) = f.hang_ms {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            if f.garbage {
                Response::builder()
                    .status(200)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(Body::from(
                        "{\"value\": [ {\"id\": \"garbage\", <<not json>>",
                    ))
                    .unwrap()
            } else if let (true, Some(status)) = (f.after_handler, f.status) {
                let _ = next.run(req).await;
                fault_response(status, f.retry_after, name.unwrap_or(""))
            } else if let Some(status) = f.status {
                fault_response(status, f.retry_after, name.unwrap_or(""))
            } else {
                next.run(req).await
            }
        }
        None => next.run(req).await,
    };
    let mut log = app.call_log.lock().unwrap();
    if log.len() >= 1000 {
        log.pop_front();
    }
    log.push_back(
        json!({"route": key, "method": method, "path": path, "status": resp.status().as_u16(),
                         "profileId": profile, "fault": injected, "at": rfc3339(now())}),
    );
    resp
}

fn fault_response(status: u16, retry_after: Option<u64>, name: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if name.starts_with("entra.") {
        let (err, desc) = match status.as_u16() {
            429 => ("temporarily_unavailable", "AADSTS50196: The server terminated an operation because it encountered a client request loop."),
            503 => ("temporarily_unavailable", "AADSTS90033: A transient error has occurred. Please try again."),
            _ => ("server_error", "AADSTS90100: An unexpected server error occurred."),
        };
        json!({"error": err, "error_description": desc, "error_codes": [], "timestamp": rfc3339(now())})
    } else {
        let code = match status.as_u16() {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            _ => "InternalServerError",
        };
        json!({"error": {"code": code, "message": format!("Injected fault: HTTP {}", status.as_u16())}})
    };
    let mut r = (status, axum::Json(body)).into_response();
    if let Some(s) = retry_after {
        r.headers_mut().insert("retry-after", HeaderValue::from(s));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_globs() {
        assert_eq!(
            route_name("POST", "/t/oauth2/v2.0/token"),
            Some("entra.token")
        );
        assert_eq!(
            route_name("POST", "/v1.0/myorg/GenerateToken"),
            Some("powerbi.generateToken")
        );
        assert_eq!(
            route_name("POST", "/v1.0/myorg/groups/g/reports/r/GenerateToken"),
            Some("powerbi.generateTokenForReport")
        );
        assert_eq!(
            route_name("POST", "/v1.0/myorg/groups/g/reports/GenerateToken"),
            Some("powerbi.generateTokenForCreate")
        );
        assert_eq!(route_name("GET", "/__emulator/calls"), None);
        assert!(glob_match(
            "/v1.0/myorg/groups/*/reports/**",
            "/v1.0/myorg/groups/a/reports/b/GenerateToken"
        ));
        assert!(glob_match("/v1.0/myorg/groups/*", "/v1.0/myorg/groups/a"));
        assert!(!glob_match(
            "/v1.0/myorg/groups/*",
            "/v1.0/myorg/groups/a/reports"
        ));
    }
}
