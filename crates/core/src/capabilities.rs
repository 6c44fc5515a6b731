//! The two capability tables of the seeds as typed data: *Considerations when generating an embed token*'s RLS table (who may mint a
//! token without an effective identity) and *Set effective identity*'s comparison of dataset types. The browser
//! renders them and `docs/capabilities.md` is generated from them.

use serde::Serialize;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

use crate::scenario::{CallerKind, Dataset, ModelKind};

/// *Considerations when generating an embed token*'s RLS types, plus `None` (no row-level security) and `Unknown` (the scenario does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum RlsType {
    CloudRls,
    Rdl,
    AsOnPremLive,
    AsAzureLive,
    Sso,
    SsoCloudRls,
    None,
    Unknown,
}

/// The RLS type of a dataset (paginated reports are `Rdl` by their report, not their dataset).
pub fn dataset_rls(ds: &Dataset) -> RlsType {
    let roles = ds.model_roles().is_some_and(|r| !r.is_empty());
    match ds.model_kind().0 {
        ModelKind::AzureAnalysisServicesLive => RlsType::AsAzureLive,
        ModelKind::SqlServerAnalysisServicesLive => RlsType::AsOnPremLive,
        ModelKind::DirectQueryAzureSqlSso
            if roles || ds.is_effective_identity_roles_required == Some(true) =>
        {
            RlsType::SsoCloudRls
        }
        ModelKind::DirectQueryAzureSqlSso => RlsType::Sso,
        ModelKind::Import | ModelKind::DirectQuery | ModelKind::DirectLake => match ds.has_rls() {
            Some(true) => RlsType::CloudRls,
            Some(false) => RlsType::None,
            None => RlsType::Unknown,
        },
    }
}

/// One row of *Considerations when generating an embed token*'s table "Can I generate an embed token without specifying the effective user ID?".
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RlsRow {
    pub rls_type: RlsType,
    pub name: &'static str,
    /// A master user may mint without an effective identity.
    pub master_user_without_identity: bool,
    /// A service principal (or profile) may mint without an effective identity.
    pub service_principal_without_identity: bool,
    pub considerations: &'static [&'static str],
    /// The rules that enforce this row.
    pub rules: &'static [&'static str],
}

pub static RLS_TABLE: &[RlsRow] = &[
    RlsRow {
        rls_type: RlsType::CloudRls,
        name: "Cloud Row Level Security (Cloud RLS)",
        master_user_without_identity: true,
        service_principal_without_identity: false,
        considerations: &[],
        rules: &["EG0301", "EG0309", "EG0205", "EG0206"],
    },
    RlsRow {
        rls_type: RlsType::Rdl,
        name: "RDL (paginated reports)",
        master_user_without_identity: false,
        service_principal_without_identity: true,
        considerations: &["You cannot use a master user to generate an embed token for RDL."],
        rules: &["EG0302", "EG0308"],
    },
    RlsRow {
        rls_type: RlsType::AsOnPremLive,
        name: "Analysis Services (AS) on premises live connection",
        master_user_without_identity: true,
        service_principal_without_identity: false,
        considerations: &[
            "The user generating the embed token also needs one of the following permissions:",
            "Gateway admin permissions",
            "Datasource impersonate permission (ReadOverrideEffectiveIdentity)",
        ],
        rules: &["EG0301", "EG0309", "EG0305", "EG0306"],
    },
    RlsRow {
        rls_type: RlsType::AsAzureLive,
        name: "Analysis Services (AS) Azure live connection",
        master_user_without_identity: true,
        service_principal_without_identity: false,
        considerations: &[
            "The identity of the user generating the embed token cannot be overridden. Custom data can be used to implement dynamic RLS or secure filtering.",
            "Note: Service principal must provide its object ID as the effective identity (RLS username).",
        ],
        rules: &["EG0301", "EG0309", "EG0303", "EG0304"],
    },
    RlsRow {
        rls_type: RlsType::Sso,
        name: "Single Sign On (SSO)",
        master_user_without_identity: true,
        service_principal_without_identity: false,
        considerations: &["An explicit (SSO) identity can be provided using the identity blob property in an effective identity object"],
        rules: &["EG0301", "EG0309", "EG0307"],
    },
    RlsRow {
        rls_type: RlsType::SsoCloudRls,
        name: "SSO and cloud RLS",
        master_user_without_identity: true,
        service_principal_without_identity: false,
        considerations: &[
            "You must provide the following:",
            "Explicit (SSO) identity in the identity blob property property in an effective identity object",
            "Effective (RLS) identity (username)",
        ],
        rules: &["EG0301", "EG0309", "EG0307", "EG0205"],
    },
];

/// *Considerations when generating an embed token*'s note: what a service principal must always provide.
pub static SERVICE_PRINCIPAL_NOTE: &[&str] = &[
    "An identity for any item with an RLS dataset.",
    "For an SSO dataset, an effective RLS identity with the username property defined.",
];

pub fn rls_row(t: RlsType) -> Option<&'static RlsRow> {
    RLS_TABLE.iter().find(|r| r.rls_type == t)
}

/// May this caller mint a token for an item of this RLS type without an effective identity?
pub fn may_omit_identity(t: RlsType, caller: CallerKind) -> Option<bool> {
    rls_row(t).map(|r| match caller {
        CallerKind::MasterUser => r.master_user_without_identity,
        CallerKind::ServicePrincipal | CallerKind::ServicePrincipalProfile => {
            r.service_principal_without_identity
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum UsernameFormat {
    /// Any text, returned by USERNAME() and USERPRINCIPALNAME().
    AnyText,
    /// A master user account (UPN) or a service principal (object id).
    UpnOrObjectId,
    /// A Windows account: UPN or DOMAIN\username.
    UpnOrDomainUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum RolesRequirement {
    /// At least one role must be defined by the effective identity.
    AtLeastOne,
    /// When no role is passed, roles assigned to the effective identity account apply.
    AccountRolesWhenNone,
}

/// One column of *Set effective identity*'s "Compare dataset types" table.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasetTypeRow {
    pub model: ModelKind,
    pub name: &'static str,
    pub username: UsernameFormat,
    pub username_text: &'static str,
    pub custom_data: bool,
    pub roles: RolesRequirement,
    pub roles_text: &'static str,
    pub identity_blob: bool,
    pub identity_blob_text: &'static str,
    pub additional: &'static str,
    pub rules: &'static [&'static str],
}

pub static DATASET_TYPE_TABLE: &[DatasetTypeRow] = &[
    DatasetTypeRow {
        model: ModelKind::Import,
        name: "Internal-hosted import tables",
        username: UsernameFormat::AnyText,
        username_text: "Any text value that will be returned by the USERNAME and USERPRINCIPALNAME functions",
        custom_data: true,
        roles: RolesRequirement::AtLeastOne,
        roles_text: "At least one role must be defined by the effective identity",
        identity_blob: false,
        identity_blob_text: "No",
        additional: "",
        rules: &["EG0205", "EG0206", "EG0210"],
    },
    DatasetTypeRow {
        model: ModelKind::DirectQuery,
        name: "Internal-hosted DirectQuery tables",
        username: UsernameFormat::AnyText,
        username_text: "Any text value that will be returned by the USERNAME and USERPRINCIPALNAME functions",
        custom_data: true,
        roles: RolesRequirement::AtLeastOne,
        roles_text: "At least one role must be defined by the effective identity",
        identity_blob: true,
        identity_blob_text: "Yes, when source data is an Azure SQL Database (that should enforce RLS requirements)",
        additional: "",
        rules: &["EG0205", "EG0206", "EG0210", "EG0307"],
    },
    DatasetTypeRow {
        model: ModelKind::AzureAnalysisServicesLive,
        name: "Azure Analysis Services",
        username: UsernameFormat::UpnOrObjectId,
        username_text: "It's used to authenticate with the service. It must be a master user account (UPN format) or service principal (ObjectID).",
        custom_data: true,
        roles: RolesRequirement::AccountRolesWhenNone,
        roles_text: "When no role is passed, roles that are assigned to the effective identity account are applied",
        identity_blob: false,
        identity_blob_text: "No",
        additional: "",
        rules: &["EG0303", "EG0304", "EG0212"],
    },
    DatasetTypeRow {
        model: ModelKind::SqlServerAnalysisServicesLive,
        name: "SQL Server Analysis Services",
        username: UsernameFormat::UpnOrDomainUser,
        username_text: "It's used to authenticate with the service. It must be a Windows account, using UPN or DOMAIN\\username format.",
        custom_data: false,
        roles: RolesRequirement::AccountRolesWhenNone,
        roles_text: "When no role is passed, roles that are assigned to the effective identity account are applied",
        identity_blob: false,
        identity_blob_text: "No",
        additional: "Requires a gateway. The effective identity account must be a gateway admin.",
        rules: &["EG0305", "EG0306", "EG0209", "EG0106"],
    },
];

/// Both tables, as the browser and `docs/` consume them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub rls: &'static [RlsRow],
    pub service_principal_note: &'static [&'static str],
    pub dataset_types: &'static [DatasetTypeRow],
}

pub fn capabilities() -> Capabilities {
    Capabilities {
        rls: RLS_TABLE,
        service_principal_note: SERVICE_PRINCIPAL_NOTE,
        dataset_types: DATASET_TYPE_TABLE,
    }
}
