//! A stand-in for the worker's admin API (`/api/admin/customers`), for the native migration tests: documents
//! are read with the worker's own reader (`embedgate_edge::customer::Customer`) and refused as the worker
//! refuses them (a profile or a profile-flow workspace another customer holds: 409). The real worker runs in
//! `tests/e2e/worker-migrate.test.mjs`; this one lets the model-based test run thousands of steps natively.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use embedgate_cli::net::{Driver, CLI_POLICY};
use embedgate_client::entra::{parse_token, Entra, POWERBI_SCOPE};
use embedgate_client::powerbi::Api;
use embedgate_client::Failure;
use embedgate_edge::customer::{Customer, Flow};
use embedgate_migrate::drive::block_on;
use embedgate_migrate::onboard::{self, Begin};
use embedgate_migrate::registry::{customer_doc, Registry};
use embedgate_migrate::{Field, Machine, Progress, Session, Stopped};
use serde_json::{json, Value};

pub mod live;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

#[derive(Clone, Default)]
pub struct Docs(pub Arc<Mutex<BTreeMap<String, Value>>>);

/// Where the stand-in's onboarding calls Power BI and Entra ID (the emulator), and the one template it has.
#[derive(Clone)]
pub struct Upstream {
    pub api: String,
    pub tenant: String,
    pub app: String,
    pub secret: String,
    pub sp_object_id: String,
    /// The `sales` template's bytes, with the item name `Sales`.
    pub template: Vec<u8>,
}

#[derive(Clone)]
struct Stand {
    docs: Docs,
    /// Per customer: the onboarding request and its progress (the worker keeps them in D1).
    onboarding: Arc<Mutex<BTreeMap<String, (String, String)>>>,
    upstream: Option<Upstream>,
}

impl Docs {
    pub fn get(&self, id: &str) -> Option<Value> {
        self.0.lock().unwrap().get(id).cloned()
    }
    pub fn put(&self, v: Value) {
        let c = customer_doc(&v).expect("a valid document");
        self.0.lock().unwrap().insert(c.id.clone(), c.to_value());
    }
    pub fn all(&self) -> Vec<Customer> {
        self.0
            .lock()
            .unwrap()
            .values()
            .map(|v| customer_doc(v).unwrap())
            .collect()
    }
}

fn error(status: StatusCode, code: &str, message: String, path: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "path": path}})),
    )
        .into_response()
}

fn unauthorised() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "admin_unauthorized",
        "no".into(),
        "",
    )
}

fn authorised(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {ADMIN_KEY}"))
}

async fn list(State(s): State<Stand>, h: HeaderMap) -> Response {
    let d = &s.docs;
    if !authorised(&h) {
        return unauthorised();
    }
    let list: Vec<Value> =
        d.0.lock()
            .unwrap()
            .values()
            .map(|v| {
                let mut v = v.clone();
                v["cacheGeneration"] = json!(1);
                v
            })
            .collect();
    Json(json!({ "customers": list })).into_response()
}

async fn one(State(s): State<Stand>, h: HeaderMap, Path(id): Path<String>) -> Response {
    let d = &s.docs;
    if !authorised(&h) {
        return unauthorised();
    }
    match d.get(&id) {
        Some(mut v) => {
            v["cacheGeneration"] = json!(1);
            Json(v).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such customer.".into(),
            "",
        ),
    }
}

/// The worker's ownership rules: a document naming another customer's profile, or sharing a workspace with a
/// customer on the profile flow, is refused.
#[allow(clippy::result_large_err)] // a test stand-in: the refusal is the answer
fn owned(docs: &BTreeMap<String, Value>, c: &Customer) -> Result<(), Response> {
    let others: Vec<Customer> = docs
        .values()
        .map(|v| customer_doc(v).unwrap())
        .filter(|o| o.id != c.id)
        .collect();
    let reg = Registry::new(others.clone());
    if let Some(p) = &c.profile_id {
        if let Some(o) = reg.profile_holders(p).first() {
            return Err(error(
                StatusCode::CONFLICT,
                "profile_in_use",
                format!("Profile {p} is customer {o}'s"),
                "/profileId",
            ));
        }
    }
    for (i, w) in c.workspaces.iter().enumerate() {
        let clash = others.iter().find(|o| {
            (c.flow == Flow::Profile || o.flow == Flow::Profile)
                && o.workspaces.iter().any(|x| x.eq_ignore_ascii_case(w))
        });
        if let Some(o) = clash {
            return Err(error(
                StatusCode::CONFLICT,
                "workspace_in_use",
                format!("Workspace {w} is used by customer {}", o.id),
                &format!("/workspaces/{i}"),
            ));
        }
    }
    Ok(())
}

async fn put(
    State(s): State<Stand>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if !authorised(&h) {
        return unauthorised();
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "not JSON".into(),
            "",
        );
    };
    let c = match Customer::from_value(&v) {
        Ok(c) if c.id == id => c,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "id_mismatch", "id".into(), "/id"),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                e.code,
                e.message,
                e.path.as_deref().unwrap_or(""),
            )
        }
    };
    let mut docs = s.docs.0.lock().unwrap();
    if let Err(r) = owned(&docs, &c) {
        return r;
    }
    let created = docs.insert(id, c.to_value()).is_none();
    (
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(c.to_value()),
    )
        .into_response()
}

/// `POST /api/admin/customers/{id}/onboard`, as the worker runs it (`crates/worker/src/onboard.rs`): the same
/// pure decisions (`onboard::read`, `begin`, `check_document`), the same machine and drive loop, over ureq.
/// No lease: the model test makes one call at a time.
async fn onboard_route(
    State(s): State<Stand>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if !authorised(&h) {
        return unauthorised();
    }
    tokio::task::spawn_blocking(move || onboard_blocking(&s, &id, body.as_bytes()))
        .await
        .unwrap()
}

struct StandRun<'a> {
    d: &'a Driver,
    up: &'a Upstream,
    s: &'a Stand,
    id: &'a str,
    request: &'a str,
}

fn entra_token(d: &Driver, up: &Upstream) -> Result<String, String> {
    let entra = Entra {
        authority: up.api.clone(),
        tenant_id: up.tenant.clone(),
        client_id: up.app.clone(),
        scope: POWERBI_SCOPE.into(),
    };
    let body = d
        .send(&entra.client_credentials(&up.secret))
        .map_err(|_| "entra".to_string())?;
    Ok(parse_token(&body, 0)
        .map_err(|_| "entra".to_string())?
        .access_token)
}

impl embedgate_migrate::Driver for StandRun<'_> {
    type Stop = String;
    async fn send(&mut self, req: &embedgate_client::Request) -> Result<String, Failure> {
        self.d.send(req)
    }
    async fn refresh_token(&mut self, _: &str) -> Result<String, String> {
        entra_token(self.d, self.up)
    }
    async fn save(&mut self, p: &Progress) -> Result<(), String> {
        self.s.onboarding.lock().unwrap().insert(
            self.id.to_string(),
            (self.request.to_string(), serde_json::to_string(p).unwrap()),
        );
        Ok(())
    }
    async fn wait(&mut self, ms: u64) -> Result<(), String> {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(())
    }
}

fn onboard_blocking(s: &Stand, id: &str, body: &[u8]) -> Response {
    let bad = |path: &str, m: String| error(StatusCode::BAD_REQUEST, "invalid_value", m, path);
    let Some(up) = &s.upstream else {
        return error(StatusCode::NOT_FOUND, "not_found", "no upstream".into(), "");
    };
    let r = match onboard::read(body) {
        Ok(r) => r,
        Err(e) => return bad(&e.path, e.message),
    };
    let request = serde_json::to_string(&r).unwrap();
    let stored = s.onboarding.lock().unwrap().get(id).cloned();
    let exists = s.docs.get(id).is_some();
    let begun = onboard::begin(
        id,
        &r,
        &request,
        stored.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
        exists,
    );
    let mut p = match begun {
        Err(e) => {
            return error(
                StatusCode::from_u16(e.status).unwrap(),
                e.code,
                e.message,
                e.path.as_deref().unwrap_or(""),
            )
        }
        Ok(Begin::Done) => {
            return (StatusCode::OK, Json(json!({"status": "done"}))).into_response()
        }
        Ok(Begin::Run(p)) => *p,
    };
    for (i, t) in r.templates.iter().enumerate() {
        if t != "sales" {
            let e = onboard::missing_template(i, t);
            return bad(&e.path, e.message);
        }
    }
    let o = onboard::build(id, &r, &[("sales".to_string(), "Sales".to_string())].into());
    if let Err(e) = o.check_document() {
        return bad("", e.message);
    }
    let registry = Registry::new(s.docs.all());
    let d = Driver::new(CLI_POLICY);
    let files: HashMap<String, Vec<u8>> = [("sales".to_string(), up.template.clone())].into();
    let api = Api {
        base: up.api.clone(),
    };
    let Ok(token) = entra_token(&d, up) else {
        return error(StatusCode::BAD_GATEWAY, "entra", "entra".into(), "");
    };
    let mut session = Session {
        api: &api,
        token,
        sp_object_id: &up.sp_object_id,
        worker: None,
        registry: &registry,
        profiles: None,
        files: &files,
    };
    let mut run = StandRun {
        d: &d,
        up,
        s,
        id,
        request: &request,
    };
    let _ = block_on(embedgate_migrate::Driver::save(&mut run, &p));
    let mut m = Machine::new(&o.inventory, &o.customer);
    match block_on(embedgate_migrate::run(
        &mut m,
        &mut session,
        &mut p,
        &mut run,
    )) {
        Ok(_) => {}
        Err(Stopped::Step(e)) => {
            return match e.clash {
                Some(Field::ProfileName) => error(
                    StatusCode::CONFLICT,
                    "profile_name_taken",
                    e.message,
                    "/profileName",
                ),
                Some(_) => error(
                    StatusCode::CONFLICT,
                    "workspace_name_taken",
                    e.message,
                    "/workspaceName",
                ),
                None => error(StatusCode::BAD_GATEWAY, "onboarding_failed", e.message, ""),
            }
        }
        Err(Stopped::Driver(e)) => {
            return error(StatusCode::BAD_GATEWAY, "onboarding_failed", e, "")
        }
    }
    let doc = match o.document(&p) {
        Ok(d) => d,
        Err(e) => return bad("", e.message),
    };
    {
        let mut docs = s.docs.0.lock().unwrap();
        if let Err(r) = owned(&docs, &doc) {
            return r;
        }
        docs.insert(id.to_string(), doc.to_value());
    }
    p.document_written = true;
    let _ = block_on(embedgate_migrate::Driver::save(&mut run, &p));
    (
        StatusCode::CREATED,
        Json(json!({"status": "onboarded", "customer": doc.to_value()})),
    )
        .into_response()
}

/// Starts the stand-in on 127.0.0.1; returns its base URL. With `upstream`, it onboards customers too.
pub async fn start_worker(docs: Docs, upstream: Option<Upstream>) -> String {
    let stand = Stand {
        docs,
        onboarding: Arc::default(),
        upstream,
    };
    let app = Router::new()
        .route("/api/admin/customers", get(list))
        .route("/api/admin/customers/{id}", get(one).put(put))
        .route("/api/admin/customers/{id}/onboard", post(onboard_route))
        .with_state(stand);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}
