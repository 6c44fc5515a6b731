//! Talking to Entra ID and Power BI, minus the I/O: retry/backoff decisions inside an overall deadline,
//! `Retry-After` parsing, Entra token lifetimes, and the mapping of upstream failures to clear answers
//! (through the core's [`crate::explain`]).
//!
//! | upstream outcome                         | answer                                            |
//! |------------------------------------------|---------------------------------------------------|
//! | 429 (after retries)                      | 503 `upstream_throttled` + `Retry-After`          |
//! | 503 / network error (after retries)      | 503 `upstream_unavailable` + `Retry-After`        |
//! | no answer within the attempt timeout     | 504 `upstream_timeout`                            |
//! | 200 with a body that is not the schema   | 502 `upstream_bad_response`                       |
//! | 401 / 403 (after one Entra refresh)      | 502 `upstream_unauthorized` + explanations        |
//! | 404 on metadata                          | 404 `upstream_not_found`                          |
//! | other 4xx                                | 502 `upstream_rejected` + explanations            |
//! | other 5xx                                | 502 `upstream_error` + explanations               |
//! | Entra 5xx / 429 / network                | 503 `entra_unavailable` + `Retry-After`           |
//! | Entra timeout                            | 504 `entra_timeout`                               |
//! | Entra 4xx (bad secret, unknown app, ...) | 502 `entra_rejected` + explanations               |
//!
//! Error answers never echo the upstream body: only its error code, the status, and the core's explanation
//! of it (reason, fix, rule ids), so no secret or token can travel back to the client.

use serde_json::{json, Value};

use super::EdgeError;

/// Bounded retries with jitter inside an overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
    /// Everything (all attempts and waits) must finish within this many ms of the first attempt.
    pub deadline_ms: u64,
    pub attempt_timeout_ms: u64,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Status(u16),
    Timeout,
    Network,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this many ms, then try again.
    RetryIn(u64),
    GiveUp,
}

/// Smallest useful remaining time for one more attempt.
const MIN_ATTEMPT_MS: u64 = 50;

impl RetryPolicy {
    /// Whether an outcome may be retried at all. 429 and 503 are the service asking to come back later;
    /// 502/504 and network errors are transient; a timeout is retried when a full attempt still fits.
    pub fn retryable(a: Attempt) -> bool {
        matches!(
            a,
            Attempt::Status(429 | 502 | 503 | 504) | Attempt::Network | Attempt::Timeout
        )
    }

    /// The timeout for the next attempt, `None` when the deadline leaves no room.
    pub fn attempt_timeout(&self, elapsed_ms: u64) -> Option<u64> {
        let left = self.deadline_ms.saturating_sub(elapsed_ms);
        (left >= MIN_ATTEMPT_MS).then(|| left.min(self.attempt_timeout_ms))
    }

    /// Decides what to do after attempt number `attempt` (1-based) ended with `outcome`.
    /// `retry_after_ms` is the server's `Retry-After`; `rand` is a uniform random number (jitter).
    pub fn next(
        &self,
        attempt: u32,
        outcome: Attempt,
        retry_after_ms: Option<u64>,
        elapsed_ms: u64,
        rand: u32,
    ) -> Next {
        if !Self::retryable(outcome) || attempt >= self.max_attempts {
            return Next::GiveUp;
        }
        let exp = self
            .base_ms
            .saturating_mul(1u64 << (attempt - 1).min(20))
            .min(self.cap_ms)
            .max(1);
        // Equal jitter: half fixed, half random, so concurrent clients spread out.
        let backoff = exp / 2 + (rand as u64) % (exp / 2 + 1);
        let wait = match retry_after_ms {
            // Honour the server, plus a little jitter so a herd does not return in the same millisecond.
            Some(ra) => ra + (rand as u64) % (self.base_ms.min(ra / 10 + 1) + 1),
            None => backoff,
        };
        let needed = if outcome == Attempt::Timeout {
            self.attempt_timeout_ms.min(1_000)
        } else {
            MIN_ATTEMPT_MS
        };
        if elapsed_ms + wait + needed > self.deadline_ms {
            return Next::GiveUp;
        }
        Next::RetryIn(wait)
    }
}

/// `Retry-After` as delta-seconds or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), in ms from `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_imf_fixdate(v)?;
    Some((at * 1000).saturating_sub(now_ms))
}

fn parse_imf_fixdate(s: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = s.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    if parts.len() != 5 || parts[4] != "GMT" {
        return None;
    }
    let day: u64 = parts[0].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[1])? as u64
        + 1;
    let year: u64 = parts[2].parse().ok()?;
    let hms: Vec<u64> = parts[3]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    if hms.len() != 3
        || !(1..=31).contains(&day)
        || year < 1970
        || hms[0] > 23
        || hms[1] > 59
        || hms[2] > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm), for dates from 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u64
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (audit log, answers).
pub fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Inverse of days_from_civil.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// An Entra access token and when it expires (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntraToken {
    pub access_token: String,
    pub expires_at: u64,
}

impl EntraToken {
    /// Usable until `margin` seconds before expiry.
    pub fn fresh(&self, now: u64, margin: u64) -> bool {
        now + margin < self.expires_at
    }
    /// How long a shared cache may keep it (seconds), `None` when too short for KV's 60 s minimum.
    pub fn cache_ttl(&self, now: u64, margin: u64) -> Option<u64> {
        let ttl = self.expires_at.saturating_sub(now + margin);
        (ttl >= 60).then_some(ttl)
    }
}

/// Parses Entra's token answer (`expires_in` as a number or, in older answers, a string).
pub fn parse_entra_token(body: &str, now: u64) -> Result<EntraToken, EdgeError> {
    let bad = || {
        EdgeError::new(
            502,
            "entra_bad_response",
            "The identity provider (Entra ID) answered something that is not a token.",
        )
    };
    let v: Value = serde_json::from_str(body).map_err(|_| bad())?;
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(bad)?;
    let expires_in = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .filter(|e| *e > 0)
    .ok_or_else(bad)?;
    Ok(EntraToken {
        access_token: token.to_string(),
        expires_at: now + expires_in,
    })
}

/// Parses GenerateToken's answer.
pub fn parse_embed_token(body: &str) -> Result<crate::powerbi::EmbedToken, EdgeError> {
    serde_json::from_str::<crate::powerbi::EmbedToken>(body)
        .ok()
        .filter(|t| !t.token.is_empty() && !t.token_id.is_empty() && !t.expiration.is_empty())
        .ok_or_else(|| {
            EdgeError::new(
                502,
                "upstream_bad_response",
                "Power BI answered GenerateToken with something that is not an embed token.",
            )
        })
}

/// Which upstream call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Entra,
    Metadata,
    GenerateToken,
}

/// How the last attempt ended when the retries were exhausted (or the outcome was final).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Status {
        status: u16,
        body: String,
        retry_after_ms: Option<u64>,
    },
    Timeout,
    Network,
    /// 2xx with an unreadable body.
    BadBody,
}

fn explanations(body: &str) -> Value {
    let list: Vec<Value> = crate::explain(body)
        .into_iter()
        .map(|e| json!({"id": e.id, "reason": e.reason, "fix": e.fix, "rules": e.rules, "ids": e.ids}))
        .collect();
    Value::Array(list)
}

/// The upstream's own error code (`{"error":{"code"}}` from Power BI, `{"error"}` from Entra), if short and
/// plain; never its message.
fn upstream_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let code = v
        .pointer("/error/code")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)?;
    (code.len() <= 80
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
    .then(|| code.to_string())
}

fn secs(ms: Option<u64>, default: u64) -> u64 {
    ms.map(|m| m.div_ceil(1000)).unwrap_or(default).max(1)
}

/// Maps a final upstream failure to the answer.
pub fn map_failure(stage: Stage, failure: &Failure) -> EdgeError {
    let entra = stage == Stage::Entra;
    match failure {
        Failure::Timeout if entra => EdgeError::new(
            504,
            "entra_timeout",
            "The identity provider (Entra ID) did not answer in time.",
        ),
        Failure::Timeout => {
            EdgeError::new(504, "upstream_timeout", "Power BI did not answer in time.")
        }
        Failure::Network if entra => EdgeError::new(
            503,
            "entra_unavailable",
            "The identity provider (Entra ID) could not be reached.",
        )
        .retry_after(5),
        Failure::Network => EdgeError::new(
            503,
            "upstream_unavailable",
            "Power BI could not be reached.",
        )
        .retry_after(5),
        Failure::BadBody if entra => EdgeError::new(
            502,
            "entra_bad_response",
            "The identity provider (Entra ID) answered something that is not a token.",
        ),
        Failure::BadBody => EdgeError::new(
            502,
            "upstream_bad_response",
            "Power BI answered something this service cannot read.",
        ),
        Failure::Status {
            status,
            body,
            retry_after_ms,
        } => {
            let status = *status;
            let mut e = if entra {
                match status {
                    429 | 500..=599 => EdgeError::new(503, "entra_unavailable", "The identity provider (Entra ID) is unavailable.")
                        .retry_after(secs(*retry_after_ms, 5)),
                    _ => EdgeError::new(
                        502,
                        "entra_rejected",
                        "The identity provider (Entra ID) refused this service's credentials; an administrator must fix the configuration.",
                    ),
                }
            } else {
                match status {
                    429 => EdgeError::new(
                        503,
                        "upstream_throttled",
                        "Power BI is throttling requests; try again later.",
                    )
                    .retry_after(secs(*retry_after_ms, 1)),
                    503 => EdgeError::new(
                        503,
                        "upstream_unavailable",
                        "Power BI is temporarily unavailable.",
                    )
                    .retry_after(secs(*retry_after_ms, 5)),
                    401 | 403 => EdgeError::new(
                        502,
                        "upstream_unauthorized",
                        "Power BI refused this service's access to the content.",
                    ),
                    404 if stage == Stage::Metadata => EdgeError::new(
                        404,
                        "upstream_not_found",
                        "Power BI does not know this item in your organisation's workspace.",
                    ),
                    400..=499 => EdgeError::new(
                        502,
                        "upstream_rejected",
                        "Power BI rejected the embed token request.",
                    ),
                    _ => EdgeError::new(502, "upstream_error", "Power BI failed to answer."),
                }
            };
            e = e.with("upstreamStatus", json!(status));
            if let Some(code) = upstream_code(body) {
                e = e.with("upstreamCode", json!(code));
            }
            let ex = explanations(body);
            if ex.as_array().is_some_and(|a| !a.is_empty()) {
                e = e.with("explanations", ex);
            }
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_ms: 200,
        cap_ms: 2000,
        deadline_ms: 8000,
        attempt_timeout_ms: 3000,
    };

    #[test]
    fn retries_only_transient_outcomes_and_stops() {
        assert_eq!(P.next(1, Attempt::Status(400), None, 0, 0), Next::GiveUp);
        assert_eq!(P.next(1, Attempt::Status(401), None, 0, 0), Next::GiveUp);
        assert_eq!(P.next(1, Attempt::Status(500), None, 0, 0), Next::GiveUp);
        assert!(matches!(
            P.next(1, Attempt::Status(429), None, 0, 0),
            Next::RetryIn(_)
        ));
        assert!(matches!(
            P.next(1, Attempt::Status(503), None, 0, 0),
            Next::RetryIn(_)
        ));
        assert!(matches!(
            P.next(2, Attempt::Network, None, 0, 0),
            Next::RetryIn(_)
        ));
        assert_eq!(
            P.next(3, Attempt::Status(503), None, 0, 0),
            Next::GiveUp,
            "bounded"
        );
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let waits: Vec<u64> = (0..50)
            .map(
                |r| match P.next(1, Attempt::Status(503), None, 0, r * 7919) {
                    Next::RetryIn(w) => w,
                    Next::GiveUp => panic!(),
                },
            )
            .collect();
        assert!(waits.iter().all(|w| (100..=200).contains(w)), "{waits:?}");
        assert!(waits.iter().any(|w| *w != waits[0]), "jittered");
        let p = RetryPolicy {
            max_attempts: 10,
            ..P
        };
        for r in [0, u32::MAX] {
            if let Next::RetryIn(w) = p.next(9, Attempt::Network, None, 0, r) {
                assert!(w <= 2000, "capped: {w}");
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_within_the_deadline() {
        match P.next(1, Attempt::Status(429), Some(1000), 0, 12345) {
            Next::RetryIn(w) => assert!((1000..=1200).contains(&w), "{w}"),
            Next::GiveUp => panic!(),
        }
        // A Retry-After beyond the deadline: give up now and pass it on.
        assert_eq!(
            P.next(1, Attempt::Status(429), Some(30_000), 0, 0),
            Next::GiveUp
        );
        assert_eq!(
            P.next(1, Attempt::Status(503), Some(1000), 7_500, 0),
            Next::GiveUp
        );
        // A timeout is retried only when a meaningful attempt still fits.
        assert!(matches!(
            P.next(1, Attempt::Timeout, None, 3000, 0),
            Next::RetryIn(_)
        ));
        assert_eq!(P.next(1, Attempt::Timeout, None, 7000, 0), Next::GiveUp);
    }

    #[test]
    fn attempt_timeouts_shrink_to_the_deadline() {
        assert_eq!(P.attempt_timeout(0), Some(3000));
        assert_eq!(P.attempt_timeout(6000), Some(2000));
        assert_eq!(P.attempt_timeout(7990), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2", 0), Some(2000));
        assert_eq!(parse_retry_after(" 0 ", 0), Some(0));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770_000),
            Some(7_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_780_000),
            Some(0),
            "past dates mean now"
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-1", 0), None);
        assert_eq!(rfc3339(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_164_800), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn entra_tokens() {
        let t = parse_entra_token(
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(t.expires_at, 4599);
        assert!(t.fresh(1000, 300));
        assert!(t.fresh(4298, 300));
        assert!(!t.fresh(4299, 300), "refreshed five minutes before expiry");
        assert_eq!(t.cache_ttl(1000, 300), Some(3299));
        assert_eq!(t.cache_ttl(4250, 300), None);
        assert_eq!(
            parse_entra_token(r#"{"expires_in":"3600","access_token":"x"}"#, 0)
                .unwrap()
                .expires_at,
            3600
        );
        assert_eq!(
            parse_entra_token("<html>", 0).unwrap_err().code,
            "entra_bad_response"
        );
        assert_eq!(
            parse_entra_token(r#"{"expires_in":0,"access_token":"x"}"#, 0)
                .unwrap_err()
                .status,
            502
        );
    }

    #[test]
    fn embed_token_answer() {
        let t = parse_embed_token(r#"{"token":"EGE1.x.y","tokenId":"id","expiration":"2030-01-01T00:00:00Z","@odata.context":"x"}"#).unwrap();
        assert_eq!(t.token_id, "id");
        assert_eq!(
            parse_embed_token("{\"value\": [ <<not json>>")
                .unwrap_err()
                .code,
            "upstream_bad_response"
        );
        assert_eq!(
            parse_embed_token(r#"{"token":""}"#).unwrap_err().status,
            502
        );
    }

    #[test]
    fn failures_map_to_documented_answers_without_echoing_bodies() {
        let st = |status: u16, body: &str, ra: Option<u64>| Failure::Status {
            status,
            body: body.into(),
            retry_after_ms: ra,
        };
        let e = map_failure(
            Stage::GenerateToken,
            &st(
                429,
                r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
                Some(2500),
            ),
        );
        assert_eq!(
            (e.status, e.code, e.retry_after),
            (503, "upstream_throttled", Some(3))
        );
        assert_eq!(e.body()["upstreamCode"], "TooManyRequests");
        let e = map_failure(Stage::GenerateToken, &st(503, "", None));
        assert_eq!(
            (e.status, e.code, e.retry_after),
            (503, "upstream_unavailable", Some(5))
        );
        let e = map_failure(
            Stage::GenerateToken,
            &st(
                500,
                r#"{"error":{"code":"InternalServerError","message":"x"}}"#,
                None,
            ),
        );
        assert_eq!((e.status, e.code), (502, "upstream_error"));
        let body = r#"{"error":{"code":"InvalidRequest","message":"Creating embed token for accessing dataset c0c0c0c0-0000-4000-8000-00000000d001 requires effective identity to be provided"}}"#;
        let e = map_failure(Stage::GenerateToken, &st(400, body, None));
        assert_eq!((e.status, e.code), (502, "upstream_rejected"));
        let b = e.body();
        assert_eq!(b["explanations"][0]["id"], "identity-required");
        assert_eq!(
            b["explanations"][0]["ids"][0],
            "c0c0c0c0-0000-4000-8000-00000000d001"
        );
        assert!(
            !b.to_string()
                .contains("requires effective identity to be provided"),
            "the raw message is not echoed"
        );
        let e = map_failure(
            Stage::Metadata,
            &st(404, r#"{"error":{"code":"PowerBIEntityNotFound"}}"#, None),
        );
        assert_eq!((e.status, e.code), (404, "upstream_not_found"));
        let e = map_failure(
            Stage::GenerateToken,
            &st(
                401,
                r#"{"error":{"code":"PowerBINotAuthorizedException"}}"#,
                None,
            ),
        );
        assert_eq!((e.status, e.code), (502, "upstream_unauthorized"));
        assert_eq!(e.body()["explanations"][0]["id"], "not-authorized");
        assert_eq!(
            map_failure(Stage::GenerateToken, &Failure::Timeout).status,
            504
        );
        assert_eq!(
            map_failure(Stage::Metadata, &Failure::BadBody).code,
            "upstream_bad_response"
        );
    }

    #[test]
    fn entra_failures() {
        let secret_leak = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. secret=hunter2"}"#;
        let e = map_failure(
            Stage::Entra,
            &Failure::Status {
                status: 401,
                body: secret_leak.into(),
                retry_after_ms: None,
            },
        );
        assert_eq!((e.status, e.code), (502, "entra_rejected"));
        assert_eq!(e.body()["explanations"][0]["id"], "entra-invalid-secret");
        assert!(!e.body().to_string().contains("hunter2"));
        assert_eq!(e.body()["upstreamCode"], "invalid_client");
        let e = map_failure(
            Stage::Entra,
            &Failure::Status {
                status: 503,
                body: String::new(),
                retry_after_ms: None,
            },
        );
        assert_eq!(
            (e.status, e.code, e.retry_after),
            (503, "entra_unavailable", Some(5))
        );
        assert_eq!(
            map_failure(Stage::Entra, &Failure::Timeout).code,
            "entra_timeout"
        );
        assert_eq!(map_failure(Stage::Entra, &Failure::Network).status, 503);
    }
}
