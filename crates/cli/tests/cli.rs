//! The `embedgate` binary end to end: examples, exit codes, output formats, generated docs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embedgate"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("runs")
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_example_gets_its_documented_verdict() {
    let files = examples();
    assert!(files.len() >= 30, "examples missing: {}", files.len());
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let v: serde_json::Value = serde_json::from_str(&src).unwrap();
        let expected = v["expect"]["verdict"]
            .as_str()
            .unwrap_or_else(|| panic!("{} has no expect.verdict", f.display()));
        let out = run(&["check", "--format", "json", f.to_str().unwrap()]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
        let got = json[0]["verdict"].as_str().unwrap();
        assert_eq!(
            got,
            expected,
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        for code in v["expect"]["codes"].as_array().into_iter().flatten() {
            let code = code.as_str().unwrap();
            assert!(
                json[0]["diagnostics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["code"] == code),
                "{}: {code} missing",
                f.display()
            );
        }
        let want_exit = if expected == "invalid" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(want_exit), "{}", f.display());
    }
    // Both seed tables are covered: every RLS row and every dataset type has an example.
    let all: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for model in [
        "\"Import\"",
        "\"DirectQuery\"",
        "AzureAnalysisServicesLive",
        "SqlServerAnalysisServicesLive",
        "DirectQueryAzureSqlSso",
        "PaginatedReport",
    ] {
        assert!(all.contains(model), "no example uses {model}");
    }
}

#[test]
fn check_all_examples_with_expect_passes() {
    let files: Vec<String> = examples()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["check", "--expect"];
    args.extend(files.iter().map(String::as_str));
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("expectation failed"), "{stdout}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "every example gets its documented verdict"
    );
    // A wrong expectation makes it fail.
    let dir = std::env::temp_dir().join(format!("embedgate-expect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src =
        std::fs::read_to_string(root().join("examples/rls-cloud-sp-no-identity.json")).unwrap();
    let wrong = dir.join("wrong.json");
    std::fs::write(
        &wrong,
        src.replace("\"verdict\": \"invalid\"", "\"verdict\": \"valid\""),
    )
    .unwrap();
    let out = run(&["check", "--expect", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("expectation failed"));
}

#[test]
fn text_output_shows_the_snippet_with_a_marker() {
    let out = run(&["check", "examples/request-misspelt-identities.json"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("error[EG0001]: unknown field `identites`"),
        "{s}"
    );
    assert!(
        s.contains("--> examples/request-misspelt-identities.json:58:5"),
        "{s}"
    );
    assert!(s.contains("\"identites\": ["), "{s}");
    assert!(s.contains("^^^^"), "{s}");
    assert!(s.contains("did you mean `identities`?"), "{s}");
}

#[test]
fn unusable_input_exits_2_with_line_and_column() {
    let dir = std::env::temp_dir().join(format!("embedgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"caller\": {\n    \"principalType\": \"App\",,\n  }\n}\n",
    )
    .unwrap();
    let out = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid JSON") && err.contains(":3:"), "{err}");
    let out = run(&["check", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = run(&["check", "--format", "json", bad.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["line"], 3);
}

#[test]
fn valid_file_exits_0() {
    let out = run(&["check", "examples/rls-cloud-sp-with-identity.json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid (0 errors"));
}

#[test]
fn rules_explain_and_schema_commands() {
    let out = run(&["rules", "--format", "json"]);
    let rules: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rules.as_array().unwrap().len(),
        embedgate_core::CATALOG.len()
    );
    assert!(rules[0]["source"]["quote"]
        .as_str()
        .is_some_and(|q| !q.is_empty()));

    let out = run(&["explain", "Creating embed token for accessing dataset 1 requires roles to be included in provided effective identity"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rule EG0206"));
    // The heading in words, the status the text states, the kind of each id.
    let out = run(&["explain", "403 Unauthorized: dataset d1d1d1d1-0000-4000-8000-000000000001 PowerBINotAuthorizedException"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("The caller may not reach this item (not-authorized; HTTP 403)"),
        "{text}"
    );
    assert!(
        text.contains("  dataset: d1d1d1d1-0000-4000-8000-000000000001"),
        "{text}"
    );
    let out = run(&["explain", "no such error"]);
    assert_eq!(out.status.code(), Some(1));

    let out = run(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        schema["properties"]["request"].is_object() && schema["properties"]["caller"].is_object()
    );
}

#[test]
fn generated_docs_are_fresh() {
    let out = run(&["docs", "--check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "docs are stale: run `make docs`\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
