//! Properties over generated scenarios: validation never panics, is deterministic, and adding an
//! unrelated valid item never creates an error.

mod common;

use common::*;
use embedgate_core::{check_str, check_value, Severity};
use proptest::prelude::*;
use serde_json::{json, Value};

const MODELS: &[&str] = &[
    "Import",
    "DirectQuery",
    "DirectQueryAzureSqlSso",
    "AzureAnalysisServicesLive",
    "SqlServerAnalysisServicesLive",
    "DirectLake",
];
const ACCESS: &[&str] = &["Admin", "Member", "Contributor", "Viewer", "None"];
const WS_TYPES: &[&str] = &["Workspace", "Group", "PersonalGroup"];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,12}".prop_map(Value::String),
        Just(json!(DS)),
        Just(json!("Customer")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A structurally plausible scenario from a handful of choices.
fn arb_scenario() -> impl Strategy<Value = Value> {
    (
        0..3usize,       // caller kind
        0..MODELS.len(), // model
        prop::collection::vec(
            prop::sample::select(vec!["Customer", "Region", "Admin"]),
            0..3,
        ), // model roles
        prop::option::of((
            prop::sample::select(vec!["alice@contoso.com", "CONTOSO\\alice", SP, "a b", ""]),
            prop::collection::vec(
                prop::sample::select(vec!["Customer", "Region", "X,Y", ""]),
                0..3,
            ),
            any::<bool>(),
            any::<bool>(),
        )),
        0..WS_TYPES.len(),
        0..ACCESS.len(),
        0..4usize,                    // endpoint
        any::<bool>(),                // paginated
        prop::option::of(-5i64..120), // lifetime
    )
        .prop_map(
            |(caller, m, roles, identity, wt, acc, endpoint, paginated, lifetime)| {
                let mut v = base();
                match caller {
                    0 => master_user(&mut v),
                    1 => {}
                    _ => profile(&mut v, PROF_C, "Contoso"),
                }
                model(&mut v, MODELS[m], json!(roles));
                set(&mut v, "/workspaces/0/type", json!(WS_TYPES[wt]));
                set(&mut v, "/workspaces/0/callerAccess", json!(ACCESS[acc]));
                if paginated {
                    set(&mut v, "/reports/0/reportType", json!("PaginatedReport"));
                }
                let identities = match identity {
                    None => None,
                    Some((user, roles, custom, blob)) => {
                        let mut i = json!({"username": user, "roles": roles, "datasets": [DS]});
                        if custom {
                            i["customData"] = json!("contoso");
                        }
                        if blob {
                            i["identityBlob"] = json!({"value": "tok"});
                        }
                        Some(json!([i]))
                    }
                };
                let mut body = match endpoint {
                    0 => json!({"reports": [{"id": RP}], "datasets": [{"id": DS}]}),
                    1 => {
                        set(
                            &mut v,
                            "/endpoint",
                            json!({"kind": "Report", "groupId": WS, "reportId": RP}),
                        );
                        json!({"accessLevel": "View"})
                    }
                    2 => {
                        set(
                            &mut v,
                            "/endpoint",
                            json!({"kind": "Dataset", "groupId": WS, "datasetId": DS}),
                        );
                        json!({"accessLevel": "View"})
                    }
                    _ => {
                        set(
                            &mut v,
                            "/endpoint",
                            json!({"kind": "CreateReport", "groupId": WS}),
                        );
                        json!({"accessLevel": "Create", "datasetId": DS})
                    }
                };
                if let Some(i) = identities {
                    body["identities"] = i;
                }
                if let Some(l) = lifetime {
                    body["lifetimeInMinutes"] = json!(l);
                }
                set(&mut v, "/request", body);
                v
            },
        )
}

/// Every pointer of a document, for mutation.
fn pointers(v: &Value, prefix: String, out: &mut Vec<String>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| pointers(x, format!("{prefix}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| pointers(x, format!("{prefix}/{i}"), out)),
        _ => {}
    }
}

fn errors(v: &Value) -> Vec<(&'static str, String)> {
    let mut e: Vec<_> = check_value(v)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.code, d.scenario_pointer()))
        .collect();
    e.sort();
    e
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_json(v in arb_json()) {
        let _ = check_value(&v);
        let _ = check_str(&v.to_string());
    }

    #[test]
    fn never_panics_on_mutated_scenarios(s in arb_scenario(), pick in any::<prop::sample::Index>(), value in arb_json()) {
        let mut v = s;
        let mut ptrs = Vec::new();
        pointers(&v, String::new(), &mut ptrs);
        let p = pick.get(&ptrs[1..]).clone();
        *v.pointer_mut(&p).unwrap() = value;
        let r = check_value(&v);
        for d in &r.diagnostics {
            if let Some(f) = &d.fix {
                let mut fixed = v.clone();
                let _ = embedgate_core::apply_fix(&mut fixed, f);
                let _ = check_value(&fixed);
            }
        }
    }

    #[test]
    fn deterministic(s in arb_scenario()) {
        let a = serde_json::to_string(&check_value(&s)).unwrap();
        let b = serde_json::to_string(&check_value(&s.clone())).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn unrelated_valid_item_adds_no_error(s in arb_scenario()) {
        let before = errors(&s);
        let mut v = s.clone();
        const OTHER_WS: &str = "b0b0b0b0-0000-4000-8000-00000000000b";
        const OTHER_DS: &str = "d0d0d0d0-0000-4000-8000-00000000000d";
        v["workspaces"].as_array_mut().unwrap().push(json!({"id": OTHER_WS, "type": "Workspace", "callerAccess": "Admin"}));
        v["datasets"].as_array_mut().unwrap().push(json!({"id": OTHER_DS, "workspaceId": OTHER_WS, "model": "Import", "roles": []}));
        if v["endpoint"]["kind"] == "GenerateTokenV2" {
            v["request"]["datasets"].as_array_mut().unwrap().push(json!({"id": OTHER_DS}));
        }
        let after = errors(&v);
        let new: Vec<_> = after.iter().filter(|e| !before.contains(e)).collect();
        prop_assert!(new.is_empty(), "new errors {:?}\nscenario {}", new, v);
    }
}
