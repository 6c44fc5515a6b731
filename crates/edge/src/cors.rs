//! CORS for portal origins (exact allow-list, preflight) and the security headers of API answers.

use super::EdgeError;

pub const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
pub const ALLOWED_HEADERS: &str = "authorization, content-type";
pub const EXPOSED_HEADERS: &str = "retry-after, x-request-id";
pub const MAX_AGE_SECONDS: u32 = 600;

/// Whether `origin` is on the list (scheme://host[:port], compared case-insensitively, no wildcards).
pub fn allowed(origin: &str, list: &[String]) -> bool {
    let o = origin.trim_end_matches('/');
    o != "null" && list.iter().any(|a| a.eq_ignore_ascii_case(o))
}

/// Headers for an actual (non-preflight) answer to an allowed origin.
pub fn response_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", origin.to_string()),
        ("access-control-expose-headers", EXPOSED_HEADERS.to_string()),
        ("vary", "Origin".to_string()),
    ]
}

/// Answers a preflight: the headers to send, or a 403 when the origin, method or headers are not allowed.
pub fn preflight(
    origin: Option<&str>,
    method: Option<&str>,
    headers: Option<&str>,
    list: &[String],
) -> Result<Vec<(&'static str, String)>, EdgeError> {
    let origin = origin.ok_or_else(|| {
        EdgeError::bad_request(
            "not_preflight",
            "OPTIONS without Origin is not a CORS preflight.",
        )
    })?;
    if !allowed(origin, list) {
        return Err(EdgeError::forbidden(
            "origin_not_allowed",
            "This origin may not call the API.",
        ));
    }
    let method = method.unwrap_or("").trim().to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "POST") {
        return Err(EdgeError::forbidden(
            "method_not_allowed",
            "Only GET and POST may be used cross-origin.",
        ));
    }
    for h in headers
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
    {
        if !ALLOWED_HEADERS.split(", ").any(|a| a == h) {
            return Err(EdgeError::forbidden(
                "header_not_allowed",
                format!("Header {h} may not be sent cross-origin."),
            ));
        }
    }
    let mut out = response_headers(origin);
    out.push(("access-control-allow-methods", ALLOWED_METHODS.to_string()));
    out.push(("access-control-allow-headers", ALLOWED_HEADERS.to_string()));
    out.push(("access-control-max-age", MAX_AGE_SECONDS.to_string()));
    Ok(out)
}

/// Security headers on every API answer: nothing to render, nothing to frame, nothing to cache.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "interest-cohort=()"),
    ("cache-control", "no-store"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Vec<String> {
        vec![
            "http://127.0.0.1:8787".into(),
            "https://portal.example".into(),
        ]
    }

    #[test]
    fn exact_origins_only() {
        assert!(allowed("https://portal.example", &list()));
        assert!(allowed("HTTPS://PORTAL.EXAMPLE", &list()));
        assert!(!allowed("https://portal.example.evil", &list()));
        assert!(!allowed("https://evil.portal.example", &list()));
        assert!(!allowed("http://portal.example", &list()));
        assert!(!allowed("null", &list()));
    }

    #[test]
    fn preflights() {
        let ok = preflight(
            Some("https://portal.example"),
            Some("POST"),
            Some("Authorization, Content-Type"),
            &list(),
        )
        .unwrap();
        assert!(ok
            .iter()
            .any(|(k, v)| *k == "access-control-allow-origin" && v == "https://portal.example"));
        assert!(ok.iter().any(|(k, _)| *k == "access-control-max-age"));
        assert_eq!(
            preflight(Some("https://evil.example"), Some("POST"), None, &list())
                .unwrap_err()
                .code,
            "origin_not_allowed"
        );
        assert_eq!(
            preflight(
                Some("https://portal.example"),
                Some("DELETE"),
                None,
                &list()
            )
            .unwrap_err()
            .code,
            "method_not_allowed"
        );
        assert_eq!(
            preflight(
                Some("https://portal.example"),
                Some("POST"),
                Some("x-admin"),
                &list()
            )
            .unwrap_err()
            .code,
            "header_not_allowed"
        );
        assert_eq!(
            preflight(None, Some("POST"), None, &list())
                .unwrap_err()
                .status,
            400
        );
    }
}
