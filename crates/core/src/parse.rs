//! Parsing a scenario: typed structs for the rules, while keeping every field serde did not
//! recognise (Power BI silently ignores a misspelt `identites`) and every type error, each with
//! its JSON Pointer.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diag::{escape_token, Location};
use crate::powerbi::*;
use crate::scenario::*;

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
        write!(f, "invalid JSON at line {}, column {}: {}", self.line, self.column, self.message)
    }
}

pub fn parse_str(text: &str) -> Result<Parsed, SyntaxError> {
    let value: Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    Ok(parse_value(&value))
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
        Some(s) => parse_body(&s.request, s.endpoint.is_v2(), &mut unknown, &mut shape_errors),
        None => Body::Unusable,
    };
    Parsed { scenario, body, unknown, shape_errors }
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


fn typed<T: DeserializeOwned>(
    value: &Value,
    location: Location,
    unknown: &mut Vec<UnknownField>,
) -> Result<T, ShapeError> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    let mut ignored = Vec::new();
    let res = serde_ignored::deserialize(de, |path| ignored.push(ignored_segments(&path)));
    match res {
        Ok(t) => {
            for segs in ignored {
                let key = segs.last().cloned().unwrap_or_default();
                let known = known_fields(location, &segs[..segs.len().saturating_sub(1)], value);
                unknown.push(UnknownField { location, pointer: to_pointer(&segs), key, known });
            }
            Ok(t)
        }
        Err(e) => {
            let segs: Vec<String> = track
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    _ => None,
                })
                .collect();
            Err(ShapeError { location, pointer: to_pointer(&segs), message: clean_message(&e.to_string()) })
        }
    }
}

fn clean_message(msg: &str) -> String {
    // serde_json's messages name Rust types; say what JSON should be there instead.
    msg.replace("usize", "a number").replace("i64", "an integer")
}

fn ignored_segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut v = ignored_segments(parent);
            v.push(index.to_string());
            v
        }
        Path::Map { parent, key } => {
            let mut v = ignored_segments(parent);
            v.push(key.clone());
            v
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            ignored_segments(parent)
        }
    }
}

pub(crate) fn to_pointer(segs: &[String]) -> String {
    let mut p = String::new();
    for s in segs {
        p.push('/');
        p.push_str(&escape_token(s));
    }
    p
}

/// The fields valid at a place, for "did you mean" and for telling service fields from typos.
fn known_fields(location: Location, parent: &[String], root: &Value) -> &'static [&'static str] {
    let p: Vec<&str> = parent.iter().map(String::as_str).collect();
    let idx = |s: &str| s.parse::<usize>().is_ok();
    match location {
        Location::Request => match p.as_slice() {
            [] => {
                if root.get("reports").is_some() || root.get("datasets").is_some() || root.get("targetWorkspaces").is_some() {
                    GenerateTokenRequestV2::FIELDS
                } else {
                    GenerateTokenRequest::FIELDS
                }
            }
            ["datasets", i] if idx(i) => GenerateTokenRequestV2Dataset::FIELDS,
            ["reports", i] if idx(i) => GenerateTokenRequestV2Report::FIELDS,
            ["targetWorkspaces", i] if idx(i) => GenerateTokenRequestV2TargetWorkspace::FIELDS,
            ["identities", i] if idx(i) => EffectiveIdentity::FIELDS,
            ["identities", i, "identityBlob"] if idx(i) => IdentityBlob::FIELDS,
            ["datasourceIdentities", i] if idx(i) => DatasourceIdentity::FIELDS,
            _ => &[],
        },
        Location::Scenario => match p.as_slice() {
            [] => Scenario::FIELDS,
            ["caller"] => Caller::FIELDS,
            ["endpoint"] => Endpoint::FIELDS,
            ["workspaces", i] if idx(i) => Workspace::FIELDS,
            ["datasets", i] if idx(i) => Dataset::FIELDS,
            ["datasets", i, "gateway"] if idx(i) => GatewayAccess::FIELDS,
            ["reports", i] if idx(i) => Report::FIELDS,
            ["dashboards", i] if idx(i) => Dashboard::FIELDS,
            ["dashboards", i, "tiles", j] if idx(i) && idx(j) => Tile::FIELDS,
            _ => &[],
        },
    }
}

/// The closest known field to a misspelt one, if it is close enough to be a likely typo.
pub fn did_you_mean(key: &str, known: &[&'static str]) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (k, strsim::jaro_winkler(&lower, &k.to_ascii_lowercase())))
        .filter(|(_, s)| *s >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| *k)
}

/// Wraps an already typed scenario (no unknown fields to report, the body typed from `request`).
pub fn from_scenario(scenario: &Scenario) -> Parsed {
    let mut unknown = Vec::new();
    let mut shape_errors = Vec::new();
    let body = parse_body(&scenario.request, scenario.endpoint.is_v2(), &mut unknown, &mut shape_errors);
    Parsed { scenario: Some(scenario.clone()), body, unknown, shape_errors }
}
