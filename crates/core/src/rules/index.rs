//! Case-insensitive id lookup without allocation: GUIDs become 128-bit keys in a sorted
//! vector (binary search); anything else falls back to a linear scan. Keeps the 50-item request
//! linear instead of quadratic.

/// A GUID's 128 bits: case-insensitive by construction, compared in one instruction.
pub(crate) type Key = u128;

pub(crate) fn key(id: &str) -> Option<Key> {
    let b = id.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let (mut k, mut digits) = (0u128, 0);
    for &c in b {
        let v = HEX[c as usize];
        if v == DASH {
            continue;
        }
        if v == BAD {
            return None;
        }
        k = (k << 4) | v as u128;
        digits += 1;
    }
    // A dash anywhere else leaves fewer than 32 digits: not a GUID.
    (digits == 32).then_some(k)
}

const BAD: u8 = 0xff;
const DASH: u8 = 0xfe;
/// Hex digit values; dashes (only valid at the positions checked above) are skipped.
static HEX: [u8; 256] = {
    let mut t = [BAD; 256];
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
    t[b'-' as usize] = DASH;
    t
};

#[derive(Default)]
pub(crate) struct IdIndex<'a> {
    sorted: Vec<(Key, usize)>,
    other: Vec<(&'a str, usize)>,
}

impl<'a> IdIndex<'a> {
    pub(crate) fn new(ids: impl Iterator<Item = &'a str>) -> Self {
        let mut ix = IdIndex::default();
        for (i, id) in ids.enumerate() {
            match key(id) {
                Some(k) => ix.sorted.push((k, i)),
                None => ix.other.push((id, i)),
            }
        }
        // Stable: for duplicate ids the first position wins, as a linear scan would.
        ix.sorted.sort_by_key(|a| a.0);
        ix
    }

    /// The first position holding `id`.
    pub(crate) fn get(&self, id: &str) -> Option<usize> {
        match key(id) {
            Some(k) => {
                let start = self.sorted.partition_point(|(x, _)| *x < k);
                self.sorted
                    .get(start)
                    .filter(|(x, _)| *x == k)
                    .map(|(_, i)| *i)
            }
            None => self
                .other
                .iter()
                .find(|(x, _)| x.eq_ignore_ascii_case(id))
                .map(|(_, i)| *i),
        }
    }
}

/// Positions of ids that occur more than once (case-insensitively), grouped, each group in
/// ascending order. Sorting keeps this O(n log n) where pairwise comparison was quadratic.
pub(crate) fn repeated<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Vec<Vec<usize>> {
    if ids.len() < 2 {
        return Vec::new();
    }
    let mut keyed: Vec<(Result<Key, String>, usize)> = ids
        .enumerate()
        .map(|(i, id)| (key(id).ok_or_else(|| id.to_ascii_lowercase()), i))
        .collect();
    keyed.sort();
    let mut groups = Vec::new();
    let mut start = 0;
    for end in 1..=keyed.len() {
        if end == keyed.len() || keyed[end].0 != keyed[start].0 {
            if end - start > 1 {
                groups.push(keyed[start..end].iter().map(|(_, i)| *i).collect());
            }
            start = end;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_only_for_guids() {
        assert_eq!(
            key("D1D1D1D1-0000-4000-8000-00000000000A"),
            key("d1d1d1d1-0000-4000-8000-00000000000a")
        );
        assert!(key("d1d1d1d1-0000-4000-8000-00000000000a").is_some());
        assert_eq!(key("d1d1d1d1-0000-4000-8000-00000000000g"), None);
        assert_eq!(key("d1d-d1d1-0000-4000-8000-00000000000a"), None);
        assert_eq!(key("short"), None);
        let ix = IdIndex::new(["B", "d1d1d1d1-0000-4000-8000-00000000000a", "a"].into_iter());
        assert_eq!(ix.get("D1D1D1D1-0000-4000-8000-00000000000A"), Some(1));
        assert_eq!(ix.get("A"), Some(2));
        assert_eq!(ix.get("c"), None);
        assert_eq!(
            repeated(["x", "y", "X", "y", "z"].into_iter()),
            vec![vec![0, 2], vec![1, 3]]
        );
    }
}
