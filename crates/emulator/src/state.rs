//! The emulated tenant: the fixture format (camelCase JSON, see README.md) and the in-memory state built from it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    pub tenant: Tenant,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub service_principals: Vec<ServicePrincipal>,
    /// Master users (ROPC sign-in with username + password).
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
    #[serde(default)]
    pub workspaces: Vec<Workspace>,
    #[serde(default)]
    pub datasets: Vec<Dataset>,
    #[serde(default)]
    pub reports: Vec<Report>,
    #[serde(default)]
    pub dashboards: Vec<Dashboard>,
    #[serde(default)]
    pub imports: Vec<Import>,
    #[serde(default)]
    pub idp: Idp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Lifetime of Entra access tokens (`expires_in`), seconds. Entra's default is about an hour.
    pub entra_token_lifetime_seconds: i64,
    /// Default embed token lifetime, minutes.
    pub embed_token_default_minutes: i64,
    /// When set, every embed token lives this many seconds (a portal's refresh tested in seconds, not hours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_token_lifetime_seconds: Option<i64>,
    /// Profiles a service principal may own.
    pub max_profiles_per_service_principal: usize,
    /// An import stays `Publishing` this long (0: it has succeeded when it is created). Until then its items
    /// are left out of the workspace's report and dataset lists, as Power BI has not made them yet.
    pub import_publish_ms: u64,
    /// At most this many Power BI REST calls per second across all callers (0: no limit); the rest are
    /// answered 429 `TooManyRequests` with `Retry-After: 1`, as a fixed-rate throttle.
    pub power_bi_calls_per_second: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            entra_token_lifetime_seconds: 3599,
            embed_token_default_minutes: 60,
            embed_token_lifetime_seconds: None,
            max_profiles_per_service_principal: 100_000,
            import_publish_ms: 0,
            power_bi_calls_per_second: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub app_id: String,
    pub secret: String,
    pub object_id: String,
    #[serde(default)]
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub upn: String,
    pub password: String,
    pub object_id: String,
    #[serde(default)]
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: String,
    pub display_name: String,
    /// appId of the owning service principal.
    pub service_principal: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum WorkspaceType {
    /// New workspace.
    Workspace,
    /// Classic (V1) workspace.
    Group,
    /// "My workspace".
    PersonalGroup,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: WorkspaceType,
    #[serde(default)]
    pub is_on_dedicated_capacity: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_id: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// `App`, `User` or `Group`.
    pub principal_type: String,
    /// Service principal object id (App) or UPN / object id (User).
    pub identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRef>,
    pub group_user_access_right: AccessRight,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProfileRef {
    pub id: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccessRight {
    None,
    Viewer,
    Contributor,
    Member,
    Admin,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum DatasetKind {
    /// Internal-hosted model with import tables.
    Import,
    /// Internal-hosted model with DirectQuery tables.
    DirectQuery,
    /// DirectQuery to Azure SQL Database with SSO (token-based identity, `identityBlob`).
    AzureSqlDirectQuerySso,
    /// Live connection to Azure Analysis Services.
    AzureAnalysisServicesLive,
    /// Live connection to on-premises SQL Server Analysis Services through a gateway.
    SqlServerAnalysisServicesLive,
    /// Direct Lake (Fabric).
    DirectLake,
}

impl DatasetKind {
    pub fn is_analysis_services(self) -> bool {
        matches!(
            self,
            DatasetKind::AzureAnalysisServicesLive | DatasetKind::SqlServerAnalysisServicesLive
        )
    }
    pub fn storage_mode(self) -> &'static str {
        match self {
            DatasetKind::Import => "Abf",
            DatasetKind::DirectLake => "DirectLake",
            DatasetKind::AzureAnalysisServicesLive | DatasetKind::SqlServerAnalysisServicesLive => {
                "Unknown"
            }
            _ => "DirectQuery",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    /// A small DAX-like filter, see `rls.rs` (e.g. `[Customer] = USERNAME()`).
    pub filter: String,
    /// For Analysis Services models: usernames to whom this role is assigned in the model (used when an
    /// effective identity carries no roles).
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    pub id: String,
    pub datasource_id: String,
    /// Principals (service principal object id / app id, or user UPN) that are gateway admins.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Principals holding ReadOverrideEffectiveIdentity on the gateway data source.
    #[serde(default)]
    pub read_override_effective_identity: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: DatasetKind,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub rows: Vec<Map<String, Value>>,
    #[serde(default)]
    pub datasources: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
    #[serde(default)]
    pub configured_by: String,
}

impl Dataset {
    /// Whether an embed token for this dataset needs an effective identity (the dataset's
    /// `isEffectiveIdentityRequired`): RLS roles in the model, or a live connection to Analysis Services, or SSO.
    pub fn is_effective_identity_required(&self) -> bool {
        !self.roles.is_empty()
            || self.kind.is_analysis_services()
            || self.kind == DatasetKind::AzureSqlDirectQuerySso
    }
    /// `isEffectiveIdentityRolesRequired`: RLS is defined inside the model (Power BI hosted models); for Analysis
    /// Services live connections the roles assigned to the username apply when none are passed.
    pub fn is_effective_identity_roles_required(&self) -> bool {
        !self.roles.is_empty() && !self.kind.is_analysis_services()
    }
    pub fn column_names(&self) -> Vec<String> {
        if let Some(c) = &self.columns {
            return c.clone();
        }
        let mut cols: Vec<String> = Vec::new();
        for row in &self.rows {
            for k in row.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
        cols
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum ReportType {
    #[default]
    PowerBIReport,
    PaginatedReport,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub name: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// Power BI reports are bound to a dataset; a paginated report may have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
    #[serde(default)]
    pub report_type: ReportType,
    #[serde(default)]
    pub pages: Vec<Page>,
    /// Paginated reports only: their own rows (RDL data), filtered by `filter` with USERNAME() = the identity's
    /// username (the RDL `UserID`).
    #[serde(default)]
    pub rows: Vec<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tile {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub id: String,
    pub workspace_id: String,
    pub display_name: String,
    #[serde(default)]
    pub tiles: Vec<Tile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Import {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub created_date_time: String,
    pub report_ids: Vec<String>,
    pub dataset_ids: Vec<String>,
    /// Unix milliseconds when it has succeeded (`Settings::import_publish_ms`).
    #[serde(default)]
    pub ready_at_ms: u64,
}

impl Import {
    pub fn publishing(&self) -> bool {
        self.ready_at_ms > crate::app::now_ms()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Idp {
    pub issuer: String,
    pub audience: String,
    /// The demo users the sign-in page offers (`/__emulator/idp/authorize`), with the claims their ID token
    /// carries besides `iss`, `aud`, `sub`, `iat`, `exp` and `nonce`.
    pub users: Vec<IdpUser>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdpUser {
    pub sub: String,
    pub name: String,
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

fn demo_user(sub: &str, name: &str, claims: serde_json::Value) -> IdpUser {
    IdpUser {
        sub: sub.into(),
        name: name.into(),
        claims: claims.as_object().cloned().unwrap_or_default(),
    }
}

impl Default for Idp {
    fn default() -> Self {
        Idp {
            issuer: "https://idp.embedgate.test/".into(),
            audience: "embedgate-portal".into(),
            users: vec![
                demo_user(
                    "alice@contoso.example",
                    "Alice (Contoso)",
                    serde_json::json!({"customer": "contoso"}),
                ),
                demo_user(
                    "bob@fabrikam.example",
                    "Bob (Fabrikam, East region)",
                    serde_json::json!({"customer": "fabrikam", "roles": ["Region"], "region": "East"}),
                ),
            ],
        }
    }
}

impl Fixture {
    /// Whether item `id` comes from an import still publishing.
    pub fn publishing(&self, id: &str) -> bool {
        self.imports.iter().any(|i| {
            i.publishing()
                && (i.report_ids.iter().chain(&i.dataset_ids)).any(|x| x.eq_ignore_ascii_case(id))
        })
    }

    pub fn parse(text: &str) -> Result<Fixture, String> {
        let f: Fixture = serde_json::from_str(text).map_err(|e| format!("fixture: {e}"))?;
        f.validate()?;
        Ok(f)
    }

    /// Referential checks so a broken fixture fails loudly at load time.
    pub fn validate(&self) -> Result<(), String> {
        let ws = |id: &str| {
            self.workspaces
                .iter()
                .any(|w| w.id.eq_ignore_ascii_case(id))
        };
        for p in &self.profiles {
            if !self
                .service_principals
                .iter()
                .any(|s| s.app_id == p.service_principal)
            {
                return Err(format!(
                    "profile {} names unknown service principal {}",
                    p.id, p.service_principal
                ));
            }
        }
        for d in &self.datasets {
            if !ws(&d.workspace_id) {
                return Err(format!(
                    "dataset {} is in unknown workspace {}",
                    d.id, d.workspace_id
                ));
            }
            for r in &d.roles {
                crate::rls::parse(&r.filter)
                    .map_err(|e| format!("dataset {} role {}: {e}", d.id, r.name))?;
            }
        }
        for r in &self.reports {
            if !ws(&r.workspace_id) {
                return Err(format!(
                    "report {} is in unknown workspace {}",
                    r.id, r.workspace_id
                ));
            }
            if let Some(ds) = &r.dataset_id {
                if self.dataset(ds).is_none() {
                    return Err(format!("report {} names unknown dataset {ds}", r.id));
                }
            } else if r.report_type == ReportType::PowerBIReport {
                return Err(format!("Power BI report {} needs a datasetId", r.id));
            }
            if let Some(f) = &r.filter {
                crate::rls::parse(f).map_err(|e| format!("report {} filter: {e}", r.id))?;
            }
        }
        for d in &self.dashboards {
            if !ws(&d.workspace_id) {
                return Err(format!(
                    "dashboard {} is in unknown workspace {}",
                    d.id, d.workspace_id
                ));
            }
        }
        Ok(())
    }

    pub fn workspace(&self, id: &str) -> Option<&Workspace> {
        self.workspaces
            .iter()
            .find(|w| w.id.eq_ignore_ascii_case(id))
    }
    pub fn workspace_mut(&mut self, id: &str) -> Option<&mut Workspace> {
        self.workspaces
            .iter_mut()
            .find(|w| w.id.eq_ignore_ascii_case(id))
    }
    pub fn dataset(&self, id: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.id.eq_ignore_ascii_case(id))
    }
    pub fn report(&self, id: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }
    pub fn dashboard(&self, id: &str) -> Option<&Dashboard> {
        self.dashboards
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
    }
    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id.eq_ignore_ascii_case(id))
    }
    pub fn sp_by_app_id(&self, app_id: &str) -> Option<&ServicePrincipal> {
        self.service_principals
            .iter()
            .find(|s| s.app_id.eq_ignore_ascii_case(app_id))
    }
    pub fn sp_by_any_id(&self, id: &str) -> Option<&ServicePrincipal> {
        self.service_principals
            .iter()
            .find(|s| s.app_id.eq_ignore_ascii_case(id) || s.object_id.eq_ignore_ascii_case(id))
    }
    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }
    pub fn user_by_oid(&self, oid: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.object_id.eq_ignore_ascii_case(oid))
    }
}
