//! Parses arbitrary UTF-8 as a template (and executes it with tight limits): must never panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use gotmpl::{FuncMap, Limits, TemplateSet, Value};
use libfuzzer_sys::fuzz_target;

fn funcs() -> Arc<FuncMap> {
    static F: OnceLock<Arc<FuncMap>> = OnceLock::new();
    F.get_or_init(|| Arc::new(gotmpl::sprig())).clone()
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let mut set = TemplateSet::new(funcs());
    if set.parse("fuzz", src).is_ok() {
        let limits = Limits {
            max_depth: 20,
            deadline: Some(std::time::Instant::now() + std::time::Duration::from_millis(200)),
            max_output: 1 << 20,
            missing_key_error: false,
        };
        let mut out = String::new();
        let _ = set.execute("fuzz", &Value::Nil, &mut out, &limits);
    }
});
