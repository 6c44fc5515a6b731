//! The edge token service's pure logic (the Cloudflare Worker in `crates/worker` does the I/O; the
//! Power BI and Entra calls are built and read by `embedgate_client`).
//!
//! Everything here is deterministic and testable natively: the caller passes in the time, random numbers,
//! the verified claims, the customer's configuration and the Power BI metadata it fetched. Nothing here
//! performs I/O, reads a clock or holds secrets longer than a call.
//!
//! - [`jwt`]: compact JWS parsing, the algorithm policy (no `none`, no algorithm confusion), JWK selection,
//!   and the `iss`/`aud`/`exp`/`nbf` checks with leeway.
//! - [`request`]: the `/api/token` body, refused when it carries any identity field, errors with a JSON Pointer.
//! - [`customer`]: a customer's configuration (D1 row), its validation, and what a request may embed.
//! - [`identity`]: the effective identity, built from verified claims and configuration only.
//! - [`scenario`]: the core [`embedgate_core::Scenario`] and the GenerateToken V2 body from Power BI metadata.
//! - [`upstream`]: the client's upstream failures as error bodies (the calls, retries and mapping are
//!   `embedgate_client`'s).
//! - [`api`]: the response bodies (their JSON Schema gives the portal library its TypeScript types).
//! - [`ratelimit`], [`cors`], [`audit`], [`config`]: the rest of the edge's decisions.

pub mod api;
pub mod audit;
pub mod config;
pub mod cors;
pub mod customer;
pub mod error;
pub mod identity;
pub mod jwt;
pub mod ratelimit;
pub mod request;
pub mod scenario;
pub mod upstream;

pub use error::EdgeError;

/// Case-insensitive GUID comparison (Power BI ids are case-insensitive).
pub fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Appends one reference token to a JSON Pointer.
pub fn pointer_push(base: &str, token: impl std::fmt::Display) -> String {
    format!(
        "{base}/{}",
        embedgate_core::diag::escape_token(&token.to_string())
    )
}
