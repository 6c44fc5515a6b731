//! Microsoft's own examples (`x-ms-examples` of the Power BI REST swagger beside the repository, in
//! `shared/reference/powerbi-rest-swagger.json`) against the client: for every call the client makes, the
//! request it builds names an operation of the swagger (method and path), its JSON body is one the operation's
//! schema accepts, and its reader reads every example answer of that operation. The client and the emulator are
//! both this project's reading of the documents; these are Microsoft's.

use embedgate_client::powerbi::{self, Api, As, NameConflict};
use embedgate_client::swagger;
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

/// The swagger operation a request calls.
fn operation<'a>(sw: &'a Value, req: &Request) -> (&'a str, &'a Value) {
    let method = match req.method {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
    };
    let path = req.url.strip_prefix(BASE).unwrap();
    swagger::operation(sw, method, path)
        .unwrap_or_else(|| panic!("{} {path}: no operation in the swagger", req.name))
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
        if let (Some(body), Some(schema)) = (json_body, swagger::body_schema(op)) {
            let v: Value = serde_json::from_slice(body).unwrap();
            if let Err(e) = swagger::validate(&sw, schema, &v, "", swagger::Fields::Defined) {
                problems.push(format!("{} ({template}): body {e}", req.name));
            }
            bodies += 1;
        }
        let Some(reader) = reader else { continue };
        let examples = swagger::answers(op);
        assert!(
            !examples.is_empty(),
            "{} ({template}): no example answer",
            req.name
        );
        for (name, _, body) in examples {
            read += 1;
            if let Err(e) = reader(&body.to_string()) {
                problems.push(format!("{} ({template}), example {name:?}: {e}", req.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    println!("microsoft examples: {ops} operations, {read} example answers read, {bodies} request bodies valid");
    assert_eq!(ops, calls.len());
}
