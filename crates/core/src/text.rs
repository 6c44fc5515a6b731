//! Small text predicates shared by rules.

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits in either case.
pub fn is_guid(s: &str) -> bool {
    guid_bits(s).is_some()
}

pub use embedgate_scan::guid::guid_bits;

/// A user principal name: `name@domain.tld`.
pub fn is_upn(s: &str) -> bool {
    match s.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    }
}

/// A down-level Windows logon name: `DOMAIN\user`.
pub fn is_domain_user(s: &str) -> bool {
    match s.split_once('\\') {
        Some((domain, user)) => !domain.is_empty() && !user.is_empty() && !user.contains('\\'),
        None => false,
    }
}

/// The closest candidate to a value, when close enough to be a likely typo (role names).
pub fn closest<'a>(value: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    closest_within(value, candidates, 0.8)
}

/// The candidate most similar to `value` (Jaro-Winkler, ASCII case-insensitive: field and role
/// names; full Unicode case folding would cost the browser module its case tables) scoring at
/// least `min`.
pub fn closest_within<'a>(
    value: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    min: f64,
) -> Option<&'a str> {
    let v = value.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&v, &c.to_ascii_lowercase())))
        .filter(|(_, s)| *s >= min)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}
