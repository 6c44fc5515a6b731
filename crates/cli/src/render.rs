//! rustc-style text output: the offending JSON with a marker under it.

use annotate_snippets::{Level, Renderer, Snippet};
use embedgate_core::locate::locate;
use embedgate_core::{Report, Severity, SyntaxError};

fn level(s: Severity) -> Level {
    match s {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Info => Level::Note,
    }
}

/// Byte range to underline: the span's first line only, so big objects stay readable.
fn first_line(src: &str, start: usize, end: usize) -> std::ops::Range<usize> {
    let end = src[start..end].find('\n').map_or(end, |i| start + i);
    start..end.max(start + 1).min(src.len().max(start + 1))
}

pub fn report(name: &str, src: &str, report: &Report) -> String {
    let renderer = Renderer::plain();
    let mut out = String::new();
    for d in &report.diagnostics {
        let pointer = d.scenario_pointer();
        let span = locate(src, &pointer).unwrap_or(embedgate_core::locate::Span {
            start: 0,
            end: 0,
            line: 1,
            column: 1,
            exact: false,
        });
        let range = first_line(src, span.start, span.end.max(span.start));
        let range = range.start.min(src.len())..range.end.min(src.len());
        let label = if span.exact {
            pointer.clone()
        } else {
            format!("{pointer} (missing; shown at its parent)")
        };
        let help = d.help.clone();
        let fix = d
            .fix
            .as_ref()
            .map(|f| format!("fix available: {}", f.title));
        let cite = d
            .source
            .map(|s| format!("{}: \"{}\"", s.document.title(), s.quote));
        let mut msg = level(d.severity).title(&d.message).id(d.code).snippet(
            Snippet::source(src)
                .origin(name)
                .fold(true)
                .annotation(level(d.severity).span(range).label(&label)),
        );
        if let Some(h) = &help {
            msg = msg.footer(Level::Help.title(h));
        }
        if let Some(f) = &fix {
            msg = msg.footer(Level::Help.title(f));
        }
        if let Some(c) = &cite {
            msg = msg.footer(Level::Note.title(c));
        }
        out.push_str(&renderer.render(msg).to_string());
        out.push_str("\n\n");
    }
    let verdict = match report.verdict {
        embedgate_core::Verdict::Valid => "valid",
        embedgate_core::Verdict::Warning => "valid with warnings",
        embedgate_core::Verdict::Invalid => "invalid",
    };
    out.push_str(&format!(
        "{name}: {verdict} ({}, {}, {})\n",
        counted(report.errors, "error"),
        counted(report.warnings, "warning"),
        counted(report.infos, "note")
    ));
    out
}

/// "1 error", "2 errors".
fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

pub fn syntax_error(name: &str, src: &str, e: &SyntaxError) -> String {
    // serde_json's column is 1-based in characters on its line.
    let line_start: usize = src
        .split_inclusive('\n')
        .take(e.line.saturating_sub(1))
        .map(str::len)
        .sum();
    let line = src[line_start.min(src.len())..]
        .split('\n')
        .next()
        .unwrap_or("");
    let col_byte = line
        .char_indices()
        .nth(e.column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    let at = (line_start + col_byte).min(src.len());
    let range = if at < src.len() { at..at + 1 } else { at..at };
    let msg = Level::Error.title("invalid JSON").snippet(
        Snippet::source(src)
            .origin(name)
            .fold(true)
            .annotation(Level::Error.span(range).label(&e.message)),
    );
    let rendered = Renderer::plain().render(msg).to_string();
    rendered
}
