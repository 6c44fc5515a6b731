//! *Considerations when generating an embed token*'s RLS capability table and its note, plus the per-type identity formats.

use serde_json::json;

use super::{Ctx, Described, Family, ItemKind, Rule};
use crate::capabilities::{may_omit_identity, rls_row, RlsType};
use crate::diag::{Fix, Location, PatchOp, Severity};
use crate::scenario::{CallerKind, ModelKind};
use crate::sources::{cite, Document};
use crate::text::{is_domain_user, is_guid, is_upn};

/// Placeholder the identity fix uses where only the app knows the value.
pub const USERNAME_PLACEHOLDER: &str = "signed-in-user@example.com";

fn add_identity_fix(ctx: &Ctx, dataset: &str, rls: RlsType) -> Fix {
    let meta = ctx.dataset(dataset).map(|d| d.meta);
    let mut identity = serde_json::Map::new();
    let caller_name = ctx.scenario.caller.principal_name();
    let username = match (rls, caller_name) {
        (RlsType::AsAzureLive, Some(name)) => name.to_string(),
        _ => USERNAME_PLACEHOLDER.to_string(),
    };
    identity.insert("username".into(), json!(username));
    if let Some(roles) = meta.and_then(|m| m.model_roles()).filter(|r| !r.is_empty()) {
        if matches!(rls, RlsType::CloudRls | RlsType::SsoCloudRls) {
            identity.insert("roles".into(), json!(roles));
        }
    }
    identity.insert("datasets".into(), json!([dataset]));
    let identity = serde_json::Value::Object(identity);
    let patch = if ctx.identities.is_empty()
        && ctx
            .v1
            .and_then(|b| b.identities.as_ref())
            .or(ctx.v2.and_then(|b| b.identities.as_ref()))
            .is_none()
    {
        PatchOp::add("/request/identities", json!([identity]))
    } else {
        PatchOp::add("/request/identities/-", identity)
    };
    let title = if username == USERNAME_PLACEHOLDER {
        format!("add an effective identity for dataset {dataset} (then set username to your signed-in user)")
    } else {
        format!("add an effective identity for dataset {dataset}")
    };
    Fix {
        title,
        patch: vec![patch],
    }
}

pub const SP_IDENTITY_REQUIRED: Rule = Rule {
    code: "EG0301",
    name: "service-principal-identity-required",
    family: Family::Rls,
    severity: Severity::Error,
    title: "A service principal must give every RLS dataset an effective identity",
    #[cfg(feature = "rule-docs")]
    doc: "The RLS table of “Considerations when generating an embed token”: for Cloud RLS, Analysis Services live connections (on premises and Azure), SSO and SSO + \
          cloud RLS a service principal cannot generate a token without an effective identity. This holds for service \
          principal profiles too: “Migrate multi-customer applications to the service principal profiles model” says dynamic RLS sees the profile name in UserName(), but the note of “Considerations when generating an embed token” \
          (\"Service principal must always provide an identity for any item with an RLS dataset\") and the service's \
          error \"requires effective identity to be provided\" are stricter, and Embedgate follows them.",
    source: cite(Document::TokenConsiderations, "Row Level Security", "Service principal must always provide the following: An identity for any item with an RLS dataset."),
    check: |ctx, e| {
        let kind = ctx.scenario.caller.kind();
        if kind == CallerKind::MasterUser || !ctx.usable_body() {
            return;
        }
        for d in &ctx.datasets {
            let Some(Described { rls, .. }) = d.described else { continue };
            if may_omit_identity(rls, kind) != Some(false) || ctx.identities_for(d).next().is_some() {
                continue;
            }
            e.report(Location::Request, "/identities", format!("creating an embed token for dataset `{}` requires an effective identity ({}, service principal)", d.id, rls_row(rls).map_or("RLS", |r| r.name)))
                .help("a service principal cannot mint a token for an RLS dataset without an identity; build it on the server from your signed-in user")
                .fix(add_identity_fix(ctx, d.id, rls));
        }
    },
};

pub const RDL_MASTER_USER: Rule = Rule {
    code: "EG0302",
    name: "paginated-report-master-user",
    family: Family::Rls,
    severity: Severity::Error,
    title: "Paginated (RDL) reports need a service principal",
    #[cfg(feature = "rule-docs")]
    doc: "On every endpoint that embeds them: V2 and the V1 report endpoint (whose documented examples include a \
          paginated report). A paginated report's `datasetId` adds no dataset to the token: \"you cannot rely on the \
          datasetId property\" (Embed a paginated report); its semantic models are the ones listed in `datasets`.",
    source: cite(
        Document::TokenConsiderations,
        "Row Level Security",
        "You cannot use a master user to generate an embed token for RDL.",
    ),
    check: |ctx, e| {
        if !ctx.scenario.caller.is_master_user() {
            return;
        }
        for it in ctx
            .items
            .iter()
            .filter(|i| i.kind == ItemKind::PaginatedReport)
        {
            e.report(it.location, it.pointer, format!("report `{}` is a paginated report: a master user cannot generate its embed token", it.id))
                .help("call GenerateToken as a service principal");
        }
    },
};

pub const AAS_USERNAME_IS_CALLER: Rule = Rule {
    code: "EG0303",
    name: "aas-username-is-caller",
    family: Family::Rls,
    severity: Severity::Error,
    title: "Azure Analysis Services: the username is the caller's own principal",
    #[cfg(feature = "rule-docs")]
    doc: "The caller's identity cannot be overridden for Azure Analysis Services live connections: the username is the \
          master user's UPN or the service principal's object id. Use customData for dynamic RLS.",
    source: cite(
        Document::TokenConsiderations,
        "Row Level Security",
        "The identity of the user generating the embed token cannot be overridden. Custom data can be used to implement dynamic RLS or secure filtering.",
    ),
    check: |ctx, e| {
        let caller = &ctx.scenario.caller;
        let Some(principal) = caller.principal_name() else { return };
        for (i, id) in ctx.identities.iter().enumerate() {
            let Some(u) = id.username.as_deref().filter(|u| !u.is_empty()) else { continue };
            let aas = ctx.identity_dataset_where(i, |k| k == ModelKind::AzureAnalysisServicesLive);
            if let Some(d) = aas {
                if !u.eq_ignore_ascii_case(principal) {
                    let what = if caller.is_service_principal() { "the service principal's object id" } else { "the master user's UPN" };
                    e.report(Location::Request, format!("/identities/{i}/username"), format!("dataset `{d}` is Azure Analysis Services: the effective identity username must be {what} (`{principal}`)"))
                        .help("pass the end user in customData and filter with CUSTOMDATA() in the model")
                        .fix(Fix { title: format!("use `{principal}` as username"), patch: vec![PatchOp::replace(format!("/request/identities/{i}/username"), json!(principal))] });
                }
            }
        }
    },
};

pub const AAS_USERNAME_FORMAT: Rule = Rule {
    code: "EG0304",
    name: "aas-username-format",
    family: Family::Rls,
    severity: Severity::Error,
    title: "Azure Analysis Services: the username is a UPN or an object id",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for Azure Analysis Services",
        "The username must be a master user account (UPN format) or service principal (ObjectID).",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            let Some(u) = id.username.as_deref().filter(|u| !u.is_empty()) else {
                continue;
            };
            let aas = ctx
                .identity_dataset_where(i, |k| k == ModelKind::AzureAnalysisServicesLive)
                .is_some();
            if aas && !is_upn(u) && !is_guid(u) {
                e.report(
                    Location::Request,
                    format!("/identities/{i}/username"),
                    format!("`{u}` is neither a UPN nor an object id"),
                );
            }
        }
    },
};

pub const SSAS_USERNAME_FORMAT: Rule = Rule {
    code: "EG0305",
    name: "ssas-username-format",
    family: Family::Rls,
    severity: Severity::Error,
    title: "SQL Server Analysis Services: the username is a Windows account (UPN or DOMAIN\\user)",
    #[cfg(feature = "rule-docs")]
    doc: "An object id or a bare name is neither. The emulator once checked only the characters; the generated \
          differential test found the two apart, and both now follow “Set effective identity”.",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for SQL Server Analysis Services",
        "The username must be a Windows account, using UPN or DOMAIN\\username format.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            let Some(u) = id.username.as_deref().filter(|u| !u.is_empty()) else {
                continue;
            };
            let ssas = ctx
                .identity_dataset_where(i, |k| k == ModelKind::SqlServerAnalysisServicesLive)
                .is_some();
            if ssas && !is_upn(u) && !is_domain_user(u) {
                e.report(
                    Location::Request,
                    format!("/identities/{i}/username"),
                    format!("`{u}` is not a Windows account (user@domain.com or DOMAIN\\user)"),
                );
            }
        }
    },
};

pub const SSAS_GATEWAY_PERMISSION: Rule = Rule {
    code: "EG0306",
    name: "ssas-gateway-permission",
    family: Family::Rls,
    severity: Severity::Error,
    title: "SQL Server Analysis Services: the caller is gateway admin or has ReadOverrideEffectiveIdentity",
    #[cfg(feature = "rule-docs")]
    doc: "An error when the scenario says the caller has neither; a note when it does not say.",
    source: cite(
        Document::EffectiveIdentity,
        "Set effective identity for SQL Server Analysis Services",
        "The effective identity (service principal or master user account) must be a gateway admin or have ReadOverrideEffectiveIdentity permissions on the gateway data source.",
    ),
    check: |ctx, e| {
        for d in &ctx.datasets {
            let Some(Described { meta, kind, .. }) = d.described else { continue };
            if kind != ModelKind::SqlServerAnalysisServicesLive {
                continue;
            }
            let g = meta.gateway.clone().unwrap_or_default();
            let (admin, over) = (g.caller_is_admin, g.caller_has_read_override_effective_identity);
            if admin == Some(true) || over == Some(true) {
                continue;
            }
            if admin == Some(false) && over == Some(false) {
                e.report(d.location, d.pointer, format!("the caller is neither gateway admin nor has ReadOverrideEffectiveIdentity on the data source of `{}`", d.id))
                    .help("grant ReadOverrideEffectiveIdentity with the Add Datasource User REST API");
            } else {
                e.report_as(Severity::Info, d.location, d.pointer, format!("make sure the caller is gateway admin or has ReadOverrideEffectiveIdentity for `{}`", d.id));
            }
        }
    },
};

pub const SSO_IDENTITY_BLOB: Rule = Rule {
    code: "EG0307",
    name: "sso-identity-blob",
    family: Family::Rls,
    severity: Severity::Error,
    title: "SSO datasets get an explicit identity blob (and, with cloud RLS, a username too)",
    #[cfg(feature = "rule-docs")]
    doc: "SSO + cloud RLS needs both the identity blob and the RLS username (error), from a master user too: the \
          blob-only identity EG0205 allows a master user is for SSO without cloud RLS. SSO alone without a blob is a \
          warning: the data source then cannot apply the end user's permissions.",
    source: cite(
        Document::TokenConsiderations,
        "Row Level Security",
        "SSO and cloud RLS: You must provide the following: Explicit (SSO) identity in the identity blob property property in an effective identity object; Effective (RLS) identity (username)",
    ),
    check: |ctx, e| {
        for d in &ctx.datasets {
            let Some(Described { rls, .. }) = d.described else { continue };
            if !matches!(rls, RlsType::Sso | RlsType::SsoCloudRls) {
                continue;
            }
            for (i, id) in ctx.identities_for(d) {
                if id.identity_blob.is_some() {
                    // Cloud RLS filters on the username too. A missing one is EG0205's finding unless
                    // EG0205 lets this identity go without it (a master user's blob-only identity).
                    let no_user = id.username.as_deref().is_none_or(|u| u.trim().is_empty());
                    if rls == RlsType::SsoCloudRls && no_user && super::identity::username_optional(ctx, i) {
                        e.report(Location::Request, format!("/identities/{i}/username"), format!("dataset `{}` uses SSO with cloud RLS: the identity needs a username as well as the identityBlob", d.id))
                            .help("set `username` to the signed-in user of your app: the model's roles filter on it");
                    }
                    continue;
                }
                let sev = if rls == RlsType::SsoCloudRls { Severity::Error } else { Severity::Warning };
                e.report_as(sev, Location::Request, format!("/identities/{i}"), format!("dataset `{}` uses SSO: the identity has no identityBlob", d.id))
                    .help("put the user's Azure SQL access token in identityBlob.value");
            }
        }
    },
};

pub const PAGINATED_IDENTITY_REPORTS: Rule = Rule {
    code: "EG0308",
    name: "paginated-identity-reports",
    family: Family::Rls,
    severity: Severity::Error,
    title: "An identity's `reports` names paginated reports the token embeds",
    #[cfg(feature = "rule-docs")]
    doc: "The `reports` list of an effective identity is for paginated reports; its username feeds UserID.",
    source: cite(Document::ServiceBehaviour, "Paginated reports", "Paginated reports: service principal only; the identity goes in `reports`, its username feeds `UserID`."),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            for (j, r) in id.reports.iter().flatten().enumerate() {
                let ptr = || format!("/identities/{i}/reports/{j}");
                match ctx.items.iter().find(|it| it.id.eq_ignore_ascii_case(r)) {
                    None => {
                        e.report(Location::Request, ptr(), format!("report `{r}` is not embedded by this token"));
                    }
                    Some(it) if it.kind == ItemKind::Report => {
                        e.report(Location::Request, ptr(), format!("report `{r}` is a Power BI report: identity `reports` is for paginated reports; use `datasets`"));
                    }
                    Some(_) => {}
                }
            }
        }
    },
};

pub const MASTER_USER_UNRESTRICTED: Rule = Rule {
    code: "EG0309",
    name: "master-user-unrestricted",
    family: Family::Rls,
    severity: Severity::Warning,
    title: "A master user token without an identity sees every row",
    #[cfg(feature = "rule-docs")]
    doc: "“Considerations when generating an embed token” allows a master user to leave the identity out, which gives the token access to the whole model. \
          Fine for admins; a leak for a customer's end user.",
    source: cite(
        Document::TokenConsiderations,
        "Row Level Security",
        "If you're using RLS, you can in some cases leave out the user's identity (the EffectiveIdentity parameter). This allows the token to have access to the entire database.",
    ),
    check: |ctx, e| {
        if !ctx.scenario.caller.is_master_user() || !ctx.usable_body() {
            return;
        }
        for d in &ctx.datasets {
            let Some(Described { rls, .. }) = d.described else { continue };
            if may_omit_identity(rls, CallerKind::MasterUser) == Some(true) && ctx.identities_for(d).next().is_none() {
                e.report(Location::Request, "/identities", format!("no effective identity for RLS dataset `{}`: the token sees all of its rows", d.id))
                    .fix(add_identity_fix(ctx, d.id, rls));
            }
        }
    },
};

pub const DIRECT_LAKE: Rule = Rule {
    code: "EG0310",
    name: "direct-lake",
    family: Family::Rls,
    severity: Severity::Error,
    title: "Direct Lake models need V2 tokens and do not support service principal profiles",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::ServiceBehaviour,
        "Direct Lake",
        "Direct Lake models need V2 tokens and do not support service principal profiles.",
    ),
    check: |ctx, e| {
        for d in &ctx.datasets {
            let Some(Described { kind, .. }) = d.described else {
                continue;
            };
            if kind != ModelKind::DirectLake {
                continue;
            }
            if !ctx.scenario.endpoint.is_v2() {
                e.report(
                    Location::Scenario,
                    "/endpoint",
                    format!("dataset `{}` is Direct Lake: use GenerateToken V2", d.id),
                );
            }
            if ctx.scenario.caller.kind() == CallerKind::ServicePrincipalProfile {
                e.report(
                    Location::Scenario,
                    "/caller/profile",
                    format!(
                        "dataset `{}` is Direct Lake: service principal profiles are not supported",
                        d.id
                    ),
                );
            }
        }
    },
};
