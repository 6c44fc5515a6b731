//! The Entra ID app-only token (client credentials), cached in isolate memory and in KV until five minutes
//! (configurable) before it expires, refreshed single-flight: while one request refreshes, concurrent
//! requests in the isolate wait for its result instead of calling Entra themselves.
//!
//! See `flight.rs` for how followers wait without sharing I/O contexts.

use std::cell::RefCell;

use embedgate_client::entra::{parse_token, EntraToken};
use embedgate_client::{map_failure, Failure, Stage};
use embedgate_edge::EdgeError;
use serde_json::json;

use crate::http;
use crate::{log, now_secs, Ctx};

thread_local! {
    static MEMORY: RefCell<Option<EntraToken>> = const { RefCell::new(None) };
}

fn kv_key(ctx: &Ctx) -> String {
    format!("entra:v1:{}:{}", ctx.cfg.tenant_id, ctx.cfg.client_id)
}

fn usable(t: &EntraToken, ctx: &Ctx, rejected: Option<&str>) -> bool {
    t.fresh(now_secs(), ctx.cfg.entra_refresh_margin_seconds)
        && Some(t.access_token.as_str()) != rejected
}

fn from_memory(ctx: &Ctx, rejected: Option<&str>) -> Option<String> {
    MEMORY.with(|m| {
        m.borrow()
            .as_ref()
            .filter(|t| usable(t, ctx, rejected))
            .map(|t| t.access_token.clone())
    })
}

/// Forgets cached tokens (admin invalidation).
pub async fn forget(ctx: &Ctx) {
    MEMORY.with(|m| *m.borrow_mut() = None);
    if let Ok(kv) = ctx.env.kv("CACHE") {
        let _ = kv.delete(&kv_key(ctx)).await;
    }
}

/// A Power BI access token. `rejected` is a token Power BI just refused (401): it is dropped from the caches
/// and a different one is returned (refreshing if no other request already did).
pub async fn token(ctx: &Ctx, rejected: Option<&str>) -> Result<String, EdgeError> {
    if let Some(bad) = rejected {
        MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            if m.as_ref().is_some_and(|t| t.access_token == bad) {
                *m = None;
            }
        });
    }
    if let Some(t) = from_memory(ctx, rejected) {
        return Ok(t);
    }
    let kv = ctx.env.kv("CACHE").map_err(crate::internal)?;
    crate::Ops::add(&ctx.ops.kv_get, 1);
    let stored = kv
        .get(&kv_key(ctx))
        .text()
        .await
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str::<EntraToken>(&t).ok());
    if let Some(t) = stored {
        if usable(&t, ctx, rejected) {
            let access = t.access_token.clone();
            MEMORY.with(|m| *m.borrow_mut() = Some(t));
            return Ok(access);
        }
    }
    // Single flight within the isolate.
    let lead = match crate::flight::join(
        ctx,
        "entra",
        || from_memory(ctx, rejected),
        || map_failure(Stage::Entra, &Failure::Timeout).into(),
    )
    .await?
    {
        Ok(t) => return Ok(t),
        Err(lead) => lead,
    };
    let result = refresh(ctx, &kv).await;
    if let Err(e) = &result {
        lead.fail(e);
    }
    result
}

async fn refresh(ctx: &Ctx, kv: &worker::KvStore) -> Result<String, EdgeError> {
    let secret = ctx.secret("CLIENT_SECRET").ok_or_else(|| {
        EdgeError::new(503, "misconfigured", "The secret CLIENT_SECRET is not set.")
    })?;
    let call = ctx.cfg.entra().client_credentials(&secret);
    drop(secret);
    let body = http::send(ctx, &call)
        .await
        .map_err(|f| EdgeError::from(map_failure(Stage::Entra, &f)))?;
    let fresh = parse_token(&body, now_secs())?;
    log(
        ctx,
        "entra_token_refreshed",
        json!({"expiresAt": fresh.expires_at}),
    );
    let access = fresh.access_token.clone();
    MEMORY.with(|m| *m.borrow_mut() = Some(fresh.clone()));
    if let Some(ttl) = fresh.cache_ttl(now_secs(), ctx.cfg.entra_refresh_margin_seconds) {
        let text = serde_json::to_string(&fresh).unwrap_or_default();
        crate::Ops::add(&ctx.ops.kv_put, 1);
        if let Ok(put) = kv.put(&kv_key(ctx), text.as_str()) {
            if put.expiration_ttl(ttl).execute().await.is_err() {
                crate::warn(ctx, "kv_put_failed", json!({"key": "entra"}));
            }
        }
    }
    Ok(access)
}
