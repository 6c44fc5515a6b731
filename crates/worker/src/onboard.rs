//! New customers (the "Management code change" of Microsoft's migration to profiles):
//! `POST /api/admin/customers/{id}/onboard` creates the customer's profile, the workspace as that profile,
//! imports the templates and writes the customer document in the profile flow. The steps are the migration's
//! own machine and drive loop (`embedgate_migrate`), checked against the worker's customers first; this module
//! only does the I/O: R2 for the templates, D1 for the progress (saved after every step Power BI confirmed), `fetch` for the
//! calls. A call cut off anywhere, or answered 202 while an import publishes, is resumed by calling again; a
//! call after the end changes nothing. One call runs per customer at a time (a lease in D1): overlapping calls
//! would each look up, each create, and overwrite each other's progress.
//!
//! | route                                       | does                                                            |
//! |---------------------------------------------|-----------------------------------------------------------------|
//! | `PUT /api/admin/templates/{key}?name=Sales`  | stores a template (the PBIX bytes as the body) in R2            |
//! | `GET /api/admin/templates`                  | lists them                                                      |
//! | `POST /api/admin/customers/{id}/onboard`    | onboards (201 done, 202 still publishing, 200 no-op, 409 busy)  |

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use embedgate_client::Failure;
use embedgate_edge::customer::valid_customer_id;
use embedgate_edge::EdgeError;
use embedgate_migrate::machine::{Field, Machine, Progress, Session};
use embedgate_migrate::onboard::{self, Begin, OnboardRequest};
use embedgate_migrate::registry::{customer_doc, Registry};
use embedgate_migrate::{Driver as _, InputError, Stopped};
use serde_json::{json, Value};
use worker::{Delay, Include, Request, Response};

use crate::{entra, http, internal, json_response, log, now_ms, now_secs, store, Ctx};

/// Templates are held in the worker's memory while they are imported; larger PBIX files are imported with
/// `embedgate migrate apply`, which streams from disk.
const TEMPLATE_LIMIT: usize = 25 * 1024 * 1024;

fn input(e: InputError) -> EdgeError {
    EdgeError::bad_request("invalid_value", e.message).at(e.path)
}

fn bucket(ctx: &Ctx) -> Result<worker::Bucket, EdgeError> {
    ctx.env.bucket("TEMPLATES").map_err(internal)
}

pub async fn put_template(ctx: &Ctx, req: &mut Request, key: &str) -> Result<Response, EdgeError> {
    if !onboard::valid_template_key(key) {
        return Err(EdgeError::bad_request(
            "invalid_value",
            onboard::TEMPLATE_KEY_RULE,
        ));
    }
    let url = req
        .url()
        .map_err(|_| EdgeError::bad_request("invalid_url", "Unreadable URL."))?;
    let name = url
        .query_pairs()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.trim().to_string())
        .filter(|n| !n.is_empty() && n.chars().count() <= 256)
        .ok_or_else(|| {
            EdgeError::bad_request(
                "invalid_value",
                "?name= gives the item's name in the workspace (1 to 256 characters).",
            )
            .at("/name")
        })?;
    let body = http::read_body(req, TEMPLATE_LIMIT).await?;
    if body.is_empty() {
        return Err(EdgeError::bad_request(
            "missing_field",
            "The body is the template's PBIX file.",
        ));
    }
    let b = bucket(ctx)?;
    let existed = b.head(key).await.map_err(internal)?.is_some();
    let bytes = body.len();
    b.put(key, body)
        .custom_metadata(HashMap::from([("name".to_string(), name.clone())]))
        .execute()
        .await
        .map_err(internal)?;
    log(
        ctx,
        "admin_template_saved",
        json!({"template": key, "bytes": bytes}),
    );
    json_response(
        ctx,
        if existed { 200 } else { 201 },
        &json!({"key": key, "name": name, "bytes": bytes}),
    )
}

pub async fn list_templates(ctx: &Ctx) -> Result<Response, EdgeError> {
    let objects = bucket(ctx)?
        .list()
        .include(vec![Include::CustomMetadata])
        .execute()
        .await
        .map_err(internal)?
        .objects();
    let list: Vec<Value> = objects
        .iter()
        .map(|o| {
            let name = o
                .custom_metadata()
                .ok()
                .and_then(|m| m.get("name").cloned());
            json!({"key": o.key(), "name": name, "bytes": o.size()})
        })
        .collect();
    json_response(ctx, 200, &json!({"templates": list}))
}

pub async fn onboard(ctx: &Ctx, req: &mut Request, id: &str) -> Result<Response, EdgeError> {
    if !valid_customer_id(id) {
        return Err(EdgeError::bad_request(
            "invalid_value",
            "A customer id is 1 to 64 letters, digits, '.', '_' or '-'.",
        ));
    }
    let body = http::read_body(req, ctx.cfg.max_body_bytes).await?;
    let r = onboard::read(&body).map_err(input)?;
    let holder = ctx.request_id.as_str();
    let lease_secs = lease_secs(ctx);
    if let Some(until) = store::claim_onboarding(ctx, id, holder, now_secs() + lease_secs).await? {
        // The holder answers within its wait (202 at the latest), or its lease runs out.
        let secs = until
            .saturating_sub(now_secs())
            .clamp(1, ctx.cfg.onboard_wait_ms.div_ceil(1000) + 1);
        return Err(EdgeError::new(
            409,
            "onboarding_in_progress",
            format!("Another call is onboarding customer {id}; call again in {secs} s to resume from its progress."),
        )
        .retry_after(secs));
    }
    let out = run(ctx, id, &r, holder, lease_secs).await;
    // A release that fails leaves the lease to run out: the next call waits for it, nothing is lost.
    let _ = store::release_onboarding(ctx, id, holder).await;
    out
}

/// How long a call may hold the onboarding lease between two saves of its progress: its wait for a
/// publishing import, plus a few Power BI calls each bounded by the upstream deadline.
fn lease_secs(ctx: &Ctx) -> u64 {
    (ctx.cfg.onboard_wait_ms + 4 * ctx.cfg.upstream_deadline_ms).div_ceil(1000) + 30
}

async fn run(
    ctx: &Ctx,
    id: &str,
    r: &OnboardRequest,
    holder: &str,
    lease_secs: u64,
) -> Result<Response, EdgeError> {
    let request = serde_json::to_string(r).map_err(|e| internal(e.into()))?;
    let row = store::get_onboarding(ctx, id).await?;
    let existing = store::get_customer(ctx, id).await?;
    let begun = onboard::begin(
        id,
        r,
        &request,
        row.as_ref()
            .map(|x| (x.request.as_str(), x.progress.as_str())),
        existing.is_some(),
    )
    .map_err(|e| {
        let err = EdgeError::new(e.status, e.code, e.message);
        match e.path {
            Some(p) => err.at(p),
            None => err,
        }
    })?;
    let mut progress = match begun {
        Begin::Done => {
            return json_response(
                ctx,
                200,
                &json!({"status": "done", "customer": existing, "powerBiCalls": 0}),
            )
        }
        Begin::Run(p) => *p,
    };
    let (names, files) = templates(ctx, r).await?;
    let o = onboard::build(id, r, &names);
    // Everything is checked before the first Power BI call: the document this onboarding will write, and
    // the names against the customers the worker has (one profile per customer, one customer per workspace).
    o.check_document()
        .map_err(|e| EdgeError::bad_request("invalid_value", format!("{}.", e.message)))?;
    let mut docs = Vec::new();
    for v in store::list_customers(ctx).await? {
        // Stored documents were validated on the way in. One that no longer reads (a field since removed) is
        // left out of this check; writing the new document still meets `store::check_ownership` and the unique
        // index on profile ids, which read the stored rows as they are.
        if let Ok(c) = customer_doc(&v) {
            docs.push(c);
        }
    }
    let registry = Registry::new(docs);
    let mut d = Onboard {
        ctx,
        id,
        holder,
        lease_secs,
        request: &request,
        started: now_ms(),
    };
    d.save(&progress).await.map_err(stop)?;

    let api = ctx.cfg.api();
    let sp = ctx.cfg.sp_object_id.clone().unwrap_or_default();
    let mut session = Session {
        api: &api,
        token: entra::token(ctx, None).await?,
        sp_object_id: &sp,
        worker: None,
        registry: &registry,
        profiles: None,
        files: &files,
    };
    let mut machine = Machine::new(&o.inventory, &o.customer);
    let calls =
        match embedgate_migrate::run(&mut machine, &mut session, &mut progress, &mut d).await {
            Ok(calls) => calls,
            Err(Stopped::Driver(Stop::Edge(e))) => return Err(e),
            Err(Stopped::Driver(Stop::Publishing(secs))) => {
                log(ctx, "admin_onboarding_publishing", json!({"customer": id}));
                let mut resp = json_response(
                    ctx,
                    202,
                    &json!({"status": "publishing", "retryAfter": secs, "progress": progress}),
                )?;
                let _ = resp.headers_mut().set("retry-after", &secs.to_string());
                return Ok(resp);
            }
            Err(Stopped::Step(e)) => {
                return Err(match e.clash {
                    // The request names what another customer (or someone else) holds: nothing was created for it.
                    Some(field) => EdgeError::new(
                        409,
                        match field {
                            Field::ProfileName => "profile_name_taken",
                            _ => "workspace_name_taken",
                        },
                        format!("{}.", e.message),
                    )
                    .at(match field {
                        Field::ProfileName => "/profileName",
                        _ => "/workspaceName",
                    }),
                    None => EdgeError::new(
                        502,
                        "onboarding_failed",
                        format!(
                            "{}. What Power BI confirmed is kept: call again to resume.",
                            e.message
                        ),
                    )
                    .with("progress", json!(progress)),
                });
            }
        };
    let doc = o
        .document(&progress)
        .map_err(|e| EdgeError::bad_request("invalid_value", e.message))?;
    store::put_customer(ctx, &doc, false).await?;
    progress.document_written = true;
    d.save(&progress).await.map_err(stop)?;
    log(
        ctx,
        "admin_customer_onboarded",
        json!({"customer": id, "powerBiCalls": calls}),
    );
    json_response(
        ctx,
        201,
        &json!({
            "status": "onboarded",
            "customer": store::get_customer(ctx, id).await?.unwrap_or_default(),
            "powerBiCalls": calls,
        }),
    )
}

/// Why the worker stopped an onboarding run.
enum Stop {
    Edge(EdgeError),
    /// An import is still publishing past the call's wait: answer 202, resume on the next call.
    Publishing(u64),
}

fn stop(s: Stop) -> EdgeError {
    match s {
        Stop::Edge(e) => e,
        Stop::Publishing(_) => EdgeError::new(500, "internal", "Unexpected stop."),
    }
}

/// The worker's side of `embedgate_migrate::drive`: `fetch`, progress in D1 under the lease.
struct Onboard<'a> {
    ctx: &'a Ctx,
    id: &'a str,
    holder: &'a str,
    lease_secs: u64,
    request: &'a str,
    started: f64,
}

impl embedgate_migrate::Driver for Onboard<'_> {
    type Stop = Stop;
    async fn send(&mut self, req: &embedgate_client::Request) -> Result<String, Failure> {
        http::send_fresh(self.ctx, req).await
    }
    async fn refresh_token(&mut self, refused: &str) -> Result<String, Stop> {
        entra::token(self.ctx, Some(refused))
            .await
            .map_err(Stop::Edge)
    }
    async fn save(&mut self, p: &Progress) -> Result<(), Stop> {
        let (ctx, id) = (self.ctx, self.id);
        // Only the lease's holder writes progress; one that lost it stops before it writes.
        if !store::renew_onboarding(ctx, id, self.holder, now_secs() + self.lease_secs)
            .await
            .map_err(Stop::Edge)?
        {
            return Err(Stop::Edge(EdgeError::new(
                409,
                "onboarding_in_progress",
                format!("This call for customer {id} ran past its lease and another call took over; call again to resume."),
            )));
        }
        let progress = serde_json::to_string(p).unwrap_or_default();
        store::save_onboarding(ctx, id, self.request, &progress)
            .await
            .map_err(Stop::Edge)
    }
    async fn wait(&mut self, ms: u64) -> Result<(), Stop> {
        if (now_ms() - self.started) as u64 + ms > self.ctx.cfg.onboard_wait_ms {
            return Err(Stop::Publishing(ms.div_ceil(1000).max(1)));
        }
        Delay::from(Duration::from_millis(ms)).await;
        Ok(())
    }
}

/// Each listed template's item name and bytes, from R2.
async fn templates(
    ctx: &Ctx,
    r: &OnboardRequest,
) -> Result<(BTreeMap<String, String>, HashMap<String, Vec<u8>>), EdgeError> {
    let b = bucket(ctx)?;
    let (mut names, mut files) = (BTreeMap::new(), HashMap::new());
    for (i, key) in r.templates.iter().enumerate() {
        let Some(obj) = b.get(key).execute().await.map_err(internal)? else {
            return Err(input(onboard::missing_template(i, key)));
        };
        let name = obj
            .custom_metadata()
            .ok()
            .and_then(|m| m.get("name").cloned())
            .unwrap_or_else(|| key.clone());
        let bytes = match obj.body() {
            Some(body) => body.bytes().await.map_err(internal)?,
            None => Vec::new(),
        };
        names.insert(key.clone(), name);
        files.insert(key.clone(), bytes);
    }
    Ok((names, files))
}
