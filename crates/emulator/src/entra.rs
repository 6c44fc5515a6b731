//! Entra ID (Azure AD) v2.0 token endpoint: client credentials for service principals, ROPC (password grant) for
//! master users. Errors follow Entra's JSON (`error`, `error_description` with an AADSTS code, `error_codes`, ...).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::app::{new_id, now, Shared, PBI_AUDIENCE};
use crate::crypto;
use crate::state::Fixture;

fn entra_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let trace = new_id();
    let corr = new_id();
    let ts = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        ts.year(),
        u8::from(ts.month()),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second()
    );
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {stamp}"),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, axum::Json(body)).into_response()
}

/// Signs an access token for Power BI. `subject` is ("app", appId, objectId) or ("user", upn, objectId).
pub fn mint_access_token(
    key: &[u8],
    st: &Fixture,
    kind: &str,
    id: &str,
    oid: &str,
    lifetime: i64,
) -> (String, i64) {
    let iat = now();
    let exp = iat + lifetime;
    let mut claims = json!({
        "aud": PBI_AUDIENCE,
        "iss": format!("https://sts.windows.net/{}/", st.tenant.id),
        "iat": iat, "nbf": iat.min(exp), "exp": exp,
        "tid": st.tenant.id, "oid": oid, "sub": oid, "idtyp": kind, "ver": "1.0",
        "uti": crypto::b64(&crypto::random_bytes::<12>()),
    });
    if kind == "app" {
        claims["appid"] = json!(id);
        claims["roles"] = json!(["Tenant.ReadWrite.All"]);
    } else {
        claims["upn"] = json!(id);
        claims["unique_name"] = json!(id);
        claims["scp"] = json!(
            "Dataset.ReadWrite.All Report.ReadWrite.All Workspace.ReadWrite.All Content.Create"
        );
    }
    (crypto::hs256_sign(key, "emulator-entra", &claims), exp)
}

fn token_response(token: String, lifetime: i64) -> Response {
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }))
    .into_response()
}

/// Is the requested scope the Power BI resource? Returns Err(message) for a wrong scope.
fn check_scope(
    scope: &str,
    client_credentials: bool,
) -> Result<(), (StatusCode, &'static str, u32, String)> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let resource_scopes: Vec<&&str> = scopes
        .iter()
        .filter(|s| !matches!(**s, "openid" | "profile" | "offline_access" | "email"))
        .collect();
    if resource_scopes.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.".into(),
        ));
    }
    for s in resource_scopes {
        let (resource, perm) = match s.rsplit_once('/') {
            Some((r, p)) if r.contains("://") => (r, p),
            _ => {
                return Err((StatusCode::BAD_REQUEST, "invalid_scope", 70011,
                            format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid.")))
            }
        };
        if !resource.eq_ignore_ascii_case(PBI_AUDIENCE) {
            return Err((StatusCode::BAD_REQUEST, "invalid_scope", 500011,
                        format!("The resource principal named {resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.")));
        }
        if client_credentials && perm != ".default" {
            return Err((StatusCode::BAD_REQUEST, "invalid_scope", 1002012,
                        format!("The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")));
        }
    }
    Ok(())
}

pub async fn token(
    State(app): State<Shared>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let st = app.state.lock().unwrap().clone();
    let tenant_ok = tenant.eq_ignore_ascii_case(&st.tenant.id)
        || (!st.tenant.domain.is_empty() && tenant.eq_ignore_ascii_case(&st.tenant.domain))
        // master users may sign in through the multi-tenant "organizations" authority (ROPC)
        || (tenant.eq_ignore_ascii_case("organizations") && form.get("grant_type").map(String::as_str) == Some("password"));
    if !tenant_ok {
        return entra_error(StatusCode::BAD_REQUEST, "invalid_request", 90002,
                           &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."));
    }
    let get = |k: &str| form.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let Some(grant) = get("grant_type") else {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    };
    let Some(client_id) = get("client_id") else {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let lifetime = st.settings.entra_token_lifetime_seconds;
    match grant {
        "client_credentials" => {
            let Some(sp) = st.sp_by_app_id(client_id) else {
                return entra_error(StatusCode::BAD_REQUEST, "unauthorized_client", 700016,
                                   &format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", if st.tenant.name.is_empty() { &st.tenant.id } else { &st.tenant.name }));
            };
            let Some(secret) = get("client_secret") else {
                return entra_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000216,
                                   "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
            };
            if secret != sp.secret {
                return entra_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215,
                                   &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", sp.app_id));
            }
            if let Err((status, e, code, text)) = check_scope(get("scope").unwrap_or(""), true) {
                return entra_error(status, e, code, &text);
            }
            let (tok, _) = mint_access_token(
                &app.entra_key,
                &st,
                "app",
                &sp.app_id,
                &sp.object_id,
                lifetime,
            );
            token_response(tok, lifetime)
        }
        "password" => {
            if st.sp_by_app_id(client_id).is_none() {
                return entra_error(StatusCode::BAD_REQUEST, "unauthorized_client", 700016,
                                   &format!("Application with identifier '{client_id}' was not found in the directory '{}'.", st.tenant.id));
            }
            let (Some(username), Some(password)) =
                (get("username"), form.get("password").map(String::as_str))
            else {
                return entra_error(StatusCode::BAD_REQUEST, "invalid_request", 900144,
                                   "The request body must contain the following parameter: 'username' and 'password'.");
            };
            let Some(user) = st.user_by_upn(username) else {
                return entra_error(StatusCode::BAD_REQUEST, "invalid_grant", 50034,
                                   &format!("The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.", st.tenant.id));
            };
            if user.password != password {
                return entra_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50126,
                    "Error validating credentials due to invalid username or password.",
                );
            }
            if let Err((status, e, code, text)) = check_scope(get("scope").unwrap_or(""), false) {
                return entra_error(status, e, code, &text);
            }
            let (tok, _) = mint_access_token(
                &app.entra_key,
                &st,
                "user",
                &user.upn,
                &user.object_id,
                lifetime,
            );
            token_response(tok, lifetime)
        }
        other => entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// `POST /__emulator/entra/token` {"appId" | "username", "expiresIn": seconds (may be <= 0)}: mints a token
/// directly, so tests can get an already expired or soon-to-expire one.
pub async fn admin_token(State(app): State<Shared>, body: axum::body::Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let st = app.state.lock().unwrap().clone();
    let lifetime = v["expiresIn"]
        .as_i64()
        .unwrap_or(st.settings.entra_token_lifetime_seconds);
    let (tok, exp) = if let Some(app_id) = v["appId"].as_str() {
        let Some(sp) = st.sp_by_app_id(app_id) else {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "unknown appId"})),
            )
                .into_response();
        };
        mint_access_token(
            &app.entra_key,
            &st,
            "app",
            &sp.app_id,
            &sp.object_id,
            lifetime,
        )
    } else if let Some(upn) = v["username"].as_str() {
        let Some(u) = st.user_by_upn(upn) else {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "unknown username"})),
            )
                .into_response();
        };
        mint_access_token(&app.entra_key, &st, "user", &u.upn, &u.object_id, lifetime)
    } else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "give appId or username"})),
        )
            .into_response();
    };
    axum::Json(json!({"token_type": "Bearer", "access_token": tok, "expires_in": lifetime, "expires_on": exp})).into_response()
}

/// The `https://host[:port]` a request reached, from its Host header (the TLS listener's own address otherwise).
fn request_origin(app: &Shared, headers: &axum::http::HeaderMap) -> String {
    match headers.get("host").and_then(|h| h.to_str().ok()) {
        Some(h) if !h.is_empty() => format!("https://{h}"),
        _ => app.embed_base.clone(),
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration` (TLS listener): the authority metadata MSAL reads, with
/// endpoints on the host the request reached. An unknown tenant gets Entra's 400 (AADSTS90002).
pub async fn openid_configuration(
    State(app): State<Shared>,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let st = app.state.lock().unwrap().clone();
    let known = tenant.eq_ignore_ascii_case(&st.tenant.id)
        || (!st.tenant.domain.is_empty() && tenant.eq_ignore_ascii_case(&st.tenant.domain))
        || tenant.eq_ignore_ascii_case("organizations");
    if !known {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let base = format!("{}/{tenant}", request_origin(&app, &headers));
    axum::Json(json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "issuer": format!("https://login.microsoftonline.com/{}/v2.0", st.tenant.id),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "EU",
    }))
    .into_response()
}

/// `GET /common/discovery/instance?authorization_endpoint=…` (TLS listener): instance discovery naming the
/// host the request reached as its only alias.
pub async fn instance_discovery(
    State(app): State<Shared>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let origin = request_origin(&app, &headers);
    let host = origin.trim_start_matches("https://").to_string();
    let tenant = q
        .get("authorization_endpoint")
        .and_then(|a| a.strip_prefix(&format!("{origin}/")))
        .and_then(|rest| rest.split('/').next())
        .filter(|t| !t.is_empty())
        .unwrap_or("common")
        .to_string();
    axum::Json(json!({
        "tenant_discovery_endpoint": format!("{origin}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
    .into_response()
}
