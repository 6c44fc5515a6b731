//! Parsing a scenario: typed structs for the rules, while keeping every field the types do not
//! define (Power BI silently ignores a misspelt `identites`) and the first type error, each with
//! its JSON Pointer. The typed read is [`typed`]'s, shared by text and `Value` input.

use serde_json::Value;

use crate::diag::{escape_token, Location};
use crate::json::J;
use crate::powerbi::*;
use crate::scenario::*;

#[cfg(test)]
mod serde_oracle;
pub mod typed;
pub use typed::FromJson;

/// The request body, typed for the endpoint the scenario calls.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    V1(GenerateTokenRequest),
    V2(GenerateTokenRequestV2),
    /// The body has a type error (reported as a finding); body rules cannot run.
    Unusable,
}

/// A field serde did not recognise.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownField {
    pub location: Location,
    /// Pointer to the field itself (`/identities/0/identites`).
    pub pointer: String,
    pub key: String,
    /// The fields that are valid at that place.
    pub known: &'static [&'static str],
    /// The member's value when it is a string (what a rule may quote: `"accessLevel": "Edit"`).
    pub text: Option<String>,
}

/// A value of the wrong type or a missing required field.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError {
    pub location: Location,
    pub pointer: String,
    pub message: String,
}

/// A scenario ready for the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// `None` when the scenario itself (not the body) has a shape error. Its `request` is left
    /// `null` by [`parse_str`] and [`parse_value`]: the body is [`Parsed::body`], typed, and an
    /// untyped copy of it would cost about a sixth of the parse (see docs/benchmarks.md).
    pub scenario: Option<Scenario>,
    pub body: Body,
    pub unknown: Vec<UnknownField>,
    pub shape_errors: Vec<ShapeError>,
}

/// JSON that is not JSON at all: the input is unusable.
pub use crate::json::SyntaxError;

/// Parses scenario JSON text: [`json::parse`](crate::json::parse) (serde_json's syntax errors,
/// with line and column), then the typed read of [`typed`].
pub fn parse_str(text: &str) -> Result<Parsed, SyntaxError> {
    Ok(parse_tree(&crate::json::parse(text)?))
}

/// Parses an already parsed scenario (same result as [`parse_str`] on its text).
pub fn parse_value(value: &Value) -> Parsed {
    parse_tree(&J::from_value(value))
}

/// Parses a scenario already read into a JSON tree (what [`parse_str`] does after reading the text).
pub fn parse_tree(tree: &J) -> Parsed {
    let mut unknown = Vec::new();
    let mut shape_errors = Vec::new();
    let scenario: Option<Scenario> = match typed::read(tree, Location::Scenario, &mut unknown) {
        Ok(s) => Some(s),
        Err(e) => {
            shape_errors.push(e);
            None
        }
    };
    let body = match &scenario {
        Some(s) => {
            // The member `Value` kept: the last `request`.
            let request = match tree {
                J::Obj(m) => m.iter().rev().find(|(k, _)| k == "request").map(|(_, v)| v),
                _ => None,
            };
            body_tree(request, s.endpoint.is_v2(), &mut unknown, &mut shape_errors)
        }
        None => Body::Unusable,
    };
    Parsed {
        scenario,
        body,
        unknown,
        shape_errors,
    }
}

/// Parses a bare request body for an endpoint (used when only the body is at hand).
pub fn parse_body(
    request: &Value,
    v2: bool,
    unknown: &mut Vec<UnknownField>,
    shape_errors: &mut Vec<ShapeError>,
) -> Body {
    body_tree(Some(&J::from_value(request)), v2, unknown, shape_errors)
}

/// The body from its tree; absent or `null` is an empty body.
fn body_tree(
    request: Option<&J>,
    v2: bool,
    unknown: &mut Vec<UnknownField>,
    shape_errors: &mut Vec<ShapeError>,
) -> Body {
    let empty = J::Obj(Vec::new());
    let request = match request {
        None | Some(J::Null) => &empty,
        Some(r) => r,
    };
    let res = if v2 {
        typed::read(request, Location::Request, unknown).map(Body::V2)
    } else {
        typed::read(request, Location::Request, unknown).map(Body::V1)
    };
    res.unwrap_or_else(|e| {
        shape_errors.push(e);
        Body::Unusable
    })
}

/// Reads a typed value (an endpoint, a fix) from a `Value`; the error names its JSON Pointer.
pub fn from_value<T: FromJson>(value: &Value) -> Result<T, ShapeError> {
    from_tree(&J::from_value(value))
}

/// Reads a typed value from a JSON tree; the error names its JSON Pointer.
pub fn from_tree<T: FromJson>(tree: &J) -> Result<T, ShapeError> {
    typed::read(tree, Location::Scenario, &mut Vec::new())
}

pub(crate) fn clean_message(msg: &str) -> String {
    // serde's messages name Rust types; say what JSON should be there instead.
    msg.replace("usize", "a number")
        .replace("i64", "an integer")
}

/// One step of a path: an object member or an array index (no allocation while walking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

pub(crate) fn pointer_of(segs: &[Seg]) -> String {
    let mut p = String::new();
    for s in segs {
        p.push('/');
        match s {
            Seg::Key(k) => p.push_str(&escape_token(k)),
            Seg::Index(i) => p.push_str(&i.to_string()),
        }
    }
    p
}

/// The closest known field to a misspelt one, if it is close enough to be a likely typo.
pub fn did_you_mean(key: &str, known: &[&'static str]) -> Option<&'static str> {
    crate::text::closest_within(key, known.iter().copied(), 0.85)
}

/// Wraps an already typed scenario (no unknown fields to report, the body typed from `request`).
pub fn from_scenario(scenario: &Scenario) -> Parsed {
    let mut unknown = Vec::new();
    let mut shape_errors = Vec::new();
    let body = parse_body(
        &scenario.request,
        scenario.endpoint.is_v2(),
        &mut unknown,
        &mut shape_errors,
    );
    Parsed {
        scenario: Some(scenario.clone()),
        body,
        unknown,
        shape_errors,
    }
}

#[cfg(test)]
mod tests {
    //! `parse_str` (typed straight from the text) against `parse_value` (through a `Value`):
    //! every example, with every place mutated, in several key orders and with duplicate keys.
    use super::*;

    /// JSON text with keys in `order`: 0 as `Value` holds them (sorted), 1 reversed, 2 reversed
    /// and every object's first key repeated first with `null` (a duplicate `Value` overwrites).
    fn emit(v: &Value, order: u8, out: &mut String) {
        match v {
            Value::Object(m) => {
                out.push('{');
                let mut keys: Vec<&String> = m.keys().collect();
                if order > 0 {
                    keys.reverse();
                }
                let mut first = true;
                if order == 2 {
                    if let Some(k) = keys.first() {
                        out.push_str(&serde_json::to_string(k).unwrap());
                        out.push_str(": null");
                        first = false;
                    }
                }
                for k in keys {
                    if !first {
                        out.push_str(",\n ");
                    }
                    first = false;
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push_str(": ");
                    emit(&m[k], order, out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    emit(x, order, out);
                }
                out.push(']');
            }
            _ => out.push_str(&serde_json::to_string(v).unwrap()),
        }
    }

    fn pointers(v: &Value, prefix: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = format!("{prefix}/{}", escape_token(k));
                    out.push(p.clone());
                    pointers(x, p, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let p = format!("{prefix}/{i}");
                    out.push(p.clone());
                    pointers(x, p, out);
                }
            }
            _ => {}
        }
    }

    /// The typed read against serde's (see `serde_oracle`): the same result, or both rejecting an
    /// array where a struct belongs (serde reads fields by position there; the typed read does not).
    fn same(text: &str) {
        let old = serde_json::from_str::<Value>(text)
            .map(|v| serde_oracle::parse_value_serde(&v))
            .map_err(|e| (e.line(), e.column(), strip_position(&e.to_string())));
        let new = parse_str(text).map_err(|e| (e.line, e.column, e.message));
        if let Ok(n) = &new {
            if n.shape_errors.iter().any(|e| {
                e.message
                    .starts_with("invalid type: sequence, expected struct")
                    || e.message
                        .starts_with("invalid type: sequence, expected internally")
            }) {
                return;
            }
        }
        if let (Ok(n), Ok(o)) = (&new, &old) {
            assert_eq!(
                n.shape_errors, o.shape_errors,
                "shape errors differ on:\n{text}"
            );
            assert_eq!(n.unknown, o.unknown, "unknown fields differ on:\n{text}");
        }
        assert_eq!(new, old, "parse_str differs from serde's on:\n{text}");
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            assert_eq!(
                parse_value(&v),
                new.unwrap(),
                "parse_value differs on:\n{text}"
            );
        }
    }

    fn strip_position(msg: &str) -> String {
        match msg.find(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg.to_string(),
        }
    }

    fn examples() -> Vec<Value> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap());
            }
        }
        assert!(!out.is_empty());
        out
    }

    #[test]
    fn text_parse_equals_value_parse_on_mutated_examples() {
        let replacements: Vec<Value> = [
            "null", "true", "0", "7", "-1", "1.5", "1e300", "\"x\"", "\"App\"", "\"Admin\"",
            "[]", "[1]", "[\"a\", 2]", "{}", "{\"a\": 1}", "{\"App\": null}",
            "{\"App\": 1}", "{\"App\": null, \"User\": null}", "{\"Zed\": null, \"App\": null}",
            "{\"kind\": \"Report\"}", "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\"]",
        ]
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
        for base in examples() {
            let mut ps = Vec::new();
            pointers(&base, String::new(), &mut ps);
            let mut docs = vec![base.clone()];
            for p in &ps {
                for r in &replacements {
                    let mut d = base.clone();
                    *d.pointer_mut(p).unwrap() = r.clone();
                    docs.push(d);
                }
                let (parent, last) = p.rsplit_once('/').unwrap();
                let mut d = base.clone();
                match d.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(last);
                        let removed = Value::Object(m.clone());
                        m.insert("identites".into(), Value::Null);
                        m.insert("zz~/\"".into(), Value::from(1));
                        docs.push(d.clone());
                        *d.pointer_mut(parent).unwrap() = removed;
                        docs.push(d);
                    }
                    Some(Value::Array(a)) => {
                        a.remove(0);
                        docs.push(d);
                    }
                    _ => {}
                }
            }
            // Each document in one of the three key orders, in turn (all three: ~3x the time).
            for (i, d) in docs.iter().enumerate() {
                let mut text = String::new();
                emit(d, (i % 3) as u8, &mut text);
                same(&text);
            }
        }
    }

    #[test]
    fn text_parse_equals_value_parse_on_odd_text() {
        let base = serde_json::to_string_pretty(&examples()[0]).unwrap();
        for cut in (0..base.len()).step_by(7) {
            same(&base[..cut]);
        }
        for t in [
            "", " ", "[]", "1", "\"x\"", "null", "{}", "{\"caller\": 1e400}", "{\"a\": \"\\ud800\"}",
            "{\"a\": \"\\u00e9\\n\"}", "{} x", "{\"caller\":{\"principalType\":\"App\"},}",
            "{\"caller\":{\"principalType\":\"App\",\"objectId\":\"o\"},\"endpoint\":{\"kind\":\"GenerateTokenV2\"},\"request\":{\"identities\":[{\"u\\u0073ername\":\"x\",\"bad\\\"key\":1}]}}",
            "{\"c\\u0061ller\":{\"principalType\":\"App\",\"objectId\":\"o\"},\"endpoint\":{\"kind\":\"GenerateTokenV2\"}}",
            "{\"caller\":{\"principalType\":\"App\",\"objectId\":\"o\"},\"endpoint\":{\"kind\":\"GenerateTokenV2\"},\"request\":{\"lifetimeInMinutes\":123456789012345678901234567890}}",
        ] {
            same(t);
        }
    }
}
