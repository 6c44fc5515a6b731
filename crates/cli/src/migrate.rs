//! `embedgate migrate ...`: the driver of `embedgate_migrate` (seed 000, steps 1 to 5). Every request is built
//! and every answer read by the pure crates; this file sends, records progress, and reports.
//!
//! Configuration (environment; secrets only there, never flags or output): `EMBEDGATE_TENANT_ID`,
//! `EMBEDGATE_CLIENT_ID`, `EMBEDGATE_CLIENT_SECRET`, `EMBEDGATE_PBI_API` (default `https://api.powerbi.com`),
//! `EMBEDGATE_AUTHORITY` (default `https://login.microsoftonline.com`), `EMBEDGATE_WORKER_URL`,
//! `EMBEDGATE_ADMIN_KEY`.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use embedgate_client::entra::{parse_token, Entra, EntraToken, POWERBI_SCOPE};
use embedgate_client::powerbi::{self, Api, As};
use embedgate_client::{Failure, Method, Request};
use embedgate_migrate::checks;
use embedgate_migrate::inventory::{CustomerIn, Target};
use embedgate_migrate::machine::{legacy_document, profile_document};
use embedgate_migrate::{Action, Inventory, Machine, Plan, Progress, Session, Worker};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::net::{Driver, Event, CLI_POLICY};

/// What `apply`, `verify` and `rollout` record, beside the inventory (`<inventory>.state.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub customers: BTreeMap<String, Progress>,
}

pub struct Config {
    pub api: Api,
    pub entra: Entra,
    secret: String,
    pub worker: Option<Worker>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let need = |n: &str| env(n).ok_or_else(|| format!("{n} is not set"));
        let worker = match (env("EMBEDGATE_WORKER_URL"), env("EMBEDGATE_ADMIN_KEY")) {
            (Some(base), Some(admin_key)) => Some(Worker {
                base: base.trim_end_matches('/').to_string(),
                admin_key,
            }),
            (Some(_), None) => {
                return Err("EMBEDGATE_WORKER_URL is set but EMBEDGATE_ADMIN_KEY is not".into())
            }
            _ => None,
        };
        Ok(Config {
            api: Api {
                base: env("EMBEDGATE_PBI_API")
                    .unwrap_or_else(|| "https://api.powerbi.com".into())
                    .trim_end_matches('/')
                    .into(),
            },
            entra: Entra {
                authority: env("EMBEDGATE_AUTHORITY")
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into())
                    .trim_end_matches('/')
                    .into(),
                tenant_id: need("EMBEDGATE_TENANT_ID")?,
                client_id: need("EMBEDGATE_CLIENT_ID")?,
                scope: POWERBI_SCOPE.into(),
            },
            secret: need("EMBEDGATE_CLIENT_SECRET")?,
            worker,
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The service principal's Entra token, refreshed five minutes before it expires or when refused.
struct Tokens {
    cfg: Arc<Config>,
    current: Mutex<Option<EntraToken>>,
}

impl Tokens {
    fn get(&self, d: &Driver) -> Result<String, String> {
        let mut cur = self.current.lock().unwrap();
        if let Some(t) = cur.as_ref().filter(|t| t.fresh(now(), 300)) {
            return Ok(t.access_token.clone());
        }
        let body = d
            .send(&self.cfg.entra.client_credentials(&self.cfg.secret))
            .map_err(|f| format!("Entra ID token: {}", describe(&f)))?;
        let t = parse_token(&body, now()).map_err(|e| format!("Entra ID token: {e}"))?;
        let access = t.access_token.clone();
        *cur = Some(t);
        Ok(access)
    }
    fn refused(&self) {
        *self.current.lock().unwrap() = None;
    }
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Status { status, .. } => format!(
            "HTTP {status}{}",
            f.upstream_code()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        ),
        Failure::Timeout => "timed out".into(),
        Failure::Network => "network error".into(),
        Failure::BadBody => "unreadable answer".into(),
    }
}

/// Progress for people (a bar on a terminal) or machines (JSON lines on stdout otherwise).
pub struct Report {
    tty: bool,
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    out: Mutex<()>,
}

impl Report {
    pub fn new(total: usize) -> Self {
        Report {
            tty: std::io::stderr().is_terminal(),
            total,
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            out: Mutex::new(()),
        }
    }
    pub fn event(&self, v: Value) {
        let _g = self.out.lock().unwrap();
        if self.tty {
            let (d, f) = (
                self.done.load(Ordering::Relaxed),
                self.failed.load(Ordering::Relaxed),
            );
            let width = 30;
            let filled = ((d + f) * width)
                .checked_div(self.total)
                .unwrap_or(width)
                .min(width);
            eprint!(
                "\r[{}{}] {}/{} customers, {} failed",
                "#".repeat(filled),
                " ".repeat(width - filled),
                d,
                self.total,
                f
            );
            let _ = std::io::stderr().flush();
        } else {
            println!("{v}");
        }
    }
    pub fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// Writes the state atomically (a crash leaves the old file or the new one, never half of one).
fn save(path: &Path, st: &State) -> Result<(), String> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(st).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Held while a step reads and writes the state file: two runs on one file would each send the creates and
/// overwrite each other's progress. An OS lock on `<state>.lock`, so a killed run leaves nothing to clean up.
pub struct StateLock(#[allow(dead_code)] std::fs::File);

pub fn lock_state(state: &Path) -> Result<StateLock, String> {
    let path = state.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another `embedgate migrate` is using {} (it holds {}): let it finish, then run this again",
            state.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock {}: {e}", path.display()))
        }
    }
}

pub fn load_state(path: &Path) -> Result<State, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map_err(|e| format!("{}: unreadable state file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
            version: 1,
            ..State::default()
        }),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

pub fn state_path(inventory: &Path, state: Option<PathBuf>) -> PathBuf {
    state.unwrap_or_else(|| inventory.with_extension("state.json"))
}

pub fn read_inventory(path: &Path) -> Result<Inventory, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    embedgate_migrate::read_inventory(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn driver(report: Option<Arc<Report>>) -> Driver {
    let mut d = Driver::new(CLI_POLICY);
    if let Some(r) = report {
        d.on_event = Some(Box::new(move |e: &Event| {
            let Event::Retry {
                call,
                status,
                wait_ms,
            } = e;
            r.event(json!({"event": "retry", "call": call, "status": status, "waitMs": wait_ms}));
        }));
    }
    d
}

/// Sends one request; a refused Entra token is refreshed once and the request made again.
fn send(d: &Driver, tokens: &Tokens, mut req: Request, token: &str) -> Result<String, Failure> {
    let r = d.send(&req);
    match &r {
        Err(f)
            if f.token_refused()
                && req.header("authorization") == Some(&format!("Bearer {token}")) =>
        {
            tokens.refused();
            let Ok(fresh) = tokens.get(d) else { return r };
            for h in req.headers.iter_mut().filter(|h| h.0 == "authorization") {
                h.1 = format!("Bearer {fresh}");
            }
            d.send(&req)
        }
        _ => r,
    }
}

/// `migrate apply`: every customer's steps, `concurrency` customers at a time, resumable.
pub fn apply(
    cfg: Config,
    inv: &Inventory,
    inventory_dir: &Path,
    state_file: &Path,
    concurrency: usize,
) -> Result<(usize, usize), String> {
    let mut files = HashMap::new();
    for (key, t) in &inv.templates {
        let path = inventory_dir.join(&t.file);
        files.insert(
            key.clone(),
            std::fs::read(&path)
                .map_err(|e| format!("template `{key}`: cannot read {}: {e}", path.display()))?,
        );
    }
    let cfg = Arc::new(cfg);
    let report = Arc::new(Report::new(inv.customers.len()));
    let d = driver(Some(report.clone()));
    let tokens = Tokens {
        cfg: cfg.clone(),
        current: Mutex::new(None),
    };
    let state = Mutex::new(load_state(state_file)?);
    // One list of the service principal's profiles for the whole run (each customer then looks by name).
    let token = tokens.get(&d)?;
    let listed = send(&d, &tokens, cfg.api.get_profiles(&token), &token)
        .map_err(|f| format!("list profiles: {}", describe(&f)))?;
    let profiles: HashMap<String, String> = powerbi::read_profiles(&listed)
        .map_err(|f| format!("list profiles: {}", describe(&f)))?
        .into_iter()
        .filter_map(|p| p.display_name.map(|n| (n.to_lowercase(), p.id)))
        .collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..concurrency.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = inv.customers.get(i) else { break };
                let started = Instant::now();
                let r = run_customer(&cfg, &d, &tokens, inv, c, &profiles, &files, &state, state_file, &report);
                match r {
                    Ok(calls) => {
                        report.done.fetch_add(1, Ordering::Relaxed);
                        report.event(json!({"event": "customer_done", "customer": c.id, "calls": calls, "ms": started.elapsed().as_millis() as u64}));
                    }
                    Err(e) => {
                        report.failed.fetch_add(1, Ordering::Relaxed);
                        report.event(json!({"event": "customer_failed", "customer": c.id, "error": e}));
                    }
                }
            });
        }
    });
    report.finish();
    Ok((
        report.done.load(Ordering::Relaxed),
        report.failed.load(Ordering::Relaxed),
    ))
}

#[allow(clippy::too_many_arguments)]
fn run_customer(
    cfg: &Config,
    d: &Driver,
    tokens: &Tokens,
    inv: &Inventory,
    c: &CustomerIn,
    profiles: &HashMap<String, String>,
    files: &HashMap<String, Vec<u8>>,
    state: &Mutex<State>,
    state_file: &Path,
    report: &Report,
) -> Result<usize, String> {
    let mut m = Machine::new(inv, c);
    let mut calls = 0;
    loop {
        let token = tokens.get(d)?;
        let session = Session {
            api: &cfg.api,
            token: &token,
            sp_object_id: &inv.service_principal_object_id,
            worker: cfg.worker.as_ref(),
            profiles: Some(profiles),
            files,
        };
        let mut p = state
            .lock()
            .unwrap()
            .customers
            .get(&c.id)
            .cloned()
            .unwrap_or_default();
        let action = m.next(&session, &mut p);
        let wait = match action {
            Action::Done => {
                let mut st = state.lock().unwrap();
                st.customers.insert(c.id.clone(), p);
                save(state_file, &st)?;
                return Ok(calls);
            }
            Action::Wait(ms) => Some(ms),
            Action::Send(req, expect) => {
                calls += 1;
                report.event(json!({"event": "call", "customer": c.id, "call": req.name}));
                let answer = send(d, tokens, req, &token);
                let wait = m.read(&mut p, expect, answer).map_err(|e| e.to_string())?;
                let mut st = state.lock().unwrap();
                st.customers.insert(c.id.clone(), p);
                save(state_file, &st)?;
                wait
            }
        };
        if let Some(ms) = wait {
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
}

/// One customer's verification: problems found (empty: passed), and the old-permission traps.
pub struct Verdict {
    pub problems: Vec<String>,
    pub traps: Vec<String>,
}

/// `migrate verify`: as each customer's profile and nothing else.
pub fn verify(
    cfg: Config,
    inv: &Inventory,
    plan: &Plan,
    state_file: &Path,
    compare_rows: bool,
) -> Result<Vec<(String, Verdict)>, String> {
    let d = driver(None);
    let cfg = Arc::new(cfg);
    let tokens = Tokens {
        cfg: cfg.clone(),
        current: Mutex::new(None),
    };
    let mut state = load_state(state_file)?;
    let mut out = Vec::new();
    for (c, cp) in inv.customers.iter().zip(&plan.customers) {
        let p = state.customers.get(&c.id).cloned().unwrap_or_default();
        let v = verify_one(&cfg, &d, &tokens, inv, c, cp, &p, compare_rows)?;
        state.customers.entry(c.id.clone()).or_default().verify = Some(v.problems.clone());
        out.push((c.id.clone(), v));
    }
    save(state_file, &state)?;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn verify_one(
    cfg: &Config,
    d: &Driver,
    tokens: &Tokens,
    inv: &Inventory,
    c: &CustomerIn,
    cp: &embedgate_migrate::plan::CustomerPlan,
    p: &Progress,
    compare_rows: bool,
) -> Result<Verdict, String> {
    let mut problems = Vec::new();
    let mut traps = Vec::new();
    let (Some(profile), Some(ws)) = (p.profile_id.as_deref(), p.workspace_id.as_deref()) else {
        return Ok(Verdict {
            problems: vec!["not applied: no profile or workspace recorded".into()],
            traps,
        });
    };
    let token = tokens.get(d)?;
    let me = As {
        token: &token,
        profile: Some(profile),
    };
    let sp = As {
        token: &token,
        profile: None,
    };
    let get = |r: Request| send(d, tokens, r, &token);
    let group = match get(cfg.api.get_group(me, ws)) {
        Ok(b) => Some(b),
        Err(f) => {
            problems.push(format!(
                "workspace {ws} is not visible to the profile ({})",
                describe(&f)
            ));
            None
        }
    };
    let users = get(cfg.api.get_group_users(me, ws))
        .ok()
        .and_then(|b| powerbi::read_group_users(&b).ok());
    if !users
        .as_deref()
        .is_some_and(|u| checks::profile_is_admin(u, profile))
    {
        problems.push(format!("the profile is not Admin of workspace {ws}"));
    }
    // The seed's trap: the service principal itself still reaches what the profile cannot.
    if let Ok(all) = get(cfg.api.get_group_users(sp, ws))
        .map(|b| powerbi::read_group_users(&b).unwrap_or_default())
    {
        if checks::works_only_through_old_permissions(
            &all,
            &inv.service_principal_object_id,
            profile,
        ) {
            traps.push(format!("workspace {ws}: the service principal is a member and the profile is not Admin; embedding works today only through the old permission"));
        }
    }
    let reports: Vec<String> = match &c.target {
        Target::NewWorkspace { .. } => p
            .items
            .values()
            .filter_map(|i| i.report_id.clone())
            .collect(),
        Target::ExistingWorkspace { .. } => c.legacy.reports.clone(),
    };
    let mut items = Vec::new();
    for r in &reports {
        match get(cfg.api.get_report(me, ws, r))
            .ok()
            .and_then(|b| powerbi::read_object(&b).ok())
        {
            Some(rep) => items.push(Value::Object(rep)),
            None => problems.push(format!("report {r} is not reachable as the profile")),
        }
    }
    if !problems.is_empty() {
        return Ok(Verdict { problems, traps });
    }
    // The token the worker would ask for, checked by the core first, then minted as the profile.
    let after = &cp.identity_after;
    let mut datasets = Vec::new();
    for rep in &items {
        if let Some(ds) = rep["datasetId"].as_str() {
            if let Some(v) = get(cfg.api.get_dataset(me, ws, ds))
                .ok()
                .and_then(|b| powerbi::read_object(&b).ok())
            {
                datasets.push(Value::Object(v));
            }
        }
    }
    let ds_ids: Vec<Value> = datasets.iter().map(|d| d["id"].clone()).collect();
    let mut body = json!({"reports": reports.iter().map(|r| json!({"id": r})).collect::<Vec<_>>(), "datasets": ds_ids.iter().map(|d| json!({"id": d})).collect::<Vec<_>>()});
    if let Some(u) = &after.username {
        let mut ident = json!({"username": u, "datasets": ds_ids, "roles": after.roles});
        if let Some(cd) = &after.custom_data {
            ident["customData"] = json!(cd);
        }
        body["identities"] = json!([ident]);
    }
    let mut scenario = json!({
        "caller": {"principalType": "App", "objectId": inv.service_principal_object_id, "profile": {"id": profile}},
        "endpoint": {"kind": "GenerateTokenV2"},
        "workspaces": [{"id": ws, "name": group.as_deref().and_then(|g| serde_json::from_str::<Value>(g).ok()).and_then(|g| g["name"].as_str().map(str::to_string)), "users": users}],
        "datasets": datasets, "reports": items, "request": body,
    });
    if scenario["workspaces"][0]["name"].is_null() {
        scenario["workspaces"][0]
            .as_object_mut()
            .map(|w| w.remove("name"));
    }
    let report = embedgate_core::check_value(&scenario);
    for diag in report
        .diagnostics
        .iter()
        .filter(|x| x.severity == embedgate_core::Severity::Error)
    {
        problems.push(format!("core: {} {}", diag.code, diag.message));
    }
    let Ok(v2) = serde_json::from_value(body.clone()) else {
        problems.push("could not build the GenerateToken body".into());
        return Ok(Verdict { problems, traps });
    };
    let after_token = match get(cfg.api.generate_token(me, &v2)) {
        Ok(b) => powerbi::read_embed_token(&b).ok().map(|t| t.token),
        Err(f) => {
            problems.push(format!(
                "GenerateToken as the profile failed ({})",
                describe(&f)
            ));
            None
        }
    };
    if let (true, Some(after_token)) = (compare_rows, after_token) {
        if let Some(why) = compare_with_legacy(cfg, d, tokens, c, &reports, &after_token)? {
            problems.push(format!("rows differ from the legacy flow: {why}"));
        }
    }
    Ok(Verdict { problems, traps })
}

/// Mints today's token (the service principal, the shared workspace, the legacy identity) and asks the
/// emulator's render route what each token shows. Only the emulator has that route.
fn compare_with_legacy(
    cfg: &Config,
    d: &Driver,
    tokens: &Tokens,
    c: &CustomerIn,
    after_reports: &[String],
    after_token: &str,
) -> Result<Option<String>, String> {
    let token = tokens.get(d)?;
    let sp = As {
        token: &token,
        profile: None,
    };
    let Some(legacy_report) = c.legacy.reports.first() else {
        return Ok(None);
    };
    let rep = send(
        d,
        tokens,
        cfg.api
            .get_report(sp, &c.legacy.workspace_id, legacy_report),
        &token,
    )
    .ok()
    .and_then(|b| powerbi::read_object(&b).ok())
    .ok_or_else(|| format!("{}: legacy report {legacy_report} is not readable", c.id))?;
    let ds = rep
        .get("datasetId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let rls = &c.legacy.rls;
    let mut body = json!({"reports": [{"id": legacy_report}], "datasets": [{"id": ds}]});
    if let Some(u) = &rls.username {
        body["identities"] = json!([{"username": u, "roles": rls.roles, "datasets": [ds]}]);
    }
    let v2 = serde_json::from_value(body).map_err(|e| e.to_string())?;
    let before = send(d, tokens, cfg.api.generate_token(sp, &v2), &token)
        .map_err(|f| format!("{}: legacy GenerateToken failed ({})", c.id, describe(&f)))
        .and_then(|b| powerbi::read_embed_token(&b).map_err(|e| e.to_string()))?;
    let render = |t: &str, r: &str| -> Value {
        let req = Request {
            name: "emulator.render",
            method: Method::Post,
            url: format!("{}/__emulator/embed/render", cfg.api.base),
            headers: vec![("content-type", "application/json".into())],
            body: Some(json!({"token": t, "reportId": r}).to_string().into_bytes()),
        };
        d.send(&req)
            .ok()
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or(Value::Null)
    };
    let b = render(&before.token, legacy_report);
    let a = render(
        after_token,
        after_reports
            .first()
            .map(String::as_str)
            .unwrap_or_default(),
    );
    Ok(checks::rows_differ(&b, &a))
}

/// `migrate rollout` / `rollback`: move customers between flows through the worker's admin API.
pub fn set_flow(
    cfg: Config,
    inv: &Inventory,
    plan: &Plan,
    state_file: &Path,
    ids: &[String],
    to_profile: bool,
    force: bool,
) -> Result<Vec<String>, String> {
    let worker = cfg
        .worker
        .clone()
        .ok_or("EMBEDGATE_WORKER_URL and EMBEDGATE_ADMIN_KEY are needed to change flows")?;
    let d = driver(None);
    let mut state = load_state(state_file)?;
    let mut moved = Vec::new();
    for id in ids {
        let Some((c, cp)) = inv
            .customers
            .iter()
            .zip(&plan.customers)
            .find(|(c, _)| &c.id == id)
        else {
            return Err(format!("no customer `{id}` in the inventory"));
        };
        let p = state.customers.get(id).cloned().unwrap_or_default();
        if to_profile && !p.applied() {
            return Err(format!(
                "customer `{id}` is not applied yet (run `migrate apply`)"
            ));
        }
        if to_profile && !force && p.verify.as_ref().is_none_or(|v| !v.is_empty()) {
            return Err(format!(
                "customer `{id}` has not passed `migrate verify` (use --force to move it anyway)"
            ));
        }
        let doc = if to_profile {
            profile_document(c, &p, &cp.identity_after)
        } else {
            legacy_document(c, &p)
        };
        d.send(&worker.put_customer(id, &doc))
            .map_err(|f| format!("{id}: worker refused the document ({})", describe(&f)))?;
        let entry = state.customers.entry(id.clone()).or_default();
        entry.flow = Some(if to_profile { "profile" } else { "legacy" }.into());
        save(state_file, &state)?;
        moved.push(id.clone());
    }
    Ok(moved)
}

/// `migrate cleanup`: the redundant rows on migrated customers' workspaces, and the old workspaces no customer
/// references any more. Removes them with `apply`.
pub fn cleanup(
    cfg: Config,
    inv: &Inventory,
    state_file: &Path,
    apply: bool,
) -> Result<Vec<String>, String> {
    let d = driver(None);
    let cfg = Arc::new(cfg);
    let tokens = Tokens {
        cfg: cfg.clone(),
        current: Mutex::new(None),
    };
    let state = load_state(state_file)?;
    let token = tokens.get(&d)?;
    let sp = As {
        token: &token,
        profile: None,
    };
    let mut actions = Vec::new();
    let on_profile = |c: &CustomerIn| {
        state
            .customers
            .get(&c.id)
            .is_some_and(|p| p.flow.as_deref() == Some("profile"))
    };
    for c in inv.customers.iter().filter(|c| on_profile(c)) {
        let p = &state.customers[&c.id];
        let (Some(ws), Some(profile)) = (p.workspace_id.as_deref(), p.profile_id.as_deref()) else {
            continue;
        };
        // As the profile: a workspace it created is not visible to the service principal itself.
        let me = As {
            token: &token,
            profile: Some(profile),
        };
        let Ok(users) = send(&d, &tokens, cfg.api.get_group_users(me, ws), &token)
            .map(|b| powerbi::read_group_users(&b).unwrap_or_default())
        else {
            actions.push(format!(
                "skip workspace {ws}: its users are not readable as the profile"
            ));
            continue;
        };
        if !checks::profile_is_admin(&users, profile) {
            actions.push(format!(
                "skip workspace {ws}: the profile is not Admin there, so nothing is redundant yet"
            ));
            continue;
        }
        for u in checks::redundant_permissions(&users, &inv.service_principal_object_id) {
            let who = u.identifier.clone().unwrap_or_default();
            actions.push(format!(
                "remove {:?} {who} ({:?}) from workspace {ws}",
                u.principal_type
                    .map(|t| format!("{t:?}"))
                    .unwrap_or_default(),
                u.group_user_access_right
            ));
            if apply {
                send(
                    &d,
                    &tokens,
                    cfg.api.delete_group_user(me, ws, &who, None),
                    &token,
                )
                .map_err(|f| format!("remove {who} from {ws}: {}", describe(&f)))?;
            }
        }
    }
    // Old workspaces: referenced by no customer still on the legacy flow and by no migrated customer.
    let mut still_used: Vec<String> = Vec::new();
    for c in &inv.customers {
        let p = state.customers.get(&c.id);
        if !on_profile(c) {
            still_used.push(c.legacy.workspace_id.to_lowercase());
        }
        if let Some(ws) = p.and_then(|p| p.workspace_id.as_deref()) {
            still_used.push(ws.to_lowercase());
        }
    }
    let mut old: Vec<String> = inv
        .customers
        .iter()
        .filter(|c| on_profile(c))
        .map(|c| c.legacy.workspace_id.to_lowercase())
        .collect();
    old.sort();
    old.dedup();
    for ws in old.into_iter().filter(|w| !still_used.contains(w)) {
        actions.push(format!(
            "delete workspace {ws} (no customer uses it any more)"
        ));
        if apply {
            send(&d, &tokens, cfg.api.delete_group(sp, &ws), &token)
                .map_err(|f| format!("delete workspace {ws}: {}", describe(&f)))?;
        }
    }
    Ok(actions)
}
