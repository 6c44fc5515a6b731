//! Small text predicates shared by rules.

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits in either case.
pub fn is_guid(s: &str) -> bool {
    guid_bits(s).is_some()
}

/// A GUID's 128 bits, or `None` when `s` is not a GUID. Case-insensitive by construction, so
/// ids compare as integers. Branch-free over the 32 digits: this runs for every id lookup.
pub fn guid_bits(s: &str) -> Option<u128> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    // The 32 digits side by side, so the loops below have fixed bounds and unroll.
    let mut d = [0u8; 32];
    d[..8].copy_from_slice(&b[..8]);
    d[8..12].copy_from_slice(&b[9..13]);
    d[12..16].copy_from_slice(&b[14..18]);
    d[16..20].copy_from_slice(&b[19..23]);
    d[20..].copy_from_slice(&b[24..]);
    let (mut hi, mut lo, mut bad) = (0u64, 0u64, 0u8);
    for &c in &d[..16] {
        let v = HEX[c as usize];
        bad |= v;
        hi = (hi << 4) | u64::from(v & 0x0f);
    }
    for &c in &d[16..] {
        let v = HEX[c as usize];
        bad |= v;
        lo = (lo << 4) | u64::from(v & 0x0f);
    }
    (bad & NOT_HEX == 0).then_some((u128::from(hi) << 64) | u128::from(lo))
}

const NOT_HEX: u8 = 0x80;
/// Hex digit values; everything else has the `NOT_HEX` bit.
static HEX: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

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

/// The candidate most similar to `value` (Jaro-Winkler, case-insensitive) scoring at least `min`.
pub fn closest_within<'a>(
    value: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    min: f64,
) -> Option<&'a str> {
    let v = value.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&v, &c.to_lowercase())))
        .filter(|(_, s)| *s >= min)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}
