//! Single flight within an isolate: when many requests miss the same cache at once (cold start, expiry),
//! one of them fetches and the others wait for its result instead of calling the upstream themselves.
//!
//! Followers wait on their own timers (10 ms polls) and re-read the cache, rather than awaiting the leader's
//! future: workerd does not let a request resume on another request's I/O context. If the leader fails, the
//! followers that were waiting for it get the same error at once (no queue of doomed retries).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use embedgate_edge::EdgeError;
use worker::Delay;

use crate::{now_ms, Ctx};

/// A flight older than this is presumed dead (its request was cancelled) and may be taken over.
const STALE_MS: f64 = 15_000.0;
const POLL_MS: u64 = 10;

thread_local! {
    static INFLIGHT: RefCell<HashMap<String, f64>> = RefCell::new(HashMap::new());
    static FAILED: RefCell<HashMap<String, (EdgeError, f64)>> = RefCell::new(HashMap::new());
}

/// Held by the request that fetches; dropping it (success, error or cancellation) ends the flight.
pub struct Lead {
    key: String,
}

impl Lead {
    /// Records the leader's failure for the requests waiting on it.
    pub fn fail(&self, e: &EdgeError) {
        FAILED.with(|f| {
            let mut f = f.borrow_mut();
            if f.len() > 256 {
                f.clear();
            }
            f.insert(self.key.clone(), (e.clone(), now_ms()));
        });
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        INFLIGHT.with(|m| m.borrow_mut().remove(&self.key));
    }
}

/// Either a value that became ready (`ready()` returned it) or the lead for this key. `timeout` is the answer
/// when the request's upstream deadline passes while waiting.
pub async fn join<T>(
    ctx: &Ctx,
    key: &str,
    ready: impl Fn() -> Option<T>,
    timeout: impl Fn() -> EdgeError,
) -> Result<Result<T, Lead>, EdgeError> {
    let waiting_since = now_ms();
    loop {
        if let Some(v) = ready() {
            return Ok(Ok(v));
        }
        let now = now_ms();
        let running = INFLIGHT.with(|m| {
            m.borrow()
                .get(key)
                .is_some_and(|started| now - started < STALE_MS)
        });
        if !running {
            if now > waiting_since {
                // We waited for a flight that has ended: if it failed, share its answer.
                if let Some(e) = FAILED.with(|f| {
                    f.borrow()
                        .get(key)
                        .filter(|(_, at)| *at >= waiting_since)
                        .map(|(e, _)| e.clone())
                }) {
                    return Err(e);
                }
            }
            INFLIGHT.with(|m| m.borrow_mut().insert(key.to_string(), now));
            return Ok(Err(Lead {
                key: key.to_string(),
            }));
        }
        if ctx.elapsed_ms() >= ctx.cfg.upstream_deadline_ms {
            return Err(timeout());
        }
        Delay::from(Duration::from_millis(POLL_MS)).await;
    }
}
