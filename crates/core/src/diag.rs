//! Diagnostics: what a rule reports, where (a JSON Pointer), why (the cited source) and how to fix it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

use crate::sources::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Which document a pointer points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// The GenerateToken request body (`scenario.request`).
    Request,
    /// The scenario document around it.
    Scenario,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub code: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    pub location: Location,
    /// RFC 6901 JSON Pointer into the document named by `location`.
    pub pointer: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The sentence the finding rests on; none where no document says it (an unknown field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// The pointer relative to the scenario root (request pointers gain `/request`).
    pub fn scenario_pointer(&self) -> String {
        doc_pointer(self.location, &self.pointer)
    }
}

/// A pointer relative to the scenario root.
pub fn doc_pointer(location: Location, pointer: &str) -> String {
    match location {
        Location::Request => format!("/request{pointer}"),
        Location::Scenario => pointer.to_string(),
    }
}

/// A machine-applicable fix: an RFC 6902 JSON Patch over the scenario document (request paths
/// start with `/request`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Fix {
    pub title: String,
    pub patch: Vec<PatchOp>,
}

impl Fix {
    pub const FIELDS: &'static [&'static str] = &["title", "patch"];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct PatchOp {
    pub op: PatchKind,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Source path of a `move`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PatchKind {
    Add,
    Remove,
    Replace,
    Move,
}

impl PatchOp {
    pub const FIELDS: &'static [&'static str] = &["op", "path", "value", "from"];

    pub fn add(path: impl Into<String>, value: Value) -> Self {
        PatchOp {
            op: PatchKind::Add,
            path: path.into(),
            value: Some(value),
            from: None,
        }
    }
    pub fn replace(path: impl Into<String>, value: Value) -> Self {
        PatchOp {
            op: PatchKind::Replace,
            path: path.into(),
            value: Some(value),
            from: None,
        }
    }
    pub fn remove(path: impl Into<String>) -> Self {
        PatchOp {
            op: PatchKind::Remove,
            path: path.into(),
            value: None,
            from: None,
        }
    }
    pub fn rename(from: impl Into<String>, to: impl Into<String>) -> Self {
        PatchOp {
            op: PatchKind::Move,
            path: to.into(),
            value: None,
            from: Some(from.into()),
        }
    }
}

/// Applies a fix to a scenario document: RFC 6902 `add`, `remove`, `replace` and `move`, all or
/// nothing. Errors name the failing operation (`operation '/0' failed at path '/x': path is
/// invalid`, the wording of the `json-patch` crate this replaces).
pub fn apply_fix(doc: &mut Value, fix: &Fix) -> Result<(), String> {
    let mut out = doc.clone();
    for (i, op) in fix.patch.iter().enumerate() {
        let value = || op.value.clone().ok_or("missing field `value`".to_string());
        let res = match op.op {
            PatchKind::Add => patch_add(&mut out, &op.path, value()?),
            PatchKind::Remove => patch_remove(&mut out, &op.path).map(drop),
            PatchKind::Replace => match valid_pointer(&op.path)
                .then(|| out.pointer_mut(&op.path))
                .flatten()
            {
                Some(target) => {
                    *target = value()?;
                    Ok(())
                }
                None => Err(PATH_INVALID),
            },
            PatchKind::Move => {
                let from = op.from.as_deref().ok_or("missing field `from`")?;
                let inside = op.path.len() > from.len()
                    && op.path.starts_with(from)
                    && op.path.as_bytes()[from.len()] == b'/';
                if inside {
                    Err("cannot move the value inside itself")
                } else {
                    match patch_remove(&mut out, from) {
                        Ok(v) => patch_add(&mut out, &op.path, v),
                        Err(_) => Err("\"from\" path is invalid"),
                    }
                }
            }
        };
        res.map_err(|kind| format!("operation '/{i}' failed at path '{}': {kind}", op.path))?;
    }
    *doc = out;
    Ok(())
}

const PATH_INVALID: &str = "path is invalid";

/// An RFC 6901 pointer: empty, or `/` tokens where `~` is followed by `0` or `1`.
fn valid_pointer(p: &str) -> bool {
    (p.is_empty() || p.starts_with('/'))
        && p.split('~')
            .skip(1)
            .all(|rest| rest.starts_with('0') || rest.starts_with('1'))
}

/// The parent of a pointer's target and its last token (decoded); `None` for the root.
fn split_pointer(p: &str) -> Option<(&str, String)> {
    let (parent, last) = p.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

/// An array index token: digits without leading zeros, or `-` (one past the end).
fn array_index(token: &str, len: usize) -> Option<usize> {
    if token == "-" {
        return Some(len);
    }
    if token.is_empty() || (token.starts_with('0') && token != "0") {
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

fn patch_add(doc: &mut Value, path: &str, value: Value) -> Result<(), &'static str> {
    if !valid_pointer(path) {
        return Err(PATH_INVALID);
    }
    let Some((parent, last)) = split_pointer(path) else {
        *doc = value;
        return Ok(());
    };
    match doc.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.insert(last, value);
            Ok(())
        }
        Some(Value::Array(a)) => match array_index(&last, a.len()) {
            Some(i) if i <= a.len() => {
                a.insert(i, value);
                Ok(())
            }
            _ => Err(PATH_INVALID),
        },
        _ => Err(PATH_INVALID),
    }
}

fn patch_remove(doc: &mut Value, path: &str) -> Result<Value, &'static str> {
    if !valid_pointer(path) {
        return Err(PATH_INVALID);
    }
    let (parent, last) = split_pointer(path).ok_or(PATH_INVALID)?;
    match doc.pointer_mut(parent) {
        Some(Value::Object(m)) => m.remove(&last).ok_or(PATH_INVALID),
        Some(Value::Array(a)) => match array_index(&last, a.len()) {
            Some(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(PATH_INVALID),
        },
        _ => Err(PATH_INVALID),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No errors and no warnings (notes may remain).
    Valid,
    /// Warnings but no errors: Power BI would accept it, but something is likely wrong.
    Warning,
    /// At least one error: Power BI would reject it, or it would leak data.
    Invalid,
}

/// The outcome of validating one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Report {
    pub verdict: Verdict,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn from_diagnostics(mut diagnostics: Vec<Diagnostic>) -> Self {
        crate::sort::sort_by(&mut diagnostics, |a, b| {
            (a.location, PointerKey(&a.pointer), a.code, &a.message)
                < (b.location, PointerKey(&b.pointer), b.code, &b.message)
        });
        diagnostics.dedup();
        let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
        let (errors, warnings, infos) = (
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info),
        );
        let verdict = if errors > 0 {
            Verdict::Invalid
        } else if warnings > 0 {
            Verdict::Warning
        } else {
            Verdict::Valid
        };
        Report {
            verdict,
            errors,
            warnings,
            infos,
            diagnostics,
        }
    }
    pub fn has(&self, code: &str) -> bool {
        self.diagnostics.iter().any(|d| d.code == code)
    }
}

/// Orders pointers by document position: array indexes compare as numbers.
#[derive(PartialEq, Eq)]
struct PointerKey<'a>(&'a str);

impl Ord for PointerKey<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let mut a = self.0.split('/');
        let mut b = other.0.split('/');
        loop {
            match (a.next(), b.next()) {
                (None, None) => return std::cmp::Ordering::Equal,
                (None, Some(_)) => return std::cmp::Ordering::Less,
                (Some(_), None) => return std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => {
                    let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(i), Ok(j)) => i.cmp(&j),
                        _ => x.cmp(y),
                    };
                    if o.is_ne() {
                        return o;
                    }
                }
            }
        }
    }
}

impl PartialOrd for PointerKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Escapes one reference token for a JSON Pointer (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fix(ops: Value) -> Fix {
        serde_json::from_value(json!({"title": "t", "patch": ops})).unwrap()
    }

    #[test]
    fn patch_operations() {
        let mut d = json!({"a": [1, 2], "b": {"c~/": 1}});
        apply_fix(
            &mut d,
            &fix(json!([
                {"op": "add", "path": "/a/-", "value": 3},
                {"op": "add", "path": "/a/0", "value": 0},
                {"op": "remove", "path": "/a/1"},
                {"op": "replace", "path": "/b/c~0~1", "value": 2},
                {"op": "move", "from": "/b", "path": "/d"},
                {"op": "add", "path": "/d/e", "value": [null]}
            ])),
        )
        .unwrap();
        assert_eq!(d, json!({"a": [0, 2, 3], "d": {"c~/": 2, "e": [null]}}));
    }

    #[test]
    fn failing_patches_leave_the_document_alone() {
        let before = json!({"a": [1], "b": {}});
        for (ops, msg) in [
            (
                json!([{"op": "remove", "path": "/x/y"}]),
                "operation '/0' failed at path '/x/y': path is invalid",
            ),
            (
                json!([{"op": "add", "path": "/a/5", "value": 1}]),
                "operation '/0' failed at path '/a/5': path is invalid",
            ),
            (
                json!([{"op": "add", "path": "/a/01", "value": 1}]),
                "operation '/0' failed at path '/a/01': path is invalid",
            ),
            (
                json!([{"op": "remove", "path": "/a/-"}]),
                "operation '/0' failed at path '/a/-': path is invalid",
            ),
            (
                json!([{"op": "add", "path": "/b/x", "value": 1}, {"op": "replace", "path": "/c", "value": 1}]),
                "operation '/1' failed at path '/c': path is invalid",
            ),
            (
                json!([{"op": "move", "from": "/b", "path": "/b/x"}]),
                "operation '/0' failed at path '/b/x': cannot move the value inside itself",
            ),
            (
                json!([{"op": "move", "from": "/z", "path": "/y"}]),
                "operation '/0' failed at path '/y': \"from\" path is invalid",
            ),
        ] {
            let mut d = before.clone();
            assert_eq!(apply_fix(&mut d, &fix(ops)).unwrap_err(), msg);
            assert_eq!(d, before);
        }
    }

    /// Same documents and errors as the `json-patch` crate, for every op at many paths.
    #[test]
    fn same_as_json_patch() {
        let doc = json!({"a": [1, {"x": 2}], "b": {"c~/": 1, "d": []}, "e": null});
        let paths = [
            "", "/", "/a", "/a/0", "/a/1/x", "/a/2", "/a/-", "/a/01", "/a/+1", "/b", "/b/c~0~1",
            "/b/d/0", "/b/d/-", "/e", "/e/x", "/z", "/z/y", "a", "/b~2",
        ];
        for op in ["add", "remove", "replace", "move"] {
            for path in paths {
                for from in ["/a/0", "/b", "/b/d", "/z", "/a"] {
                    let ops = json!([{"op": op, "path": path, "value": 7, "from": from}]);
                    let mut mine = doc.clone();
                    let r = apply_fix(&mut mine, &fix(ops.clone()));
                    let mut theirs = doc.clone();
                    let p: Result<json_patch::Patch, _> = serde_json::from_value(ops);
                    let Ok(p) = p else { continue };
                    let t = json_patch::patch(&mut theirs, &p).map_err(|e| e.to_string());
                    assert_eq!(r, t, "{op} {path} from {from}");
                    // (On failure json-patch can leave half a `move` applied; here nothing is.)
                    if r.is_ok() {
                        assert_eq!(mine, theirs, "{op} {path} from {from}");
                    } else {
                        assert_eq!(mine, doc);
                    }
                }
            }
        }
    }
}
