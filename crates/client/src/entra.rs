//! Entra ID (v2.0 endpoint) token requests and answers.
//!
//! The service principal uses the client-credentials grant; a master user (migration tooling reading
//! today's layout as the user who owns it) uses the resource-owner password grant, which Microsoft
//! documents for Power BI embedding with a master user and which works only without MFA.

use serde_json::Value;

use crate::encode::form_encode;
use crate::failure::{map_failure, Failure, Stage, UpstreamError};
use crate::{Method, Request};

/// The scope of every Power BI REST call.
pub const POWERBI_SCOPE: &str = "https://analysis.windows.net/powerbi/api/.default";

/// Which app asks which tenant for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entra {
    /// `https://login.microsoftonline.com`, without a trailing slash.
    pub authority: String,
    pub tenant_id: String,
    pub client_id: String,
    pub scope: String,
}

impl Entra {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id)
    }

    fn form(&self, name: &'static str, body: String) -> Request {
        Request {
            name,
            method: Method::Post,
            url: self.token_url(),
            headers: vec![
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("accept", "application/json".into()),
            ],
            body: Some(body.into_bytes()),
        }
    }

    /// App-only token for the service principal. The secret ends up only in the returned body.
    pub fn client_credentials(&self, client_secret: &str) -> Request {
        self.form(
            "entra.token",
            format!(
                "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
                form_encode(&self.client_id),
                form_encode(client_secret),
                form_encode(&self.scope)
            ),
        )
    }

    /// A master user's token (password grant). `client_secret` is for confidential apps.
    pub fn password(&self, username: &str, password: &str, client_secret: Option<&str>) -> Request {
        let mut body = format!(
            "grant_type=password&client_id={}&username={}&password={}&scope={}",
            form_encode(&self.client_id),
            form_encode(username),
            form_encode(password),
            form_encode(&self.scope)
        );
        if let Some(s) = client_secret {
            body.push_str("&client_secret=");
            body.push_str(&form_encode(s));
        }
        self.form("entra.tokenPassword", body)
    }
}

/// An Entra access token and when it expires (Unix seconds).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntraToken {
    pub access_token: String,
    pub expires_at: u64,
}

impl std::fmt::Debug for EntraToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl EntraToken {
    /// Usable until `margin` seconds before expiry.
    pub fn fresh(&self, now: u64, margin: u64) -> bool {
        now + margin < self.expires_at
    }
    /// How long a shared cache may keep it (seconds), `None` when too short for KV's 60 s minimum.
    pub fn cache_ttl(&self, now: u64, margin: u64) -> Option<u64> {
        let ttl = self.expires_at.saturating_sub(now + margin);
        (ttl >= 60).then_some(ttl)
    }
}

/// Reads Entra's token answer (`expires_in` as a number or, in older answers, a string).
pub fn parse_token(body: &str, now: u64) -> Result<EntraToken, UpstreamError> {
    let bad = || map_failure(Stage::Entra, &Failure::BadBody);
    let v: Value = serde_json::from_str(body).map_err(|_| bad())?;
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(bad)?;
    let expires_in = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .filter(|e| *e > 0)
    .ok_or_else(bad)?;
    Ok(EntraToken {
        access_token: token.to_string(),
        expires_at: now + expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entra() -> Entra {
        Entra {
            authority: "https://login.microsoftonline.com".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            scope: POWERBI_SCOPE.into(),
        }
    }

    #[test]
    fn client_credentials_form_encodes_the_secret() {
        let r = entra().client_credentials("a+b&c=d e");
        assert_eq!(
            r.url,
            "https://login.microsoftonline.com/t/oauth2/v2.0/token"
        );
        assert_eq!(r.method, Method::Post);
        let body = String::from_utf8(r.body.clone().unwrap()).unwrap();
        assert!(body.contains("client_secret=a%2Bb%26c%3Dd+e"));
        assert!(
            body.contains("scope=https%3A%2F%2Fanalysis.windows.net%2Fpowerbi%2Fapi%2F.default")
        );
        assert!(
            !format!("{r:?}").contains("a+b"),
            "Debug never shows the body"
        );
    }

    #[test]
    fn password_grant() {
        let r = entra().password("analyst@x.example", "p&ss", None);
        let body = String::from_utf8(r.body.unwrap()).unwrap();
        assert!(body.starts_with(
            "grant_type=password&client_id=c&username=analyst%40x.example&password=p%26ss"
        ));
        assert!(!body.contains("client_secret"));
    }

    #[test]
    fn tokens_and_lifetimes() {
        let t = parse_token(
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(t.expires_at, 4599);
        assert!(t.fresh(1000, 300));
        assert!(t.fresh(4298, 300));
        assert!(!t.fresh(4299, 300), "refreshed five minutes before expiry");
        assert_eq!(t.cache_ttl(1000, 300), Some(3299));
        assert_eq!(t.cache_ttl(4250, 300), None);
        assert!(!format!("{t:?}").contains("eyJ"));
        assert_eq!(
            parse_token(r#"{"expires_in":"3600","access_token":"x"}"#, 0)
                .unwrap()
                .expires_at,
            3600
        );
        assert_eq!(
            parse_token("<html>", 0).unwrap_err().code,
            "entra_bad_response"
        );
        assert_eq!(
            parse_token(r#"{"expires_in":0,"access_token":"x"}"#, 0)
                .unwrap_err()
                .status,
            502
        );
    }
}

/// The one rule for a refused Entra token: when Power BI refuses a request for its token (401, or 403
/// `TokenExpired`), the driver fetches a fresh token and makes the request again, once per run. A request that
/// did not carry the token in hand (the worker's admin API, another bearer) is not retried.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Refresh {
    used: bool,
}

impl Refresh {
    /// Whether to refresh `token` and make `req` again after `answer`.
    pub fn needed(
        &mut self,
        req: &crate::Request,
        answer: &Result<String, crate::Failure>,
        token: &str,
    ) -> bool {
        let refused = matches!(answer, Err(f) if f.token_refused());
        let carried = req
            .header("authorization")
            .is_some_and(|h| h.strip_prefix("Bearer ") == Some(token));
        if refused && carried && !self.used {
            self.used = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::Refresh;
    use crate::{Failure, Method, Request};

    fn req(token: &str) -> Request {
        Request {
            name: "powerbi.getGroups",
            method: Method::Get,
            url: "https://api.powerbi.com/v1.0/myorg/groups".into(),
            headers: vec![("authorization", format!("Bearer {token}"))],
            body: None,
        }
    }

    #[test]
    fn a_refused_token_is_refreshed_once_and_only_for_requests_that_carried_it() {
        let refused: Result<String, Failure> = Err(Failure::Status {
            status: 401,
            body: String::new(),
            retry_after_ms: None,
        });
        let mut r = Refresh::default();
        assert!(!r.needed(&req("other"), &refused, "t1"));
        assert!(!r.needed(&req("t1"), &Ok(String::new()), "t1"));
        assert!(r.needed(&req("t1"), &refused, "t1"));
        assert!(!r.needed(&req("t2"), &refused, "t2"), "once per run");
    }
}
