//! Parsing a scenario: typed structs for the rules, while keeping every field serde did not
//! recognise (Power BI silently ignores a misspelt `identites`) and every type error, each with
//! its JSON Pointer.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diag::{escape_token, Location};
use crate::powerbi::*;
use crate::scenario::*;

mod scan;

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
    /// `None` when the scenario itself (not the body) has a shape error.
    pub scenario: Option<Scenario>,
    pub body: Body,
    pub unknown: Vec<UnknownField>,
    pub shape_errors: Vec<ShapeError>,
}

/// JSON that is not JSON at all: the input is unusable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid JSON at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Parses scenario JSON text. Equivalent to [`parse_value`] on the parsed text (same scenario,
/// body, unknown fields and shape errors), but it deserialises the typed structs straight from the
/// text: no `Value` tree on the happy path, and no second instantiation of every type's
/// `Deserialize` (the browser module's size). Unknown fields come from a small scan of the text
/// against the `FIELDS` lists ([`scan`]). Only when something is off (a type error, a duplicate
/// key, an escaped key, or text the scan is not sure about) does it take the slow route: parse to
/// a `Value` (syntax errors), write it back canonically (keys sorted and unique, as `Value` holds
/// them) and parse that, so that the first error is the one [`parse_value`] reports; its path comes
/// from the error's position in the canonical text.
pub fn parse_str(text: &str) -> Result<Parsed, SyntaxError> {
    if let Some(p) = scan::fast(text) {
        return Ok(p);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    Ok(scan::canonical(
        &serde_json::to_string(&value).unwrap_or_default(),
    ))
}

/// serde_json's message without the ` at line L column C` it appends.
pub fn error_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if e.line() == 0 {
        return msg;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    msg.strip_suffix(&suffix).unwrap_or(&msg).to_string()
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

pub fn parse_value(value: &Value) -> Parsed {
    let mut unknown = Vec::new();
    let mut shape_errors = Vec::new();
    let scenario: Option<Scenario> = match typed(value, Location::Scenario, &mut unknown) {
        Ok(s) => Some(s),
        Err(e) => {
            shape_errors.push(e);
            None
        }
    };
    let body = match &scenario {
        Some(s) => parse_body(
            &s.request,
            s.endpoint.is_v2(),
            &mut unknown,
            &mut shape_errors,
        ),
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
    let empty;
    let request = if request.is_null() {
        empty = Value::Object(serde_json::Map::new());
        &empty
    } else {
        request
    };
    let res = if v2 {
        typed::<GenerateTokenRequestV2>(request, Location::Request, unknown).map(Body::V2)
    } else {
        typed::<GenerateTokenRequest>(request, Location::Request, unknown).map(Body::V1)
    };
    res.unwrap_or_else(|e| {
        shape_errors.push(e);
        Body::Unusable
    })
}

fn typed<T: DeserializeOwned + 'static>(
    value: &Value,
    location: Location,
    unknown: &mut Vec<UnknownField>,
) -> Result<T, ShapeError> {
    // Fast path: plain serde over the tree. The path of a type error is only tracked when there is one.
    match T::deserialize(value) {
        Ok(t) => {
            let v2 = location == Location::Request && is_v2::<T>();
            walk_unknown(value, location, v2, &mut Vec::new(), unknown);
            Ok(t)
        }
        Err(_) => {
            let mut track = serde_path_to_error::Track::new();
            let de = serde_path_to_error::Deserializer::new(value, &mut track);
            let err = match T::deserialize(de) {
                Err(e) => e.to_string(),
                Ok(_) => "invalid value".to_string(),
            };
            let segs: Vec<String> = track
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    _ => None,
                })
                .collect();
            Err(ShapeError {
                location,
                pointer: to_pointer(&segs),
                message: clean_message(&err),
            })
        }
    }
}

pub(crate) fn clean_message(msg: &str) -> String {
    // serde_json's messages name Rust types; say what JSON should be there instead.
    msg.replace("usize", "a number")
        .replace("i64", "an integer")
}

pub(crate) fn to_pointer(segs: &[String]) -> String {
    let mut p = String::new();
    for s in segs {
        p.push('/');
        p.push_str(&escape_token(s));
    }
    p
}

fn is_v2<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<GenerateTokenRequestV2>()
}

/// One step of a path: an object member or an array index (no allocation while walking).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Reports every member of a typed object that its type does not define. Untyped places (the
/// verbatim `request` inside a scenario) are not entered; an unknown member is not entered either.
fn walk_unknown<'a>(
    v: &'a Value,
    location: Location,
    v2: bool,
    segs: &mut Vec<Seg<'a>>,
    out: &mut Vec<UnknownField>,
) {
    match v {
        Value::Object(m) => {
            let fields = struct_fields(location, v2, segs);
            for (k, child) in m {
                if let Some(known) = fields {
                    if !known.contains(&k.as_str()) {
                        let mut p = pointer_of(segs);
                        p.push('/');
                        p.push_str(&escape_token(k));
                        out.push(UnknownField {
                            location,
                            pointer: p,
                            key: k.clone(),
                            known,
                        });
                        continue;
                    }
                }
                if location == Location::Scenario && segs.is_empty() && k == "request" {
                    continue;
                }
                segs.push(Seg::Key(k));
                walk_unknown(child, location, v2, segs, out);
                segs.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                segs.push(Seg::Index(i));
                walk_unknown(x, location, v2, segs, out);
                segs.pop();
            }
        }
        _ => {}
    }
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

/// The fields of the typed object at a path, `None` where the place is not a typed object.
pub(crate) fn struct_fields(
    location: Location,
    v2: bool,
    segs: &[Seg],
) -> Option<&'static [&'static str]> {
    use Seg::{Index as I, Key as K};
    Some(match location {
        Location::Request => match segs {
            [] if v2 => GenerateTokenRequestV2::FIELDS,
            [] => GenerateTokenRequest::FIELDS,
            [K("datasets"), I(_)] if v2 => GenerateTokenRequestV2Dataset::FIELDS,
            [K("reports"), I(_)] if v2 => GenerateTokenRequestV2Report::FIELDS,
            [K("targetWorkspaces"), I(_)] if v2 => GenerateTokenRequestV2TargetWorkspace::FIELDS,
            [K("identities"), I(_)] => EffectiveIdentity::FIELDS,
            [K("identities"), I(_), K("identityBlob")] => IdentityBlob::FIELDS,
            [K("datasourceIdentities"), I(_)] if v2 => DatasourceIdentity::FIELDS,
            [K("datasourceIdentities"), I(_), K("datasources"), I(_)] if v2 => {
                DatasourceSelector::FIELDS
            }
            [K("datasourceIdentities"), I(_), K("datasources"), I(_), K("connectionDetails")]
                if v2 =>
            {
                DatasourceConnectionDetails::FIELDS
            }
            _ => return None,
        },
        Location::Scenario => match segs {
            [] => Scenario::FIELDS,
            [K("caller")] => Caller::FIELDS,
            [K("caller"), K("profile")] => ServicePrincipalProfile::FIELDS,
            [K("endpoint")] => Endpoint::FIELDS,
            [K("expect")] => Expectation::FIELDS,
            [K("workspaces"), I(_)] => Workspace::FIELDS,
            [K("workspaces"), I(_), K("users"), I(_)] => GroupUser::FIELDS,
            [K("workspaces"), I(_), K("users"), I(_), K("profile")] => {
                ServicePrincipalProfile::FIELDS
            }
            [K("datasets"), I(_)] => Dataset::FIELDS,
            [K("datasets"), I(_), K("gateway")] => GatewayAccess::FIELDS,
            [K("datasets"), I(_), K("datasources"), I(_)] => Datasource::FIELDS,
            [K("datasets"), I(_), K("datasources"), I(_), K("connectionDetails")] => {
                DatasourceConnectionDetails::FIELDS
            }
            [K("reports"), I(_)] => Report::FIELDS,
            [K("dashboards"), I(_)] => Dashboard::FIELDS,
            [K("dashboards"), I(_), K("tiles"), I(_)] => Tile::FIELDS,
            _ => return None,
        },
    })
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

    fn same(text: &str) {
        let old = serde_json::from_str::<Value>(text)
            .map(|v| parse_value(&v))
            .map_err(|e| (e.line(), e.column(), strip_position(&e.to_string())));
        let new = parse_str(text).map_err(|e| (e.line, e.column, e.message));
        if let (Ok(n), Ok(o)) = (&new, &old) {
            assert_eq!(
                n.shape_errors, o.shape_errors,
                "shape errors differ on:\n{text}"
            );
            assert_eq!(n.unknown, o.unknown, "unknown fields differ on:\n{text}");
        }
        assert_eq!(new, old, "parse_str differs from parse_value on:\n{text}");
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
