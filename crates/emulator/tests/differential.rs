//! Differential test: every example scenario goes through the rules core and through the
//! emulator's GenerateToken (an independent implementation of the service's checks). Wherever one
//! accepts and the other refuses, the test fails and names the scenario.

mod common;

use common::*;
use embedgate_core::Verdict;
use serde_json::{json, Value};

const APP_ID: &str = "22222222-2222-4222-8222-222222222222";
const SECRET: &str = "differential-secret";
const PASSWORD: &str = "differential-password";
const DEFAULT_SP: &str = "6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01";

/// Builds the emulator's fixture from a scenario: the caller, its memberships, the items.
fn fixture(s: &Value) -> Value {
    let caller = &s["caller"];
    let sp_oid = caller["objectId"].as_str().unwrap_or(DEFAULT_SP);
    let upn = caller["upn"].as_str().unwrap_or("someone@contoso.com");
    let is_app = caller["principalType"] == "App";
    let mut profiles: Vec<Value> = Vec::new();
    let mut add_profile = |id: &str, name: &str| {
        if !profiles.iter().any(|p| p["id"] == id) {
            profiles.push(json!({"id": id, "displayName": name, "servicePrincipal": APP_ID}));
        }
    };
    if let Some(p) = caller["profile"]["id"].as_str() {
        add_profile(
            p,
            caller["profile"]["displayName"]
                .as_str()
                .unwrap_or("Profile"),
        );
    }
    let first_ws = s["workspaces"][0]["id"].as_str().unwrap_or("").to_string();
    let workspaces: Vec<Value> = s["workspaces"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            let mut members = Vec::new();
            if let Some(access) = w["callerAccess"].as_str().filter(|a| *a != "None") {
                let mut m = if is_app {
                    json!({"principalType": "App", "identifier": sp_oid, "groupUserAccessRight": access})
                } else {
                    json!({"principalType": "User", "identifier": upn, "groupUserAccessRight": access})
                };
                if is_app {
                    if let Some(p) = caller["profile"]["id"].as_str() {
                        m["profile"] = json!({"id": p});
                    }
                }
                members.push(m);
            }
            for u in w["users"].as_array().into_iter().flatten() {
                if let Some(p) = u["profile"]["id"].as_str() {
                    add_profile(p, u["profile"]["displayName"].as_str().unwrap_or("Other profile"));
                }
                let mut m = json!({"principalType": u["principalType"], "identifier": u["identifier"], "groupUserAccessRight": u["groupUserAccessRight"]});
                if !u["profile"].is_null() {
                    m["profile"] = json!({"id": u["profile"]["id"]});
                }
                members.push(m);
            }
            json!({"id": w["id"], "name": w["name"].as_str().unwrap_or("Workspace"), "type": w["type"].as_str().unwrap_or("Workspace"), "members": members})
        })
        .collect();
    let principal = if is_app { sp_oid } else { upn };
    let datasets: Vec<Value> = s["datasets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let kind = match d["model"].as_str().unwrap_or("Import") {
                "DirectQueryAzureSqlSso" => "AzureSqlDirectQuerySso",
                k => k,
            };
            let roles: Vec<Value> = d["roles"].as_array().into_iter().flatten().map(|r| json!({"name": r, "filter": "TRUE()"})).collect();
            let mut out = json!({
                "id": d["id"], "name": d["name"].as_str().unwrap_or("Dataset"),
                "workspaceId": d["workspaceId"].as_str().unwrap_or(&first_ws),
                "kind": kind, "roles": roles, "rows": [],
            });
            if !d["gateway"].is_null() {
                let admins = if d["gateway"]["callerIsAdmin"] == true { vec![principal] } else { vec![] };
                let over = if d["gateway"]["callerHasReadOverrideEffectiveIdentity"] == true { vec![principal] } else { vec![] };
                out["gateway"] = json!({"id": "99999999-0000-4000-8000-000000000001", "datasourceId": "99999999-0000-4000-8000-000000000002", "admins": admins, "readOverrideEffectiveIdentity": over});
            }
            out
        })
        .collect();
    let reports: Vec<Value> = s["reports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            json!({"id": r["id"], "name": r["name"].as_str().unwrap_or("Report"),
                   "workspaceId": r["workspaceId"].as_str().unwrap_or(&first_ws),
                   "datasetId": r["datasetId"], "reportType": r["reportType"].as_str().unwrap_or("PowerBIReport")})
        })
        .collect();
    json!({
        "tenant": {"id": TENANT, "domain": "differential.onmicrosoft.com", "name": "Differential"},
        "servicePrincipals": [{"appId": APP_ID, "secret": SECRET, "objectId": sp_oid, "displayName": "embedgate"}],
        "users": [{"upn": upn, "password": PASSWORD, "objectId": "44444444-4444-4444-8444-444444444444", "displayName": "Master user"}],
        "profiles": profiles,
        "workspaces": workspaces,
        "datasets": datasets,
        "reports": reports,
    })
}

fn endpoint_path(e: &Value) -> String {
    let g = e["groupId"].as_str().unwrap_or("");
    match e["kind"].as_str().unwrap() {
        "GenerateTokenV2" => "/GenerateToken".into(),
        "Report" => format!(
            "/groups/{g}/reports/{}/GenerateToken",
            e["reportId"].as_str().unwrap()
        ),
        "CreateReport" => format!("/groups/{g}/reports/GenerateToken"),
        "Dataset" => format!(
            "/groups/{g}/datasets/{}/GenerateToken",
            e["datasetId"].as_str().unwrap()
        ),
        "Dashboard" => format!(
            "/groups/{g}/dashboards/{}/GenerateToken",
            e["dashboardId"].as_str().unwrap()
        ),
        "Tile" => format!(
            "/groups/{g}/dashboards/{}/tiles/{}/GenerateToken",
            e["dashboardId"].as_str().unwrap(),
            e["tileId"].as_str().unwrap()
        ),
        k => panic!("endpoint {k}"),
    }
}

/// Scenarios the emulator cannot represent: incomplete ones (their items are not described).
fn comparable(report: &embedgate_core::Report) -> bool {
    !report
        .diagnostics
        .iter()
        .any(|d| d.code.starts_with("EG07") || d.code == "EG0002")
}

#[test]
fn core_and_emulator_agree_on_every_example() {
    let emu = Emu::demo();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for f in &files {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let report = embedgate_core::check_value(&s);
        if !comparable(&report) {
            continue;
        }
        let r = emu.post("/__emulator/state", fixture(&s));
        assert_eq!(
            r.status,
            200,
            "{}: fixture refused: {}",
            f.display(),
            r.text
        );
        let token = if s["caller"]["principalType"] == "App" {
            emu.sp_token_for(APP_ID, SECRET)
        } else {
            emu.user_token(s["caller"]["upn"].as_str().unwrap(), PASSWORD)
        };
        let profile = s["caller"]["profile"]["id"].as_str();
        let resp = emu.pbi(
            "POST",
            &endpoint_path(&s["endpoint"]),
            &token,
            profile,
            Some(s["request"].clone()),
        );
        // Some problems surface only when the report loads (unknown role names), as with the service.
        let mut load_error = None;
        if resp.status == 200 {
            let token = resp.json["token"].as_str().unwrap();
            for r in s["request"]["reports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str())
                .chain(s["endpoint"]["reportId"].as_str())
            {
                let view = emu.render(token, r);
                if view["ok"] != true {
                    load_error = Some(view.to_string());
                }
            }
        }
        let core_accepts = report.verdict != Verdict::Invalid;
        let emu_accepts = resp.status == 200 && load_error.is_none();
        compared += 1;
        if core_accepts != emu_accepts {
            let codes: Vec<_> = report
                .diagnostics
                .iter()
                .map(|d| format!("{} {}", d.code, d.message))
                .collect();
            disagreements.push(format!(
                "{}: core {} {:?}, emulator {} {}",
                f.file_name().unwrap().to_string_lossy(),
                if core_accepts { "accepts" } else { "refuses" },
                codes,
                resp.status,
                load_error.unwrap_or(resp.text)
            ));
        }
    }
    assert!(compared >= 25, "only {compared} scenarios compared");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
