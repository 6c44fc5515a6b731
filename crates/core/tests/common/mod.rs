//! Scenario builders shared by the core's tests and benchmarks.
#![allow(dead_code)]

use serde_json::{json, Value};

pub const SP: &str = "6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01";
pub const UPN: &str = "embed-admin@contoso.com";
pub const PROF_C: &str = "0c0c0c0c-1111-4111-8111-000000000001";
pub const PROF_F: &str = "0f0f0f0f-2222-4222-8222-000000000002";
pub const WS: &str = "a1a1a1a1-0000-4000-8000-000000000001";
pub const WS2: &str = "a2a2a2a2-0000-4000-8000-000000000002";
pub const DS: &str = "d1d1d1d1-0000-4000-8000-000000000001";
pub const RP: &str = "e1e1e1e1-0000-4000-8000-000000000001";

/// A valid V2 scenario: service principal, new workspace (Admin), import model with role
/// `Customer`, one report, one identity.
pub fn base() -> Value {
    json!({
        "caller": {"principalType": "App", "objectId": SP},
        "endpoint": {"kind": "GenerateTokenV2"},
        "workspaces": [{"id": WS, "name": "Contoso", "type": "Workspace", "callerAccess": "Admin"}],
        "datasets": [{"id": DS, "name": "Sales", "workspaceId": WS, "model": "Import", "roles": ["Customer"]}],
        "reports": [{"id": RP, "name": "Sales", "workspaceId": WS, "datasetId": DS, "reportType": "PowerBIReport"}],
        "request": {
            "reports": [{"id": RP}],
            "datasets": [{"id": DS}],
            "identities": [{"username": "alice@contoso.com", "roles": ["Customer"], "datasets": [DS]}]
        }
    })
}

/// Sets (or adds) the value at a JSON Pointer, creating nothing but the last member.
pub fn set(v: &mut Value, ptr: &str, value: Value) {
    let (parent, key) = ptr.rsplit_once('/').expect("pointer");
    let target = v
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match target {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
        }
        Value::Array(a) => {
            let i: usize = key.parse().expect("index");
            if i == a.len() {
                a.push(value)
            } else {
                a[i] = value
            }
        }
        _ => panic!("{parent} is not a container"),
    }
}

pub fn del(v: &mut Value, ptr: &str) {
    let (parent, key) = ptr.rsplit_once('/').expect("pointer");
    match v
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"))
    {
        Value::Object(m) => {
            m.remove(key);
        }
        Value::Array(a) => {
            a.remove(key.parse::<usize>().expect("index"));
        }
        _ => panic!("{parent} is not a container"),
    }
}

pub fn with(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

pub fn master_user(v: &mut Value) {
    set(v, "/caller", json!({"principalType": "User", "upn": UPN}));
}

pub fn profile(v: &mut Value, id: &str, name: &str) {
    set(v, "/caller/profile", json!({"id": id, "displayName": name}));
}

pub fn model(v: &mut Value, kind: &str, roles: Value) {
    set(v, "/datasets/0/model", json!(kind));
    set(v, "/datasets/0/roles", roles);
}

pub fn v1_report(v: &mut Value, body: Value) {
    set(
        v,
        "/endpoint",
        json!({"kind": "Report", "groupId": WS, "reportId": RP}),
    );
    set(v, "/request", body);
}

/// A V2 scenario with `n` reports, datasets and identities (the largest legal request at n = 50).
pub fn sized(n: usize) -> Value {
    let id = |prefix: &str, i: usize| format!("{prefix}-0000-4000-8000-{i:012}");
    let datasets: Vec<Value> = (0..n)
        .map(|i| json!({"id": id("d1d1d1d1", i), "workspaceId": WS, "model": "Import", "roles": ["Customer", "Region"]}))
        .collect();
    let reports: Vec<Value> = (0..n)
        .map(|i| json!({"id": id("e1e1e1e1", i), "workspaceId": WS, "datasetId": id("d1d1d1d1", i), "reportType": "PowerBIReport"}))
        .collect();
    json!({
        "caller": {"principalType": "App", "objectId": SP, "profile": {"id": PROF_C, "displayName": "Contoso"}},
        "endpoint": {"kind": "GenerateTokenV2"},
        "workspaces": [{"id": WS, "name": "Contoso", "type": "Workspace", "users": [
            {"groupUserAccessRight": "Admin", "identifier": SP, "principalType": "App", "profile": {"id": PROF_C}}
        ]}],
        "datasets": datasets,
        "reports": reports,
        "request": {
            "reports": (0..n).map(|i| json!({"id": id("e1e1e1e1", i)})).collect::<Vec<_>>(),
            "datasets": (0..n).map(|i| json!({"id": id("d1d1d1d1", i), "xmlaPermissions": "Off"})).collect::<Vec<_>>(),
            "targetWorkspaces": [{"id": WS}],
            "identities": (0..n).map(|i| json!({"username": format!("user{i}@contoso.com"), "roles": ["Customer"], "datasets": [id("d1d1d1d1", i)], "customData": "contoso"})).collect::<Vec<_>>(),
            "lifetimeInMinutes": 30
        }
    })
}
