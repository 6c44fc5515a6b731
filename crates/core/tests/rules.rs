//! A positive and a negative case for every rule of the catalog: the positive scenario must get
//! the rule's code, the negative (a close variant) must not. A rule without a case fails the suite.

mod common;

use common::*;
use embedgate_core::{apply_fix, check_value, CATALOG};
use serde_json::{json, Value};

struct Case {
    code: &'static str,
    pos: fn() -> Value,
    neg: fn() -> Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            code: "EG0001",
            pos: || {
                with(base(), |v| {
                    let i = v["request"]["identities"].take();
                    del(v, "/request/identities");
                    set(v, "/request/identites", i);
                })
            },
            neg: base,
        },
        Case {
            code: "EG0002",
            pos: || with(base(), |v| set(v, "/request/reports", json!("e1e1e1e1"))),
            neg: base,
        },
        Case {
            code: "EG0003",
            pos: || with(base(), |v| set(v, "/request", json!({}))),
            neg: base,
        },
        Case {
            code: "EG0004",
            pos: || {
                with(base(), |v| {
                    v1_report(
                        v,
                        json!({"accessLevel": "View", "reports": [{"id": RP}], "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    )
                })
            },
            neg: || {
                with(base(), |v| {
                    v1_report(
                        v,
                        json!({"accessLevel": "View", "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    )
                })
            },
        },
        Case {
            code: "EG0005",
            pos: || with(base(), |v| set(v, "/request/reports/1", json!({"id": RP}))),
            neg: base,
        },
        Case {
            code: "EG0101",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/request/datasets",
                        json!((0..51)
                            .map(|i| json!({"id": format!("d1d1d1d1-0000-4000-8000-{i:012}")}))
                            .collect::<Vec<_>>()),
                    )
                })
            },
            neg: || {
                with(base(), |v| {
                    set(
                        v,
                        "/request/datasets",
                        json!((0..50)
                            .map(|i| json!({"id": format!("d1d1d1d1-0000-4000-8000-{i:012}")}))
                            .collect::<Vec<_>>()),
                    )
                })
            },
        },
        Case {
            code: "EG0102",
            pos: || with(base(), |v| set(v, "/request/lifetimeInMinutes", json!(-1))),
            neg: || with(base(), |v| set(v, "/request/lifetimeInMinutes", json!(30))),
        },
        Case {
            code: "EG0103",
            pos: || {
                with(base(), |v| {
                    set(v, "/request/reports/0/id", json!("not-a-guid"))
                })
            },
            neg: base,
        },
        Case {
            code: "EG0104",
            pos: || {
                with(base(), |v| {
                    set(v, "/request/identities/0/username", json!("a".repeat(257)))
                })
            },
            neg: || {
                with(base(), |v| {
                    set(v, "/request/identities/0/username", json!("a".repeat(256)))
                })
            },
        },
        Case {
            code: "EG0105",
            pos: || {
                with(base(), |v| {
                    set(v, "/request/identities/0/username", json!("alice smith"))
                })
            },
            neg: || {
                with(base(), |v| {
                    set(v, "/request/identities/0/username", json!("alice.smith"))
                })
            },
        },
        Case {
            code: "EG0106",
            pos: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]));
                    set(
                        v,
                        "/request/identities/0/username",
                        json!("CONTOSO\\alice$"),
                    );
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!("CONTOSO\\alice"));
                })
            },
        },
        Case {
            code: "EG0107",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/request/identities/0/roles",
                        json!((0..51).map(|i| format!("R{i}")).collect::<Vec<_>>()),
                    )
                })
            },
            neg: || {
                with(base(), |v| {
                    set(
                        v,
                        "/request/identities/0/roles",
                        json!((0..50).map(|i| format!("R{i}")).collect::<Vec<_>>()),
                    )
                })
            },
        },
        Case {
            code: "EG0108",
            pos: || {
                with(base(), |v| {
                    set(v, "/request/identities/0/roles/0", json!("Customer,Region"))
                })
            },
            neg: base,
        },
        Case {
            code: "EG0201",
            pos: || with(base(), |v| del(v, "/request/identities/0/datasets")),
            neg: base,
        },
        Case {
            code: "EG0202",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/request/identities/0/datasets/1",
                        json!("d9d9d9d9-0000-4000-8000-000000000009"),
                    )
                })
            },
            neg: base,
        },
        Case {
            code: "EG0203",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/request/identities/1",
                        json!({"username": "bob", "roles": ["Customer"], "datasets": [DS]}),
                    )
                })
            },
            neg: base,
        },
        Case {
            code: "EG0204",
            pos: || with(base(), |v| set(v, "/datasets/0/roles", json!([]))),
            neg: base,
        },
        Case {
            code: "EG0205",
            pos: || with(base(), |v| del(v, "/request/identities/0/username")),
            neg: base,
        },
        Case {
            code: "EG0206",
            pos: || with(base(), |v| del(v, "/request/identities/0/roles")),
            neg: || {
                with(base(), |v| {
                    del(v, "/request/identities/0/roles");
                    set(
                        v,
                        "/datasets/0/isEffectiveIdentityRolesRequired",
                        json!(false),
                    );
                })
            },
        },
        Case {
            code: "EG0207",
            pos: || {
                with(base(), |v| {
                    set(v, "/request/identities/0/roles/0", json!("Custmer"))
                })
            },
            neg: base,
        },
        Case {
            code: "EG0208",
            pos: || {
                with(base(), |v| {
                    model(v, "AzureAnalysisServicesLive", json!([]));
                    set(v, "/request/identities/0/username", json!(SP));
                    del(v, "/request/identities/0/roles");
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "AzureAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!(SP));
                })
            },
        },
        Case {
            code: "EG0209",
            pos: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/customData", json!("x"));
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]))
                })
            },
        },
        Case {
            code: "EG0210",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/request/identities/0/identityBlob",
                        json!({"value": "tok"}),
                    )
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "DirectQueryAzureSqlSso", json!(["Customer"]));
                    set(
                        v,
                        "/request/identities/0/identityBlob",
                        json!({"value": "tok"}),
                    );
                })
            },
        },
        Case {
            code: "EG0211",
            pos: || {
                with(base(), |v| {
                    model(v, "DirectQueryAzureSqlSso", json!(["Customer"]));
                    set(
                        v,
                        "/request/identities/0/identityBlob",
                        json!({"value": ""}),
                    );
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "DirectQueryAzureSqlSso", json!(["Customer"]));
                    set(
                        v,
                        "/request/identities/0/identityBlob",
                        json!({"value": "tok"}),
                    );
                })
            },
        },
        Case {
            code: "EG0212",
            pos: || {
                with(base(), |v| {
                    model(v, "AzureAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!(SP));
                    del(v, "/request/identities/0/roles");
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "AzureAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!(SP));
                })
            },
        },
        Case {
            code: "EG0301",
            pos: || with(base(), |v| del(v, "/request/identities")),
            neg: base,
        },
        Case {
            code: "EG0302",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/reports/0/reportType", json!("PaginatedReport"));
                    del(v, "/request/identities");
                    set(v, "/datasets/0/roles", json!([]));
                })
            },
            neg: || {
                with(base(), |v| {
                    set(v, "/reports/0/reportType", json!("PaginatedReport"));
                    del(v, "/request/identities");
                    set(v, "/datasets/0/roles", json!([]));
                })
            },
        },
        Case {
            code: "EG0303",
            pos: || {
                with(base(), |v| {
                    model(v, "AzureAnalysisServicesLive", json!(["Customer"]))
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "AzureAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!(SP));
                })
            },
        },
        Case {
            code: "EG0304",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    model(v, "AzureAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!("alice"));
                })
            },
            neg: || {
                with(base(), |v| {
                    master_user(v);
                    model(v, "AzureAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!(UPN));
                })
            },
        },
        Case {
            code: "EG0305",
            pos: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!("alice"));
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/request/identities/0/username", json!("CONTOSO\\alice"));
                })
            },
        },
        Case {
            code: "EG0306",
            pos: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]));
                    set(
                        v,
                        "/datasets/0/gateway",
                        json!({"callerIsAdmin": false, "callerHasReadOverrideEffectiveIdentity": false}),
                    );
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "SqlServerAnalysisServicesLive", json!(["Customer"]));
                    set(v, "/datasets/0/gateway", json!({"callerIsAdmin": true}));
                })
            },
        },
        Case {
            code: "EG0307",
            pos: || {
                with(base(), |v| {
                    model(v, "DirectQueryAzureSqlSso", json!(["Customer"]))
                })
            },
            neg: || {
                with(base(), |v| {
                    model(v, "DirectQueryAzureSqlSso", json!(["Customer"]));
                    set(
                        v,
                        "/request/identities/0/identityBlob",
                        json!({"value": "tok"}),
                    );
                })
            },
        },
        Case {
            code: "EG0308",
            pos: || {
                with(base(), |v| {
                    set(v, "/request/identities/0/reports", json!([RP]))
                })
            },
            neg: || {
                with(base(), |v| {
                    set(v, "/reports/0/reportType", json!("PaginatedReport"));
                    set(v, "/request/identities/0/reports", json!([RP]));
                })
            },
        },
        Case {
            code: "EG0309",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    del(v, "/request/identities");
                })
            },
            neg: || with(base(), master_user),
        },
        Case {
            code: "EG0310",
            pos: || {
                with(base(), |v| {
                    set(v, "/datasets/0/model", json!("DirectLake"));
                    profile(v, PROF_C, "Contoso");
                })
            },
            neg: || with(base(), |v| set(v, "/datasets/0/model", json!("DirectLake"))),
        },
        Case {
            code: "EG0401",
            pos: || {
                with(base(), |v| {
                    set(v, "/workspaces/0/type", json!("PersonalGroup"))
                })
            },
            neg: base,
        },
        Case {
            code: "EG0402",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/type", json!("Group"));
                    set(
                        v,
                        "/workspaces/1",
                        json!({"id": WS2, "type": "Group", "callerAccess": "Admin"}),
                    );
                    set(v, "/datasets/0/workspaceId", json!(WS2));
                    v1_report(
                        v,
                        json!({"accessLevel": "View", "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    );
                })
            },
            neg: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/type", json!("Group"));
                    v1_report(
                        v,
                        json!({"accessLevel": "View", "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    );
                })
            },
        },
        Case {
            code: "EG0403",
            pos: || {
                with(base(), |v| {
                    set(v, "/workspaces/0/type", json!("Group"));
                    v1_report(
                        v,
                        json!({"identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    );
                })
            },
            neg: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/type", json!("Group"));
                    v1_report(
                        v,
                        json!({"identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    );
                })
            },
        },
        Case {
            code: "EG0404",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/type", json!("Group"));
                    set(v, "/workspaces/0/callerAccess", json!("Member"));
                    v1_report(v, json!({}));
                })
            },
            neg: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/type", json!("Group"));
                    v1_report(v, json!({}));
                })
            },
        },
        Case {
            code: "EG0405",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/callerAccess", json!("Viewer"));
                })
            },
            neg: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/callerAccess", json!("Member"));
                })
            },
        },
        Case {
            code: "EG0406",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    set(v, "/workspaces/0/type", json!("Group"));
                })
            },
            neg: || with(base(), master_user),
        },
        Case {
            code: "EG0407",
            pos: || with(base(), |v| set(v, "/workspaces", json!([]))),
            neg: base,
        },
        Case {
            code: "EG0408",
            pos: || {
                with(base(), |v| {
                    v1_report(
                        v,
                        json!({"accessLevel": "View", "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    );
                    set(v, "/endpoint/groupId", json!(WS2));
                })
            },
            neg: || {
                with(base(), |v| {
                    v1_report(
                        v,
                        json!({"accessLevel": "View", "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    );
                })
            },
        },
        Case {
            code: "EG0501",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/endpoint",
                        json!({"kind": "Dataset", "groupId": WS, "datasetId": DS}),
                    );
                    set(
                        v,
                        "/request",
                        json!({"accessLevel": "Edit", "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    );
                })
            },
            neg: || {
                with(base(), |v| {
                    v1_report(
                        v,
                        json!({"accessLevel": "Edit", "identities": [{"username": "a", "roles": ["Customer"], "datasets": [DS]}]}),
                    )
                })
            },
        },
        Case {
            code: "EG0502",
            pos: || {
                with(base(), |v| {
                    v1_report(v, json!({"accessLevel": "Create", "datasetId": DS}))
                })
            },
            neg: || {
                with(base(), |v| {
                    set(
                        v,
                        "/endpoint",
                        json!({"kind": "CreateReport", "groupId": WS}),
                    );
                    set(
                        v,
                        "/request",
                        json!({"accessLevel": "Create", "datasetId": DS}),
                    );
                })
            },
        },
        Case {
            code: "EG0503",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/endpoint",
                        json!({"kind": "CreateReport", "groupId": WS}),
                    );
                    set(v, "/request", json!({"accessLevel": "Create"}));
                })
            },
            neg: || {
                with(base(), |v| {
                    set(
                        v,
                        "/endpoint",
                        json!({"kind": "CreateReport", "groupId": WS}),
                    );
                    set(
                        v,
                        "/request",
                        json!({"accessLevel": "Create", "datasetId": DS}),
                    );
                })
            },
        },
        Case {
            code: "EG0504",
            pos: || {
                with(base(), |v| {
                    set(
                        v,
                        "/endpoint",
                        json!({"kind": "Dataset", "groupId": WS, "datasetId": DS}),
                    );
                    set(v, "/request", json!({"allowSaveAs": true}));
                })
            },
            neg: || with(base(), |v| v1_report(v, json!({"allowSaveAs": true}))),
        },
        Case {
            code: "EG0505",
            pos: || with(base(), |v| set(v, "/request/accessLevel", json!("Edit"))),
            neg: base,
        },
        Case {
            code: "EG0506",
            pos: || {
                with(base(), |v| {
                    v1_report(v, json!({"accessLevel": "View", "datasetId": DS}))
                })
            },
            neg: || {
                with(base(), |v| {
                    set(
                        v,
                        "/endpoint",
                        json!({"kind": "CreateReport", "groupId": WS}),
                    );
                    set(
                        v,
                        "/request",
                        json!({"accessLevel": "Create", "datasetId": DS}),
                    );
                })
            },
        },
        Case {
            code: "EG0601",
            pos: || {
                with(base(), |v| {
                    master_user(v);
                    profile(v, PROF_C, "Contoso");
                })
            },
            neg: || with(base(), |v| profile(v, PROF_C, "Contoso")),
        },
        Case {
            code: "EG0602",
            pos: || {
                with(base(), |v| {
                    profile(v, PROF_C, "Contoso");
                    del(v, "/workspaces/0/callerAccess");
                    set(
                        v,
                        "/workspaces/0/users",
                        json!([{"groupUserAccessRight": "Admin", "identifier": SP, "principalType": "App", "profile": {"id": PROF_F}}]),
                    );
                })
            },
            neg: || {
                with(base(), |v| {
                    profile(v, PROF_C, "Contoso");
                    del(v, "/workspaces/0/callerAccess");
                    set(
                        v,
                        "/workspaces/0/users",
                        json!([{"groupUserAccessRight": "Admin", "identifier": SP, "principalType": "App", "profile": {"id": PROF_C}}]),
                    );
                })
            },
        },
        Case {
            code: "EG0603",
            pos: || {
                with(base(), |v| {
                    profile(v, PROF_C, "Contoso");
                    set(v, "/workspaces/0/callerAccess", json!("Member"));
                })
            },
            neg: || with(base(), |v| profile(v, PROF_C, "Contoso")),
        },
        Case {
            code: "EG0701",
            pos: || with(base(), |v| del(v, "/caller/objectId")),
            neg: base,
        },
        Case {
            code: "EG0702",
            pos: || with(base(), |v| set(v, "/reports", json!([]))),
            neg: base,
        },
        Case {
            code: "EG0703",
            pos: || with(base(), |v| del(v, "/datasets/0/model")),
            neg: base,
        },
        Case {
            code: "EG0704",
            pos: || {
                with(base(), |v| {
                    del(v, "/datasets/0/roles");
                    del(v, "/request/identities");
                })
            },
            neg: base,
        },
    ]
}

fn codes(v: &Value) -> Vec<&'static str> {
    check_value(v).diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn base_scenario_is_valid_without_notes() {
    let r = check_value(&base());
    assert_eq!(
        r.verdict,
        embedgate_core::Verdict::Valid,
        "{:#?}",
        r.diagnostics
    );
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
}

#[test]
fn every_rule_has_a_case() {
    let cs = cases();
    for r in CATALOG {
        assert!(
            cs.iter().any(|c| c.code == r.code),
            "no test case for {}",
            r.code
        );
    }
}

#[test]
fn positive_cases_report_their_rule() {
    for c in cases() {
        let v = (c.pos)();
        let got = codes(&v);
        assert!(
            got.contains(&c.code),
            "{}: positive case did not report it; got {got:?}",
            c.code
        );
    }
}

#[test]
fn negative_cases_do_not_report_their_rule() {
    for c in cases() {
        let v = (c.neg)();
        let got = codes(&v);
        assert!(
            !got.contains(&c.code),
            "{}: negative case reported it; got {:#?}",
            c.code,
            check_value(&v).diagnostics
        );
    }
}

/// A fix must apply cleanly and remove the finding it was offered for.
#[test]
fn fixes_resolve_their_finding() {
    let mut tried = 0;
    for c in cases() {
        let v = (c.pos)();
        let report = check_value(&v);
        for d in report.diagnostics.iter().filter(|d| d.code == c.code) {
            let Some(fix) = &d.fix else { continue };
            let mut fixed = v.clone();
            apply_fix(&mut fixed, fix)
                .unwrap_or_else(|e| panic!("{}: fix {:?} does not apply: {e}", c.code, fix.title));
            let after = check_value(&fixed);
            let before_n = report
                .diagnostics
                .iter()
                .filter(|x| x.code == c.code)
                .count();
            let after_n = after
                .diagnostics
                .iter()
                .filter(|x| x.code == c.code)
                .count();
            assert!(
                after_n < before_n,
                "{}: fix {:?} left the finding: {:#?}",
                c.code,
                fix.title,
                after.diagnostics
            );
            tried += 1;
        }
    }
    assert!(tried >= 15, "only {tried} fixes exercised");
}

#[test]
fn every_rule_cites_a_source() {
    for r in CATALOG {
        assert!(!r.source.quote.is_empty(), "{} has no quote", r.code);
        assert!(r.code.starts_with("EG") && r.code.len() == 6, "{}", r.code);
    }
    let mut codes: Vec<_> = CATALOG.iter().map(|r| r.code).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), CATALOG.len(), "duplicate rule codes");
}

#[test]
fn diagnostics_point_at_existing_places() {
    // Every pointer resolves in its document, or names a missing member whose parent exists.
    for c in cases() {
        let v = (c.pos)();
        for d in check_value(&v).diagnostics {
            let p = d.scenario_pointer();
            let parent = p.rsplit_once('/').map_or("", |x| x.0);
            assert!(
                v.pointer(&p).is_some() || v.pointer(parent).is_some(),
                "{}: pointer {p} resolves nowhere",
                d.code
            );
        }
    }
}

#[test]
fn misspelt_field_suggests_the_right_one() {
    let v = with(base(), |v| {
        let i = v["request"]["identities"].take();
        del(v, "/request/identities");
        set(v, "/request/identites", i);
    });
    let r = check_value(&v);
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "EG0001")
        .expect("unknown field");
    assert_eq!(d.pointer, "/identites");
    assert_eq!(d.help.as_deref(), Some("did you mean `identities`?"));
    let mut fixed = v.clone();
    apply_fix(&mut fixed, d.fix.as_ref().unwrap()).unwrap();
    assert_eq!(check_value(&fixed).verdict, embedgate_core::Verdict::Valid);
}

#[test]
fn service_fields_in_metadata_are_accepted() {
    // Fields Power BI's GET endpoints return must not be findings.
    let v = with(base(), |v| {
        set(v, "/datasets/0/configuredBy", json!("someone@contoso.com"));
        set(v, "/datasets/0/isRefreshable", json!(true));
        set(v, "/reports/0/webUrl", json!("https://app.powerbi.com/x"));
        set(v, "/workspaces/0/isReadOnly", json!(false));
    });
    assert!(
        check_value(&v).diagnostics.is_empty(),
        "{:#?}",
        check_value(&v).diagnostics
    );
    let typo = with(base(), |v| set(v, "/datasets/0/rolse", json!(["x"])));
    let r = check_value(&typo);
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.code == "EG0001" && d.help.as_deref() == Some("did you mean `roles`?")),
        "{:#?}",
        r.diagnostics
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let e = embedgate_core::check_str("{\n  \"caller\": {,\n}").unwrap_err();
    assert_eq!((e.line, e.column), (2, 14));
}

#[test]
fn shape_errors_name_the_path() {
    let r = check_value(&with(base(), |v| {
        set(v, "/request/identities/0/roles", json!("Customer"))
    }));
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "EG0002")
        .expect("shape error");
    assert_eq!(d.scenario_pointer(), "/request/identities/0/roles");
    let r = check_value(&with(base(), |v| set(v, "/caller/principalType", json!(7))));
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "EG0002")
        .expect("shape error");
    assert_eq!(d.scenario_pointer(), "/caller/principalType");
}

#[test]
fn explain_covers_the_service_errors() {
    let cases = [
        (r#"{"error":{"code":"InvalidRequest","message":"Creating embed token for accessing dataset d1d1d1d1-0000-4000-8000-000000000001 requires effective identity to be provided"}}"#, "EG0301"),
        ("Creating embed token for accessing dataset X requires roles to be included in provided effective identity", "EG0206"),
        ("Creating embed token for accessing dataset X shouldn't have effective identity", "EG0204"),
        ("Creating embed token for accessing dataset X requires effective identity username to be identical to the caller's principal name", "EG0303"),
        ("Creating embed token with multiple identities is not supported", "EG0203"),
        (r#"{"error":{"code":"PowerBINotAuthorizedException","pbi.error":{}}}"#, "EG0602"),
        (r#"{"message":"TokenExpired","detailedMessage":"Access token has expired, resubmit with a new access token","errorCode":"403"}"#, "EG0102"),
    ];
    for (text, code) in cases {
        let x = embedgate_core::explain(text);
        assert!(
            x.iter().any(|e| e.rules.contains(&code)),
            "{text} -> {x:#?}"
        );
    }
    let x = embedgate_core::explain(cases[0].0);
    assert_eq!(x[0].items[0].id, "d1d1d1d1-0000-4000-8000-000000000001");
    assert_eq!(x[0].items[0].kind.as_str(), "dataset");
    assert!(
        embedgate_core::explain("429 Too Many Requests, Retry-After: 3")
            .iter()
            .any(|e| e.id == "throttled")
    );
    assert!(embedgate_core::explain("something unrelated").is_empty());
    // Entra's `unauthorized_client` is an unknown app, not a Power BI permission.
    let x = embedgate_core::explain(
        r#"{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'abc' was not found in the directory"}"#,
    );
    assert_eq!(
        x.iter().map(|e| e.id).collect::<Vec<_>>(),
        ["entra-app-not-found"]
    );
    assert!(
        embedgate_core::explain("Operation returned an invalid status code 'Unauthorized'")
            .iter()
            .any(|e| e.id == "not-authorized")
    );
    // The status the text states wins; without one, every status the service uses for the error.
    let status = |t: &str| embedgate_core::explain(t).first().map(|e| e.status.clone());
    assert_eq!(
        status("403 Unauthorized PowerBINotAuthorizedException"),
        Some(vec![403])
    );
    assert_eq!(
        status(r#"{"error":{"code":"PowerBINotAuthorizedException"}}"#),
        Some(vec![401, 403])
    );
    assert_eq!(
        status(
            "Operation returned an invalid status code 'Forbidden' PowerBINotAuthorizedException"
        ),
        Some(vec![403])
    );
    assert_eq!(status("HTTP/1.1 401 Unauthorized"), Some(vec![401]));
    // Multi-byte text around a status (a byte window may start inside a character).
    assert_eq!(status("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9} 403 PowerBINotAuthorizedException \u{e9}"), Some(vec![401, 403]));
    assert_eq!(status("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}status 403 PowerBINotAuthorizedException"), Some(vec![403]));
    // A GUID's digits are not a status.
    assert_eq!(status("dataset d1d1d1d1-0000-4000-8000-000000000401 requires effective identity to be provided"), Some(vec![400]));
    // The three errors the pages did not know, each on its own (not under the generic 401).
    for (text, id, code) in [
        (
            "401 Unauthorized {\"Message\":\"API is not accessible for application\"}",
            "api-not-accessible-for-app",
            None,
        ),
        (
            r#"{"error":{"code":"PowerBIEntityNotFound","pbi.error":{"code":"PowerBIEntityNotFound"}}}"#,
            "entity-not-found",
            Some("EG0408"),
        ),
        (
            r#"{"error":{"code":"InsufficientTokenPermissions"}}"#,
            "insufficient-token-permissions",
            Some("EG0501"),
        ),
    ] {
        let x = embedgate_core::explain(text);
        assert_eq!(x.iter().map(|e| e.id).collect::<Vec<_>>(), [id], "{text}");
        assert!(code.is_none_or(|c| x[0].rules.contains(&c)), "{x:#?}");
        assert!(!x[0].title.is_empty() && !x[0].title.contains('-'));
    }
    // identity-required is never a master user's warning; an app's error cites no master-user rule.
    assert!(!embedgate_core::explain(cases[0].0)[0]
        .rules
        .contains(&"EG0309"));
    let x = embedgate_core::explain("The service principal got PowerBINotAuthorizedException");
    assert!(
        x[0].rules.contains(&"EG0602") && !x[0].rules.contains(&"EG0404"),
        "{x:#?}"
    );
    assert!(embedgate_core::explain("PowerBINotAuthorizedException")[0]
        .rules
        .contains(&"EG0404"));
    // What each id names, from the words before it.
    let x = embedgate_core::explain("PowerBIEntityNotFound GET /v1.0/myorg/groups/a0a0a0a0-0000-4000-8000-000000000001/reports/b0b0b0b0-0000-4000-8000-000000000001 dataset c0c0c0c0-0000-4000-8000-000000000001 \"profileId\": \"e0e0e0e0-0000-4000-8000-000000000001\"");
    let kinds: Vec<_> = x[0].items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["workspace", "report", "dataset", "profile"]);
    // As pasted from chat, mail or the docs: typographic apostrophes, no-break spaces, a line break.
    for (text, code) in [
        ("Creating embed token for accessing dataset X shouldn\u{2019}t have effective identity", "EG0204"),
        ("requires effective identity username to be identical to the caller\u{2019}s principal name", "EG0303"),
        ("Creating embed token for accessing dataset X requires\u{a0}effective identity to be\n  provided", "EG0301"),
    ] {
        let x = embedgate_core::explain(text);
        assert!(x.iter().any(|e| e.rules.contains(&code)), "{text} -> {x:#?}");
    }
}

/// EG0505's fix for `accessLevel` in a V2 body depends on the value the body carries (kept on the
/// unknown field, since parsing keeps the body typed only): `Edit` becomes `allowEdit` on each report.
#[test]
fn v2_access_level_fix_follows_its_value() {
    let titles = |level: &str| -> Vec<String> {
        let v = with(base(), |v| set(v, "/request/accessLevel", json!(level)));
        check_value(&v)
            .diagnostics
            .iter()
            .filter_map(|d| d.fix.as_ref().map(|f| f.title.clone()))
            .collect()
    };
    assert!(
        titles("Edit").contains(&"remove accessLevel and set allowEdit on each report".to_string())
    );
    let view = titles("View");
    assert!(
        view.contains(&"remove `accessLevel`".to_string()),
        "{view:?}"
    );
    assert!(!view.iter().any(|t| t.contains("allowEdit")));
}

/// `Create` sent to the report endpoint is EG0502's finding alone: EG0503's fix (add `datasetId`)
/// would only lead to EG0506 there.
#[test]
fn create_on_the_report_endpoint_is_not_a_missing_dataset() {
    let v = with(base(), |v| v1_report(v, json!({"accessLevel": "Create"})));
    let found = codes(&v);
    assert!(found.contains(&"EG0502"), "{found:?}");
    assert!(!found.contains(&"EG0503"), "{found:?}");
}

/// Removing the last identity removes the list: `"identities": []` is not "no identities".
#[test]
fn removing_the_last_identity_removes_the_list() {
    let v = with(base(), |v| {
        set(v, "/datasets/0/roles", json!([]));
        set(
            v,
            "/request/identities",
            json!([{"username": "a", "datasets": [DS]}]),
        );
    });
    let report = check_value(&v);
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.code == "EG0204")
        .expect("EG0204");
    let mut fixed = v.clone();
    apply_fix(&mut fixed, d.fix.as_ref().expect("a fix")).expect("applies");
    assert_eq!(
        fixed["request"].get("identities"),
        None,
        "{}",
        fixed["request"]
    );
    assert!(!codes(&fixed).contains(&"EG0204"));
}

// Three gaps found by trying requests as a user would (issue 12).

/// *Set effective identity*: "At least one role must be defined in the model." A role named against a model that
/// defines none must not pass just because the list to compare with is empty.
#[test]
fn a_role_against_a_model_without_roles_is_an_error() {
    let v = with(base(), |v| {
        set(v, "/datasets/0/roles", json!([]));
        set(v, "/datasets/0/isEffectiveIdentityRequired", json!(true));
    });
    let r = check_value(&v);
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "EG0207")
        .unwrap_or_else(|| {
            panic!(
                "{:?}",
                r.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
            )
        });
    assert_eq!(d.pointer, "/identities/0/roles/0");
    assert!(d.message.contains("defines no roles"), "{}", d.message);
    assert_eq!(r.verdict, embedgate_core::Verdict::Invalid);
}

/// *Considerations when generating an embed token*, SSO and cloud RLS: "You must provide ... Explicit (SSO) identity in the identity blob
/// property ...; Effective (RLS) identity (username)". A master user's blob and roles without a
/// username are not enough.
#[test]
fn sso_with_cloud_rls_needs_the_username_too() {
    let v = with(base(), |v| {
        master_user(v);
        model(v, "DirectQueryAzureSqlSso", json!(["Customer"]));
        set(
            v,
            "/request/identities/0/identityBlob",
            json!({"value": "tok"}),
        );
        del(v, "/request/identities/0/username");
    });
    let r = check_value(&v);
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "EG0307")
        .unwrap_or_else(|| {
            panic!(
                "{:?}",
                r.diagnostics
                    .iter()
                    .map(|d| (d.code, &d.pointer))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(d.pointer, "/identities/0/username");
    assert_eq!(d.severity, embedgate_core::Severity::Error);
    // SSO without cloud RLS: a master user's blob-only identity stays valid (EG0205).
    let v = with(base(), |v| {
        master_user(v);
        model(v, "DirectQueryAzureSqlSso", json!([]));
        set(
            v,
            "/request/identities/0/identityBlob",
            json!({"value": "tok"}),
        );
        del(v, "/request/identities/0/username");
        del(v, "/request/identities/0/roles");
    });
    assert!(!codes(&v).contains(&"EG0307"), "{:?}", codes(&v));
}

/// A finding about a missing member points at the member itself (as EG0301 does for
/// `/identities`), so an editor marks the place to add it. Checked for every finding whose fix
/// adds one member that the document lacks, over every rule case and every example.
#[test]
fn missing_member_findings_point_at_the_member() {
    let mut docs: Vec<(String, Value)> = Vec::new();
    for c in cases() {
        docs.push((format!("{} pos", c.code), (c.pos)()));
        docs.push((format!("{} neg", c.code), (c.neg)()));
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        // Scenarios only: folders beside them hold other examples (examples/migration/).
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        docs.push((p.display().to_string(), v));
    }
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (name, v) in &docs {
        for d in check_value(v).diagnostics {
            let Some(fix) = &d.fix else { continue };
            let [op] = fix.patch.as_slice() else { continue };
            let op = serde_json::to_value(op).unwrap();
            let path = op["path"].as_str().unwrap_or("");
            if op["op"] != "add" || path.ends_with("/-") || v.pointer(path).is_some() {
                continue;
            }
            // Only a member of an object the document has (adding a whole missing parent is
            // reported at that parent, which is then the missing member).
            let parent = path.rsplit_once('/').map(|p| p.0).unwrap_or("");
            if !v.pointer(parent).is_some_and(Value::is_object) {
                continue;
            }
            checked += 1;
            if d.scenario_pointer() != path {
                wrong.push(format!(
                    "{name}: {} points at {} but is about missing {path}",
                    d.code,
                    d.scenario_pointer()
                ));
            }
        }
    }
    assert!(checked >= 5, "only {checked} missing-member findings seen");
    // Findings without a fix follow the same rule.
    let v = with(base(), |v| del(v, "/request/identities/0/username"));
    let r = check_value(&v);
    let d = r.diagnostics.iter().find(|d| d.code == "EG0205").unwrap();
    assert_eq!(d.pointer, "/identities/0/username");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn pages_link_each_document_where_the_core_does() {
    use embedgate_core::sources::Document::*;
    // The pages name and link the cited documents in www/src/docs.ts: the same titles and URLs.
    let pages = include_str!("../../../www/src/docs.ts");
    for d in [
        ProfilesMigration,
        EffectiveIdentity,
        TokenConsiderations,
        Swagger,
        ServiceBehaviour,
        Embedgate,
    ] {
        let entry = pages
            .split(&format!("'{}'", d.id()))
            .nth(1)
            .or_else(|| pages.split(&format!("\n  {}:", d.id())).nth(1))
            .unwrap_or_else(|| panic!("{} missing from www/src/docs.ts", d.id()));
        let entry = entry.split("},").next().unwrap();
        if let Some(url) = d.url() {
            assert!(
                entry.contains(&format!("url: '{url}'")),
                "{}: pages link elsewhere than {url}",
                d.id()
            );
        } else {
            assert!(
                !entry.contains("url:"),
                "{}: pages link a document the core has no page for",
                d.id()
            );
        }
    }
}

/// EG0206 without the model's role names (Power BI's GET dataset answer has none) says where to
/// find them; with them, it offers the fix (issue 16, item 4).
#[test]
fn roles_required_says_where_the_names_are() {
    let mut v = json!({
        "caller": {"principalType": "App", "objectId": "6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01"},
        "endpoint": {"kind": "GenerateTokenV2"},
        "workspaces": [{"id": "a1a1a1a1-0000-4000-8000-000000000001", "type": "Workspace", "callerAccess": "Admin"}],
        "datasets": [{"id": "d1d1d1d1-0000-4000-8000-000000000001", "workspaceId": "a1a1a1a1-0000-4000-8000-000000000001",
                      "isEffectiveIdentityRequired": true, "isEffectiveIdentityRolesRequired": true, "targetStorageMode": "Abf"}],
        "request": {"datasets": [{"id": "d1d1d1d1-0000-4000-8000-000000000001"}],
                    "identities": [{"username": "alice@contoso.com", "datasets": ["d1d1d1d1-0000-4000-8000-000000000001"]}]}
    });
    let find = |v: &serde_json::Value| {
        embedgate_core::check_value(v)
            .diagnostics
            .into_iter()
            .find(|d| d.code == "EG0206")
            .expect("EG0206")
    };
    let d = find(&v);
    assert!(d.fix.is_none());
    assert!(
        d.help
            .as_deref()
            .is_some_and(|h| h.contains("never lists the model's role names")),
        "{d:#?}"
    );
    v["datasets"][0]["roles"] = json!(["Customer"]);
    let d = find(&v);
    assert_eq!(
        d.fix.map(|f| f.title).as_deref(),
        Some("add role `Customer`")
    );
}

#[test]
fn pages_title_each_family_as_the_core_does() {
    let page = include_str!("../../../www/src/rules.ts");
    let families: std::collections::BTreeSet<_> =
        embedgate_core::CATALOG.iter().map(|r| r.family).collect();
    assert_eq!(families.len(), 8, "a family was added or has no rule left");
    for f in families {
        let id = serde_json::to_value(f).unwrap();
        let line = format!("  {}: '{}',", id.as_str().unwrap(), f.title());
        assert!(page.contains(&line), "www/src/rules.ts lacks `{line}`");
    }
}
