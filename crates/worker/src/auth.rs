//! Who is asking: the portal user's bearer JWT, verified against the JWKS (RS256/ES256, keys cached, refetched
//! on an unknown kid at most once per `JWKS_MIN_REFRESH_SECONDS`) or a shared secret (HS256), then the
//! claims checks. The admin key check lives here too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use embedgate_edge::identity::Principal;
use embedgate_edge::jwt::{self, Alg, ClaimPolicy, KeyLookup};
use embedgate_edge::EdgeError;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use worker::Request;

use crate::crypto::{self, PublicKey};
use crate::http;
use crate::{log, now_ms, now_secs, Ctx};

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size).
const MIN_HS256_SECRET: usize = 32;

struct JwksCache {
    doc: Rc<Value>,
    fetched_ms: f64,
    parsed: HashMap<(String, &'static str), Rc<PublicKey>>,
}

thread_local! {
    static JWKS: RefCell<Option<JwksCache>> = const { RefCell::new(None) };
    /// Tokens whose signature already verified, by SHA-256 of the whole token: a portal sends the same session
    /// token on every page view, and RS256/ES256 verification is the costliest CPU work of a request in wasm.
    /// Claims (expiry, issuer, audience) are still checked on every request.
    static VERIFIED: RefCell<HashMap<[u8; 32], (Claims, f64)>> = RefCell::new(HashMap::new());
}

type Claims = Rc<Map<String, Value>>;

const VERIFIED_MAX: usize = 10_000;

/// Forgets the cached JWKS and verified tokens (admin invalidation).
pub fn forget_jwks() {
    JWKS.with(|j| *j.borrow_mut() = None);
    VERIFIED.with(|v| v.borrow_mut().clear());
}

fn remember_verified(digest: [u8; 32], claims: &Map<String, Value>, ttl_ms: f64) {
    // Kept until the JWKS would be refetched anyway (a removed key stops working then) or the token expires.
    let exp_ms = claims
        .get("exp")
        .and_then(Value::as_f64)
        .map(|e| e * 1000.0)
        .unwrap_or(0.0);
    let until = (now_ms() + ttl_ms).min(exp_ms);
    VERIFIED.with(|v| {
        let mut v = v.borrow_mut();
        if v.len() >= VERIFIED_MAX {
            let now = now_ms();
            v.retain(|_, (_, until)| *until > now);
            if v.len() >= VERIFIED_MAX {
                v.clear();
            }
        }
        v.insert(digest, (Rc::new(claims.clone()), until));
    });
}

fn bearer(req: &Request) -> Option<String> {
    let h = req.headers().get("authorization").ok().flatten()?;
    let (scheme, token) = h.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

async fn fetch_jwks(ctx: &Ctx, url: &str) -> Result<Rc<Value>, EdgeError> {
    // The portal's identity provider, not Power BI: a plain GET through the same retrying driver.
    let call = embedgate_client::Request {
        name: "idp.jwks",
        method: embedgate_client::Method::Get,
        url: url.to_string(),
        headers: vec![("accept", "application/json".into())],
        body: None,
    };
    let unavailable = || {
        EdgeError::new(
            503,
            "jwks_unavailable",
            "The identity provider's signing keys could not be fetched.",
        )
        .retry_after(5)
    };
    let body = http::send(ctx, &call).await.map_err(|_| unavailable())?;
    let doc: Value = serde_json::from_str(&body).map_err(|_| unavailable())?;
    if !doc.get("keys").is_some_and(Value::is_array) {
        return Err(unavailable());
    }
    let doc = Rc::new(doc);
    JWKS.with(|j| {
        *j.borrow_mut() = Some(JwksCache {
            doc: doc.clone(),
            fetched_ms: now_ms(),
            parsed: HashMap::new(),
        })
    });
    log(
        ctx,
        "jwks_fetched",
        json!({"keys": doc["keys"].as_array().map(Vec::len)}),
    );
    Ok(doc)
}

/// A JWKS fetched after `newer_than` (ms): the one another request just fetched, or a fetch of our own (single
/// flight, so a burst of requests after expiry or rotation makes one call to the IdP).
async fn fresh_jwks(ctx: &Ctx, url: &str, newer_than: f64) -> Result<Rc<Value>, EdgeError> {
    let ready = || {
        JWKS.with(|j| {
            j.borrow()
                .as_ref()
                .filter(|c| c.fetched_ms > newer_than)
                .map(|c| c.doc.clone())
        })
    };
    let timeout = || {
        EdgeError::new(
            503,
            "jwks_unavailable",
            "The identity provider's signing keys could not be fetched.",
        )
        .retry_after(5)
    };
    match crate::flight::join(ctx, "jwks", ready, timeout).await? {
        Ok(doc) => Ok(doc),
        Err(lead) => {
            let r = fetch_jwks(ctx, url).await;
            if let Err(e) = &r {
                lead.fail(e);
            }
            r
        }
    }
}

/// The cached JWKS if fresh, else a fetched one (a stale copy is used if the fetch fails).
async fn jwks(ctx: &Ctx, url: &str) -> Result<Rc<Value>, EdgeError> {
    let ttl_ms = (ctx.cfg.jwks_ttl_seconds * 1000) as f64;
    let cached = JWKS.with(|j| j.borrow().as_ref().map(|c| (c.doc.clone(), c.fetched_ms)));
    match cached {
        Some((doc, at)) if now_ms() - at < ttl_ms => Ok(doc),
        Some((stale, _)) => Ok(fresh_jwks(ctx, url, now_ms() - ttl_ms)
            .await
            .unwrap_or(stale)),
        None => fresh_jwks(ctx, url, 0.0).await,
    }
}

fn parsed_key(jwk: &Value, kid: &str, alg: Alg) -> Option<Rc<PublicKey>> {
    let key = (kid.to_string(), alg.as_str());
    if let Some(k) = JWKS.with(|j| {
        j.borrow()
            .as_ref()
            .and_then(|c| c.parsed.get(&key).cloned())
    }) {
        return Some(k);
    }
    let k = Rc::new(PublicKey::from_jwk(jwk, alg)?);
    JWKS.with(|j| {
        if let Some(c) = j.borrow_mut().as_mut() {
            c.parsed.insert(key, k.clone());
        }
    });
    Some(k)
}

fn bad_signature() -> EdgeError {
    EdgeError::unauthorized("invalid_signature", "The token signature is not valid.")
}

/// Verifies the bearer token and returns the principal (customer and user from the configured claims).
pub async fn user(ctx: &Ctx, req: &Request) -> Result<Principal, EdgeError> {
    let token = bearer(req).ok_or_else(|| {
        EdgeError::unauthorized(
            "missing_token",
            "Send the signed-in user's token as Authorization: Bearer <JWT>.",
        )
    })?;
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let cached = VERIFIED.with(|v| {
        v.borrow()
            .get(&digest)
            .filter(|(_, until)| *until > now_ms())
            .map(|(c, _)| c.clone())
    });
    let claims = match cached {
        Some(c) => (*c).clone(),
        None => {
            let claims = verify_signature(ctx, &token).await?;
            remember_verified(digest, &claims, (ctx.cfg.jwks_ttl_seconds * 1000) as f64);
            claims
        }
    };
    let policy = ClaimPolicy {
        issuer: &ctx.cfg.jwt_issuer,
        audience: &ctx.cfg.jwt_audience,
        leeway: ctx.cfg.jwt_leeway_seconds,
    };
    jwt::check_claims(&claims, &policy, now_secs())?;
    Principal::from_claims(claims, &ctx.cfg.customer_claim, &ctx.cfg.user_claim)
}

/// Decodes the token under the algorithm policy and verifies its signature; returns its (unchecked) claims.
async fn verify_signature(ctx: &Ctx, token: &str) -> Result<Map<String, Value>, EdgeError> {
    let hs_secret = ctx
        .secret("JWT_HS256_SECRET")
        .filter(|s| s.len() >= MIN_HS256_SECRET);
    let mut allowed = Vec::with_capacity(3);
    if ctx.cfg.jwks_url.is_some() {
        allowed.extend([Alg::Rs256, Alg::Es256]);
    }
    if hs_secret.is_some() {
        allowed.push(Alg::Hs256);
    }
    let jws = jwt::decode(token, &allowed)?;
    let input = jws.signing_input.as_bytes();
    let verified =
        match (jws.alg, &ctx.cfg.jwks_url) {
            (Alg::Hs256, _) => crypto::verify_hs256(
                hs_secret.as_deref().unwrap_or_default().as_bytes(),
                input,
                &jws.signature,
            ),
            (alg, Some(url)) => {
                let mut doc = jwks(ctx, url).await?;
                let mut lookup = jwt::pick_jwk(&doc, jws.kid.as_deref(), alg)?;
                if lookup == KeyLookup::UnknownKid {
                    // Rotation: refetch, but not more often than the configured interval (unknown kids are cheap
                    // for an attacker to send).
                    let last = JWKS
                        .with(|j| j.borrow().as_ref().map(|c| c.fetched_ms))
                        .unwrap_or(0.0);
                    if now_ms() - last >= (ctx.cfg.jwks_min_refresh_seconds * 1000) as f64 {
                        doc = fresh_jwks(ctx, url, last).await?;
                        lookup = jwt::pick_jwk(&doc, jws.kid.as_deref(), alg)?;
                    }
                }
                match lookup {
                    KeyLookup::Found(jwk) => {
                        let kid = jws.kid.clone().unwrap_or_default();
                        let key = parsed_key(jwk, &kid, alg).ok_or_else(|| {
                            EdgeError::unauthorized(
                                "invalid_key",
                                "The signing key in the JWKS is not usable.",
                            )
                        })?;
                        key.verify(alg, input, &jws.signature)
                    }
                    KeyLookup::UnknownKid => return Err(EdgeError::unauthorized(
                        "unknown_key",
                        "The token was signed with a key the identity provider does not publish.",
                    )),
                }
            }
            (_, None) => false,
        };
    if !verified {
        return Err(bad_signature());
    }
    Ok(jws.claims)
}

/// Checks `Authorization: Bearer <ADMIN_KEY>`. The admin API is off unless ADMIN_KEY (16+ chars) is set.
pub fn admin(ctx: &Ctx, req: &Request) -> Result<(), EdgeError> {
    let Some(key) = ctx.secret("ADMIN_KEY").filter(|k| k.len() >= 16) else {
        return Err(EdgeError::forbidden(
            "admin_disabled",
            "The admin API is disabled (ADMIN_KEY is not set).",
        ));
    };
    match bearer(req) {
        Some(given) if crypto::secrets_equal(given.as_bytes(), key.as_bytes()) => Ok(()),
        Some(_) => Err(EdgeError::unauthorized(
            "admin_unauthorized",
            "Wrong admin key.",
        )),
        None => Err(EdgeError::unauthorized(
            "admin_unauthorized",
            "Send Authorization: Bearer <admin key>.",
        )),
    }
}
