//! From Power BI metadata (the JSON of `GET group`, `GET group users`, `GET report`, `GET dataset` and its
//! datasources) to the core [`Scenario`], and the GenerateToken V2 body the worker will send.

use serde_json::{json, Value};

use super::customer::Plan;
use super::identity::DatasetRls;
use super::{same_id, EdgeError};
use embedgate_core::powerbi::{
    EffectiveIdentity, GenerateTokenRequestV2, GenerateTokenRequestV2Dataset,
    GenerateTokenRequestV2Report, GenerateTokenRequestV2TargetWorkspace, PrincipalType,
    ServicePrincipalProfile,
};
use embedgate_core::scenario::{Caller, Dataset, Endpoint, Report, Scenario, Workspace};

/// Metadata as fetched (and cached) by the worker, each object as Power BI returned it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// `GET /groups/{id}`, with `users` set to the `value` of `GET /groups/{id}/users` when known.
    pub workspaces: Vec<Value>,
    /// `GET /groups/{g}/reports/{id}`.
    pub reports: Vec<Value>,
    /// `GET /groups/{g}/datasets/{id}`, with `datasources` set to the `value` of `.../datasources` when known.
    pub datasets: Vec<Value>,
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn bad_metadata(what: &str) -> EdgeError {
    EdgeError::new(
        502,
        "upstream_bad_response",
        format!("Power BI returned {what} metadata this service cannot read."),
    )
}

/// The `(dataset id, dataset workspace id)` of each report, from `GET report` (`datasetId`,
/// `datasetWorkspaceId`, else the report's own workspace). Paginated reports without a dataset are skipped.
pub fn report_datasets(plan: &Plan, reports: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in reports {
        let Some(ds) = str_field(r, "datasetId").filter(|d| !d.is_empty()) else {
            continue;
        };
        let ws = str_field(r, "datasetWorkspaceId")
            .map(str::to_string)
            .or_else(|| {
                let id = str_field(r, "id")?;
                plan.reports
                    .iter()
                    .find(|p| same_id(&p.id, id))
                    .map(|p| p.workspace_id.clone())
            });
        if let Some(ws) = ws {
            if !out.iter().any(|(d, _)| same_id(d, ds)) {
                out.push((ds.to_ascii_lowercase(), ws.to_ascii_lowercase()));
            }
        }
    }
    out
}

/// The ids of paginated reports among the fetched reports.
pub fn paginated_reports(reports: &[Value]) -> Vec<String> {
    reports
        .iter()
        .filter(|r| str_field(r, "reportType") == Some("PaginatedReport"))
        .filter_map(|r| str_field(r, "id").map(str::to_ascii_lowercase))
        .collect()
}

/// RLS facts of the fetched datasets.
pub fn dataset_rls(datasets: &[Value]) -> Vec<DatasetRls> {
    datasets
        .iter()
        .filter_map(|d| {
            Some(DatasetRls {
                id: str_field(d, "id")?.to_ascii_lowercase(),
                identity_required: d
                    .get("isEffectiveIdentityRequired")
                    .and_then(Value::as_bool),
                roles_required: d
                    .get("isEffectiveIdentityRolesRequired")
                    .and_then(Value::as_bool),
            })
        })
        .collect()
}

/// The GenerateToken V2 body.
pub fn v2_body(plan: &Plan, identities: Vec<EffectiveIdentity>) -> GenerateTokenRequestV2 {
    GenerateTokenRequestV2 {
        datasets: (!plan.datasets.is_empty()).then(|| {
            plan.datasets
                .iter()
                .map(|d| GenerateTokenRequestV2Dataset {
                    id: d.id.clone(),
                    xmla_permissions: d.xmla,
                })
                .collect()
        }),
        reports: (!plan.reports.is_empty()).then(|| {
            plan.reports
                .iter()
                .map(|r| GenerateTokenRequestV2Report {
                    id: r.id.clone(),
                    allow_edit: r.allow_edit.then_some(true),
                })
                .collect()
        }),
        target_workspaces: (!plan.target_workspaces.is_empty()).then(|| {
            plan.target_workspaces
                .iter()
                .map(|w| GenerateTokenRequestV2TargetWorkspace { id: w.clone() })
                .collect()
        }),
        identities: (!identities.is_empty()).then_some(identities),
        lifetime_in_minutes: Some(plan.lifetime_minutes as i64),
        datasource_identities: None,
    }
}

/// Who calls GenerateToken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerInfo {
    /// The service principal's object id, when configured.
    pub sp_object_id: Option<String>,
    /// The customer's profile in the profile flow, `None` in the legacy flow.
    pub profile_id: Option<String>,
}

/// Builds the core scenario for a planned token. Metadata shapes the core cannot read are a 502 (the
/// upstream answered something unexpected), never a panic.
pub fn build(
    plan: &Plan,
    meta: &Metadata,
    caller: &CallerInfo,
    body: &GenerateTokenRequestV2,
) -> Result<Scenario, EdgeError> {
    let mut workspaces = Vec::new();
    for w in &meta.workspaces {
        let mut w = w.clone();
        if caller.sp_object_id.is_none() {
            // Without the caller's object id a user list cannot name the caller: leave access unknown.
            if let Some(o) = w.as_object_mut() {
                o.remove("users");
            }
        }
        workspaces
            .push(serde_json::from_value::<Workspace>(w).map_err(|_| bad_metadata("workspace"))?);
    }
    let mut reports = Vec::new();
    for r in &meta.reports {
        let mut rep: Report =
            serde_json::from_value(r.clone()).map_err(|_| bad_metadata("report"))?;
        if rep.workspace_id.is_none() {
            rep.workspace_id = plan
                .reports
                .iter()
                .find(|p| same_id(&p.id, &rep.id))
                .map(|p| p.workspace_id.clone());
        }
        reports.push(rep);
    }
    let mut datasets = Vec::new();
    for d in &meta.datasets {
        let mut ds: Dataset =
            serde_json::from_value(d.clone()).map_err(|_| bad_metadata("dataset"))?;
        if ds.workspace_id.is_none() {
            ds.workspace_id = plan
                .datasets
                .iter()
                .find(|p| same_id(&p.id, &ds.id))
                .map(|p| p.workspace_id.clone());
        }
        datasets.push(ds);
    }
    let request = serde_json::to_value(body).unwrap_or_else(|_| json!({}));
    Ok(Scenario {
        schema: None,
        description: Some("Built by the Embedgate edge worker from Power BI metadata".into()),
        expect: None,
        caller: Caller {
            principal_type: PrincipalType::App,
            upn: None,
            object_id: caller.sp_object_id.clone(),
            profile: caller
                .profile_id
                .as_ref()
                .map(|id| ServicePrincipalProfile {
                    id: id.clone(),
                    display_name: None,
                }),
        },
        endpoint: Endpoint::GenerateTokenV2,
        workspaces,
        datasets,
        reports,
        dashboards: Vec::new(),
        request,
    })
}

/// `reports: [{id, name, embedUrl}]` for the answer, in request order.
pub fn answer_reports(plan: &Plan, reports: &[Value]) -> Vec<crate::api::TokenReport> {
    plan.reports
        .iter()
        .map(|p| {
            let meta = reports
                .iter()
                .find(|r| str_field(r, "id").is_some_and(|id| same_id(id, &p.id)));
            crate::api::TokenReport {
                id: p.id.clone(),
                name: meta.and_then(|m| str_field(m, "name")).map(str::to_string),
                embed_url: meta
                    .and_then(|m| str_field(m, "embedUrl"))
                    .map(str::to_string),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::Customer;
    use crate::identity::{self, Principal};
    use crate::request::parse_token_request;

    const SP: &str = "33333333-3333-4333-8333-333333333333";
    const PROFILE: &str = "c0c0c0c0-0000-4000-8000-000000000001";
    const WS: &str = "c0c0c0c0-0000-4000-8000-00000000a001";
    const R1: &str = "c0c0c0c0-0000-4000-8000-00000000b001";
    const D1: &str = "c0c0c0c0-0000-4000-8000-00000000d001";

    /// Metadata exactly as the emulator (and Power BI) answers it.
    fn meta(member_profile: &str, identity_required: bool) -> Metadata {
        Metadata {
            workspaces: vec![
                json!({"id": WS, "isReadOnly": false, "isOnDedicatedCapacity": false, "type": "Workspace",
                "name": "Contoso Analytics", "@odata.context": "x",
                "users": [{"identifier": SP, "principalType": "App", "groupUserAccessRight": "Admin",
                           "displayName": "Embedgate SaaS App", "profile": {"id": member_profile, "displayName": "Contoso"}}]}),
            ],
            reports: vec![
                json!({"id": R1, "reportType": "PowerBIReport", "name": "Contoso Sales Report",
                "webUrl": "https://app.powerbi.com/x", "embedUrl": "https://emu.powerbi.com:8743/reportEmbed?reportId=x",
                "isFromPbix": true, "isOwnedByMe": true, "users": [], "subscriptions": [],
                "datasetId": D1, "datasetWorkspaceId": WS, "@odata.context": "x"}),
            ],
            datasets: vec![
                json!({"id": D1, "name": "Contoso Sales", "configuredBy": "x", "isRefreshable": true,
                "isEffectiveIdentityRequired": identity_required, "isEffectiveIdentityRolesRequired": identity_required,
                "isOnPremGatewayRequired": false, "targetStorageMode": "Abf", "upstreamDatasets": [],
                "datasources": [{"datasourceType": "Sql", "connectionDetails": {"server": "s.database.windows.net", "database": "sales"}}]}),
            ],
        }
    }

    fn customer(rls: Value) -> Customer {
        Customer::from_value(
            &json!({"id": "contoso", "name": "Contoso", "flow": "profile", "profileId": PROFILE,
            "workspaces": [WS], "reports": [R1], "rls": rls}),
        )
        .unwrap()
    }

    fn run(
        c: &Customer,
        m: &Metadata,
        caller: &CallerInfo,
    ) -> (GenerateTokenRequestV2, embedgate_core::Report) {
        let mut plan = c
            .authorize(
                &parse_token_request(format!(r#"{{"reports": ["{R1}"]}}"#).as_bytes()).unwrap(),
            )
            .unwrap();
        plan.authorize_datasets(c, &report_datasets(&plan, &m.reports))
            .unwrap();
        let who = Principal::from_claims(
            json!({"customer": "contoso", "sub": "alice"})
                .as_object()
                .unwrap()
                .clone(),
            "customer",
            "sub",
        )
        .unwrap();
        let ids = identity::build(
            c,
            &who,
            &dataset_rls(&m.datasets),
            &paginated_reports(&m.reports),
        )
        .unwrap();
        let body = v2_body(&plan, ids);
        let s = build(&plan, m, caller, &body).unwrap();
        (body, embedgate_core::check_scenario(&s))
    }

    #[test]
    fn demo_customer_is_valid_and_body_is_exact() {
        let c = customer(json!({"username": {"value": "Contoso"}, "roles": ["Customer"]}));
        let caller = CallerInfo {
            sp_object_id: Some(SP.into()),
            profile_id: Some(PROFILE.into()),
        };
        let (body, report) = run(&c, &meta(PROFILE, true), &caller);
        assert_eq!(report.errors, 0, "{:#?}", report.diagnostics);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"datasets": [{"id": D1}], "reports": [{"id": R1}],
                   "identities": [{"username": "Contoso", "roles": ["Customer"], "datasets": [D1]}],
                   "lifetimeInMinutes": 60})
        );
    }

    #[test]
    fn missing_identity_config_is_caught_by_the_core() {
        // A customer configured with no roles for an RLS dataset whose roles are not required by metadata
        // still gets a username-only identity; the core flags a profile without workspace access.
        let c = customer(json!({"username": {"value": "Contoso"}, "roles": ["Customer"]}));
        let caller = CallerInfo {
            sp_object_id: Some(SP.into()),
            profile_id: Some(PROFILE.into()),
        };
        let (_, report) = run(
            &c,
            &meta("fab0fab0-0000-4000-8000-000000000002", true),
            &caller,
        );
        assert!(
            report.errors > 0,
            "the profile is not a member of the workspace"
        );
        assert!(
            report.has("EG0602") || report.has("EG0405"),
            "{:#?}",
            report.diagnostics
        );
    }

    #[test]
    fn datasets_without_rls_get_no_identity() {
        let c = customer(json!({"username": {"value": "Contoso"}, "roles": ["Customer"]}));
        let caller = CallerInfo {
            sp_object_id: Some(SP.into()),
            profile_id: Some(PROFILE.into()),
        };
        let (body, report) = run(&c, &meta(PROFILE, false), &caller);
        assert!(body.identities.is_none());
        assert_eq!(report.errors, 0, "{:#?}", report.diagnostics);
    }

    #[test]
    fn unknown_caller_object_id_leaves_access_unknown() {
        let c = customer(json!({"username": {"value": "Contoso"}, "roles": ["Customer"]}));
        let caller = CallerInfo {
            sp_object_id: None,
            profile_id: Some(PROFILE.into()),
        };
        let (_, report) = run(
            &c,
            &meta("fab0fab0-0000-4000-8000-000000000002", true),
            &caller,
        );
        assert_eq!(report.errors, 0, "{:#?}", report.diagnostics);
    }

    #[test]
    fn unreadable_metadata_is_502() {
        let c = customer(json!({"roles": ["Customer"]}));
        let plan = c
            .authorize(
                &parse_token_request(format!(r#"{{"reports": ["{R1}"]}}"#).as_bytes()).unwrap(),
            )
            .unwrap();
        let m = Metadata {
            reports: vec![json!({"id": 5})],
            ..Default::default()
        };
        let body = v2_body(&plan, vec![]);
        let e = build(
            &plan,
            &m,
            &CallerInfo {
                sp_object_id: None,
                profile_id: None,
            },
            &body,
        )
        .unwrap_err();
        assert_eq!((e.status, e.code), (502, "upstream_bad_response"));
    }

    #[test]
    fn answer_lists_reports_in_request_order() {
        let c = customer(json!({"roles": ["Customer"]}));
        let plan = c
            .authorize(
                &parse_token_request(format!(r#"{{"reports": ["{R1}"]}}"#).as_bytes()).unwrap(),
            )
            .unwrap();
        let a = answer_reports(&plan, &meta(PROFILE, true).reports);
        assert_eq!(a[0].name.as_deref(), Some("Contoso Sales Report"));
        assert!(a[0].embed_url.as_deref().unwrap().starts_with("https://"));
    }
}
