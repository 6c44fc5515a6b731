//! How a final upstream failure becomes a clear answer (through the core's [`embedgate_core::explain`]).
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
//! An [`UpstreamError`] never holds the upstream body: only its error code, the status, and the core's
//! explanation of it (reason, fix, rule ids), so no secret or token can travel on from it.

use serde_json::{json, Value};

/// A final failure, ready to answer with. The statuses are those of a service in front of Power BI
/// (502/503/504), not Power BI's own, which is kept in `upstream_status`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    pub status: u16,
    /// Stable machine-readable code (`upstream_throttled`, ...).
    pub code: &'static str,
    pub message: &'static str,
    /// Seconds before trying again.
    pub retry_after: Option<u64>,
    pub upstream_status: Option<u16>,
    /// Power BI's `error.code` or Entra's `error`, when short and plain; never a message.
    pub upstream_code: Option<String>,
    /// The core's explanations of the upstream body: `{id, reason, fix, rules, ids}`.
    pub explanations: Vec<Value>,
}

impl UpstreamError {
    pub fn new(status: u16, code: &'static str, message: &'static str) -> Self {
        UpstreamError {
            status,
            code,
            message,
            retry_after: None,
            upstream_status: None,
            upstream_code: None,
            explanations: Vec::new(),
        }
    }
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        if let (Some(s), Some(c)) = (self.upstream_status, &self.upstream_code) {
            write!(f, " (upstream {s} {c})")?;
        }
        Ok(())
    }
}

impl std::error::Error for UpstreamError {}

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

impl Failure {
    /// Power BI refused the Entra token itself (401, or 403 `TokenExpired`): refresh it once and retry.
    pub fn token_refused(&self) -> bool {
        match self {
            Failure::Status { status: 401, .. } => true,
            Failure::Status {
                status: 403, body, ..
            } => body.contains("TokenExpired"),
            _ => false,
        }
    }

    /// The Power BI error code of a status failure (`PowerBIEntityNotFound`, ...).
    pub fn upstream_code(&self) -> Option<String> {
        match self {
            Failure::Status { body, .. } => upstream_code(body),
            _ => None,
        }
    }

    /// The HTTP status of a status failure.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn explanations(body: &str) -> Vec<Value> {
    embedgate_core::explain(body)
        .into_iter()
        .map(|e| json!({"id": e.id, "reason": e.reason, "fix": e.fix, "rules": e.rules, "items": e.items}))
        .collect()
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
pub fn map_failure(stage: Stage, failure: &Failure) -> UpstreamError {
    let entra = stage == Stage::Entra;
    match failure {
        Failure::Timeout if entra => UpstreamError::new(
            504,
            "entra_timeout",
            "The identity provider (Entra ID) did not answer in time.",
        ),
        Failure::Timeout => {
            UpstreamError::new(504, "upstream_timeout", "Power BI did not answer in time.")
        }
        Failure::Network if entra => UpstreamError::new(
            503,
            "entra_unavailable",
            "The identity provider (Entra ID) could not be reached.",
        )
        .retry_after(5),
        Failure::Network => UpstreamError::new(
            503,
            "upstream_unavailable",
            "Power BI could not be reached.",
        )
        .retry_after(5),
        Failure::BadBody if entra => UpstreamError::new(
            502,
            "entra_bad_response",
            "The identity provider (Entra ID) answered something that is not a token.",
        ),
        Failure::BadBody => UpstreamError::new(
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
                    429 | 500..=599 => UpstreamError::new(503, "entra_unavailable", "The identity provider (Entra ID) is unavailable.")
                        .retry_after(secs(*retry_after_ms, 5)),
                    _ => UpstreamError::new(
                        502,
                        "entra_rejected",
                        "The identity provider (Entra ID) refused this service's credentials; an administrator must fix the configuration.",
                    ),
                }
            } else {
                match status {
                    429 => UpstreamError::new(
                        503,
                        "upstream_throttled",
                        "Power BI is throttling requests; try again later.",
                    )
                    .retry_after(secs(*retry_after_ms, 1)),
                    503 => UpstreamError::new(
                        503,
                        "upstream_unavailable",
                        "Power BI is temporarily unavailable.",
                    )
                    .retry_after(secs(*retry_after_ms, 5)),
                    401 | 403 => UpstreamError::new(
                        502,
                        "upstream_unauthorized",
                        "Power BI refused this service's access to the content.",
                    ),
                    404 if stage == Stage::Metadata => UpstreamError::new(
                        404,
                        "upstream_not_found",
                        "Power BI does not know this item in your organisation's workspace.",
                    ),
                    400..=499 => UpstreamError::new(
                        502,
                        "upstream_rejected",
                        "Power BI rejected the embed token request.",
                    ),
                    _ => UpstreamError::new(502, "upstream_error", "Power BI failed to answer."),
                }
            };
            e.upstream_status = Some(status);
            e.upstream_code = upstream_code(body);
            e.explanations = explanations(body);
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(e.upstream_code.as_deref(), Some("TooManyRequests"));
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
        let b = json!({"explanations": e.explanations});
        assert_eq!(b["explanations"][0]["id"], "identity-required");
        assert_eq!(
            b["explanations"][0]["items"][0]["id"],
            "c0c0c0c0-0000-4000-8000-00000000d001"
        );
        assert!(
            !format!("{e:?}").contains("requires effective identity to be provided"),
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
        assert_eq!(e.explanations[0]["id"], "not-authorized");
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
    fn only_a_refused_token_asks_for_a_refresh() {
        let st = |status: u16, body: &str| Failure::Status {
            status,
            body: body.into(),
            retry_after_ms: None,
        };
        assert!(st(401, "").token_refused());
        assert!(st(403, r#"{"error":{"code":"TokenExpired"}}"#).token_refused());
        assert!(!st(403, r#"{"error":{"code":"PowerBINotAuthorizedException"}}"#).token_refused());
        assert!(!Failure::Timeout.token_refused());
        assert_eq!(
            st(404, r#"{"error":{"code":"PowerBIEntityNotFound"}}"#)
                .upstream_code()
                .as_deref(),
            Some("PowerBIEntityNotFound")
        );
        assert_eq!(st(404, "").status(), Some(404));
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
        assert_eq!(e.explanations[0]["id"], "entra-invalid-secret");
        assert!(!format!("{e:?}").contains("hunter2"));
        assert_eq!(e.upstream_code.as_deref(), Some("invalid_client"));
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
