#![no_main]
//! Server-side apply of arbitrary bytes (as JSON) onto a live Deployment with managed fields:
//! nothing may panic, and every failure is a Status.

use apimachinery::apply::{self, FieldSet, Request};
use apimachinery::serde_json::{self, Value, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let ignored = FieldSet::new();
    let req = |manager| Request {
        manager,
        api_version: "apps/v1",
        subresource: "",
        now: "2026-01-01T00:00:00Z",
        ignored: &ignored,
        schema: apimachinery::builtin_patch_schema("apps", "Deployment"),
    };
    let base = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    let Ok(first) = apply::apply(&json!({}), &base, false, &req("owner")) else { return };
    let mut live = first.object;
    apply::write_managed_fields(&mut live, &first.managed_fields);
    for force in [false, true] {
        if let Err(e) = apply::apply(&live, &config, force, &req("fuzzer")) {
            let _ = e.to_api_error().to_status();
        }
    }
});
