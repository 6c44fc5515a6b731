//! Workspace rules (seed 004): classic, new and My workspace, and the caller's access right.

use super::{context::Ptr, Ctx, Family, Rule};
use crate::diag::{Location, Severity};
use crate::powerbi::{GroupUserAccessRight, WorkspaceType};
use crate::scenario::Workspace;
use crate::sources::{cite, Document};

/// Something the token touches, placed in a workspace.
#[derive(Clone, Copy)]
struct Placement<'a> {
    what: &'static str,
    id: &'a str,
    workspace_id: Option<&'a str>,
    location: Location,
    pointer: Ptr,
}

/// One placement per workspace (the first thing the token touches there): a workspace finding
/// is reported once, not once per item in it.
fn per_workspace<'a>(all: impl Iterator<Item = Placement<'a>>) -> Vec<Placement<'a>> {
    let mut out: Vec<Placement> = Vec::new();
    for p in all {
        let dup = p.workspace_id.is_some_and(|w| {
            out.iter()
                .any(|o| o.workspace_id.is_some_and(|x| x.eq_ignore_ascii_case(w)))
        });
        if !dup {
            out.push(p);
        }
    }
    out
}

fn placements<'a>(ctx: &'a Ctx) -> impl Iterator<Item = Placement<'a>> + 'a {
    let items = ctx.items.iter().map(|i| Placement {
        what: "item",
        id: i.id,
        workspace_id: i.workspace_id,
        location: i.location,
        pointer: i.pointer,
    });
    items.chain(ctx.datasets.iter().map(|d| Placement {
        what: "dataset",
        id: d.id,
        workspace_id: d.workspace_id,
        location: d.location,
        pointer: d.pointer,
    }))
}

fn with_workspace<'a>(ctx: &'a Ctx, p: &Placement<'a>) -> Option<&'a Workspace> {
    p.workspace_id.and_then(|w| ctx.workspace(w))
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
    doc: "",
    source: cite(
        Document::TokenConsiderations,
        "Workspace versions",
        "You cannot create an embed token for My workspace.",
    ),
    check: |ctx, e| {
        for p in per_workspace(placements(ctx)) {
            if let Some(w) =
                with_workspace(ctx, &p).filter(|w| w.kind() == WorkspaceType::PersonalGroup)
            {
                e.report(
                    p.location,
                    &p.pointer,
                    format!("{} `{}` is in My workspace {}", p.what, p.id, ws_name(w)),
                )
                .help("move the content to a workspace");
            }
        }
    },
};

pub const CLASSIC_SAME_WORKSPACE: Rule = Rule {
    code: "EG0402",
    name: "classic-same-workspace",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "Classic workspaces: the dataset and the item are in the same workspace",
    doc: "",
    source: cite(
        Document::TokenConsiderations,
        "Workspace versions",
        "Classic workspace: The dataset and the item must be in the same workspace",
    ),
    check: |ctx, e| {
        for it in &ctx.items {
            let Some(w) = it.workspace_id.and_then(|w| ctx.workspace(w)) else {
                continue;
            };
            if w.kind() != WorkspaceType::Group {
                continue;
            }
            for d in &it.dataset_ids {
                let dws = ctx.embedded_dataset(d).and_then(|x| x.workspace_id);
                if let Some(dws) = dws.filter(|dws| !dws.eq_ignore_ascii_case(&w.id)) {
                    e.report(it.location, &it.pointer, format!("item `{}` is in classic workspace {} but its dataset `{d}` is in `{dws}`", it.id, ws_name(w)));
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
        for p in per_workspace(placements(ctx)) {
            if let Some(w) = with_workspace(ctx, &p).filter(|w| w.kind() == WorkspaceType::Group) {
                e.report(
                    p.location,
                    &p.pointer,
                    format!(
                        "{} `{}` is in classic workspace {}: a service principal cannot be used",
                        p.what,
                        p.id,
                        ws_name(w)
                    ),
                )
                .help("upgrade the workspace to a new workspace, or use a master user");
            }
        }
    },
};

pub const CLASSIC_ADMIN: Rule = Rule {
    code: "EG0404",
    name: "classic-admin",
    family: Family::Workspace,
    severity: Severity::Error,
    title: "Classic workspaces: the master user is an admin of the workspace",
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
        for p in per_workspace(placements(ctx)) {
            let Some(w) = with_workspace(ctx, &p).filter(|w| w.kind() == WorkspaceType::Group)
            else {
                continue;
            };
            if let Some(a) = w
                .access_of(&ctx.scenario.caller)
                .filter(|a| *a != GroupUserAccessRight::Admin)
            {
                e.report(
                    p.location,
                    &p.pointer,
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
    doc: "Seed 004 asks for Member or Admin in both workspaces. A service principal or profile with no access at all is \
          reported by EG0602.",
    source: cite(
        Document::TokenConsiderations,
        "Workspace permissions",
        "New workspace: The service principal or master user must be at least a member of both workspaces",
    ),
    check: |ctx, e| {
        let caller = &ctx.scenario.caller;
        for p in per_workspace(placements(ctx)) {
            let Some(w) = with_workspace(ctx, &p).filter(|w| w.kind() == WorkspaceType::Workspace) else { continue };
            let Some(a) = w.access_of(caller) else { continue };
            let reported_elsewhere = a == GroupUserAccessRight::None && caller.is_service_principal();
            if a < GroupUserAccessRight::Member && !reported_elsewhere {
                e.report(p.location, &p.pointer, format!("the caller is {a:?} of workspace {} (holding {} `{}`); at least Member is required", ws_name(w), p.what, p.id));
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
        let all = placements(ctx).chain(targets.iter().enumerate().map(|(i, t)| Placement {
            what: "target workspace",
            id: &t.id,
            workspace_id: Some(&t.id),
            location: Location::Request,
            pointer: Ptr::TargetWorkspaceId(i),
        }));
        for p in per_workspace(all) {
            if let Some(w) = with_workspace(ctx, &p).filter(|w| w.kind() == WorkspaceType::Group) {
                e.report(
                    p.location,
                    &p.pointer,
                    format!(
                        "{} `{}` is in classic workspace {}: GenerateToken V2 needs new workspaces",
                        p.what,
                        p.id,
                        ws_name(w)
                    ),
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
    doc: "Describe each workspace (its type and the caller's access) to have the workspace rules checked.",
    source: cite(Document::Embedgate, "Scenario", "Rules only check what the scenario describes."),
    check: |ctx, e| {
        for p in placements(ctx) {
            match p.workspace_id {
                Some(w) if ctx.workspace(w).is_none() => {
                    e.report(p.location, &p.pointer, format!("workspace `{w}` of {} `{}` is not described", p.what, p.id));
                }
                None => {
                    e.report(p.location, &p.pointer, format!("the workspace of {} `{}` is not known", p.what, p.id));
                }
                _ => {}
            }
        }
    },
};
