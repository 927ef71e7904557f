#![no_main]
//! Field selector parsing must never panic, and its canonical form must parse to the same
//! requirements.

use apimachinery::FieldSelector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(selector) = FieldSelector::parse(text) {
        let mut want: Vec<String> = selector.requirements().iter().map(|r| r.to_string()).collect();
        let reparsed = FieldSelector::parse(&selector.to_string());
        assert!(reparsed.is_ok(), "canonical form must parse");
        let mut got: Vec<String> = reparsed
            .map(|s| s.requirements().iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        want.sort();
        got.sort();
        assert_eq!(got, want);
        let _ = selector.matches(|_| None);
    }
});
