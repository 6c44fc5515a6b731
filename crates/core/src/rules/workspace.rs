//! Workspace rules (*Considerations when generating an embed token*): classic, new and My workspace, and the caller's access right.

use serde_json::json;

use super::{Ctx, Family, Place, Ptr, Rule};
use crate::diag::{Fix, Location, PatchOp, Severity};
use crate::powerbi::{
    GenerateTokenRequestV2TargetWorkspace as TargetWorkspace, GroupUserAccessRight, WorkspaceType,
};
use crate::scenario::{Endpoint, Workspace};
use crate::sources::{cite, Document};

/// The places (one per described workspace) whose workspace is of type `kind`.
fn places_in<'a>(
    ctx: &'a Ctx,
    kind: WorkspaceType,
) -> impl Iterator<Item = (&'a Place<'a>, &'a Workspace)> + 'a {
    ctx.places
        .iter()
        .map(|p| (p, ctx.workspace_at(p.workspace)))
        .filter(move |(_, w)| w.kind() == kind)
}

fn ws_name(w: &Workspace) -> String {
    match &w.name {
        Some(n) => format!("`{n}` ({})", w.id),
        None => format!("`{}`", w.id),
    }
}

pub const MY_WORKSPACE: Rule = Rule {
    code: "EG0401",
    name: "my-workspace",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "No embed token for content in My workspace",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::TokenConsiderations,
        "Workspace versions",
        "You cannot create an embed token for My workspace.",
    ),
    check: |ctx, e| {
        for (p, w) in places_in(ctx, WorkspaceType::PersonalGroup) {
            e.report(
                p.location,
                p.pointer,
                format!("{} `{}` is in My workspace {}", p.what, p.id, ws_name(w)),
            )
            .help("move the content to a workspace");
        }
    },
};

pub const CLASSIC_SAME_WORKSPACE: Rule = Rule {
    code: "EG0402",
    name: "classic-same-workspace",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "Classic workspaces: the dataset and the item are in the same workspace",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::TokenConsiderations,
        "Workspace versions",
        "Classic workspace: The dataset and the item must be in the same workspace",
    ),
    check: |ctx, e| {
        for it in &ctx.items {
            let Some(w) = it.workspace.map(|w| ctx.workspace_at(w)) else {
                continue;
            };
            if w.kind() != WorkspaceType::Group {
                continue;
            }
            for d in it.dataset_ids.iter() {
                let dws = ctx.embedded_dataset(d).and_then(|x| x.workspace_id);
                if let Some(dws) = dws.filter(|dws| !dws.eq_ignore_ascii_case(&w.id)) {
                    e.report(it.location, it.pointer, format!("item `{}` is in classic workspace {} but its dataset `{d}` is in `{dws}`", it.id, ws_name(w)));
                }
            }
        }
    },
};

pub const CLASSIC_NO_SERVICE_PRINCIPAL: Rule = Rule {
    code: "EG0403",
    name: "classic-no-service-principal",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "Classic workspaces: a service principal cannot be used",
    #[cfg(feature = "rule-docs")]
    doc: "Applies to service principal profiles too.",
    source: cite(
        Document::TokenConsiderations,
        "Workspace versions",
        "Classic workspace: Service principal cannot be used",
    ),
    check: |ctx, e| {
        if !ctx.scenario.caller.is_service_principal() {
            return;
        }
        for (p, w) in places_in(ctx, WorkspaceType::Group) {
            e.report(
                p.location,
                p.pointer,
                format!(
                    "{} `{}` is in classic workspace {}: a service principal cannot be used",
                    p.what,
                    p.id,
                    ws_name(w)
                ),
            )
            .help("upgrade the workspace to a new workspace, or use a master user");
        }
    },
};

pub const CLASSIC_ADMIN: Rule = Rule {
    code: "EG0404",
    name: "classic-admin",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "Classic workspaces: the master user is an admin of the workspace",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::TokenConsiderations,
        "Workspace permissions",
        "Classic workspace: The master user must be an admin of the workspace",
    ),
    check: |ctx, e| {
        if !ctx.scenario.caller.is_master_user() {
            return;
        }
        for (p, w) in places_in(ctx, WorkspaceType::Group) {
            if let Some(a) = ctx
                .access(p.workspace)
                .filter(|a| *a != GroupUserAccessRight::Admin)
            {
                e.report(
                    p.location,
                    p.pointer,
                    format!(
                        "the master user is {a:?} of classic workspace {}; Admin is required",
                        ws_name(w)
                    ),
                );
            }
        }
    },
};

pub const NEW_AT_LEAST_MEMBER: Rule = Rule {
    code: "EG0405",
    name: "new-workspace-at-least-member",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "New workspaces: the caller is at least a member of the item's and the dataset's workspace",
    #[cfg(feature = "rule-docs")]
    doc: "“Considerations when generating an embed token” asks for Member or Admin in both workspaces. A service principal or profile with no access at all is \
          reported by EG0602.",
    source: cite(
        Document::TokenConsiderations,
        "Workspace permissions",
        "New workspace: The service principal or master user must be at least a member of both workspaces",
    ),
    check: |ctx, e| {
        let caller = &ctx.scenario.caller;
        for (p, w) in places_in(ctx, WorkspaceType::Workspace) {
            let Some(a) = ctx.access(p.workspace) else { continue };
            let reported_elsewhere = a == GroupUserAccessRight::None && caller.is_service_principal();
            if a < GroupUserAccessRight::Member && !reported_elsewhere {
                e.report(p.location, p.pointer, format!("the caller is {a:?} of workspace {} (holding {} `{}`); at least Member is required", ws_name(w), p.what, p.id));
            }
        }
    },
};

pub const V2_NEW_WORKSPACES_ONLY: Rule = Rule {
    code: "EG0406",
    name: "v2-new-workspaces-only",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "GenerateToken V2: every item and target workspace is in a new workspace",
    #[cfg(feature = "rule-docs")]
    doc: "",
    source: cite(
        Document::ServiceBehaviour,
        "GenerateToken V2",
        "all items in new workspaces",
    ),
    check: |ctx, e| {
        if !ctx.scenario.endpoint.is_v2() {
            return;
        }
        let targets = ctx
            .v2
            .and_then(|b| b.target_workspaces.as_deref())
            .unwrap_or(&[]);
        let mut report = |what: &str, id: &str, w: &Workspace, location, pointer: Ptr| {
            e.report(
                location,
                pointer,
                format!(
                    "{} `{}` is in classic workspace {}: GenerateToken V2 needs new workspaces",
                    what,
                    id,
                    ws_name(w)
                ),
            );
        };
        for (p, w) in places_in(ctx, WorkspaceType::Group) {
            report(p.what, p.id, w, p.location, p.pointer);
        }
        // A target workspace is reported unless an item or an earlier target already names it.
        let resolved = |t: &TargetWorkspace| ctx.workspace_index(&t.id);
        for (i, t) in targets.iter().enumerate() {
            let Some(ix) = resolved(t) else { continue };
            let w = ctx.workspace_at(ix);
            let repeat = ctx.places.iter().any(|p| p.workspace == ix)
                || targets[..i].iter().any(|u| resolved(u) == Some(ix));
            if w.kind() == WorkspaceType::Group && !repeat {
                report(
                    "target workspace",
                    &t.id,
                    w,
                    Location::Request,
                    Ptr::TargetWorkspaceId(i),
                );
            }
        }
    },
};

pub const WORKSPACE_UNKNOWN: Rule = Rule {
    code: "EG0407",
    name: "workspace-unknown",
    family: Family::Workspace,
    severity: Severity::Info,
    title: "Workspace not described: workspace rules skipped",
    #[cfg(feature = "rule-docs")]
    doc: "Describe each workspace (its type and the caller's access) to have the workspace rules checked.",
    source: cite(Document::Embedgate, "Scenario", "Rules only check what the scenario describes."),
    check: |ctx, e| {
        for t in ctx.touched() {
            let (what, id) = (t.what, t.id);
            match (t.workspace_id, t.workspace) {
                (Some(w), None) => {
                    e.report(t.location, t.pointer, format!("workspace `{w}` of {what} `{id}` is not described"));
                }
                (None, _) => {
                    e.report(t.location, t.pointer, format!("the workspace of {what} `{id}` is not known"));
                }
                _ => {}
            }
        }
    },
};

pub const ITEM_IN_ENDPOINT_WORKSPACE: Rule = Rule {
    code: "EG0408",
    name: "item-in-endpoint-workspace",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "A V1 endpoint finds its item only in the workspace its path names",
    #[cfg(feature = "rule-docs")]
    doc: "`POST /groups/{groupId}/reports/{reportId}/GenerateToken` (and the dataset, dashboard and tile \
          endpoints) looks the item up in that workspace: an item that lives in another workspace is not found \
          (404, PowerBIEntityNotFound). Checked when the scenario says where the item lives.",
    source: cite(
        Document::Swagger,
        "Reports_GenerateTokenInGroup",
        "Generates an embed token to view or edit the specified report from the specified workspace.",
    ),
    check: |ctx, e| {
        // Where the scenario says the item lives.
        let (what, id, group, lives) = match &ctx.scenario.endpoint {
            Endpoint::Report { group_id, report_id } => {
                let home = ctx.report(report_id).and_then(|r| r.workspace_id.as_deref());
                ("report", report_id, group_id, home)
            }
            Endpoint::Dataset { group_id, dataset_id } => {
                let home = ctx.dataset(dataset_id).and_then(|d| d.meta.workspace_id.as_deref());
                ("dataset", dataset_id, group_id, home)
            }
            Endpoint::Dashboard { group_id, dashboard_id } | Endpoint::Tile { group_id, dashboard_id, .. } => {
                let home = ctx.dashboard(dashboard_id).and_then(|d| d.workspace_id.as_deref());
                ("dashboard", dashboard_id, group_id, home)
            }
            Endpoint::GenerateTokenV2 | Endpoint::CreateReport { .. } => return,
        };
        let Some(lives) = lives.filter(|w| !w.is_empty() && !w.eq_ignore_ascii_case(group)) else { return };
        e.report(
            Location::Scenario,
            "/endpoint/groupId",
            format!("{what} `{id}` lives in workspace `{lives}`, not in `{group}` that the endpoint names: Power BI answers 404 (not found)"),
        )
        .fix(Fix {
            title: format!("call the endpoint of workspace {lives}"),
            patch: vec![PatchOp::replace("/endpoint/groupId", json!(lives))],
        });
    },
};
