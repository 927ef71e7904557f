#![no_main]
//! Fuzzes Helm's `--set` parser (all three flavours): it must never panic, and whatever it
//! accepts must marshal back to YAML.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut m = helm::values::Map::new();
    if helm::values::strvals::parse_set(s, &mut m).is_ok() {
        let _ = helm::yaml::to_yaml(&gotmpl::Value::map(m));
    }
    let mut m = helm::values::Map::new();
    let _ = helm::values::strvals::parse_set_string(s, &mut m);
    let mut m = helm::values::Map::new();
    let _ = helm::values::strvals::parse_set_json(s, &mut m);
});
