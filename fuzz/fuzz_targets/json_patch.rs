#![no_main]
//! JSON patch (RFC 6902) on a fixed document: any bytes give a result or a clean error.

use libfuzzer_sys::fuzz_target;
use apimachinery::serde_json::json;

fuzz_target!(|data: &[u8]| {
    let doc = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"list": [1, 2, 3]}});
    if let Err(e) = apimachinery::json_patch(&doc, data) {
        let _ = e.to_api_error().to_status();
    }
});
