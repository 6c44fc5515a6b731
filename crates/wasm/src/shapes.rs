//! The few shapes this layer adds around the core's (editor results with UTF-16 offsets). Their
//! TypeScript types are generated like the core's: a native unit test writes their JSON Schema to
//! `crates/wasm/schemas/wasm.schema.json`, and `scripts/gen-types.mjs` compiles it.

use embedgate_core::{locate::Span, Report};
use serde::Serialize;

#[cfg(all(test, not(target_arch = "wasm32")))]
use schemars::JsonSchema;

/// The result of checking editor text: `report` and one span per diagnostic (same order), or
/// `syntaxError` when the text is not JSON.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    #[cfg_attr(
        all(test, not(target_arch = "wasm32")),
        schemars(with = "Option<ReportRef>")
    )]
    pub report: Option<Report>,
    /// Where each diagnostic's pointer lands in the text (`null`: nowhere).
    pub spans: Vec<Option<TextSpan>>,
    pub syntax_error: Option<SyntaxErrorOut>,
}

/// A place in JSON text. Offsets count UTF-16 code units, as JS strings and `<textarea>` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TextSpan {
    pub start: usize,
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column (characters) of `start`.
    pub column: usize,
    /// False when the pointer's target does not exist and its nearest ancestor is shown.
    pub exact: bool,
}

impl TextSpan {
    pub fn new(text: &str, s: Span) -> Self {
        let start = text[..s.start].encode_utf16().count();
        let end = start + text[s.start..s.end].encode_utf16().count();
        TextSpan {
            start,
            end,
            line: s.line,
            column: s.column,
            exact: s.exact,
        }
    }
}

/// Text that is not JSON: where and why.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyntaxErrorOut {
    pub line: usize,
    pub column: usize,
    /// UTF-16 offset of the error in the text.
    pub offset16: usize,
    pub message: String,
}

/// Stands for the core's `Report` in this schema; the generator points it at the core's type.
#[cfg(all(test, not(target_arch = "wasm32")))]
#[derive(JsonSchema)]
#[schemars(rename = "Report")]
#[allow(dead_code)]
struct ReportRef;
