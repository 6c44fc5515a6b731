//! Effective identity per dataset type (*Set effective identity*) and the identity list's structure.

use super::{Ctx, Described, Family, Rule};
use crate::capabilities::RlsType;
use crate::diag::{Fix, Location, PatchOp, Severity};
use crate::powerbi::EffectiveIdentity;
use crate::scenario::ModelKind;
use crate::sources::{cite, Document};
use crate::text::closest;

/// A fix that takes dataset `j` out of identity `i` (or drops the identity if it was its only one).
pub(super) fn drop_dataset_from_identity(
    ctx: &Ctx,
    i: usize,
    j: usize,
    id: &EffectiveIdentity,
) -> Fix {
    if id.datasets.as_ref().map_or(0, Vec::len) <= 1
        && id.reports.as_ref().is_none_or(Vec::is_empty)
    {
        // The last identity takes the list with it: the service reads `"identities": []` as a
        // request for identities and none given.
        let path = if ctx.identities.len() == 1 {
            "/request/identities".to_string()
        } else {
            format!("/request/identities/{i}")
        };
        Fix {
            title: "remove this identity".into(),
            patch: vec![PatchOp::remove(path)],
        }
    } else {
        Fix {
            title: "remove the dataset from this identity".into(),
            patch: vec![PatchOp::remove(format!(
                "/request/identities/{i}/datasets/{j}"
            ))],
        }
    }
}

pub const IDENTITY_DATASETS_REQUIRED: Rule = Rule {
    code: "EG0201",
    name: "identity-datasets-required",
    family: Family::Identity,
    severity: Severity::Error,
    title: "Every effective identity lists the datasets it applies to",
    #[cfg(feature = "rule-docs")]
    doc: "An identity for paginated reports may list `reports` instead.",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity",
        "Datasets: (Required) A list of DatasetIDs.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            let no_datasets = id.datasets.as_ref().is_none_or(Vec::is_empty);
            let no_reports = id.reports.as_ref().is_none_or(Vec::is_empty);
            if no_datasets && no_reports {
                let f = e.report(
                    Location::Request,
                    format!("/identities/{i}/datasets"),
                    "this identity lists no datasets",
                );
                if let [d] = ctx.datasets.as_slice() {
                    f.fix(Fix {
                        title: format!("apply it to dataset {}", d.id),
                        patch: vec![PatchOp::add(
                            format!("/request/identities/{i}/datasets"),
                            serde_json::json!([d.id]),
                        )],
                    });
                }
            }
        }
    },
};

pub const IDENTITY_DATASET_NOT_EMBEDDED: Rule = Rule {
    code: "EG0202",
    name: "identity-dataset-not-embedded",
    family: Family::Identity,
    severity: Severity::Error,
    title: "An identity names only datasets the token embeds",
    #[cfg(feature = "rule-docs")]
    doc: "An identity for a dataset the token does not cover is usually a wrong id: the dataset meant gets no \
          identity. Checked only when every embedded item is described in the scenario. The emulator refuses it too \
          (it once ignored such an identity; the generated differential test found the two apart).",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity",
        "You might pass in a list of datasets because the embed token will be used to embed many Power BI artifacts that connect to different datasets",
    ),
    check: |ctx, e| {
        if !ctx.usable_body() || ctx.items.iter().any(|it| it.kind == super::ItemKind::Report && it.report.is_none()) {
            return;
        }
        for r in ctx.every_identity_dataset() {
            let (i, j, id, d) = (r.identity, r.index, &ctx.identities[r.identity], r.id);
            if !r.embedded {
                let f = e.report(Location::Request, format!("/identities/{i}/datasets/{j}"), format!("dataset `{d}` is not embedded by this token"));
                let f = match closest(d, ctx.datasets.iter().map(|x| x.id)) {
                    Some(c) => f.help(format!("did you mean `{c}`?")),
                    None => f,
                };
                f.fix(drop_dataset_from_identity(ctx, i, j, id));
            }
        }
    },
};

pub const ONE_IDENTITY_PER_DATASET: Rule = Rule {
    code: "EG0203",
    name: "one-identity-per-dataset",
    family: Family::Identity,
    severity: Severity::Error,
    title: "A dataset gets at most one effective identity",
    #[cfg(feature = "rule-docs")]
    doc: "Two identities for one dataset are refused by the service. Put all roles into one identity: \
          the roles are enforced together (the union of their rows).",
    source: cite(Document::ServiceBehaviour, "GenerateToken errors", "Creating embed token with multiple identities is not supported"),
    check: |ctx, e| {
        if ctx.identities.len() < 2 {
            return;
        }
        let groups = super::index::repeated(ctx.every_identity_dataset().map(|x| x.id));
        if groups.is_empty() {
            return;
        }
        let all: Vec<_> = ctx.every_identity_dataset().collect();
        for group in groups {
            let first_identity = all[group[0]].identity;
            for &k in &group[1..] {
                let (i, j, d) = (all[k].identity, all[k].index, all[k].id);
                if i != first_identity {
                    e.report(Location::Request, format!("/identities/{i}/datasets/{j}"), format!("dataset `{d}` already has an identity"))
                        .help("merge the roles into one identity for this dataset");
                }
            }
        }
    },
};

pub const IDENTITY_NOT_ALLOWED: Rule = Rule {
    code: "EG0204",
    name: "identity-not-allowed",
    family: Family::Identity,
    severity: Severity::Error,
    title: "A dataset without row-level security gets no effective identity",
    #[cfg(feature = "rule-docs")]
    doc: "When the model defines no RLS roles (or `isEffectiveIdentityRequired` is false) the service refuses an identity for it.",
    source: cite(
        Document::ServiceBehaviour,
        "GenerateToken errors",
        "Creating embed token for accessing dataset <id> shouldn't have effective identity",
    ),
    check: |ctx, e| {
        for r in ctx.every_identity_dataset() {
            let (i, j, id, d) = (r.identity, r.index, &ctx.identities[r.identity], r.id);
            let Some(meta) = r.described else { continue };
            if meta.rls == RlsType::None {
                e.report(Location::Request, format!("/identities/{i}/datasets/{j}"), format!("dataset `{d}` has no row-level security, so it shouldn't have an effective identity"))
                    .fix(drop_dataset_from_identity(ctx, i, j, id));
            }
        }
    },
};

/// Master users may send only an identity blob for SSO models (*Set effective identity*); with cloud RLS too, EG0307
/// asks for the username.
pub(crate) fn username_optional(ctx: &Ctx, i: usize) -> bool {
    ctx.scenario.caller.is_master_user()
        && ctx.identities[i].identity_blob.is_some()
        && ctx.identity_datasets(i).all(|d| {
            d.described
                .is_some_and(|m| m.kind == ModelKind::DirectQueryAzureSqlSso)
        })
}

pub const USERNAME_REQUIRED: Rule = Rule {
    code: "EG0205",
    name: "username-required",
    family: Family::Identity,
    severity: Severity::Error,
    title: "An effective identity carries a username",
    #[cfg(feature = "rule-docs")]
    doc: "“Set effective identity” requires a username for internal-hosted models and uses it to authenticate with Analysis Services. \
          The swagger marks `username` required. “Set effective identity” lets token-based (SSO) identity omit it, but “Considerations when generating an embed token” says a \
          service principal must always give an SSO dataset a username: Embedgate accepts a blob-only identity from a \
          master user only. Where it may be left out, an empty string is still an error: an empty string is not an \
          absent member (the emulator refuses `\"username\": \"\"` as well), so the member must be left out (found by the generated differential test).",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for internal-hosted import tables",
        "The username must be passed, but it doesn't need to be a real username.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            let blank = id.username.as_deref().is_some_and(|u| u.trim().is_empty());
            if blank && username_optional(ctx, i) {
                // Where the username may be left out, leave it out: an empty string is still a username.
                e.report(Location::Request, format!("/identities/{i}/username"), "the effective identity's username is empty")
                    .help("remove `username` (a blob-only SSO identity needs none) or set it to the signed-in user")
                    .fix(Fix { title: "remove the empty `username`".into(), patch: vec![PatchOp::remove(format!("/request/identities/{i}/username"))] });
            } else if (blank || id.username.is_none()) && !username_optional(ctx, i) {
                e.report(Location::Request, format!("/identities/{i}/username"), "the effective identity has no username")
                    .help("set `username` to the signed-in user of your app (it is what USERNAME() returns)");
            }
        }
    },
};

pub const ROLES_REQUIRED: Rule = Rule {
    code: "EG0206",
    name: "roles-required",
    family: Family::Identity,
    severity: Severity::Error,
    title: "Internal-hosted RLS models need at least one role in the identity",
    #[cfg(feature = "rule-docs")]
    doc: "“Set effective identity” requires a role for import and DirectQuery models. A model whose `isEffectiveIdentityRolesRequired` \
          is false (dynamic RLS) is the one exception the service documents.",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for internal-hosted import tables",
        "At least one role must be defined by the effective identity.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            if id.roles.as_ref().is_some_and(|r| !r.is_empty()) {
                continue;
            }
            for r in ctx.identity_datasets(i) {
                let (d, Some(Described { meta, rls, .. })) = (r.id, r.described) else { continue };
                let needs = matches!(rls, RlsType::CloudRls | RlsType::SsoCloudRls)
                    && meta.is_effective_identity_roles_required != Some(false);
                if !needs {
                    continue;
                }
                let f = e.report(Location::Request, format!("/identities/{i}/roles"), format!("dataset `{d}` requires roles to be included in the effective identity"));
                match meta.model_roles().filter(|r| !r.is_empty()) {
                    Some(roles) => {
                        let title = match roles {
                            [r] => format!("add role `{r}`"),
                            _ => format!("add the model's roles ({}); keep only those this user should have", roles.join(", ")),
                        };
                        f.fix(Fix { title, patch: vec![PatchOp::add(format!("/request/identities/{i}/roles"), serde_json::json!(roles))] });
                    }
                    // No name to offer: Power BI's GET dataset answer has none, so say where they are.
                    None => {
                        f.help("Power BI's GET dataset response never lists the model's role names. Add them to this dataset's `roles` in the scenario (Power BI Desktop: Modeling > Manage roles) and a fix appears here, or put the role in `roles` of this identity");
                    }
                }
                break;
            }
        }
    },
};

pub const ROLE_NOT_IN_MODEL: Rule = Rule {
    code: "EG0207",
    name: "role-not-in-model",
    family: Family::Identity,
    severity: Severity::Error,
    title: "Roles in the identity are roles the model defines",
    #[cfg(feature = "rule-docs")]
    doc: "Checked when the scenario lists the model's roles. A role the model does not define filters nothing or fails. \
          A model that defines no roles at all (`roles: []`) has no role to name: “Set effective identity” says \"At least one role must be \
          defined in the model\" for every model kind that takes an identity, so any role named against it is an error too. \
          Role names match without regard to case (`region` names model role `Region`): roles are tabular-model objects, \
          whose names the Analysis Services engine compares case-insensitively, and the emulator resolves them the same \
          way; the differential test found the core stricter (issue 16, item 8).",
    source: cite(Document::EffectiveIdentity, "Set effective identity", "Roles: (Optional) List of role names."),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            for (j, role) in id.roles.iter().flatten().enumerate() {
                if role.contains(',') {
                    continue; // EG0108 reports it, with a fix that splits the list
                }
                for r in ctx.identity_datasets(i) {
                    let d = r.id;
                    let Some(model) = r.described.and_then(|m| m.meta.model_roles()) else { continue };
                    if model.is_empty() {
                        e.report(Location::Request, format!("/identities/{i}/roles/{j}"), format!("dataset `{d}` defines no roles, so role `{role}` cannot apply (at least one role must be defined in the model)"))
                            .help("define the role in the model (Power BI Desktop: Modeling > Manage roles) and republish, or list the model's roles in the scenario");
                        break;
                    }
                    if model.iter().any(|r| r.eq_ignore_ascii_case(role)) {
                        continue;
                    }
                    let f = e.report(Location::Request, format!("/identities/{i}/roles/{j}"), format!("dataset `{d}` defines no role `{role}` (it defines: {})", model.join(", ")));
                    if let Some(c) = closest(role, model.iter().map(String::as_str)) {
                        f.help(format!("did you mean `{c}`?")).fix(Fix {
                            title: format!("use role `{c}`"),
                            patch: vec![PatchOp::replace(format!("/request/identities/{i}/roles/{j}"), serde_json::json!(c))],
                        });
                    }
                    break;
                }
            }
        }
    },
};

pub const MODEL_WITHOUT_ROLES: Rule = Rule {
    code: "EG0208",
    name: "model-without-roles",
    family: Family::Identity,
    severity: Severity::Warning,
    title: "Analysis Services models used with an identity define at least one role",
    #[cfg(feature = "rule-docs")]
    doc: "For import and DirectQuery models without roles the identity itself is refused (EG0204).",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for Azure Analysis Services",
        "At least one role must be defined in the model.",
    ),
    check: |ctx, e| {
        for d in &ctx.datasets {
            let Some(Described { meta, kind, .. }) = d.described else {
                continue;
            };
            let live = matches!(
                kind,
                ModelKind::AzureAnalysisServicesLive | ModelKind::SqlServerAnalysisServicesLive
            );
            if live && meta.model_roles().is_some_and(<[String]>::is_empty) {
                e.report(d.location, d.pointer, format!("Analysis Services model `{}` defines no roles, so an identity cannot restrict its rows", d.id));
            }
        }
    },
};

pub const CUSTOM_DATA_UNSUPPORTED: Rule = Rule {
    code: "EG0209",
    name: "custom-data-unsupported",
    family: Family::Identity,
    severity: Severity::Error,
    title: "CustomData is not supported for SQL Server Analysis Services",
    #[cfg(feature = "rule-docs")]
    doc: "Supported for internal-hosted models and Azure Analysis Services only.",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for SQL Server Analysis Services",
        "Use of the CUSTOMDATA function isn't supported.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            if id.custom_data.is_none() {
                continue;
            }
            if let Some(d) =
                ctx.identity_dataset_where(i, |k| k == ModelKind::SqlServerAnalysisServicesLive)
            {
                e.report(Location::Request, format!("/identities/{i}/customData"), format!("dataset `{d}` is a SQL Server Analysis Services model: customData is not supported"))
                    .fix(Fix { title: "remove customData".into(), patch: vec![PatchOp::remove(format!("/request/identities/{i}/customData"))] });
            }
        }
    },
};

pub const IDENTITY_BLOB_ONLY_AZURE_SQL: Rule = Rule {
    code: "EG0210",
    name: "identity-blob-only-azure-sql",
    family: Family::Identity,
    severity: Severity::Error,
    title: "identityBlob only for DirectQuery to Azure SQL Database (SSO)",
    #[cfg(feature = "rule-docs")]
    doc: "Token-based identity works only when the source is an Azure SQL Database reached with DirectQuery and SSO.",
    source: cite(Document::Swagger, "IdentityBlob", "A blob for specifying an identity. Only supported for datasets with a DirectQuery connection to Azure SQL"),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            if id.identity_blob.is_none() {
                continue;
            }
            let wrong = ctx.identity_dataset_where(i, |k| k != ModelKind::DirectQueryAzureSqlSso);
            if let Some(d) = wrong {
                e.report(Location::Request, format!("/identities/{i}/identityBlob"), format!("dataset `{d}` is not DirectQuery to Azure SQL with SSO: identityBlob is not supported"))
                    .fix(Fix { title: "remove identityBlob".into(), patch: vec![PatchOp::remove(format!("/request/identities/{i}/identityBlob"))] });
            }
        }
    },
};

pub const IDENTITY_BLOB_EMPTY: Rule = Rule {
    code: "EG0211",
    name: "identity-blob-empty",
    family: Family::Identity,
    severity: Severity::Error,
    title: "identityBlob.value holds an OAuth 2.0 access token for Azure SQL",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::Swagger,
        "IdentityBlob.value",
        "An OAuth 2.0 access token for Azure SQL",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            if id
                .identity_blob
                .as_ref()
                .is_some_and(|b| b.value.trim().is_empty())
            {
                e.report(
                    Location::Request,
                    format!("/identities/{i}/identityBlob/value"),
                    "identityBlob.value is empty",
                );
            }
        }
    },
};

pub const AS_ROLES_OPTIONAL: Rule = Rule {
    code: "EG0212",
    name: "analysis-services-account-roles",
    family: Family::Identity,
    severity: Severity::Info,
    title: "Analysis Services without roles in the identity: the account's roles apply",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for Azure Analysis Services",
        "When no roles form part of the effective identity, roles that are assigned to the effective identity account are applied.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            if id.roles.as_ref().is_some_and(|r| !r.is_empty()) {
                continue;
            }
            if let Some(d) = ctx.identity_dataset_where(i, |k| matches!(k, ModelKind::AzureAnalysisServicesLive | ModelKind::SqlServerAnalysisServicesLive)) {
                e.report(Location::Request, format!("/identities/{i}"), format!("no roles for Analysis Services dataset `{d}`: the roles assigned to `{}` apply", id.username.as_deref().unwrap_or("the username")));
            }
        }
    },
};
