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
    /// A heading in words.
    pub title: &'static str,
    /// What the service meant.
    pub reason: &'static str,
    /// What to change.
    pub fix: &'static str,
    /// The catalog rules that catch this before the call.
    pub rules: Vec<&'static str>,
    /// The HTTP status: the one the text states, else the ones the service answers this error with.
    pub status: Vec<u16>,
    /// The GUIDs in the message, each with the kind of item the words before it name.
    pub items: Vec<MentionedItem>,
}

/// A GUID from the message and what it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct MentionedItem {
    pub kind: ItemKind,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum ItemKind {
    Dataset,
    Report,
    Workspace,
    Dashboard,
    Profile,
    Unknown,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Dataset => "dataset",
            ItemKind::Report => "report",
            ItemKind::Workspace => "workspace",
            ItemKind::Dashboard => "dashboard",
            ItemKind::Profile => "profile",
            ItemKind::Unknown => "id",
        }
    }
}

struct Pattern {
    id: &'static str,
    title: &'static str,
    needles: &'static [&'static str],
    reason: &'static str,
    fix: &'static str,
    rules: &'static [&'static str],
    status: &'static [u16],
}

/// A generic pattern and the more specific ones that make it redundant when they match too.
const SUPERSEDED: &[(&str, &[&str])] = &[(
    "not-authorized",
    &[
        "api-not-accessible-for-app",
        "entity-not-found",
        "insufficient-token-permissions",
    ],
)];

static PATTERNS: &[Pattern] = &[
    Pattern {
        id: "identity-required",
        title: "The token needs an effective identity for an RLS dataset",
        needles: &["requires effective identity to be provided"],
        reason: "The dataset uses row-level security (or is a live connection / SSO model) and the token request carries no effective identity for it. A service principal can never omit it.",
        fix: "Add an identity {username, roles, datasets:[<dataset id>]} built on the server from the signed-in user.",
        rules: &["EG0301"],
        status: &[400],
    },
    Pattern {
        id: "roles-required",
        title: "The effective identity needs a role",
        needles: &["requires roles to be included in provided effective identity", "requires roles to be included"],
        reason: "The model's RLS needs at least one role in the effective identity (internal-hosted import and DirectQuery models).",
        fix: "Add the RLS role(s) the model defines to identities[].roles.",
        rules: &["EG0206", "EG0207"],
        status: &[400],
    },
    Pattern {
        id: "identity-not-allowed",
        title: "An effective identity was sent for a dataset without RLS",
        needles: &["shouldn't have effective identity", "should not have effective identity"],
        reason: "The dataset has no row-level security, and an effective identity was sent for it.",
        fix: "Remove the dataset from identities[].datasets (or drop the identity).",
        rules: &["EG0204"],
        status: &[400],
    },
    Pattern {
        id: "username-must-be-caller",
        title: "Azure Analysis Services: the username must be the caller",
        needles: &["identical to the caller's principal name", "identical to the callers principal name"],
        reason: "Azure Analysis Services live connection: the caller's identity cannot be overridden, so the username must be the caller's own UPN (master user) or object id (service principal).",
        fix: "Set username to the caller's principal and carry the end user in customData (filter with CUSTOMDATA()).",
        rules: &["EG0303", "EG0304"],
        status: &[400],
    },
    Pattern {
        id: "multiple-identities",
        title: "Two identities name the same dataset",
        needles: &["multiple identities is not supported"],
        reason: "More than one effective identity names the same dataset.",
        fix: "Merge them: one identity per dataset, with all of its roles.",
        rules: &["EG0203"],
        status: &[400],
    },
    Pattern {
        id: "not-authorized",
        title: "The caller may not reach this item",
        needles: &["powerbinotauthorizedexception", "unauthorized"],
        reason: "The caller may not reach the item: the service principal or profile is not a member of the workspace, the X-PowerBI-Profile-Id names another profile, or the Entra token is missing, expired or for the wrong audience.",
        fix: "Give the profile access with Add Group User (principalType App, profile {id}); call as the profile that owns the customer's workspace; refresh the Entra token.",
        rules: &["EG0602", "EG0405", "EG0403", "EG0404"],
        status: &[401, 403],
    },
    Pattern {
        id: "api-not-accessible-for-app",
        title: "This API is not open to a service principal",
        needles: &["api is not accessible for application"],
        reason: "A service principal called an API it may not use: a user-scoped route such as /v1.0/myorg/reports/{id} (without /groups/{workspace}/), an admin or personal-workspace API, or the tenant does not let service principals use Power BI APIs.",
        fix: "Call the workspace route /v1.0/myorg/groups/{workspace id}/...; in the Power BI admin portal turn on \"Allow service principals to use Power BI APIs\" for a security group the app is in.",
        rules: &[],
        status: &[401],
    },
    Pattern {
        id: "entity-not-found",
        title: "Power BI cannot find the item (as this caller)",
        needles: &["powerbientitynotfound", "entity not found"],
        reason: "Power BI answers 404 both for an id that does not exist and for one the caller may not see: a typo, an id from another workspace than the one in the path, or a profile (or service principal) that is not a member of the item's workspace.",
        fix: "Check the id and the workspace in the path; call as the profile that owns the customer's workspace (X-PowerBI-Profile-Id), or add it with Add Group User.",
        rules: &["EG0408", "EG0602", "EG0702"],
        status: &[404],
    },
    Pattern {
        id: "insufficient-token-permissions",
        title: "The embed token does not allow this operation",
        needles: &["insufficienttokenpermissions", "insufficient token permissions"],
        reason: "The embed token was minted with fewer permissions than the embedded item asked for: editing with a View token, Save As without allowSaveAs, or creating a report without a Create token.",
        fix: "Mint the token with the permission the page uses: V1 accessLevel Edit (and allowSaveAs) or Create with datasetId; V2 reports[].allowEdit. Or open the embed in view mode.",
        rules: &["EG0501", "EG0502", "EG0504", "EG0505"],
        status: &[403],
    },
    Pattern {
        id: "token-expired",
        title: "The token has expired",
        needles: &["tokenexpired", "access token has expired"],
        reason: "The embed token (or the Entra token) expired. An embed token never outlives the Entra token it was minted with.",
        fix: "Mint a new embed token and pass it to report.setAccessToken(); refresh a few minutes before `expiration`.",
        rules: &["EG0102"],
        status: &[403],
    },
    Pattern {
        id: "throttled",
        title: "Power BI is throttling the caller",
        needles: &["status 429", "429 too many", "too many requests", "toomanyrequests", "retry-after"],
        reason: "Power BI throttled the caller.",
        fix: "Wait for Retry-After seconds, then retry with jitter; cache Entra tokens and reuse embed tokens until near expiry.",
        rules: &[],
        status: &[429],
    },
    Pattern {
        id: "my-workspace",
        title: "Content in My workspace cannot be embedded",
        needles: &["my workspace", "personalgroup"],
        reason: "Embed tokens cannot be created for content in My workspace.",
        fix: "Move the content to a (new) workspace.",
        rules: &["EG0401"],
        status: &[400],
    },
    Pattern {
        id: "profile-header",
        title: "The service principal profile header is wrong",
        needles: &["x-powerbi-profile-id"],
        reason: "The profile header is wrong: sent twice, not a GUID, a profile of another service principal, or sent with a master user token.",
        fix: "Send X-PowerBI-Profile-Id once, with the id of a profile the calling service principal created.",
        rules: &["EG0601", "EG0103"],
        status: &[400],
    },
    Pattern {
        id: "entra-invalid-secret",
        title: "Entra ID refused the client secret",
        needles: &["aadsts7000215", "invalid client secret"],
        reason: "Entra ID refused the client secret.",
        fix: "Check CLIENT_SECRET (the secret's value, not its id) and whether it expired.",
        rules: &[],
        status: &[401],
    },
    Pattern {
        id: "entra-tenant-not-found",
        title: "Entra ID does not know the tenant",
        needles: &["aadsts90002"],
        reason: "Entra ID does not know the tenant.",
        fix: "Use the tenant id (a GUID) in the authority URL, not /common.",
        rules: &[],
        status: &[400],
    },
    Pattern {
        id: "entra-app-not-found",
        title: "Entra ID does not know the app",
        needles: &["aadsts700016"],
        reason: "Entra ID does not know the client id in this tenant.",
        fix: "Check CLIENT_ID and that the app registration lives in the configured tenant.",
        rules: &[],
        status: &[400],
    },
];

/// Rules about a master user, which cannot be the cause when the text says the caller is an app.
const MASTER_USER_RULES: &[&str] = &["EG0302", "EG0309", "EG0404"];

/// Explains an error text (a raw message or the service's JSON error body).
pub fn explain(text: &str) -> Vec<Explanation> {
    let haystack = normalized(&flatten_error(text));
    let raw = normalized(text);
    let ids = guids(text);
    let items: Vec<MentionedItem> = ids
        .iter()
        .map(|id| MentionedItem {
            kind: kind_before(&raw, id),
            id: id.clone(),
        })
        .collect();
    let stated = stated_status(&raw);
    let app_caller = [
        "service principal",
        "serviceprincipal",
        "for application",
        "app-only",
        "app only",
    ]
    .iter()
    .any(|n| raw.contains(n));
    let matched: Vec<&Pattern> = PATTERNS
        .iter()
        .filter(|p| p.needles.iter().any(|n| contains_words(&haystack, n)))
        .collect();
    matched
        .iter()
        .filter(|p| {
            !SUPERSEDED
                .iter()
                .filter(|(generic, _)| *generic == p.id)
                .any(|(_, by)| matched.iter().any(|m| by.contains(&m.id)))
        })
        .map(|p| Explanation {
            id: p.id,
            title: p.title,
            reason: p.reason,
            fix: p.fix,
            rules: p
                .rules
                .iter()
                .copied()
                .filter(|r| !(app_caller && MASTER_USER_RULES.contains(r)))
                .collect(),
            status: stated.map_or_else(|| p.status.to_vec(), |s| vec![s]),
            items: items.clone(),
        })
        .collect()
}

/// The HTTP status the text itself states: `403 Forbidden`, `HTTP 401`, `"errorCode":"403"`,
/// `status code 'Unauthorized'` (the .NET SDK's wording). Power BI answers one error with 401 or 403
/// depending on the route, so the text's own status wins over the usual one.
fn stated_status(text: &str) -> Option<u16> {
    // Bytes, not str slices: a window may end inside a multi-byte character (and str slicing
    // would bring its panic formatting into the wasm).
    let b = text.as_bytes();
    let has = |hay: &[u8], w: &str| hay.windows(w.len()).any(|x| x == w.as_bytes());
    let alnum = |i: usize| b.get(i).is_some_and(u8::is_ascii_alphanumeric);
    for at in 0..b.len().saturating_sub(2) {
        let n = match b[at..at + 3] {
            [h @ (b'4' | b'5'), t @ b'0'..=b'9', u @ b'0'..=b'9'] => {
                u16::from(h - b'0') * 100 + u16::from(t - b'0') * 10 + u16::from(u - b'0')
            }
            _ => continue,
        };
        if (at > 0 && alnum(at - 1)) || alnum(at + 3) {
            continue;
        }
        let before = &b[at.saturating_sub(14)..at];
        let mut after = &b[at + 3..];
        while let [b' ' | b'\'' | b'"', rest @ ..] = after {
            after = rest;
        }
        let said = ["status", "http", "code", "error"]
            .iter()
            .any(|w| has(before, w));
        let named = [
            "unauthorized",
            "forbidden",
            "not found",
            "bad request",
            "too many",
            "conflict",
            "internal",
            "service unavailable",
        ]
        .iter()
        .any(|w| after.starts_with(w.as_bytes()));
        if said || named {
            return Some(n);
        }
    }
    // Named statuses after "status code", as .NET's HttpStatusCode prints them.
    let from = text.find("status code")? + "status code".len();
    let mut after = &b[from..];
    while let [b' ' | b'\'' | b'"' | b':', rest @ ..] = after {
        after = rest;
    }
    let word = &after[..after.iter().take_while(|c| c.is_ascii_alphabetic()).count()];
    match word {
        b"badrequest" => Some(400),
        b"unauthorized" => Some(401),
        b"forbidden" => Some(403),
        b"notfound" => Some(404),
        b"toomanyrequests" => Some(429),
        _ => None,
    }
}

/// The kind of item the words just before a GUID name: `dataset <id>`, `/reports/<id>`,
/// `"groupId":"<id>"`.
fn kind_before(text: &str, id: &str) -> ItemKind {
    let Some(at) = text.find(&id.to_ascii_lowercase()) else {
        return ItemKind::Unknown;
    };
    let b = &text.as_bytes()[..at];
    let end = b.len()
        - b.iter()
            .rev()
            .take_while(|c| !c.is_ascii_alphanumeric())
            .count();
    let b = &b[..end];
    let mut word = &b[end
        - b.iter()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .count()..];
    for suffix in [&b"id"[..], b"s"] {
        word = word.strip_suffix(suffix).unwrap_or(word);
    }
    match word {
        b"dataset" | b"semanticmodel" | b"model" => ItemKind::Dataset,
        b"report" => ItemKind::Report,
        b"group" | b"workspace" => ItemKind::Workspace,
        b"dashboard" => ItemKind::Dashboard,
        b"profile" => ItemKind::Profile,
        _ => ItemKind::Unknown,
    }
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
