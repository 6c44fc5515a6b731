//! Arbitrary bytes through the whole pipeline: parse, validate, locate every pointer, apply
//! every fix and validate again. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = embedgate_core::explain(text);
    let Ok(parsed) = embedgate_core::parse_str(text) else { return };
    let report = embedgate_core::validate(&parsed);
    let doc: serde_json::Value = serde_json::from_str(text).expect("parsed above");
    for d in &report.diagnostics {
        let _ = embedgate_core::locate::locate(text, &d.scenario_pointer());
        if let Some(fix) = &d.fix {
            let mut fixed = doc.clone();
            if embedgate_core::apply_fix(&mut fixed, fix).is_ok() {
                let _ = embedgate_core::check_value(&fixed);
            }
        }
    }
});
