//! `embedgate migrate ...`: the driver of `embedgate_migrate` ("Migrate multi-customer applications to the service
//! principal profiles model", steps 1 to 5). Every request is built and every answer read by the pure crates, and
//! every decision is theirs (`embedgate_migrate::checks`); this file sends, records progress, and reports.
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

use embedgate_client::entra::{parse_token, Entra, EntraToken, Refresh, POWERBI_SCOPE};
use embedgate_client::powerbi::{self, Api, As};
use embedgate_client::{Failure, Method, Request};
use embedgate_edge::customer::{Customer, Flow};
use embedgate_edge::identity::Principal;
use embedgate_migrate::checks;
use embedgate_migrate::inventory::CustomerIn;
use embedgate_migrate::machine::{describe, legacy_document, profile_document};
use embedgate_migrate::plan::CustomerPlan;
use embedgate_migrate::{
    Field, Inventory, Machine, Plan, Progress, Registry, Session, Stopped, Worker,
};
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
    /// The worker's admin API, when `EMBEDGATE_WORKER_URL` is set.
    pub fn worker_from_env() -> Result<Option<Worker>, String> {
        match (env("EMBEDGATE_WORKER_URL"), env("EMBEDGATE_ADMIN_KEY")) {
            (Some(base), Some(admin_key)) => Ok(Some(Worker {
                base: base.trim_end_matches('/').to_string(),
                admin_key,
            })),
            (Some(_), None) => {
                Err("EMBEDGATE_WORKER_URL is set but EMBEDGATE_ADMIN_KEY is not".into())
            }
            _ => Ok(None),
        }
    }

    pub fn from_env() -> Result<Config, String> {
        let need = |n: &str| env(n).ok_or_else(|| format!("{n} is not set"));
        let worker = Self::worker_from_env()?;
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
            .map_err(|f| entra_failure(&f))?;
        let t = parse_token(&body, now()).map_err(|e| format!("Entra ID token: {e}"))?;
        let access = t.access_token.clone();
        *cur = Some(t);
        Ok(access)
    }
    fn refused(&self) {
        *self.current.lock().unwrap() = None;
    }
}

/// A failed Entra ID token request, naming the setting to check.
fn entra_failure(f: &Failure) -> String {
    let code = f.upstream_code().unwrap_or_default();
    let hint = match code.as_str() {
        "invalid_client" => "; check EMBEDGATE_CLIENT_SECRET (and EMBEDGATE_CLIENT_ID): Entra ID refused the app's credentials",
        "unauthorized_client" => "; check EMBEDGATE_CLIENT_ID: no such app in the tenant",
        "invalid_request" | "invalid_tenant" => "; check EMBEDGATE_TENANT_ID (the tenant id, not `common`) and EMBEDGATE_AUTHORITY",
        _ => match f {
            Failure::Network | Failure::Timeout => "; check EMBEDGATE_AUTHORITY",
            _ => "",
        },
    };
    format!("Entra ID token: {}{hint}", describe(f))
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

/// Sends one request outside a machine run; a refused Entra token is refreshed once and the request made again
/// (the client's `Refresh` rule).
fn send(d: &Driver, tokens: &Tokens, mut req: Request, token: &str) -> Result<String, Failure> {
    let r = d.send(&req);
    if !Refresh::default().needed(&req, &r, token) {
        return r;
    }
    tokens.refused();
    let Ok(fresh) = tokens.get(d) else { return r };
    for h in req.headers.iter_mut().filter(|h| h.0 == "authorization") {
        h.1 = format!("Bearer {fresh}");
    }
    d.send(&req)
}

/// The worker's customers, with what the state file records added as claims. `None` without a worker.
fn registry(cfg: &Config, d: &Driver, state: &State) -> Result<Option<Registry>, String> {
    cfg.worker
        .as_ref()
        .map(|w| Ok(claims(worker_customers(d, w)?, state)))
        .transpose()
}

/// The worker's customer documents (`GET /api/admin/customers`).
fn worker_customers(d: &Driver, w: &Worker) -> Result<Registry, String> {
    let body = d.send(&w.list_customers()).map_err(|f| {
        format!(
            "the worker's customers (GET /api/admin/customers): {}",
            describe(&f)
        )
    })?;
    Registry::read(&body)
}

/// Adds what the state file records each customer holds.
fn claims(mut r: Registry, state: &State) -> Registry {
    for (id, p) in &state.customers {
        r.claim(id, p.profile_id.as_deref(), p.workspace_id.as_deref());
    }
    r
}

fn need_registry(cfg: &Config, d: &Driver, state: &State, what: &str) -> Result<Registry, String> {
    registry(cfg, d, state)?.ok_or_else(|| {
        format!("{what} reads the worker's customers to prove what it changes: set EMBEDGATE_WORKER_URL and EMBEDGATE_ADMIN_KEY")
    })
}

/// The outcome of `apply`.
pub struct Applied {
    pub done: usize,
    pub skipped: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
}

/// The CLI's side of `embedgate_migrate::drive`: ureq, the state file, progress lines.
struct CliRun<'a> {
    d: &'a Driver,
    tokens: &'a Tokens,
    state: &'a Mutex<State>,
    state_file: &'a Path,
    report: &'a Report,
    customer: &'a str,
}

impl embedgate_migrate::Driver for CliRun<'_> {
    type Stop = String;
    async fn send(&mut self, req: &Request) -> Result<String, Failure> {
        self.d.send(req)
    }
    async fn refresh_token(&mut self, _refused: &str) -> Result<String, String> {
        self.tokens.refused();
        self.tokens.get(self.d)
    }
    async fn save(&mut self, p: &Progress) -> Result<(), String> {
        let mut st = self.state.lock().unwrap();
        st.customers.insert(self.customer.to_string(), p.clone());
        save(self.state_file, &st)
    }
    async fn wait(&mut self, ms: u64) -> Result<(), String> {
        std::thread::sleep(Duration::from_millis(ms));
        Ok(())
    }
    fn sending(&mut self, req: &Request) {
        self.report
            .event(json!({"event": "call", "customer": self.customer, "call": req.name}));
    }
}

/// `migrate apply`: checks the whole inventory against the live state (the worker's customers, the service
/// principal's profiles) before its first change, then runs every customer's steps, `concurrency` at a time.
/// Resumable: a re-run converges.
pub fn apply(
    cfg: Config,
    inv: &Inventory,
    inventory_dir: &Path,
    state_file: &Path,
    concurrency: usize,
) -> Result<Applied, String> {
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
    let loaded = load_state(state_file)?;
    // Without a worker only the state file records who holds what (and no document is written).
    let registry = match registry(&cfg, &d, &loaded)? {
        Some(r) => r,
        None => claims(Registry::default(), &loaded),
    };
    // One list of the service principal's profiles for the whole run (each customer then looks by name).
    let token = tokens.get(&d)?;
    let listed = send(&d, &tokens, cfg.api.get_profiles(&token), &token)
        .map_err(|f| format!("list profiles: {}", describe(&f)))?;
    let profiles =
        powerbi::read_profiles(&listed).map_err(|f| format!("list profiles: {}", describe(&f)))?;
    let pre = checks::preflight(inv, &registry, &profiles, &loaded.customers);
    if !pre.problems.is_empty() {
        let list: Vec<String> = pre.problems.iter().map(|e| format!("  {e}")).collect();
        return Err(format!(
            "nothing was changed: the inventory names what others hold\n{}",
            list.join("\n")
        ));
    }
    let state = Mutex::new(loaded);
    let skipped: Vec<(String, String)> = pre.skip.clone().into_iter().collect();
    {
        let mut st = state.lock().unwrap();
        for (id, why) in &skipped {
            st.customers.entry(id.clone()).or_default().skipped = Some(why.clone());
        }
        save(state_file, &st)?;
    }
    let failed = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let todo: Vec<&CustomerIn> = inv
        .customers
        .iter()
        .filter(|c| !pre.skip.contains_key(&c.id))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..concurrency.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = todo.get(i) else { break };
                let started = Instant::now();
                let mut p = state
                    .lock()
                    .unwrap()
                    .customers
                    .get(&c.id)
                    .cloned()
                    .unwrap_or_default();
                p.error = None;
                p.skipped = None;
                let mut session = Session {
                    api: &cfg.api,
                    token: token.clone(),
                    sp_object_id: &inv.service_principal_object_id,
                    worker: cfg.worker.as_ref(),
                    registry: &registry,
                    profiles: Some(&profiles),
                    files: &files,
                };
                let mut run = CliRun {
                    d: &d,
                    tokens: &tokens,
                    state: &state,
                    state_file,
                    report: &report,
                    customer: &c.id,
                };
                let mut m = Machine::new(inv, c);
                let r = embedgate_migrate::drive::block_on(embedgate_migrate::run(
                    &mut m,
                    &mut session,
                    &mut p,
                    &mut run,
                ));
                let r = r.map_err(|e| match e {
                    // A clash names the inventory field to change.
                    Stopped::Step(e) => match e.clash {
                        Some(field) => {
                            let i = inv.customers.iter().position(|x| x.id == c.id).unwrap_or(0);
                            let at = match field {
                                Field::ProfileName => "profileName",
                                Field::WorkspaceName => "target/name",
                                Field::WorkspaceId => "target/workspaceId",
                            };
                            format!("{} (/customers/{i}/{at})", e.message)
                        }
                        None => e.message,
                    },
                    Stopped::Driver(e) => e,
                });
                match r {
                    Ok(calls) => {
                        report.done.fetch_add(1, Ordering::Relaxed);
                        report.event(json!({"event": "customer_done", "customer": c.id, "calls": calls, "ms": started.elapsed().as_millis() as u64}));
                    }
                    Err(e) => {
                        report.failed.fetch_add(1, Ordering::Relaxed);
                        p.error = Some(e.clone());
                        report.event(json!({"event": "customer_failed", "customer": c.id, "error": e}));
                        failed.lock().unwrap().push((c.id.clone(), e));
                    }
                }
                let mut st = state.lock().unwrap();
                st.customers.insert(c.id.clone(), p);
                let _ = save(state_file, &st);
            });
        }
    });
    report.finish();
    let mut failed = failed.into_inner().unwrap();
    failed.sort();
    Ok(Applied {
        done: report.done.load(Ordering::Relaxed),
        skipped,
        failed,
    })
}

/// One customer's verification: problems found (empty: passed), and the old-permission traps.
pub struct Verdict {
    pub problems: Vec<String>,
    pub traps: Vec<String>,
    /// Why this customer was not verified (apply left it as it is).
    pub skipped: Option<String>,
}

/// The document the customer's users are served with on the legacy flow, from the live state: the worker's
/// document while it is on the legacy flow, else the one recorded before the migration, else (no worker) the
/// inventory's description.
fn live_legacy(reg: Option<&Registry>, c: &CustomerIn, p: &Progress) -> Result<Customer, String> {
    let mut p = p.clone();
    if let Some(doc) = reg
        .and_then(|r| r.customer(&c.id))
        .filter(|d| d.flow == Flow::Legacy)
    {
        p.legacy_document = Some(doc.to_value());
    }
    legacy_document(c, &p).map_err(|e| e.message)
}

/// The profile-flow document rollout would write, from the live legacy document.
fn after_document(
    reg: Option<&Registry>,
    c: &CustomerIn,
    cp: &CustomerPlan,
    p: &Progress,
) -> Result<Customer, String> {
    let legacy = live_legacy(reg, c, p)?;
    let mut p = p.clone();
    p.legacy_document = Some(legacy.to_value());
    profile_document(c, &p, &cp.identity_after).map_err(|e| e.message)
}

/// The sample sign-in verify mints for.
fn sample(c: &CustomerIn) -> Principal {
    let mut claims = c.sample_user.clone().unwrap_or_default();
    claims
        .entry("sub")
        .or_insert_with(|| json!("embedgate-verify"));
    Principal {
        customer_id: c.id.clone(),
        user_id: claims["sub"].as_str().unwrap_or_default().to_string(),
        claims,
    }
}

/// `migrate verify`: as each customer's profile and nothing else, with the identity the worker will build
/// from the customer's real document for the sample user.
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
    let reg = registry(&cfg, &d, &state)?;
    let mut out = Vec::new();
    for (c, cp) in inv.customers.iter().zip(&plan.customers) {
        let p = state.customers.get(&c.id).cloned().unwrap_or_default();
        let live_profile = reg
            .as_ref()
            .and_then(|r| r.customer(&c.id))
            .filter(|d| d.flow == Flow::Profile && p.profile_id.is_none());
        if let Some(doc) = live_profile {
            let why = format!(
                "already on the profile flow (profile {}) before this migration; apply left it as it is",
                doc.profile_id.as_deref().unwrap_or("?")
            );
            out.push((
                c.id.clone(),
                Verdict {
                    problems: vec![],
                    traps: vec![],
                    skipped: Some(why),
                },
            ));
            continue;
        }
        let v = verify_one(
            &cfg,
            &d,
            &tokens,
            inv,
            reg.as_ref(),
            c,
            cp,
            &p,
            compare_rows,
        )?;
        state.customers.entry(c.id.clone()).or_default().verify = Some(v.problems.clone());
        out.push((c.id.clone(), v));
    }
    save(state_file, &state)?;
    Ok(out)
}

/// The effective identities the worker builds for `who` from `doc`, for the given items (read as `who`).
fn identities(
    doc: &Customer,
    who: &Principal,
    datasets: &[Value],
    reports: &[Value],
) -> Result<Vec<embedgate_core::powerbi::EffectiveIdentity>, String> {
    let rls = embedgate_edge::scenario::dataset_rls(datasets);
    let paginated = embedgate_edge::scenario::paginated_reports(reports);
    embedgate_edge::identity::build(doc, who, &rls, &paginated).map_err(|e| e.message)
}

/// The V2 body for `reports` and their datasets, with `identities`.
fn token_body(
    reports: &[Value],
    datasets: &[Value],
    identities: Vec<embedgate_core::powerbi::EffectiveIdentity>,
) -> Value {
    let mut body = json!({
        "reports": reports.iter().map(|r| json!({"id": r["id"]})).collect::<Vec<_>>(),
        "datasets": datasets.iter().map(|d| json!({"id": d["id"]})).collect::<Vec<_>>(),
    });
    if !identities.is_empty() {
        body["identities"] = json!(identities);
    }
    body
}

/// Reports (as `who`) and their datasets.
fn items(
    cfg: &Config,
    get: &dyn Fn(Request) -> Result<String, Failure>,
    who: As,
    ws: &str,
    reports: &[String],
    problems: &mut Vec<String>,
    whose: &str,
) -> (Vec<Value>, Vec<Value>) {
    let (mut reps, mut sets) = (Vec::new(), Vec::new());
    for r in reports {
        match get(cfg.api.get_report(who, ws, r))
            .ok()
            .and_then(|b| powerbi::read_object(&b).ok())
        {
            Some(rep) => {
                if let Some(ds) = rep.get("datasetId").and_then(Value::as_str) {
                    if !sets.iter().any(|d: &Value| d["id"] == ds) {
                        match get(cfg.api.get_dataset(who, ws, ds))
                            .ok()
                            .and_then(|b| powerbi::read_object(&b).ok())
                        {
                            Some(v) => sets.push(Value::Object(v)),
                            None => problems.push(format!("dataset {ds} is not readable {whose}")),
                        }
                    }
                }
                reps.push(Value::Object(rep));
            }
            None => problems.push(format!("report {r} is not reachable {whose}")),
        }
    }
    (reps, sets)
}

#[allow(clippy::too_many_arguments)]
fn verify_one(
    cfg: &Config,
    d: &Driver,
    tokens: &Tokens,
    inv: &Inventory,
    reg: Option<&Registry>,
    c: &CustomerIn,
    cp: &CustomerPlan,
    p: &Progress,
    compare_rows: bool,
) -> Result<Verdict, String> {
    let mut problems = Vec::new();
    let mut traps = Vec::new();
    let (Some(profile), Some(ws)) = (p.profile_id.as_deref(), p.workspace_id.as_deref()) else {
        return Ok(Verdict {
            skipped: None,
            problems: vec![match &p.error {
                Some(e) => format!("not applied: {e}"),
                None => "not applied: no profile or workspace recorded".into(),
            }],
            traps,
        });
    };
    if let Some(other) = reg.and_then(|r| r.profile_owner_other_than(profile, &c.id)) {
        problems.push(format!("profile {profile} is also customer `{other}`'s"));
    }
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
        Ok(b) => serde_json::from_str::<Value>(&b).ok(),
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
    // The trap: the service principal itself still reaches what the profile cannot.
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
    let after_doc = match after_document(reg, c, cp, p) {
        Ok(doc) => doc,
        Err(e) => {
            problems.push(e);
            return Ok(Verdict {
                problems,
                traps,
                skipped: None,
            });
        }
    };
    // The inventory describes today's RLS; the worker's document is what is served. Rollout keeps the
    // document's, so an inventory that says otherwise is wrong about this customer.
    if let Some(live) = reg.and_then(|r| r.customer(&c.id)) {
        let (mut said, mut served) = (
            c.legacy.rls.roles.clone(),
            live_legacy(reg, c, p)?.rls.roles,
        );
        said.sort();
        served.sort();
        if said != served && live.flow == Flow::Legacy {
            problems.push(format!(
                "the inventory's roles [{}] differ from the worker's document's [{}]; rollout keeps the document's: correct /legacy/rls/roles of this customer",
                said.join(", "),
                served.join(", ")
            ));
        }
    }
    let reports: Vec<String> = after_doc.reports.iter().map(|r| r.id.clone()).collect();
    let (reps, sets) = items(cfg, &get, me, ws, &reports, &mut problems, "as the profile");
    if !problems.is_empty() {
        return Ok(Verdict {
            problems,
            traps,
            skipped: None,
        });
    }
    // The token the worker will ask for: its document, the sample user's claims.
    let who = sample(c);
    let ids = match identities(&after_doc, &who, &sets, &reps) {
        Ok(i) => i,
        Err(e) => {
            problems.push(format!(
                "the worker would refuse the sample user after rollout: {e}"
            ));
            return Ok(Verdict {
                problems,
                traps,
                skipped: None,
            });
        }
    };
    let body = token_body(&reps, &sets, ids);
    let mut scenario = json!({
        "caller": {"principalType": "App", "objectId": inv.service_principal_object_id, "profile": {"id": profile}},
        "endpoint": {"kind": "GenerateTokenV2"},
        "workspaces": [{"id": ws, "users": users}],
        "datasets": sets, "reports": reps, "request": body,
    });
    if let Some(name) = group.as_ref().and_then(|g| g["name"].as_str()) {
        scenario["workspaces"][0]["name"] = json!(name);
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
        return Ok(Verdict {
            problems,
            traps,
            skipped: None,
        });
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
        let before_doc = live_legacy(reg, c, p)?;
        match compare_with_legacy(cfg, d, tokens, &before_doc, &who, &reports, &after_token)? {
            Ok(None) => {}
            Ok(Some(why)) => problems.push(format!("rows differ from the legacy flow: {why}")),
            Err(why) => problems.push(why),
        }
    }
    Ok(Verdict {
        problems,
        traps,
        skipped: None,
    })
}

/// Mints today's token for the sample user (the service principal, the legacy document's workspace and
/// identity, as the worker builds it on the legacy flow) and asks the emulator's render route what each token
/// shows. Only the emulator has that route.
fn compare_with_legacy(
    cfg: &Config,
    d: &Driver,
    tokens: &Tokens,
    legacy: &Customer,
    who: &Principal,
    after_reports: &[String],
    after_token: &str,
) -> Result<Result<Option<String>, String>, String> {
    let token = tokens.get(d)?;
    let sp = As {
        token: &token,
        profile: None,
    };
    let get = |r: Request| send(d, tokens, r, &token);
    let Some(first) = legacy.reports.first() else {
        return Ok(Err("the legacy document lists no report to compare".into()));
    };
    let mut problems = Vec::new();
    let (reps, sets) = items(
        cfg,
        &get,
        sp,
        &first.workspace_id,
        std::slice::from_ref(&first.id),
        &mut problems,
        "on the legacy flow",
    );
    if let Some(p) = problems.into_iter().next() {
        return Ok(Err(p));
    }
    let ids = match identities(legacy, who, &sets, &reps) {
        Ok(i) => i,
        Err(e) => return Ok(Err(format!("the legacy flow refuses the sample user: {e}"))),
    };
    let v2 = serde_json::from_value(token_body(&reps, &sets, ids)).map_err(|e| e.to_string())?;
    let before = match get(cfg.api.generate_token(sp, &v2))
        .map_err(|f| describe(&f))
        .and_then(|b| powerbi::read_embed_token(&b).map_err(|_| "unreadable answer".to_string()))
    {
        Ok(t) => t,
        Err(e) => return Ok(Err(format!("the legacy flow's GenerateToken failed ({e})"))),
    };
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
    let b = render(&before.token, &first.id);
    let a = render(
        after_token,
        after_reports
            .first()
            .map(String::as_str)
            .unwrap_or_default(),
    );
    Ok(Ok(checks::rows_differ(&b, &a)))
}

/// `migrate rollout` / `rollback`: move customers between flows through the worker's admin API. Returns each
/// customer with what happened to it.
#[allow(clippy::too_many_arguments)]
pub fn set_flow(
    cfg: Config,
    inv: &Inventory,
    plan: &Plan,
    state_file: &Path,
    ids: &[String],
    to_profile: bool,
    force: bool,
) -> Result<Vec<(String, String)>, String> {
    let worker = cfg
        .worker
        .clone()
        .ok_or("EMBEDGATE_WORKER_URL and EMBEDGATE_ADMIN_KEY are needed to change flows")?;
    let d = driver(None);
    let mut state = load_state(state_file)?;
    let reg = need_registry(
        &cfg,
        &d,
        &state,
        if to_profile { "rollout" } else { "rollback" },
    )?;
    let cfg = Arc::new(cfg);
    let tokens = Tokens {
        cfg: cfg.clone(),
        current: Mutex::new(None),
    };
    // Every customer is checked before the first document is written.
    let mut docs = Vec::new();
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
        let live = reg.customer(id);
        let target = if to_profile {
            Flow::Profile
        } else {
            Flow::Legacy
        };
        if live.is_some_and(|l| l.flow == target) {
            docs.push((
                id.clone(),
                None,
                format!("already on the {} flow", target.as_str()),
            ));
            continue;
        }
        if to_profile {
            if !p.applied() {
                return Err(format!(
                    "customer `{id}` is not applied yet (run `migrate apply`)"
                ));
            }
            if !force && p.verify.as_ref().is_none_or(|v| !v.is_empty()) {
                return Err(format!(
                    "customer `{id}` has not passed `migrate verify` (use --force to move it anyway)"
                ));
            }
            let mine = p.profile_id.as_deref().unwrap_or_default();
            if let Some(l) = live.and_then(|l| l.profile_id.as_deref()) {
                if !l.eq_ignore_ascii_case(mine) {
                    return Err(format!("customer `{id}`: the worker's document names profile {l}, the state file {mine}; resolve that first"));
                }
            }
            if let Some(other) = reg.profile_owner_other_than(mine, id) {
                return Err(format!(
                    "customer `{id}`: profile {mine} is also customer `{other}`'s"
                ));
            }
            if let Some(ws) = p.workspace_id.as_deref() {
                if let Some(other) = reg.workspace_user_other_than(ws, id) {
                    return Err(format!(
                        "customer `{id}`: workspace {ws} is used by customer `{other}`"
                    ));
                }
            }
            let doc = after_document(Some(&reg), c, cp, &p).map_err(|e| format!("{id}: {e}"))?;
            docs.push((id.clone(), Some(doc), "moved to the profile flow".into()));
        } else {
            let doc = live_legacy(None, c, &p).map_err(|e| format!("{id}: {e}"))?;
            // The legacy flow calls as the service principal itself: its workspaces must still be there with the
            // service principal a member (cleanup may have removed either).
            let token = tokens.get(&d)?;
            for ws in &doc.workspaces {
                let sp = As {
                    token: &token,
                    profile: None,
                };
                let member = send(&d, &tokens, cfg.api.get_group_users(sp, ws), &token)
                    .ok()
                    .and_then(|b| powerbi::read_group_users(&b).ok())
                    .is_some_and(|users| {
                        users.iter().any(|u| {
                            u.profile.is_none()
                                && u.identifier.as_deref().is_some_and(|i| {
                                    i.eq_ignore_ascii_case(&inv.service_principal_object_id)
                                })
                        })
                    });
                if !member {
                    return Err(format!("{id}: the legacy document's workspace {ws} is gone or the service principal is no longer a member (cleanup removed it); rolling back would break this customer's users, so nothing was changed"));
                }
            }
            docs.push((
                id.clone(),
                Some(doc),
                "moved back to the legacy flow (its document as before apply)".into(),
            ));
        }
    }
    let mut out = Vec::new();
    for (id, doc, what) in docs {
        if let Some(doc) = doc {
            d.send(&worker.put_customer(&id, &doc))
                .map_err(|f| format!("{id}: worker refused the document ({})", describe(&f)))?;
        }
        let entry = state.customers.entry(id.clone()).or_default();
        entry.flow = Some(if to_profile { "profile" } else { "legacy" }.into());
        save(state_file, &state)?;
        out.push((id, what));
    }
    Ok(out)
}

/// One line of cleanup's report.
pub struct CleanupLine {
    pub remove: bool,
    pub text: String,
}

/// `migrate cleanup`: on migrated customers' workspaces, the rows the migration made redundant (the master
/// user named in the inventory or by `--master-user`, the service principal itself); and the old workspaces
/// nothing uses any more. Decided from the live state (`embedgate_migrate::checks`); removes with `apply`.
pub fn cleanup(
    cfg: Config,
    inv: &Inventory,
    state_file: &Path,
    master_user: Option<&str>,
    apply: bool,
) -> Result<Vec<CleanupLine>, String> {
    let d = driver(None);
    let cfg = Arc::new(cfg);
    let tokens = Tokens {
        cfg: cfg.clone(),
        current: Mutex::new(None),
    };
    let state = load_state(state_file)?;
    let reg = need_registry(&cfg, &d, &state, "cleanup")?;
    let master = master_user.or(inv.master_user.as_deref());
    let token = tokens.get(&d)?;
    let sp = As {
        token: &token,
        profile: None,
    };
    let sp_id = inv.service_principal_object_id.as_str();
    let mut plan: Vec<(CleanupLine, Option<Request>)> = Vec::new();
    let keep = |text: String| {
        (
            CleanupLine {
                remove: false,
                text,
            },
            None,
        )
    };
    let on_profile = |c: &CustomerIn| reg.flow(&c.id) == Some(Flow::Profile);
    for c in inv.customers.iter() {
        if !on_profile(c) {
            continue;
        }
        let p = state.customers.get(&c.id).cloned().unwrap_or_default();
        let live = reg.customer(&c.id);
        let (Some(ws), Some(profile)) = (
            live.and_then(|l| l.workspaces.first().cloned()),
            live.and_then(|l| l.profile_id.clone())
                .or(p.profile_id.clone()),
        ) else {
            continue;
        };
        // As the profile: a workspace it created is not visible to the service principal itself.
        let me = As {
            token: &token,
            profile: Some(&profile),
        };
        let Ok(users) = send(&d, &tokens, cfg.api.get_group_users(me, &ws), &token)
            .map_err(|_| ())
            .and_then(|b| powerbi::read_group_users(&b).map_err(|_| ()))
        else {
            plan.push(keep(format!("workspace {ws} ({}): kept as it is, because its users are not readable as the profile", c.id)));
            continue;
        };
        for (u, v) in checks::judge_members(&users, sp_id, master, &profile, &reg) {
            let who = u.identifier.clone().unwrap_or_default();
            let kind = u
                .principal_type
                .map(|t| format!("{t:?}"))
                .unwrap_or_default();
            let right = format!("{:?}", u.group_user_access_right);
            match v {
                checks::Verdict::Remove(why) => plan.push((
                    CleanupLine {
                        remove: true,
                        text: format!("remove {kind} {who} ({right}) from workspace {ws}: {why}"),
                    },
                    Some(cfg.api.delete_group_user(me, &ws, &who, None)),
                )),
                checks::Verdict::Keep(why) => {
                    let name = u
                        .profile
                        .as_ref()
                        .map(|p| format!("profile {}", p.id))
                        .unwrap_or(who);
                    plan.push(keep(format!(
                        "keep {kind} {name} ({right}) on workspace {ws}: {why}"
                    )));
                }
            }
        }
    }
    // Old workspaces: the legacy workspaces of inventory customers the worker serves on the profile flow.
    let mut old: Vec<String> = inv
        .customers
        .iter()
        .filter(|c| on_profile(c))
        .map(|c| c.legacy.workspace_id.to_ascii_lowercase())
        .collect();
    old.sort();
    old.dedup();
    for ws in old {
        let unmoved: Vec<&str> = inv
            .customers
            .iter()
            .filter(|c| !on_profile(c) && c.legacy.workspace_id.eq_ignore_ascii_case(&ws))
            .map(|c| c.id.as_str())
            .collect();
        let users = send(&d, &tokens, cfg.api.get_group_users(sp, &ws), &token)
            .ok()
            .and_then(|b| powerbi::read_group_users(&b).ok());
        match checks::judge_old_workspace(&ws, &reg, &unmoved, users.as_deref(), sp_id, master) {
            checks::Verdict::Remove(why) => plan.push((
                CleanupLine {
                    remove: true,
                    text: format!("delete workspace {ws}: {why}"),
                },
                Some(cfg.api.delete_group(sp, &ws)),
            )),
            checks::Verdict::Keep(why) => plan.push(keep(format!("keep workspace {ws}: {why}"))),
        }
    }
    let mut out = Vec::new();
    for (line, req) in plan {
        if let (true, Some(req)) = (apply, req) {
            send(&d, &tokens, req, &token)
                .map_err(|f| format!("{}: {}", line.text, describe(&f)))?;
        }
        out.push(line);
    }
    Ok(out)
}

/// `migrate plan`: what is left after the state file and, when a worker is configured, its customers.
pub fn plan_left(inv: &Inventory, state_file: &Path) -> Result<Plan, String> {
    let state = load_state(state_file)?;
    let reg = Config::worker_from_env()?
        .map(|w| worker_customers(&driver(None), &w))
        .transpose()?;
    Ok(embedgate_migrate::plan::plan_left(
        inv,
        &state.customers,
        reg.as_ref(),
    ))
}
