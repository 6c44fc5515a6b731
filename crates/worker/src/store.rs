//! Customers (configuration documents) and the audit log. D1 is the source of truth (schema in
//! `migrations/`); a warm token reads neither table:
//! - a customer document comes from isolate memory (trusted for CUSTOMER_MEMORY_TTL_SECONDS), then KV (rewritten
//!   by every admin change, with the customer's cache generation), and from D1 only on a miss;
//! - the audit event goes to a queue (`AUDIT`), whose consumer batch-inserts into D1.

use std::cell::RefCell;
use std::collections::HashMap;

use embedgate_edge::customer::Customer;
use embedgate_edge::{upstream, EdgeError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

use crate::{internal, now_ms, now_secs, Ctx, Ops};

pub fn db(ctx: &Ctx) -> Result<D1Database, EdgeError> {
    ctx.env.d1("DB").map_err(internal)
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn n(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

/// Rows a write changed (0 when D1 reports no meta).
fn changes(r: &D1Result) -> usize {
    r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)
}

/// Counts one D1 query of this request.
fn q(ctx: &Ctx) {
    Ops::add(&ctx.ops.d1, 1);
}

#[derive(Deserialize)]
struct CustomerRow {
    config: String,
    cache_gen: f64,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

fn parse_config(v: &Value) -> Result<Customer, EdgeError> {
    Customer::from_value(v).map_err(|_| {
        EdgeError::new(
            503,
            "misconfigured",
            "A stored customer configuration is invalid.",
        )
    })
}

fn parse_row(row: &CustomerRow) -> Result<Customer, EdgeError> {
    let v: Value = serde_json::from_str(&row.config).map_err(|_| {
        EdgeError::new(
            503,
            "misconfigured",
            "A stored customer configuration is unreadable.",
        )
    })?;
    parse_config(&v)
}

/// A customer and its metadata cache generation (the metadata cache keys carry it).
#[derive(Clone)]
pub struct Loaded {
    pub customer: Customer,
    pub cache_gen: i64,
}

/// KV keeps a copy for an hour at most: a change made to D1 behind the admin API's back shows within that.
const KV_CUSTOMER_TTL_SECONDS: u64 = 3_600;

fn kv_key(id: &str) -> String {
    format!("customer:v1:{id}")
}

/// What KV holds for one customer.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    cache_gen: i64,
    config: Value,
}

thread_local! {
    /// Customer id -> (the customer, or None when D1 has none; when it was read, ms).
    static MEMORY: RefCell<HashMap<String, (Option<Loaded>, f64)>> = RefCell::new(HashMap::new());
}
const MEMORY_MAX: usize = 10_000;

fn remember(id: &str, v: Option<Loaded>) {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMORY_MAX {
            m.clear();
        }
        m.insert(id.to_string(), (v, now_ms()));
    });
}

/// Drops this isolate's copies (admin changes; other isolates follow within the memory TTL).
pub fn forget(id: Option<&str>) {
    MEMORY.with(|m| match id {
        Some(id) => {
            m.borrow_mut().remove(id);
        }
        None => m.borrow_mut().clear(),
    });
}

fn unknown_customer() -> EdgeError {
    EdgeError::forbidden(
        "unknown_customer",
        "Your organisation is not set up for embedding.",
    )
}

/// The customer of a request: memory, then KV, then D1 (which also refills KV).
pub async fn load_customer(ctx: &Ctx, id: &str) -> Result<Loaded, EdgeError> {
    let ttl_ms = (ctx.cfg.customer_memory_ttl_seconds * 1000) as f64;
    let hit = MEMORY.with(|m| {
        m.borrow()
            .get(id)
            .filter(|(_, at)| now_ms() - at < ttl_ms)
            .map(|(v, _)| v.clone())
    });
    if let Some(v) = hit {
        return v.ok_or_else(unknown_customer);
    }
    let kv = ctx.env.kv("CACHE").map_err(internal)?;
    Ops::add(&ctx.ops.kv_get, 1);
    // Stored as JSON text: workers-rs would serialise a serde_json::Value's objects as JS Maps ("{}").
    let stored = kv
        .get(&kv_key(id))
        .text()
        .await
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str::<Stored>(&t).ok());
    if let Some(st) = stored {
        let loaded = Loaded {
            customer: parse_config(&st.config)?,
            cache_gen: st.cache_gen,
        };
        remember(id, Some(loaded.clone()));
        return Ok(loaded);
    }
    let loaded = read_and_publish(ctx, id).await?;
    remember(id, loaded.clone());
    loaded.ok_or_else(unknown_customer)
}

/// Reads one customer from D1 and writes KV's copy (or removes it): the step every admin change ends with.
async fn read_and_publish(ctx: &Ctx, id: &str) -> Result<Option<Loaded>, EdgeError> {
    q(ctx);
    let row = db(ctx)?
        .prepare("SELECT config, cache_gen FROM customers WHERE id = ?1")
        .bind(&[s(id)])
        .map_err(internal)?
        .first::<CustomerRow>(None)
        .await
        .map_err(internal)?;
    let kv = ctx.env.kv("CACHE").map_err(internal)?;
    let Some(row) = row else {
        Ops::add(&ctx.ops.kv_put, 1);
        kv.delete(&kv_key(id))
            .await
            .map_err(|e| internal(e.into()))?;
        return Ok(None);
    };
    let loaded = Loaded {
        customer: parse_row(&row)?,
        cache_gen: row.cache_gen as i64,
    };
    let text = serde_json::to_string(&Stored {
        cache_gen: loaded.cache_gen,
        config: loaded.customer.to_value(),
    })
    .unwrap_or_default();
    Ops::add(&ctx.ops.kv_put, 1);
    kv.put(&kv_key(id), text.as_str())
        .map_err(|e| internal(e.into()))?
        .expiration_ttl(KV_CUSTOMER_TTL_SECONDS)
        .execute()
        .await
        .map_err(|e| internal(e.into()))?;
    Ok(Some(loaded))
}

/// After an admin change to `id` (or to every customer): KV gets D1's new state and this isolate forgets its copy.
pub async fn publish(ctx: &Ctx, id: Option<&str>) -> Result<(), EdgeError> {
    let ids: Vec<String> = match id {
        Some(id) => vec![id.to_string()],
        None => {
            q(ctx);
            #[derive(Deserialize)]
            struct Id {
                id: String,
            }
            db(ctx)?
                .prepare("SELECT id FROM customers")
                .all()
                .await
                .map_err(internal)?
                .results::<Id>()
                .map_err(internal)?
                .into_iter()
                .map(|r| r.id)
                .collect()
        }
    };
    for id in &ids {
        read_and_publish(ctx, id).await?;
    }
    forget(id);
    Ok(())
}

fn with_meta(c: &Customer, row: &CustomerRow) -> Value {
    let mut v = c.to_value();
    v["cacheGeneration"] = json!(row.cache_gen as i64);
    v["createdAt"] = json!(row.created_at);
    v["updatedAt"] = json!(row.updated_at);
    v
}

pub async fn list_customers(ctx: &Ctx) -> Result<Vec<Value>, EdgeError> {
    let rows = db(ctx)?
        .prepare("SELECT config, cache_gen, created_at, updated_at FROM customers ORDER BY id")
        .all()
        .await
        .map_err(internal)?
        .results::<CustomerRow>()
        .map_err(internal)?;
    rows.iter()
        .map(|r| parse_row(r).map(|c| with_meta(&c, r)))
        .collect()
}

pub async fn get_customer(ctx: &Ctx, id: &str) -> Result<Option<Value>, EdgeError> {
    let row = db(ctx)?
        .prepare("SELECT config, cache_gen, created_at, updated_at FROM customers WHERE id = ?1")
        .bind(&[s(id)])
        .map_err(internal)?
        .first::<CustomerRow>(None)
        .await
        .map_err(internal)?;
    row.map(|r| parse_row(&r).map(|c| with_meta(&c, &r)))
        .transpose()
}

/// Inserts or replaces; a replacement bumps the cache generation (its metadata may have changed).
/// Returns whether the customer was created.
/// One profile per customer, and a profile-flow customer's workspaces serve that customer alone: a document
/// that would share either with another customer is refused (409) before it is written.
async fn check_ownership(db: &D1Database, c: &Customer) -> Result<(), EdgeError> {
    let other = |v: Option<Value>| v.and_then(|v| v["id"].as_str().map(str::to_string));
    if let Some(p) = &c.profile_id {
        let row = db
            .prepare("SELECT id FROM customers WHERE id != ?1 AND profile_id = ?2 LIMIT 1")
            .bind(&[s(&c.id), s(p)])
            .map_err(internal)?
            .first::<Value>(None)
            .await
            .map_err(internal)?;
        if let Some(o) = other(row) {
            return Err(EdgeError::new(
                409,
                "profile_in_use",
                format!("Profile {p} is customer {o}'s: a profile serves one customer."),
            )
            .at("/profileId"));
        }
    }
    let workspaces = serde_json::to_string(&c.workspaces).map_err(|e| internal(e.into()))?;
    // A profile-flow document: no other customer may reference its workspaces. Any document: it may not
    // reference another profile-flow customer's workspace.
    let sql = "SELECT c.id AS id, w.value AS ws FROM customers c, json_each(c.config, '$.workspaces') w                WHERE c.id != ?1 AND (?2 = 'profile' OR c.flow = 'profile')                AND lower(w.value) IN (SELECT lower(value) FROM json_each(?3)) LIMIT 1";
    let row = db
        .prepare(sql)
        .bind(&[s(&c.id), s(c.flow.as_str()), s(&workspaces)])
        .map_err(internal)?
        .first::<Value>(None)
        .await
        .map_err(internal)?;
    if let Some(row) = row {
        let (o, ws) = (
            row["id"].as_str().unwrap_or_default(),
            row["ws"].as_str().unwrap_or_default(),
        );
        let at = c
            .workspaces
            .iter()
            .position(|w| w.eq_ignore_ascii_case(ws))
            .unwrap_or(0);
        return Err(EdgeError::new(
            409,
            "workspace_in_use",
            format!("Workspace {ws} is used by customer {o}: a profile's workspace serves one customer."),
        )
        .at(format!("/workspaces/{at}")));
    }
    Ok(())
}

pub async fn put_customer(ctx: &Ctx, c: &Customer, create_only: bool) -> Result<bool, EdgeError> {
    let db = db(ctx)?;
    let exists = db
        .prepare("SELECT 1 AS one FROM customers WHERE id = ?1")
        .bind(&[s(&c.id)])
        .map_err(internal)?
        .first::<Value>(None)
        .await
        .map_err(internal)?
        .is_some();
    if exists && create_only {
        return Err(EdgeError::new(
            409,
            "customer_exists",
            format!("Customer {} already exists; use PUT to replace it.", c.id),
        )
        .at("/id"));
    }
    check_ownership(&db, c).await?;
    let now = upstream::rfc3339(now_secs());
    let config = c.to_value().to_string();
    let sql = "INSERT INTO customers (id, name, flow, profile_id, enabled, config, cache_gen, created_at, updated_at) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7) \
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, flow = excluded.flow, profile_id = excluded.profile_id, \
               enabled = excluded.enabled, config = excluded.config, cache_gen = customers.cache_gen + 1, updated_at = excluded.updated_at";
    db.prepare(sql)
        .bind(&[
            s(&c.id),
            s(&c.name),
            s(c.flow.as_str()),
            c.profile_id.as_deref().map(s).unwrap_or(JsValue::NULL),
            n(if c.enabled { 1.0 } else { 0.0 }),
            s(&config),
            s(&now),
        ])
        .map_err(internal)?
        .run()
        .await
        .map_err(internal)?;
    publish(ctx, Some(&c.id)).await?;
    Ok(!exists)
}

pub async fn delete_customer(ctx: &Ctx, id: &str) -> Result<bool, EdgeError> {
    let r = db(ctx)?
        .prepare("DELETE FROM customers WHERE id = ?1")
        .bind(&[s(id)])
        .map_err(internal)?
        .run()
        .await
        .map_err(internal)?;
    publish(ctx, Some(id)).await?;
    Ok(changes(&r) > 0)
}

/// Bumps the metadata cache generation of one customer (or all). Returns how many were bumped.
pub async fn bump_cache(ctx: &Ctx, id: Option<&str>) -> Result<usize, EdgeError> {
    let db = db(ctx)?;
    let stmt = match id {
        Some(id) => db
            .prepare("UPDATE customers SET cache_gen = cache_gen + 1 WHERE id = ?1")
            .bind(&[s(id)])
            .map_err(internal)?,
        None => db.prepare("UPDATE customers SET cache_gen = cache_gen + 1"),
    };
    let r = stmt.run().await.map_err(internal)?;
    publish(ctx, id).await?;
    Ok(changes(&r))
}

/// One issued token, as queued and as stored. Never the token itself.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub at: String,
    pub at_unix: u64,
    pub customer_id: String,
    pub user_id: String,
    pub flow: String,
    pub profile_id: Option<String>,
    pub token_id: String,
    pub expiration: String,
    pub items: Value,
    pub identity: Value,
    pub request_id: String,
}

/// Hands the event to the audit queue. `send` resolves once the queue has durably accepted the message, and the
/// token is returned only after that (an error here fails the request).
pub async fn audit(ctx: &Ctx, e: &AuditEvent) -> Result<(), EdgeError> {
    Ops::add(&ctx.ops.queue, 1);
    let queue = ctx.env.queue("AUDIT").map_err(internal)?;
    // JSON text, not a structured clone: workers-rs would turn serde_json maps into JS Maps.
    let body = serde_json::to_string(e).unwrap_or_default();
    queue.send(body).await.map_err(internal)
}

/// The queue consumer's write: one D1 batch (a transaction) per message batch. `INSERT OR IGNORE` on the unique
/// token id makes a redelivered batch write nothing twice.
pub async fn insert_audit_batch(env: &Env, events: &[AuditEvent]) -> worker::Result<()> {
    let db = env.d1("DB")?;
    let stmts: Vec<D1PreparedStatement> = events
        .iter()
        .map(|e| {
            db.prepare(
                "INSERT OR IGNORE INTO audit_log (at, at_unix, customer_id, user_id, flow, profile_id, token_id, expiration, items, identity, request_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .bind(&[
                s(&e.at),
                n(e.at_unix as f64),
                s(&e.customer_id),
                s(&e.user_id),
                s(&e.flow),
                e.profile_id.as_deref().map(s).unwrap_or(JsValue::NULL),
                s(&e.token_id),
                s(&e.expiration),
                s(&e.items.to_string()),
                s(&e.identity.to_string()),
                s(&e.request_id),
            ])
        })
        .collect::<worker::Result<_>>()?;
    if !stmts.is_empty() {
        db.batch(stmts).await?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct AuditRow {
    id: f64,
    at: String,
    customer_id: String,
    user_id: String,
    flow: String,
    profile_id: Option<String>,
    token_id: String,
    expiration: String,
    items: String,
    identity: String,
    request_id: Option<String>,
}

/// Newest first; `before` pages by id.
pub async fn audit_list(
    ctx: &Ctx,
    customer: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Value>, EdgeError> {
    let rows = db(ctx)?
        .prepare(
            "SELECT id, at, customer_id, user_id, flow, profile_id, token_id, expiration, items, identity, request_id \
             FROM audit_log WHERE (?1 IS NULL OR customer_id = ?1) AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        )
        .bind(&[customer.map(s).unwrap_or(JsValue::NULL), before.map(|b| n(b as f64)).unwrap_or(JsValue::NULL), n(limit as f64)])
        .map_err(internal)?
        .all()
        .await
        .map_err(internal)?
        .results::<AuditRow>()
        .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id as i64, "at": r.at, "customerId": r.customer_id, "userId": r.user_id, "flow": r.flow,
                "profileId": r.profile_id, "tokenId": r.token_id, "expiration": r.expiration,
                "items": serde_json::from_str::<Value>(&r.items).unwrap_or(Value::Null),
                "identity": serde_json::from_str::<Value>(&r.identity).unwrap_or(Value::Null),
                "requestId": r.request_id,
            })
        })
        .collect())
}

/// An onboarding's recorded request and progress (`migrations/0003_onboarding.sql`).
#[derive(Deserialize)]
pub struct OnboardingRow {
    pub request: String,
    pub progress: String,
}

pub async fn get_onboarding(ctx: &Ctx, id: &str) -> Result<Option<OnboardingRow>, EdgeError> {
    q(ctx);
    db(ctx)?
        .prepare("SELECT request, progress FROM onboarding WHERE customer_id = ?1")
        .bind(&[s(id)])
        .map_err(internal)?
        .first::<OnboardingRow>(None)
        .await
        .map_err(internal)
}

pub async fn save_onboarding(
    ctx: &Ctx,
    id: &str,
    request: &str,
    progress: &str,
) -> Result<(), EdgeError> {
    q(ctx);
    db(ctx)?
        .prepare(
            "INSERT INTO onboarding (customer_id, request, progress, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (customer_id) DO UPDATE SET request = excluded.request, progress = excluded.progress, \
             updated_at = excluded.updated_at",
        )
        .bind(&[s(id), s(request), s(progress), s(&upstream::rfc3339(now_secs()))])
        .map_err(internal)?
        .run()
        .await
        .map_err(internal)?;
    Ok(())
}

/// Takes the customer's onboarding lease (`migrations/0004_onboarding_lease.sql`) until `until` (unix seconds)
/// if it is free or ran out. `Ok(None)`: taken; `Ok(Some(until))`: another call holds it until then.
pub async fn claim_onboarding(
    ctx: &Ctx,
    id: &str,
    holder: &str,
    until: u64,
) -> Result<Option<u64>, EdgeError> {
    q(ctx);
    let r = db(ctx)?
        .prepare(
            "INSERT INTO onboarding_leases (customer_id, holder, until_unix) VALUES (?1, ?2, ?3) \
             ON CONFLICT (customer_id) DO UPDATE SET holder = excluded.holder, until_unix = excluded.until_unix \
             WHERE onboarding_leases.until_unix <= ?4",
        )
        .bind(&[s(id), s(holder), n(until as f64), n(now_secs() as f64)])
        .map_err(internal)?
        .run()
        .await
        .map_err(internal)?;
    if changes(&r) > 0 {
        return Ok(None);
    }
    q(ctx);
    let held: Option<f64> = db(ctx)?
        .prepare("SELECT until_unix FROM onboarding_leases WHERE customer_id = ?1")
        .bind(&[s(id)])
        .map_err(internal)?
        .first(Some("until_unix"))
        .await
        .map_err(internal)?;
    Ok(Some(held.map_or(until, |u| u as u64)))
}

/// Extends the lease this call holds; false when it has lost it (it ran out and another call took it).
pub async fn renew_onboarding(
    ctx: &Ctx,
    id: &str,
    holder: &str,
    until: u64,
) -> Result<bool, EdgeError> {
    q(ctx);
    let r = db(ctx)?
        .prepare(
            "UPDATE onboarding_leases SET until_unix = ?3 WHERE customer_id = ?1 AND holder = ?2",
        )
        .bind(&[s(id), s(holder), n(until as f64)])
        .map_err(internal)?
        .run()
        .await
        .map_err(internal)?;
    Ok(changes(&r) > 0)
}

/// Gives the lease back, if this call still holds it.
pub async fn release_onboarding(ctx: &Ctx, id: &str, holder: &str) -> Result<(), EdgeError> {
    q(ctx);
    db(ctx)?
        .prepare("DELETE FROM onboarding_leases WHERE customer_id = ?1 AND holder = ?2")
        .bind(&[s(id), s(holder)])
        .map_err(internal)?
        .run()
        .await
        .map_err(internal)?;
    Ok(())
}
