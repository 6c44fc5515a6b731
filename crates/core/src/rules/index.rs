//! Case-insensitive id lookup without allocation: GUIDs become 128-bit keys in a sorted
//! vector (binary search); anything else falls back to a linear scan. Keeps the 50-item request
//! linear instead of quadratic.

/// A GUID's 128 bits: case-insensitive by construction, compared in one instruction.
pub(crate) type Key = u128;

pub(crate) fn key(id: &str) -> Option<Key> {
    crate::text::guid_bits(id)
}

#[derive(Default)]
pub(crate) struct IdIndex<'a> {
    sorted: Vec<(Key, usize)>,
    other: Vec<(&'a str, usize)>,
}

impl<'a> IdIndex<'a> {
    pub(crate) fn new(ids: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let mut ix = IdIndex {
            sorted: Vec::with_capacity(ids.len()),
            other: Vec::new(),
        };
        for (i, id) in ids.enumerate() {
            match key(id) {
                Some(k) => ix.sorted.push((k, i)),
                None => ix.other.push((id, i)),
            }
        }
        // By key, then position: for duplicate ids the first position wins, as a linear scan
        // would (and it is the same sort instantiation as `repeated`'s).
        ix.sorted.sort_unstable();
        ix
    }

    /// An empty index with room for `n` GUIDs, filled by [`insert_new`](Self::insert_new).
    pub(crate) fn with_capacity(n: usize) -> Self {
        IdIndex {
            sorted: Vec::with_capacity(n),
            other: Vec::new(),
        }
    }

    /// Adds `id` (with its key) at position `at`, unless it is there already: false then.
    pub(crate) fn insert_new(&mut self, id: &'a str, key: Option<Key>, at: usize) -> bool {
        match key {
            Some(k) => match self.sorted.binary_search_by_key(&k, |e| e.0) {
                Ok(_) => false,
                Err(i) => {
                    self.sorted.insert(i, (k, at));
                    true
                }
            },
            None if self.get_keyed(id, None).is_some() => false,
            None => {
                self.other.push((id, at));
                true
            }
        }
    }

    /// The first position holding `id`.
    pub(crate) fn get(&self, id: &str) -> Option<usize> {
        self.get_keyed(id, key(id))
    }

    /// As [`get`](Self::get), with `id`'s key already computed.
    pub(crate) fn get_keyed(&self, id: &str, key: Option<Key>) -> Option<usize> {
        match key {
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
/// ascending order. Sorting keeps this O(n log n) where pairwise comparison was quadratic; up to
/// 64 GUIDs (the legal lists) are sorted on the stack, so a list without repeats costs no
/// allocation.
pub(crate) fn repeated<'a>(ids: impl Iterator<Item = &'a str> + Clone) -> Vec<Vec<usize>> {
    const STACK: usize = 64;
    let mut keys = [(0 as Key, 0usize); STACK];
    let mut n = 0;
    for (i, id) in ids.clone().enumerate() {
        match key(id) {
            Some(k) if i < STACK => {
                keys[i] = (k, i);
                n = i + 1;
            }
            _ => return repeated_slow(ids),
        }
    }
    let keys = &mut keys[..n];
    keys.sort_unstable();
    if keys.windows(2).all(|w| w[0].0 != w[1].0) {
        return Vec::new();
    }
    groups(keys)
}

fn repeated_slow<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<Vec<usize>> {
    let mut keyed: Vec<(Result<Key, String>, usize)> = ids
        .enumerate()
        .map(|(i, id)| (key(id).ok_or_else(|| id.to_ascii_lowercase()), i))
        .collect();
    crate::sort::sort_by(&mut keyed, |a, b| a < b);
    groups(&keyed)
}

/// Runs of equal keys (of a sorted slice) longer than one, as positions.
fn groups<K: PartialEq>(sorted: &[(K, usize)]) -> Vec<Vec<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for end in 1..=sorted.len() {
        if end == sorted.len() || sorted[end].0 != sorted[start].0 {
            if end - start > 1 {
                groups.push(sorted[start..end].iter().map(|(_, i)| *i).collect());
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

    #[test]
    fn keys_agree_with_a_naive_guid_check_for_every_single_byte_change() {
        let naive = |b: &[u8]| {
            b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                })
        };
        let valid = *b"0a1B2c3D-4e5F-6789-aBcD-eF0123456789";
        for at in 0..36 {
            for byte in 0..=127u8 {
                let mut g = valid;
                g[at] = byte;
                let s = std::str::from_utf8(&g).expect("ascii");
                assert_eq!(key(s).is_some(), naive(&g), "{s:?}");
            }
        }
        // Non-ASCII characters in a 36-byte string.
        assert_eq!(key("0a1b2c3d-4e5f-6789-abcd-ef01234567é"), None);
        assert_eq!(key("é0a1b2c3-4e5f-6789-abcd-ef012345678"), None);
        let k = key("0a1b2c3d-4e5f-6789-aBcD-ef0123456789").expect("guid");
        assert_eq!(k, 0x0a1b2c3d_4e5f_6789_abcd_ef0123456789);
        // Every digit value at every position decodes to its nibble.
        let positions = (0..36).filter(|i| ![8, 13, 18, 23].contains(i));
        for (n, at) in positions.enumerate() {
            for (c, value) in "0123456789abcdefABCDEF".chars().zip((0..16).chain(10..16)) {
                let mut g = *b"00000000-0000-0000-0000-000000000000";
                g[at] = c as u8;
                let s = std::str::from_utf8(&g).expect("ascii");
                assert_eq!(key(s), Some((value as u128) << (4 * (31 - n))), "{s}");
            }
        }
    }
}
