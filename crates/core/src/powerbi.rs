//! Power BI REST shapes, field names and casing exactly as Microsoft's swagger
//! (`shared/reference/powerbi-rest-swagger.json`). Request types are lenient on purpose:
//! unknown fields are collected by [`crate::parse`] so a rule can report them.

use serde::{Deserialize, Serialize};

#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// `GenerateTokenRequest` (V1: report, create report, dataset, dashboard, tile endpoints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GenerateTokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_level: Option<TokenAccessLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_save_as: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<EffectiveIdentity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_in_minutes: Option<i64>,
}

impl GenerateTokenRequest {
    pub const FIELDS: &'static [&'static str] = &[
        "accessLevel",
        "datasetId",
        "allowSaveAs",
        "identities",
        "lifetimeInMinutes",
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum TokenAccessLevel {
    View,
    Edit,
    Create,
}

/// `GenerateTokenRequestV2` (`POST /v1.0/myorg/GenerateToken`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GenerateTokenRequestV2 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<Vec<GenerateTokenRequestV2Dataset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<Vec<GenerateTokenRequestV2Report>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workspaces: Option<Vec<GenerateTokenRequestV2TargetWorkspace>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<EffectiveIdentity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_in_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource_identities: Option<Vec<DatasourceIdentity>>,
}

impl GenerateTokenRequestV2 {
    pub const FIELDS: &'static [&'static str] = &[
        "datasets",
        "reports",
        "targetWorkspaces",
        "identities",
        "lifetimeInMinutes",
        "datasourceIdentities",
    ];
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GenerateTokenRequestV2Dataset {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xmla_permissions: Option<XmlaPermissions>,
}

impl GenerateTokenRequestV2Dataset {
    pub const FIELDS: &'static [&'static str] = &["id", "xmlaPermissions"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum XmlaPermissions {
    Off,
    ReadOnly,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GenerateTokenRequestV2Report {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_edit: Option<bool>,
}

impl GenerateTokenRequestV2Report {
    pub const FIELDS: &'static [&'static str] = &["id", "allowEdit"];
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct GenerateTokenRequestV2TargetWorkspace {
    pub id: String,
}

impl GenerateTokenRequestV2TargetWorkspace {
    pub const FIELDS: &'static [&'static str] = &["id"];
}

/// `EffectiveIdentity`: the row-level-security identity carried by an embed token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EffectiveIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_blob: Option<IdentityBlob>,
    /// Paginated (RDL) report ids this identity applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auditable_context: Option<String>,
}

impl EffectiveIdentity {
    pub const FIELDS: &'static [&'static str] = &[
        "username",
        "roles",
        "datasets",
        "customData",
        "identityBlob",
        "reports",
        "auditableContext",
    ];
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct IdentityBlob {
    pub value: String,
}

impl IdentityBlob {
    pub const FIELDS: &'static [&'static str] = &["value"];
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasourceIdentity {
    pub identity_blob: String,
    pub datasources: Vec<DatasourceSelector>,
}

impl DatasourceIdentity {
    pub const FIELDS: &'static [&'static str] = &["identityBlob", "datasources"];
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasourceSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_details: Option<DatasourceConnectionDetails>,
}

impl DatasourceSelector {
    pub const FIELDS: &'static [&'static str] = &["datasourceType", "connectionDetails"];
}

/// `EmbedToken`: what every GenerateToken endpoint answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EmbedToken {
    pub token: String,
    pub token_id: String,
    /// UTC, RFC 3339.
    pub expiration: String,
}

/// `Group` (workspace) as `GET /groups/{id}` returns it; extra service fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub workspace_type: Option<WorkspaceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_on_dedicated_capacity: Option<bool>,
}

/// Workspace kinds: `Workspace` is a new workspace, `Group` a classic one, `PersonalGroup` "My workspace".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum WorkspaceType {
    Workspace,
    Group,
    PersonalGroup,
}

/// `GroupUserAccessRight`, ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum GroupUserAccessRight {
    None,
    Viewer,
    Contributor,
    Member,
    Admin,
}

/// `GroupUser`, including the `profile` of a service principal profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupUser {
    pub group_user_access_right: GroupUserAccessRight,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<PrincipalType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ServicePrincipalProfile>,
}

impl GroupUser {
    pub const FIELDS: &'static [&'static str] = &[
        "groupUserAccessRight",
        "identifier",
        "emailAddress",
        "principalType",
        "profile",
        "displayName",
        "graphId",
        "userType",
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum PrincipalType {
    User,
    App,
    Group,
    None,
}

/// `ServicePrincipalProfile` (`GET /profiles`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalProfile {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl ServicePrincipalProfile {
    pub const FIELDS: &'static [&'static str] = &["id", "displayName"];
}

/// `ReportType` of `GET /reports/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum ReportType {
    #[default]
    PowerBIReport,
    PaginatedReport,
}

/// `Datasource` (`GET /datasets/{id}/datasources`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_details: Option<DatasourceConnectionDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource_id: Option<String>,
}

impl Datasource {
    pub const FIELDS: &'static [&'static str] = &[
        "datasourceType",
        "connectionDetails",
        "gatewayId",
        "datasourceId",
        "name",
        "connectionString",
    ];
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasourceConnectionDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl DatasourceConnectionDetails {
    pub const FIELDS: &'static [&'static str] = &[
        "server",
        "database",
        "url",
        "path",
        "kind",
        "account",
        "domain",
        "emailAddress",
        "loginServer",
        "classInfo",
    ];
}

/// Power BI's error envelope: `{"error":{"code":..., "message":...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}
