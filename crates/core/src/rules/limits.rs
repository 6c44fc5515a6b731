//! Limits and formats the swagger and the service state.

use super::{Family, Rule};
use crate::diag::{Fix, Location, PatchOp, Severity};
use crate::scenario::ModelKind;
use crate::sources::field_source;
use crate::sources::{cite, Document};
use crate::text::is_guid;

pub const MAX_ITEMS: usize = 50;
pub const MAX_USERNAME: usize = 256;
pub const MAX_ROLES: usize = 50;
pub const MAX_ROLE_LEN: usize = 50;

pub const LIST_LIMIT: Rule = Rule {
    code: "EG0101",
    name: "list-limit",
    family: Family::Limits,
    severity: Severity::Error,
    title: "At most 50 reports, datasets, target workspaces and identities per V2 request",
    #[cfg(feature = "rule-docs")]
    doc: "GenerateToken V2 accepts at most 50 entries in each list.",
    source: cite(
        Document::ServiceBehaviour,
        "GenerateToken V2",
        "at most 50 of each list",
    ),
    check: |ctx, e| {
        let Some(b) = ctx.v2 else { return };
        let lens = [
            ("reports", b.reports.as_ref().map_or(0, Vec::len)),
            ("datasets", b.datasets.as_ref().map_or(0, Vec::len)),
            (
                "targetWorkspaces",
                b.target_workspaces.as_ref().map_or(0, Vec::len),
            ),
            ("identities", b.identities.as_ref().map_or(0, Vec::len)),
            (
                "datasourceIdentities",
                b.datasource_identities.as_ref().map_or(0, Vec::len),
            ),
        ];
        for (name, n) in lens {
            if n > MAX_ITEMS {
                e.report(
                    Location::Request,
                    format!("/{name}/{MAX_ITEMS}"),
                    format!("`{name}` has {n} entries; the limit is {MAX_ITEMS}"),
                )
                .help("split the items over several tokens");
            }
        }
    },
};

pub const LIFETIME: Rule = Rule {
    code: "EG0102",
    name: "lifetime",
    family: Family::Limits,
    severity: Severity::Error,
    title: "lifetimeInMinutes must be a positive integer (0 means the default)",
    #[cfg(feature = "rule-docs")]
    doc: "A negative lifetime is an error. Zero is accepted and means the default expiry (reported as a note). The \
          lifetime can only shorten a token: it never outlives the Entra token used to mint it.",
    source: cite(
        Document::Swagger,
        "GenerateTokenRequestV2.lifetimeInMinutes",
        "The value must be a positive integer. Zero (`0`) is equivalent to `null`, and will set the default expiration time.",
    ),
    check: |ctx, e| {
        let l = ctx.v1.and_then(|b| b.lifetime_in_minutes).or_else(|| ctx.v2.and_then(|b| b.lifetime_in_minutes));
        match l {
            Some(n) if n < 0 => {
                e.report(Location::Request, "/lifetimeInMinutes", format!("lifetimeInMinutes is {n}; it must be positive"))
                    .fix(Fix { title: "use the default lifetime".into(), patch: vec![PatchOp::remove("/request/lifetimeInMinutes")] });
            }
            Some(0) => {
                e.report_as(Severity::Info, Location::Request, "/lifetimeInMinutes", "lifetimeInMinutes 0 means the default expiry");
            }
            _ => {}
        }
    },
};

pub const GUID_FORMAT: Rule = Rule {
    code: "EG0103",
    name: "guid-format",
    family: Family::Limits,
    severity: Severity::Error,
    title: "Ids are GUIDs",
    #[cfg(feature = "rule-docs")]
    doc: "Report, dataset, workspace, dashboard, tile, profile and service principal object ids are GUIDs \
          (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).",
    source: cite(Document::Swagger, "GenerateTokenRequestV2Report.id", "\"type\": \"string\", \"format\": \"uuid\", \"description\": \"The report ID\""),
    check: |ctx, e| {
        // The pointer is only formatted for a finding.
        let v1 = ctx.v1.is_some();
        let mut bad = |loc: Location, v: &str, ptr: &dyn Fn() -> String| {
            if !is_guid(v) {
                // The swagger's words for this id where it has them (the profile's id is not the report's).
                let p = ptr();
                let source = field_source(loc, &p, v1, None);
                e.report(loc, p, format!("`{v}` is not a GUID")).source(source);
            }
        };
        let req = Location::Request;
        if let Some(b) = ctx.v2 {
            for (i, r) in b.reports.iter().flatten().enumerate() {
                bad(req, &r.id, &|| format!("/reports/{i}/id"));
            }
            for (i, r) in b.datasets.iter().flatten().enumerate() {
                bad(req, &r.id, &|| format!("/datasets/{i}/id"));
            }
            for (i, r) in b.target_workspaces.iter().flatten().enumerate() {
                bad(req, &r.id, &|| format!("/targetWorkspaces/{i}/id"));
            }
        }
        if let Some(d) = ctx.v1.and_then(|b| b.dataset_id.as_deref()) {
            bad(req, d, &|| "/datasetId".into());
        }
        for (i, id) in ctx.identities.iter().enumerate() {
            for (j, d) in id.datasets.iter().flatten().enumerate() {
                bad(req, d, &|| format!("/identities/{i}/datasets/{j}"));
            }
            for (j, r) in id.reports.iter().flatten().enumerate() {
                bad(req, r, &|| format!("/identities/{i}/reports/{j}"));
            }
        }
        for (ptr, id) in ctx.scenario.endpoint.ids() {
            bad(Location::Scenario, id, &|| ptr.into());
        }
        if let Some(o) = &ctx.scenario.caller.object_id {
            bad(Location::Scenario, o, &|| "/caller/objectId".into());
        }
        if let Some(p) = &ctx.scenario.caller.profile {
            bad(Location::Scenario, &p.id, &|| "/caller/profile/id".into());
        }
    },
};

pub const USERNAME_LENGTH: Rule = Rule {
    code: "EG0104",
    name: "username-length",
    family: Family::Limits,
    severity: Severity::Error,
    title: "An effective username is at most 256 characters",
    #[cfg(feature = "rule-docs")]
    doc: "Applies to every model type.",
    source: cite(
        Document::Swagger,
        "EffectiveIdentity.username",
        "For either model, the username length must not exceed 256 characters",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            if let Some(u) = &id.username {
                let n = u.chars().count();
                if n > MAX_USERNAME {
                    e.report(
                        Location::Request,
                        format!("/identities/{i}/username"),
                        format!("username has {n} characters; the limit is {MAX_USERNAME}"),
                    );
                }
            }
        }
    },
};

pub const USERNAME_SPACES: Rule = Rule {
    code: "EG0105",
    name: "username-spaces",
    family: Family::Limits,
    severity: Severity::Error,
    title: "An effective username contains no spaces",
    #[cfg(feature = "rule-docs")]
    doc: "Applies to every model type, and to a paginated report's identity too: the field's own description \
          is the constraint the service documents. Microsoft's example of a paginated report token \
          (`Reports - Generate Token In Group`) sends `John Smith`; Embedgate refuses it \
          (`examples/microsoft/v1-paginated-report-identity.json`).",
    source: cite(
        Document::Swagger,
        "EffectiveIdentity.username",
        "the username shouldn't contain spaces",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            if let Some(u) = &id.username {
                if u.chars().any(char::is_whitespace) {
                    e.report(
                        Location::Request,
                        format!("/identities/{i}/username"),
                        format!("username `{u}` contains white space"),
                    );
                }
            }
        }
    },
};

pub const USERNAME_ON_PREM_ALPHABET: Rule = Rule {
    code: "EG0106",
    name: "username-on-premises-alphabet",
    family: Family::Limits,
    severity: Severity::Error,
    title: "On-premises models: the username uses letters, digits and . - _ ! # ^ ~ \\ @ only",
    #[cfg(feature = "rule-docs")]
    doc: "Applies when the identity covers a SQL Server Analysis Services (on-premises) model. Cloud models accept any ASCII character.",
    source: cite(
        Document::Swagger,
        "EffectiveIdentity.username",
        "For an on-premises model, the username can contain alphanumeric or any of the following characters `.`, `-`, `_`, `!`, `#`, `^`, `~`, `\\\\`, `@`.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            let Some(u) = &id.username else { continue };
            let on_prem = ctx.identity_dataset_where(i, |k| k == ModelKind::SqlServerAnalysisServicesLive).is_some();
            if !on_prem {
                continue;
            }
            if let Some(c) = u.chars().find(|c| !(c.is_ascii_alphanumeric() || ".-_!#^~\\@".contains(*c))) {
                e.report(Location::Request, format!("/identities/{i}/username"), format!("`{c}` is not allowed in an on-premises username"));
            }
        }
    },
};

pub const ROLES_COUNT: Rule = Rule {
    code: "EG0107",
    name: "roles-count",
    family: Family::Limits,
    severity: Severity::Error,
    title: "An identity carries at most 50 roles",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::Swagger,
        "EffectiveIdentity.roles",
        "An identity can contain up to 50 roles.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            let n = id.roles.as_ref().map_or(0, Vec::len);
            if n > MAX_ROLES {
                e.report(
                    Location::Request,
                    format!("/identities/{i}/roles"),
                    format!("{n} roles; the limit is {MAX_ROLES}"),
                );
            }
        }
    },
};

pub const ROLE_FORMAT: Rule = Rule {
    code: "EG0108",
    name: "role-format",
    family: Family::Limits,
    severity: Severity::Error,
    title: "A role name is 1 to 50 characters without commas",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::Swagger,
        "EffectiveIdentity.roles",
        "A role can contain any character except `,`, and its length must not exceed 50 characters.",
    ),
    check: |ctx, e| {
        for (i, id) in ctx.identities.iter().enumerate() {
            for (j, r) in id.roles.iter().flatten().enumerate() {
                let ptr = || format!("/identities/{i}/roles/{j}");
                if r.is_empty() {
                    e.report(Location::Request, ptr(), "empty role name");
                } else if r.contains(',') {
                    let parts: Vec<&str> = r.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
                    e.report(Location::Request, ptr(), format!("role `{r}` contains a comma"))
                        .help("list each role as its own array entry")
                        .fix(split_roles(i, j, id.roles.as_deref().unwrap_or(&[]), &parts));
                } else if r.chars().count() > MAX_ROLE_LEN {
                    e.report(Location::Request, ptr(), format!("role has {} characters; the limit is {MAX_ROLE_LEN}", r.chars().count()));
                }
            }
        }
    },
};

fn split_roles(i: usize, j: usize, roles: &[String], parts: &[&str]) -> Fix {
    let mut new: Vec<String> = roles[..j].to_vec();
    new.extend(parts.iter().map(|p| p.to_string()));
    new.extend(roles[j + 1..].iter().cloned());
    Fix {
        title: "split the role list into separate roles".into(),
        patch: vec![PatchOp::replace(
            format!("/request/identities/{i}/roles"),
            serde_json::json!(new),
        )],
    }
}
