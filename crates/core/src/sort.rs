//! One stable sort for the core's small, cold sorts (diagnostics, unknown fields, object members,
//! ids that are not GUIDs). `slice::sort_by` is instantiated once per element type, about 3 KB of
//! wasm each; here the algorithm (a merge sort of positions) is compiled once, and each element
//! type adds only a comparison and a permutation.

/// Sorts `v` stably by `less`, in O(n log n).
pub(crate) fn sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    if v.len() < 2 {
        return;
    }
    let order = sorted_order(v.len(), &mut |a, b| less(&v[a], &v[b]));
    permute(v, order);
}

/// The positions `0..n` in stable sorted order (bottom-up merge sort).
fn sorted_order(n: usize, less: &mut dyn FnMut(usize, usize) -> bool) -> Vec<usize> {
    let mut from: Vec<usize> = (0..n).collect();
    let mut to = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut i, mut j) = (start, mid);
            for slot in &mut to[start..end] {
                // Take from the right run only when it is strictly less: stability.
                let right = j < end && (i >= mid || less(from[j], from[i]));
                if right {
                    *slot = from[j];
                    j += 1;
                } else {
                    *slot = from[i];
                    i += 1;
                }
            }
            start = end;
        }
        std::mem::swap(&mut from, &mut to);
        width *= 2;
    }
    from
}

/// Rearranges `v` so that `v[i]` becomes the old `v[order[i]]`, following each cycle once.
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..v.len() {
        let mut at = start;
        while order[at] != DONE {
            let next = order[at];
            order[at] = DONE;
            if next == start {
                break;
            }
            v.swap(at, next);
            at = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_stable_sort() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 0..200 {
            for modulus in [1u64, 2, 5, 1000] {
                let v: Vec<(u64, usize)> = (0..n)
                    .map(|i| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        (seed % modulus, i)
                    })
                    .collect();
                let mut ours = v.clone();
                sort_by(&mut ours, |a, b| a.0 < b.0);
                let mut std = v;
                std.sort_by_key(|x| x.0);
                assert_eq!(ours, std, "n = {n}, modulus = {modulus}");
            }
        }
    }
}
