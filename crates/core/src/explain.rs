//! From the text of a Power BI (or Entra ID) error response to the rules behind it and the fix.

use serde::Serialize;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// One recognised error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub id: &'static str,
    /// What the service meant.
    pub reason: &'static str,
    /// What to change.
    pub fix: &'static str,
    /// The catalog rules that catch this before the call.
    pub rules: &'static [&'static str],
    /// The HTTP status the service answers with.
    pub status: u16,
    /// GUIDs found in the message (dataset, report, workspace ids).
    pub ids: Vec<String>,
}

struct Pattern {
    id: &'static str,
    needles: &'static [&'static str],
    reason: &'static str,
    fix: &'static str,
    rules: &'static [&'static str],
    status: u16,
}

static PATTERNS: &[Pattern] = &[
    Pattern {
        id: "identity-required",
        needles: &["requires effective identity to be provided"],
        reason: "The dataset uses row-level security (or is a live connection / SSO model) and the token request carries no effective identity for it. A service principal can never omit it.",
        fix: "Add an identity {username, roles, datasets:[<dataset id>]} built on the server from the signed-in user.",
        rules: &["EG0301", "EG0309"],
        status: 400,
    },
    Pattern {
        id: "roles-required",
        needles: &["requires roles to be included in provided effective identity", "requires roles to be included"],
        reason: "The model's RLS needs at least one role in the effective identity (internal-hosted import and DirectQuery models).",
        fix: "Add the RLS role(s) the model defines to identities[].roles.",
        rules: &["EG0206", "EG0207"],
        status: 400,
    },
    Pattern {
        id: "identity-not-allowed",
        needles: &["shouldn't have effective identity", "should not have effective identity"],
        reason: "The dataset has no row-level security, and an effective identity was sent for it.",
        fix: "Remove the dataset from identities[].datasets (or drop the identity).",
        rules: &["EG0204"],
        status: 400,
    },
    Pattern {
        id: "username-must-be-caller",
        needles: &["identical to the caller's principal name", "identical to the callers principal name"],
        reason: "Azure Analysis Services live connection: the caller's identity cannot be overridden, so the username must be the caller's own UPN (master user) or object id (service principal).",
        fix: "Set username to the caller's principal and carry the end user in customData (filter with CUSTOMDATA()).",
        rules: &["EG0303", "EG0304"],
        status: 400,
    },
    Pattern {
        id: "multiple-identities",
        needles: &["multiple identities is not supported"],
        reason: "More than one effective identity names the same dataset.",
        fix: "Merge them: one identity per dataset, with all of its roles.",
        rules: &["EG0203"],
        status: 400,
    },
    Pattern {
        id: "not-authorized",
        needles: &["powerbinotauthorizedexception", "unauthorized"],
        reason: "The caller may not reach the item: the service principal or profile is not a member of the workspace, the X-PowerBI-Profile-Id names another profile, or the Entra token is missing, expired or for the wrong audience.",
        fix: "Give the profile access with Add Group User (principalType App, profile {id}); call as the profile that owns the customer's workspace; refresh the Entra token.",
        rules: &["EG0602", "EG0405", "EG0403", "EG0404"],
        status: 401,
    },
    Pattern {
        id: "token-expired",
        needles: &["tokenexpired", "access token has expired"],
        reason: "The embed token (or the Entra token) expired. An embed token never outlives the Entra token it was minted with.",
        fix: "Mint a new embed token and pass it to report.setAccessToken(); refresh a few minutes before `expiration`.",
        rules: &["EG0102"],
        status: 403,
    },
    Pattern {
        id: "throttled",
        needles: &["status 429", "429 too many", "too many requests", "toomanyrequests", "retry-after"],
        reason: "Power BI throttled the caller.",
        fix: "Wait for Retry-After seconds, then retry with jitter; cache Entra tokens and reuse embed tokens until near expiry.",
        rules: &[],
        status: 429,
    },
    Pattern {
        id: "my-workspace",
        needles: &["my workspace", "personalgroup"],
        reason: "Embed tokens cannot be created for content in My workspace.",
        fix: "Move the content to a (new) workspace.",
        rules: &["EG0401"],
        status: 400,
    },
    Pattern {
        id: "profile-header",
        needles: &["x-powerbi-profile-id"],
        reason: "The profile header is wrong: sent twice, not a GUID, a profile of another service principal, or sent with a master user token.",
        fix: "Send X-PowerBI-Profile-Id once, with the id of a profile the calling service principal created.",
        rules: &["EG0601", "EG0103"],
        status: 400,
    },
    Pattern {
        id: "entra-invalid-secret",
        needles: &["aadsts7000215", "invalid client secret"],
        reason: "Entra ID refused the client secret.",
        fix: "Check CLIENT_SECRET (the secret's value, not its id) and whether it expired.",
        rules: &[],
        status: 401,
    },
    Pattern {
        id: "entra-tenant-not-found",
        needles: &["aadsts90002"],
        reason: "Entra ID does not know the tenant.",
        fix: "Use the tenant id (a GUID) in the authority URL, not /common.",
        rules: &[],
        status: 400,
    },
    Pattern {
        id: "entra-app-not-found",
        needles: &["aadsts700016"],
        reason: "Entra ID does not know the client id in this tenant.",
        fix: "Check CLIENT_ID and that the app registration lives in the configured tenant.",
        rules: &[],
        status: 400,
    },
];

/// Explains an error text (a raw message or the service's JSON error body).
pub fn explain(text: &str) -> Vec<Explanation> {
    let haystack = normalized(&flatten_error(text));
    let ids = guids(text);
    PATTERNS
        .iter()
        .filter(|p| p.needles.iter().any(|n| contains_words(&haystack, n)))
        .map(|p| Explanation {
            id: p.id,
            reason: p.reason,
            fix: p.fix,
            rules: p.rules,
            status: p.status,
            ids: ids.clone(),
        })
        .collect()
}

/// Whether `needle` occurs in `haystack` as whole words: `unauthorized` is not Entra's
/// `unauthorized_client` (an unknown app, not a Power BI permission).
fn contains_words(haystack: &str, needle: &str) -> bool {
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let h = haystack.as_bytes();
    haystack.match_indices(needle).any(|(at, _)| {
        !word(at.checked_sub(1).and_then(|i| h.get(i))) && !word(h.get(at + needle.len()))
    })
}

/// The text as the needles are written: lower case, ASCII apostrophes and quotes, single spaces.
/// Messages pasted from chat, mail or the docs come with typographic apostrophes (`shouldn’t`),
/// no-break spaces and line breaks. Power BI's own texts are ASCII, so ASCII case folding is
/// enough (and keeps Unicode case tables out of the wasm).
fn normalized(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_space = false;
    for c in text.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c if c.is_whitespace() => ' ',
            c => c.to_ascii_lowercase(),
        };
        if c == ' ' && after_space {
            continue;
        }
        after_space = c == ' ';
        out.push(c);
    }
    out
}

/// Pulls the code and message out of `{"error":{"code","message"}}` or Entra's `{"error","error_description"}`.
fn flatten_error(text: &str) -> String {
    // The core's reader, not serde_json's: the browser module carries no serde_json deserializer.
    let Ok(v) = crate::json::parse(text).map(|t| t.to_value()) else {
        return text.to_string();
    };
    let mut parts = Vec::new();
    let mut push = |x: Option<&serde_json::Value>| {
        if let Some(s) = x.and_then(|x| x.as_str()) {
            parts.push(s.to_string());
        }
    };
    push(v.pointer("/error/code"));
    push(v.pointer("/error/message"));
    push(v.get("error"));
    push(v.get("error_description"));
    push(v.get("message"));
    push(v.get("detailedMessage"));
    push(v.get("errorCode"));
    if parts.is_empty() {
        text.to_string()
    } else {
        parts.join(" ")
    }
}

fn guids(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i + 36 <= b.len() {
        let cand = text.get(i..i + 36).filter(|c| crate::text::is_guid(c));
        match cand {
            Some(c) => {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
                    out.push(c.to_string());
                }
                i += 36;
            }
            None => i += 1,
        }
    }
    out
}
