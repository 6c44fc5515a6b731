//! Rate-limit counters: one Durable Object per customer (`idFromName(customer id)`). An object handles its
//! requests one at a time, so its counts are exact whichever isolate or location the tokens come from, and no
//! customer's traffic reaches another customer's object. The arithmetic is `embedgate_edge::ratelimit`.
//!
//! Counts live in the object's memory. The runtime evicts an object only after it has been idle, longer than
//! the 60 s window, so an eviction loses no live count; a deploy restarts objects and so starts a new window
//! early (docs/scaling.md).

use std::cell::RefCell;

use embedgate_edge::ratelimit::Counter;
use embedgate_edge::EdgeError;
use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

use crate::{internal, now_secs, Ctx, Ops};

#[durable_object]
pub struct RateLimiter {
    counter: RefCell<Counter>,
}

impl DurableObject for RateLimiter {
    fn new(_state: State, _env: Env) -> Self {
        Self {
            counter: RefCell::new(Counter::default()),
        }
    }

    /// Body: the user id. Answer: this window's counts, this request included.
    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let user = req.text().await?;
        let (customer, user) = self.counter.borrow_mut().hit(&user, now_secs());
        Response::from_json(&json!({"customer": customer, "user": user}))
    }
}

#[derive(Deserialize)]
struct Counts {
    customer: u64,
    user: u64,
}

/// Counts one request of `user` in `customer`'s object: (customer count, user count).
pub async fn hit(ctx: &Ctx, customer: &str, user: &str) -> Result<(u64, u64), EdgeError> {
    Ops::add(&ctx.ops.durable_object, 1);
    let stub = ctx
        .env
        .durable_object("RATE_LIMITER")
        .and_then(|ns| ns.id_from_name(customer)?.get_stub())
        .map_err(internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(user)));
    let req =
        Request::new_with_init("https://rate-limiter.internal/hit", &init).map_err(internal)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(internal)?;
    let c: Counts = resp.json().await.map_err(internal)?;
    Ok((c.customer, c.user))
}
