#![no_main]
//! Strategic merge patch against a Deployment with the built-in schema: the first byte
//! picks the document, the rest is the patch; nothing may panic.

use libfuzzer_sys::fuzz_target;
use apimachinery::serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((first, patch)) = data.split_first() else {
        return;
    };
    let doc = match first % 3 {
        0 => json!({"metadata": {"name": "d", "finalizers": ["a", "b"]},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}],
                         "env": [{"name": "A", "value": "1"}]}]}},
                             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
        1 => json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": []}}}}),
        _ => json!({}),
    };
    if let Some(schema) = apimachinery::builtin_patch_schema("apps", "Deployment") {
        if let Err(e) = apimachinery::strategic_merge_patch(&doc, patch, schema) {
            let _ = e.to_api_error().to_status();
        }
    }
});
