//! Reading Microsoft's Power BI REST swagger (2.0) as a second opinion on the client and the emulator: which
//! operation a request calls, the schema subset its definitions use, and the example answers (`x-ms-examples`)
//! of an operation. Used by the tests that hold both to Microsoft's own examples; nothing at run time reads it.

use serde_json::{Map, Value};

/// The operation for `method` (lower case) and `path` (without host or query): its path template matches
/// segment by segment, `{name}` matching any one segment.
pub fn operation<'a>(sw: &'a Value, method: &str, path: &str) -> Option<(&'a str, &'a Value)> {
    let segs: Vec<&str> = path.split('?').next()?.split('/').collect();
    sw["paths"].as_object()?.iter().find_map(|(template, ops)| {
        let t: Vec<&str> = template.split('/').collect();
        let fits = t.len() == segs.len()
            && t.iter()
                .zip(&segs)
                .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}')));
        let op = ops.get(method).filter(|_| fits)?;
        Some((template.as_str(), op))
    })
}

fn definition<'a>(sw: &'a Value, r: &str) -> &'a Value {
    &sw["definitions"][r.trim_start_matches("#/definitions/")]
}

/// A schema's fields: its own properties and those of the schemas it extends (`allOf`).
fn fields(sw: &Value, schema: &Value) -> Map<String, Value> {
    let mut props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for s in schema["allOf"].as_array().into_iter().flatten() {
        let base = match s["$ref"].as_str() {
            Some(r) => definition(sw, r),
            None => s,
        };
        props.extend(fields(sw, base));
    }
    props
}

/// How fields a schema does not define are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields<'a> {
    /// Refused: what the client sends is what the operation defines, nothing more.
    Defined,
    /// Allowed when the name is one of these (field names the swagger documents elsewhere: its definitions are
    /// older than some of its own examples, which show `connectionType` or `isEffectiveIdentityRequired` where
    /// the schema lacks them); any other name, a misspelling included, is refused.
    Known(&'a std::collections::BTreeSet<String>),
}

/// Every field name the swagger documents: the properties of its definitions and the keys of its examples.
pub fn vocabulary(sw: &Value) -> std::collections::BTreeSet<String> {
    fn walk(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    out.insert(k.clone());
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for d in sw["definitions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, d)| d)
    {
        out.extend(
            d["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
    }
    for ops in sw["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, o)| o)
    {
        for op in ops.as_object().into_iter().flatten().map(|(_, o)| o) {
            walk(&op["x-ms-examples"], &mut out);
        }
    }
    out
}

/// Checks `v` against `schema` for the subset the swagger's definitions use (`$ref`, `allOf`, `type`,
/// `properties`, `required`, `enum`, `items`). OData's `@odata.*` annotations are the swagger's `odata.*`
/// fields. A required name the schema does not define is the swagger's own slip and is not held against a value
/// (`CreateOrUpdateProfileRequest` requires `id` and defines only `displayName`). Returns the first problem,
/// with its JSON path.
pub fn validate(
    sw: &Value,
    schema: &Value,
    v: &Value,
    at: &str,
    mode: Fields,
) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        return validate(sw, definition(sw, r), v, at, mode);
    }
    if let Some(e) = schema["enum"].as_array() {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    let props = fields(sw, schema);
    let ty = schema["type"]
        .as_str()
        .unwrap_or(if props.is_empty() { "" } else { "object" });
    let fits = match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    };
    if !fits {
        return Err(format!("{at}: {v} is not of type {ty}"));
    }
    if let (false, Some(obj)) = (props.is_empty(), v.as_object()) {
        for r in schema["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) && props.contains_key(r) {
                return Err(format!("{at}: required `{r}` is missing"));
            }
        }
        for (k, x) in obj {
            let key = k.strip_prefix('@').unwrap_or(k);
            match props.get(key) {
                Some(s) => validate(sw, s, x, &format!("{at}/{k}"), mode)?,
                None if k.starts_with("@odata.") => {}
                None if matches!(mode, Fields::Known(names) if names.contains(k.as_str())) => {}
                None => return Err(format!("{at}: `{k}` is not a field of the schema")),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(sw, items, x, &format!("{at}/{i}"), mode)?;
        }
    }
    Ok(())
}

/// The schema of an operation's answer with `status`.
pub fn response_schema(op: &Value, status: u16) -> Option<&Value> {
    op["responses"][status.to_string()].get("schema")
}

/// The schema of an operation's JSON body parameter.
pub fn body_schema(op: &Value) -> Option<&Value> {
    op["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["in"] == "body")
        .map(|p| &p["schema"])
}

/// The example answers (2xx, with a body) of an operation: (example name, status, body).
pub fn answers(op: &Value) -> Vec<(String, u16, Value)> {
    let mut out = Vec::new();
    for (name, ex) in op["x-ms-examples"].as_object().into_iter().flatten() {
        for (status, r) in ex["responses"].as_object().into_iter().flatten() {
            let Ok(code) = status.parse::<u16>() else {
                continue;
            };
            if !(200..300).contains(&code) {
                continue;
            }
            // Some examples wrap the answer in `body`, some give it as it is.
            let body = match r.as_object() {
                Some(m) if m.len() == 1 && m.contains_key("body") => &r["body"],
                _ => r,
            };
            if body.as_object().is_some_and(|m| !m.is_empty()) || body.is_array() {
                out.push((name.clone(), code, body.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sw() -> Value {
        json!({"definitions": {
            "Base": {"properties": {"id": {"type": "string"}}},
            "Item": {"required": ["id", "kind", "ghost"], "allOf": [{"$ref": "#/definitions/Base"}],
                     "properties": {"kind": {"type": "string", "enum": ["A", "B"]}, "n": {"type": "integer"}}},
            "Items": {"properties": {"odata.context": {"type": "string"}, "value": {"type": "array", "items": {"$ref": "#/definitions/Item"}}}}},
          "paths": {"/v1.0/myorg/items/{id}": {"get": {"x-ms-examples": {"E": {"responses": {"200": {"body": {"id": "x", "kind": "A", "extra": 1}}}}}}}}})
    }

    #[test]
    fn types_required_fields_enums_and_names_are_checked() {
        let sw = sw();
        let items = json!({"$ref": "#/definitions/Items"});
        let ok = json!({"@odata.context": "u", "value": [{"id": "1", "kind": "A", "n": 2}]});
        assert_eq!(validate(&sw, &items, &ok, "", Fields::Defined), Ok(()));
        for (bad, why) in [
            (
                json!({"value": [{"id": "1", "kind": "C"}]}),
                "is not one of",
            ),
            (
                json!({"value": [{"id": 1, "kind": "A"}]}),
                "is not of type string",
            ),
            (json!({"value": [{"kind": "A"}]}), "required `id`"),
            (
                json!({"value": [{"id": "1", "kind": "A", "knid": "A"}]}),
                "`knid` is not a field",
            ),
        ] {
            let e = validate(&sw, &items, &bad, "", Fields::Defined).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        // A name the swagger documents elsewhere (its examples) is allowed in an answer; a misspelling is not.
        let names = vocabulary(&sw);
        let extra = json!({"value": [{"id": "1", "kind": "A", "extra": 1}]});
        assert_eq!(
            validate(&sw, &items, &extra, "", Fields::Known(&names)),
            Ok(())
        );
        let typo = json!({"value": [{"id": "1", "kind": "A", "extar": 1}]});
        assert!(validate(&sw, &items, &typo, "", Fields::Known(&names)).is_err());
        let (t, op) = operation(&sw, "get", "/v1.0/myorg/items/42").unwrap();
        assert_eq!(t, "/v1.0/myorg/items/{id}");
        assert_eq!(answers(op).len(), 1);
    }
}
