//! `json::parse` against serde_json on every example scenario, every truncation of it and every
//! single-byte replacement by a byte that matters to the grammar: the same `Value` or the same
//! error (message, line, column).

use embedgate_core::json::{parse, J};
use embedgate_core::SyntaxError;
use serde_json::Value;

fn oracle(text: &str) -> Result<Value, SyntaxError> {
    serde_json::from_str::<Value>(text).map_err(|e| {
        let m = e.to_string();
        let end = m.rfind(" at line ").unwrap_or(m.len());
        SyntaxError {
            line: e.line(),
            column: e.column(),
            message: m[..end].to_string(),
        }
    })
}

/// `Value` equality with floats compared bit for bit (`==` takes -0.0 for 0.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(f), Some(g)) if x.is_f64() => y.is_f64() && f.to_bits() == g.to_bits(),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((k, x), (l, y))| k == l && same(x, y))
        }
        _ => a == b,
    }
}

/// Compares, returning whether the text was valid JSON.
fn check(text: &str) -> bool {
    let ours = parse(text).map(|j| j.to_value());
    let theirs = oracle(text);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            assert!(same(a, b), "{text:?}: {a} != {b}");
            true
        }
        _ => {
            assert_eq!(ours, theirs, "{text:?}");
            false
        }
    }
}

fn examples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 10, "examples found: {}", out.len());
    out
}

#[test]
fn examples_parse_like_serde_json() {
    for (name, text) in examples() {
        assert!(check(&text), "{name}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(J::from_value(&v).to_value(), v, "{name}");
    }
}

#[test]
fn every_truncation_of_every_example() {
    let mut n = 0;
    for (_, text) in examples() {
        for end in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
            check(&text[..end]);
            n += 1;
        }
    }
    assert!(n > 1000);
}

/// Replaces each ASCII byte at the positions `keep` selects by each byte of `BYTES`; returns
/// (texts, valid ones).
fn replacements(keep: impl Fn(usize, usize) -> bool) -> (usize, usize) {
    const BYTES: &[u8] = b"\"\\{}[],:0-e. \na\x01";
    let (mut n, mut valid) = (0, 0);
    for (f, (_, text)) in examples().into_iter().enumerate() {
        let mut bytes = text.into_bytes();
        for i in (0..bytes.len()).filter(|&i| keep(f, i)) {
            let orig = bytes[i];
            if orig >= 0x80 {
                continue; // keep the text UTF-8
            }
            for &b in BYTES.iter().filter(|&&b| b != orig) {
                bytes[i] = b;
                valid += check(std::str::from_utf8(&bytes).unwrap()) as usize;
                n += 1;
            }
            bytes[i] = orig;
        }
    }
    (n, valid)
}

/// Every eighth position (a different eighth per file), so that the default run stays quick.
#[test]
fn byte_replacements_of_every_example() {
    let (n, valid) = replacements(|f, i| (i + f) % 8 == 0);
    assert!(n > 10_000 && valid > 0, "{n} texts, {valid} valid");
}

/// Every position: ~880,000 texts, about two minutes unoptimised. Run with `--include-ignored`.
#[test]
#[ignore]
fn every_byte_replacement_of_every_example() {
    let (n, valid) = replacements(|_, _| true);
    assert!(n > 100_000 && valid > 0, "{n} texts, {valid} valid");
}
