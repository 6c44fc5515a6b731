//! `embedgate`: the rules core on the command line.

mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use embedgate_core::{check_str, docs, explain, Verdict};

#[derive(Parser)]
#[command(
    name = "embedgate",
    version,
    about = "Check Power BI embed-token requests before Power BI does"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate scenario files. Exit 0: no errors; 1: errors; 2: unusable input.
    /// With --expect: exit 1 only when a file's verdict differs from its `expect` block.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Compare each file's verdict with its `expect` block (exit 1 on any difference).
        #[arg(long)]
        expect: bool,
    },
    /// List the rule catalog.
    Rules {
        #[arg(long, value_enum, default_value_t = RulesFormat::Markdown)]
        format: RulesFormat,
    },
    /// Explain a Power BI or Entra ID error message (or its JSON body).
    Explain {
        text: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the JSON Schema of the scenario document (`--all`: every API shape).
    Schema {
        #[arg(long)]
        all: bool,
    },
    /// Migrate a multi-customer app to service principal profiles (Microsoft's "Migrate multi-customer
    /// applications to the service principal profiles model"). Configuration comes from the environment:
    /// EMBEDGATE_TENANT_ID, EMBEDGATE_CLIENT_ID, EMBEDGATE_CLIENT_SECRET, EMBEDGATE_PBI_API,
    /// EMBEDGATE_AUTHORITY, EMBEDGATE_WORKER_URL, EMBEDGATE_ADMIN_KEY.
    Migrate {
        #[command(subcommand)]
        step: MigrateStep,
    },
    /// Regenerate docs/rules.md, docs/capabilities.md and docs/schemas/ (`--check`: fail when stale).
    Docs {
        #[arg(long, default_value = "docs")]
        dir: PathBuf,
        #[arg(long)]
        check: bool,
    },
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// The inventory (docs/schemas/migration-inventory.schema.json).
    #[arg(long)]
    inventory: PathBuf,
    /// Progress file (default: the inventory's name with `.state.json`).
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(Subcommand)]
enum MigrateStep {
    /// Print what is left to do per customer and per step (after the state file and, with a worker, its
    /// customers), with each customer's identity afterwards.
    Plan {
        #[command(flatten)]
        args: MigrateArgs,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Create profiles, organise workspaces, import items, record each profile in the customer's document
    /// (flow unchanged). Checks the whole inventory against the live state first; leaves customers already on
    /// the profile flow as they are. Resumable: a re-run after a crash converges without duplicates.
    Apply {
        #[command(flatten)]
        args: MigrateArgs,
        /// Customers migrated at the same time.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Act as each customer's profile and check workspace, Admin, items, the core's verdict and GenerateToken,
    /// with the identity the worker builds from the customer's document for its sample user.
    Verify {
        #[command(flatten)]
        args: MigrateArgs,
        /// Also compare the rows the sample user sees on the worker's live legacy document and after rollout
        /// (the emulator's render route).
        #[arg(long)]
        compare_rows: bool,
    },
    /// Move customers to the profile flow through the worker's admin API.
    Rollout {
        #[command(flatten)]
        args: MigrateArgs,
        /// Comma-separated customer ids.
        #[arg(long, value_delimiter = ',', conflicts_with = "percent")]
        customers: Vec<String>,
        /// The first N percent of the inventory's customers.
        #[arg(long)]
        percent: Option<u32>,
        /// Move customers whose verify failed or did not run.
        #[arg(long)]
        force: bool,
    },
    /// Move customers back to the legacy flow (their document as it was before apply).
    Rollback {
        #[command(flatten)]
        args: MigrateArgs,
        #[arg(long, value_delimiter = ',', required = true)]
        customers: Vec<String>,
    },
    /// List (--dry-run) or remove (--apply) the master user's and the service principal's own rows on migrated
    /// customers' workspaces, and old workspaces nothing uses; everything else is listed as kept, with why.
    Cleanup {
        #[command(flatten)]
        args: MigrateArgs,
        /// The master user (UPN) whose rows are redundant; default: the inventory's `masterUser`.
        #[arg(long)]
        master_user: Option<String>,
        #[arg(long, conflicts_with = "apply", required_unless_present = "apply")]
        dry_run: bool,
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RulesFormat {
    Markdown,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            files,
            format,
            expect,
        } => check(&files, format, expect),
        Command::Rules { format } => {
            match format {
                RulesFormat::Markdown => print!("{}", docs::rules_markdown()),
                RulesFormat::Json => println!("{}", pretty(&embedgate_core::CATALOG)),
            }
            ExitCode::SUCCESS
        }
        Command::Explain { text, format } => explain_cmd(&text, format),
        Command::Schema { all } => {
            if all {
                println!("{}", pretty(&embedgate_core::schemas()));
            } else {
                println!("{}", pretty(&embedgate_core::scenario_schema()));
            }
            ExitCode::SUCCESS
        }
        Command::Docs { dir, check } => docs_cmd(&dir, check),
        Command::Migrate { step } => match migrate_cmd(step) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn migrate_cmd(step: MigrateStep) -> Result<ExitCode, String> {
    use embedgate_cli::migrate as m;
    let args = match &step {
        MigrateStep::Plan { args, .. }
        | MigrateStep::Apply { args, .. }
        | MigrateStep::Verify { args, .. }
        | MigrateStep::Rollout { args, .. }
        | MigrateStep::Rollback { args, .. }
        | MigrateStep::Cleanup { args, .. } => args,
    };
    let inv = m::read_inventory(&args.inventory)?;
    let state = m::state_path(&args.inventory, args.state.clone());
    // Every step but plan reads the state file, and most write it.
    let _lock = match step {
        MigrateStep::Plan { .. } => None,
        _ => Some(m::lock_state(&state)?),
    };
    let plan = embedgate_migrate::plan(&inv);
    let dir = args
        .inventory
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    match step {
        MigrateStep::Plan { format, .. } => {
            let left = m::plan_left(&inv, &state)?;
            match format {
                Format::Text => print!("{}", embedgate_migrate::plan::render_text(&left)),
                Format::Json => println!("{}", pretty(&left)),
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateStep::Apply { concurrency, .. } => {
            let r = m::apply(m::Config::from_env()?, &inv, &dir, &state, concurrency)?;
            for (id, why) in &r.skipped {
                eprintln!("skipped {id}: {why}");
            }
            for (id, why) in &r.failed {
                eprintln!("FAILED  {id}: {why}");
            }
            eprintln!(
                "apply: {} customer{} done, {} skipped, {} failed (state in {})",
                r.done,
                if r.done == 1 { "" } else { "s" },
                r.skipped.len(),
                r.failed.len(),
                state.display()
            );
            if !r.failed.is_empty() {
                eprintln!("what Power BI confirmed is kept: fix what is named above and run `migrate apply` again to resume");
            }
            if m::Config::worker_from_env()?.is_none() {
                eprintln!("note: EMBEDGATE_WORKER_URL is not set, so no customer document was read or written: ownership was checked against Power BI's profiles and the state file only");
            }
            Ok(if r.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        MigrateStep::Verify { compare_rows, .. } => {
            let results = m::verify(m::Config::from_env()?, &inv, &plan, &state, compare_rows)?;
            let mut bad = 0;
            for (id, v) in &results {
                if let Some(why) = &v.skipped {
                    println!("skipped {id}: {why}");
                } else if v.problems.is_empty() {
                    println!("ok      {id}");
                } else {
                    bad += 1;
                    for p in &v.problems {
                        println!("FAILED  {id}: {p}");
                    }
                }
                for t in &v.traps {
                    println!("trap    {id}: {t}");
                }
            }
            let skipped = results.iter().filter(|(_, v)| v.skipped.is_some()).count();
            eprintln!(
                "verify: {} of {} customers passed{}",
                results.len() - bad - skipped,
                results.len() - skipped,
                if skipped > 0 {
                    format!(", {skipped} skipped")
                } else {
                    String::new()
                }
            );
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        MigrateStep::Rollout {
            customers,
            percent,
            force,
            ..
        } => {
            let ids: Vec<String> = match percent {
                Some(p) if p <= 100 => {
                    let n = (inv.customers.len() * p as usize).div_ceil(100);
                    inv.customers.iter().take(n).map(|c| c.id.clone()).collect()
                }
                Some(_) => return Err("--percent is 0 to 100".into()),
                None if customers.is_empty() => return Err("give --customers or --percent".into()),
                None => customers,
            };
            let moved = m::set_flow(
                m::Config::from_env()?,
                &inv,
                &plan,
                &state,
                &ids,
                true,
                force,
            )?;
            for (id, what) in &moved {
                println!("{id}: {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateStep::Rollback { customers, .. } => {
            let moved = m::set_flow(
                m::Config::from_env()?,
                &inv,
                &plan,
                &state,
                &customers,
                false,
                true,
            )?;
            for (id, what) in &moved {
                println!("{id}: {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateStep::Cleanup {
            apply, master_user, ..
        } => {
            let lines = m::cleanup(
                m::Config::from_env()?,
                &inv,
                &state,
                master_user.as_deref(),
                apply,
            )?;
            let removed = lines.iter().filter(|l| l.remove).count();
            for l in &lines {
                match (l.remove, apply) {
                    (true, true) => println!("done: {}", l.text),
                    (true, false) => println!("would {}", l.text),
                    (false, _) => println!("{}", l.text),
                }
            }
            eprintln!(
                "cleanup: {removed} removal{}{}, {} kept",
                if removed == 1 { "" } else { "s" },
                if apply { " done" } else { " (dry run)" },
                lines.len() - removed
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn pretty<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialisable")
}

fn check(files: &[PathBuf], format: Format, expect: bool) -> ExitCode {
    let mut unusable = false;
    let mut failed = false;
    let mut json_out = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let src = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                json_out
                    .push(serde_json::json!({"file": name, "error": format!("cannot read: {e}")}));
                unusable = true;
                continue;
            }
        };
        let report = match check_str(&src) {
            Ok(r) => r,
            Err(e) => {
                unusable = true;
                match format {
                    Format::Text => eprintln!("{}", render::syntax_error(&name, &src, &e)),
                    Format::Json => json_out.push(serde_json::json!({"file": name, "error": e.to_string(), "line": e.line, "column": e.column})),
                }
                continue;
            }
        };
        let expected = expect.then(|| expected_verdict(&src)).flatten();
        let mismatch = expected.as_ref().and_then(|(v, codes)| {
            let missing: Vec<&String> = codes.iter().filter(|c| !report.has(c)).collect();
            (report.verdict != *v || !missing.is_empty()).then(|| {
                format!(
                    "expected {v:?} with {codes:?}, got {:?} (missing {missing:?})",
                    report.verdict
                )
            })
        });
        // With --expect the exit code answers "did every file get its documented verdict?".
        failed |= if expect {
            mismatch.is_some()
        } else {
            report.verdict == Verdict::Invalid
        };
        match format {
            Format::Text => {
                print!("{}", render::report(&name, &src, &report));
                if let Some(m) = &mismatch {
                    println!("{name}: expectation failed: {m}");
                }
            }
            Format::Json => {
                let diags: Vec<serde_json::Value> = report
                    .diagnostics
                    .iter()
                    .map(|d| {
                        let mut v = serde_json::to_value(d).expect("serialisable");
                        if let Some(span) =
                            embedgate_core::locate::locate(&src, &d.scenario_pointer())
                        {
                            v["line"] = span.line.into();
                            v["column"] = span.column.into();
                        }
                        v
                    })
                    .collect();
                json_out.push(serde_json::json!({
                    "file": name, "verdict": report.verdict, "errors": report.errors,
                    "warnings": report.warnings, "infos": report.infos, "diagnostics": diags,
                    "expectation": mismatch,
                }));
            }
        }
    }
    if format == Format::Json {
        println!("{}", pretty(&json_out));
    }
    if unusable {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn expected_verdict(src: &str) -> Option<(Verdict, Vec<String>)> {
    let v: serde_json::Value = serde_json::from_str(src).ok()?;
    let e = v.get("expect")?;
    let verdict = serde_json::from_value(e.get("verdict")?.clone()).ok()?;
    let codes = e
        .get("codes")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    Some((verdict, codes))
}

fn explain_cmd(text: &str, format: Format) -> ExitCode {
    let found = explain(text);
    match format {
        Format::Json => println!("{}", pretty(&found)),
        Format::Text => {
            if found.is_empty() {
                println!("no known Power BI or Entra ID error matched");
            }
            for x in &found {
                let status: Vec<String> = x.status.iter().map(u16::to_string).collect();
                println!("{} ({}; HTTP {})", x.title, x.id, status.join(" or "));
                println!("  why: {}", x.reason);
                println!("  fix: {}", x.fix);
                for code in &x.rules {
                    if let Some(r) = embedgate_core::rule(code) {
                        println!("  rule {}: {}", r.code, r.title);
                    }
                }
                for item in &x.items {
                    println!("  {}: {}", item.kind.as_str(), item.id);
                }
            }
        }
    }
    if found.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Every generated file under `dir`, with its content.
fn generated(dir: &std::path::Path) -> Vec<(PathBuf, String)> {
    let mut v = vec![
        (dir.join("rules.md"), docs::rules_markdown()),
        (dir.join("capabilities.md"), docs::capabilities_markdown()),
        // The rules page reads the catalog, docs included, from this file (the module has no docs).
        (
            dir.join("rules.json"),
            pretty(&serde_json::to_value(embedgate_core::CATALOG).expect("catalog")) + "\n",
        ),
    ];
    let inventory =
        serde_json::to_value(schemars::schema_for!(embedgate_migrate::Inventory)).expect("schema");
    v.push((
        dir.join("schemas").join("migration-inventory.schema.json"),
        pretty(&inventory) + "\n",
    ));
    v.push((
        dir.join("schemas").join("edge-api.schema.json"),
        pretty(&embedgate_edge::api::schema()) + "\n",
    ));
    for (name, schema) in embedgate_core::schemas() {
        v.push((
            dir.join("schemas").join(format!("{name}.schema.json")),
            pretty(&schema) + "\n",
        ));
    }
    v
}

fn docs_cmd(dir: &std::path::Path, check: bool) -> ExitCode {
    let mut stale = Vec::new();
    for (path, content) in generated(dir) {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == content {
            continue;
        }
        if check {
            stale.push(path.display().to_string());
        } else {
            if let Some(parent) = path.parent() {
                if let Err(e) = std::fs::create_dir_all(parent) {
                    eprintln!("error: {}: {e}", parent.display());
                    return ExitCode::from(2);
                }
            }
            if let Err(e) = std::fs::write(&path, content) {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(2);
            }
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "stale generated docs (run `make docs`): {}",
            stale.join(", ")
        );
        ExitCode::from(1)
    }
}
