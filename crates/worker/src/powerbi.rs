//! Power BI REST calls, made as the customer's profile (`X-PowerBI-Profile-Id`) in the profile flow or as
//! the service principal in the legacy flow. A 401 (or 403 TokenExpired) refreshes the Entra token once.
//! Metadata is cached per (caller, customer cache generation, item) in isolate memory and KV.

use std::cell::RefCell;
use std::collections::HashMap;

use embedgate_client::powerbi::{
    bad_metadata, dataset_with_sources, read_embed_token, read_object, report_dataset,
    workspace_with_users, As,
};
use embedgate_client::{map_failure, Failure, Request, Stage};
use embedgate_core::powerbi::{EmbedToken, GenerateTokenRequestV2};
use embedgate_edge::customer::PlannedItem;
use embedgate_edge::EdgeError;
use futures_util::future::{join, try_join_all};
use serde_json::{json, Value};

use crate::http;
use crate::{entra, now_ms, Ctx};

/// Whose eyes the calls are made through, and the cache generation that scopes cached metadata.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub profile: Option<&'a str>,
    pub cache_gen: i64,
}

impl Scope<'_> {
    fn key(&self, what: &str) -> String {
        format!(
            "md:v1:{}:{}:{what}",
            self.profile.unwrap_or("sp"),
            self.cache_gen
        )
    }
}

/// One Power BI call with retries; a refused Entra token is refreshed once. `make` builds the request
/// for a given token (the client crate formats every URL and header).
async fn call(
    ctx: &Ctx,
    stage: Stage,
    profile: Option<&str>,
    make: impl Fn(As<'_>) -> Request,
) -> Result<String, EdgeError> {
    let mut token = entra::token(ctx, None).await?;
    let mut refresh = embedgate_client::entra::Refresh::default();
    loop {
        let req = make(As {
            token: &token,
            profile,
        });
        let answer = http::send(ctx, &req).await;
        if refresh.needed(&req, &answer, &token) {
            crate::warn(ctx, "entra_token_refused", json!({"call": req.name}));
            token = entra::token(ctx, Some(&token)).await?;
            continue;
        }
        return answer.map_err(|f| map_failure(stage, &f).into());
    }
}

async fn get(
    ctx: &Ctx,
    profile: Option<&str>,
    make: impl Fn(As<'_>) -> Request,
) -> Result<String, EdgeError> {
    call(ctx, Stage::Metadata, profile, make).await
}

fn bad(_: Failure) -> EdgeError {
    bad_metadata().into()
}

/// `GET group` with `users` from `GET group users` (best effort: without them workspace access stays unknown).
async fn workspace(ctx: &Ctx, ws: &str, profile: Option<&str>) -> Result<Value, EdgeError> {
    let api = ctx.cfg.api();
    let (group, users) = join(
        get(ctx, profile, |who| api.get_group(who, ws)),
        get(ctx, profile, |who| api.get_group_users(who, ws)),
    )
    .await;
    workspace_with_users(&group?, users.ok().as_deref()).map_err(bad)
}

async fn dataset(ctx: &Ctx, ws: &str, id: &str, profile: Option<&str>) -> Result<Value, EdgeError> {
    let api = ctx.cfg.api();
    let (ds, sources) = join(
        get(ctx, profile, |who| api.get_dataset(who, ws, id)),
        get(ctx, profile, |who| api.get_datasources(who, ws, id)),
    )
    .await;
    dataset_with_sources(&ds?, &sources?).map_err(bad)
}

thread_local! {
    static MEMORY: RefCell<HashMap<String, (Value, f64)>> = RefCell::new(HashMap::new());
}

const MEMORY_MAX: usize = 2_000;

async fn cached<F, Fut>(ctx: &Ctx, key: String, fetch: F) -> Result<Value, EdgeError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Value, EdgeError>>,
{
    let now = now_ms();
    if let Some(v) = MEMORY.with(|m| {
        m.borrow()
            .get(&key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone())
    }) {
        return Ok(v);
    }
    let ttl = ctx.cfg.metadata_ttl_seconds;
    let kv = ctx.env.kv("CACHE").map_err(crate::internal)?;
    let remember = |v: &Value| {
        MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= MEMORY_MAX {
                m.retain(|_, (_, exp)| *exp > now);
                if m.len() >= MEMORY_MAX {
                    m.clear();
                }
            }
            m.insert(key.clone(), (v.clone(), now + (ttl * 1000) as f64));
        })
    };
    // Stored as JSON text: workers-rs would serialise a serde_json::Value's objects as JS Maps ("{}").
    // One request fetches (KV, else Power BI); concurrent misses in this isolate wait for it.
    let in_memory = || {
        MEMORY.with(|m| {
            m.borrow()
                .get(&key)
                .filter(|(_, exp)| *exp > now_ms())
                .map(|(v, _)| v.clone())
        })
    };
    let lead = match crate::flight::join(ctx, &key, in_memory, || {
        map_failure(Stage::Metadata, &Failure::Timeout).into()
    })
    .await?
    {
        Ok(v) => return Ok(v),
        Err(lead) => lead,
    };
    crate::Ops::add(&ctx.ops.kv_get, 1);
    if let Some(v) = kv
        .get(&key)
        .text()
        .await
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        remember(&v);
        return Ok(v);
    }
    let v = match fetch().await {
        Ok(v) => v,
        Err(e) => {
            lead.fail(&e);
            return Err(e);
        }
    };
    crate::Ops::add(&ctx.ops.kv_put, 1);
    if let Ok(put) = kv.put(&key, v.to_string().as_str()) {
        if put.expiration_ttl(ttl).execute().await.is_err() {
            crate::warn(ctx, "kv_put_failed", json!({"key": "metadata"}));
        }
    }
    remember(&v);
    Ok(v)
}

/// Everything about one report the scenario needs: `{report, dataset?, workspaces: [...]}`.
pub async fn report_bundle(
    ctx: &Ctx,
    scope: Scope<'_>,
    item: &PlannedItem,
) -> Result<Value, EdgeError> {
    cached(
        ctx,
        scope.key(&format!("report:{}:{}", item.workspace_id, item.id)),
        || async {
            let api = ctx.cfg.api();
            let report = get(ctx, scope.profile, |who| {
                api.get_report(who, &item.workspace_id, &item.id)
            })
            .await?;
            let report = read_object(&report).map_err(bad)?;
            let ds = report_dataset(&report, &item.workspace_id);
            let (ds_id, ds_ws) = match &ds {
                Some((d, w)) => (Some(d.clone()), w.clone()),
                None => (None, String::new()),
            };
            let mut spaces = vec![item.workspace_id.clone()];
            if ds_id.is_some() && !spaces.contains(&ds_ws) {
                spaces.push(ds_ws.clone());
            }
            let ws_fut = try_join_all(spaces.iter().map(|w| workspace(ctx, w, scope.profile)));
            let (workspaces, dataset) = match &ds_id {
                Some(d) => {
                    let (w, d) = join(ws_fut, dataset(ctx, &ds_ws, d, scope.profile)).await;
                    (w?, Some(d?))
                }
                None => (ws_fut.await?, None),
            };
            Ok(json!({"report": Value::Object(report), "dataset": dataset, "workspaces": workspaces}))
        },
    )
    .await
}

/// A dataset embedded on its own: `{dataset, workspaces: [...]}`.
pub async fn dataset_bundle(
    ctx: &Ctx,
    scope: Scope<'_>,
    item: &PlannedItem,
) -> Result<Value, EdgeError> {
    cached(
        ctx,
        scope.key(&format!("dataset:{}:{}", item.workspace_id, item.id)),
        || async {
            let (w, d) = join(
                workspace(ctx, &item.workspace_id, scope.profile),
                dataset(ctx, &item.workspace_id, &item.id, scope.profile),
            )
            .await;
            Ok(json!({"dataset": d?, "workspaces": [w?]}))
        },
    )
    .await
}

/// Drops this isolate's metadata memory (admin invalidation also bumps the generation in D1).
pub fn forget_memory() {
    MEMORY.with(|m| m.borrow_mut().clear());
}

/// Exactly one GenerateToken V2 call (plus at most one repeat after an Entra refresh, and the retries of
/// the upstream policy).
pub async fn generate_token(
    ctx: &Ctx,
    profile: Option<&str>,
    body: &GenerateTokenRequestV2,
) -> Result<EmbedToken, EdgeError> {
    let api = ctx.cfg.api();
    let answer = call(ctx, Stage::GenerateToken, profile, |who| {
        api.generate_token(who, body)
    })
    .await?;
    Ok(read_embed_token(&answer)?)
}
