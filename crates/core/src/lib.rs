//! Embedgate's rules core: Power BI embed-token requests checked against every rule of the
//! seed documents, the swagger and the service's documented behaviour. Pure: no I/O, builds for
//! native and `wasm32-unknown-unknown`.
//!
//! ```
//! let report = embedgate_core::check_str(r#"{
//!   "caller": {"principalType": "App", "objectId": "6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01"},
//!   "endpoint": {"kind": "GenerateTokenV2"},
//!   "workspaces": [{"id": "a1a1a1a1-0000-4000-8000-000000000001", "type": "Workspace", "callerAccess": "Admin"}],
//!   "datasets": [{"id": "d1d1d1d1-0000-4000-8000-000000000001", "roles": ["Customer"]}],
//!   "request": {"datasets": [{"id": "d1d1d1d1-0000-4000-8000-000000000001"}]}
//! }"#).unwrap();
//! assert!(report.has("EG0301")); // a service principal must send an identity for an RLS dataset
//! ```

pub mod capabilities;
pub mod diag;
pub mod docs;
pub mod explain;
pub use embedgate_scan::json;
pub mod locate;
pub mod parse;
pub mod powerbi;
pub mod preview;
pub mod rules;
pub mod scenario;
mod sort;
pub mod sources;
pub mod text;

pub use capabilities::{capabilities, Capabilities, RlsType};
pub use diag::{apply_fix, Diagnostic, Fix, Location, Report, Severity, Verdict};
pub use explain::{explain, Explanation};
pub use parse::{parse_str, parse_value, Parsed, SyntaxError};
pub use preview::{request_preview, RequestPreview};
pub use rules::{rule, Rule, CATALOG};
pub use scenario::Scenario;

/// Validates a parsed scenario: every rule, findings in document order.
pub fn validate(parsed: &Parsed) -> Report {
    let mut out = Vec::new();
    match &parsed.scenario {
        Some(s) => rules::run(&rules::Ctx::new(s, parsed), &mut out),
        None => rules::run_parse_only(parsed, &mut out),
    }
    Report::from_diagnostics(out)
}

/// Parses and validates scenario JSON. Only text that is not JSON at all is an `Err`.
pub fn check_str(text: &str) -> Result<Report, SyntaxError> {
    parse_str(text).map(|p| validate(&p))
}

/// Validates a scenario already held as a JSON value.
pub fn check_value(value: &serde_json::Value) -> Report {
    validate(&parse_value(value))
}

/// Validates a typed scenario (the worker builds one from Power BI metadata).
pub fn check_scenario(scenario: &Scenario) -> Report {
    let parsed = parse::from_scenario(scenario);
    validate(&parsed)
}

/// The JSON Schema of the scenario document.
#[cfg(feature = "schema")]
pub fn scenario_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).expect("schema serialises")
}

/// JSON Schemas of every shape that crosses an API boundary (the browser's TypeScript types are
/// generated from these): the scenario in, and the report, capabilities, rules and explanations out.
#[cfg(feature = "schema")]
pub fn schemas() -> std::collections::BTreeMap<&'static str, serde_json::Value> {
    use schemars::schema_for;
    let v = |s: schemars::Schema| serde_json::to_value(s).expect("schema serialises");
    let mut m = std::collections::BTreeMap::new();
    m.insert("scenario", v(schema_for!(Scenario)));
    m.insert("report", v(schema_for!(Report)));
    m.insert("capabilities", v(schema_for!(Capabilities)));
    m.insert("rules", v(schema_for!(Vec<Rule>)));
    m.insert("explanations", v(schema_for!(Vec<Explanation>)));
    m
}
