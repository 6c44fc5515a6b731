//! A per-call arena in front of the global allocator. One `validate()` makes and frees about a hundred
//! small blocks (the JSON tree, the typed scenario's strings, the rule context), and in the browser
//! the allocator was about a tenth of each call. Inside [`CallArena::scope`] blocks are bumped from
//! one reused region and freed all at once when the scope ends; everything else goes to the inner
//! allocator (Talc in the module).
//!
//! The rule that keeps this sound: the `work` of a scope must not leave an allocation anywhere but
//! in its result, which is dropped before the region is reused. It must not call JS either:
//! wasm-bindgen keeps its table of JS values in a Rust `Vec` that may grow on any JS call.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

/// The region's first size; it doubles (up to [`MAX_REGION`]) after a scope that did not fit.
pub const FIRST_REGION: usize = 64 * 1024;
pub const MAX_REGION: usize = 4 * 1024 * 1024;

pub struct CallArena<A> {
    inner: A,
    /// The region `[start, end)`; `end == 0` until the first scope.
    start: Cell<usize>,
    end: Cell<usize>,
    next: Cell<usize>,
    size: Cell<usize>,
    /// Scopes entered and not yet left (a nested scope runs inside the outer one).
    depth: Cell<u32>,
    /// True while `work` runs: only then do new blocks come from the region.
    bumping: Cell<bool>,
    overflowed: Cell<bool>,
}

// SAFETY: the module is single-threaded (wasm32 without the atomics feature); the allocator is
// never shared between threads.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for CallArena<A> {}

impl<A: GlobalAlloc> CallArena<A> {
    pub const fn new(inner: A) -> Self {
        CallArena {
            inner,
            start: Cell::new(0),
            end: Cell::new(0),
            next: Cell::new(0),
            size: Cell::new(FIRST_REGION),
            depth: Cell::new(0),
            bumping: Cell::new(false),
            overflowed: Cell::new(false),
        }
    }

    /// Runs `work` with its allocations taken from the region, then `finish` on its result with
    /// ordinary allocation (what `finish` returns cannot borrow from the result, so it outlives the
    /// region safely). The region is reused once the result is dropped.
    pub fn scope<T, U>(&self, work: impl FnOnce() -> T, finish: impl FnOnce(&T) -> U) -> U {
        if self.depth.get() > 0 || !self.ensure_region() {
            let t = work();
            return finish(&t);
        }
        self.depth.set(1);
        self.bumping.set(true);
        let t = work();
        self.bumping.set(false);
        let u = finish(&t);
        drop(t);
        self.depth.set(0);
        self.next.set(self.start.get());
        if self.overflowed.replace(false) && self.size.get() < MAX_REGION {
            // Too small for that call: take a region twice the size next time.
            // SAFETY: the region was allocated with this layout, and nothing in it is alive.
            unsafe {
                self.inner
                    .dealloc(self.start.get() as *mut u8, self.region_layout())
            };
            self.size.set(self.size.get() * 2);
            self.end.set(0);
        }
        u
    }

    /// True when every block taken so far in this scope's `work` is in the region: what `work`
    /// made can then be forgotten instead of dropped (the region is reused as a whole anyway).
    pub fn all_in_region(&self) -> bool {
        self.bumping.get() && !self.overflowed.get()
    }

    /// Bytes of the region in use (zero outside a scope).
    pub fn in_use(&self) -> usize {
        self.next.get() - self.start.get()
    }

    fn region_layout(&self) -> Layout {
        Layout::from_size_align(self.size.get(), 16).expect("region layout")
    }

    fn ensure_region(&self) -> bool {
        if self.end.get() != 0 {
            return true;
        }
        // SAFETY: a non-zero size.
        let p = unsafe { self.inner.alloc(self.region_layout()) } as usize;
        if p == 0 {
            return false;
        }
        self.start.set(p);
        self.next.set(p);
        self.end.set(p + self.size.get());
        true
    }

    fn owns(&self, p: *mut u8) -> bool {
        let p = p as usize;
        p >= self.start.get() && p < self.end.get()
    }

    fn bump(&self, layout: Layout) -> *mut u8 {
        let at = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
        match at.checked_add(layout.size()) {
            Some(to) if to <= self.end.get() => {
                self.next.set(to);
                at as *mut u8
            }
            _ => {
                self.overflowed.set(true);
                core::ptr::null_mut()
            }
        }
    }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for CallArena<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.bumping.get() {
            let p = self.bump(layout);
            if !p.is_null() {
                return p;
            }
        }
        self.inner.alloc(layout)
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if self.owns(p) {
            // The last block can be taken back at once (a scratch vector freed right after use).
            if p as usize + layout.size() == self.next.get() {
                self.next.set(p as usize);
            }
        } else {
            self.inner.dealloc(p, layout)
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(p) {
            return self.inner.realloc(p, layout, new_size);
        }
        // The last block grows or shrinks in place.
        if p as usize + layout.size() == self.next.get() && p as usize + new_size <= self.end.get()
        {
            self.next.set(p as usize + new_size);
            return p;
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let q = self.alloc(new_layout);
        if !q.is_null() {
            core::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
            self.dealloc(p, layout);
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    /// System, counting what reaches it.
    #[derive(Default)]
    struct Counting {
        allocs: Cell<usize>,
        frees: Cell<usize>,
    }
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            self.allocs.set(self.allocs.get() + 1);
            System.alloc(l)
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            self.frees.set(self.frees.get() + 1);
            System.dealloc(p, l)
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_of_a_scope_come_from_the_region_and_are_reused_after_it() {
        let a = CallArena::new(Counting::default());
        let first = a.scope(
            || unsafe {
                let p = a.alloc(layout(24, 8));
                let q = a.alloc(layout(3, 1));
                let r = a.alloc(layout(16, 16));
                assert!(a.owns(p) && a.owns(q) && a.owns(r));
                assert_eq!(r as usize % 16, 0);
                a.dealloc(p, layout(24, 8)); // not the last: nothing happens
                assert!(a.in_use() >= 24 + 3 + 16);
                p as usize
            },
            |p| *p,
        );
        // One region from the inner allocator, nothing freed; the next scope starts at the same place.
        assert_eq!((a.inner.allocs.get(), a.inner.frees.get()), (1, 0));
        assert_eq!(a.in_use(), 0);
        let again = a.scope(|| unsafe { a.alloc(layout(24, 8)) as usize }, |p| *p);
        assert_eq!(first, again);
        assert_eq!(a.inner.allocs.get(), 1);
    }

    #[test]
    fn outside_a_scope_and_in_finish_blocks_go_to_the_inner_allocator() {
        let a = CallArena::new(Counting::default());
        unsafe {
            let p = a.alloc(layout(8, 8));
            assert!(!a.owns(p));
            a.dealloc(p, layout(8, 8));
        }
        let escaped = a.scope(
            || unsafe {
                let p = a.alloc(layout(10, 1));
                assert!(a.owns(p));
            },
            |_| unsafe {
                let p = a.alloc(layout(8, 8));
                assert!(!a.owns(p), "finish must not take from the region");
                p as usize
            },
        );
        assert!(!a.owns(escaped as *mut u8));
        unsafe { a.dealloc(escaped as *mut u8, layout(8, 8)) };
    }

    #[test]
    fn realloc_grows_the_last_block_in_place_and_copies_others() {
        let a = CallArena::new(System);
        a.scope(
            || unsafe {
                let p = a.alloc(layout(4, 1));
                p.copy_from(b"abcd".as_ptr(), 4);
                let p2 = a.realloc(p, layout(4, 1), 100);
                assert_eq!(p, p2, "last block grows in place");
                let _q = a.alloc(layout(1, 1));
                let p3 = a.realloc(p2, layout(100, 1), 200);
                assert_ne!(p2, p3, "not the last block: moved");
                assert!(a.owns(p3));
                assert_eq!(std::slice::from_raw_parts(p3, 4), b"abcd");
            },
            |_| (),
        );
    }

    #[test]
    fn a_scope_that_does_not_fit_falls_back_and_the_region_doubles() {
        let a = CallArena::new(Counting::default());
        let big = FIRST_REGION + 1;
        a.scope(
            || unsafe {
                let p = a.alloc(layout(big, 8));
                assert!(!p.is_null() && !a.owns(p));
                p.write_bytes(7, big);
                a.dealloc(p, layout(big, 8));
            },
            |_| (),
        );
        // region + the big block; the big block and then the old region freed.
        assert_eq!((a.inner.allocs.get(), a.inner.frees.get()), (2, 2));
        assert_eq!(a.size.get(), 2 * FIRST_REGION);
        a.scope(
            || unsafe {
                let p = a.alloc(layout(big, 8));
                assert!(a.owns(p), "the doubled region holds it");
            },
            |_| (),
        );
        assert_eq!(a.inner.allocs.get(), 3);
    }

    #[test]
    fn a_nested_scope_does_not_reset_the_outer_one() {
        // The test's own `vec!`s use the test binary's allocator, so blocks are taken from `a`.
        let a = CallArena::new(System);
        let filled = |byte: u8| unsafe {
            let p = a.alloc(layout(64, 1));
            p.write_bytes(byte, 64);
            std::slice::from_raw_parts(p, 64)
        };
        a.scope(
            || {
                let outer = filled(5);
                let inner = a.scope(
                    || filled(9),
                    |v| v.iter().map(|&b| b as usize).sum::<usize>(),
                );
                assert_eq!(inner, 9 * 64);
                assert!(
                    a.in_use() >= 2 * 64,
                    "the inner scope did not reset the region"
                );
                let later = filled(1);
                assert!(outer.iter().all(|&b| b == 5) && later.iter().all(|&b| b == 1));
                assert!(a.owns(outer.as_ptr() as *mut u8) && a.owns(later.as_ptr() as *mut u8));
            },
            |_| (),
        );
    }
}
