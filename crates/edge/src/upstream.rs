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

/// Unix seconds of an RFC 3339 time as Power BI writes `expiration` (`Z` or `±HH:MM`, optional fraction).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let v = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    // days_from_civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedgate_client::{map_failure, Failure, Stage};

    #[test]
    fn rfc3339_round_trips_and_reads_power_bi_forms() {
        for t in [0u64, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t as i64));
        }
        assert_eq!(
            parse_rfc3339("2030-01-01T00:00:00.1234567Z"),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_rfc3339("2030-01-01T01:00:00+01:00"),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_rfc3339("2029-12-31T23:00:00-01:00"),
            Some(1_893_456_000)
        );
        for bad in [
            "",
            "2030-01-01",
            "2030-13-01T00:00:00Z",
            "2030-01-01T00:00:00",
            "2030-01-01T00:00:00.Z",
            "2030-01-01 00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

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
