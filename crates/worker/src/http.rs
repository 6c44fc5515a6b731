//! Request bodies with a size limit, and the `fetch` driver of `embedgate_client`: per-attempt timeouts
//! and the client's retry state machine inside the request's overall deadline.

use std::time::Duration;

use embedgate_client::retry::Outcome;
use embedgate_client::{Exchange, Failure, Method, Request, Response, RetryPolicy, Step};
use embedgate_edge::EdgeError;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{AbortController, Delay, Fetch, Headers, RequestInit};

use crate::{crypto, now_ms, Ctx};

fn too_large(limit: usize) -> EdgeError {
    EdgeError::new(
        413,
        "body_too_large",
        format!("The request body is larger than {limit} bytes."),
    )
}

/// Refuses a declared `Content-Length` over the limit before reading anything.
pub fn check_declared_length(req: &worker::Request, limit: usize) -> Result<(), EdgeError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// Reads the body, stopping (413) as soon as it exceeds `limit` bytes, whatever Content-Length said.
pub async fn read_body(req: &mut worker::Request, limit: usize) -> Result<Vec<u8>, EdgeError> {
    check_declared_length(req, limit)?;
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            EdgeError::bad_request("body_unreadable", "The request body could not be read.")
        })?;
        if out.len() + chunk.len() > limit {
            drain(&mut stream, chunk.len()).await;
            return Err(too_large(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Reads and drops the rest of an oversized body, up to a bound, before the 413 goes out: an answer
/// that overtook a chunked upload came back from `wrangler dev`'s proxy as a 503 now and then in
/// CI. Past the bound the 413 goes out anyway.
async fn drain(stream: &mut worker::ByteStream, mut read: usize) {
    const BOUND: usize = 256 * 1024;
    while read <= BOUND {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
}

fn build(call: &Request) -> worker::Result<worker::Request> {
    let headers = Headers::new();
    for (k, v) in &call.headers {
        headers.set(k, v)?;
    }
    let mut init = RequestInit::new();
    let method = match call.method {
        Method::Get => worker::Method::Get,
        Method::Post => worker::Method::Post,
        Method::Put => worker::Method::Put,
        Method::Patch => worker::Method::Patch,
        Method::Delete => worker::Method::Delete,
    };
    init.with_method(method).with_headers(headers);
    if let Some(b) = &call.body {
        init.with_body(Some(js_sys::Uint8Array::from(b.as_slice()).into()));
    }
    worker::Request::new_with_init(&call.url, &init)
}

/// Sends once; the whole exchange (headers and body) must finish within `timeout_ms`.
async fn send_once(call: &Request, timeout_ms: u64) -> Outcome {
    let Ok(req) = build(call) else {
        return Outcome::Network;
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut resp = Fetch::Request(req).send_with_signal(&signal).await?;
        let status = resp.status_code();
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let body = resp.text().await?;
        Ok::<_, worker::Error>(Response {
            status,
            retry_after,
            body,
        })
    };
    let timer = Delay::from(Duration::from_millis(timeout_ms));
    let exchange = std::pin::pin!(exchange);
    let timer = std::pin::pin!(timer);
    match select(exchange, timer).await {
        Either::Left((Ok(a), _)) => Outcome::Answer(a),
        Either::Left((Err(_), _)) => Outcome::Network,
        Either::Right(_) => {
            controller.abort();
            Outcome::Timeout
        }
    }
}

pub fn policy(ctx: &Ctx) -> RetryPolicy {
    RetryPolicy {
        max_attempts: ctx.cfg.upstream_max_attempts,
        base_ms: ctx.cfg.retry_base_ms,
        cap_ms: ctx.cfg.retry_cap_ms,
        deadline_ms: ctx.cfg.upstream_deadline_ms,
        attempt_timeout_ms: ctx.cfg.upstream_attempt_timeout_ms,
    }
}

/// Drives the client's retry state machine over `fetch` inside the request's deadline. Ok is the 2xx
/// answer's body.
pub async fn send(ctx: &Ctx, call: &Request) -> Result<String, Failure> {
    send_from(ctx, call, ctx.started_ms).await
}

/// As `send`, with the deadline counted from now: one call of a long admin job (onboarding), not of a
/// page view's token.
pub async fn send_fresh(ctx: &Ctx, call: &Request) -> Result<String, Failure> {
    send_from(ctx, call, now_ms()).await
}

async fn send_from(ctx: &Ctx, call: &Request, start_ms: f64) -> Result<String, Failure> {
    let elapsed = || (now_ms() - start_ms).max(0.0) as u64;
    let mut x = Exchange::new(policy(ctx));
    loop {
        let Some(timeout) = x.next_timeout(elapsed()) else {
            return Err(Failure::Timeout);
        };
        let outcome = send_once(call, timeout).await;
        let kind = match &outcome {
            Outcome::Answer(a) => format!("Status({})", a.status),
            other => format!("{other:?}"),
        };
        match x.on_outcome(outcome, elapsed(), now_ms() as u64, crypto::random_u32()) {
            Step::Done(a) => return Ok(a.body),
            Step::Wait(ms) => {
                crate::warn(
                    ctx,
                    "upstream_retry",
                    serde_json::json!({"call": call.name, "attempt": x.attempts(), "outcome": kind, "waitMs": ms}),
                );
                Delay::from(Duration::from_millis(ms)).await;
            }
            Step::Fail(failure) => {
                crate::warn(
                    ctx,
                    "upstream_failed",
                    serde_json::json!({"call": call.name, "attempts": x.attempts(), "outcome": kind}),
                );
                return Err(failure);
            }
        }
    }
}
