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

/// Microsoft's own spec, when `shared/` sits beside the checkout (as on CI).
fn swagger() -> Option<serde_json::Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/powerbi-rest-swagger.json"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("swagger not found at {path}; skipped");
        return None;
    };
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn request_types_match_microsofts_swagger() {
    let Some(swagger) = swagger() else { return };
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

/// Each field citation is the swagger's own words: the type (and format) of the property and the
/// start of its description, or the definition's `required` list.
#[test]
fn field_citations_quote_the_swagger() {
    let Some(swagger) = swagger() else { return };
    for s in embedgate_core::sources::FIELD_SOURCES {
        let (def, prop) = s.section.split_once('.').unwrap_or((s.section, ""));
        let d = &swagger["definitions"][def];
        if prop.is_empty() {
            let req: Vec<String> = d["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("\"{}\"", r.as_str().unwrap()))
                .collect();
            assert_eq!(s.quote, format!("\"required\": [{}]", req.join(", ")));
            continue;
        }
        let p = &d["properties"][prop];
        let mut want = Vec::new();
        for k in ["type", "format"] {
            if let Some(v) = p[k].as_str() {
                want.push(format!("\"{k}\": \"{v}\""));
            }
        }
        let head = want.join(", ");
        assert!(
            s.quote.starts_with(&head),
            "{}: {} lacks {head}",
            s.section,
            s.quote
        );
        let desc = s
            .quote
            .split_once("\"description\": \"")
            .and_then(|(_, d)| d.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{}: no description", s.section));
        assert!(
            p["description"].as_str().unwrap().starts_with(desc),
            "{}: not the swagger's words",
            s.section
        );
    }
}

/// A parse finding cites the sentence it rests on, or nothing (issue 16: an empty profile id cited
/// the report id's description; a wrong lifetime and a missing `caller` cited an unrelated `required`).
#[test]
fn parse_findings_cite_their_own_field() {
    let cite = |v: serde_json::Value, code: &str| -> Option<String> {
        let d = embedgate_core::check_value(&v)
            .diagnostics
            .into_iter()
            .find(|d| d.code == code)
            .unwrap_or_else(|| panic!("no {code}"));
        d.source.map(|s| s.section.to_string())
    };
    let base = serde_json::json!({
        "caller": {"principalType": "App", "objectId": "6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01", "profile": {"id": ""}},
        "endpoint": {"kind": "GenerateTokenV2"},
        "request": {"reports": [{"id": "e1e1e1e1-0000-4000-8000-000000000001"}]}
    });
    assert_eq!(
        cite(base.clone(), "EG0103").as_deref(),
        Some("ServicePrincipalProfile.id")
    );
    let mut v = base.clone();
    v["caller"]["profile"] = serde_json::json!({"id": "0c0c0c0c-1111-4111-8111-000000000001"});
    v["request"]["lifetimeInMinutes"] = "abc".into();
    assert_eq!(
        cite(v.clone(), "EG0002").as_deref(),
        Some("GenerateTokenRequestV2.lifetimeInMinutes")
    );
    v["request"] = serde_json::json!({"reports": [{"allowEdit": true}]});
    assert_eq!(
        cite(v.clone(), "EG0002").as_deref(),
        Some("GenerateTokenRequestV2Report")
    );
    v["endpoint"] = serde_json::json!({"kind": "Report", "groupId": "a1a1a1a1-0000-4000-8000-000000000001", "reportId": "e1e1e1e1-0000-4000-8000-000000000001"});
    v["request"] = serde_json::json!({"accessLevel": 3});
    assert_eq!(
        cite(v.clone(), "EG0002").as_deref(),
        Some("GenerateTokenRequest.accessLevel")
    );
    // Embedgate's own scenario fields and unknown fields: no document, no citation.
    let mut v = base.clone();
    v.as_object_mut().unwrap().remove("caller");
    assert_eq!(cite(v, "EG0002"), None);
    let mut v = base;
    v["request"]["lifetimeInMinute"] = 10.into();
    assert_eq!(cite(v, "EG0001"), None);
}
