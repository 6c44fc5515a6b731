//! Test-control routes under `/__emulator/`: health, state, fault injection, call counts, direct Entra tokens,
//! embed-token inspection, and the portal identity provider (JWKS, id_token minting, key rotation).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::app::{now, Fault, FaultEntry, Shared};
use crate::crypto::{self, IdpKey};
use crate::state::Fixture;

fn bad(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": msg.into()})),
    )
        .into_response()
}

pub async fn health() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

pub async fn get_state(State(app): State<Shared>) -> Response {
    let st = app.state.lock().unwrap().clone();
    axum::Json(serde_json::to_value(st).unwrap_or(Value::Null)).into_response()
}

pub async fn put_state(State(app): State<Shared>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match Fixture::parse(&text) {
        Ok(f) => {
            *app.state.lock().unwrap() = f;
            axum::Json(json!({"ok": true})).into_response()
        }
        Err(e) => bad(e),
    }
}

fn parse_fault(v: &Value) -> Result<FaultEntry, String> {
    let route = v["route"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("route is required")?
        .to_string();
    let count = match v.get("count") {
        None | Some(Value::Null) => 1,
        Some(c) => c
            .as_u64()
            .filter(|c| *c > 0)
            .ok_or("count must be a positive integer")?,
    };
    let fault: Fault = serde_json::from_value(v.get("fault").cloned().unwrap_or(Value::Null))
        .map_err(|e| format!("fault: {e}"))?;
    if fault.status.is_none() && fault.hang_ms.is_none() && !fault.garbage {
        return Err("fault needs status, hangMs or garbage".into());
    }
    if let Some(s) = fault.status {
        if !(400..=599).contains(&s) {
            return Err("fault status must be 4xx or 5xx".into());
        }
    }
    let skip = match v.get("skip") {
        None | Some(Value::Null) => 0,
        Some(c) => c.as_u64().ok_or("skip must be a non-negative integer")?,
    };
    Ok(FaultEntry {
        route,
        remaining: count,
        skip,
        fault,
    })
}

pub async fn add_faults(State(app): State<Shared>, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("invalid JSON: {e}")),
    };
    let items = match &v {
        Value::Array(a) => a.clone(),
        _ => vec![v],
    };
    let mut parsed = Vec::new();
    for i in &items {
        match parse_fault(i) {
            Ok(f) => parsed.push(f),
            Err(e) => return bad(e),
        }
    }
    let n = parsed.len();
    app.faults.lock().unwrap().extend(parsed);
    axum::Json(json!({"ok": true, "added": n})).into_response()
}

pub async fn list_faults(State(app): State<Shared>) -> Response {
    let f: Vec<Value> = app.faults.lock().unwrap().iter().map(|f| json!({"route": f.route, "remaining": f.remaining,
        "fault": {"status": f.fault.status, "retryAfter": f.fault.retry_after, "hangMs": f.fault.hang_ms, "garbage": f.fault.garbage}})).collect();
    axum::Json(json!(f)).into_response()
}

pub async fn clear_faults(State(app): State<Shared>) -> Response {
    app.faults.lock().unwrap().clear();
    axum::Json(json!({"ok": true})).into_response()
}

pub async fn get_calls(State(app): State<Shared>) -> Response {
    let c = app.calls.lock().unwrap().clone();
    axum::Json(json!(c)).into_response()
}

pub async fn get_call_log(State(app): State<Shared>) -> Response {
    let l: Vec<Value> = app.call_log.lock().unwrap().iter().cloned().collect();
    axum::Json(json!(l)).into_response()
}

pub async fn clear_calls(State(app): State<Shared>) -> Response {
    app.calls.lock().unwrap().clear();
    app.call_log.lock().unwrap().clear();
    axum::Json(json!({"ok": true})).into_response()
}

/// `POST /__emulator/embed/inspect` {"token"}: the verified payload of an embed token (for tests).
pub async fn inspect_embed(State(app): State<Shared>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match crypto::embed_verify(&app.embed_key, v["token"].as_str().unwrap_or("")) {
        Ok(p) => axum::Json(json!({"valid": true, "expired": p["exp"].as_i64().unwrap_or(0) <= now(), "payload": p})).into_response(),
        Err(e) => axum::Json(json!({"valid": false, "reason": format!("{e:?}")})).into_response(),
    }
}

pub async fn embed_cert(State(app): State<Shared>) -> Response {
    (
        [("content-type", "application/x-pem-file")],
        app.cert_pem.clone(),
    )
        .into_response()
}

/// `POST /__emulator/embed/render` {"token","reportId","groupId"}: what the iframe would show (for tests).
pub async fn embed_render(State(app): State<Shared>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    axum::Json(crate::embed::render(
        &app,
        v["token"].as_str().unwrap_or(""),
        v["reportId"].as_str().unwrap_or(""),
        v["groupId"].as_str(),
    ))
    .into_response()
}

/// `POST /__emulator/embed/query` {"token","datasetId"}: what a query with a dataset token returns (for tests).
pub async fn embed_query(State(app): State<Shared>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (token, dataset) = (
        v["token"].as_str().unwrap_or(""),
        v["datasetId"].as_str().unwrap_or(""),
    );
    axum::Json(crate::embed::query(&app, token, dataset)).into_response()
}

// ---------------------------------------------------------------------------------------------------------------
// Portal identity provider

/// Makes the initial RS256 key on first use of the IdP; it goes first in the JWKS.
pub(crate) async fn ensure_rsa(app: &Shared) {
    use std::sync::atomic::Ordering;
    if app.idp_rsa_made.load(Ordering::Acquire) {
        return;
    }
    let mut keys = app.idp_keys.write().await;
    if app.idp_rsa_made.load(Ordering::Acquire) {
        return;
    }
    if let Ok(Some(k)) = tokio::task::spawn_blocking(|| IdpKey::generate("RS256")).await {
        keys.insert(0, k);
        app.idp_rsa_made.store(true, Ordering::Release);
    }
}

pub async fn jwks(State(app): State<Shared>) -> Response {
    ensure_rsa(&app).await;
    let keys = app.idp_keys.read().await;
    let jwks: Vec<Value> = keys.iter().map(IdpKey::jwk).collect();
    (
        [("cache-control", "public, max-age=300")],
        axum::Json(json!({"keys": jwks})),
    )
        .into_response()
}

pub async fn openid_configuration(State(app): State<Shared>) -> Response {
    let st = app.state.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": st.idp.issuer,
        "jwks_uri": format!("{}/__emulator/idp/jwks.json", app.api_base),
        "authorization_endpoint": format!("{}/__emulator/idp/authorize", app.api_base),
        "token_endpoint": format!("{}/__emulator/idp/oauth2/token", app.api_base),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
    .into_response()
}

pub async fn idp_token(State(app): State<Shared>, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return bad("body must be a JSON object"),
    };
    let alg = v["alg"].as_str().unwrap_or("RS256");
    if alg != "RS256" && alg != "ES256" {
        return bad("alg must be RS256 or ES256");
    }
    let Some(sub) = v["sub"].as_str() else {
        return bad("sub is required");
    };
    ensure_rsa(&app).await;
    let idp = app.state.lock().unwrap().idp.clone();
    let iat = v["iat"].as_i64().unwrap_or_else(now);
    let exp = iat + v["expiresIn"].as_i64().unwrap_or(3600);
    let mut claims = json!({
        "iss": v.get("iss").cloned().unwrap_or(json!(idp.issuer)),
        "aud": v.get("aud").cloned().unwrap_or(json!(idp.audience)),
        "sub": sub, "iat": iat, "exp": exp,
    });
    if let Some(nbf) = v["nbf"].as_i64() {
        claims["nbf"] = json!(nbf);
    }
    if let Some(Value::Object(extra)) = v.get("claims") {
        for (k, x) in extra {
            claims[k] = x.clone();
        }
    }
    let keys = app.idp_keys.read().await;
    let key = if let Some(kid) = v["signWithKid"].as_str() {
        keys.iter().find(|k| k.kid() == kid)
    } else {
        keys.iter().rev().find(|k| k.alg() == alg)
    };
    let Some(key) = key else {
        return bad("no key for that alg/kid");
    };
    let token = key.sign_jwt(&claims, v["kid"].as_str());
    axum::Json(json!({"id_token": token, "kid": key.kid(), "alg": key.alg(), "expires_at": exp, "claims": claims})).into_response()
}

/// `POST /__emulator/idp/rotate` {"alg": "RS256"|"ES256" (default RS256), "retireOld": bool}: adds a key with a
/// new kid that becomes the signing key for that alg.
pub async fn idp_rotate(State(app): State<Shared>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    ensure_rsa(&app).await;
    let alg = v["alg"].as_str().unwrap_or("RS256").to_string();
    if alg != "RS256" && alg != "ES256" {
        return bad("alg must be RS256 or ES256");
    }
    let a2 = alg.clone();
    let Ok(Some(key)) = tokio::task::spawn_blocking(move || IdpKey::generate(&a2)).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "key generation failed"})),
        )
            .into_response();
    };
    let kid = key.kid().to_string();
    let mut keys = app.idp_keys.write().await;
    let mut retired = Vec::new();
    if v["retireOld"].as_bool().unwrap_or(false) {
        keys.retain(|k| {
            let keep = k.alg() != alg;
            if !keep {
                retired.push(k.kid().to_string());
            }
            keep
        });
    }
    keys.push(key);
    axum::Json(json!({"kid": kid, "alg": alg, "retired": retired})).into_response()
}

pub async fn idp_delete_key(State(app): State<Shared>, Path(kid): Path<String>) -> Response {
    ensure_rsa(&app).await;
    let mut keys = app.idp_keys.write().await;
    let before = keys.len();
    keys.retain(|k| k.kid() != kid);
    if keys.len() == before {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "unknown kid"})),
        )
            .into_response();
    }
    axum::Json(json!({"ok": true})).into_response()
}

/// `POST /__emulator/settings` {"embedTokenLifetimeSeconds": 5, ...}: changes the named settings and keeps the
/// rest; an unknown name is a 400. `GET` answers the current settings.
pub async fn post_settings(State(app): State<Shared>, body: Bytes) -> Response {
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return bad("body must be a JSON object");
    };
    let mut st = app.state.lock().unwrap();
    let mut cur = match serde_json::to_value(&st.settings) {
        Ok(Value::Object(m)) => m,
        _ => return bad("settings are not an object"),
    };
    // Every name a setting can have (the optional ones filled in so they serialize).
    let names = serde_json::to_value(crate::state::Settings {
        embed_token_lifetime_seconds: Some(0),
        ..Default::default()
    })
    .unwrap_or_default();
    for (k, v) in changes {
        if names.get(&k).is_none() {
            return bad(format!("unknown setting {k}"));
        }
        cur.insert(k, v);
    }
    match serde_json::from_value::<crate::state::Settings>(Value::Object(cur)) {
        Ok(s) => {
            st.settings = s;
            axum::Json(serde_json::to_value(&st.settings).unwrap_or_default()).into_response()
        }
        Err(e) => bad(format!("settings: {e}")),
    }
}

pub async fn get_settings(State(app): State<Shared>) -> Response {
    let st = app.state.lock().unwrap();
    axum::Json(serde_json::to_value(&st.settings).unwrap_or_default()).into_response()
}
