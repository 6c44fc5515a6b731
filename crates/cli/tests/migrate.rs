//! `embedgate migrate` end to end against the in-process emulator: a legacy app of 20 customers sharing one
//! RLS workspace (service principal and master user Admin), migrated to one profile and one workspace per
//! customer. The binary runs as a child process so a crash is a real kill.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use embedgate_emulator::{start, Fixture, Options};
use serde_json::{json, Value};

const TENANT: &str = "11111111-1111-4111-8111-111111111111";
const APP: &str = "22222222-2222-4222-8222-222222222222";
const SP_OID: &str = "33333333-3333-4333-8333-333333333333";
const SHARED_WS: &str = "5a5a5a5a-0000-4000-8000-00000000a000";
const SHARED_DS: &str = "5a5a5a5a-0000-4000-8000-00000000d000";
const SHARED_REPORT: &str = "5a5a5a5a-0000-4000-8000-00000000b000";
const N: usize = 20;

fn name(i: usize) -> String {
    format!("Customer {i:03}")
}

/// The value the shared model's RLS filters on (`USERNAME()`), sent as the legacy username today.
fn key(i: usize) -> String {
    format!("Customer{i:03}")
}

fn dataset_spec() -> Value {
    let rows: Vec<Value> = (0..N)
        .flat_map(|i| (0..3).map(move |k| json!({"Customer": key(i), "Product": format!("P{k}"), "Amount": 100 * i + k})))
        .collect();
    json!({"kind": "Import", "roles": [{"name": "Customer", "filter": "[Customer] = USERNAME()"}],
           "columns": ["Customer", "Product", "Amount"], "rows": rows})
}

/// The legacy layout: one shared workspace and RLS dataset for every customer.
fn legacy_fixture() -> Value {
    let mut ds = dataset_spec();
    ds["id"] = json!(SHARED_DS);
    ds["workspaceId"] = json!(SHARED_WS);
    ds["name"] = json!("Shared Sales");
    json!({
        "tenant": {"id": TENANT, "domain": "legacy.onmicrosoft.com", "name": "Legacy"},
        "settings": {"entraTokenLifetimeSeconds": 3599, "embedTokenDefaultMinutes": 60, "maxProfilesPerServicePrincipal": 100000},
        "servicePrincipals": [{"appId": APP, "secret": "emulator-demo-secret", "objectId": SP_OID, "displayName": "Legacy SaaS"}],
        "users": [{"upn": "admin@legacy.onmicrosoft.com", "password": "pw", "objectId": "44444444-4444-4444-8444-444444444444", "displayName": "Master user"}],
        "profiles": [],
        "workspaces": [{"id": SHARED_WS, "name": "Shared", "type": "Workspace", "members": [
            {"principalType": "App", "identifier": SP_OID, "groupUserAccessRight": "Admin"},
            {"principalType": "User", "identifier": "admin@legacy.onmicrosoft.com", "groupUserAccessRight": "Admin"}]}],
        "datasets": [ds],
        "reports": [{"id": SHARED_REPORT, "workspaceId": SHARED_WS, "name": "Sales", "datasetId": SHARED_DS, "reportType": "PowerBIReport"}],
        "dashboards": [],
    })
}

fn inventory() -> Value {
    let customers: Vec<Value> = (0..N)
        .map(|i| json!({
            "id": format!("c{i:03}"), "name": name(i),
            "legacy": {"workspaceId": SHARED_WS, "reports": [SHARED_REPORT], "rls": {"kind": "dynamic", "username": key(i), "roles": ["Customer"]}},
            "target": {"kind": "newWorkspace", "name": format!("{} Analytics", name(i)), "templates": ["sales"]},
        }))
        .collect();
    json!({"servicePrincipalObjectId": SP_OID, "templates": {"sales": {"file": "sales.pbix", "name": "Sales"}}, "customers": customers})
}

struct Env {
    base: String,
    dir: PathBuf,
    _rt: tokio::runtime::Runtime,
}

impl Env {
    fn new(tag: &str) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let fixture = Fixture::parse(&legacy_fixture().to_string()).unwrap();
        let running = rt
            .block_on(start(Options {
                listen: "127.0.0.1:0".parse().unwrap(),
                embed_listen: "127.0.0.1:0".parse().unwrap(),
                embed_host: "127.0.0.1".into(),
                fixture,
            }))
            .unwrap();
        let dir =
            std::env::temp_dir().join(format!("embedgate-migrate-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inventory.json"), inventory().to_string()).unwrap();
        let mut pbix =
            json!({"format": "embedgate-pbix/1", "dataset": dataset_spec(), "report": {}});
        pbix["report"] = json!({"pages": []});
        std::fs::write(dir.join("sales.pbix"), pbix.to_string()).unwrap();
        Env {
            base: running.api_base,
            dir,
            _rt: rt,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_embedgate"));
        c.arg("migrate")
            .args(args)
            .arg("--inventory")
            .arg(self.dir.join("inventory.json"));
        c.env("EMBEDGATE_TENANT_ID", TENANT)
            .env("EMBEDGATE_CLIENT_ID", APP)
            .env("EMBEDGATE_CLIENT_SECRET", "emulator-demo-secret")
            .env("EMBEDGATE_PBI_API", &self.base)
            .env("EMBEDGATE_AUTHORITY", &self.base)
            .env_remove("EMBEDGATE_WORKER_URL")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn http(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let mut resp = match body {
            Some(b) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(b.to_string())
                .unwrap(),
            None if method == "DELETE" => agent.delete(&url).call().unwrap(),
            None => agent.get(&url).call().unwrap(),
        };
        let text = resp.body_mut().read_to_string().unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn state(&self) -> Value {
        self.http("GET", "/__emulator/state", None)
    }

    fn fault(&self, f: Value) {
        self.http("POST", "/__emulator/faults", Some(f));
    }

    fn progress(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.dir.join("inventory.state.json")).unwrap(),
        )
        .unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Exactly one profile, one workspace (profile Admin) and one imported report per customer, nothing else.
fn assert_converged(e: &Env) {
    let st = e.state();
    let profiles = st["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), N, "profiles: {}", profiles.len());
    let mut names: Vec<&str> = profiles
        .iter()
        .map(|p| p["displayName"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), N, "duplicate profile names");
    let workspaces = st["workspaces"].as_array().unwrap();
    assert_eq!(workspaces.len(), N + 1, "workspaces: {}", workspaces.len());
    for w in workspaces.iter().filter(|w| w["id"] != SHARED_WS) {
        let members = w["members"].as_array().unwrap();
        assert_eq!(
            members.len(),
            1,
            "workspace {} members {members:?}",
            w["name"]
        );
        assert_eq!(members[0]["groupUserAccessRight"], "Admin");
        let reports = st["reports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["workspaceId"] == w["id"])
            .count();
        let datasets = st["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["workspaceId"] == w["id"])
            .count();
        assert_eq!((reports, datasets), (1, 1), "items in {}", w["name"]);
    }
    let p = e.progress();
    for i in 0..N {
        let c = &p["customers"][format!("c{i:03}")];
        assert!(
            c["profileId"].is_string() && c["workspaceId"].is_string(),
            "{c}"
        );
        assert!(c["items"]["sales"]["reportId"].is_string(), "{c}");
    }
}

#[test]
fn plan_lists_every_customer_with_its_identity_afterwards() {
    let e = Env::new("plan");
    let o = e.run(&["plan"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("customer c007 → profile `Customer007`"), "{t}");
    assert!(t.contains("identity after: username `Customer007`, roles [Customer]"));
    assert!(
        t.contains("USERNAME() returns the profile's name `Customer007`, the same value as today")
    );
    let j: Value = serde_json::from_slice(&e.run(&["plan", "--format", "json"]).stdout).unwrap();
    assert_eq!(j["customers"].as_array().unwrap().len(), N);
    assert_eq!(j["minimumCalls"], 1 + N * 4);
    // Bad input: the JSON path of the problem, exit 2, never a panic.
    std::fs::write(
        e.dir.join("inventory.json"),
        inventory()
            .to_string()
            .replace("\"newWorkspace\"", "\"newWorkspaces\""),
    )
    .unwrap();
    let bad = e.run(&["plan"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("/customers/0/target"), "{}", text(&bad));
    // A profile name that dynamic RLS would send as a username must be one (no spaces).
    let mut inv = inventory();
    inv["customers"][4]["profileName"] = json!("Customer 004");
    std::fs::write(e.dir.join("inventory.json"), inv.to_string()).unwrap();
    let bad = e.run(&["plan"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("/customers/4/profileName"),
        "{}",
        text(&bad)
    );
}

#[test]
fn apply_then_verify_converges_and_a_rerun_makes_nothing_new() {
    let e = Env::new("apply");
    let o = e.run(&["apply", "--concurrency", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !text(&o).contains("emulator-demo-secret"),
        "the secret never appears in the output"
    );
    assert_converged(&e);
    // JSON lines without a terminal.
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["event"] == "customer_done")
            .count(),
        N
    );
    let calls = e.http("GET", "/__emulator/calls", None);
    let pbi: u64 = calls
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("powerbi."))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    // One profile list, then per customer: create profile, find + create workspace, list reports, import, status.
    assert_eq!(pbi, 1 + N as u64 * 6, "{calls}");
    // Re-run: lookups only, nothing created.
    e.http("DELETE", "/__emulator/calls", None);
    let again = e.run(&["apply"]);
    assert!(again.status.success(), "{}", text(&again));
    let calls = e.http("GET", "/__emulator/calls", None);
    for k in [
        "powerbi.createProfile",
        "powerbi.createGroup",
        "powerbi.postImport",
    ] {
        assert!(calls.get(k).is_none(), "re-run called {k}: {calls}");
    }
    assert_converged(&e);
    // Verify as each profile, comparing the rows with today's legacy token.
    let v = e.run(&["verify", "--compare-rows"]);
    assert!(v.status.success(), "{}", text(&v));
    assert_eq!(
        String::from_utf8_lossy(&v.stdout)
            .matches("ok      c")
            .count(),
        N,
        "{}",
        text(&v)
    );
}

#[test]
fn lost_answers_after_each_kind_of_create_and_a_kill_converge_without_duplicates() {
    let e = Env::new("crash");
    // Each kind of create takes effect but its answer is lost (as if the process died right after it).
    for (route, skip) in [
        ("powerbi.createProfile", 2),
        ("powerbi.createGroup", 5),
        ("powerbi.postImport", 8),
    ] {
        e.fault(json!({"route": route, "skip": skip, "count": 1, "fault": {"status": 500, "afterHandler": true}}));
    }
    // Each lost answer is found again by an exact lookup within the same run: no customer fails, nothing is
    // made twice.
    let first = e.run(&["apply", "--concurrency", "2"]);
    assert!(first.status.success(), "{}", text(&first));
    assert_converged(&e);
    // A kill in the middle of a run.
    let mut child = e
        .cmd(&["apply", "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let last = e.run(&["apply", "--concurrency", "4"]);
    assert!(last.status.success(), "{}", text(&last));
    assert_converged(&e);
}

#[test]
fn a_429_storm_is_waited_out() {
    let e = Env::new("storm");
    e.fault(json!({"route": "powerbi.createProfile", "count": 6, "fault": {"status": 429, "retryAfter": 1}}));
    e.fault(json!({"route": "powerbi.postImport", "count": 4, "fault": {"status": 429, "retryAfter": 1}}));
    let o = e.run(&["apply", "--concurrency", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    let retries = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("\"event\":\"retry\"") && l.contains("429"))
        .count();
    assert_eq!(retries, 10, "{}", text(&o));
    assert_converged(&e);
}

#[test]
fn verify_catches_a_profile_without_admin_while_the_service_principal_still_has_it() {
    let e = Env::new("verify");
    assert!(e.run(&["apply"]).status.success());
    let p = e.progress();
    let ws = p["customers"]["c003"]["workspaceId"]
        .as_str()
        .unwrap()
        .to_string();
    // Planted mistake: customer 3's workspace loses the profile's Admin row; the service principal is Admin.
    let mut st = e.state();
    for w in st["workspaces"].as_array_mut().unwrap() {
        if w["id"] == ws.as_str() {
            w["members"] = json!([{"principalType": "App", "identifier": SP_OID, "groupUserAccessRight": "Admin"}]);
        }
    }
    e.http("POST", "/__emulator/state", Some(st));
    let v = e.run(&["verify"]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(out.contains("FAILED  c003"), "{out}");
    assert!(out.contains("trap    c003"), "{out}");
    assert_eq!(out.matches("ok      c").count(), N - 1, "{out}");
    // Rollout refuses it without --force (no worker configured: the refusal comes first).
    let p: Value = e.progress();
    assert!(p["customers"]["c003"]["verify"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
}

#[test]
fn slow_imports_are_polled_until_they_succeed_and_a_kill_while_publishing_converges() {
    let e = Env::new("slow");
    e.http(
        "POST",
        "/__emulator/settings",
        Some(json!({"importPublishMs": 700})),
    );
    // Killed while imports are still publishing: their ids are recorded, and the re-run polls them.
    let mut child = e
        .cmd(&["apply", "--concurrency", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let _ = child.kill();
    let _ = child.wait();
    let o = e.run(&["apply", "--concurrency", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    let calls = e.http("GET", "/__emulator/calls", None);
    let polls = calls["powerbi.getImport"].as_u64().unwrap_or(0);
    assert!(
        polls > N as u64,
        "each customer's import was read while Publishing and again once done: {calls}"
    );
    assert_converged(&e);
    let p = e.progress();
    for (id, c) in p["customers"].as_object().unwrap() {
        assert!(
            c["items"]["sales"]["reportId"].is_string(),
            "{id} recorded its report: {c}"
        );
    }
}

#[test]
fn a_second_run_on_one_state_file_is_refused_while_the_first_holds_it() {
    let e = Env::new("lock");
    // As a running `apply` holds it: an OS lock, which a child process's own open of the file cannot share.
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(e.dir.join("inventory.state.lock"))
        .unwrap();
    held.try_lock().unwrap();
    for step in [&["apply"][..], &["verify"], &["cleanup", "--dry-run"]] {
        let o = e.run(step);
        assert!(!o.status.success(), "{step:?}: {}", text(&o));
        assert!(
            text(&o).contains("another `embedgate migrate` is using"),
            "{step:?}: {}",
            text(&o)
        );
    }
    let calls = e.http("GET", "/__emulator/calls/log", None);
    assert_eq!(
        calls.as_array().map(Vec::len),
        Some(0),
        "nothing was sent: {calls}"
    );
    assert!(
        e.run(&["plan"]).status.success(),
        "plan writes nothing and takes no lock"
    );
    drop(held);
    let o = e.run(&["apply"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_converged(&e);
}
