//! The judgements of `verify` and `cleanup`, on answers already read.

use embedgate_core::powerbi::{GroupUser, GroupUserAccessRight, PrincipalType};
use serde_json::Value;

fn is_profile(u: &GroupUser, profile_id: &str) -> bool {
    u.profile
        .as_ref()
        .is_some_and(|p| p.id.eq_ignore_ascii_case(profile_id))
}

/// The profile holds Admin on the workspace (seed 000: "provide each profile with Admin access").
pub fn profile_is_admin(users: &[GroupUser], profile_id: &str) -> bool {
    users.iter().any(|u| {
        is_profile(u, profile_id) && u.group_user_access_right == GroupUserAccessRight::Admin
    })
}

/// The rows seed 000's step 5 calls redundant on a customer's workspace: master users, and the service
/// principal itself (without a profile). Never the last Admin: if only redundant rows are Admin, the first of
/// them stays.
pub fn redundant_permissions(users: &[GroupUser], sp_object_id: &str) -> Vec<GroupUser> {
    let redundant = |u: &GroupUser| match u.principal_type {
        Some(PrincipalType::User) => true,
        Some(PrincipalType::App) => {
            u.profile.is_none()
                && u.identifier
                    .as_deref()
                    .is_some_and(|i| i.eq_ignore_ascii_case(sp_object_id))
        }
        _ => false,
    };
    let admin = |u: &GroupUser| u.group_user_access_right == GroupUserAccessRight::Admin;
    let mut out: Vec<GroupUser> = users.iter().filter(|u| redundant(u)).cloned().collect();
    let other_admin = users.iter().any(|u| admin(u) && !redundant(u));
    if !other_admin {
        if let Some(i) = out.iter().position(admin) {
            out.remove(i);
        }
    }
    out
}

/// The service principal itself reaches the workspace while the profile is not its Admin: the app works today
/// only through the old permission (seed 000: "Reports may load even if there are bugs").
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
        return Some(format!(
            "a report did not load (before ok: {}, after ok: {})",
            before["ok"], after["ok"]
        ));
    }
    let (b, a) = (rows(before), rows(after));
    (b != a).then(|| format!("{} rows before, {} after", b.len(), a.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(v: Value) -> GroupUser {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn redundant_rows_but_never_the_last_admin() {
        let sp = "33333333-3333-4333-8333-333333333333";
        let users = vec![
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": sp, "principalType": "App"}),
            ),
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": "admin@contoso.com", "principalType": "User"}),
            ),
            user(
                json!({"groupUserAccessRight": "Admin", "identifier": sp, "principalType": "App", "profile": {"id": "p1"}}),
            ),
        ];
        assert_eq!(redundant_permissions(&users, sp).len(), 2);
        assert!(profile_is_admin(&users, "P1"));
        assert!(!works_only_through_old_permissions(&users, sp, "p1"));
        // Without the profile row, one of the two stays: the workspace keeps an Admin.
        assert_eq!(redundant_permissions(&users[..2], sp).len(), 1);
        assert!(works_only_through_old_permissions(&users[..2], sp, "p1"));
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
