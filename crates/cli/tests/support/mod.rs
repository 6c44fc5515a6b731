//! A stand-in for the worker's admin API (`/api/admin/customers`), for the native migration tests: documents
//! are read with the worker's own reader (`embedgate_edge::customer::Customer`) and refused as the worker
//! refuses them (a profile or a profile-flow workspace another customer holds: 409). The real worker runs in
//! `tests/e2e/worker-migrate.test.mjs`; this one lets the model-based test run thousands of steps natively.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use embedgate_edge::customer::{Customer, Flow};
use embedgate_migrate::registry::{customer_doc, Registry};
use serde_json::{json, Value};

pub mod live;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

#[derive(Clone, Default)]
pub struct Docs(pub Arc<Mutex<BTreeMap<String, Value>>>);

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

fn authorised(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {ADMIN_KEY}"))
}

async fn list(State(d): State<Docs>, h: HeaderMap) -> Response {
    if !authorised(&h) {
        return error(
            StatusCode::UNAUTHORIZED,
            "admin_unauthorized",
            "no".into(),
            "",
        );
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

async fn one(State(d): State<Docs>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorised(&h) {
        return error(
            StatusCode::UNAUTHORIZED,
            "admin_unauthorized",
            "no".into(),
            "",
        );
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

async fn put(
    State(d): State<Docs>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if !authorised(&h) {
        return error(
            StatusCode::UNAUTHORIZED,
            "admin_unauthorized",
            "no".into(),
            "",
        );
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
    let mut docs = d.0.lock().unwrap();
    let others: Vec<Customer> = docs
        .values()
        .map(|v| customer_doc(v).unwrap())
        .filter(|o| o.id != id)
        .collect();
    let reg = Registry::new(others.clone());
    if let Some(p) = &c.profile_id {
        if let Some(o) = reg.profile_holders(p).first() {
            return error(
                StatusCode::CONFLICT,
                "profile_in_use",
                format!("Profile {p} is customer {o}'s"),
                "/profileId",
            );
        }
    }
    for (i, w) in c.workspaces.iter().enumerate() {
        let clash = others.iter().find(|o| {
            (c.flow == Flow::Profile || o.flow == Flow::Profile)
                && o.workspaces.iter().any(|x| x.eq_ignore_ascii_case(w))
        });
        if let Some(o) = clash {
            return error(
                StatusCode::CONFLICT,
                "workspace_in_use",
                format!("Workspace {w} is used by customer {}", o.id),
                &format!("/workspaces/{i}"),
            );
        }
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

/// Starts the stand-in on 127.0.0.1; returns its base URL.
pub async fn start_worker(docs: Docs) -> String {
    let app = Router::new()
        .route("/api/admin/customers", get(list))
        .route("/api/admin/customers/{id}", get(one).put(put))
        .with_state(docs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}
