//! A legacy deployment with a worker: seven customers share one RLS workspace (the service principal, the
//! master user and a customer's auditor are members), each with its worker document; the inventory names only
//! some of them. Used by `migrate_live.rs` (one test per defect) and `migrate_model.rs` (random sequences).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use embedgate_emulator::{start, Fixture, Options};
use serde_json::{json, Value};

use super::{start_worker, Docs, Upstream, ADMIN_KEY};

pub const TENANT: &str = "11111111-1111-4111-8111-111111111111";
pub const APP: &str = "22222222-2222-4222-8222-222222222222";
pub const SP: &str = "33333333-3333-4333-8333-333333333333";
pub const MASTER: &str = "admin@legacy.onmicrosoft.com";
pub const AUDITOR: &str = "auditor@legacy.onmicrosoft.com";
pub const WS: &str = "5a5a5a5a-0000-4000-8000-00000000a000";
pub const DS: &str = "5a5a5a5a-0000-4000-8000-00000000d000";
pub const REPORT: &str = "5a5a5a5a-0000-4000-8000-00000000b000";
pub const N: usize = 7;

pub fn id(i: usize) -> String {
    format!("c{i:03}")
}

/// The value the shared model's RLS filters on, sent as the legacy username today.
pub fn key(i: usize) -> String {
    format!("Customer{i:03}")
}

pub fn dataset_spec() -> Value {
    let rows: Vec<Value> = (0..N)
        .flat_map(|i| (0..3).map(move |k| json!({"Customer": key(i), "Product": format!("P{k}"), "Amount": 100 * i + k})))
        .collect();
    json!({"kind": "Import",
           "roles": [{"name": "Customer", "filter": "[Customer] = USERNAME()"},
                     {"name": "ByData", "filter": "[Customer] = CUSTOMDATA()"}],
           "columns": ["Customer", "Product", "Amount"], "rows": rows})
}

pub fn fixture(extra: impl FnOnce(&mut Value)) -> Value {
    let mut ds = dataset_spec();
    ds["id"] = json!(DS);
    ds["workspaceId"] = json!(WS);
    ds["name"] = json!("Shared Sales");
    let mut f = json!({
        "tenant": {"id": TENANT, "domain": "legacy.onmicrosoft.com", "name": "Legacy"},
        "settings": {"entraTokenLifetimeSeconds": 3599, "embedTokenDefaultMinutes": 60, "maxProfilesPerServicePrincipal": 100000},
        "servicePrincipals": [{"appId": APP, "secret": "emulator-demo-secret", "objectId": SP, "displayName": "Legacy SaaS"}],
        "users": [
            {"upn": MASTER, "password": "pw", "objectId": "44444444-4444-4444-8444-444444444444", "displayName": "Master user"},
            {"upn": AUDITOR, "password": "pw", "objectId": "44444444-4444-4444-8444-444444444445", "displayName": "Auditor"},
            {"upn": "someone@other.onmicrosoft.com", "password": "pw", "objectId": "44444444-4444-4444-8444-444444444446", "displayName": "Someone else"}],
        "profiles": [],
        "workspaces": [{"id": WS, "name": "Shared", "type": "Workspace", "members": [
            {"principalType": "App", "identifier": SP, "groupUserAccessRight": "Admin"},
            {"principalType": "User", "identifier": MASTER, "groupUserAccessRight": "Admin"}]}],
        "datasets": [ds],
        "reports": [{"id": REPORT, "workspaceId": WS, "name": "Sales", "datasetId": DS, "reportType": "PowerBIReport"}],
        "dashboards": [],
    });
    extra(&mut f);
    f
}

/// Today's worker document of customer `i`: the legacy flow, RLS by its key.
pub fn legacy_doc(i: usize) -> Value {
    json!({"id": id(i), "name": format!("Customer {i}"), "flow": "legacy", "workspaces": [WS],
           "reports": [{"id": REPORT, "workspaceId": WS}], "permissions": ["View"],
           "rls": {"username": {"value": key(i)}, "roles": ["Customer"]}})
}

/// An inventory entry for customer `i` as the team would write it.
pub fn inv_customer(i: usize) -> Value {
    json!({"id": id(i), "name": format!("Customer {i}"),
           "legacy": {"workspaceId": WS, "reports": [REPORT], "rls": {"kind": "dynamic", "username": key(i), "roles": ["Customer"]}},
           "target": {"kind": "newWorkspace", "name": format!("{} Analytics", key(i)), "templates": ["sales"]}})
}

pub fn inventory(customers: Vec<Value>) -> Value {
    json!({"servicePrincipalObjectId": SP, "templates": {"sales": {"file": "sales.pbix", "name": "Sales"}}, "customers": customers})
}

pub struct Live {
    pub api: String,
    pub worker: String,
    pub docs: Docs,
    pub dir: PathBuf,
    pub rt: tokio::runtime::Runtime,
}

impl Live {
    /// The deployment with `fixture` in the emulator and customers `0..N` on the legacy flow in the worker.
    pub fn new(tag: &str, fixture: Value, inv: Value) -> Live {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt
            .block_on(start(Options {
                listen: "127.0.0.1:0".parse().unwrap(),
                embed_listen: "127.0.0.1:0".parse().unwrap(),
                embed_host: "127.0.0.1".into(),
                fixture: Fixture::parse(&fixture.to_string()).unwrap(),
            }))
            .unwrap();
        let docs = Docs::default();
        for i in 0..N {
            docs.put(legacy_doc(i));
        }
        let pbix = json!({"format": "embedgate-pbix/1", "dataset": dataset_spec(), "report": {"pages": []}});
        let upstream = Upstream {
            api: running.api_base.clone(),
            tenant: TENANT.into(),
            app: APP.into(),
            secret: "emulator-demo-secret".into(),
            sp_object_id: SP.into(),
            template: pbix.to_string().into_bytes(),
        };
        let worker = rt.block_on(start_worker(docs.clone(), Some(upstream)));
        let dir = std::env::temp_dir().join(format!("embedgate-live-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sales.pbix"), pbix.to_string()).unwrap();
        let live = Live {
            api: running.api_base,
            worker,
            docs,
            dir,
            rt,
        };
        live.write_inventory(&inv);
        live
    }

    pub fn write_inventory(&self, inv: &Value) {
        std::fs::write(self.dir.join("inventory.json"), inv.to_string()).unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_embedgate"));
        c.arg("migrate")
            .args(args)
            .arg("--inventory")
            .arg(self.dir.join("inventory.json"));
        c.env("EMBEDGATE_TENANT_ID", TENANT)
            .env("EMBEDGATE_CLIENT_ID", APP)
            .env("EMBEDGATE_CLIENT_SECRET", "emulator-demo-secret")
            .env("EMBEDGATE_PBI_API", &self.api)
            .env("EMBEDGATE_AUTHORITY", &self.api)
            .env("EMBEDGATE_WORKER_URL", &self.worker)
            .env("EMBEDGATE_ADMIN_KEY", ADMIN_KEY)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn http(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.api);
        let mut resp = match (method, body) {
            ("POST", Some(b)) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(b.to_string())
                .unwrap(),
            ("DELETE", _) => agent.delete(&url).call().unwrap(),
            _ => agent.get(&url).call().unwrap(),
        };
        let text = resp.body_mut().read_to_string().unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `POST /api/admin/customers/{id}/onboard` on the worker stand-in: (status, body).
    pub fn onboard(&self, id: &str, body: Value) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(format!("{}/api/admin/customers/{id}/onboard", self.worker))
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn state(&self) -> Value {
        self.http("GET", "/__emulator/state", None)
    }

    pub fn set_state(&self, st: Value) {
        self.http("POST", "/__emulator/state", Some(st));
    }

    pub fn fault(&self, f: Value) {
        self.http("POST", "/__emulator/faults", Some(f));
    }

    pub fn calls(&self) -> Value {
        self.http("GET", "/__emulator/calls", None)
    }

    pub fn progress(&self) -> Value {
        std::fs::read_to_string(self.dir.join("inventory.state.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    /// What customer `cid`'s users see, minted as the worker does for its current document (the legacy flow
    /// as the service principal, the profile flow as the profile), for a user with `claims`.
    pub fn rows(&self, cid: &str, claims: Value) -> Result<Vec<String>, String> {
        let doc =
            embedgate_migrate::registry::customer_doc(&self.docs.get(cid).ok_or("no document")?)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let token = {
            let mut r = agent
                .post(format!("{}/{TENANT}/oauth2/v2.0/token", self.api))
                .send_form([
                    ("grant_type", "client_credentials"),
                    ("client_id", APP),
                    ("client_secret", "emulator-demo-secret"),
                    ("scope", "https://analysis.windows.net/powerbi/api/.default"),
                ])
                .unwrap();
            let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            v["access_token"].as_str().unwrap().to_string()
        };
        let report = doc.reports.first().ok_or("no report")?;
        let get = |path: String| -> Value {
            let mut req = agent
                .get(format!("{}/v1.0/myorg{path}", self.api))
                .header("authorization", format!("Bearer {token}"));
            if let Some(p) = doc.caller_profile() {
                req = req.header("x-powerbi-profile-id", p);
            }
            let mut r = req.call().unwrap();
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null)
        };
        let rep = get(format!(
            "/groups/{}/reports/{}",
            report.workspace_id, report.id
        ));
        let ds_id = rep["datasetId"]
            .as_str()
            .ok_or(format!("report unreadable: {rep}"))?
            .to_string();
        let ds = get(format!("/groups/{}/datasets/{ds_id}", report.workspace_id));
        let mut cl = claims.as_object().cloned().unwrap_or_default();
        cl.entry("sub").or_insert(json!("user"));
        let who = embedgate_edge::identity::Principal {
            customer_id: cid.into(),
            user_id: cl["sub"].as_str().unwrap().into(),
            claims: cl,
        };
        let rls = embedgate_edge::scenario::dataset_rls(&[ds]);
        let ids = embedgate_edge::identity::build(&doc, &who, &rls, &[]).map_err(|e| e.message)?;
        let mut body = json!({"reports": [{"id": report.id}], "datasets": [{"id": ds_id}]});
        if !ids.is_empty() {
            body["identities"] = json!(ids);
        }
        let mut req = agent
            .post(format!("{}/v1.0/myorg/GenerateToken", self.api))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if let Some(p) = doc.caller_profile() {
            req = req.header("x-powerbi-profile-id", p);
        }
        let mut r = req.send(body.to_string()).unwrap();
        let status = r.status().as_u16();
        let t: Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!("GenerateToken {status}: {t}"));
        }
        let view = self.http(
            "POST",
            "/__emulator/embed/render",
            Some(json!({"token": t["token"], "reportId": report.id})),
        );
        if view["ok"] != true {
            return Err(format!("render: {view}"));
        }
        let mut rows: Vec<String> = view["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        rows.sort();
        Ok(rows)
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
