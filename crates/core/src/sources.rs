//! Where each rule comes from: the seed documents, the swagger, and documented service behaviour.

use serde::Serialize;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum Document {
    /// Seed 000: "Migrate multi-customer applications to the service principal profiles model".
    #[serde(rename = "seed-000-profiles-migration")]
    ProfilesMigration,
    /// Seed 003: "Set effective identity".
    #[serde(rename = "seed-003-effective-identity")]
    EffectiveIdentity,
    /// Seed 004: "Considerations when generating an embed token".
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
