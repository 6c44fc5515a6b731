//! Token permissions (*Considerations when generating an embed token*): accessLevel, datasetId, allowSaveAs, and V2's allowEdit.

use serde_json::json;

use super::request::V1_ONLY;
use super::{Ctx, Family, Rule};
use crate::diag::{Fix, Location, PatchOp, Severity};
use crate::powerbi::TokenAccessLevel;
use crate::scenario::Endpoint;
use crate::sources::{cite, Document};

fn is_report_endpoint(ctx: &Ctx) -> bool {
    matches!(ctx.scenario.endpoint, Endpoint::Report { .. })
}
fn is_create_endpoint(ctx: &Ctx) -> bool {
    matches!(ctx.scenario.endpoint, Endpoint::CreateReport { .. })
}

pub const EDIT_ONLY_REPORTS: Rule = Rule {
    code: "EG0501",
    name: "edit-only-reports",
    family: Family::Permissions,
    severity: Severity::Error,
    title: "accessLevel Edit only for report embedding",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::TokenConsiderations,
        "Access Level",
        "Edit - Grant the user viewing and editing permissions (only applies when generating an embed token for a report).",
    ),
    check: |ctx, e| {
        let Some(b) = ctx.v1 else { return };
        if b.access_level == Some(TokenAccessLevel::Edit) && !is_report_endpoint(ctx) {
            e.report(Location::Request, "/accessLevel", "accessLevel `Edit` only applies to the report endpoint")
                .fix(Fix { title: "use accessLevel View".into(), patch: vec![PatchOp::replace("/request/accessLevel", json!("View"))] });
        }
    },
};

pub const CREATE_ONLY_CREATE_ENDPOINT: Rule = Rule {
    code: "EG0502",
    name: "create-only-create-endpoint",
    family: Family::Permissions,
    severity: Severity::Error,
    title: "accessLevel Create only, and always, for report creation",
    #[cfg(feature = "rule-docs")]
    doc: "The create-report endpoint needs accessLevel Create; no other endpoint accepts it.",
    source: cite(
        Document::TokenConsiderations,
        "Access Level",
        "Create - Grant the user permissions to create a report (only applies when generating an embed token for creating a report).",
    ),
    check: |ctx, e| {
        let Some(b) = ctx.v1 else { return };
        let create = b.access_level == Some(TokenAccessLevel::Create);
        if create && !is_create_endpoint(ctx) {
            e.report(Location::Request, "/accessLevel", "accessLevel `Create` only applies to the create-report endpoint")
                .fix(Fix { title: "use accessLevel View".into(), patch: vec![PatchOp::replace("/request/accessLevel", json!("View"))] });
        } else if !create && is_create_endpoint(ctx) {
            let (ptr, op) = match b.access_level {
                Some(_) => ("/accessLevel", PatchOp::replace("/request/accessLevel", json!("Create"))),
                None => ("/accessLevel", PatchOp::add("/request/accessLevel", json!("Create"))),
            };
            e.report(Location::Request, ptr, "the create-report endpoint needs accessLevel `Create`")
                .fix(Fix { title: "set accessLevel Create".into(), patch: vec![op] });
        }
    },
};

pub const CREATE_NEEDS_DATASET: Rule = Rule {
    code: "EG0503",
    name: "create-needs-dataset",
    family: Family::Permissions,
    severity: Severity::Error,
    title: "Report creation needs datasetId",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::TokenConsiderations,
        "Access Level",
        "For report creation, you must also supply the datasetId parameter.",
    ),
    // Only on the create endpoint: `Create` sent to another endpoint is EG0502's finding, and adding
    // a datasetId there would only raise EG0506.
    check: |ctx, e| {
        let Some(b) = ctx.v1 else { return };
        if is_create_endpoint(ctx) && b.dataset_id.as_deref().is_none_or(str::is_empty) {
            let f = e.report(
                Location::Request,
                "/datasetId",
                "report creation needs `datasetId`",
            );
            if let [d] = ctx.scenario.datasets.as_slice() {
                f.fix(Fix {
                    title: format!("use dataset {}", d.id),
                    patch: vec![PatchOp::add("/request/datasetId", json!(d.id))],
                });
            }
        }
    },
};

pub const SAVE_AS_ONLY_REPORTS: Rule = Rule {
    code: "EG0504",
    name: "save-as-only-reports",
    family: Family::Permissions,
    severity: Severity::Error,
    title: "allowSaveAs only applies to report embedding",
    #[cfg(feature = "rule-docs")]
    doc: "“Considerations when generating an embed token” says allowSaveAs \"is only applicable when generating an embed token for a report\", the same \
          wording as for `Edit` and `Create` (\"only applies when ...\"), which EG0501 and EG0502 treat as errors. \
          `allowSaveAs: true` elsewhere is therefore an error too, as it is in the emulator (found by the generated \
          differential test; it was a warning before). `allowSaveAs: false` asks for nothing and stays a warning.",
    source: cite(
        Document::TokenConsiderations,
        "Saving a copy of the report",
        "This parameter is only applicable when generating an embed token for a report.",
    ),
    check: |ctx, e| {
        let Some(b) = ctx.v1 else { return };
        let Some(save_as) = b.allow_save_as else { return };
        if is_report_endpoint(ctx) {
            return;
        }
        let fix = Fix {
            title: "remove allowSaveAs".into(),
            patch: vec![PatchOp::remove("/request/allowSaveAs")],
        };
        if save_as {
            e.report(Location::Request, "/allowSaveAs", "allowSaveAs only applies when generating an embed token for a report")
                .fix(fix);
        } else {
            e.report_as(Severity::Warning, Location::Request, "/allowSaveAs", "allowSaveAs has no effect outside the report endpoint")
                .fix(fix);
        }
    },
};

pub const V2_IGNORES_V1_PERMISSIONS: Rule = Rule {
    code: "EG0505",
    name: "v2-ignores-v1-permissions",
    family: Family::Permissions,
    severity: Severity::Warning,
    title: "GenerateToken V2 ignores accessLevel, allowSaveAs and datasetId: use reports[].allowEdit",
    #[cfg(feature = "rule-docs")]
    doc: "The V2 body has no accessLevel; editing is granted per report with allowEdit.",
    source: cite(
        Document::TokenConsiderations,
        "Access Level",
        "If you're using the Generate token for multiple reports API, use the allowEdit parameter to grant the user viewing and editing permissions.",
    ),
    check: |ctx, e| {
        let Some(b) = ctx.v2 else { return };
        for u in &ctx.parsed.unknown {
            if u.location != Location::Request || u.pointer.matches('/').count() != 1 || !V1_ONLY.contains(&u.key.as_str()) {
                continue;
            }
            let edit = u.key == "accessLevel" && u.text.as_deref() == Some("Edit");
            let mut patch = vec![PatchOp::remove(format!("/request/{}", u.key))];
            if edit {
                for i in 0..b.reports.as_ref().map_or(0, Vec::len) {
                    patch.push(PatchOp::add(format!("/request/reports/{i}/allowEdit"), json!(true)));
                }
            }
            let title = if edit { "remove accessLevel and set allowEdit on each report".to_string() } else { format!("remove `{}`", u.key) };
            e.report(Location::Request, &u.pointer, format!("GenerateToken V2 ignores `{}`", u.key))
                .help("grant editing per report with `reports[].allowEdit`")
                .fix(Fix { title, patch });
        }
    },
};

pub const DATASET_ID_WITHOUT_CREATE: Rule = Rule {
    code: "EG0506",
    name: "dataset-id-without-create",
    family: Family::Permissions,
    severity: Severity::Warning,
    title: "datasetId only applies to report creation",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(Document::Swagger, "GenerateTokenRequest.datasetId", "The dataset ID used for report creation. Only applies when you generate an embed token for report creation."),
    check: |ctx, e| {
        let Some(b) = ctx.v1 else { return };
        if b.dataset_id.is_some() && !is_create_endpoint(ctx) && b.access_level != Some(TokenAccessLevel::Create) {
            e.report(Location::Request, "/datasetId", "datasetId is ignored unless a report is being created")
                .fix(Fix { title: "remove datasetId".into(), patch: vec![PatchOp::remove("/request/datasetId")] });
        }
    },
};
