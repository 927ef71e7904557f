#![no_main]
//! Arbitrary bytes as an `EncryptionConfiguration` file (`--encryption-provider-config`), and
//! as a stored value read back through a valid configuration: parsing and decoding answer
//! (a configuration or an error; plaintext or an error) and never panic. The first input byte
//! picks which.

use std::sync::OnceLock;

use apiserver::encryption::EncryptionConfig;
use libfuzzer_sys::fuzz_target;
use store::ValueTransformer;

fn config() -> &'static EncryptionConfig {
    static CONFIG: OnceLock<EncryptionConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let key = "c2VjcmV0LWtleS10aGF0LWlzLTMyLWJ5dGVzLWxvbmc=";
        // One line each: a `\` line continuation would strip the indentation YAML needs.
        let providers: String = [("aesgcm", "a"), ("aescbc", "b"), ("secretbox", "c")]
            .iter()
            .map(|(p, name)| {
                format!("    - {p}: {{keys: [{{name: {name}, secret: \"{key}\"}}]}}\n")
            })
            .collect();
        EncryptionConfig::parse(
            format!(
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n\
                 resources:\n  - resources: [secrets]\n    providers:\n{providers}"
            )
            .as_bytes(),
        )
        .expect("the fuzz configuration parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    if pick % 2 == 0 {
        let _ = EncryptionConfig::parse(rest);
    } else {
        let _ = config().decode("/registry/core/secrets/default/s", rest);
    }
});
