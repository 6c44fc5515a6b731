//! Service principal profiles (*Migrate multi-customer applications to the service principal profiles model*): only service principals have them, and a profile
//! reaches only the workspaces it was given.

use super::{Ctx, Family, Rule};
use crate::diag::{Location, Severity};
use crate::powerbi::{GroupUserAccessRight, PrincipalType};
use crate::sources::{cite, Document};

pub const PROFILE_NEEDS_SERVICE_PRINCIPAL: Rule = Rule {
    code: "EG0601",
    name: "profile-needs-service-principal",
    family: Family::Profiles,
    severity: Severity::Error,
    title: "Only a service principal has profiles",
    #[cfg(feature = "rule-docs")]
    doc: "The `X-PowerBI-Profile-Id` header goes with a service principal's app-only token.",
    source: cite(
        Document::ProfilesMigration,
        "Create Profiles (Required)",
        "Use Profiles REST API with the service principal you created to create one profile for each customer.",
    ),
    check: |ctx, e| {
        let c = &ctx.scenario.caller;
        if c.profile.is_some() && c.principal_type != PrincipalType::App {
            e.report(Location::Scenario, "/caller/profile", "a profile belongs to a service principal: set principalType to App")
                .help("read 'embed with service principal' to create an app-only Microsoft Entra token");
        }
    },
};

/// Where `add group user` help applies, naming the REST call of *Migrate multi-customer applications to the service principal profiles model*.
fn add_user_help(ctx: &Ctx, workspace: &str) -> String {
    let c = &ctx.scenario.caller;
    match &c.profile {
        Some(p) => format!(
            "POST /v1.0/myorg/groups/{workspace}/users with {{\"groupUserAccessRight\":\"Admin\",\"identifier\":\"{}\",\"principalType\":\"App\",\"profile\":{{\"id\":\"{}\"}}}}",
            c.object_id.as_deref().unwrap_or("<service principal object id>"),
            p.id
        ),
        None => format!(
            "POST /v1.0/myorg/groups/{workspace}/users with {{\"groupUserAccessRight\":\"Admin\",\"identifier\":\"{}\",\"principalType\":\"App\"}}",
            c.object_id.as_deref().unwrap_or("<service principal object id>")
        ),
    }
}

pub const PRINCIPAL_WORKSPACE_ACCESS: Rule = Rule {
    code: "EG0602",
    name: "profile-workspace-access",
    family: Family::Profiles,
    severity: Severity::Error,
    title: "A profile (or service principal) reaches only the workspaces it was given",
    #[cfg(feature = "rule-docs")]
    doc: "A profile is its own principal: access granted to the bare service principal, or to another profile, does \
          not count. In the profiles model only the customer's profile has access to its content.",
    source: cite(
        Document::ProfilesMigration,
        "Organize your workspaces",
        "you still have to provide each profile with Admin access to the corresponding workspace using the Add Group User API.",
    ),
    check: |ctx, e| {
        let c = &ctx.scenario.caller;
        if !c.is_service_principal() {
            return;
        }
        let who = || match &c.profile {
            Some(p) => format!("profile `{}`", p.display_name.as_deref().unwrap_or(&p.id)),
            None => "the service principal".to_string(),
        };
        for p in &ctx.places {
            if ctx.access(p.workspace) == Some(GroupUserAccessRight::None) {
                let w = ctx.workspace_at(p.workspace);
                e.report(p.location, p.pointer, format!("{} has no access to workspace `{}`", who(), w.name.as_deref().unwrap_or(&w.id)))
                    .help(add_user_help(ctx, &w.id));
            }
        }
    },
};

pub const PROFILE_ADMIN: Rule = Rule {
    code: "EG0603",
    name: "profile-admin",
    family: Family::Profiles,
    severity: Severity::Info,
    title: "In the profiles model each profile is Admin of its customer's workspace",
    #[cfg(feature = "rule-docs")]
    doc: "The model of “Migrate multi-customer applications to the service principal profiles model”; Member is enough to mint a token (“Considerations when generating an embed token”), so this is a note.",
    source: cite(
        Document::ProfilesMigration,
        "Organize your workspaces",
        "However, you still have to provide each profile with Admin access to the corresponding workspace using the Add Group User API.",
    ),
    check: |ctx, e| {
        let c = &ctx.scenario.caller;
        if c.profile.is_none() || !c.is_service_principal() {
            return;
        }
        for (i, w) in ctx.scenario.workspaces.iter().enumerate() {
            match ctx.access(i) {
                Some(a) if a != GroupUserAccessRight::Admin && a != GroupUserAccessRight::None => {
                    e.report(Location::Scenario, format!("/workspaces/{i}"), format!("the profile is {a:?} of workspace `{}`, not Admin", w.name.as_deref().unwrap_or(&w.id)));
                }
                _ => {}
            }
        }
    },
};
