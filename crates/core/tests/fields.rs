//! The `FIELDS` lists that drive unknown-field detection and "did you mean" must name every field
//! the type really has (checked against the types' own JSON Schemas, so they cannot drift).

use embedgate_core::powerbi::*;
use embedgate_core::scenario::*;
use schemars::{schema_for, JsonSchema};

fn properties<T: JsonSchema>() -> Vec<String> {
    let v = serde_json::to_value(schema_for!(T)).unwrap();
    v["properties"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn assert_covers<T: JsonSchema>(fields: &[&str]) {
    for p in properties::<T>() {
        assert!(
            fields.contains(&p.as_str()),
            "{} lacks `{p}` in FIELDS",
            std::any::type_name::<T>()
        );
    }
}

#[test]
fn fields_lists_cover_the_types() {
    assert_covers::<GenerateTokenRequest>(GenerateTokenRequest::FIELDS);
    assert_covers::<GenerateTokenRequestV2>(GenerateTokenRequestV2::FIELDS);
    assert_covers::<GenerateTokenRequestV2Dataset>(GenerateTokenRequestV2Dataset::FIELDS);
    assert_covers::<GenerateTokenRequestV2Report>(GenerateTokenRequestV2Report::FIELDS);
    assert_covers::<GenerateTokenRequestV2TargetWorkspace>(
        GenerateTokenRequestV2TargetWorkspace::FIELDS,
    );
    assert_covers::<EffectiveIdentity>(EffectiveIdentity::FIELDS);
    assert_covers::<IdentityBlob>(IdentityBlob::FIELDS);
    assert_covers::<DatasourceIdentity>(DatasourceIdentity::FIELDS);
    assert_covers::<Scenario>(Scenario::FIELDS);
    assert_covers::<Caller>(Caller::FIELDS);
    assert_covers::<Workspace>(Workspace::FIELDS);
    assert_covers::<Dataset>(Dataset::FIELDS);
    assert_covers::<GatewayAccess>(GatewayAccess::FIELDS);
    assert_covers::<Report>(Report::FIELDS);
    assert_covers::<Dashboard>(Dashboard::FIELDS);
    assert_covers::<Tile>(Tile::FIELDS);
    assert_covers::<Expectation>(Expectation::FIELDS);
    assert_covers::<GroupUser>(GroupUser::FIELDS);
    assert_covers::<ServicePrincipalProfile>(ServicePrincipalProfile::FIELDS);
    assert_covers::<Datasource>(Datasource::FIELDS);
    assert_covers::<DatasourceConnectionDetails>(DatasourceConnectionDetails::FIELDS);
    assert_covers::<DatasourceSelector>(DatasourceSelector::FIELDS);
}

#[test]
fn unknown_fields_are_found_at_every_depth() {
    let v = serde_json::json!({
        "caller": {"principalType": "App", "objectId": "6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01", "profile": {"id": "0c0c0c0c-1111-4111-8111-000000000001", "displayNam": "x"}},
        "endpoint": {"kind": "GenerateTokenV2"},
        "request": {
            "datasets": [{"id": "d1d1d1d1-0000-4000-8000-000000000001", "xmlaPermission": "Off"}],
            "identities": [{"username": "a", "roles": ["R"], "datasets": ["d1d1d1d1-0000-4000-8000-000000000001"], "identityBlob": {"value": "t", "valu": "t"}}],
            "datasourceIdentities": [{"identityBlob": "t", "datasources": [{"datasourceType": "Sql", "connectionDetails": {"server": "s", "servr": "s"}}]}]
        }
    });
    let p = embedgate_core::parse_value(&v);
    let mut got: Vec<&str> = p.unknown.iter().map(|u| u.pointer.as_str()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "/caller/profile/displayNam",
            "/datasets/0/xmlaPermission",
            "/datasourceIdentities/0/datasources/0/connectionDetails/servr",
            "/identities/0/identityBlob/valu",
        ]
    );
}

#[test]
fn request_fields_are_exactly_the_swagger_properties() {
    // The swagger (shared/reference/powerbi-rest-swagger.json) defines these and nothing else.
    assert_eq!(
        properties::<GenerateTokenRequestV2>().len(),
        GenerateTokenRequestV2::FIELDS.len()
    );
    assert_eq!(
        properties::<EffectiveIdentity>().len(),
        EffectiveIdentity::FIELDS.len()
    );
    assert_eq!(
        properties::<GenerateTokenRequest>().len(),
        GenerateTokenRequest::FIELDS.len()
    );
}

/// Against Microsoft's own spec, when `shared/` sits beside the checkout (as on CI).
#[test]
fn request_types_match_microsofts_swagger() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/powerbi-rest-swagger.json"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("swagger not found at {path}; skipped");
        return;
    };
    let swagger: serde_json::Value = serde_json::from_str(&text).unwrap();
    let defs = &swagger["definitions"];
    let cases: [(&str, &[&str]); 7] = [
        ("GenerateTokenRequest", GenerateTokenRequest::FIELDS),
        ("GenerateTokenRequestV2", GenerateTokenRequestV2::FIELDS),
        (
            "GenerateTokenRequestV2Dataset",
            GenerateTokenRequestV2Dataset::FIELDS,
        ),
        (
            "GenerateTokenRequestV2Report",
            GenerateTokenRequestV2Report::FIELDS,
        ),
        (
            "GenerateTokenRequestV2TargetWorkspace",
            GenerateTokenRequestV2TargetWorkspace::FIELDS,
        ),
        ("EffectiveIdentity", EffectiveIdentity::FIELDS),
        ("IdentityBlob", IdentityBlob::FIELDS),
    ];
    for (name, fields) in cases {
        let mut spec: Vec<&str> = defs[name]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut ours = fields.to_vec();
        spec.sort();
        ours.sort();
        assert_eq!(ours, spec, "{name} differs from the swagger");
    }
}
