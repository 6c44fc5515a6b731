//! The effective identity, built on the server from the verified claims and the customer's RLS settings.
//! The request body never contributes (it is refused if it tries, see [`super::request`]).

use serde_json::{Map, Value};

use super::customer::{Customer, Source};
use super::jwt::{claim_string, claim_strings};
use super::EdgeError;
use embedgate_core::powerbi::EffectiveIdentity;

/// Who is asking, after the bearer token was verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub customer_id: String,
    pub user_id: String,
    pub claims: Map<String, Value>,
}

impl Principal {
    /// Reads the customer and user from verified claims by the configured claim names.
    pub fn from_claims(
        claims: Map<String, Value>,
        customer_claim: &str,
        user_claim: &str,
    ) -> Result<Principal, EdgeError> {
        let customer_id = claim_string(&claims, customer_claim).ok_or_else(|| {
            EdgeError::forbidden(
                "missing_claim",
                format!("The token has no {customer_claim:?} claim naming your organisation."),
            )
        })?;
        if !super::customer::valid_customer_id(&customer_id) {
            return Err(EdgeError::forbidden(
                "unknown_customer",
                "Your organisation is not set up for embedding.",
            ));
        }
        let user_id = claim_string(&claims, user_claim).ok_or_else(|| {
            EdgeError::forbidden(
                "missing_claim",
                format!("The token has no {user_claim:?} claim naming the user."),
            )
        })?;
        if user_id.chars().count() > 256 {
            return Err(EdgeError::forbidden(
                "invalid_claims",
                "The user claim is longer than 256 characters.",
            ));
        }
        Ok(Principal {
            customer_id,
            user_id,
            claims,
        })
    }
}

/// Row-level-security facts of an embedded dataset, from `GET dataset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRls {
    pub id: String,
    /// `isEffectiveIdentityRequired`; `None` (unknown) is treated as required: fail closed.
    pub identity_required: Option<bool>,
    /// `isEffectiveIdentityRolesRequired`.
    pub roles_required: Option<bool>,
}

fn resolve(source: &Source, who: &Principal) -> Result<String, EdgeError> {
    match source {
        Source::User => Ok(who.user_id.clone()),
        Source::Customer => Ok(who.customer_id.clone()),
        Source::Value(v) => Ok(v.clone()),
        Source::Claim(c) => claim_string(&who.claims, c).ok_or_else(|| {
            EdgeError::forbidden(
                "missing_claim",
                format!("Your sign-in has no {c:?} claim, which your organisation's row-level security needs."),
            )
        }),
    }
}

/// The roles of this user: the customer's fixed roles plus the user's role claim values that are on the
/// customer's allow-list (anything else in the claim is ignored).
pub fn roles(customer: &Customer, who: &Principal) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |r: &str| {
        if !out.iter().any(|x| x == r) {
            out.push(r.to_string());
        }
    };
    for r in &customer.rls.roles {
        push(r);
    }
    if let Some(claim) = &customer.rls.role_claim {
        for r in claim_strings(&who.claims, claim) {
            if customer.rls.allowed_roles.contains(&r) {
                push(&r);
            }
        }
    }
    out
}

/// Builds the identities for a token: one identity for every dataset that needs one (none for datasets
/// without RLS), and one for paginated reports (their `UserID`).
pub fn build(
    customer: &Customer,
    who: &Principal,
    datasets: &[DatasetRls],
    paginated_reports: &[String],
) -> Result<Vec<EffectiveIdentity>, EdgeError> {
    let rls: Vec<&DatasetRls> = datasets
        .iter()
        .filter(|d| d.identity_required != Some(false))
        .collect();
    let mut out = Vec::new();
    if rls.is_empty() && paginated_reports.is_empty() {
        return Ok(out);
    }
    let username = resolve(&customer.rls.username, who)?;
    let custom_data = customer
        .rls
        .custom_data
        .as_ref()
        .map(|s| resolve(s, who))
        .transpose()?;
    if !rls.is_empty() {
        let roles = roles(customer, who);
        if roles.is_empty() && rls.iter().any(|d| d.roles_required != Some(false)) {
            return Err(EdgeError::forbidden(
                "no_rls_role",
                "You have no role that grants access to this data (row-level security).",
            ));
        }
        out.push(EffectiveIdentity {
            username: Some(username.clone()),
            roles: (!roles.is_empty()).then_some(roles),
            datasets: Some(rls.iter().map(|d| d.id.clone()).collect()),
            custom_data: custom_data.clone(),
            ..Default::default()
        });
    }
    if !paginated_reports.is_empty() {
        out.push(EffectiveIdentity {
            username: Some(username),
            reports: Some(paginated_reports.to_vec()),
            custom_data,
            ..Default::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WS: &str = "c0c0c0c0-0000-4000-8000-00000000a001";
    const R1: &str = "c0c0c0c0-0000-4000-8000-00000000b001";
    const D1: &str = "c0c0c0c0-0000-4000-8000-00000000d001";

    fn customer(rls: Value) -> Customer {
        Customer::from_value(
            &json!({"id": "contoso", "name": "Contoso", "flow": "legacy", "workspaces": [WS],
                                      "reports": [R1], "rls": rls}),
        )
        .unwrap()
    }
    fn who(claims: Value) -> Principal {
        Principal::from_claims(claims.as_object().unwrap().clone(), "customer", "sub").unwrap()
    }
    fn rls(required: Option<bool>, roles: Option<bool>) -> Vec<DatasetRls> {
        vec![DatasetRls {
            id: D1.into(),
            identity_required: required,
            roles_required: roles,
        }]
    }

    #[test]
    fn principal_from_claims() {
        let p = who(json!({"customer": "contoso", "sub": "alice"}));
        assert_eq!(
            (p.customer_id.as_str(), p.user_id.as_str()),
            ("contoso", "alice")
        );
        let e = Principal::from_claims(
            json!({"sub": "a"}).as_object().unwrap().clone(),
            "customer",
            "sub",
        )
        .unwrap_err();
        assert_eq!((e.status, e.code), (403, "missing_claim"));
        let e = Principal::from_claims(
            json!({"customer": "x y", "sub": "a"})
                .as_object()
                .unwrap()
                .clone(),
            "customer",
            "sub",
        )
        .unwrap_err();
        assert_eq!(e.code, "unknown_customer");
        let e = Principal::from_claims(
            json!({"customer": "c"}).as_object().unwrap().clone(),
            "customer",
            "sub",
        )
        .unwrap_err();
        assert_eq!(e.code, "missing_claim");
    }

    #[test]
    fn identity_from_config_and_claims_only() {
        let c = customer(
            json!({"username": {"value": "Contoso"}, "roles": ["Customer"], "roleClaim": "roles",
                                "allowedRoles": ["Region"], "customData": {"claim": "region"}}),
        );
        // The user claims an extra role that is not allow-listed: ignored.
        let p = who(
            json!({"customer": "contoso", "sub": "alice", "roles": ["Region", "Admin"], "region": "North"}),
        );
        let ids = build(&c, &p, &rls(Some(true), Some(true)), &[]).unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].username.as_deref(), Some("Contoso"));
        assert_eq!(
            ids[0].roles.as_deref().unwrap(),
            ["Customer".to_string(), "Region".to_string()]
        );
        assert_eq!(ids[0].custom_data.as_deref(), Some("North"));
        assert_eq!(ids[0].datasets.as_deref().unwrap(), [D1.to_string()]);
    }

    #[test]
    fn no_identity_for_datasets_without_rls() {
        let c = customer(json!({"roles": ["Customer"]}));
        let p = who(json!({"customer": "contoso", "sub": "alice"}));
        assert!(build(&c, &p, &rls(Some(false), Some(false)), &[])
            .unwrap()
            .is_empty());
        // Unknown: fail closed (identity sent, Power BI or the core will say if it should not be).
        assert_eq!(build(&c, &p, &rls(None, None), &[]).unwrap().len(), 1);
    }

    #[test]
    fn username_sources_and_missing_claims() {
        let p = who(json!({"customer": "contoso", "sub": "alice", "email": "alice@contoso.test"}));
        let user = customer(json!({"username": "user", "roles": ["R"]}));
        assert_eq!(
            build(&user, &p, &rls(Some(true), Some(true)), &[]).unwrap()[0]
                .username
                .as_deref(),
            Some("alice")
        );
        let cust = customer(json!({"username": "customer", "roles": ["R"]}));
        assert_eq!(
            build(&cust, &p, &rls(Some(true), Some(true)), &[]).unwrap()[0]
                .username
                .as_deref(),
            Some("contoso")
        );
        let claim = customer(json!({"username": {"claim": "email"}, "roles": ["R"]}));
        assert_eq!(
            build(&claim, &p, &rls(Some(true), Some(true)), &[]).unwrap()[0]
                .username
                .as_deref(),
            Some("alice@contoso.test")
        );
        let missing = customer(json!({"username": {"claim": "upn"}, "roles": ["R"]}));
        assert_eq!(
            build(&missing, &p, &rls(Some(true), Some(true)), &[])
                .unwrap_err()
                .code,
            "missing_claim"
        );
    }

    #[test]
    fn no_role_no_token() {
        let c = customer(json!({"roleClaim": "roles", "allowedRoles": ["Region"]}));
        let p = who(json!({"customer": "contoso", "sub": "alice", "roles": ["Admin"]}));
        let e = build(&c, &p, &rls(Some(true), Some(true)), &[]).unwrap_err();
        assert_eq!((e.status, e.code), (403, "no_rls_role"));
        // Analysis Services style datasets that do not require roles get an identity without roles.
        let ids = build(&c, &p, &rls(Some(true), Some(false)), &[]).unwrap();
        assert!(ids[0].roles.is_none());
    }

    #[test]
    fn paginated_reports_get_a_user_id() {
        let c = customer(json!({"username": "user"}));
        let p = who(json!({"customer": "contoso", "sub": "alice"}));
        let ids = build(&c, &p, &[], &[R1.to_string()]).unwrap();
        assert_eq!(ids[0].reports.as_deref().unwrap(), [R1.to_string()]);
        assert_eq!(ids[0].username.as_deref(), Some("alice"));
    }
}
