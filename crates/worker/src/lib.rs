//! Embedgate's edge token endpoint: a Cloudflare Worker that mints Power BI embed tokens per service
//! principal profile. See README.md for routes, configuration, status codes and the security model.
//!
//! This crate only does I/O (routing, fetch, D1, KV, crypto glue); every decision lives in
//! `embedgate_edge` and is unit-tested natively.

mod admin;
mod auth;
pub mod crypto;
mod entra;
mod flight;
mod http;
mod limiter;
mod onboard;
mod powerbi;
mod store;
mod token;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use embedgate_edge::config::{Config, LogLevel};
use embedgate_edge::{cors, EdgeError};
use serde_json::{json, Value};
use worker::{event, Context, Env, MessageExt, Method, Request, Response};

/// Everything a handler needs about the current request.
pub struct Ctx {
    pub env: Env,
    pub cfg: Rc<Config>,
    pub request_id: String,
    /// `Date.now()` when the request arrived; upstream deadlines count from here.
    pub started_ms: f64,
    /// The request's `Origin` when it is on the allow-list.
    pub cors_origin: Option<String>,
    /// Storage and platform operations of this request (`x-embedgate-ops` when EXPOSE_OP_COUNTS is on).
    pub ops: Ops,
}

/// Counts of the platform operations one request makes: what the scaling design promises (0 D1 queries on a
/// warm token) is checked by counting them.
#[derive(Default)]
pub struct Ops {
    pub d1: Cell<u32>,
    pub kv_get: Cell<u32>,
    pub kv_put: Cell<u32>,
    pub durable_object: Cell<u32>,
    pub queue: Cell<u32>,
}

impl Ops {
    pub fn add(c: &Cell<u32>, n: u32) {
        c.set(c.get() + n);
    }
    fn header(&self) -> String {
        format!(
            "d1={}, kv-get={}, kv-put={}, do={}, queue={}",
            self.d1.get(),
            self.kv_get.get(),
            self.kv_put.get(),
            self.durable_object.get(),
            self.queue.get()
        )
    }
}

impl Ctx {
    pub fn elapsed_ms(&self) -> u64 {
        (now_ms() - self.started_ms).max(0.0) as u64
    }
    pub fn secret(&self, name: &str) -> Option<String> {
        self.env
            .secret(name)
            .ok()
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
    }
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub fn now_secs() -> u64 {
    (now_ms() / 1000.0) as u64
}

thread_local! {
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

fn config(env: &Env) -> Result<Rc<Config>, EdgeError> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let cfg = Rc::new(Config::from_lookup(|name| {
        env.var(name).ok().map(|v| v.to_string())
    })?);
    CONFIG.with(|c| *c.borrow_mut() = Some(cfg.clone()));
    Ok(cfg)
}

/// Logs one line at `level` (no secrets, no tokens: callers pass ids, codes and statuses only).
pub fn log_at(ctx: &Ctx, level: LogLevel, event: &str, fields: Value) {
    if level > ctx.cfg.log_level {
        return;
    }
    let mut line = json!({"rid": ctx.request_id, "event": event});
    if let (Value::Object(l), Value::Object(f)) = (&mut line, fields) {
        l.extend(f);
    }
    match level {
        LogLevel::Error => worker::console_error!("{}", line),
        LogLevel::Warn => worker::console_warn!("{}", line),
        _ => worker::console_log!("{}", line),
    }
}

/// Logs one `info` line.
pub fn log(ctx: &Ctx, event: &str, fields: Value) {
    log_at(ctx, LogLevel::Info, event, fields);
}

/// Logs one `warn` line.
pub fn warn(ctx: &Ctx, event: &str, fields: Value) {
    log_at(ctx, LogLevel::Warn, event, fields);
}

/// The audit queue's consumer: one D1 batch per message batch. On failure the whole batch is redelivered
/// (up to `max_retries`, then the dead-letter queue), and `INSERT OR IGNORE` keeps a redelivery from
/// writing any row twice.
#[event(queue)]
async fn audit_consumer(
    batch: worker::MessageBatch<String>,
    env: Env,
    _ctx: Context,
) -> worker::Result<()> {
    let messages = batch.messages()?;
    let mut events = Vec::with_capacity(messages.len());
    for m in &messages {
        match serde_json::from_str::<store::AuditEvent>(m.body()) {
            Ok(e) => events.push(e),
            // Can never succeed: logged (no content) and acknowledged with the rest.
            Err(_) => worker::console_error!(
                "{}",
                json!({"event": "audit_message_unreadable", "id": m.id()})
            ),
        }
    }
    store::insert_audit_batch(&env, &events).await?;
    if config(&env).is_ok_and(|c| c.allow_test_faults) && admin::take_consumer_fault(&env).await {
        // After the insert: a consumer that wrote and then failed before acknowledging.
        return Err(worker::Error::RustError(
            "injected audit consumer failure".into(),
        ));
    }
    batch.ack_all();
    Ok(())
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _worker_ctx: Context) -> worker::Result<Response> {
    let started_ms = now_ms();
    let request_id = crypto::request_id();
    let path = req.path();
    let method = req.method();
    let origin = req.headers().get("origin").ok().flatten();
    let cfg = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!(
                "{}",
                json!({"rid": request_id, "event": "config_error", "error": e.message})
            );
            let mut r = error_response(&e, None);
            r.headers_mut().set("x-request-id", &request_id)?;
            return Ok(r);
        }
    };
    let cors_origin = origin
        .filter(|o| cors::allowed(o, &cfg.allowed_origins) && !path.starts_with("/api/admin"));
    let ctx = Ctx {
        env,
        cfg,
        request_id,
        started_ms,
        cors_origin,
        ops: Ops::default(),
    };
    let result = route(&ctx, &mut req, &method, &path).await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            if e.status >= 500 {
                warn(
                    &ctx,
                    "error",
                    json!({"path": path, "status": e.status, "code": e.code}),
                );
            }
            error_response(&e, ctx.cors_origin.as_deref())
        }
    };
    let h = resp.headers_mut();
    h.set("x-request-id", &ctx.request_id)?;
    if ctx.cfg.expose_op_counts {
        h.set("x-embedgate-ops", &ctx.ops.header())?;
    }
    log_at(
        &ctx,
        LogLevel::Debug,
        "request",
        json!({"method": method.to_string(), "path": path, "status": resp.status_code(), "ms": ctx.elapsed_ms()}),
    );
    Ok(resp)
}

async fn route(
    ctx: &Ctx,
    req: &mut Request,
    method: &Method,
    path: &str,
) -> Result<Response, EdgeError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if *method == Method::Options {
        if segs.first() == Some(&"api") && segs.get(1) != Some(&"admin") {
            let h = req.headers();
            let get = |n: &str| h.get(n).ok().flatten();
            let headers = cors::preflight(
                get("origin").as_deref(),
                get("access-control-request-method").as_deref(),
                get("access-control-request-headers").as_deref(),
                &ctx.cfg.allowed_origins,
            )?;
            let mut r = Response::empty().map_err(internal)?.with_status(204);
            for (k, v) in headers {
                r.headers_mut().set(k, &v).map_err(internal)?;
            }
            for (k, v) in cors::SECURITY_HEADERS {
                r.headers_mut().set(k, v).map_err(internal)?;
            }
            return Ok(r);
        }
        return Err(EdgeError::forbidden(
            "origin_not_allowed",
            "Cross-origin calls are not allowed here.",
        ));
    }
    match (method, segs.as_slice()) {
        (Method::Post, ["api", "token"]) => token::mint(ctx, req).await,
        (Method::Get, ["api", "reports"]) => token::reports(ctx, req).await,
        (Method::Post, ["api", "validate"]) => token::validate(ctx, req).await,
        (Method::Get, ["api", "health"]) => json_response(ctx, 200, &json!({"status": "ok"})),
        (Method::Get, ["api", "portal", "config"]) => portal_config(ctx),
        (_, ["api", "admin", rest @ ..]) => admin::route(ctx, req, method, rest).await,
        (_, ["api", "token"]) | (_, ["api", "validate"]) => Err(method_not_allowed("POST")),
        (_, ["api", "reports"]) | (_, ["api", "health"]) => Err(method_not_allowed("GET")),
        _ => Err(EdgeError::new(404, "not_found", "No such route.")),
    }
}

/// `GET /api/portal/config`: where the demo portal signs its users in (public values only: the IdP's
/// endpoints, the client id the worker expects as `aud`, the issuer).
fn portal_config(ctx: &Ctx) -> Result<Response, EdgeError> {
    let cfg = &ctx.cfg;
    match (&cfg.portal_authorize_url, &cfg.portal_token_url) {
        (Some(authorize), Some(token)) => json_response(
            ctx,
            200,
            &json!({"authorizationEndpoint": authorize, "tokenEndpoint": token,
                    "clientId": cfg.jwt_audience, "issuer": cfg.jwt_issuer}),
        ),
        _ => Err(EdgeError::new(
            404,
            "portal_not_configured",
            "The demo portal's sign-in is not configured: set PORTAL_AUTHORIZE_URL and PORTAL_TOKEN_URL.",
        )),
    }
}

fn method_not_allowed(allow: &str) -> EdgeError {
    EdgeError::new(405, "method_not_allowed", format!("Use {allow}.")).with("allow", json!(allow))
}

/// Maps runtime errors (D1, KV, JS) to a 503 without their text (it is logged, not sent).
pub fn internal(e: worker::Error) -> EdgeError {
    worker::console_error!(
        "{}",
        json!({"event": "runtime_error", "error": e.to_string()})
    );
    EdgeError::new(
        503,
        "storage_unavailable",
        "A storage or runtime dependency failed; try again.",
    )
    .retry_after(1)
}

fn with_common_headers(resp: &mut Response, cors_origin: Option<&str>) {
    let h = resp.headers_mut();
    for (k, v) in cors::SECURITY_HEADERS {
        let _ = h.set(k, v);
    }
    if let Some(o) = cors_origin {
        for (k, v) in cors::response_headers(o) {
            let _ = h.set(k, &v);
        }
    }
}

/// A JSON answer with the security (and CORS) headers.
pub fn json_response(
    ctx: &Ctx,
    status: u16,
    body: &impl serde::Serialize,
) -> Result<Response, EdgeError> {
    let mut r = Response::from_json(body)
        .map_err(internal)?
        .with_status(status);
    with_common_headers(&mut r, ctx.cors_origin.as_deref());
    Ok(r)
}

fn error_response(e: &EdgeError, cors_origin: Option<&str>) -> Response {
    let mut r = Response::from_json(&e.body())
        .unwrap_or_else(|_| Response::empty().unwrap())
        .with_status(e.status);
    with_common_headers(&mut r, cors_origin);
    let h = r.headers_mut();
    if let Some(s) = e.retry_after {
        let _ = h.set("retry-after", &s.to_string());
    }
    if let Some(Value::String(allow)) = e.details.get("allow") {
        let _ = h.set("allow", allow);
    }
    if e.status == 401 {
        let scheme = if e.code.starts_with("admin") {
            "Bearer realm=\"embedgate-admin\""
        } else {
            "Bearer error=\"invalid_token\""
        };
        let _ = h.set("www-authenticate", scheme);
    }
    r
}
