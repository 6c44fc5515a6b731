//! Case-insensitive id lookup without allocation: GUIDs become 128-bit keys in a sorted
//! vector (binary search); anything else falls back to a linear scan. Keeps the 50-item request
//! linear instead of quadratic.

/// A GUID's 128 bits: case-insensitive by construction, compared in one instruction.
pub(crate) type Key = u128;

pub(crate) fn key(id: &str) -> Option<Key> {
    let b = id.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut k: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        k = (k << 4) | v as u128;
    }
    Some(k)
}

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
                self.sorted.get(start).filter(|(x, _)| *x == k).map(|(_, i)| *i)
            }
            None => self.other.iter().find(|(x, _)| x.eq_ignore_ascii_case(id)).map(|(_, i)| *i),
        }
    }
}

/// Positions of ids that occur more than once (case-insensitively), grouped, each group in
/// ascending order. Sorting keeps this O(n log n) where pairwise comparison was quadratic.
pub(crate) fn repeated<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Vec<Vec<usize>> {
    if ids.len() < 2 {
        return Vec::new();
    }
    let mut keyed: Vec<(Result<Key, String>, usize)> =
        ids.enumerate().map(|(i, id)| (key(id).ok_or_else(|| id.to_ascii_lowercase()), i)).collect();
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
