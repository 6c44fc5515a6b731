//! Request bodies with a size limit, and upstream calls with per-attempt timeouts and the retry policy of
//! `embedgate_core::edge::upstream` inside the request's overall deadline.

use std::time::Duration;

use embedgate_core::edge::upstream::{parse_retry_after, Attempt, Failure, Next, RetryPolicy};
use embedgate_core::edge::EdgeError;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::{crypto, now_ms, Ctx};

fn too_large(limit: usize) -> EdgeError {
    EdgeError::new(
        413,
        "body_too_large",
        format!("The request body is larger than {limit} bytes."),
    )
}

/// Refuses a declared `Content-Length` over the limit before reading anything.
pub fn check_declared_length(req: &Request, limit: usize) -> Result<(), EdgeError> {
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
pub async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, EdgeError> {
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

/// One upstream request, described so it can be re-sent on retry.
pub struct Call<'a> {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'a str, String)>,
    pub body: Option<String>,
}

/// A finished upstream answer.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

fn build(call: &Call) -> worker::Result<Request> {
    let headers = Headers::new();
    for (k, v) in &call.headers {
        headers.set(k, v)?;
    }
    let mut init = RequestInit::new();
    init.with_method(call.method.clone()).with_headers(headers);
    if let Some(b) = &call.body {
        init.with_body(Some(JsValue::from_str(b)));
    }
    Request::new_with_init(&call.url, &init)
}

/// Sends once; the whole exchange (headers and body) must finish within `timeout_ms`.
pub async fn send_once(call: &Call<'_>, timeout_ms: u64) -> Result<Answer, Attempt> {
    let req = build(call).map_err(|_| Attempt::Network)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut resp = Fetch::Request(req).send_with_signal(&signal).await?;
        let status = resp.status_code();
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let body = resp.text().await?;
        Ok::<_, worker::Error>(Answer {
            status,
            retry_after,
            body,
        })
    };
    let timer = Delay::from(Duration::from_millis(timeout_ms));
    let exchange = std::pin::pin!(exchange);
    let timer = std::pin::pin!(timer);
    match select(exchange, timer).await {
        Either::Left((Ok(a), _)) => Ok(a),
        Either::Left((Err(_), _)) => Err(Attempt::Network),
        Either::Right(_) => {
            controller.abort();
            Err(Attempt::Timeout)
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

/// Sends with bounded, jittered retries inside the request's deadline. Ok is a 2xx answer's body.
pub async fn send(ctx: &Ctx, what: &str, call: &Call<'_>) -> Result<String, Failure> {
    let policy = policy(ctx);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let Some(timeout) = policy.attempt_timeout(ctx.elapsed_ms()) else {
            return Err(Failure::Timeout);
        };
        let outcome = send_once(call, timeout).await;
        let (kind, retry_after_ms, failure) = match outcome {
            Ok(a) if (200..300).contains(&a.status) => return Ok(a.body),
            Ok(a) => {
                let ra = a
                    .retry_after
                    .as_deref()
                    .and_then(|v| parse_retry_after(v, now_ms() as u64));
                (
                    Attempt::Status(a.status),
                    ra,
                    Failure::Status {
                        status: a.status,
                        body: a.body,
                        retry_after_ms: ra,
                    },
                )
            }
            Err(Attempt::Timeout) => (Attempt::Timeout, None, Failure::Timeout),
            Err(other) => (other, None, Failure::Network),
        };
        match policy.next(
            attempt,
            kind,
            retry_after_ms,
            ctx.elapsed_ms(),
            crypto::random_u32(),
        ) {
            Next::RetryIn(ms) => {
                crate::warn(
                    ctx,
                    "upstream_retry",
                    serde_json::json!({"call": what, "attempt": attempt, "outcome": format!("{kind:?}"), "waitMs": ms}),
                );
                Delay::from(Duration::from_millis(ms)).await;
            }
            Next::GiveUp => {
                crate::warn(
                    ctx,
                    "upstream_failed",
                    serde_json::json!({"call": what, "attempts": attempt, "outcome": format!("{kind:?}")}),
                );
                return Err(failure);
            }
        }
    }
}
