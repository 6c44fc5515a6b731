//! `POST /api/token`, `GET /api/reports`, `POST /api/validate`.

use embedgate_edge::api::{CustomerSummary, ListedReport, ReportsResponse, TokenResponse};
use embedgate_edge::customer::{Customer, Plan};
use embedgate_edge::identity::{self, Principal};
use embedgate_edge::scenario::{self, CallerInfo, Metadata};
use embedgate_edge::{audit, ratelimit, request, same_id, EdgeError};
use futures_util::future::{join_all, try_join_all};
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::powerbi::{self, Scope};
use crate::store::{self, Loaded};
use crate::{auth, http, json_response, limiter, log, now_secs, Ctx};

/// Verifies the user, loads the customer and applies the rate limits (counted in the customer's own
/// Durable Object).
async fn caller(ctx: &Ctx, req: &Request) -> Result<(Principal, Loaded), EdgeError> {
    let who = auth::user(ctx, req).await?;
    let loaded = store::load_customer(ctx, &who.customer_id).await?;
    let limits = ratelimit::limits(
        &loaded.customer,
        ctx.cfg.rate_limit_customer_per_minute,
        ctx.cfg.rate_limit_user_per_minute,
    );
    let (customer_count, user_count) = limiter::hit(ctx, &who.customer_id, &who.user_id).await?;
    ratelimit::check(customer_count, user_count, limits, now_secs())?;
    Ok((who, loaded))
}

fn scope(customer: &Customer, cache_gen: i64) -> Scope<'_> {
    Scope {
        profile: customer.caller_profile(),
        cache_gen,
    }
}

/// Collects workspace objects without duplicates.
fn add_workspaces(meta: &mut Metadata, bundle: &Value) {
    for w in bundle
        .get("workspaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = w.get("id").and_then(Value::as_str).unwrap_or_default();
        if !meta.workspaces.iter().any(|x| {
            x.get("id")
                .and_then(Value::as_str)
                .is_some_and(|i| same_id(i, id))
        }) {
            meta.workspaces.push(w.clone());
        }
    }
}

fn add_dataset(meta: &mut Metadata, ds: &Value) {
    let id = ds.get("id").and_then(Value::as_str).unwrap_or_default();
    if !ds.is_null()
        && !meta.datasets.iter().any(|x| {
            x.get("id")
                .and_then(Value::as_str)
                .is_some_and(|i| same_id(i, id))
        })
    {
        meta.datasets.push(ds.clone());
    }
}

/// Fetches the metadata of everything the plan embeds and completes the plan's datasets.
async fn metadata(
    ctx: &Ctx,
    customer: &Customer,
    plan: &mut Plan,
    cache_gen: i64,
) -> Result<Metadata, EdgeError> {
    let sc = scope(customer, cache_gen);
    let bundles = try_join_all(
        plan.reports
            .iter()
            .map(|r| powerbi::report_bundle(ctx, sc, r)),
    )
    .await?;
    let mut meta = Metadata::default();
    for b in &bundles {
        meta.reports.push(b["report"].clone());
        add_dataset(&mut meta, &b["dataset"]);
        add_workspaces(&mut meta, b);
    }
    plan.authorize_datasets(customer, &scenario::report_datasets(plan, &meta.reports))?;
    let extra: Vec<_> = plan
        .datasets
        .iter()
        .filter(|d| {
            !meta.datasets.iter().any(|m| {
                m.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|i| same_id(i, &d.id))
            })
        })
        .cloned()
        .collect();
    let extra_bundles =
        try_join_all(extra.iter().map(|d| powerbi::dataset_bundle(ctx, sc, d))).await?;
    for b in &extra_bundles {
        add_dataset(&mut meta, &b["dataset"]);
        add_workspaces(&mut meta, b);
    }
    Ok(meta)
}

/// `POST /api/token`.
pub async fn mint(ctx: &Ctx, req: &mut Request) -> Result<Response, EdgeError> {
    http::check_declared_length(req, ctx.cfg.max_body_bytes)?;
    let (who, loaded) = caller(ctx, req).await?;
    let body = http::read_body(req, ctx.cfg.max_body_bytes).await?;
    let treq = request::parse_token_request(&body)?;
    let customer = &loaded.customer;
    let mut plan = customer.authorize(&treq)?;
    let meta = metadata(ctx, customer, &mut plan, loaded.cache_gen).await?;
    let identities = identity::build(
        customer,
        &who,
        &scenario::dataset_rls(&meta.datasets),
        &scenario::paginated_reports(&meta.reports),
    )?;
    let v2 = scenario::v2_body(&plan, identities.clone());
    let caller = CallerInfo {
        sp_object_id: ctx.cfg.sp_object_id.clone(),
        profile_id: customer.caller_profile().map(str::to_string),
    };
    let sc = scenario::build(&plan, &meta, &caller, &v2)?;
    let report = embedgate_core::check_scenario(&sc);
    if report.errors > 0 {
        log(
            ctx,
            "validation_failed",
            json!({"customer": who.customer_id, "errors": report.errors,
            "codes": report.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()}),
        );
        return Err(EdgeError::new(
            422,
            "validation_failed",
            "This token request would be refused by Power BI or would expose the wrong data; nothing was sent to Power BI.",
        )
        .with("verdict", json!(report.verdict))
        .with("errors", json!(report.errors))
        .with("warnings", json!(report.warnings))
        .with("diagnostics", serde_json::to_value(&report.diagnostics).unwrap_or_default()));
    }
    let embed = powerbi::generate_token(ctx, customer.caller_profile(), &v2).await?;
    let now = now_secs();
    store::audit(
        ctx,
        &store::AuditEvent {
            at: embedgate_edge::upstream::rfc3339(now),
            at_unix: now,
            customer_id: who.customer_id.clone(),
            user_id: who.user_id.clone(),
            flow: customer.flow.as_str().to_string(),
            profile_id: customer.caller_profile().map(str::to_string),
            token_id: embed.token_id.clone(),
            expiration: embed.expiration.clone(),
            items: audit::items(&plan),
            identity: audit::identity_summary(&identities),
            request_id: ctx.request_id.clone(),
        },
    )
    .await?;
    log(
        ctx,
        "token_issued",
        json!({"customer": who.customer_id, "flow": customer.flow.as_str(), "tokenId": embed.token_id,
        "reports": plan.reports.len(), "datasets": plan.datasets.len()}),
    );
    // Relative lifetime by the server's clock; a Power BI expiration we cannot read counts as "refresh now".
    let expires_in_seconds = embedgate_client::time::parse_rfc3339(&embed.expiration)
        .map_or(0, |e| (e - now as i64).max(0));
    let answer = TokenResponse {
        reports: scenario::answer_reports(&plan, &meta.reports),
        token: embed.token,
        token_id: embed.token_id,
        expiration: embed.expiration,
        expires_in_seconds,
    };
    json_response(ctx, 200, &answer)
}

/// `GET /api/reports`: what the caller's organisation may embed, with names and embed URLs when Power BI
/// answers (ids alone otherwise).
pub async fn reports(ctx: &Ctx, req: &mut Request) -> Result<Response, EdgeError> {
    let (_who, loaded) = caller(ctx, req).await?;
    let c = &loaded.customer;
    if !c.enabled {
        return Err(EdgeError::forbidden(
            "customer_disabled",
            "Embedding is disabled for your organisation.",
        ));
    }
    let sc = scope(c, loaded.cache_gen);
    let items: Vec<_> = c
        .reports
        .iter()
        .map(|r| embedgate_edge::customer::PlannedItem {
            id: r.id.clone(),
            workspace_id: r.workspace_id.clone(),
            allow_edit: false,
            xmla: None,
        })
        .collect();
    let bundles = join_all(items.iter().map(|i| powerbi::report_bundle(ctx, sc, i))).await;
    let mut metadata_ok = true;
    let list: Vec<ListedReport> = items
        .iter()
        .zip(bundles)
        .map(|(i, b)| {
            let r = b.as_ref().ok().map(|b| &b["report"]);
            metadata_ok &= r.is_some();
            let field = |k: &str| {
                r.and_then(|r| r.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            ListedReport {
                id: i.id.clone(),
                workspace_id: i.workspace_id.clone(),
                name: field("name"),
                embed_url: field("embedUrl"),
            }
        })
        .collect();
    let answer = ReportsResponse {
        customer: CustomerSummary {
            id: c.id.clone(),
            name: c.name.clone(),
            flow: c.flow.as_str().to_string(),
        },
        permissions: c.permissions.clone(),
        max_lifetime_minutes: c.max_lifetime_minutes,
        reports: list,
        metadata: if metadata_ok { "ok" } else { "unavailable" }.to_string(),
    };
    json_response(ctx, 200, &answer)
}

/// `POST /api/validate`: the core's validation of a scenario document. No Power BI call, no secrets.
pub async fn validate(ctx: &Ctx, req: &mut Request) -> Result<Response, EdgeError> {
    let body = http::read_body(req, ctx.cfg.max_body_bytes).await?;
    let value = request::parse_json(&body)?;
    if !value.is_object() {
        return Err(request::wrong_type("", "a scenario object", &value));
    }
    let report = embedgate_core::check_value(&value);
    json_response(ctx, 200, &report)
}
