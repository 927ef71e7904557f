//! The encryption configuration: providers, envelopes, rotation, resource names, bad files.

use super::*;

const K32: &str = "c2VjcmV0LWtleS10aGF0LWlzLTMyLWJ5dGVzLWxvbmc="; // 32 bytes
const K16: &str = "MDEyMzQ1Njc4OWFiY2RlZg=="; // 16 bytes
const SECRET: &str = "/registry/core/secrets/default/s";

fn config(providers: &str) -> EncryptionConfig {
    EncryptionConfig::parse(
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n\
             resources:\n- resources: [secrets]\n  providers:\n{providers}"
        )
        .as_bytes(),
    )
    .unwrap()
}

#[test]
fn every_provider_round_trips_in_kube_apiservers_envelope() {
    for (kind, secret, overhead) in [
        ("aescbc", K32, 16..=32),
        ("aescbc", K16, 16..=32),
        ("aesgcm", K32, 28..=28),
        ("aesgcm", K16, 28..=28),
        ("secretbox", K32, 40..=40),
    ] {
        let c = config(&format!(
            "  - {kind}: {{keys: [{{name: k1, secret: \"{secret}\"}}]}}\n  - identity: {{}}\n"
        ));
        let plain = br#"{"kind":"Secret","data":{"p":"aHVudGVyMg=="}}"#;
        let stored = c.encode(SECRET, plain).unwrap();
        let prefix = format!("k8s:enc:{kind}:v1:k1:");
        assert!(stored.starts_with(prefix.as_bytes()), "{kind}");
        let body = stored.len() - prefix.len();
        assert!(overhead.contains(&(body - plain.len())), "{kind}: {body}");
        assert_ne!(
            c.encode(SECRET, plain).unwrap(),
            stored,
            "a fresh nonce each time"
        );
        let back = c.decode(SECRET, &stored).unwrap();
        assert_eq!(back.value, plain);
        assert!(!back.stale);
    }
}

#[test]
fn aesgcm_binds_the_value_to_its_key() {
    let c = config(&format!(
        "  - aesgcm: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n"
    ));
    let stored = c.encode(SECRET, b"{}").unwrap();
    let moved = c.decode("/registry/core/secrets/default/other", &stored);
    assert!(moved.unwrap_err().to_string().contains("differs"));
}

#[test]
fn the_first_key_encrypts_and_every_key_decrypts() {
    let old = config(&format!(
        "  - aescbc: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n"
    ));
    let stored = old.encode(SECRET, b"{}").unwrap();
    let rotated = config(&format!(
        "  - aescbc: {{keys: [{{name: k2, secret: \"{K16}\"}}, {{name: k1, secret: \"{K32}\"}}]}}\n"
    ));
    let back = rotated.decode(SECRET, &stored).unwrap();
    assert_eq!(back.value, b"{}");
    assert!(back.stale);
    assert!(
        rotated
            .encode(SECRET, b"{}")
            .unwrap()
            .starts_with(b"k8s:enc:aescbc:v1:k2:")
    );
    // A different provider's key of the same name is not the same key.
    let other = config(&format!(
        "  - aesgcm: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n"
    ));
    let err = other.decode(SECRET, &stored).unwrap_err().to_string();
    assert!(err.contains("does not list"), "{err}");
    // Identity first: plaintext is current, encrypted data still reads (and is stale).
    let identity = config(&format!(
        "  - identity: {{}}\n  - aescbc: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n"
    ));
    assert!(!identity.covers(SECRET));
    assert!(identity.decode(SECRET, &stored).unwrap().stale);
    assert!(!identity.decode(SECRET, b"{}").unwrap().stale);
    // Plaintext under an encrypting configuration is stale.
    assert!(old.decode(SECRET, b"{}").unwrap().stale);
}

#[test]
fn other_resources_pass_through() {
    let c = config(&format!(
        "  - aescbc: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n"
    ));
    assert!(c.covers(SECRET));
    assert!(!c.covers("/registry/core/configmaps/default/s"));
    assert!(!c.covers("/registry/core/secretsx/a"));
}

#[test]
fn resource_names_map_to_key_prefixes() {
    assert_eq!(
        resource_prefix("secrets").as_deref(),
        Some("/registry/core/secrets/")
    );
    assert_eq!(
        resource_prefix("deployments.apps").as_deref(),
        Some("/registry/apps/deployments/")
    );
    assert_eq!(
        resource_prefix("users.iam.kubesphere.io").as_deref(),
        Some("/registry/iam.kubesphere.io/users/")
    );
    assert_eq!(
        resource_prefix("*.apps").as_deref(),
        Some("/registry/apps/")
    );
    assert_eq!(resource_prefix("*.").as_deref(), Some("/registry/core/"));
    assert_eq!(resource_prefix("*.*").as_deref(), Some("/registry/"));
    for bad in ["", "Secrets", "a b", "*"] {
        assert_eq!(resource_prefix(bad), None, "{bad}");
    }
}

#[test]
fn bad_configurations_say_what_is_wrong() {
    let parse = |providers: &str| {
        EncryptionConfig::parse(
            format!(
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n\
                 resources:\n- resources: [secrets]\n  providers:\n{providers}"
            )
            .as_bytes(),
        )
        .unwrap_err()
    };
    assert!(parse("  - aescbc: {keys: [{name: k1, secret: \"c2hvcnQ=\"}]}\n").contains("5 bytes"));
    assert!(parse("  - aescbc: {keys: [{name: k1, secret: \"!!\"}]}\n").contains("base64"));
    assert!(parse("  - kms: {name: x}\n").contains("not supported"));
    assert!(parse("  - aescbc: {keys: []}\n").contains("no keys"));
    assert!(
        parse(&format!(
            "  - aescbc: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n    identity: {{}}\n"
        ))
        .contains("exactly one")
    );
    let wrong_kind =
        EncryptionConfig::parse(b"apiVersion: v1\nkind: ConfigMap\nresources: []\n").unwrap_err();
    assert!(
        wrong_kind.contains("EncryptionConfiguration"),
        "{wrong_kind}"
    );
    // Key material never appears in a rendering of the configuration.
    let c = config(&format!(
        "  - aescbc: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n"
    ));
    assert!(!format!("{c:?}").contains(K32));
}

proptest::proptest! {
    /// Whatever bytes the store holds, decoding answers (plaintext or an error), never panics.
    #[test]
    fn any_stored_bytes_decode_without_panicking(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200), kind in 0usize..4) {
        let c = config(&format!("  - aesgcm: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n  - aescbc: {{keys: [{{name: k2, secret: \"{K16}\"}}]}}\n  - secretbox: {{keys: [{{name: k3, secret: \"{K32}\"}}]}}\n"));
        let header = ["k8s:enc:aesgcm:v1:k1:", "k8s:enc:aescbc:v1:k2:", "k8s:enc:secretbox:v1:k3:", "k8s:enc:"][kind];
        let mut stored = header.as_bytes().to_vec();
        stored.extend(&tail);
        let _ = c.decode(SECRET, &stored);
        let _ = c.decode(SECRET, &tail);
    }

    /// Every provider returns exactly what it encrypted, whatever the value.
    #[test]
    fn every_value_round_trips(value in proptest::collection::vec(proptest::num::u8::ANY, 0..300), kind in 0usize..3) {
        let provider = ["aesgcm", "aescbc", "secretbox"][kind];
        let c = config(&format!("  - {provider}: {{keys: [{{name: k1, secret: \"{K32}\"}}]}}\n"));
        let stored = c.encode(SECRET, &value).unwrap();
        proptest::prop_assert_eq!(c.decode(SECRET, &stored).unwrap().value, value);
    }
}
