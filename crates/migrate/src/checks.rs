//! The judgements of `apply`'s preflight, `verify` and `cleanup`, on answers already read. Each one decides from
//! the live state (the registry of the worker's customers, Power BI's lists), never from the inventory alone.

use std::collections::BTreeMap;

use embedgate_core::powerbi::{
    GroupUser, GroupUserAccessRight, PrincipalType, ServicePrincipalProfile,
};
use embedgate_edge::customer::Flow;
use serde_json::Value;

use crate::inventory::{err, profile_name, InputError, Inventory, Target};
use crate::machine::Progress;
use crate::registry::Registry;

const DOC: &str = "Migrate multi-customer applications to the service principal profiles model";

fn is_profile(u: &GroupUser, profile_id: &str) -> bool {
    u.profile
        .as_ref()
        .is_some_and(|p| p.id.eq_ignore_ascii_case(profile_id))
}

/// The profile holds Admin on the workspace ("provide each profile with Admin access", in the Microsoft
/// document on migrating to profiles).
pub fn profile_is_admin(users: &[GroupUser], profile_id: &str) -> bool {
    users.iter().any(|u| {
        is_profile(u, profile_id) && u.group_user_access_right == GroupUserAccessRight::Admin
    })
}

/// What `apply` finds before it changes anything.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Preflight {
    /// Customers apply leaves as they are, with why.
    pub skip: BTreeMap<String, String>,
    /// Input that names something another customer (or nobody known) holds: apply changes nothing.
    pub problems: Vec<InputError>,
}

/// `apply`'s checks of the whole inventory against the live state, before its first change: customers already
/// on the profile flow are skipped; a profile name that matches (in any case) a profile not recorded as that
/// customer's, or an existing workspace another customer uses, is a problem at its JSON path.
pub fn preflight(
    inv: &Inventory,
    registry: &Registry,
    profiles: &[ServicePrincipalProfile],
    state: &BTreeMap<String, Progress>,
) -> Preflight {
    let mut out = Preflight::default();
    for (i, c) in inv.customers.iter().enumerate() {
        let at = |p: &str| format!("/customers/{i}{p}");
        let id = c.id.as_str();
        if let Some(doc) = registry.customer(id).filter(|d| d.flow == Flow::Profile) {
            out.skip.insert(
                c.id.clone(),
                format!(
                    "already on the profile flow (profile {}); apply leaves it as it is",
                    doc.profile_id.as_deref().unwrap_or("?")
                ),
            );
            continue;
        }
        let mine = registry.profile_of(id);
        if let Some(p) = mine {
            if let Some(other) = registry.profile_owner_other_than(p, id) {
                out.problems.push(err(at(""), format!("profile {p} is recorded for both `{id}` and `{other}`; fix the worker's documents first (one profile per customer)")));
                continue;
            }
        }
        let name = profile_name(c);
        if let Some(found) = profiles.iter().find(|p| {
            p.display_name
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(&name))
        }) {
            let display = found.display_name.as_deref().unwrap_or_default();
            let field = if c.profile_name.is_some() {
                "/profileName"
            } else {
                ""
            };
            let ours = mine.is_some_and(|m| m.eq_ignore_ascii_case(&found.id))
                || (display == name
                    && state.get(id).and_then(|p| p.creating_profile.as_deref())
                        == Some(name.as_str()));
            if let Some(other) = registry.profile_owner_other_than(&found.id, id) {
                out.problems.push(err(at(field), format!("profile name `{name}` is taken: profile `{display}` ({}) is customer `{other}`'s; set /customers/{i}/profileName to a name of this customer's own", found.id)));
            } else if !ours && mine.is_none() {
                out.problems.push(err(at(field), format!("profile name `{name}` is taken: a profile `{display}` ({}) exists and nothing records it as `{id}`'s; set /customers/{i}/profileName to another name, or set the customer document's profileId if it is this customer's", found.id)));
            }
        }
        if let Target::ExistingWorkspace { workspace_id } = &c.target {
            if let Some(other) = registry.workspace_user_other_than(workspace_id, id) {
                out.problems.push(err(
                    at("/target/workspaceId"),
                    format!("workspace {workspace_id} is used by customer `{other}`; a profile's workspace serves one customer"),
                ));
            }
        }
    }
    out
}

/// What cleanup does with a row or a workspace, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Remove(String),
    Keep(String),
}

fn who(u: &GroupUser) -> String {
    match (&u.profile, u.identifier.as_deref()) {
        (Some(p), _) => format!("profile {}", p.id),
        (None, Some(i)) => i.to_string(),
        _ => "an unnamed member".into(),
    }
}

/// The rows of a migrated customer's workspace: only the principals the migration made redundant are removed
/// (the document's step 5): the master user named in the inventory, and the service principal itself (without
/// a profile) once the customer's profile is Admin. Everything else stays, with why.
pub fn judge_members(
    users: &[GroupUser],
    sp_object_id: &str,
    master_user: Option<&str>,
    profile_id: &str,
    registry: &Registry,
) -> Vec<(GroupUser, Verdict)> {
    let admin = profile_is_admin(users, profile_id);
    users
        .iter()
        .map(|u| {
            let id = u.identifier.as_deref().unwrap_or_default();
            let v = if let Some(p) = &u.profile {
                match registry.profile_holders(&p.id).first() {
                    _ if p.id.eq_ignore_ascii_case(profile_id) => Verdict::Keep("the customer's profile".into()),
                    Some(c) => Verdict::Keep(format!("customer `{c}`'s profile")),
                    None => Verdict::Keep("a profile no customer document names (cleanup removes no profile)".into()),
                }
            } else if !admin {
                Verdict::Keep("the customer's profile is not Admin here yet, so nothing is redundant".into())
            } else if u.principal_type == Some(PrincipalType::App) && id.eq_ignore_ascii_case(sp_object_id) {
                Verdict::Remove("the service principal itself: the customer's profile is Admin and the app calls as the profile".into())
            } else if u.principal_type == Some(PrincipalType::User)
                && master_user.is_some_and(|m| m.eq_ignore_ascii_case(id))
            {
                Verdict::Remove("the master user named in the inventory".into())
            } else {
                Verdict::Keep("neither the master user named in the inventory nor the service principal itself".into())
            };
            (u.clone(), v)
        })
        .collect()
}

/// An old (legacy) workspace: deleted only when no customer document references it, no inventory customer
/// still embeds from it, and its members (read live) are only the service principal and the master user.
pub fn judge_old_workspace(
    ws: &str,
    registry: &Registry,
    unmoved: &[&str],
    users: Option<&[GroupUser]>,
    sp_object_id: &str,
    master_user: Option<&str>,
) -> Verdict {
    let holders = registry.workspace_holders(ws);
    if !holders.is_empty() {
        return Verdict::Keep(format!("customers use it: {}", holders.join(", ")));
    }
    if !unmoved.is_empty() {
        return Verdict::Keep(format!(
            "inventory customers not on the profile flow embed from it: {}",
            unmoved.join(", ")
        ));
    }
    let Some(users) = users else {
        return Verdict::Keep("its members could not be read, so nothing proves it unused".into());
    };
    for u in users {
        let id = u.identifier.as_deref().unwrap_or_default();
        let sp = u.profile.is_none()
            && u.principal_type == Some(PrincipalType::App)
            && id.eq_ignore_ascii_case(sp_object_id);
        let master = u.principal_type == Some(PrincipalType::User)
            && master_user.is_some_and(|m| m.eq_ignore_ascii_case(id));
        if !sp && !master {
            return Verdict::Keep(format!(
                "{} is a member ({:?})",
                who(u),
                u.group_user_access_right
            ));
        }
    }
    Verdict::Remove("no customer document references it, and its only members are the service principal and the master user".into())
}

/// The service principal itself reaches the workspace while the profile is not its Admin: the app works today
/// only through the old permission ("Reports may load even if there are bugs").
pub fn works_only_through_old_permissions(
    users: &[GroupUser],
    sp_object_id: &str,
    profile_id: &str,
) -> bool {
    let sp = users.iter().any(|u| {
        u.profile.is_none()
            && u.principal_type == Some(PrincipalType::App)
            && u.identifier
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(sp_object_id))
    });
    sp && !profile_is_admin(users, profile_id)
}

/// Compares what a sample user sees before and after (the emulator's render answer: `columns`, `rows`).
/// `None` when the same rows (in any order).
pub fn rows_differ(before: &Value, after: &Value) -> Option<String> {
    let rows = |v: &Value| -> Vec<String> {
        let mut r: Vec<String> = v["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(Value::to_string)
            .collect();
        r.sort();
        r
    };
    if before["ok"] != true || after["ok"] != true {
        let why = |v: &Value| {
            v["error"]
                .as_str()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        };
        return Some(format!(
            "a report did not load (before ok: {}{}, after ok: {}{})",
            before["ok"],
            why(before),
            after["ok"],
            why(after)
        ));
    }
    let (b, a) = (rows(before), rows(after));
    (b != a).then(|| format!("{} rows before, {} after", b.len(), a.len()))
}

/// The "shouldn't migrate" cases of the document, quoted, with the figures that make them apply.
pub fn should_not_migrate(inv: &Inventory) -> Vec<String> {
    let n = inv.customers.len();
    let customers = if n == 1 {
        "1 customer".to_string()
    } else {
        format!("{n} customers")
    };
    let mut out = Vec::new();
    if inv.service_principals > 1 && inv.service_principals as usize >= n {
        out.push(format!(
            "the app uses {} service principals for {customers}. {DOC}: \"Not all apps benefit from the service principal model. For example, the following apps shouldn't migrate: [...] Apps that use one multiple service principal per customer\"",
            inv.service_principals
        ));
    }
    let items: usize = inv.customers.iter().map(|c| c.legacy.reports.len()).sum();
    if n <= 3 && items <= 5 {
        let reports = if items == 1 {
            "1 report".to_string()
        } else {
            format!("{items} reports")
        };
        out.push(format!(
            "the app has {customers} and {reports}. {DOC}: \"Not all apps benefit from the service principal model. For example, the following apps shouldn't migrate: Small apps that maintain one service principal with a small number of objects.\""
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(v: Value) -> GroupUser {
        serde_json::from_value(v).unwrap()
    }

    const SP: &str = "33333333-3333-4333-8333-333333333333";

    fn removed(v: &[(GroupUser, Verdict)]) -> Vec<String> {
        v.iter()
            .filter(|(_, v)| matches!(v, Verdict::Remove(_)))
            .map(|(u, _)| u.identifier.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn only_the_named_master_user_and_the_service_principal_are_removed() {
        let users = vec![
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": SP, "principalType": "App"}),
            ),
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": "admin@contoso.com", "principalType": "User"}),
            ),
            user(
                json!({"groupUserAccessRight": "Viewer", "identifier": "auditor@contoso.com", "principalType": "User"}),
            ),
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": SP, "principalType": "App", "profile": {"id": "p1"}}),
            ),
        ];
        let r = Registry::default();
        let v = judge_members(&users, SP, Some("ADMIN@contoso.com"), "p1", &r);
        assert_eq!(removed(&v), [SP, "admin@contoso.com"]);
        // No master user named: only the service principal itself.
        assert_eq!(removed(&judge_members(&users, SP, None, "p1", &r)), [SP]);
        // The profile not Admin: nothing is redundant.
        assert!(removed(&judge_members(
            &users[..3],
            SP,
            Some("admin@contoso.com"),
            "p1",
            &r
        ))
        .is_empty());
        assert!(profile_is_admin(&users, "P1"));
        assert!(!works_only_through_old_permissions(&users, SP, "p1"));
        assert!(works_only_through_old_permissions(&users[..2], SP, "p1"));
    }

    #[test]
    fn an_old_workspace_is_kept_while_anything_uses_it() {
        let ws = "5a5a5a5a-0000-4000-8000-00000000a000";
        let sp_and_master = vec![
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": SP, "principalType": "App"}),
            ),
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": "m@x.com", "principalType": "User"}),
            ),
        ];
        let outside = Registry::read(
            &json!({"customers": [
            {"id": "outside", "name": "O", "flow": "legacy", "workspaces": [ws], "reports": []}]})
            .to_string(),
        )
        .unwrap();
        assert!(
            matches!(judge_old_workspace(ws, &outside, &[], Some(&sp_and_master), SP, Some("m@x.com")), Verdict::Keep(w) if w.contains("outside"))
        );
        let none = Registry::default();
        assert!(matches!(
            judge_old_workspace(
                ws,
                &none,
                &["c1"],
                Some(&sp_and_master),
                SP,
                Some("m@x.com")
            ),
            Verdict::Keep(_)
        ));
        assert!(matches!(
            judge_old_workspace(ws, &none, &[], None, SP, Some("m@x.com")),
            Verdict::Keep(_)
        ));
        // The master user not named: a user is a member, so it stays.
        assert!(
            matches!(judge_old_workspace(ws, &none, &[], Some(&sp_and_master), SP, None), Verdict::Keep(w) if w.contains("m@x.com"))
        );
        assert!(matches!(
            judge_old_workspace(ws, &none, &[], Some(&sp_and_master), SP, Some("M@X.com")),
            Verdict::Remove(_)
        ));
    }

    #[test]
    fn rows_compared_in_any_order() {
        let a = json!({"ok": true, "rows": [["Contoso", "1"], ["Contoso", "2"]]});
        let b = json!({"ok": true, "rows": [["Contoso", "2"], ["Contoso", "1"]]});
        assert_eq!(rows_differ(&a, &b), None);
        let c = json!({"ok": true, "rows": [["Fabrikam", "9"]]});
        assert!(rows_differ(&a, &c).is_some());
        assert!(rows_differ(&a, &json!({"ok": false})).is_some());
    }
}
