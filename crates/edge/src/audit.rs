//! What the audit log records for every issued token: who, for which customer, which items, the token id
//! and a summary of the effective identity. Never the embed token, never an Entra token.

use serde_json::{json, Value};

use super::customer::Plan;
use embedgate_core::powerbi::EffectiveIdentity;

/// `[{username, roles, datasets, reports, customData}]` of the identities sent.
pub fn identity_summary(identities: &[EffectiveIdentity]) -> Value {
    Value::Array(
        identities
            .iter()
            .map(|i| {
                json!({
                    "username": i.username,
                    "roles": i.roles.clone().unwrap_or_default(),
                    "datasets": i.datasets.clone().unwrap_or_default(),
                    "reports": i.reports.clone().unwrap_or_default(),
                    "customData": i.custom_data,
                })
            })
            .collect(),
    )
}

/// `{reports, datasets, targetWorkspaces, lifetimeInMinutes}` of a token.
pub fn items(plan: &Plan) -> Value {
    json!({
        "reports": plan.reports.iter().map(|r| json!({"id": r.id, "allowEdit": r.allow_edit})).collect::<Vec<_>>(),
        "datasets": plan.datasets.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        "targetWorkspaces": plan.target_workspaces,
        "lifetimeInMinutes": plan.lifetime_minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_has_no_token_fields() {
        let ids = vec![EffectiveIdentity {
            username: Some("Contoso".into()),
            roles: Some(vec!["Customer".into()]),
            datasets: Some(vec!["d".into()]),
            identity_blob: Some(embedgate_core::powerbi::IdentityBlob {
                value: "secret-access-token".into(),
            }),
            ..Default::default()
        }];
        let s = identity_summary(&ids);
        assert_eq!(s[0]["username"], "Contoso");
        assert_eq!(s[0]["roles"][0], "Customer");
        assert!(
            !s.to_string().contains("secret-access-token"),
            "identity blobs are tokens: never audited"
        );
    }
}
