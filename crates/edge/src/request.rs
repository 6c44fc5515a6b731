//! Request bodies: JSON parsing with clear 400s (JSON Pointer to the problem), and the `/api/token` body.
//!
//! The token body names what to embed and nothing about who is asking:
//! ```json
//! {"reports": ["<id>" | {"id": "<id>", "allowEdit": false}],
//!  "datasets": ["<id>" | {"id": "<id>", "xmlaPermissions": "Off" | "ReadOnly"}],
//!  "targetWorkspaces": ["<id>" | {"id": "<id>"}],
//!  "lifetimeInMinutes": 30}
//! ```
//! Any identity field (`identities`, `username`, `roles`, `customData`, `identityBlob`, ... at any depth) is
//! refused: the effective identity is built on the server from the verified token and the customer's
//! configuration, so a user can never choose their own rows.

use serde_json::{json, Map, Value};

use super::{pointer_push, EdgeError};
use embedgate_core::powerbi::XmlaPermissions;
use embedgate_core::text::is_guid;

/// Power BI's limit per list in a V2 request.
pub const MAX_ITEMS: usize = 50;

/// Field names (compared case-insensitively, ignoring `_` and `-`) that carry identity and are never
/// accepted from a client.
pub const IDENTITY_FIELDS: &[&str] = &[
    "identities",
    "identity",
    "effectiveidentity",
    "effectiveidentities",
    "username",
    "user",
    "upn",
    "roles",
    "role",
    "customdata",
    "identityblob",
    "datasourceidentities",
    "auditablecontext",
    "rls",
];

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Parses a request body as JSON. Empty bodies, invalid UTF-8 and syntax errors are 400s.
pub fn parse_json(body: &[u8]) -> Result<Value, EdgeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EdgeError::bad_request(
            "empty_body",
            "The request body must be a JSON object.",
        )
        .at(""));
    }
    serde_json::from_slice::<Value>(body).map_err(|e| {
        EdgeError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {e}."),
        )
        .at("")
        .with("line", json!(e.line()))
        .with("column", json!(e.column()))
    })
}

/// Parses a body that must be a JSON object.
pub fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, EdgeError> {
    match parse_json(body)? {
        Value::Object(m) => Ok(m),
        other => Err(wrong_type("", "an object", &other)),
    }
}

/// The JSON type name of a value, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn wrong_type(path: &str, expected: &str, got: &Value) -> EdgeError {
    EdgeError::bad_request(
        "wrong_type",
        format!("Expected {expected}, got {}.", type_name(got)),
    )
    .at(path)
}

pub fn unknown_field(path: &str, expected: &[&str]) -> EdgeError {
    EdgeError::bad_request(
        "unknown_field",
        format!("Unknown field; expected one of: {}.", expected.join(", ")),
    )
    .at(path)
}

/// The pointer of the first identity field in document order, if any.
pub fn find_identity_field(v: &Value) -> Option<String> {
    fn walk(v: &Value, at: &str) -> Option<String> {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let here = pointer_push(at, k);
                    if IDENTITY_FIELDS.contains(&normalise(k).as_str()) {
                        return Some(here);
                    }
                    if let Some(p) = walk(x, &here) {
                        return Some(p);
                    }
                }
                None
            }
            Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &pointer_push(at, i))),
            _ => None,
        }
    }
    walk(v, "")
}

/// Refuses identity fields anywhere in a client body.
pub fn refuse_identity(v: &Value) -> Result<(), EdgeError> {
    match find_identity_field(v) {
        Some(p) => Err(EdgeError::bad_request(
            "identity_not_allowed",
            "Identity fields are not accepted from clients: the effective identity is built on the server from your \
             verified sign-in and your organisation's configuration.",
        )
        .at(p)),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportItem {
    pub id: String,
    pub allow_edit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetItem {
    pub id: String,
    pub xmla_permissions: Option<XmlaPermissions>,
}

/// A validated `/api/token` body (ids lower-cased, duplicates merged).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenRequest {
    pub reports: Vec<ReportItem>,
    pub datasets: Vec<DatasetItem>,
    pub target_workspaces: Vec<String>,
    pub lifetime_in_minutes: Option<u32>,
}

pub const TOKEN_FIELDS: &[&str] = &[
    "reports",
    "datasets",
    "targetWorkspaces",
    "lifetimeInMinutes",
];

fn guid_at(v: &Value, path: &str) -> Result<String, EdgeError> {
    match v {
        Value::String(s) if is_guid(s) => Ok(s.to_ascii_lowercase()),
        Value::String(_) => Err(EdgeError::bad_request(
            "invalid_id",
            "Expected a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).",
        )
        .at(path)),
        other => Err(wrong_type(path, "a GUID string", other)),
    }
}

fn list<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], EdgeError> {
    let path = pointer_push("", key);
    match body.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) if a.len() <= MAX_ITEMS => Ok(a),
        Some(Value::Array(_)) => Err(EdgeError::bad_request(
            "too_many_items",
            format!("At most {MAX_ITEMS} items per list."),
        )
        .at(path)),
        Some(other) => Err(wrong_type(&path, "an array", other)),
    }
}

type ItemParts<'a> = (String, Option<&'a Map<String, Value>>);

/// An item given as a bare id string or as an object with `id` and the listed optional fields.
fn item<'a>(v: &'a Value, path: &str, fields: &[&str]) -> Result<ItemParts<'a>, EdgeError> {
    match v {
        Value::String(_) => Ok((guid_at(v, path)?, None)),
        Value::Object(m) => {
            for k in m.keys() {
                if !fields.contains(&k.as_str()) {
                    return Err(unknown_field(&pointer_push(path, k), fields));
                }
            }
            let id = m.get("id").ok_or_else(|| {
                EdgeError::bad_request("missing_field", "id is required.")
                    .at(pointer_push(path, "id"))
            })?;
            Ok((guid_at(id, &pointer_push(path, "id"))?, Some(m)))
        }
        other => Err(wrong_type(
            path,
            "a GUID string or an object with id",
            other,
        )),
    }
}

/// Parses and validates the `/api/token` body.
pub fn parse_token_request(body: &[u8]) -> Result<TokenRequest, EdgeError> {
    let value = parse_json(body)?;
    refuse_identity(&value)?;
    let Value::Object(m) = &value else {
        return Err(wrong_type("", "an object", &value));
    };
    for k in m.keys() {
        if !TOKEN_FIELDS.contains(&k.as_str()) {
            return Err(unknown_field(&pointer_push("", k), TOKEN_FIELDS));
        }
    }
    let mut out = TokenRequest::default();
    for (i, v) in list(m, "reports")?.iter().enumerate() {
        let path = format!("/reports/{i}");
        let (id, obj) = item(v, &path, &["id", "allowEdit"])?;
        let allow_edit = match obj.and_then(|o| o.get("allowEdit")) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(wrong_type(&format!("{path}/allowEdit"), "a boolean", other))
            }
        };
        match out.reports.iter_mut().find(|r| r.id == id) {
            Some(r) => r.allow_edit |= allow_edit,
            None => out.reports.push(ReportItem { id, allow_edit }),
        }
    }
    for (i, v) in list(m, "datasets")?.iter().enumerate() {
        let path = format!("/datasets/{i}");
        let (id, obj) = item(v, &path, &["id", "xmlaPermissions"])?;
        let xmla = match obj.and_then(|o| o.get("xmlaPermissions")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "Off" => Some(XmlaPermissions::Off),
            Some(Value::String(s)) if s == "ReadOnly" => Some(XmlaPermissions::ReadOnly),
            Some(Value::String(_)) => {
                return Err(EdgeError::bad_request(
                    "invalid_value",
                    "xmlaPermissions is \"Off\" or \"ReadOnly\".",
                )
                .at(format!("{path}/xmlaPermissions")))
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("{path}/xmlaPermissions"),
                    "a string",
                    other,
                ))
            }
        };
        match out.datasets.iter_mut().find(|d| d.id == id) {
            Some(d) => {
                if xmla == Some(XmlaPermissions::ReadOnly) {
                    d.xmla_permissions = xmla;
                }
            }
            None => out.datasets.push(DatasetItem {
                id,
                xmla_permissions: xmla,
            }),
        }
    }
    for (i, v) in list(m, "targetWorkspaces")?.iter().enumerate() {
        let (id, _) = item(v, &format!("/targetWorkspaces/{i}"), &["id"])?;
        if !out.target_workspaces.contains(&id) {
            out.target_workspaces.push(id);
        }
    }
    out.lifetime_in_minutes = match m.get("lifetimeInMinutes") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if (1..=24 * 60).contains(&n) => Some(n as u32),
            _ => {
                return Err(EdgeError::bad_request(
                    "invalid_value",
                    "lifetimeInMinutes is a whole number of minutes from 1 to 1440.",
                )
                .at("/lifetimeInMinutes"))
            }
        },
        Some(other) => return Err(wrong_type("/lifetimeInMinutes", "an integer", other)),
    };
    if out.reports.is_empty() && out.datasets.is_empty() {
        return Err(EdgeError::bad_request(
            "empty_request",
            "Name at least one report (or dataset) to embed.",
        )
        .at("/reports"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: &str = "c0c0c0c0-0000-4000-8000-00000000b001";
    const D1: &str = "c0c0c0c0-0000-4000-8000-00000000d001";

    fn err(body: &str) -> (u16, &'static str, Option<String>) {
        let e = parse_token_request(body.as_bytes()).unwrap_err();
        (e.status, e.code, e.path)
    }

    #[test]
    fn accepts_ids_and_objects() {
        let r = parse_token_request(
            format!(r#"{{"reports": ["{}", {{"id": "{R1}", "allowEdit": true}}], "datasets": [{{"id": "{D1}", "xmlaPermissions": "ReadOnly"}}], "lifetimeInMinutes": 30}}"#, R1.to_uppercase())
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            r.reports,
            vec![ReportItem {
                id: R1.into(),
                allow_edit: true
            }],
            "merged, lower-cased"
        );
        assert_eq!(
            r.datasets[0].xmla_permissions,
            Some(XmlaPermissions::ReadOnly)
        );
        assert_eq!(r.lifetime_in_minutes, Some(30));
    }

    #[test]
    fn bad_json_is_400_with_position() {
        let e = parse_token_request(b"{\"reports\": [").unwrap_err();
        assert_eq!((e.status, e.code), (400, "invalid_json"));
        assert!(e.details.contains_key("line"));
        assert_eq!(err("").1, "empty_body");
        assert_eq!(err("  \n").1, "empty_body");
        assert_eq!(
            parse_token_request(&[0xff, 0xfe]).unwrap_err().code,
            "invalid_json"
        );
        assert_eq!(err("[1]"), (400, "wrong_type", Some("".into())));
        assert_eq!(err("\"x\""), (400, "wrong_type", Some("".into())));
    }

    #[test]
    fn wrong_types_name_the_path() {
        assert_eq!(
            err(r#"{"reports": "x"}"#),
            (400, "wrong_type", Some("/reports".into()))
        );
        assert_eq!(
            err(r#"{"reports": [42]}"#),
            (400, "wrong_type", Some("/reports/0".into()))
        );
        assert_eq!(
            err(&format!(r#"{{"reports": ["{R1}", "nope"]}}"#)),
            (400, "invalid_id", Some("/reports/1".into()))
        );
        assert_eq!(
            err(&format!(
                r#"{{"reports": [{{"id": "{R1}", "allowEdit": "yes"}}]}}"#
            )),
            (400, "wrong_type", Some("/reports/0/allowEdit".into()))
        );
        assert_eq!(
            err(r#"{"reports": [{"allowEdit": true}]}"#),
            (400, "missing_field", Some("/reports/0/id".into()))
        );
        assert_eq!(
            err(&format!(r#"{{"reports": [{{"id": "{R1}", "pages": 1}}]}}"#)),
            (400, "unknown_field", Some("/reports/0/pages".into()))
        );
        assert_eq!(
            err(&format!(
                r#"{{"reports": ["{R1}"], "lifetimeInMinutes": "10"}}"#
            )),
            (400, "wrong_type", Some("/lifetimeInMinutes".into()))
        );
        assert_eq!(
            err(&format!(
                r#"{{"reports": ["{R1}"], "lifetimeInMinutes": 0}}"#
            )),
            (400, "invalid_value", Some("/lifetimeInMinutes".into()))
        );
        assert_eq!(
            err(&format!(
                r#"{{"reports": ["{R1}"], "lifetimeInMinutes": 1.5}}"#
            ))
            .1,
            "invalid_value"
        );
        assert_eq!(
            err(&format!(
                r#"{{"datasets": [{{"id": "{D1}", "xmlaPermissions": "ReadWrite"}}]}}"#
            ))
            .2
            .unwrap(),
            "/datasets/0/xmlaPermissions"
        );
        assert_eq!(
            err(&format!(
                r#"{{"reports": ["{R1}"], "accessLevel": "Edit"}}"#
            )),
            (400, "unknown_field", Some("/accessLevel".into()))
        );
        assert_eq!(
            err(r#"{}"#),
            (400, "empty_request", Some("/reports".into()))
        );
        let many: Vec<String> = (0..51).map(|_| format!("\"{R1}\"")).collect();
        assert_eq!(
            err(&format!(r#"{{"reports": [{}]}}"#, many.join(","))).1,
            "too_many_items"
        );
    }

    #[test]
    fn identity_fields_are_refused_anywhere() {
        let cases = [
            (r#"{"identities": []}"#.to_string(), "/identities"),
            (
                format!(r#"{{"reports": ["{R1}"], "username": "boss"}}"#),
                "/username",
            ),
            (
                format!(r#"{{"reports": [{{"id": "{R1}", "roles": ["Admin"]}}]}}"#),
                "/reports/0/roles",
            ),
            (
                format!(r#"{{"reports": ["{R1}"], "custom_data": "x"}}"#),
                "/custom_data",
            ),
            (
                format!(r#"{{"reports": ["{R1}"], "EffectiveIdentity": {{}}}}"#),
                "/EffectiveIdentity",
            ),
            (
                format!(
                    r#"{{"datasets": [{{"id": "{D1}", "x": {{"identityBlob": {{"value": "t"}}}}}}]}}"#
                ),
                "/datasets/0/x/identityBlob",
            ),
            (
                r#"{"datasourceIdentities": [{"identityBlob": "x"}]}"#.to_string(),
                "/datasourceIdentities",
            ),
        ];
        for (body, path) in cases {
            let e = parse_token_request(body.as_bytes()).unwrap_err();
            assert_eq!(
                (e.status, e.code, e.path.as_deref()),
                (400, "identity_not_allowed", Some(path)),
                "{body}"
            );
        }
    }
}
