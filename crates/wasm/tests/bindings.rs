//! The bindings as JavaScript sees them, run in node and in headless Chromium
//! (`scripts/test-www.sh`; see www/README.md). Values cross as JS objects or JSON text.

use embedgate_wasm as eg;
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const DATASET: &str = "d1d1d1d1-0000-4000-8000-000000000001";

/// Service principal, an RLS dataset, no identity (*Considerations when generating an embed token*: EG0301).
fn sp_no_identity() -> Value {
    json!({
        "caller": {"principalType": "App", "objectId": "6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01"},
        "endpoint": {"kind": "GenerateTokenV2"},
        "workspaces": [{"id": "a1a1a1a1-0000-4000-8000-000000000001", "name": "Contoso", "type": "Workspace", "callerAccess": "Admin"}],
        "datasets": [{"id": DATASET, "name": "Sales", "workspaceId": "a1a1a1a1-0000-4000-8000-000000000001", "model": "Import", "roles": ["Customer"]}],
        "request": {"datasets": [{"id": DATASET}]}
    })
}

fn to_js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap()
}

fn from_js(v: JsValue) -> Value {
    serde_wasm_bindgen::from_value(v).unwrap()
}

fn ok(r: Result<JsValue, wasm_bindgen::JsError>) -> Value {
    match r {
        Ok(v) => from_js(v),
        Err(e) => panic!(
            "unexpected error: {:?}",
            JsValue::from(e)
                .dyn_into::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        ),
    }
}

fn err_message(r: Result<JsValue, wasm_bindgen::JsError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => JsValue::from(e)
            .dyn_into::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap(),
    }
}

fn codes(report: &Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

#[wasm_bindgen_test]
fn validate_object_reports_eg0301_at_identities_with_a_fix() {
    let report = ok(eg::validate(to_js(&sp_no_identity())));
    assert_eq!(report["verdict"], "invalid");
    let d = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "EG0301")
        .expect("EG0301");
    assert_eq!(d["location"], "request");
    assert_eq!(d["pointer"], "/identities");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["fix"]["patch"][0]["path"], "/request/identities");
    assert!(d["source"]["quote"]
        .as_str()
        .unwrap()
        .contains("RLS dataset"));
}

#[wasm_bindgen_test]
fn validate_accepts_json_text_and_agrees_with_the_object_form() {
    let s = sp_no_identity();
    let from_text = ok(eg::validate(JsValue::from_str(
        &serde_json::to_string_pretty(&s).unwrap(),
    )));
    let from_object = ok(eg::validate(to_js(&s)));
    assert_eq!(from_text, from_object);
}

#[wasm_bindgen_test]
fn validate_throws_on_text_that_is_not_json() {
    let msg = err_message(eg::validate(JsValue::from_str("{\"caller\": ")));
    assert!(msg.contains("line 1"), "{msg}");
}

#[wasm_bindgen_test]
fn an_identity_with_a_role_clears_eg0301() {
    let mut s = sp_no_identity();
    s["request"]["identities"] =
        json!([{"username": "alice@contoso.com", "roles": ["Customer"], "datasets": [DATASET]}]);
    let report = ok(eg::validate(to_js(&s)));
    assert!(!codes(&report).contains(&"EG0301".to_string()), "{report}");
    assert_eq!(report["errors"], 0);
}

#[wasm_bindgen_test]
fn apply_fix_to_object_and_to_text() {
    let s = sp_no_identity();
    let report = ok(eg::validate(to_js(&s)));
    let fix = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "EG0301")
        .unwrap()["fix"]
        .clone();

    let fixed = ok(eg::apply_fix(to_js(&s), to_js(&fix)));
    assert_eq!(
        fixed["request"]["identities"][0]["datasets"],
        json!([DATASET])
    );
    assert!(!codes(&ok(eg::validate(to_js(&fixed)))).contains(&"EG0301".to_string()));

    let text = eg::apply_fix(JsValue::from_str(&s.to_string()), to_js(&fix))
        .ok()
        .unwrap()
        .as_string()
        .expect("text in, text out");
    assert!(text.contains("\n  \"request\""), "pretty JSON");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), fixed);
}

#[wasm_bindgen_test]
fn apply_fix_reports_a_patch_that_does_not_apply() {
    let fix = json!({"title": "t", "patch": [{"op": "remove", "path": "/nothing/here"}]});
    let msg = err_message(eg::apply_fix(to_js(&sp_no_identity()), to_js(&fix)));
    assert!(!msg.is_empty());
    let msg = err_message(eg::apply_fix(
        to_js(&sp_no_identity()),
        to_js(&json!({"title": 1})),
    ));
    assert!(msg.starts_with("not a fix"), "{msg}");
}

#[wasm_bindgen_test]
fn check_text_locates_each_diagnostic_in_the_text() {
    let text = serde_json::to_string_pretty(&sp_no_identity()).unwrap();
    let c = ok(eg::check_text(text.as_str().into()));
    let report = &c["report"];
    let i = codes(report).iter().position(|c| c == "EG0301").unwrap();
    let span = &c["spans"][i];
    // /request/identities is missing: the span is its parent, the `"request"` member.
    let request_line = text
        .lines()
        .position(|l| l.contains("\"request\""))
        .unwrap()
        + 1;
    assert_eq!(span["line"], request_line);
    assert_eq!(span["exact"], false);
    let start = span["start"].as_u64().unwrap() as usize;
    assert!(text[start..].starts_with("\"request\""));
    assert_eq!(c["syntaxError"], Value::Null);
    assert_eq!(
        c["spans"].as_array().unwrap().len(),
        report["diagnostics"].as_array().unwrap().len()
    );
}

#[wasm_bindgen_test]
fn check_text_gives_the_position_of_a_syntax_error() {
    let c = ok(eg::check_text(
        "{\n  \"caller\": {\n    \"principalType\": \"App\",\n  }\n}".into(),
    ));
    assert_eq!(c["report"], Value::Null);
    assert_eq!(c["syntaxError"]["line"], 4);
    assert!(c["syntaxError"]["message"]
        .as_str()
        .unwrap()
        .contains("trailing comma"));
}

#[wasm_bindgen_test]
fn locate_uses_utf16_offsets() {
    let text = "{\"name\": \"Zürich 🏔\", \"x\": 1}";
    let span = ok(eg::locate(text.into(), "/x"));
    let js_index = js_sys::JsString::from(text).index_of("\"x\"", 0);
    assert_eq!(span["start"], js_index);
    assert_eq!(span["exact"], true);
    assert_eq!(
        ok(eg::locate(text.into(), "/missing"))["exact"],
        false,
        "nearest ancestor"
    );
    assert!(eg::locate("".into(), "/a").unwrap().is_undefined());
}

#[wasm_bindgen_test]
fn capabilities_have_the_six_rls_rows_and_the_dataset_types() {
    let caps = ok(eg::capabilities());
    let types: Vec<&str> = caps["rls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rlsType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CloudRls",
            "Rdl",
            "AsOnPremLive",
            "AsAzureLive",
            "Sso",
            "SsoCloudRls"
        ]
    );
    assert_eq!(caps["datasetTypes"].as_array().unwrap().len(), 4);
    assert!(!caps["servicePrincipalNote"].as_array().unwrap().is_empty());
}

#[wasm_bindgen_test]
fn rules_are_the_core_catalog() {
    let rules = ok(eg::rules());
    let list = rules.as_array().unwrap();
    assert_eq!(list.len(), embedgate_core::CATALOG.len());
    let r = list.iter().find(|r| r["code"] == "EG0301").unwrap();
    assert_eq!(r["severity"], "error");
    assert!(r.get("check").is_none());
    // The docs stay out of the module: the rules page reads them from docs/rules.json.
    assert!(r.get("doc").is_none());
    assert!(!r["title"].as_str().unwrap().is_empty());
}

#[wasm_bindgen_test]
fn explain_names_the_rule() {
    let ex = ok(eg::explain(
        r#"{"error":{"code":"InvalidRequest","message":"Creating embed token for accessing dataset d1d1d1d1-0000-4000-8000-000000000001 requires effective identity to be provided"}}"#.into(),
    ));
    assert_eq!(ex[0]["id"], "identity-required");
    assert!(ex[0]["rules"]
        .as_array()
        .unwrap()
        .contains(&json!("EG0301")));
    assert_eq!(ex[0]["items"], json!([{"kind": "dataset", "id": DATASET}]));
    assert_eq!(ok(eg::explain("all good".into())), json!([]));
}

#[wasm_bindgen_test]
fn request_preview_for_a_profile() {
    let mut s = sp_no_identity();
    s["caller"]["profile"] =
        json!({"id": "0c0c0c0c-1111-4111-8111-000000000001", "displayName": "Contoso"});
    let p = ok(eg::request_preview(to_js(&s)));
    assert_eq!(p["method"], "POST");
    assert_eq!(p["url"], "https://api.powerbi.com/v1.0/myorg/GenerateToken");
    let headers: Vec<String> = p["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}: {}",
                h["name"].as_str().unwrap(),
                h["value"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        headers.contains(&"X-PowerBI-Profile-Id: 0c0c0c0c-1111-4111-8111-000000000001".to_string())
    );
    assert!(headers.contains(&"Authorization: Bearer $TOKEN".to_string()));
    assert_eq!(
        serde_json::from_str::<Value>(p["body"].as_str().unwrap()).unwrap(),
        s["request"]
    );
    assert!(p["curl"].as_str().unwrap().contains("X-PowerBI-Profile-Id"));

    // A master user never sends the profile header.
    s["caller"] = json!({"principalType": "User", "upn": "embed@contoso.com"});
    let p = ok(eg::request_preview(to_js(&s)));
    assert!(!p["curl"].as_str().unwrap().contains("X-PowerBI-Profile-Id"));
}

#[wasm_bindgen_test]
fn request_preview_rejects_an_unknown_endpoint() {
    let mut s = sp_no_identity();
    s["endpoint"] = json!({"kind": "Nope"});
    let msg = err_message(eg::request_preview(to_js(&s)));
    assert!(
        msg.starts_with("/endpoint/kind: unknown variant `Nope`, expected one of"),
        "{msg}"
    );
}

/// Text longer than the first buffer (16 KiB, a third of it in characters) is stringified again
/// into a buffer of its size: a scenario with 300 workspaces and non-ASCII names gets the same
/// report as text and as an object, and the same as the short form plus the extra workspaces' notes.
#[wasm_bindgen_test]
fn long_and_non_ascii_input_crosses_whole() {
    let mut s = sp_no_identity();
    let workspaces = s["workspaces"].as_array_mut().unwrap();
    for i in 0..300 {
        workspaces.push(json!({"id": format!("b1b1b1b1-0000-4000-8000-{i:012}"), "name": format!("Équipe ✓ {i}")}));
    }
    s["description"] = json!("é".repeat(6000));
    let text = s.to_string();
    assert!(text.len() > 16 * 1024, "{}", text.len());
    let from_object = ok(eg::validate(to_js(&s)));
    let from_text = ok(eg::validate(JsValue::from_str(&text)));
    assert_eq!(from_object, from_text);
    assert!(
        codes(&from_object).contains(&"EG0301".to_string()),
        "{from_object}"
    );
    // checkText's spans are UTF-16 offsets into that same long text.
    let checked = ok(eg::check_text(text.as_str().into()));
    assert_eq!(checked["report"], from_text);
}

#[wasm_bindgen_test]
fn values_json_cannot_hold_are_refused_with_a_message() {
    let undefined = err_message(eg::validate(JsValue::UNDEFINED));
    assert!(undefined.contains("undefined"), "{undefined}");
    let big = js_sys::Object::new();
    js_sys::Reflect::set(&big, &"n".into(), &js_sys::BigInt::from(1u64).into()).unwrap();
    let msg = err_message(eg::validate(big.into()));
    assert!(msg.contains("not JSON-serialisable"), "{msg}");
}

/// The core's work runs in a per-call arena (`arena.rs`) that is reused, and doubled after a call
/// that did not fit: results stay the same across calls of every size, in any order.
#[wasm_bindgen_test]
fn reports_do_not_depend_on_earlier_calls() {
    let small = sp_no_identity();
    let first = ok(eg::validate(to_js(&small)));
    let fix = first["diagnostics"][0]["fix"].clone();
    let fixed_first = ok(eg::apply_fix(to_js(&small), to_js(&fix)));

    let mut big = sp_no_identity();
    let workspaces = big["workspaces"].as_array_mut().unwrap();
    for i in 0..3000 {
        workspaces.push(
            json!({"id": format!("b1b1b1b1-0000-4000-8000-{i:012}"), "name": format!("W {i}")}),
        );
    }
    let big_text = big.to_string();
    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.push(ok(eg::validate(to_js(&big))));
        assert_eq!(ok(eg::validate(to_js(&small))), first);
        assert_eq!(ok(eg::apply_fix(to_js(&small), to_js(&fix))), fixed_first);
        let checked = ok(eg::check_text(big_text.as_str().into()));
        assert_eq!(checked["report"], reports[0]);
    }
    assert!(reports.iter().all(|r| *r == reports[0]));
    assert!(codes(&reports[0]).contains(&"EG0301".to_string()));
}
