#![no_main]
//! JSON merge patch (RFC 7386): any bytes give a result or a clean error, and applying the
//! same patch twice changes nothing more (merge patches are idempotent).

use libfuzzer_sys::fuzz_target;
use apimachinery::serde_json::json;

fuzz_target!(|data: &[u8]| {
    let doc = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}});
    if let Ok(once) = apimachinery::merge_patch(&doc, data) {
        assert_eq!(apimachinery::merge_patch(&once, data), Ok(once));
    }
});
