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
    pub source: &'static Source,
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

/// Applies a fix to a scenario document. Errors name the failing operation.
pub fn apply_fix(doc: &mut Value, fix: &Fix) -> Result<(), String> {
    let ops = serde_json::to_value(&fix.patch).map_err(|e| e.to_string())?;
    let patch: json_patch::Patch = serde_json::from_value(ops).map_err(|e| e.to_string())?;
    json_patch::patch(doc, &patch).map_err(|e| e.to_string())
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
        diagnostics.sort_by(|a, b| {
            (a.location, PointerKey(&a.pointer), a.code, &a.message).cmp(&(
                b.location,
                PointerKey(&b.pointer),
                b.code,
                &b.message,
            ))
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
