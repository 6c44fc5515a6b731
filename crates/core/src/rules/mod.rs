//! The rule catalog: one registry of rules, each with a stable code, its citation and its check.
//! Checks are pure functions over a [`Ctx`], which indexes the scenario once.

mod context;
mod identity;
mod index;
mod limits;
mod permissions;
mod profiles;
mod request;
mod rls;
mod scenario_facts;
mod workspace;

pub use context::{
    Ctx, Described, EmbeddedDataset, IdentityDatasetRef, Ids, Item, ItemKind, Place, Ptr, Touched,
};

use serde::Serialize;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

use crate::diag::{Diagnostic, Fix, Location, Severity};
use crate::sources::Source;

/// Rule families, in catalog order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Request,
    Limits,
    Identity,
    Rls,
    Workspace,
    Permissions,
    Profiles,
    Scenario,
}

impl Family {
    /// The family's heading, here and on the rules page (`www/src/rules.ts`; a test holds the two together).
    pub fn title(self) -> &'static str {
        match self {
            Family::Request => "Request shape",
            Family::Limits => "Limits and formats",
            Family::Identity => "Effective identity per dataset type",
            Family::Rls => "Row-level security",
            Family::Workspace => "Workspaces",
            Family::Permissions => "Token permissions",
            Family::Profiles => "Service principal profiles",
            Family::Scenario => "Scenario completeness",
        }
    }
}

/// One rule of the catalog.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub family: Family,
    /// The severity of its findings (a few rules report a lower one in stated cases).
    pub severity: Severity,
    pub title: &'static str,
    /// Longer explanation, including how contradictions between sources were resolved.
    #[cfg(feature = "rule-docs")]
    pub doc: &'static str,
    pub source: Source,
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub check: fn(&Ctx, &mut Emitter),
}

/// Collects a rule's findings.
pub struct Emitter<'r> {
    rule: &'static Rule,
    out: &'r mut Vec<Diagnostic>,
}

impl Emitter<'_> {
    /// Reports a finding with the rule's severity.
    pub fn report(
        &mut self,
        location: Location,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding<'_> {
        self.report_as(self.rule.severity, location, pointer, message)
    }

    pub fn report_as(
        &mut self,
        severity: Severity,
        location: Location,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding<'_> {
        self.out.push(Diagnostic {
            code: self.rule.code,
            rule: self.rule.name,
            severity,
            location,
            pointer: pointer.into(),
            message: message.into(),
            help: None,
            source: Some(&self.rule.source),
            fix: None,
        });
        Finding(self.out.last_mut().expect("just pushed"))
    }
}

/// A finding being built: add help and a fix.
pub struct Finding<'a>(&'a mut Diagnostic);

impl Finding<'_> {
    pub fn help(self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }
    pub fn fix(self, fix: Fix) -> Self {
        self.0.fix = Some(fix);
        self
    }
    /// Cites this sentence instead of the rule's own (a field's description), or nothing.
    pub fn source(self, source: Option<&'static Source>) -> Self {
        self.0.source = source;
        self
    }
}

/// Every rule, in code order.
pub static CATALOG: &[Rule] = &[
    request::UNKNOWN_FIELD,
    request::SHAPE,
    request::EMPTY_REQUEST,
    request::V1_BODY_V2_FIELDS,
    request::DUPLICATE_ITEM,
    limits::LIST_LIMIT,
    limits::LIFETIME,
    limits::GUID_FORMAT,
    limits::USERNAME_LENGTH,
    limits::USERNAME_SPACES,
    limits::USERNAME_ON_PREM_ALPHABET,
    limits::ROLES_COUNT,
    limits::ROLE_FORMAT,
    identity::IDENTITY_DATASETS_REQUIRED,
    identity::IDENTITY_DATASET_NOT_EMBEDDED,
    identity::ONE_IDENTITY_PER_DATASET,
    identity::IDENTITY_NOT_ALLOWED,
    identity::USERNAME_REQUIRED,
    identity::ROLES_REQUIRED,
    identity::ROLE_NOT_IN_MODEL,
    identity::MODEL_WITHOUT_ROLES,
    identity::CUSTOM_DATA_UNSUPPORTED,
    identity::IDENTITY_BLOB_ONLY_AZURE_SQL,
    identity::IDENTITY_BLOB_EMPTY,
    identity::AS_ROLES_OPTIONAL,
    rls::SP_IDENTITY_REQUIRED,
    rls::RDL_MASTER_USER,
    rls::AAS_USERNAME_IS_CALLER,
    rls::AAS_USERNAME_FORMAT,
    rls::SSAS_USERNAME_FORMAT,
    rls::SSAS_GATEWAY_PERMISSION,
    rls::SSO_IDENTITY_BLOB,
    rls::PAGINATED_IDENTITY_REPORTS,
    rls::MASTER_USER_UNRESTRICTED,
    rls::DIRECT_LAKE,
    workspace::MY_WORKSPACE,
    workspace::CLASSIC_SAME_WORKSPACE,
    workspace::CLASSIC_NO_SERVICE_PRINCIPAL,
    workspace::CLASSIC_ADMIN,
    workspace::NEW_AT_LEAST_MEMBER,
    workspace::V2_NEW_WORKSPACES_ONLY,
    workspace::WORKSPACE_UNKNOWN,
    workspace::ITEM_IN_ENDPOINT_WORKSPACE,
    permissions::EDIT_ONLY_REPORTS,
    permissions::CREATE_ONLY_CREATE_ENDPOINT,
    permissions::CREATE_NEEDS_DATASET,
    permissions::SAVE_AS_ONLY_REPORTS,
    permissions::V2_IGNORES_V1_PERMISSIONS,
    permissions::DATASET_ID_WITHOUT_CREATE,
    profiles::PROFILE_NEEDS_SERVICE_PRINCIPAL,
    profiles::PRINCIPAL_WORKSPACE_ACCESS,
    profiles::PROFILE_ADMIN,
    scenario_facts::CALLER_INCOMPLETE,
    scenario_facts::ITEM_NOT_DESCRIBED,
    scenario_facts::MODEL_KIND_ASSUMED,
    scenario_facts::RLS_UNKNOWN,
];

pub fn rule(code: &str) -> Option<&'static Rule> {
    CATALOG.iter().find(|r| r.code == code)
}

/// Runs every rule over a context.
pub fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for rule in CATALOG {
        let mut e = Emitter { rule, out };
        (rule.check)(ctx, &mut e);
    }
}

/// Runs one rule over a context (tests measure rules one by one).
#[doc(hidden)]
pub fn run_rule(ctx: &Ctx, rule: &'static Rule, out: &mut Vec<Diagnostic>) {
    (rule.check)(ctx, &mut Emitter { rule, out });
}

/// Reports parse findings when the scenario itself could not be read (no other rule can run).
pub(crate) fn run_parse_only(parsed: &crate::parse::Parsed, out: &mut Vec<Diagnostic>) {
    request::unknown_fields(
        parsed,
        &mut Emitter {
            rule: &CATALOG[0],
            out,
        },
    );
    request::shape_errors(
        parsed,
        &mut Emitter {
            rule: &CATALOG[1],
            out,
        },
    );
}
