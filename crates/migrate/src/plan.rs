//! The plan: per customer, the steps of "Migrate multi-customer applications to the service principal profiles
//! model" that are left to do (after what the state file and the worker record as done), and the effective
//! identity the customer has afterwards.

use std::collections::BTreeMap;

use embedgate_edge::customer::Flow;
use serde::Serialize;

use crate::inventory::{profile_name, CustomerIn, Inventory, RlsKind, Target};
use crate::machine::Progress;
use crate::registry::Registry;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub customers: Vec<CustomerPlan>,
    /// The document's cases of apps that shouldn't migrate, when they apply (quoted).
    pub warnings: Vec<String>,
    /// The fewest Power BI calls `apply` can make for what is left (one list of profiles, then per customer:
    /// create profile, find/create workspace or grant, one import + one status read per template).
    pub minimum_calls: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPlan {
    pub id: String,
    pub profile_name: String,
    pub steps: Vec<String>,
    /// What the worker sends for this customer's users after the move.
    pub identity_after: IdentityAfter,
    pub rls_note: String,
    /// The fewest Power BI calls this customer's steps need.
    #[serde(skip)]
    pub calls: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityAfter {
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub custom_data: Option<String>,
}

/// Plans an inventory from scratch.
pub fn plan(inv: &Inventory) -> Plan {
    plan_left(inv, &BTreeMap::new(), None)
}

/// Plans what is left: steps the state file records as done are left out, and customers the worker already
/// serves on the profile flow have none.
pub fn plan_left(
    inv: &Inventory,
    state: &BTreeMap<String, Progress>,
    registry: Option<&Registry>,
) -> Plan {
    let warnings = crate::checks::should_not_migrate(inv);
    let customers: Vec<CustomerPlan> = inv
        .customers
        .iter()
        .map(|c| {
            let on_profile = registry.and_then(|r| r.flow(&c.id)) == Some(Flow::Profile);
            customer(inv, c, state.get(&c.id), on_profile)
        })
        .collect();
    let left = customers.iter().map(|c| c.calls).sum::<usize>();
    Plan {
        customers,
        warnings,
        minimum_calls: if left == 0 { 0 } else { 1 + left },
    }
}

fn customer(
    inv: &Inventory,
    c: &CustomerIn,
    p: Option<&Progress>,
    on_profile: bool,
) -> CustomerPlan {
    let name = profile_name(c);
    let done = p.cloned().unwrap_or_default();
    let mut steps = Vec::new();
    let mut calls = 0;
    if on_profile {
        steps.push("nothing: the worker already serves this customer on the profile flow".into());
    } else {
        if done.profile_id.is_none() {
            steps.push(format!(
                "create profile `{name}` (or take the one the worker or the state file records as this customer's)"
            ));
            calls += 1;
        }
        match &c.target {
            Target::ExistingWorkspace { workspace_id } if !done.admin => {
                steps.push(format!(
                    "grant the profile Admin on workspace {workspace_id} (Add Group User)"
                ));
                calls += 1;
            }
            Target::ExistingWorkspace { .. } => {}
            Target::NewWorkspace {
                name: ws,
                templates,
            } => {
                if done.workspace_id.is_none() {
                    steps.push(format!(
                        "create workspace `{ws}` as the profile (the profile becomes its Admin)"
                    ));
                    calls += 1;
                }
                for t in templates {
                    if done.items.get(t).is_some_and(|i| i.report_id.is_some()) {
                        continue;
                    }
                    let tpl = &inv.templates[t];
                    steps.push(format!(
                        "import `{}` from {} and wait until it succeeds",
                        tpl.name, tpl.file
                    ));
                    calls += 2;
                }
            }
        }
        if !done.document_written {
            steps.push(
                "record the profile in the customer's worker document (profileId set, flow unchanged)".into(),
            );
        } else if steps.is_empty() {
            steps.push(match done.verify.as_deref() {
                Some([]) => "nothing left to apply; verified: `migrate rollout` moves it".into(),
                _ => "nothing left to apply; run `migrate verify`".into(),
            });
        }
    }
    let rls = &c.legacy.rls;
    let (identity_after, rls_note) = match rls.kind {
        RlsKind::Dynamic => (
            IdentityAfter {
                username: Some(name.clone()),
                roles: rls.roles.clone(),
                custom_data: rls.custom_data.clone(),
            },
            if rls.username.as_deref() == Some(name.as_str()) {
                format!("dynamic RLS: USERNAME() returns the profile's name `{name}`, the same value as today")
            } else {
                format!(
                    "dynamic RLS: USERNAME() becomes the profile's name `{name}` instead of `{}`; the model's filter must match it",
                    rls.username.as_deref().unwrap_or("")
                )
            },
        ),
        RlsKind::Static => (
            IdentityAfter {
                username: Some(name.clone()),
                roles: rls.roles.clone(),
                custom_data: rls.custom_data.clone(),
            },
            format!(
                "static RLS: the roles overridden today ({}) are kept",
                rls.roles.join(", ")
            ),
        ),
        RlsKind::None => (
            IdentityAfter {
                username: None,
                roles: vec![],
                custom_data: None,
            },
            "no RLS: the workspace itself separates the customer".into(),
        ),
    };
    CustomerPlan {
        id: c.id.clone(),
        profile_name: name,
        steps,
        identity_after,
        rls_note,
        calls,
    }
}

/// The plan as text, per customer and per step.
pub fn render_text(p: &Plan) -> String {
    let mut out = String::new();
    for w in &p.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    for c in &p.customers {
        out.push_str(&format!(
            "customer {} → profile `{}`\n",
            c.id, c.profile_name
        ));
        for (i, s) in c.steps.iter().enumerate() {
            out.push_str(&format!("  {}. {s}\n", i + 1));
        }
        let id = &c.identity_after;
        out.push_str(&format!(
            "  identity after: username {}, roles [{}]{}\n  {}\n",
            id.username
                .as_deref()
                .map(|u| format!("`{u}`"))
                .unwrap_or_else(|| "none".into()),
            id.roles.join(", "),
            id.custom_data
                .as_deref()
                .map(|d| format!(", customData `{d}`"))
                .unwrap_or_default(),
            c.rls_note
        ));
    }
    let n = p.customers.len();
    out.push_str(&format!(
        "{n} customer{}; at least {} Power BI call{} left\n",
        if n == 1 { "" } else { "s" },
        p.minimum_calls,
        if p.minimum_calls == 1 { "" } else { "s" }
    ));
    out
}
