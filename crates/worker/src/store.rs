//! D1: customers (configuration documents), rate-limit counters and the audit log. Schema in `migrations/`.

use embedgate_edge::customer::Customer;
use embedgate_edge::{ratelimit, upstream, EdgeError};
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::D1Database;

use crate::{crypto, internal, now_secs, Ctx};

pub fn db(ctx: &Ctx) -> Result<D1Database, EdgeError> {
    ctx.env.d1("DB").map_err(internal)
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn n(v: f64) -> JsValue {
    JsValue::from_f64(v)
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

#[derive(Deserialize)]
struct CountRow {
    count: f64,
}

fn parse_row(row: &CustomerRow) -> Result<Customer, EdgeError> {
    let v: Value = serde_json::from_str(&row.config).map_err(|_| {
        EdgeError::new(
            503,
            "misconfigured",
            "A stored customer configuration is unreadable.",
        )
    })?;
    Customer::from_value(&v).map_err(|_| {
        EdgeError::new(
            503,
            "misconfigured",
            "A stored customer configuration is invalid.",
        )
    })
}

/// A customer, the metadata cache generation, and the rate-limit counters of this request (customer, user):
/// one D1 round trip (a batch is a transaction, so the counts are exact across isolates).
pub struct Loaded {
    pub customer: Customer,
    pub cache_gen: i64,
    pub customer_count: u64,
    pub user_count: u64,
}

pub async fn load_for_request(
    ctx: &Ctx,
    customer_id: &str,
    user_id: &str,
) -> Result<Loaded, EdgeError> {
    let db = db(ctx)?;
    let now = now_secs();
    let (window, _) = ratelimit::window(now);
    let (ck, uk) = ratelimit::keys(customer_id, user_id);
    let upsert = "INSERT INTO rate_counters (key, window_start, count) VALUES (?1, ?2, 1) \
                  ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count";
    let mut stmts = vec![
        db.prepare("SELECT config, cache_gen FROM customers WHERE id = ?1")
            .bind(&[s(customer_id)])
            .map_err(internal)?,
        db.prepare(upsert)
            .bind(&[s(&ck), n(window as f64)])
            .map_err(internal)?,
        db.prepare(upsert)
            .bind(&[s(&uk), n(window as f64)])
            .map_err(internal)?,
    ];
    if crypto::random_u32().is_multiple_of(64) {
        // Occasional cleanup of finished windows.
        stmts.push(
            db.prepare("DELETE FROM rate_counters WHERE window_start < ?1")
                .bind(&[n(window as f64 - 120.0)])
                .map_err(internal)?,
        );
    }
    let results = db.batch(stmts).await.map_err(internal)?;
    let row = results
        .first()
        .map(|r| r.results::<CustomerRow>())
        .transpose()
        .map_err(internal)?
        .and_then(|mut v| v.pop());
    let count = |i: usize| -> u64 {
        results
            .get(i)
            .and_then(|r| r.results::<CountRow>().ok())
            .and_then(|v| v.first().map(|c| c.count as u64))
            .unwrap_or(u64::MAX)
    };
    let Some(row) = row else {
        return Err(EdgeError::forbidden(
            "unknown_customer",
            "Your organisation is not set up for embedding.",
        ));
    };
    Ok(Loaded {
        customer: parse_row(&row)?,
        cache_gen: row.cache_gen as i64,
        customer_count: count(1),
        user_count: count(2),
    })
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
    Ok(r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) > 0)
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
    Ok(r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
}

/// One issued token. Never the token itself.
pub struct AuditEntry<'a> {
    pub customer_id: &'a str,
    pub user_id: &'a str,
    pub flow: &'a str,
    pub profile_id: Option<&'a str>,
    pub token_id: &'a str,
    pub expiration: &'a str,
    pub items: Value,
    pub identity: Value,
}

pub async fn audit(ctx: &Ctx, e: &AuditEntry<'_>) -> Result<(), EdgeError> {
    let now = now_secs();
    db(ctx)?
        .prepare(
            "INSERT INTO audit_log (at, at_unix, customer_id, user_id, flow, profile_id, token_id, expiration, items, identity, request_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(&[
            s(&upstream::rfc3339(now)),
            n(now as f64),
            s(e.customer_id),
            s(e.user_id),
            s(e.flow),
            e.profile_id.map(s).unwrap_or(JsValue::NULL),
            s(e.token_id),
            s(e.expiration),
            s(&e.items.to_string()),
            s(&e.identity.to_string()),
            s(&ctx.request_id),
        ])
        .map_err(internal)?
        .run()
        .await
        .map_err(internal)?;
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
