//! The HTTP call a scenario describes: what the token-request form previews and copies (the body,
//! and a ready `curl` call with the profile header where it applies).

use serde::Serialize;
use serde_json::Value;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

use crate::scenario::Endpoint;

/// The Power BI REST root the preview calls.
pub const API_ROOT: &str = "https://api.powerbi.com";

/// The HTTP call a scenario describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct RequestPreview {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    /// The exact request body (pretty JSON).
    pub body: String,
    /// A ready `curl` call; the bearer token is the shell variable `$TOKEN`.
    pub curl: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl Header {
    fn new(name: &str, value: &str) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The call for a scenario document. Only `endpoint` must be readable. The profile header goes
/// only with a service principal (`principalType: "App"`): only it has profiles (EG0601), and the
/// rules report a master user's profile instead.
pub fn request_preview(doc: &Value) -> Result<RequestPreview, String> {
    let endpoint: Endpoint = crate::parse::from_value(doc.get("endpoint").unwrap_or(&Value::Null))
        .map_err(|e| format!("/endpoint{}: {}", e.pointer, e.message))?;
    let url = format!("{API_ROOT}{}", endpoint.path());
    let mut headers = vec![
        Header::new("Authorization", "Bearer $TOKEN"),
        Header::new("Content-Type", "application/json"),
    ];
    let caller = doc.get("caller");
    let is_app = caller
        .and_then(|c| c.get("principalType"))
        .and_then(Value::as_str)
        == Some("App");
    let profile = caller
        .and_then(|c| c.pointer("/profile/id"))
        .and_then(Value::as_str);
    if let (true, Some(id)) = (is_app, profile) {
        headers.push(Header::new("X-PowerBI-Profile-Id", id));
    }
    let body = match doc.get("request") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(v) => pretty(v),
    };
    let mut curl = format!("curl -sS -X POST {}", shell_quote(&url));
    for h in &headers {
        curl.push_str(" \\\n  -H ");
        // The token stays a shell variable: double quotes let the shell expand it.
        if h.value.contains("$TOKEN") {
            curl.push_str(&format!("\"{}: {}\"", h.name, h.value));
        } else {
            curl.push_str(&shell_quote(&format!("{}: {}", h.name, h.value)));
        }
    }
    curl.push_str(" \\\n  --data-raw ");
    curl.push_str(&shell_quote(&body));
    Ok(RequestPreview {
        method: "POST".into(),
        url,
        headers,
        body,
        curl,
    })
}

/// Pretty JSON text (two-space indent), as the preview and the editor show it.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// POSIX single-quote quoting.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn preview(doc: Value) -> RequestPreview {
        request_preview(&doc).unwrap()
    }

    #[test]
    fn profile_header_and_token_placeholder() {
        let p = preview(json!({
            "caller": {"principalType": "App", "objectId": "x", "profile": {"id": "p-1"}},
            "endpoint": {"kind": "Report", "groupId": "g", "reportId": "r"},
            "request": {"accessLevel": "View"}
        }));
        assert_eq!(
            p.url,
            "https://api.powerbi.com/v1.0/myorg/groups/g/reports/r/GenerateToken"
        );
        assert_eq!(p.headers.len(), 3);
        assert!(p.curl.contains("-H 'X-PowerBI-Profile-Id: p-1'"));
        assert!(p.curl.contains("-H \"Authorization: Bearer $TOKEN\""));
        assert!(p
            .curl
            .ends_with("--data-raw '{\n  \"accessLevel\": \"View\"\n}'"));
    }

    #[test]
    fn no_profile_header_for_a_master_user_or_without_a_profile() {
        for caller in [
            json!({"principalType": "User", "upn": "a@b.c", "profile": {"id": "p-1"}}),
            json!({"principalType": "App", "objectId": "x"}),
        ] {
            let p = preview(json!({"caller": caller, "endpoint": {"kind": "GenerateTokenV2"}}));
            assert_eq!(p.url, "https://api.powerbi.com/v1.0/myorg/GenerateToken");
            assert!(p.headers.iter().all(|h| h.name != "X-PowerBI-Profile-Id"));
            assert_eq!(p.body, "{}");
        }
    }

    #[test]
    fn quotes_in_the_body_survive_the_shell() {
        let p = preview(json!({
            "endpoint": {"kind": "GenerateTokenV2"},
            "request": {"identities": [{"username": "o'brien"}]}
        }));
        assert!(p.body.contains("\"o'brien\""));
        assert!(p.curl.contains("\"o'\\''brien\""));
    }

    #[test]
    fn an_unreadable_endpoint_names_its_path() {
        let e = request_preview(&json!({"endpoint": {"kind": "Nope"}})).unwrap_err();
        assert!(e.starts_with("/endpoint"), "{e}");
        assert!(e.contains("unknown variant `Nope`"), "{e}");
    }
}
