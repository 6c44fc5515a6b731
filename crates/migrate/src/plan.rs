//! The plan: per customer, the steps seed 000 asks for and the effective identity the customer has afterwards.

use serde::Serialize;

use crate::inventory::{profile_name, CustomerIn, Inventory, RlsKind, Target};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub customers: Vec<CustomerPlan>,
    /// Seed 000's reasons not to migrate, when they apply.
    pub warnings: Vec<String>,
    /// The fewest Power BI calls `apply` can make for this plan (one list of profiles, then per customer:
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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityAfter {
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub custom_data: Option<String>,
}

/// Plans an inventory.
pub fn plan(inv: &Inventory) -> Plan {
    let mut warnings = Vec::new();
    // Seed 000: "Profiles are not needed for every app": a small app with one service principal and few
    // objects, or an app that already has one service principal per customer.
    if inv.service_principals > 1 && inv.service_principals as usize >= inv.customers.len() {
        warnings.push(format!(
            "the app uses {} service principals for {} customers (one per customer): seed 000 says profiles are not needed then",
            inv.service_principals,
            inv.customers.len()
        ));
    }
    let items: usize = inv.customers.iter().map(|c| c.legacy.reports.len()).sum();
    if inv.customers.len() <= 3 && items <= 5 {
        warnings.push(format!(
            "a small app ({} customers, {items} reports) with one service principal: seed 000 says a migration may not be worth it",
            inv.customers.len()
        ));
    }
    let customers: Vec<CustomerPlan> = inv.customers.iter().map(|c| customer(inv, c)).collect();
    let minimum_calls = 1 + inv
        .customers
        .iter()
        .map(|c| match &c.target {
            Target::ExistingWorkspace { .. } => 1 + 1, // create profile, add group user
            Target::NewWorkspace { templates, .. } => 1 + 1 + 2 * templates.len(), // + create group, import + status
        })
        .sum::<usize>();
    Plan {
        customers,
        warnings,
        minimum_calls,
    }
}

fn customer(inv: &Inventory, c: &CustomerIn) -> CustomerPlan {
    let name = profile_name(c);
    let mut steps = vec![format!(
        "create profile `{name}` (or reuse the one of that name)"
    )];
    match &c.target {
        Target::ExistingWorkspace { workspace_id } => {
            steps.push(format!(
                "grant the profile Admin on workspace {workspace_id} (Add Group User)"
            ));
        }
        Target::NewWorkspace {
            name: ws,
            templates,
        } => {
            steps.push(format!(
                "create workspace `{ws}` as the profile (the profile becomes its Admin)"
            ));
            for t in templates {
                let tpl = &inv.templates[t];
                steps.push(format!(
                    "import `{}` from {} and wait until it succeeds",
                    tpl.name, tpl.file
                ));
            }
        }
    }
    steps.push(
        "write the customer's document to the worker (profileId set, flow still legacy)".into(),
    );
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
    out.push_str(&format!(
        "{} customers; at least {} Power BI calls\n",
        p.customers.len(),
        p.minimum_calls
    ));
    out
}
