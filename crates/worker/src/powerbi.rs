//! Power BI REST calls, made as the customer's profile (`X-PowerBI-Profile-Id`) in the profile flow or as
//! the service principal in the legacy flow. A 401 (or 403 TokenExpired) refreshes the Entra token once.
//! Metadata is cached per (caller, customer cache generation, item) in isolate memory and KV.

use std::cell::RefCell;
use std::collections::HashMap;

use embedgate_core::edge::config::path_segment;
use embedgate_core::edge::customer::PlannedItem;
use embedgate_core::edge::upstream::{map_failure, parse_embed_token, Failure, Stage};
use embedgate_core::edge::EdgeError;
use embedgate_core::powerbi::{EmbedToken, GenerateTokenRequestV2};
use futures_util::future::{join, try_join_all};
use serde_json::{json, Value};
use worker::Method;

use crate::http::{self, Call};
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

fn needs_refresh(f: &Failure) -> bool {
    match f {
        Failure::Status { status: 401, .. } => true,
        Failure::Status {
            status: 403, body, ..
        } => body.contains("TokenExpired"),
        _ => false,
    }
}

/// One Power BI call with retries; a refused Entra token is refreshed once.
async fn call(
    ctx: &Ctx,
    stage: Stage,
    what: &str,
    method: Method,
    path: &str,
    profile: Option<&str>,
    body: Option<String>,
) -> Result<String, EdgeError> {
    let mut token = entra::token(ctx, None).await?;
    let mut refreshed = false;
    loop {
        let mut headers = vec![
            ("authorization", format!("Bearer {token}")),
            ("accept", "application/json".to_string()),
        ];
        if let Some(p) = profile {
            headers.push(("x-powerbi-profile-id", p.to_string()));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json".to_string()));
        }
        let c = Call {
            method: method.clone(),
            url: format!("{}{path}", ctx.cfg.pbi_api_base),
            headers,
            body: body.clone(),
        };
        match http::send(ctx, what, &c).await {
            Ok(b) => return Ok(b),
            Err(f) if needs_refresh(&f) && !refreshed => {
                crate::warn(ctx, "entra_token_refused", json!({"call": what}));
                token = entra::token(ctx, Some(&token)).await?;
                refreshed = true;
            }
            Err(f) => return Err(map_failure(stage, &f)),
        }
    }
}

async fn get_json(
    ctx: &Ctx,
    what: &str,
    path: &str,
    profile: Option<&str>,
) -> Result<Value, EdgeError> {
    let body = call(ctx, Stage::Metadata, what, Method::Get, path, profile, None).await?;
    let v: Value =
        serde_json::from_str(&body).map_err(|_| map_failure(Stage::Metadata, &Failure::BadBody))?;
    if !v.is_object() {
        return Err(map_failure(Stage::Metadata, &Failure::BadBody));
    }
    Ok(v)
}

fn group_path(ws: &str) -> String {
    format!("/v1.0/myorg/groups/{}", path_segment(ws))
}

/// `GET group` with `users` from `GET group users` (best effort: without them workspace access stays unknown).
async fn workspace(ctx: &Ctx, ws: &str, profile: Option<&str>) -> Result<Value, EdgeError> {
    let path = group_path(ws);
    let users_path = format!("{path}/users");
    let (group, users) = join(
        get_json(ctx, "powerbi.getGroup", &path, profile),
        get_json(ctx, "powerbi.getGroupUsers", &users_path, profile),
    )
    .await;
    let mut group = group?;
    strip_odata(&mut group);
    if let Ok(u) = users {
        if let Some(list) = u.get("value").filter(|v| v.is_array()) {
            group["users"] = list.clone();
        }
    }
    Ok(group)
}

async fn dataset(ctx: &Ctx, ws: &str, id: &str, profile: Option<&str>) -> Result<Value, EdgeError> {
    let path = format!("{}/datasets/{}", group_path(ws), path_segment(id));
    let sources_path = format!("{path}/datasources");
    let (ds, sources) = join(
        get_json(ctx, "powerbi.getDataset", &path, profile),
        get_json(ctx, "powerbi.getDatasources", &sources_path, profile),
    )
    .await;
    let mut ds = ds?;
    strip_odata(&mut ds);
    if let Some(list) = sources?.get("value").filter(|v| v.is_array()) {
        ds["datasources"] = list.clone();
    }
    Ok(ds)
}

fn strip_odata(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !k.starts_with("@odata"));
    }
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
        map_failure(Stage::Metadata, &Failure::Timeout)
    })
    .await?
    {
        Ok(v) => return Ok(v),
        Err(lead) => lead,
    };
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
            let path = format!(
                "{}/reports/{}",
                group_path(&item.workspace_id),
                path_segment(&item.id)
            );
            let mut report = get_json(ctx, "powerbi.getReport", &path, scope.profile).await?;
            strip_odata(&mut report);
            let ds_id = report
                .get("datasetId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let ds_ws = report
                .get("datasetWorkspaceId")
                .and_then(Value::as_str)
                .unwrap_or(&item.workspace_id)
                .to_ascii_lowercase();
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
            Ok(json!({"report": report, "dataset": dataset, "workspaces": workspaces}))
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
    let json = serde_json::to_string(body)
        .map_err(|_| EdgeError::new(503, "internal", "Could not encode the request."))?;
    let answer = call(
        ctx,
        Stage::GenerateToken,
        "powerbi.generateToken",
        Method::Post,
        "/v1.0/myorg/GenerateToken",
        profile,
        Some(json),
    )
    .await?;
    parse_embed_token(&answer)
}
