#![no_main]
//! Fuzzes the readers of untrusted extension packages (issue 14): the first byte picks the
//! reader, the rest is its input — `permissions.yaml` (parsed, then held to the installer's
//! ceiling), `extension.yaml`, or a package archive as the installer reads it
//! (`install::read_package`) and as `orrery extension package` checks it. None may panic;
//! whatever is read has been checked (the proptests in
//! `crates/platform/tests/extension_packages.rs` state the same properties).

use libfuzzer_sys::fuzz_target;
use platform::extensions::{authoring, install, package, permissions};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    match pick % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if let Ok(p) = permissions::parse(text) {
                assert!(p.cluster.len() + p.namespace.len() <= permissions::MAX_RULES);
                let _ = permissions::check_ceiling(&p);
            }
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if let Ok(m) = package::parse_manifest(text) {
                assert!(matches!(m.installation_mode.as_str(), "HostOnly" | "Multicluster"));
            }
        }
        _ => {
            if let Ok(p) = install::read_package(rest, "hello") {
                assert_eq!(p.manifest.name, "hello");
                assert!(permissions::check_ceiling(&p.permissions).is_ok());
            }
            let _ = authoring::check_package(rest);
        }
    }
});
