//! Scenario completeness: what the rules could not check because the scenario does not say.

use super::{Described, Family, ItemKind, Rule};
use crate::capabilities::RlsType;
use crate::diag::{Location, Severity};
use crate::powerbi::PrincipalType;
use crate::sources::{cite, Document};

pub const CALLER_INCOMPLETE: Rule = Rule {
    code: "EG0701",
    name: "caller-incomplete",
    family: Family::Scenario,
    severity: Severity::Warning,
    title: "The caller is a master user (with upn) or a service principal (with objectId)",
    #[cfg(feature = "rule-docs")]
    doc: "GenerateToken is called by a master user or a service principal (“Considerations when generating an embed token”). Without the UPN or object id the \
          username rules of Azure Analysis Services cannot be checked.",
    source: cite(
        Document::TokenConsiderations,
        "Considerations when generating an embed token",
        "The generate token API uses a single identity (a master user or service principal) to generate a token for an individual user",
    ),
    check: |ctx, e| {
        let c = &ctx.scenario.caller;
        match c.principal_type {
            PrincipalType::App if c.object_id.is_none() => {
                e.report(Location::Scenario, "/caller", "the service principal's objectId is not given");
            }
            PrincipalType::User if c.upn.is_none() => {
                e.report(Location::Scenario, "/caller", "the master user's upn is not given");
            }
            PrincipalType::Group | PrincipalType::None => {
                e.report_as(Severity::Error, Location::Scenario, "/caller/principalType", "GenerateToken is called by a User (master user) or an App (service principal)");
            }
            _ => {}
        }
    },
};

pub const ITEM_NOT_DESCRIBED: Rule = Rule {
    code: "EG0702",
    name: "item-not-described",
    family: Family::Scenario,
    severity: Severity::Warning,
    title: "Every item the request names is described in the scenario",
    #[cfg(feature = "rule-docs")]
    doc: "Without a report's or dataset's metadata its RLS rules cannot be checked: the verdict would be blind.",
    source: cite(Document::Embedgate, "Scenario", "Rules only check what the scenario describes."),
    check: |ctx, e| {
        for it in &ctx.items {
            let known = match it.kind {
                ItemKind::Report | ItemKind::PaginatedReport => it.report.is_some(),
                ItemKind::Dashboard | ItemKind::Tile => ctx.items.is_empty() || !it.dataset_ids.is_empty(),
                ItemKind::Dataset | ItemKind::CreateReport => true,
            };
            if !known {
                e.report(it.location, it.pointer, format!("`{}` is not described in the scenario: its rules were skipped", it.id));
            }
        }
        for d in &ctx.datasets {
            if d.described.is_none() {
                e.report(d.location, d.pointer, format!("dataset `{}` is not described in the scenario: its rules were skipped", d.id));
            }
        }
    },
};

pub const MODEL_KIND_ASSUMED: Rule = Rule {
    code: "EG0703",
    name: "model-kind-assumed",
    family: Family::Scenario,
    severity: Severity::Info,
    title: "A dataset without `model` or Analysis Services data sources is taken as Import",
    #[cfg(feature = "rule-docs")]
    doc: "Set `model` to be explicit (DirectQuery to Azure SQL with SSO cannot be inferred).",
    source: cite(
        Document::Embedgate,
        "Scenario",
        "The model kind decides the identity rules (“Set effective identity”).",
    ),
    check: |ctx, e| {
        for d in &ctx.datasets {
            if let Some(Described { meta, .. }) = d.described {
                if meta.model.is_none() && meta.datasources.as_ref().is_none_or(Vec::is_empty) {
                    e.report(
                        d.location,
                        d.pointer,
                        format!("dataset `{}` is taken as an Import model", d.id),
                    );
                }
            }
        }
    },
};

pub const RLS_UNKNOWN: Rule = Rule {
    code: "EG0704",
    name: "rls-unknown",
    family: Family::Scenario,
    severity: Severity::Warning,
    title: "Whether a dataset uses RLS is known",
    #[cfg(feature = "rule-docs")]
    doc: "Give the model's `roles` (`[]` for none) or `isEffectiveIdentityRequired` (from GET dataset).",
    source: cite(Document::Embedgate, "Scenario", "Rules only check what the scenario describes."),
    check: |ctx, e| {
        for d in &ctx.datasets {
            if d.described.is_some_and(|m| m.rls == RlsType::Unknown) {
                e.report(d.location, d.pointer, format!("it is not known whether dataset `{}` uses row-level security", d.id))
                    .help("add `roles` (the model's RLS roles, [] for none) or `isEffectiveIdentityRequired`");
            }
        }
    },
};
