//! Allocation counts of validation on valid scenarios: the rules must not allocate on the happy
//! path (an allocation costs more than most checks), and building the context allocates a few
//! small vectors at most. Counted with a counting global allocator, so the figures are exact.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = COUNT.with(Cell::get);
    let out = f();
    (COUNT.with(Cell::get) - before, out)
}

#[test]
fn rules_do_not_allocate_on_valid_scenarios() {
    for (name, scenario) in [
        ("typical", common::base()),
        ("largest-50", common::sized(50)),
    ] {
        let parsed = embedgate_core::parse_value(&scenario);
        let s = parsed.scenario.as_ref().expect("scenario");
        let ctx = embedgate_core::rules::Ctx::new(s, &parsed);
        let mut out = Vec::with_capacity(4);
        let mut offenders = Vec::new();
        for rule in embedgate_core::CATALOG {
            let (n, ()) = allocations(|| embedgate_core::rules::run_rule(&ctx, rule, &mut out));
            if n > 0 {
                offenders.push(format!("{} ({}): {n}", rule.code, rule.name));
            }
        }
        assert!(out.is_empty(), "{name}: {out:#?}");
        assert!(
            offenders.is_empty(),
            "{name}: rules that allocate: {offenders:#?}"
        );
    }
}

#[test]
fn context_and_report_allocate_little() {
    // Ctx::new sizes its vectors up front: one allocation per index, none per item; plus the two
    // of the shared merge sort (`sort.rs`) when an identity names several datasets.
    const CONTEXT_BUDGET: usize = 14;
    for (name, scenario) in [
        ("typical", common::base()),
        ("largest-50", common::sized(50)),
    ] {
        let parsed = embedgate_core::parse_value(&scenario);
        let s = parsed.scenario.as_ref().expect("scenario");
        let (n_ctx, _ctx) = allocations(|| embedgate_core::rules::Ctx::new(s, &parsed));
        let (n_all, report) = allocations(|| embedgate_core::validate(&parsed));
        assert_eq!(report.verdict, embedgate_core::Verdict::Valid, "{name}");
        assert!(
            n_ctx <= CONTEXT_BUDGET,
            "{name}: Ctx::new made {n_ctx} allocations"
        );
        assert_eq!(
            n_all, n_ctx,
            "{name}: validate allocated beyond its context"
        );
    }
}
