//! A sans-IO client for Power BI REST and Entra ID, in the style of quinn-proto or rustls: this crate
//! builds each [`Request`] (method, URL, headers, body) and reads each [`Response`] into a typed result
//! or a typed [`failure::Failure`]; a driver only moves bytes. It holds no clock, no socket and no
//! randomness: the driver passes in the time and a random number where a decision needs them.
//!
//! - [`entra`]: the client-credentials (service principal) and password (master user) token requests.
//! - [`powerbi`]: every Power BI call Embedgate makes, each made as the service principal or as one of
//!   its profiles (`X-PowerBI-Profile-Id`).
//! - [`retry`]: bounded, jittered retries inside a deadline, `Retry-After`, as a small state machine
//!   ([`retry::Exchange`]) that a driver loops over.
//! - [`time`]: RFC 3339 (an embed token's `expiration`) as Unix seconds.
//! - [`failure`]: how a final failure becomes a clear answer that never echoes the upstream body.
//!
//! Drivers: `crates/worker/src/http.rs` (workerd `fetch`) and `crates/cli/src/net.rs` (ureq).

pub mod encode;
pub mod entra;
pub mod failure;
pub mod powerbi;
pub mod retry;
pub mod swagger;
pub mod time;

pub use failure::{map_failure, Failure, Stage, UpstreamError};
pub use retry::{Exchange, RetryPolicy, Step};

/// HTTP method of a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One call, complete, so a driver can send it again on retry.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// Stable name for logs and fault injection (`powerbi.getGroup`); never carries data.
    pub name: &'static str,
    pub method: Method,
    pub url: String,
    /// Lower-case names. `authorization` holds a token: drivers must not log headers.
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

// Debug without the body or the authorization header: a Request holds a token or a secret.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What came back, read in full.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub status: u16,
    /// The `Retry-After` header, verbatim.
    pub retry_after: Option<String>,
    pub body: String,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}
