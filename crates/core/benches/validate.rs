//! `cargo bench -p embedgate-core`: validation of a typical V2 request (1 report, 1 dataset,
//! 1 identity) and of the largest legal one (50 of each), on a parsed scenario and from JSON text.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    for (name, scenario) in [
        ("typical", common::base()),
        ("largest-50", common::sized(50)),
    ] {
        let text = scenario.to_string();
        let parsed = embedgate_core::parse_value(&scenario);
        let report = embedgate_core::validate(&parsed);
        assert_eq!(
            report.verdict,
            embedgate_core::Verdict::Valid,
            "{name}: {:#?}",
            report.diagnostics
        );
        c.bench_function(&format!("validate/{name}"), |b| {
            b.iter(|| embedgate_core::validate(black_box(&parsed)))
        });
        c.bench_function(&format!("parse+validate/{name}"), |b| {
            b.iter(|| embedgate_core::check_str(black_box(&text)).expect("json"))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
