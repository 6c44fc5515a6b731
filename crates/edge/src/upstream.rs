//! Power BI and Entra ID failures as this service's answers. The mapping itself (which status, which
//! code) is the client's (`embedgate_client::failure`); this adds the error body's members.

use embedgate_client::UpstreamError;
use serde_json::{json, Value};

use super::EdgeError;

impl From<UpstreamError> for EdgeError {
    fn from(u: UpstreamError) -> Self {
        let mut e = EdgeError::new(u.status, u.code, u.message);
        if let Some(s) = u.retry_after {
            e = e.retry_after(s);
        }
        if let Some(s) = u.upstream_status {
            e = e.with("upstreamStatus", json!(s));
        }
        if let Some(c) = u.upstream_code {
            e = e.with("upstreamCode", json!(c));
        }
        if !u.explanations.is_empty() {
            e = e.with("explanations", Value::Array(u.explanations));
        }
        e
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use embedgate_client::{map_failure, Failure, Stage};

    #[test]
    fn upstream_failures_become_error_bodies_without_the_upstream_text() {
        let body = r#"{"error":{"code":"InvalidRequest","message":"Creating embed token for accessing dataset c0c0c0c0-0000-4000-8000-00000000d001 requires effective identity to be provided"}}"#;
        let e: EdgeError = map_failure(
            Stage::GenerateToken,
            &Failure::Status {
                status: 400,
                body: body.into(),
                retry_after_ms: None,
            },
        )
        .into();
        let b = e.body();
        assert_eq!(b["error"], "upstream_rejected");
        assert_eq!(b["upstreamStatus"], 400);
        assert_eq!(b["upstreamCode"], "InvalidRequest");
        assert_eq!(b["explanations"][0]["id"], "identity-required");
        assert!(!b
            .to_string()
            .contains("requires effective identity to be provided"));
        let e: EdgeError = map_failure(
            Stage::GenerateToken,
            &Failure::Status {
                status: 429,
                body: String::new(),
                retry_after_ms: Some(2500),
            },
        )
        .into();
        assert_eq!((e.status, e.retry_after), (503, Some(3)));
        assert_eq!(e.body()["retryAfter"], 3);
        assert!(e.body().get("explanations").is_none());
        let e: EdgeError = map_failure(Stage::Entra, &Failure::Timeout).into();
        assert_eq!(
            e.body(),
            json!({"error": "entra_timeout", "message": "The identity provider (Entra ID) did not answer in time."})
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_164_800), "2024-02-29T00:00:00Z");
    }
}
