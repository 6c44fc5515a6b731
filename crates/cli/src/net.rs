//! The native driver of the sans-IO client: sends each `embedgate_client::Request` with ureq and feeds
//! the outcome to the client's retry state machine. No URL, header or answer is made or read here.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use embedgate_client::retry::Outcome;
use embedgate_client::{Exchange, Failure, Method, Request, Response, RetryPolicy, Step};

/// Retries for a command-line tool: patient (a migration waits out throttling), bounded.
pub const CLI_POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 6,
    base_ms: 500,
    cap_ms: 30_000,
    deadline_ms: 180_000,
    attempt_timeout_ms: 60_000,
};

/// What happened on the wire, for progress output (never headers or bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Retry {
        call: &'static str,
        status: Option<u16>,
        wait_ms: u64,
    },
}

/// A progress callback.
pub type OnEvent = Box<dyn Fn(&Event) + Send + Sync>;

pub struct Driver {
    agent: ureq::Agent,
    policy: RetryPolicy,
    /// Called on each retry (progress lines); `None` stays quiet.
    pub on_event: Option<OnEvent>,
}

impl Driver {
    pub fn new(policy: RetryPolicy) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Statuses are answers for the client to read, not errors.
            .http_status_as_error(false)
            .build()
            .into();
        Driver {
            agent,
            policy,
            on_event: None,
        }
    }

    /// One attempt within `timeout_ms`.
    pub fn send_once(&self, req: &Request, timeout_ms: u64) -> Outcome {
        let method = match req.method {
            Method::Get => ureq::http::Method::GET,
            Method::Post => ureq::http::Method::POST,
            Method::Put => ureq::http::Method::PUT,
            Method::Patch => ureq::http::Method::PATCH,
            Method::Delete => ureq::http::Method::DELETE,
        };
        let mut b = ureq::http::Request::builder().method(method).uri(&req.url);
        for (k, v) in &req.headers {
            b = b.header(*k, v);
        }
        let Ok(http) = b.body(req.body.clone().unwrap_or_default()) else {
            return Outcome::Network;
        };
        let run = self
            .agent
            .configure_request(http)
            .timeout_global(Some(Duration::from_millis(timeout_ms)))
            .build();
        match self.agent.run(run) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match resp
                    .body_mut()
                    .with_config()
                    .limit(64 * 1024 * 1024)
                    .read_to_string()
                {
                    Ok(body) => Outcome::Answer(Response {
                        status,
                        retry_after,
                        body,
                    }),
                    Err(ureq::Error::Timeout(_)) => Outcome::Timeout,
                    Err(_) => Outcome::Network,
                }
            }
            Err(ureq::Error::Timeout(_)) => Outcome::Timeout,
            Err(_) => Outcome::Network,
        }
    }

    /// Sends with the client's retries. Ok is the 2xx answer's body.
    pub fn send(&self, req: &Request) -> Result<String, Failure> {
        let started = Instant::now();
        let elapsed = || started.elapsed().as_millis() as u64;
        let mut x = Exchange::new(self.policy);
        loop {
            let Some(timeout) = x.next_timeout(elapsed()) else {
                return Err(Failure::Timeout);
            };
            let outcome = self.send_once(req, timeout);
            let status = match &outcome {
                Outcome::Answer(a) => Some(a.status),
                _ => None,
            };
            match x.on_outcome(outcome, elapsed(), unix_ms(), random_u32()) {
                Step::Done(a) => return Ok(a.body),
                Step::Fail(f) => return Err(f),
                Step::Wait(ms) => {
                    if let Some(cb) = &self.on_event {
                        cb(&Event::Retry {
                            call: req.name,
                            status,
                            wait_ms: ms,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(ms));
                }
            }
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Jitter only: the standard library's per-process random hash keys are enough.
fn random_u32() -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(unix_ms());
    h.finish() as u32
}
