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
    /// Regenerate docs/rules.md, docs/capabilities.md and docs/schemas/ (`--check`: fail when stale).
    Docs {
        #[arg(long, default_value = "docs")]
        dir: PathBuf,
        #[arg(long)]
        check: bool,
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
                println!("{} (HTTP {})", x.id, x.status);
                println!("  why: {}", x.reason);
                println!("  fix: {}", x.fix);
                for code in x.rules {
                    if let Some(r) = embedgate_core::rule(code) {
                        println!("  rule {}: {}", r.code, r.title);
                    }
                }
                if !x.ids.is_empty() {
                    println!("  ids: {}", x.ids.join(", "));
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
    ];
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
