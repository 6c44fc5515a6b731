//! The worker's configuration: `[vars]` in `wrangler.toml` (and `--var` overrides), read through a lookup
//! function so it is testable without a runtime. Secrets (`CLIENT_SECRET`, `JWT_HS256_SECRET`, `ADMIN_KEY`)
//! are not part of this struct: the worker reads them where it uses them and never prints them.

use embedgate_client::entra::Entra;
use embedgate_client::powerbi::Api;

use super::EdgeError;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Power BI REST root, without `/v1.0` (`https://api.powerbi.com`).
    pub pbi_api_base: String,
    /// Entra ID authority root (`https://login.microsoftonline.com`); the token URL is
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub entra_authority: String,
    pub tenant_id: String,
    pub client_id: String,
    /// The service principal's object id (not the client id): the scenario's caller.
    pub sp_object_id: Option<String>,
    pub pbi_scope: String,
    /// The portal identity provider's JWKS (RS256 / ES256 user tokens).
    pub jwks_url: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_leeway_seconds: u64,
    /// Claim naming the customer (dotted paths reach into objects).
    pub customer_claim: String,
    /// Claim naming the user.
    pub user_claim: String,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub metadata_ttl_seconds: u64,
    pub jwks_ttl_seconds: u64,
    /// At most one JWKS refetch per this many seconds for unknown kids.
    pub jwks_min_refresh_seconds: u64,
    pub upstream_deadline_ms: u64,
    /// How long one onboarding request waits for imports to publish before it answers 202 (call again to
    /// resume).
    pub onboard_wait_ms: u64,
    pub upstream_attempt_timeout_ms: u64,
    pub upstream_max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// Entra tokens are refreshed this many seconds before they expire.
    pub entra_refresh_margin_seconds: u64,
    pub rate_limit_customer_per_minute: u32,
    pub rate_limit_user_per_minute: u32,
    /// How long an isolate trusts its in-memory copy of a customer document before it reads KV again: the
    /// bound on how stale a warm token's view of an admin change can be (KV itself is rewritten by the change).
    pub customer_memory_ttl_seconds: u64,
    /// Adds `x-embedgate-ops` (D1/KV/Durable Object/queue operations of the request) to answers: tests and
    /// benches count them. Off by default.
    pub expose_op_counts: bool,
    /// Enables `POST /api/admin/test-faults` (fault injection for the audit consumer). Never in production.
    pub allow_test_faults: bool,
    /// The portal's sign-in (OIDC authorization code with PKCE) for the demo page `portal.html`: the IdP's
    /// authorization and token endpoints. Unset: `GET /api/portal/config` answers 404.
    pub portal_authorize_url: Option<String>,
    pub portal_token_url: Option<String>,
    /// `error`, `warn`, `info` (default: issued tokens, cache refreshes, admin changes) or `debug` (also one
    /// line per request).
    pub log_level: LogLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

fn bad(name: &str, why: &str) -> EdgeError {
    EdgeError::new(
        503,
        "misconfigured",
        format!("Configuration variable {name} {why}."),
    )
}

fn url(name: &str, v: String) -> Result<String, EdgeError> {
    let v = v.trim().trim_end_matches('/').to_string();
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(v)
    } else {
        Err(bad(name, "must be an http(s) URL"))
    }
}

impl Config {
    /// Builds the configuration from variables; unset or empty variables take the defaults listed in the
    /// worker's README. Errors name the variable, never its value.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, EdgeError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &str| var(name).ok_or_else(|| bad(name, "is required"));
        let flag = |name: &str| match var(name).as_deref() {
            None | Some("0") | Some("false") => Ok(false),
            Some("1") | Some("true") => Ok(true),
            Some(_) => Err(bad(name, "must be 0, 1, true or false")),
        };
        let num = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, EdgeError> {
            match var(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| bad(name, &format!("must be an integer from {min} to {max}"))),
            }
        };
        let origins = var("ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let cfg = Config {
            pbi_api_base: url(
                "PBI_API_BASE",
                var("PBI_API_BASE").unwrap_or_else(|| "https://api.powerbi.com".into()),
            )?,
            entra_authority: url(
                "ENTRA_AUTHORITY",
                var("ENTRA_AUTHORITY")
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into()),
            )?,
            tenant_id: required("TENANT_ID")?,
            client_id: required("CLIENT_ID")?,
            sp_object_id: var("SP_OBJECT_ID"),
            pbi_scope: var("PBI_SCOPE")
                .unwrap_or_else(|| "https://analysis.windows.net/powerbi/api/.default".into()),
            jwks_url: var("JWKS_URL").map(|u| url("JWKS_URL", u)).transpose()?,
            jwt_issuer: required("JWT_ISSUER")?,
            jwt_audience: required("JWT_AUDIENCE")?,
            jwt_leeway_seconds: num("JWT_LEEWAY_SECONDS", 60, 0, 300)?,
            customer_claim: var("CUSTOMER_CLAIM").unwrap_or_else(|| "customer".into()),
            user_claim: var("USER_CLAIM").unwrap_or_else(|| "sub".into()),
            allowed_origins: origins,
            max_body_bytes: num("MAX_BODY_BYTES", 16 * 1024, 256, 1024 * 1024)? as usize,
            metadata_ttl_seconds: num("METADATA_TTL_SECONDS", 300, 60, 86_400)?,
            jwks_ttl_seconds: num("JWKS_TTL_SECONDS", 600, 10, 86_400)?,
            jwks_min_refresh_seconds: num("JWKS_MIN_REFRESH_SECONDS", 30, 0, 3_600)?,
            upstream_deadline_ms: num("UPSTREAM_DEADLINE_MS", 8_000, 100, 60_000)?,
            onboard_wait_ms: num("ONBOARD_WAIT_MS", 20_000, 0, 600_000)?,
            upstream_attempt_timeout_ms: num("UPSTREAM_ATTEMPT_TIMEOUT_MS", 3_000, 50, 60_000)?,
            upstream_max_attempts: num("UPSTREAM_MAX_ATTEMPTS", 3, 1, 10)? as u32,
            retry_base_ms: num("RETRY_BASE_MS", 200, 1, 10_000)?,
            retry_cap_ms: num("RETRY_CAP_MS", 2_000, 1, 60_000)?,
            entra_refresh_margin_seconds: num("ENTRA_REFRESH_MARGIN_SECONDS", 300, 0, 1_800)?,
            rate_limit_customer_per_minute: num(
                "RATE_LIMIT_CUSTOMER_PER_MINUTE",
                600,
                1,
                1_000_000,
            )? as u32,
            rate_limit_user_per_minute: num("RATE_LIMIT_USER_PER_MINUTE", 60, 1, 1_000_000)? as u32,
            customer_memory_ttl_seconds: num("CUSTOMER_MEMORY_TTL_SECONDS", 5, 0, 300)?,
            expose_op_counts: flag("EXPOSE_OP_COUNTS")?,
            allow_test_faults: flag("ALLOW_TEST_FAULTS")?,
            portal_authorize_url: var("PORTAL_AUTHORIZE_URL")
                .map(|u| url("PORTAL_AUTHORIZE_URL", u))
                .transpose()?,
            portal_token_url: var("PORTAL_TOKEN_URL")
                .map(|u| url("PORTAL_TOKEN_URL", u))
                .transpose()?,
            log_level: match var("LOG_LEVEL")
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("info") => LogLevel::Info,
                Some("error") => LogLevel::Error,
                Some("warn") => LogLevel::Warn,
                Some("debug") => LogLevel::Debug,
                Some(_) => return Err(bad("LOG_LEVEL", "must be error, warn, info or debug")),
            },
        };
        // Without JWKS_URL only HS256 tokens can verify (an HS256-only portal is a valid deployment).
        Ok(cfg)
    }

    /// Who asks Entra ID for the service principal's tokens.
    pub fn entra(&self) -> Entra {
        Entra {
            authority: self.entra_authority.clone(),
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            scope: self.pbi_scope.clone(),
        }
    }

    /// Power BI's REST root.
    pub fn api(&self) -> Api {
        Api {
            base: self.pbi_api_base.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("TENANT_ID", "t"),
            ("CLIENT_ID", "c"),
            ("JWT_ISSUER", "https://idp/"),
            ("JWT_AUDIENCE", "portal"),
        ])
    }

    fn build(m: &HashMap<&str, &str>) -> Result<Config, EdgeError> {
        Config::from_lookup(|k| m.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn defaults() {
        let c = build(&base()).unwrap();
        assert_eq!(c.pbi_api_base, "https://api.powerbi.com");
        assert_eq!(
            c.entra().token_url(),
            "https://login.microsoftonline.com/t/oauth2/v2.0/token"
        );
        assert_eq!(c.customer_claim, "customer");
        assert_eq!(c.user_claim, "sub");
        assert_eq!(c.entra_refresh_margin_seconds, 300);
        assert!(c.allowed_origins.is_empty());
        assert!(c.jwks_url.is_none());
        assert_eq!(c.log_level, LogLevel::Info);
        let mut m = base();
        m.insert("LOG_LEVEL", "DEBUG");
        assert_eq!(build(&m).unwrap().log_level, LogLevel::Debug);
        assert!(LogLevel::Warn < LogLevel::Info);
        m.insert("LOG_LEVEL", "loud");
        assert!(build(&m).unwrap_err().message.contains("LOG_LEVEL"));
    }

    #[test]
    fn overrides_and_errors_name_the_variable_only() {
        let mut m = base();
        m.insert("PBI_API_BASE", "http://127.0.0.1:8780/");
        m.insert(
            "ALLOWED_ORIGINS",
            "http://127.0.0.1:8787/, https://portal.example ,",
        );
        m.insert("MAX_BODY_BYTES", "4096");
        let c = build(&m).unwrap();
        assert_eq!(c.pbi_api_base, "http://127.0.0.1:8780");
        assert_eq!(
            c.allowed_origins,
            vec!["http://127.0.0.1:8787", "https://portal.example"]
        );
        assert_eq!(c.max_body_bytes, 4096);
        m.insert("MAX_BODY_BYTES", "lots");
        let e = build(&m).unwrap_err();
        assert!(e.message.contains("MAX_BODY_BYTES") && !e.message.contains("lots"));
        m.insert("MAX_BODY_BYTES", "4096");
        m.insert("JWKS_URL", "ftp://x");
        assert!(build(&m).unwrap_err().message.contains("JWKS_URL"));
        let mut m = base();
        m.remove("TENANT_ID");
        assert_eq!(build(&m).unwrap_err().status, 503);
    }
}
