//! Request shape: unknown fields, type errors, empty and mixed-version bodies, duplicates.

use super::{Emitter, Family, Rule};
use crate::diag::{doc_pointer, Fix, Location, PatchOp, Severity};
use crate::parse::{did_you_mean, Parsed};
use crate::sources::field_source;
use crate::sources::{cite, Document};

/// V2-only body fields; a V1 body carrying them is reported by EG0004, not as unknown.
const V2_ONLY: &[&str] = &[
    "datasets",
    "reports",
    "targetWorkspaces",
    "datasourceIdentities",
];
/// V1-only body fields; a V2 body carrying them is reported by EG0505.
pub(super) const V1_ONLY: &[&str] = &["accessLevel", "allowSaveAs", "datasetId"];

pub const UNKNOWN_FIELD: Rule = Rule {
    code: "EG0001",
    name: "unknown-field",
    family: Family::Request,
    severity: Severity::Error,
    title: "Field not defined by the Power BI REST API",
    #[cfg(feature = "rule-docs")]
    doc: "Power BI ignores request fields it does not define, so a misspelt `identites` silently mints a token \
          without row-level security. Unknown request fields are errors. In the scenario metadata, fields Power BI's \
          GET endpoints return are accepted; a field close to a known one is reported as a likely typo (warning), and \
          an unknown top-level scenario field is a warning. A finding cites nothing: no document names a field that \
          does not exist (the source below is where the defined fields are listed).",
    source: cite(
        Document::Swagger,
        "GenerateTokenRequestV2 / EffectiveIdentity",
        "identities: The list of identities to use for row-level security rules",
    ),
    check: |ctx, e| unknown_fields(ctx.parsed, e),
};

/// Whether the scenario's endpoint takes a V1 body (read from the scenario, since a body with a
/// shape error is not typed).
fn v1_body(parsed: &Parsed) -> bool {
    parsed
        .scenario
        .as_ref()
        .is_some_and(|s| !s.endpoint.is_v2())
}

pub(super) fn unknown_fields(parsed: &Parsed, e: &mut Emitter) {
    let v1_body = v1_body(parsed);
    for u in &parsed.unknown {
        let top_level_request =
            u.location == Location::Request && u.pointer.matches('/').count() == 1;
        if top_level_request
            && ((v1_body && V2_ONLY.contains(&u.key.as_str()))
                || (!v1_body && V1_ONLY.contains(&u.key.as_str())))
        {
            continue;
        }
        if u.known.iter().any(|k| *k == u.key) {
            continue; // a service field the scenario accepts and does not need
        }
        let guess = did_you_mean(&u.key, u.known);
        let parent = &u.pointer[..u.pointer.rfind('/').unwrap_or(0)];
        let severity = match u.location {
            Location::Request => Severity::Error,
            Location::Scenario if parent.is_empty() || guess.is_some() => Severity::Warning,
            Location::Scenario => continue,
        };
        let what = match u.location {
            Location::Request => "Power BI ignores it",
            Location::Scenario => "Embedgate ignores it",
        };
        // No document names a field that does not exist: the finding cites nothing.
        let f = e
            .report_as(
                severity,
                u.location,
                &u.pointer,
                format!("unknown field `{}`: {what}", u.key),
            )
            .source(None);
        match guess {
            Some(g) => {
                let from = doc_pointer(u.location, &u.pointer);
                let to = doc_pointer(u.location, &format!("{parent}/{g}"));
                f.help(format!("did you mean `{g}`?")).fix(Fix {
                    title: format!("rename `{}` to `{g}`", u.key),
                    patch: vec![PatchOp::rename(from, to)],
                });
            }
            None if !u.known.is_empty() => {
                f.help(format!("valid fields here: {}", u.known.join(", ")));
            }
            None => {}
        }
    }
}

pub const SHAPE: Rule = Rule {
    code: "EG0002",
    name: "wrong-type",
    family: Family::Request,
    severity: Severity::Error,
    title: "Value of the wrong type, or a required field missing",
    #[cfg(feature = "rule-docs")]
    doc: "The value does not have the type the swagger (or the scenario schema) defines. Rules that need the value are \
          skipped until it is fixed. Each finding cites the swagger's own words for its field (type and description), \
          or the definition's `required` list for a missing field; a finding on the scenario's own fields (Embedgate's \
          schema, not Microsoft's) cites nothing.",
    source: cite(Document::Swagger, "definitions", "\"required\": [\"id\"] ... \"type\": \"array\""),
    check: |ctx, e| shape_errors(ctx.parsed, e),
};

pub(super) fn shape_errors(parsed: &Parsed, e: &mut Emitter) {
    let v1 = v1_body(parsed);
    for s in &parsed.shape_errors {
        // The field's own swagger words, or its definition's `required` list for a missing one;
        // nothing for the scenario's own fields (Embedgate's schema, not Microsoft's).
        let missing = s
            .message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'));
        let source = field_source(s.location, &s.pointer, v1, missing);
        e.report(s.location, &s.pointer, s.message.clone())
            .source(source);
    }
}

pub const EMPTY_REQUEST: Rule = Rule {
    code: "EG0003",
    name: "empty-request",
    family: Family::Request,
    severity: Severity::Error,
    title: "A V2 request must name at least one report or dataset",
    #[cfg(feature = "rule-docs")]
    doc: "A GenerateToken V2 body without reports and datasets embeds nothing.",
    source: cite(
        Document::Swagger,
        "GenerateTokenRequestV2",
        "datasets: A list of datasets; reports: A list of reports",
    ),
    check: |ctx, e| {
        if let Some(b) = ctx.v2 {
            let empty = |l: &Option<Vec<_>>| l.as_ref().is_none_or(|v: &Vec<_>| v.is_empty());
            if empty(&b.reports) && b.datasets.as_ref().is_none_or(|v| v.is_empty()) {
                e.report(
                    Location::Request,
                    "",
                    "the request embeds nothing: add `reports` or `datasets`",
                );
            }
        }
    },
};

pub const V1_BODY_V2_FIELDS: Rule = Rule {
    code: "EG0004",
    name: "v1-body-with-v2-fields",
    family: Family::Request,
    severity: Severity::Error,
    title: "V2 item lists sent to a V1 endpoint",
    #[cfg(feature = "rule-docs")]
    doc: "`reports`, `datasets`, `targetWorkspaces` and `datasourceIdentities` exist only in GenerateToken V2 \
          (`POST /v1.0/myorg/GenerateToken`). A V1 endpoint ignores them, so the token does not cover those items.",
    source: cite(
        Document::TokenConsiderations,
        "Token permissions",
        "The token permissions listed in this section are not applicable for the Generate token for multiple reports API.",
    ),
    check: |ctx, e| {
        if ctx.scenario.endpoint.is_v2() {
            return;
        }
        for u in &ctx.parsed.unknown {
            if u.location == Location::Request && u.pointer.matches('/').count() == 1 && V2_ONLY.contains(&u.key.as_str()) {
                e.report(Location::Request, &u.pointer, format!("`{}` is a GenerateToken V2 field; this V1 endpoint ignores it", u.key))
                    .help("call `POST /v1.0/myorg/GenerateToken` (endpoint kind `GenerateTokenV2`) to embed several items");
            }
        }
    },
};

fn report_repeats<'a>(e: &mut Emitter, name: &str, ids: impl Iterator<Item = &'a str> + Clone) {
    for group in super::index::repeated(ids.clone()) {
        for &i in &group[1..] {
            let id = ids.clone().nth(i).unwrap_or_default();
            e.report(
                Location::Request,
                format!("/{name}/{i}"),
                format!("`{id}` is already listed in `{name}`"),
            )
            .fix(Fix {
                title: "remove the duplicate".into(),
                patch: vec![PatchOp::remove(format!("/request/{name}/{i}"))],
            });
        }
    }
}

pub const DUPLICATE_ITEM: Rule = Rule {
    code: "EG0005",
    name: "duplicate-item",
    family: Family::Request,
    severity: Severity::Warning,
    title: "The same id appears twice in a list",
    #[cfg(feature = "rule-docs")]
    doc: "Listing an item twice is redundant and usually hides a copy-paste mistake (the item meant is missing).",
    source: cite(Document::Embedgate, "", "Each item is listed once."),
    check: |ctx, e| {
        let Some(b) = ctx.v2 else { return };
        report_repeats(e, "reports", b.reports.iter().flatten().map(|r| r.id.as_str()));
        report_repeats(e, "datasets", b.datasets.iter().flatten().map(|r| r.id.as_str()));
        let targets = b.target_workspaces.iter().flatten();
        report_repeats(e, "targetWorkspaces", targets.map(|r| r.id.as_str()));
    },
};
