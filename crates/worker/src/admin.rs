//! Admin API (`Authorization: Bearer <ADMIN_KEY>`): customers CRUD in D1, cache invalidation, audit log.
//!
//! | route                                   | does                                                      |
//! |-----------------------------------------|-----------------------------------------------------------|
//! | `GET /api/admin/customers`              | list                                                      |
//! | `POST /api/admin/customers`             | create (409 if the id exists)                             |
//! | `GET /api/admin/customers/{id}`         | read                                                      |
//! | `PUT /api/admin/customers/{id}`         | create or replace (bumps the customer's cache generation) |
//! | `DELETE /api/admin/customers/{id}`      | delete                                                    |
//! | `POST /api/admin/customers/{id}/onboard`| a new customer: profile, workspace, imports (`onboard.rs`) |
//! | `GET`/`PUT /api/admin/templates[/{key}]`| the templates onboarding imports, in R2                   |
//! | `POST /api/admin/cache/invalidate`      | `{"customerId"?, "entra"?, "jwks"?}`                      |
//! | `GET /api/admin/audit`                  | `?customerId=&before=&limit=` newest first                |
//! | `POST /api/admin/test-faults`           | `{"auditConsumerFailures": n}`; only with ALLOW_TEST_FAULTS |

use embedgate_edge::customer::{valid_customer_id, Customer};
use embedgate_edge::request::{self, unknown_field, wrong_type};
use embedgate_edge::EdgeError;
use serde_json::{json, Value};
use worker::{Method, Request, Response};

use crate::{auth, entra, http, json_response, log, onboard, powerbi, store, Ctx};

fn not_found() -> EdgeError {
    EdgeError::new(404, "not_found", "No such customer.")
}

fn method_not_allowed(allow: &str) -> EdgeError {
    EdgeError::new(405, "method_not_allowed", format!("Use {allow}.")).with("allow", json!(allow))
}

pub async fn route(
    ctx: &Ctx,
    req: &mut Request,
    method: &Method,
    rest: &[&str],
) -> Result<Response, EdgeError> {
    auth::admin(ctx, req)?;
    match (method, rest) {
        (Method::Get, ["customers"]) => json_response(
            ctx,
            200,
            &json!({"customers": store::list_customers(ctx).await?}),
        ),
        (Method::Post, ["customers"]) => {
            let c = customer_body(ctx, req, None).await?;
            store::put_customer(ctx, &c, true).await?;
            log(ctx, "admin_customer_created", json!({"customer": c.id}));
            json_response(
                ctx,
                201,
                &store::get_customer(ctx, &c.id).await?.unwrap_or_default(),
            )
        }
        (_, ["customers"]) => Err(method_not_allowed("GET, POST")),
        (Method::Get, ["customers", id]) => match store::get_customer(ctx, id).await? {
            Some(c) => json_response(ctx, 200, &c),
            None => Err(not_found()),
        },
        (Method::Put, ["customers", id]) => {
            if !valid_customer_id(id) {
                return Err(EdgeError::bad_request(
                    "invalid_value",
                    "A customer id is 1 to 64 letters, digits, '.', '_' or '-'.",
                ));
            }
            let c = customer_body(ctx, req, Some(id)).await?;
            let created = store::put_customer(ctx, &c, false).await?;
            log(
                ctx,
                "admin_customer_saved",
                json!({"customer": c.id, "created": created}),
            );
            json_response(
                ctx,
                if created { 201 } else { 200 },
                &store::get_customer(ctx, &c.id).await?.unwrap_or_default(),
            )
        }
        (Method::Delete, ["customers", id]) => {
            if store::delete_customer(ctx, id).await? {
                log(ctx, "admin_customer_deleted", json!({"customer": id}));
                json_response(ctx, 200, &json!({"deleted": id}))
            } else {
                Err(not_found())
            }
        }
        (_, ["customers", _]) => Err(method_not_allowed("GET, PUT, DELETE")),
        (Method::Post, ["customers", id, "onboard"]) => onboard::onboard(ctx, req, id).await,
        (_, ["customers", _, "onboard"]) => Err(method_not_allowed("POST")),
        (Method::Get, ["templates"]) => onboard::list_templates(ctx).await,
        (_, ["templates"]) => Err(method_not_allowed("GET")),
        (Method::Put, ["templates", key]) => onboard::put_template(ctx, req, key).await,
        (_, ["templates", _]) => Err(method_not_allowed("PUT")),
        (Method::Post, ["cache", "invalidate"]) => invalidate(ctx, req).await,
        (_, ["cache", "invalidate"]) => Err(method_not_allowed("POST")),
        (Method::Get, ["audit"]) => audit(ctx, req).await,
        (_, ["audit"]) => Err(method_not_allowed("GET")),
        (Method::Post, ["test-faults"]) if ctx.cfg.allow_test_faults => test_faults(ctx, req).await,
        _ => Err(EdgeError::new(404, "not_found", "No such admin route.")),
    }
}

/// Reads a customer document; with `id` (PUT), the body's id may be omitted but must match if given.
async fn customer_body(
    ctx: &Ctx,
    req: &mut Request,
    id: Option<&str>,
) -> Result<Customer, EdgeError> {
    let body = http::read_body(req, ctx.cfg.max_body_bytes).await?;
    let mut value = request::parse_json(&body)?;
    let Value::Object(m) = &mut value else {
        return Err(wrong_type("", "a customer object", &value));
    };
    for k in ["cacheGeneration", "createdAt", "updatedAt"] {
        // Read-only fields of GET answers may be sent back unchanged.
        m.remove(k);
    }
    if let Some(id) = id {
        match m.get("id") {
            None => {
                m.insert("id".into(), json!(id));
            }
            Some(Value::String(s)) if s == id => {}
            Some(_) => {
                return Err(EdgeError::bad_request(
                    "id_mismatch",
                    "The body's id differs from the URL's.",
                )
                .at("/id"))
            }
        }
    }
    Customer::from_value(&value)
}

async fn invalidate(ctx: &Ctx, req: &mut Request) -> Result<Response, EdgeError> {
    let body = http::read_body(req, ctx.cfg.max_body_bytes).await?;
    let opts = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        request::parse_json_object(&body)?
    };
    const FIELDS: &[&str] = &["customerId", "entra", "jwks"];
    for k in opts.keys() {
        if !FIELDS.contains(&k.as_str()) {
            return Err(unknown_field(&format!("/{k}"), FIELDS));
        }
    }
    let customer = match opts.get("customerId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => return Err(wrong_type("/customerId", "a string", other)),
    };
    let flag = |k: &str| -> Result<bool, EdgeError> {
        match opts.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(wrong_type(&format!("/{k}"), "a boolean", other)),
        }
    };
    let (entra_too, jwks_too) = (flag("entra")?, flag("jwks")?);
    let bumped = store::bump_cache(ctx, customer).await?;
    if customer.is_some() && bumped == 0 {
        return Err(not_found().at("/customerId"));
    }
    powerbi::forget_memory();
    if entra_too {
        entra::forget(ctx).await;
    }
    if jwks_too {
        auth::forget_jwks();
    }
    log(
        ctx,
        "admin_cache_invalidated",
        json!({"customers": bumped, "entra": entra_too, "jwks": jwks_too}),
    );
    json_response(
        ctx,
        200,
        &json!({"invalidated": {"customers": bumped, "entra": entra_too, "jwks": jwks_too}}),
    )
}

async fn audit(ctx: &Ctx, req: &Request) -> Result<Response, EdgeError> {
    let url = req
        .url()
        .map_err(|_| EdgeError::bad_request("invalid_url", "Unreadable URL."))?;
    let (mut customer, mut before, mut limit) = (None, None, 50u32);
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "customerId" => customer = Some(v.to_string()),
            "before" => {
                before = Some(v.parse::<i64>().map_err(|_| {
                    EdgeError::bad_request("invalid_value", "before is an audit entry id.")
                        .at("/before")
                })?)
            }
            "limit" => {
                limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=500).contains(l))
                    .ok_or_else(|| {
                        EdgeError::bad_request("invalid_value", "limit is from 1 to 500.")
                            .at("/limit")
                    })?
            }
            other => {
                return Err(unknown_field(
                    &format!("/{other}"),
                    &["customerId", "before", "limit"],
                ))
            }
        }
    }
    let entries = store::audit_list(ctx, customer.as_deref(), before, limit).await?;
    json_response(ctx, 200, &json!({"entries": entries}))
}

const CONSUMER_FAULT_KEY: &str = "fault:audit-consumer";

/// `POST /api/admin/test-faults`: the next `auditConsumerFailures` queue batches fail after their insert.
async fn test_faults(ctx: &Ctx, req: &mut Request) -> Result<Response, EdgeError> {
    let body = http::read_body(req, ctx.cfg.max_body_bytes).await?;
    let v = request::parse_json(&body)?;
    let n = match v.get("auditConsumerFailures") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 100) => n.as_u64().unwrap_or(0),
        Some(other) => {
            return Err(wrong_type(
                "/auditConsumerFailures",
                "an integer from 0 to 100",
                other,
            ))
        }
        None => {
            return Err(
                EdgeError::new(400, "missing_field", "auditConsumerFailures is required.")
                    .at("/auditConsumerFailures"),
            )
        }
    };
    let kv = ctx.env.kv("CACHE").map_err(crate::internal)?;
    kv.put(CONSUMER_FAULT_KEY, n.to_string().as_str())
        .map_err(|e| crate::internal(e.into()))?
        .execute()
        .await
        .map_err(|e| crate::internal(e.into()))?;
    json_response(ctx, 200, &json!({"auditConsumerFailures": n}))
}

/// Whether the consumer should fail this batch (and counts the failure down).
pub async fn take_consumer_fault(env: &worker::Env) -> bool {
    let Ok(kv) = env.kv("CACHE") else {
        return false;
    };
    let left: u64 = kv
        .get(CONSUMER_FAULT_KEY)
        .text()
        .await
        .ok()
        .flatten()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if left == 0 {
        return false;
    }
    if let Ok(put) = kv.put(CONSUMER_FAULT_KEY, (left - 1).to_string().as_str()) {
        let _ = put.execute().await;
    }
    true
}
