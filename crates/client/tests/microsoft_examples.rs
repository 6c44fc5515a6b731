//! Microsoft's own examples (`x-ms-examples` of the Power BI REST swagger beside the repository, in
//! `shared/reference/powerbi-rest-swagger.json`) against the client: for every call the client makes, the
//! request it builds names an operation of the swagger (method and path), its JSON body is one the operation's
//! schema accepts, and its reader reads every example answer of that operation. The client and the emulator are
//! both this project's reading of the documents; these are Microsoft's.

use embedgate_client::powerbi::{self, Api, As, NameConflict};
use embedgate_client::{Method, Request};
use embedgate_core::powerbi::{GenerateTokenRequestV2, GroupUserAccessRight};
use serde_json::{json, Value};

fn swagger() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/powerbi-rest-swagger.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

const BASE: &str = "https://api.powerbi.com";
const ID: &str = "f089354e-8366-4e18-aea3-4cb4a3a50b48";

/// The swagger operation a request calls: its path template matches the URL's path segment by segment.
fn operation<'a>(sw: &'a Value, req: &Request) -> (&'a str, &'a Value) {
    let method = match req.method {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
    };
    let path = req.url.strip_prefix(BASE).unwrap();
    let path = path.split('?').next().unwrap();
    let segs: Vec<&str> = path.split('/').collect();
    for (template, ops) in sw["paths"].as_object().unwrap() {
        let t: Vec<&str> = template.split('/').collect();
        let fits = t.len() == segs.len()
            && t.iter()
                .zip(&segs)
                .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}')));
        if fits {
            if let Some(op) = ops.get(method) {
                return (template, op);
            }
        }
    }
    panic!("{} {path}: no operation in the swagger", req.name);
}

/// A schema check for the subset the swagger's definitions use (`$ref`, `allOf`, `type`, `properties`,
/// `required`, `enum`, `items`); a field the schema does not define is refused. The first problem, with its path.
fn validate(sw: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/definitions/");
        return validate(sw, &sw["definitions"][name], v, at);
    }
    // A schema's own properties and those of the schemas it extends (`allOf`) together define its fields.
    let mut props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for s in schema["allOf"].as_array().into_iter().flatten() {
        let base = match s["$ref"].as_str() {
            Some(r) => &sw["definitions"][r.trim_start_matches("#/definitions/")],
            None => s,
        };
        for (k, x) in base["properties"].as_object().into_iter().flatten() {
            props.insert(k.clone(), x.clone());
        }
    }
    if let Some(e) = schema["enum"].as_array() {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
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
            let r = r.as_str().unwrap();
            // A required name the schema does not define is the swagger's own slip
            // (`CreateOrUpdateProfileRequest` requires `id` and defines only `displayName`; Microsoft's example
            // request sends `displayName` alone): it is not held against a body.
            if !obj.contains_key(r) && props.contains_key(r) {
                return Err(format!("{at}: required `{r}` is missing"));
            }
        }
        for (k, x) in obj {
            match props.get(k) {
                Some(s) => validate(sw, s, x, &format!("{at}/{k}"))?,
                None => return Err(format!("{at}: `{k}` is not a field of the schema")),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(sw, items, x, &format!("{at}/{i}"))?;
        }
    }
    Ok(())
}

/// The example answers (2xx, with a body) of an operation, by example name.
fn answers(op: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, ex) in op["x-ms-examples"].as_object().into_iter().flatten() {
        for (status, r) in ex["responses"].as_object().into_iter().flatten() {
            if !status.starts_with('2') {
                continue;
            }
            // Some examples wrap the answer in `body`, some give it as it is.
            let body = match r.as_object() {
                Some(m) if m.len() == 1 && m.contains_key("body") => &r["body"],
                _ => r,
            };
            if body.as_object().is_some_and(|m| !m.is_empty()) || body.is_array() {
                out.push((name.clone(), body.to_string()));
            }
        }
    }
    out
}

type Reader = fn(&str) -> Result<(), String>;

fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| format!("{e:?}"))
}

#[test]
fn every_call_names_an_operation_sends_a_body_its_schema_accepts_and_reads_every_example_answer() {
    let sw = swagger();
    let api = Api { base: BASE.into() };
    let who = As {
        token: "t",
        profile: Some(ID),
    };
    let member = Api::profile_member(ID, ID, GroupUserAccessRight::Admin);
    let v2: GenerateTokenRequestV2 = serde_json::from_value(json!({
        "datasets": [{"id": ID}], "reports": [{"id": ID}],
        "identities": [{"username": "u", "roles": ["r"], "datasets": [ID]}],
        "lifetimeInMinutes": 30
    }))
    .unwrap();
    let calls: Vec<(Request, Option<Reader>)> = vec![
        (
            api.get_groups(who, Some("name eq 'x'")),
            Some(|b| ok(powerbi::read_groups(b))),
        ),
        (api.get_group(who, ID), Some(|b| ok(powerbi::read_group(b)))),
        (
            api.create_group(who, "New"),
            Some(|b| ok(powerbi::read_group(b))),
        ),
        (api.delete_group(who, ID), None),
        (
            api.get_group_users(who, ID),
            Some(|b| ok(powerbi::read_group_users(b))),
        ),
        (api.add_group_user(who, ID, &member), None),
        (
            api.get_reports(who, ID),
            Some(|b| ok(powerbi::read_list::<Value>(b))),
        ),
        (
            api.get_report(who, ID, ID),
            Some(|b| {
                let r = powerbi::read_object(b).map_err(|e| format!("{e:?}"))?;
                powerbi::report_dataset(&r, ID)
                    .map(|_| ())
                    .ok_or("no dataset".into())
            }),
        ),
        (
            api.get_datasets(who, ID),
            Some(|b| ok(powerbi::read_list::<Value>(b))),
        ),
        (
            api.get_dataset(who, ID, ID),
            Some(|b| ok(powerbi::read_object(b))),
        ),
        (
            api.get_datasources(who, ID, ID),
            Some(|b| ok(powerbi::dataset_with_sources(r#"{"id":"d"}"#, b))),
        ),
        (
            api.generate_token(who, &v2),
            Some(|b| ok(powerbi::read_embed_token(b))),
        ),
        (
            api.get_profiles("t"),
            Some(|b| ok(powerbi::read_profiles(b))),
        ),
        (
            api.create_profile("t", "New"),
            Some(|b| ok(powerbi::read_profile(b))),
        ),
        (api.update_profile("t", ID, "New"), None),
        (api.delete_profile("t", ID), None),
        (
            api.post_import(who, ID, "Sales", NameConflict::Abort, b"file", "b"),
            Some(|b| {
                let o = powerbi::read_object(b).map_err(|e| format!("{e:?}"))?;
                o.get("id")
                    .and_then(Value::as_str)
                    .map(|_| ())
                    .ok_or("no id".into())
            }),
        ),
        (
            api.get_import(who, ID, ID),
            Some(|b| ok(powerbi::read_import(b))),
        ),
        (
            api.get_imports(who, ID),
            Some(|b| ok(powerbi::read_imports(b))),
        ),
    ];
    let (mut ops, mut read, mut bodies) = (0, 0, 0);
    let mut problems = Vec::new();
    for (req, reader) in &calls {
        let (template, op) = operation(&sw, req);
        ops += 1;
        // The JSON body against the operation's body parameter.
        let json_body = req
            .body
            .as_ref()
            .filter(|_| req.header("content-type") == Some("application/json"));
        let param = op["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["in"] == "body"));
        if let (Some(body), Some(param)) = (json_body, param) {
            let v: Value = serde_json::from_slice(body).unwrap();
            if let Err(e) = validate(&sw, &param["schema"], &v, "") {
                problems.push(format!("{} ({template}): body {e}", req.name));
            }
            bodies += 1;
        }
        let Some(reader) = reader else { continue };
        let examples = answers(op);
        assert!(
            !examples.is_empty(),
            "{} ({template}): no example answer",
            req.name
        );
        for (name, body) in examples {
            read += 1;
            if let Err(e) = reader(&body) {
                problems.push(format!("{} ({template}), example {name:?}: {e}", req.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    println!("microsoft examples: {ops} operations, {read} example answers read, {bodies} request bodies valid");
    assert_eq!(ops, calls.len());
}
