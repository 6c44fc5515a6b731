//! The portal identity provider's sign-in: OpenID Connect's authorization code flow with PKCE (RFC 7636, S256
//! only), as a single-page portal uses a real IdP. `GET /authorize` shows the demo users, choosing one
//! redirects back with a one-time code, and `POST /oauth2/token` trades the code and its verifier for an ID
//! token signed with the same keys as `/__emulator/idp/token` (so the worker's JWKS check is the real one).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::{now, Shared};
use crate::crypto::{b64, random_bytes, IdpKey};

/// A code lives this long (seconds); RFC 6749 recommends at most ten minutes.
const CODE_LIFETIME: i64 = 60;
/// Lifetime of the ID tokens this flow issues, seconds.
const ID_TOKEN_LIFETIME: i64 = 3600;

pub struct Pending {
    sub: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    expires: i64,
}

#[derive(Default)]
pub struct Codes(Mutex<HashMap<String, Pending>>);

#[derive(Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
    /// Set by the sign-in page's buttons.
    user: Option<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page_error(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><meta charset=utf-8><title>Sign-in error</title><p id=idp-error>{}</p>",
            esc(msg)
        )),
    )
        .into_response()
}

/// The checks a real IdP makes before it shows a sign-in page: errors that cannot be sent back to the
/// redirect URI are shown here.
fn check(app: &Shared, p: &AuthorizeParams) -> Result<(), String> {
    let audience = app.state.lock().unwrap().idp.audience.clone();
    if p.response_type.as_deref() != Some("code") {
        return Err("response_type must be code".into());
    }
    if p.client_id.as_deref() != Some(audience.as_str()) {
        return Err(format!("client_id must be {audience}"));
    }
    let uri = p.redirect_uri.as_deref().unwrap_or("");
    if !(uri.starts_with("http://") || uri.starts_with("https://")) || uri.contains('#') {
        return Err("redirect_uri must be an absolute http(s) URL without a fragment".into());
    }
    if p.code_challenge_method.as_deref() != Some("S256") {
        return Err("code_challenge_method must be S256 (PKCE)".into());
    }
    let c = p.code_challenge.as_deref().unwrap_or("");
    if c.len() != 43
        || !c
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)".into(),
        );
    }
    Ok(())
}

/// `GET /__emulator/idp/authorize`: the sign-in page (one button per demo user); with `user`, signs that user
/// in and redirects back with a code.
pub async fn authorize(State(app): State<Shared>, Query(p): Query<AuthorizeParams>) -> Response {
    if let Err(e) = check(&app, &p) {
        return page_error(&e);
    }
    let users = app.state.lock().unwrap().idp.users.clone();
    let Some(chosen) = p.user.as_deref() else {
        let hidden: String = [
            ("response_type", &p.response_type),
            ("client_id", &p.client_id),
            ("redirect_uri", &p.redirect_uri),
            ("state", &p.state),
            ("code_challenge", &p.code_challenge),
            ("code_challenge_method", &p.code_challenge_method),
            ("nonce", &p.nonce),
        ]
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!(r#"<input type="hidden" name="{k}" value="{}">"#, esc(v)))
        })
        .collect();
        let buttons: String = users
            .iter()
            .map(|u| {
                format!(
                    r#"<button name="user" value="{}">{}<br><small>{}</small></button>"#,
                    esc(&u.sub),
                    esc(&u.name),
                    esc(&u.sub)
                )
            })
            .collect();
        return (
            [(header::CACHE_CONTROL, "no-store")],
            Html(format!(
                r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in (emulated identity provider)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
button{{display:block;width:100%;margin:.5rem 0;padding:.75rem;font-size:1rem;text-align:left;cursor:pointer}}</style></head>
<body><h1>Sign in</h1><p>Emulated identity provider: choose a demo user.</p>
<form method="get" action="authorize">{hidden}{buttons}</form></body></html>"#
            )),
        )
            .into_response();
    };
    let Some(user) = users.iter().find(|u| u.sub == chosen) else {
        return page_error("unknown user");
    };
    let code = b64(&random_bytes::<32>());
    let redirect = p.redirect_uri.clone().unwrap_or_default();
    app.idp_codes.0.lock().unwrap().insert(
        code.clone(),
        Pending {
            sub: user.sub.clone(),
            client_id: p.client_id.clone().unwrap_or_default(),
            redirect_uri: redirect.clone(),
            challenge: p.code_challenge.clone().unwrap_or_default(),
            nonce: p.nonce.clone(),
            expires: now() + CODE_LIFETIME,
        },
    );
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect}{sep}code={code}");
    if let Some(s) = &p.state {
        location.push_str("&state=");
        location.push_str(&encode(s));
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /__emulator/idp/oauth2/token` (form): the authorization code grant with its PKCE verifier. A browser
/// calls it cross-origin with a form body (a CORS simple request), hence `Access-Control-Allow-Origin: *`.
pub async fn token(State(app): State<Shared>, Form(f): Form<TokenForm>) -> Response {
    if f.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code",
        );
    }
    let invalid = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    // A code is used once, whatever the outcome (RFC 6749 4.1.2).
    let Some(p) = f
        .code
        .as_deref()
        .and_then(|c| app.idp_codes.0.lock().unwrap().remove(c))
    else {
        return invalid("unknown or already used code");
    };
    if p.expires < now() {
        return invalid("the code has expired");
    }
    if f.client_id.as_deref() != Some(p.client_id.as_str())
        || f.redirect_uri.as_deref() != Some(p.redirect_uri.as_str())
    {
        return invalid("client_id and redirect_uri must match the authorization request");
    }
    let verifier = f.code_verifier.unwrap_or_default();
    if !(43..=128).contains(&verifier.len())
        || b64(&Sha256::digest(verifier.as_bytes())) != p.challenge
    {
        return invalid("code_verifier does not match the code_challenge");
    }
    crate::admin::ensure_rsa(&app).await;
    let (idp, user) = {
        let st = app.state.lock().unwrap();
        let user = st.idp.users.iter().find(|u| u.sub == p.sub).cloned();
        (st.idp.clone(), user)
    };
    let Some(user) = user else {
        return invalid("the user no longer exists");
    };
    let iat = now();
    let mut claims = json!({"iss": idp.issuer, "aud": idp.audience, "sub": user.sub, "name": user.name,
        "iat": iat, "exp": iat + ID_TOKEN_LIFETIME});
    if let Some(n) = p.nonce {
        claims["nonce"] = Value::String(n);
    }
    for (k, v) in user.claims {
        claims[k] = v;
    }
    let keys = app.idp_keys.read().await;
    let Some(key) = keys.iter().rev().find(|k| k.alg() == "RS256") else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no signing key",
        );
    };
    let id_token = IdpKey::sign_jwt(key, &claims, None);
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::Json(
            json!({"id_token": id_token, "token_type": "Bearer", "expires_in": ID_TOKEN_LIFETIME}),
        ),
    )
        .into_response()
}
