//! `json::parse` against serde_json, the reference it must match: the same `Value` or the same error
//! (message, line, column). On a hand list of odd texts, on every example scenario, every truncation
//! of it and single-byte replacements by bytes that matter to the grammar, and in proptests.

use std::borrow::Cow;

use embedgate_scan::json::{parse, unescape, Num, SyntaxError, J};
use proptest::prelude::*;
use serde_json::Value;

/// serde_json's answer in this crate's terms (its message without ` at line L column C`).
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

/// `parse` agrees with serde_json: the same value (floats bit for bit, and the same serialised
/// text) or the same error, line and column. Returns whether the text was valid JSON.
fn check(text: &str) -> bool {
    let ours = parse(text).map(|j| j.to_value());
    let theirs = oracle(text);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            assert!(same(a, b), "{text:?}: {a} != {b}");
            assert_eq!(a, b, "{text:?}");
            assert_eq!(a.to_string(), b.to_string(), "{text:?}");
            assert_eq!(&J::from_value(b).to_value(), b);
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

#[test]
fn hand_list() {
    let deep = |n: usize, open: &str, close: &str| open.repeat(n) + &close.repeat(n);
    let mut texts: Vec<String> = [
        "",
        " ",
        " \n\t\r ",
        "\n\n  ",
        "null",
        "true",
        "false",
        "nul",
        "nulx",
        "tru",
        "trUe",
        "fals",
        "n",
        "t",
        "f",
        "x",
        "\u{feff}{}",
        "\u{feff}",
        "é",
        "{}",
        "[]",
        "{ }",
        "[ ]",
        "{}x",
        "[] []",
        "1 2",
        "[1,]",
        "[1,,2]",
        "[,1]",
        "[1 2]",
        "[1",
        "[1,",
        "[",
        "]",
        "{",
        "}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1,\"a\":2}",
        "{\"b\":1,\"a\":[true,null,{}]}",
        "{1:2}",
        "{\"a\":1,2:3}",
        "{\"a",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":1",
        "{\"a\":1,",
        "{\"a\":1,\"",
        "[\"a\",\n  \"b\" \n ,\n]",
        "\"\"",
        "\"",
        "\"abc",
        "\"a\\",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\x\"",
        "\"\\u\"",
        "\"\\u12\"",
        "\"\\u12",
        "\"\\u0041\"",
        "\"\\u00e9\\u00E9\"",
        "\"\\u12g4\"",
        "\"\\uD83D\\uDE00\"",
        "\"\\ud83d\\ude00x\"",
        "\"\\uD83D\"",
        "\"\\uD83D",
        "\"\\uD83D\\",
        "\"\\uD83Dx\"",
        "\"\\uD83D\\n\"",
        "\"\\uD83D\\u0041\"",
        "\"\\uD83D\\uD83D\"",
        "\"\\uDE00\"",
        "\"\\uDBFF\\uDFFF\"",
        "\"\\u0000\"",
        "\"a\u{1}b\"",
        "\"a\nb\"",
        "\"a\tb\"",
        "\"\u{7f}\"",
        "\"é中😀\"",
        "\"a\\u00e9b\"",
        "[\"x\",\n\"\u{1f}\"]",
        "0",
        "-0",
        "-0.0",
        "0.0",
        "00",
        "01",
        "-01",
        "-",
        "-x",
        "--1",
        "+1",
        ".5",
        "1.",
        "1.x",
        "1.e5",
        "1e",
        "1e+",
        "1e-",
        "1ex",
        "1E5",
        "1e-5",
        "1e+5",
        "1.5e3",
        "0.1",
        "0.2",
        "0.3",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "2e308",
        "1e400",
        "-1e400",
        "1e-400",
        "0e400",
        "0e999999999999",
        "1e999999999999",
        "1e-999999999999",
        "-1e-999999999999",
        "4.9e-324",
        "5e-324",
        "2.4e-324",
        "2.5e-324",
        "1e-320",
        "123456789e-330",
        "18446744073709551615",
        "18446744073709551616",
        "18446744073709551615.5",
        "18446744073709551615.",
        "99999999999999999999999",
        "99999999999999999999999.5e-3",
        "-9223372036854775808",
        "-9223372036854775809",
        "-18446744073709551615",
        "-18446744073709551616",
        "9223372036854775807",
        "123456789012345678901234567890e-10",
        "0.30000000000000004",
        "3.141592653589793238462643",
        "2.2250738585072011e-308",
        "2.2250738585072014e-308",
        "1.00000000000000011102230246251565404236316680908203125",
        "9007199254740993",
        "9007199254740993.0",
        "1234567890.1234567890123456789",
        "1e2147483647",
        "1e2147483648",
        "1e-2147483648",
        "1e-2147483649",
        "0.0000000000000000000000000000000000001e40",
        "100000000000000000000000000000000000000000000e-310",
        "[1e400]",
        "{\"a\":1e400}",
        "[-]",
        "[1.]",
        "{\"a\":-}",
        "1 ",
        " 1",
        "1\n",
        "1\nx",
        "[1,\n\n 2,\n x]",
        "{\"a\":\n tru}",
        "[nul]",
        "[nulx]",
        "{\"\\uD800\":1}",
        "{\"a\\nb\":1}",
        "[\"\\u00\"]",
        "\"\\u00\"",
        "\"\\uD83D\\u12\"",
        "\"\\uD83D\\u",
        "\"\\uD83D\\u123",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for n in [126, 127, 128, 129, 200] {
        texts.push(deep(n, "[", "]"));
        texts.push(deep(n, "{\"a\":", "}"));
        texts.push("[".repeat(n));
        texts.push("[{\"a\":".repeat(n / 2) + "1" + &"}]".repeat(n / 2));
    }
    texts.push("[".repeat(100_000));
    texts.push(format!("[{}]", "1,".repeat(1000) + "1"));
    for t in &texts {
        check(t);
    }
}

#[test]
fn borrows_unescaped_strings() {
    let text = r#"{"a": "plain", "b\n": "x\"y"}"#;
    let J::Obj(m) = parse(text).unwrap() else {
        panic!()
    };
    assert!(matches!(&m[0].0, Cow::Borrowed("a")));
    assert!(matches!(&m[0].1, J::Str(Cow::Borrowed("plain"))));
    assert!(matches!(&m[1].0, Cow::Owned(k) if k == "b\n"));
    assert!(matches!(&m[1].1, J::Str(Cow::Owned(s)) if s == "x\"y"));
}

#[test]
fn classifies_numbers() {
    let n = |t: &str| match parse(t).unwrap() {
        J::Num(n) => n,
        j => panic!("{j:?}"),
    };
    assert_eq!(n("18446744073709551615"), Num::Pos(u64::MAX));
    assert_eq!(n("-9223372036854775808"), Num::Neg(i64::MIN));
    assert_eq!(n("-1"), Num::Neg(-1));
    assert!(matches!(n("-0"), Num::Float(f) if f == 0.0 && f.is_sign_negative()));
    assert_eq!(n("1.0"), Num::Float(1.0));
    assert_eq!(n("1e2"), Num::Float(100.0));
    assert_eq!(
        n("18446744073709551616"),
        Num::Float(18446744073709551616.0)
    );
}

#[test]
fn keeps_duplicates_in_order() {
    let j = parse(r#"{"b":1,"a":2,"b":3}"#).unwrap();
    let J::Obj(m) = &j else { panic!() };
    let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, ["b", "a", "b"]);
    assert_eq!(j.to_value(), serde_json::json!({"a": 2, "b": 3}));
}

#[test]
fn unescape_bodies() {
    assert!(matches!(unescape("abc"), Some(Cow::Borrowed("abc"))));
    assert_eq!(unescape("").as_deref(), Some(""));
    assert_eq!(
        unescape(r"a\nb\u00e9\uD83D\uDE00").as_deref(),
        Some("a\nbé😀")
    );
    for bad in [
        "a\"b", "\"", "\\", "a\\", r"\x", r"\u12", r"\uD83D", r"\uDE00", "a\u{1}", r"\uD83D\",
    ] {
        assert_eq!(unescape(bad), None, "{bad:?}");
    }
}

fn unescape_oracle(body: &str) -> Option<String> {
    serde_json::from_str::<String>(&format!("\"{body}\"")).ok()
}

/// JSON-ish text: fragments that meet at every grammar edge.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just(","),
        Just(":"),
        Just("\""),
        Just("\\"),
        Just("\"a\""),
        Just("\"k\":"),
        Just("\"\\u00e9\""),
        Just("\\uD83D"),
        Just("\\uDE00"),
        Just("\\u"),
        Just("\\n"),
        Just("null"),
        Just("true"),
        Just("fal"),
        Just("0"),
        Just("-"),
        Just("1"),
        Just("."),
        Just("e"),
        Just("E+"),
        Just("-0"),
        Just("12345678901234567890"),
        Just("1e308"),
        Just("e-330"),
        Just(" "),
        Just("\n"),
        Just("\t"),
        Just("\u{1}"),
        Just("é"),
        Just("x"),
        Just("9"),
        Just("0.5"),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (any::<u32>(), -330i32..330).prop_map(|(m, e)| Value::from(m as f64 * 10f64.powi(e))),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn random_jsonish(text in jsonish()) {
        check(&text);
    }

    #[test]
    fn random_numbers(text in "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,25})?([eE][+-]?[0-9]{1,4})?") {
        check(&text);
    }

    #[test]
    fn random_values(v in arb_value(), cut in any::<prop::sample::Index>(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
        check(&text);
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        check(&text[..end]);
    }

    #[test]
    fn random_unescape(body in "([a\"\\\\/bfnrtuDdEe0189]|\\\\u[0-9a-fA-FdD]{0,4}|[\u{0}-\u{1f}]|é){0,12}") {
        prop_assert_eq!(unescape(&body).map(Cow::into_owned), unescape_oracle(&body));
    }
}
