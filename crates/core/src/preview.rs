//! The HTTP call a scenario describes: what the token-request form previews and copies (the body,
//! a ready `curl` call, and the same call as backend code in C#, Node and Python), with the profile
//! header where it applies.

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
    /// The same call as a portal backend makes it: C# (`Microsoft.PowerBI.Api`), Node (`fetch`), Python
    /// (`requests`). The Entra token comes from the environment (`POWERBI_TOKEN`), never from the code.
    pub code: Vec<CodeSample>,
}

/// The call in one language.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct CodeSample {
    /// `csharp`, `node` or `python`.
    pub language: String,
    pub label: String,
    pub code: String,
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
        .and_then(Value::as_str)
        .filter(|_| is_app);
    if let Some(id) = profile {
        headers.push(Header::new("X-PowerBI-Profile-Id", id));
    }
    let empty = Value::Object(Default::default());
    let request = match doc.get("request") {
        None | Some(Value::Null) => &empty,
        Some(v) => v,
    };
    let body = pretty(request);
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
    let code = vec![
        CodeSample {
            language: "csharp".into(),
            label: "C# (Microsoft.PowerBI.Api)".into(),
            code: csharp(&endpoint, profile, &body),
        },
        CodeSample {
            language: "node".into(),
            label: "Node (fetch)".into(),
            code: node(&url, profile, &body),
        },
        CodeSample {
            language: "python".into(),
            label: "Python (requests)".into(),
            code: python(&url, profile, request),
        },
    ];
    Ok(RequestPreview {
        method: "POST".into(),
        url,
        headers,
        body,
        curl,
        code,
    })
}

/// The SDK call per endpoint: the operation group and method, given the path ids (`Endpoint::ids`,
/// in path order) as `Guid`s.
fn csharp(endpoint: &Endpoint, profile: Option<&str>, body: &str) -> String {
    let guid = |id: &str| format!("new Guid({})", json_string(id));
    let (method, ty) = match endpoint {
        Endpoint::GenerateTokenV2 => ("EmbedToken.GenerateTokenAsync", "GenerateTokenRequestV2"),
        Endpoint::Report { .. } => ("Reports.GenerateTokenInGroupAsync", "GenerateTokenRequest"),
        Endpoint::CreateReport { .. } => (
            "Reports.GenerateTokenForCreateInGroupAsync",
            "GenerateTokenRequest",
        ),
        Endpoint::Dataset { .. } => ("Datasets.GenerateTokenInGroupAsync", "GenerateTokenRequest"),
        Endpoint::Dashboard { .. } => (
            "Dashboards.GenerateTokenInGroupAsync",
            "GenerateTokenRequest",
        ),
        Endpoint::Tile { .. } => ("Tiles.GenerateTokenInGroupAsync", "GenerateTokenRequest"),
    };
    let args: Vec<String> = endpoint
        .ids()
        .map(|(_, id)| guid(id))
        .chain(["request".to_string()])
        .collect();
    let call = format!("{method}({})", args.join(", "));
    // A profile-bound client sends X-PowerBI-Profile-Id on every call it makes.
    let client = match profile {
        Some(p) => format!(
            "new PowerBIClient(credentials, profileObjectId: {})",
            guid(p)
        ),
        None => "new PowerBIClient(credentials)".into(),
    };
    format!(
        "// dotnet add package Microsoft.PowerBI.Api\n\
using Microsoft.PowerBI.Api;\nusing Microsoft.PowerBI.Api.Models;\nusing Microsoft.Rest;\nusing Newtonsoft.Json;\n\n\
// An Entra access token of the app (client credentials), from your token cache.\n\
var credentials = new TokenCredentials(Environment.GetEnvironmentVariable(\"POWERBI_TOKEN\"), \"Bearer\");\n\
using var client = {client};\n\
var request = JsonConvert.DeserializeObject<{ty}>(@\"{}\");\n\
EmbedToken token = await client.{call};\n\
// token.Token, token.TokenId, token.Expiration\n",
        body.replace('"', "\"\"")
    )
}

fn node(url: &str, profile: Option<&str>, body: &str) -> String {
    let profile = profile.map_or(String::new(), |p| {
        format!("\n    'X-PowerBI-Profile-Id': {},", json_string(p))
    });
    format!(
        "// Node 18+ (global fetch). POWERBI_TOKEN: an Entra access token of the app.\n\
const body = {};\n\
const res = await fetch({}, {{\n  method: 'POST',\n  headers: {{\n\
    Authorization: `Bearer ${{process.env.POWERBI_TOKEN}}`,\n    'Content-Type': 'application/json',{profile}\n  }},\n\
  body: JSON.stringify(body),\n}});\n\
if (!res.ok) throw new Error(`GenerateToken: ${{res.status}} ${{await res.text()}}`);\n\
const {{ token, tokenId, expiration }} = await res.json();\n",
        indent(body, "  ").trim_start(),
        json_string(url)
    )
}

fn python(url: &str, profile: Option<&str>, request: &Value) -> String {
    let profile = profile.map_or(String::new(), |p| {
        format!("\n    \"X-PowerBI-Profile-Id\": {},", json_string(p))
    });
    let mut literal = String::new();
    py_literal(request, 0, &mut literal);
    format!(
        "# pip install requests. POWERBI_TOKEN: an Entra access token of the app.\n\
import os\nimport requests\n\n\
body = {literal}\n\
res = requests.post(\n    {},\n    json=body,\n    headers={{\n\
        \"Authorization\": f\"Bearer {{os.environ['POWERBI_TOKEN']}}\",{}\n    }},\n    timeout=30,\n)\n\
res.raise_for_status()\ntoken = res.json()  # token[\"token\"], token[\"tokenId\"], token[\"expiration\"]\n",
        json_string(url),
        profile.replace('\n', "\n    ")
    )
}

fn indent(text: &str, pad: &str) -> String {
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A JSON value as a Python literal: JSON's string escapes are Python's; `true`/`false`/`null` are not.
fn py_literal(v: &Value, depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth + 1);
    let close = "    ".repeat(depth);
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&json_string(s)),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Array(a) => {
            out.push_str("[\n");
            for x in a {
                out.push_str(&pad);
                py_literal(x, depth + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("{\n");
            for (k, x) in m {
                out.push_str(&pad);
                out.push_str(&json_string(k));
                out.push_str(": ");
                py_literal(x, depth + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push('}');
        }
    }
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
