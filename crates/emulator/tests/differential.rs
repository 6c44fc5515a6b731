//! Differential test: every example scenario goes through the rules core and through the
//! emulator's GenerateToken (an independent implementation of the service's checks). Wherever one
//! accepts and the other refuses, the test fails and names the scenario.

mod common;

use common::*;
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
            // `callerAccess` states the caller's right outright and wins over `users` (as in the core's
            // `Workspace::access_of`), so the caller's own `users` entries are left out then.
            let is_caller = |u: &Value| {
                let same = |a: &Value, b: Option<&str>| a.as_str().zip(b).is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
                if is_app {
                    u["principalType"] == "App"
                        && same(&u["identifier"], Some(sp_oid))
                        && match (caller["profile"]["id"].as_str(), u["profile"]["id"].as_str()) {
                            (Some(c), Some(p)) => c.eq_ignore_ascii_case(p),
                            (None, None) => true,
                            _ => false,
                        }
                } else {
                    u["principalType"] == "User" && same(&u["identifier"], Some(upn))
                }
            };
            let stated = w.get("callerAccess").is_some_and(|a| !a.is_null());
            for u in w["users"].as_array().into_iter().flatten().filter(|u| !(stated && is_caller(u))) {
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
            // Gateway rights the scenario does not state: the core assumes they are granted (and notes it),
            // so the fixture grants them.
            let unstated = d["gateway"]["callerIsAdmin"].is_null() && d["gateway"]["callerHasReadOverrideEffectiveIdentity"].is_null();
            if kind == "SqlServerAnalysisServicesLive" && unstated {
                out["gateway"] = json!({"id": "99999999-0000-4000-8000-000000000001", "datasourceId": "99999999-0000-4000-8000-000000000002", "admins": [principal]});
            } else if !d["gateway"].is_null() {
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

/// Scenarios the emulator cannot represent: incomplete ones (their items are not described). Also not comparable: a dataset whose stated `isEffectiveIdentityRequired` / `...RolesRequired` contradicts its
/// model kind and roles; the emulator derives both from the model, as the service does, so no fixture holds it.
fn comparable(s: &Value, report: &embedgate_core::Report) -> bool {
    let contradicts = s["datasets"].as_array().into_iter().flatten().any(|d| {
        let roles = d["roles"].as_array().is_some_and(|r| !r.is_empty());
        let model = d["model"].as_str().unwrap_or("Import");
        let live = model.ends_with("AnalysisServicesLive");
        let required = roles || live || model == "DirectQueryAzureSqlSso";
        let stated = |k: &str, derived: bool| d[k].as_bool().is_some_and(|b| b != derived);
        stated("isEffectiveIdentityRequired", required)
            || stated("isEffectiveIdentityRolesRequired", roles && !live)
    });
    !contradicts
        && !report
            .diagnostics
            .iter()
            .any(|d| d.code.starts_with("EG07") || d.code == "EG0002")
}

/// Runs one scenario through the core and through the emulator (GenerateToken, then the report
/// load where the emulator fails late). `Some(why)` when they disagree; `None` when they agree or
/// the scenario is not comparable. The second value says whether it was compared.
fn compare(emu: &Emu, s: &Value) -> (bool, Option<String>) {
    let report = embedgate_core::check_value(s);
    if !comparable(s, &report) {
        return (false, None);
    }
    let r = emu.post("/__emulator/state", fixture(s));
    if r.status != 200 {
        // The emulator's fixture format cannot hold this scenario (not a verdict).
        return (false, None);
    }
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
        // Dataset and create tokens have no report to load; their first query (Q&A, or a report made
        // from the dataset) is where the same late errors surface.
        {
            for d in s["request"]["datasets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["id"].as_str())
                .chain(s["endpoint"]["datasetId"].as_str())
                .chain(s["request"]["datasetId"].as_str())
            {
                let q = emu.query(token, d);
                if q["ok"] != true {
                    load_error = Some(q.to_string());
                }
            }
        }
    }
    // EG0001 (unknown member) is the core's own policy: the service ignores such members, so the
    // verdict compared is that of the other findings.
    let core_accepts = !report
        .diagnostics
        .iter()
        .any(|d| d.severity == embedgate_core::Severity::Error && d.code != "EG0001");
    let emu_accepts = resp.status == 200 && load_error.is_none();
    if core_accepts == emu_accepts {
        return (true, None);
    }
    let codes: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == embedgate_core::Severity::Error)
        .map(|d| format!("{} {}", d.code, d.message))
        .collect();
    let emu_said = load_error.unwrap_or_else(|| {
        resp.json["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or(resp.text.clone())
    });
    (
        true,
        Some(format!(
            "core {} {:?}, emulator {} {}",
            if core_accepts { "accepts" } else { "refuses" },
            codes,
            resp.status,
            emu_said.chars().take(300).collect::<String>()
        )),
    )
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
        let (was_compared, why) = compare(&emu, &s);
        compared += was_compared as usize;
        if let Some(why) = why {
            disagreements.push(format!(
                "{}: {why}",
                f.file_name().unwrap().to_string_lossy()
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

// Generated scenarios: the examples, each changed by a few random mutations that a user makes (every
// caller kind, endpoint, model kind, workspace type and access right; identities with and without each
// member; misspelt roles; lifetimes at and past the edges). `DIFF_CASES` (default 1000) and `DIFF_SEED`
// set the run; scripts/bench-differential.sh runs thousands.

/// splitmix64: a seeded, reproducible generator (no dependency for a few random choices).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

const MUTATIONS: usize = 20;

/// Applies mutation `m` (with its own random choices from `r`) and names what it did.
fn mutate(s: &mut Value, m: usize, r: &mut Rng) -> String {
    let id0 = "/request/identities/0";
    let has_identity = s.pointer(id0).is_some();
    match m {
        0 => {
            let kind = *r.pick(&[
                "Import",
                "DirectQuery",
                "DirectQueryAzureSqlSso",
                "AzureAnalysisServicesLive",
                "SqlServerAnalysisServicesLive",
                "DirectLake",
            ]);
            if let Some(d) = s.pointer_mut("/datasets/0") {
                d["model"] = json!(kind);
            }
            format!("model {kind}")
        }
        1 => {
            let roles = r
                .pick(&[
                    json!([]),
                    json!(["Customer"]),
                    json!(["Customer", "Region"]),
                ])
                .clone();
            if let Some(d) = s.pointer_mut("/datasets/0") {
                d["roles"] = roles.clone();
            }
            format!("model roles {roles}")
        }
        2 => {
            let access = *r.pick(&["Admin", "Member", "Contributor", "Viewer", "None"]);
            if let Some(w) = s.pointer_mut("/workspaces/0") {
                w["callerAccess"] = json!(access);
            }
            format!("callerAccess {access}")
        }
        3 => {
            let t = *r.pick(&["Workspace", "Group", "PersonalGroup"]);
            if let Some(w) = s.pointer_mut("/workspaces/0") {
                w["type"] = json!(t);
            }
            format!("workspace type {t}")
        }
        4 => {
            if s["caller"]["principalType"] == "App" {
                s["caller"] = json!({"principalType": "User", "upn": "embed-admin@contoso.com"});
                "caller master user".into()
            } else {
                s["caller"] = json!({"principalType": "App", "objectId": DEFAULT_SP});
                "caller service principal".into()
            }
        }
        5 if has_identity => {
            let v = r
                .pick(&[
                    Value::Null,
                    json!(""),
                    json!("alice@contoso.com"),
                    json!(DEFAULT_SP),
                ])
                .clone();
            let id = s.pointer_mut(id0).unwrap();
            if v.is_null() {
                id.as_object_mut().unwrap().remove("username");
            } else {
                id["username"] = v.clone();
            }
            format!("username {v}")
        }
        6 if has_identity => {
            let v = r
                .pick(&[
                    Value::Null,
                    json!([]),
                    json!(["Customer"]),
                    json!(["Custmer"]),
                    json!(["customer"]),
                    json!(["Region"]),
                ])
                .clone();
            let id = s.pointer_mut(id0).unwrap();
            if v.is_null() {
                id.as_object_mut().unwrap().remove("roles");
            } else {
                id["roles"] = v.clone();
            }
            format!("identity roles {v}")
        }
        7 if has_identity => {
            let on = r.next().is_multiple_of(2);
            let id = s.pointer_mut(id0).unwrap();
            if on {
                id["identityBlob"] = json!({"value": "aad-access-token"});
            } else {
                id.as_object_mut().unwrap().remove("identityBlob");
            }
            format!("identityBlob {on}")
        }
        8 if has_identity => {
            let on = r.next().is_multiple_of(2);
            let id = s.pointer_mut(id0).unwrap();
            if on {
                id["customData"] = json!("north");
            } else {
                id.as_object_mut().unwrap().remove("customData");
            }
            format!("customData {on}")
        }
        9 => {
            if has_identity {
                s["request"].as_object_mut().unwrap().remove("identities");
                "no identities".into()
            } else if let Some(d) = s["datasets"][0]["id"].as_str().map(str::to_string) {
                s["request"]["identities"] = json!([{"username": "alice@contoso.com", "roles": ["Customer"], "datasets": [d]}]);
                "identity added".into()
            } else {
                "nothing".into()
            }
        }
        10 => {
            let v = r
                .pick(&[
                    json!(0),
                    json!(-1),
                    json!(1),
                    json!(60),
                    json!(1440),
                    json!(1441),
                ])
                .clone();
            s["request"]["lifetimeInMinutes"] = v.clone();
            format!("lifetime {v}")
        }
        11..=13 => {
            // V1 endpoints with V1 permissions.
            let (Some(ws), Some(rep), Some(ds)) = (
                s["workspaces"][0]["id"].as_str().map(str::to_string),
                s["reports"][0]["id"].as_str().map(str::to_string),
                s["datasets"][0]["id"].as_str().map(str::to_string),
            ) else {
                return "nothing".into();
            };
            let ids = s["request"]["identities"].clone();
            let mut body = json!({});
            if ids.is_array() {
                body["identities"] = ids;
            }
            let what = match m {
                11 => {
                    s["endpoint"] = json!({"kind": "Report", "groupId": ws, "reportId": rep});
                    "report endpoint"
                }
                12 => {
                    s["endpoint"] = json!({"kind": "Dataset", "groupId": ws, "datasetId": ds});
                    "dataset endpoint"
                }
                _ => {
                    s["endpoint"] = json!({"kind": "CreateReport", "groupId": ws});
                    body["datasetId"] = json!(ds);
                    "create endpoint"
                }
            };
            s["request"] = body;
            what.into()
        }
        14 if s["endpoint"]["kind"] != "GenerateTokenV2" => {
            let v = *r.pick(&[true, false]);
            s["request"]["allowSaveAs"] = json!(v);
            format!("allowSaveAs {v}")
        }
        15 if s["endpoint"]["kind"] != "GenerateTokenV2" => {
            let v = *r.pick(&["View", "Edit", "Create"]);
            s["request"]["accessLevel"] = json!(v);
            format!("accessLevel {v}")
        }
        16 if has_identity => {
            // limits at and past the edge: 256 characters, spaces
            let v = r.pick(&[256usize, 257, 0]).to_owned();
            let u = if v == 0 {
                "alice smith@contoso.com".to_string()
            } else {
                format!("{}@c.com", "a".repeat(v - 6))
            };
            s["request"]["identities"][0]["username"] = json!(u);
            format!("username of {} characters", u.len())
        }
        17 if has_identity => {
            let v = *r.pick(&[50usize, 51]);
            let mut roles: Vec<String> = (1..v).map(|i| format!("Role{i}")).collect();
            roles.push("Customer".into());
            s["request"]["identities"][0]["roles"] = json!(roles);
            format!("{v} roles")
        }
        18 if has_identity => {
            let v = *r.pick(&[50usize, 51]);
            s["request"]["identities"][0]["roles"] = json!(["R".repeat(v)]);
            format!("role name of {v} characters")
        }
        19 => {
            // a misspelt member: the service ignores it, so it is what is left that decides
            let (from, to) = *r.pick(&[
                ("identities", "identity"),
                ("lifetimeInMinutes", "lifetime"),
                ("reports", "report"),
            ]);
            let req = s["request"].as_object_mut();
            match req.and_then(|o| o.remove(from).map(|v| (o, v))) {
                Some((o, v)) => {
                    o.insert(to.into(), v);
                    format!("{from} misspelt {to}")
                }
                None => "nothing".into(),
            }
        }
        _ => "nothing".into(),
    }
}

fn scenario_for(examples: &[Value], steps: &[(usize, usize, u64)]) -> (Value, Vec<String>) {
    let mut s = examples[steps[0].0].clone();
    let mut said = Vec::new();
    for &(_, m, seed) in steps {
        said.push(mutate(&mut s, m, &mut Rng(seed)));
    }
    (s, said)
}

/// Bounded in `make test` (1000 cases, seed 12); scripts/bench-differential.sh runs thousands per seed.
#[test]
fn core_and_emulator_agree_on_generated_scenarios() {
    let cases: usize = std::env::var("DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seed: u64 = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let emu = Emu::demo();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let examples: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .filter(|s: &Value| comparable(s, &embedgate_core::check_value(s)))
        .collect();
    let mut r = Rng(seed);
    let (mut compared, mut failures) = (0, Vec::new());
    for case in 0..cases {
        let ex = (r.next() % examples.len() as u64) as usize;
        let n = 1 + (r.next() % 3) as usize;
        let steps: Vec<(usize, usize, u64)> = (0..n)
            .map(|_| (ex, (r.next() % MUTATIONS as u64) as usize, r.next()))
            .collect();
        let (s, _) = scenario_for(&examples, &steps);
        let (was, why) = compare(&emu, &s);
        compared += was as usize;
        if why.is_none() {
            continue;
        }
        // Shrink: drop mutations while the disagreement stays.
        let mut min = steps.clone();
        let mut i = 0;
        while i < min.len() && min.len() > 1 {
            let mut fewer = min.clone();
            fewer.remove(i);
            if compare(&emu, &scenario_for(&examples, &fewer).0)
                .1
                .is_some()
            {
                min = fewer;
            } else {
                i += 1;
            }
        }
        let (s, said) = scenario_for(&examples, &min);
        let why = compare(&emu, &s).1.unwrap_or_default();
        failures.push(format!(
            "case {case} (DIFF_SEED={seed}): {} + [{}]: {why}\n  minimal scenario: {s}",
            files_name(&files, &examples, ex),
            said.join(", ")
        ));
        if failures.len() >= 20 {
            break;
        }
    }
    eprintln!("generated differential: {cases} cases, {compared} compared, {} disagreements (seed {seed})", failures.len());
    assert!(
        compared * 2 >= cases.min(40),
        "only {compared} of {cases} generated scenarios were comparable"
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn files_name(_files: &[std::path::PathBuf], examples: &[Value], ex: usize) -> String {
    examples[ex]["description"]
        .as_str()
        .unwrap_or("example")
        .chars()
        .take(60)
        .collect()
}
