//! The one error shape every edge route answers with.
//!
//! Body: `{"error": code, "message": text, "path"?: JSON Pointer, "retryAfter"?: seconds, ...details}`.
//! Messages are written for the portal's developers and never carry a secret, a token, or another
//! customer's data: they are built from static text, ids the caller already sent, and the caller's own
//! configuration.

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct EdgeError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code (`invalid_json`, `forbidden_item`, ...).
    pub code: &'static str,
    pub message: String,
    /// RFC 6901 JSON Pointer into the request body (or query) where the problem is.
    pub path: Option<String>,
    /// Seconds, sent as `Retry-After` and in the body.
    pub retry_after: Option<u64>,
    /// Extra members merged into the body (`diagnostics`, `explanations`, ...).
    pub details: Map<String, Value>,
}

impl EdgeError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        EdgeError {
            status,
            code,
            message: message.into(),
            path: None,
            retry_after: None,
            details: Map::new(),
        }
    }
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.details.insert(key.to_string(), value);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(401, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("error".into(), json!(self.code));
        m.insert("message".into(), json!(self.message));
        if let Some(p) = &self.path {
            m.insert("path".into(), json!(p));
        }
        if let Some(r) = self.retry_after {
            m.insert("retryAfter".into(), json!(r));
        }
        for (k, v) in &self.details {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

impl std::fmt::Display for EdgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        if let Some(p) = &self.path {
            write!(f, " (at {p})")?;
        }
        Ok(())
    }
}

impl std::error::Error for EdgeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let e = EdgeError::bad_request("wrong_type", "expected a string")
            .at("/reports/0")
            .retry_after(0);
        let b = e.body();
        assert_eq!(b["error"], "wrong_type");
        assert_eq!(b["path"], "/reports/0");
        assert_eq!(b["retryAfter"], 1, "retry-after is at least one second");
        let e = EdgeError::forbidden("x", "y").with("diagnostics", json!([1]));
        assert_eq!(e.body()["diagnostics"][0], 1);
        assert!(e.body().get("path").is_none());
    }
}
