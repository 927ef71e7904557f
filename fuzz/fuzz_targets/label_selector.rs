#![no_main]
//! Label selector parsing must never panic, and whatever parses must round-trip through
//! its canonical form.

use apimachinery::LabelSelector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(selector) = LabelSelector::parse(text) {
        let canonical = selector.to_string();
        let reparsed = LabelSelector::parse(&canonical).map(|s| s.to_string());
        assert_eq!(reparsed, Ok(canonical));
        let _ = selector.matches(&std::collections::BTreeMap::<String, String>::new());
    }
});
