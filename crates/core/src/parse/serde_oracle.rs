//! The serde route the typed read replaced, kept as the tests' reference: `Deserialize` over a
//! `Value` with `serde_path_to_error`, and unknown fields from a walk over the `Value`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{clean_message, pointer_of, Body, Parsed, Seg, ShapeError, UnknownField};
use crate::diag::{escape_token, Location};
use crate::powerbi::*;
use crate::scenario::*;

pub fn parse_value_serde(value: &Value) -> Parsed {
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
        Some(s) => parse_body_serde(
            &s.request,
            s.endpoint.is_v2(),
            &mut unknown,
            &mut shape_errors,
        ),
        None => Body::Unusable,
    };
    Parsed {
        // The typed read keeps the body typed only (`Parsed::scenario`'s doc).
        scenario: scenario.map(|s| Scenario {
            request: Value::Null,
            ..s
        }),
        body,
        unknown,
        shape_errors,
    }
}

/// Parses a bare request body for an endpoint (used when only the body is at hand).
fn parse_body_serde(
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

fn to_pointer(segs: &[String]) -> String {
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
                            text: child.as_str().map(String::from),
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

/// The fields of the typed object at a path, `None` where the place is not a typed object.
fn struct_fields(location: Location, v2: bool, segs: &[Seg]) -> Option<&'static [&'static str]> {
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
