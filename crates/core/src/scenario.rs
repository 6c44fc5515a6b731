//! The scenario: everything the rules need beyond the request body, as one JSON document.
//! Metadata objects accept the JSON Power BI's own GET endpoints return (extra service fields are
//! ignored), plus a few facts only the developer knows (model roles, gateway permissions).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::powerbi::{
    Datasource, GroupUser, GroupUserAccessRight, PrincipalType, ReportType,
    ServicePrincipalProfile, WorkspaceType,
};
#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// A token request in its context. `request` is the body exactly as it would be sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Free text for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The verdict this scenario is expected to get (used by the bundled examples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expectation>,
    pub caller: Caller,
    pub endpoint: Endpoint,
    #[serde(default)]
    pub workspaces: Vec<Workspace>,
    #[serde(default)]
    pub datasets: Vec<Dataset>,
    #[serde(default)]
    pub reports: Vec<Report>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dashboards: Vec<Dashboard>,
    /// The GenerateToken request body, verbatim (V2 body for `GenerateTokenV2`, V1 body otherwise).
    #[serde(default)]
    pub request: Value,
}

impl Scenario {
    pub const FIELDS: &'static [&'static str] = &[
        "$schema",
        "description",
        "expect",
        "caller",
        "endpoint",
        "workspaces",
        "datasets",
        "reports",
        "dashboards",
        "request",
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Expectation {
    pub verdict: crate::diag::Verdict,
    /// Rule codes that must be among the findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
}

impl Expectation {
    pub const FIELDS: &'static [&'static str] = &["verdict", "codes"];
}

/// Who calls GenerateToken. A service principal is `principalType: "App"` with its object id; a
/// service principal profile is the same plus `profile` (sent as `X-PowerBI-Profile-Id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    pub principal_type: PrincipalType,
    /// Master user's user principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Service principal's object id (not the app/client id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ServicePrincipalProfile>,
}

impl Caller {
    pub const FIELDS: &'static [&'static str] = &["principalType", "upn", "objectId", "profile"];

    pub fn is_service_principal(&self) -> bool {
        self.principal_type == PrincipalType::App
    }
    pub fn is_master_user(&self) -> bool {
        self.principal_type == PrincipalType::User
    }
    pub fn kind(&self) -> CallerKind {
        match (self.principal_type, &self.profile) {
            (PrincipalType::App, Some(_)) => CallerKind::ServicePrincipalProfile,
            (PrincipalType::App, None) => CallerKind::ServicePrincipal,
            _ => CallerKind::MasterUser,
        }
    }
    /// The caller's principal name as Power BI compares it (UPN or object id).
    pub fn principal_name(&self) -> Option<&str> {
        if self.is_service_principal() {
            self.object_id.as_deref()
        } else {
            self.upn.as_deref()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum CallerKind {
    MasterUser,
    ServicePrincipal,
    ServicePrincipalProfile,
}

/// Which GenerateToken endpoint is called, with its path ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum Endpoint {
    /// `POST /v1.0/myorg/GenerateToken` (multiple items).
    GenerateTokenV2,
    /// `POST /v1.0/myorg/groups/{groupId}/reports/{reportId}/GenerateToken`
    Report { group_id: String, report_id: String },
    /// `POST /v1.0/myorg/groups/{groupId}/reports/GenerateToken` (create a report)
    CreateReport { group_id: String },
    /// `POST /v1.0/myorg/groups/{groupId}/datasets/{datasetId}/GenerateToken` (Q&A)
    Dataset {
        group_id: String,
        dataset_id: String,
    },
    /// `POST /v1.0/myorg/groups/{groupId}/dashboards/{dashboardId}/GenerateToken`
    Dashboard {
        group_id: String,
        dashboard_id: String,
    },
    /// `POST /v1.0/myorg/groups/{groupId}/dashboards/{dashboardId}/tiles/{tileId}/GenerateToken`
    Tile {
        group_id: String,
        dashboard_id: String,
        tile_id: String,
    },
}

impl Endpoint {
    pub const FIELDS: &'static [&'static str] = &[
        "kind",
        "groupId",
        "reportId",
        "datasetId",
        "dashboardId",
        "tileId",
    ];

    pub fn is_v2(&self) -> bool {
        matches!(self, Endpoint::GenerateTokenV2)
    }
    pub fn group_id(&self) -> Option<&str> {
        match self {
            Endpoint::GenerateTokenV2 => None,
            Endpoint::Report { group_id, .. }
            | Endpoint::CreateReport { group_id }
            | Endpoint::Dataset { group_id, .. }
            | Endpoint::Dashboard { group_id, .. }
            | Endpoint::Tile { group_id, .. } => Some(group_id),
        }
    }
    /// The REST path, relative to the API root (`https://api.powerbi.com`).
    pub fn path(&self) -> String {
        match self {
            Endpoint::GenerateTokenV2 => "/v1.0/myorg/GenerateToken".into(),
            Endpoint::Report { group_id, report_id } => {
                format!("/v1.0/myorg/groups/{group_id}/reports/{report_id}/GenerateToken")
            }
            Endpoint::CreateReport { group_id } => {
                format!("/v1.0/myorg/groups/{group_id}/reports/GenerateToken")
            }
            Endpoint::Dataset { group_id, dataset_id } => {
                format!("/v1.0/myorg/groups/{group_id}/datasets/{dataset_id}/GenerateToken")
            }
            Endpoint::Dashboard { group_id, dashboard_id } => {
                format!("/v1.0/myorg/groups/{group_id}/dashboards/{dashboard_id}/GenerateToken")
            }
            Endpoint::Tile { group_id, dashboard_id, tile_id } => format!(
                "/v1.0/myorg/groups/{group_id}/dashboards/{dashboard_id}/tiles/{tile_id}/GenerateToken"
            ),
        }
    }
    /// The endpoint's path ids with their pointers under `/endpoint`.
    pub fn ids(&self) -> impl Iterator<Item = (&'static str, &str)> {
        fn g(id: &str) -> Option<(&'static str, &str)> {
            Some(("/endpoint/groupId", id))
        }
        let ids: [Option<(&'static str, &str)>; 3] = match self {
            Endpoint::GenerateTokenV2 => [None, None, None],
            Endpoint::Report {
                group_id,
                report_id,
            } => [g(group_id), Some(("/endpoint/reportId", report_id)), None],
            Endpoint::CreateReport { group_id } => [g(group_id), None, None],
            Endpoint::Dataset {
                group_id,
                dataset_id,
            } => [g(group_id), Some(("/endpoint/datasetId", dataset_id)), None],
            Endpoint::Dashboard {
                group_id,
                dashboard_id,
            } => [
                g(group_id),
                Some(("/endpoint/dashboardId", dashboard_id)),
                None,
            ],
            Endpoint::Tile {
                group_id,
                dashboard_id,
                tile_id,
            } => [
                g(group_id),
                Some(("/endpoint/dashboardId", dashboard_id)),
                Some(("/endpoint/tileId", tile_id)),
            ],
        };
        ids.into_iter().flatten()
    }
}

/// A workspace (`GET /groups/{id}`), with the caller's access right in it: either given directly
/// (`callerAccess`) or found in `users` (`GET /groups/{id}/users`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Workspace` (new, the default), `Group` (classic) or `PersonalGroup` (My workspace).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub workspace_type: Option<WorkspaceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_access: Option<GroupUserAccessRight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<GroupUser>>,
}

impl Workspace {
    pub const FIELDS: &'static [&'static str] = &[
        "id",
        "name",
        "type",
        "callerAccess",
        "users",
        "isReadOnly",
        "isOnDedicatedCapacity",
        "capacityId",
    ];

    pub fn kind(&self) -> WorkspaceType {
        self.workspace_type.unwrap_or(WorkspaceType::Workspace)
    }

    /// The caller's access right, `None` when the scenario does not say.
    pub fn access_of(&self, caller: &Caller) -> Option<GroupUserAccessRight> {
        if let Some(a) = self.caller_access {
            return Some(a);
        }
        let users = self.users.as_ref()?;
        let best = users
            .iter()
            .filter(|u| user_is_caller(u, caller))
            .map(|u| u.group_user_access_right)
            .max();
        // A user list that does not name the caller means: no access.
        Some(best.unwrap_or(GroupUserAccessRight::None))
    }
}

fn user_is_caller(u: &GroupUser, caller: &Caller) -> bool {
    let eq = |a: Option<&str>, b: Option<&str>| matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
    if caller.is_service_principal() {
        if u.principal_type.is_some_and(|t| t != PrincipalType::App) {
            return false;
        }
        // A profile is its own principal: the bare service principal entry does not count for it.
        let profile_matches = match (&caller.profile, &u.profile) {
            (Some(c), Some(p)) => c.id.eq_ignore_ascii_case(&p.id),
            (None, None) => true,
            _ => false,
        };
        profile_matches && eq(u.identifier.as_deref(), caller.object_id.as_deref())
    } else {
        if u.principal_type.is_some_and(|t| t != PrincipalType::User) {
            return false;
        }
        eq(u.identifier.as_deref(), caller.upn.as_deref())
            || eq(u.email_address.as_deref(), caller.upn.as_deref())
    }
}

/// How a semantic model (dataset) stores or reaches its data: decides its effective-identity rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum ModelKind {
    /// Internal-hosted model with import tables.
    Import,
    /// Internal-hosted model with DirectQuery tables.
    DirectQuery,
    /// DirectQuery to an Azure SQL Database with single sign-on (token-based identity).
    DirectQueryAzureSqlSso,
    /// Live connection to Azure Analysis Services.
    AzureAnalysisServicesLive,
    /// Live connection to SQL Server Analysis Services through an on-premises gateway.
    SqlServerAnalysisServicesLive,
    /// Direct Lake (Fabric): V2 tokens only, no service principal profiles.
    DirectLake,
}

impl ModelKind {
    pub fn is_internal_hosted(self) -> bool {
        matches!(
            self,
            ModelKind::Import
                | ModelKind::DirectQuery
                | ModelKind::DirectQueryAzureSqlSso
                | ModelKind::DirectLake
        )
    }
    pub fn is_on_premises(self) -> bool {
        self == ModelKind::SqlServerAnalysisServicesLive
    }
}

/// A dataset (`GET /groups/{g}/datasets/{id}`), with `datasources` from `.../datasources`, and
/// what only the model's author knows: the RLS roles it defines and the model kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// When absent it is inferred from `datasources` (Analysis Services servers), else `Import`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelKind>,
    /// RLS roles defined in the model; `[]` means the model defines none. Absent means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_effective_identity_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_effective_identity_roles_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasources: Option<Vec<Datasource>>,
    /// Gateway permissions of the caller (SQL Server Analysis Services live connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayAccess>,
}

impl Dataset {
    pub const FIELDS: &'static [&'static str] = &[
        "id",
        "name",
        "workspaceId",
        "model",
        "roles",
        "isEffectiveIdentityRequired",
        "isEffectiveIdentityRolesRequired",
        "datasources",
        "gateway",
        "configuredBy",
        "isRefreshable",
        "isOnPremGatewayRequired",
        "targetStorageMode",
        "webUrl",
        "createdDate",
    ];

    /// The model kind, and whether it was inferred rather than stated.
    pub fn model_kind(&self) -> (ModelKind, bool) {
        if let Some(m) = self.model {
            return (m, false);
        }
        for ds in self.datasources.iter().flatten() {
            let is_as = ds
                .datasource_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("AnalysisServices"));
            if !is_as {
                continue;
            }
            let server = ds
                .connection_details
                .as_ref()
                .and_then(|c| c.server.as_deref())
                .unwrap_or("");
            if server.to_ascii_lowercase().starts_with("asazure://") {
                return (ModelKind::AzureAnalysisServicesLive, true);
            }
            return (ModelKind::SqlServerAnalysisServicesLive, true);
        }
        (ModelKind::Import, true)
    }

    pub fn model_roles(&self) -> Option<&[String]> {
        self.roles.as_deref()
    }

    /// Whether the model applies row-level security. `None`: the scenario does not say.
    pub fn has_rls(&self) -> Option<bool> {
        if let Some(r) = self.is_effective_identity_required {
            return Some(r);
        }
        let (kind, _) = self.model_kind();
        match kind {
            // Live connections always evaluate an identity (*Considerations when generating an embed token*: "SSAS live connections always need an identity").
            ModelKind::AzureAnalysisServicesLive | ModelKind::SqlServerAnalysisServicesLive => {
                Some(true)
            }
            // SSO passes the user's identity to the source even without model roles.
            ModelKind::DirectQueryAzureSqlSso => Some(true),
            _ => self.roles.as_ref().map(|r| !r.is_empty()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GatewayAccess {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_is_admin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_has_read_override_effective_identity: Option<bool>,
}

impl GatewayAccess {
    pub const FIELDS: &'static [&'static str] =
        &["callerIsAdmin", "callerHasReadOverrideEffectiveIdentity"];
}

/// A report (`GET /groups/{g}/reports/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_workspace_id: Option<String>,
    #[serde(default)]
    pub report_type: ReportType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_url: Option<String>,
}

impl Report {
    pub const FIELDS: &'static [&'static str] = &[
        "id",
        "name",
        "workspaceId",
        "datasetId",
        "datasetWorkspaceId",
        "reportType",
        "embedUrl",
        "webUrl",
        "isFromPbix",
        "isOwnedByMe",
        "format",
        "users",
        "subscriptions",
    ];
    pub fn is_paginated(&self) -> bool {
        self.report_type == ReportType::PaginatedReport
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub tiles: Vec<Tile>,
}

impl Dashboard {
    pub const FIELDS: &'static [&'static str] = &[
        "id",
        "displayName",
        "workspaceId",
        "tiles",
        "embedUrl",
        "isReadOnly",
        "webUrl",
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Tile {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
}

impl Tile {
    pub const FIELDS: &'static [&'static str] = &[
        "id",
        "datasetId",
        "reportId",
        "title",
        "embedUrl",
        "embedData",
        "rowSpan",
        "colSpan",
    ];
}
