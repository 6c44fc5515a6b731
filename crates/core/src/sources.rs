//! Where each rule comes from: the seed documents, the swagger, and documented service behaviour.

use crate::diag::Location;
use serde::Serialize;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum Document {
    /// Microsoft's "Migrate multi-customer applications to the service principal profiles model".
    #[serde(rename = "seed-000-profiles-migration")]
    ProfilesMigration,
    /// Microsoft's "Set effective identity".
    #[serde(rename = "seed-003-effective-identity")]
    EffectiveIdentity,
    /// Microsoft's "Considerations when generating an embed token".
    #[serde(rename = "seed-004-token-considerations")]
    TokenConsiderations,
    /// Microsoft's Power BI REST swagger (`powerbi-rest-swagger.json`).
    #[serde(rename = "powerbi-rest-swagger")]
    Swagger,
    /// Behaviour of the service documented by Microsoft and collected in the project's notes
    /// (`../shared/NOTES.md`, beside the repository).
    #[serde(rename = "service-behaviour")]
    ServiceBehaviour,
    /// Embedgate's own rule (no Power BI document says it; explained in the rule's doc).
    #[serde(rename = "embedgate")]
    Embedgate,
}

impl Document {
    pub fn title(self) -> &'static str {
        match self {
            Document::ProfilesMigration => {
                "Migrate multi-customer applications to the service principal profiles model"
            }
            Document::EffectiveIdentity => "Set effective identity",
            Document::TokenConsiderations => "Considerations when generating an embed token",
            Document::Swagger => "Power BI REST API specification (swagger)",
            Document::ServiceBehaviour => "Power BI service behaviour (Microsoft docs)",
            Document::Embedgate => "Embedgate",
        }
    }
    /// The document on Microsoft Learn, where it has a public page. The pages keep the same
    /// links in `www/src/docs.ts`; a test holds the two together.
    pub fn url(self) -> Option<&'static str> {
        match self {
            Document::ProfilesMigration => Some(
                "https://learn.microsoft.com/en-us/power-bi/developer/embedded/migration-to-sp-profiles",
            ),
            Document::EffectiveIdentity => Some(
                "https://learn.microsoft.com/en-us/training/modules/power-bi-embedded-permissions-analytics/identity",
            ),
            Document::TokenConsiderations => Some(
                "https://learn.microsoft.com/en-us/power-bi/developer/embedded/generate-embed-token",
            ),
            Document::Swagger => Some("https://learn.microsoft.com/en-us/rest/api/power-bi/"),
            Document::ServiceBehaviour | Document::Embedgate => None,
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            Document::ProfilesMigration => "seed-000-profiles-migration",
            Document::EffectiveIdentity => "seed-003-effective-identity",
            Document::TokenConsiderations => "seed-004-token-considerations",
            Document::Swagger => "powerbi-rest-swagger",
            Document::ServiceBehaviour => "service-behaviour",
            Document::Embedgate => "embedgate",
        }
    }
}

/// A citation: the document, its section, and the sentence the rule rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Source {
    pub document: Document,
    pub section: &'static str,
    pub quote: &'static str,
}

pub(crate) const fn cite(document: Document, section: &'static str, quote: &'static str) -> Source {
    Source {
        document,
        section,
        quote,
    }
}

/// The swagger's own words for each request field (its type and the first sentence of its
/// description) and each definition's `required` list: what a finding about one field's value or
/// presence rests on, where the rule's own citation would be about something else. A test compares
/// every quote with `shared/reference/powerbi-rest-swagger.json`.
pub static FIELD_SOURCES: &[Source] = &[
    cite(Document::Swagger, "GenerateTokenRequest.accessLevel", "\"type\": \"string\", \"description\": \"The required access level for embed token generation\""),
    cite(Document::Swagger, "GenerateTokenRequest.datasetId", "\"type\": \"string\", \"description\": \"The dataset ID used for report creation.\""),
    cite(Document::Swagger, "GenerateTokenRequest.allowSaveAs", "\"type\": \"boolean\", \"description\": \"Whether an embedded report can be saved as a new report.\""),
    cite(Document::Swagger, "GenerateTokenRequest.identities", "\"type\": \"array\", \"description\": \"A list of identities to use for row-level security rules\""),
    cite(Document::Swagger, "GenerateTokenRequest.lifetimeInMinutes", "\"type\": \"integer\", \"description\": \"The maximum lifetime of the token in minutes, starting from the time it was generated.\""),
    cite(Document::Swagger, "GenerateTokenRequestV2.datasets", "\"type\": \"array\", \"description\": \"A list of datasets\""),
    cite(Document::Swagger, "GenerateTokenRequestV2.reports", "\"type\": \"array\", \"description\": \"A list of reports\""),
    cite(Document::Swagger, "GenerateTokenRequestV2.targetWorkspaces", "\"type\": \"array\", \"description\": \"The list of workspaces that the embed token will allow saving to\""),
    cite(Document::Swagger, "GenerateTokenRequestV2.identities", "\"type\": \"array\", \"description\": \"The list of identities to use for row-level security rules\""),
    cite(Document::Swagger, "GenerateTokenRequestV2.lifetimeInMinutes", "\"type\": \"integer\", \"description\": \"The maximum lifetime of the token in minutes, starting from the time it was generated.\""),
    cite(Document::Swagger, "GenerateTokenRequestV2.datasourceIdentities", "\"type\": \"array\", \"description\": \"List of identities to use when connecting to data sources with Single Sign-On (SSO) enabled.\""),
    cite(Document::Swagger, "GenerateTokenRequestV2Report.allowEdit", "\"type\": \"boolean\", \"description\": \"Whether the generated embed token supports report editing\""),
    cite(Document::Swagger, "GenerateTokenRequestV2Report.id", "\"type\": \"string\", \"format\": \"uuid\", \"description\": \"The report ID\""),
    cite(Document::Swagger, "GenerateTokenRequestV2Report", "\"required\": [\"id\"]"),
    cite(Document::Swagger, "GenerateTokenRequestV2Dataset.id", "\"type\": \"string\", \"description\": \"The dataset ID\""),
    cite(Document::Swagger, "GenerateTokenRequestV2Dataset.xmlaPermissions", "\"type\": \"string\", \"description\": \"XMLA Permissions\""),
    cite(Document::Swagger, "GenerateTokenRequestV2Dataset", "\"required\": [\"id\"]"),
    cite(Document::Swagger, "GenerateTokenRequestV2TargetWorkspace.id", "\"type\": \"string\", \"format\": \"uuid\", \"description\": \"The workspace ID\""),
    cite(Document::Swagger, "GenerateTokenRequestV2TargetWorkspace", "\"required\": [\"id\"]"),
    cite(Document::Swagger, "EffectiveIdentity.username", "\"type\": \"string\", \"description\": \"The effective username within a token that applies row-level security rules.\""),
    cite(Document::Swagger, "EffectiveIdentity.datasets", "\"type\": \"array\", \"description\": \"An array of datasets for which this identity applies\""),
    cite(Document::Swagger, "EffectiveIdentity.roles", "\"type\": \"array\", \"description\": \"An array of row-level security (RLS) roles within a token that applies RLS rules.\""),
    cite(Document::Swagger, "EffectiveIdentity.customData", "\"type\": \"string\", \"description\": \"[Custom data](/power-bi/developer/embedded/embedded-row-level-security#using-the-customdata-feature) that's used to apply row-level security rules.\""),
    cite(Document::Swagger, "EffectiveIdentity.identityBlob", "\"description\": \"A blob that specifies an [identity](/power-bi/developer/embedded/embedded-row-level-security#token-based-identity-sdk-additions).\""),
    cite(Document::Swagger, "EffectiveIdentity.reports", "\"type\": \"array\", \"description\": \"An array of reports for which this identity applies.\""),
    cite(Document::Swagger, "EffectiveIdentity.auditableContext", "\"type\": \"string\", \"description\": \"The EffectiveIdentity auditable context.\""),
    cite(Document::Swagger, "EffectiveIdentity", "\"required\": [\"username\"]"),
    cite(Document::Swagger, "IdentityBlob.value", "\"type\": \"string\", \"description\": \"An OAuth 2.0 access token for Azure SQL\""),
    cite(Document::Swagger, "IdentityBlob", "\"required\": [\"value\"]"),
    cite(Document::Swagger, "ServicePrincipalProfile.id", "\"type\": \"string\", \"format\": \"uuid\", \"description\": \"The service principal profile ID\""),
    cite(Document::Swagger, "ServicePrincipalProfile.displayName", "\"type\": \"string\", \"description\": \"The service principal profile name\""),
    cite(Document::Swagger, "ServicePrincipalProfile", "\"required\": [\"id\"]"),

];

/// The swagger sentence for the field at `pointer` (a request pointer, or the scenario's
/// `/caller/profile`), `None` where the swagger says nothing of it. `field` names a missing field
/// (its definition's `required` list is cited), else the pointer's last segment is the field.
pub fn field_source(
    location: Location,
    pointer: &str,
    v1: bool,
    field: Option<&str>,
) -> Option<&'static Source> {
    // Array indexes say nothing about the definition.
    let mut path: Vec<&str> = pointer
        .split('/')
        .skip(1)
        .filter(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    let prop = match field {
        Some(_) => None,
        None => path.pop(),
    };
    let def = match (location, path.as_slice()) {
        (Location::Request, []) if v1 => "GenerateTokenRequest",
        (Location::Request, []) => "GenerateTokenRequestV2",
        (Location::Request, ["reports"]) => "GenerateTokenRequestV2Report",
        (Location::Request, ["datasets"]) => "GenerateTokenRequestV2Dataset",
        (Location::Request, ["targetWorkspaces"]) => "GenerateTokenRequestV2TargetWorkspace",
        (Location::Request, ["identities"]) => "EffectiveIdentity",
        (Location::Request, ["identities", "identityBlob"]) => "IdentityBlob",
        (Location::Scenario, ["caller", "profile"]) => "ServicePrincipalProfile",
        _ => return None,
    };
    FIELD_SOURCES.iter().find(|s| match prop {
        Some(p) => {
            s.section
                .strip_prefix(def)
                .and_then(|r| r.strip_prefix('.'))
                == Some(p)
        }
        None => {
            s.section == def
                && s.quote
                    .strip_prefix("\"required\": [\"")
                    .and_then(|q| q.strip_suffix("\"]"))
                    == field
        }
    })
}
