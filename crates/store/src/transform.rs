//! Values transformed on their way to and from SQLite: encryption at rest.
//!
//! The store keeps plaintext in memory (the latest state, the ring, events) and hands the
//! transformer only what it writes to or reads from the file, as kube-apiserver's storage
//! transformers sit between its cache and etcd. The transformer decides which keys it
//! covers; other keys pass through untouched.

use std::borrow::Cow;
use std::sync::Arc;

use crate::StoreError;

/// The prefix every encrypted value starts with (kube-apiserver's envelope format,
/// `k8s:enc:<provider>:v1:<key name>:<ciphertext>`). Stored objects are JSON, which never
/// starts with it, so a value can be recognised as encrypted without any configuration.
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";

/// What a transformer read back.
#[derive(Debug)]
pub struct Decoded {
    /// The plaintext.
    pub value: Vec<u8>,
    /// The stored form is not what [`ValueTransformer::encode`] would write now (plaintext,
    /// or a key other than the first one): a rewrite should store it again.
    pub stale: bool,
}

/// Turns values into their stored form and back (for example, encrypts them).
pub trait ValueTransformer: Send + Sync + std::fmt::Debug {
    /// Whether values of this key are transformed at all.
    fn covers(&self, key: &str) -> bool;
    /// The stored form of `value` under `key` (only called for covered keys).
    fn encode(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// The plaintext of a stored value of `key`. Called for covered keys and for every value
    /// that starts with [`ENCRYPTED_PREFIX`], even under a key no longer covered.
    fn decode(&self, key: &str, stored: &[u8]) -> Result<Decoded, StoreError>;
}

/// The store's optional transformer with the pass-through rules around it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Codec(pub Option<Arc<dyn ValueTransformer>>);

impl Codec {
    /// The bytes to write for `value`.
    pub fn encode_stored<'a>(
        &self,
        key: &str,
        value: &'a [u8],
    ) -> Result<Cow<'a, [u8]>, StoreError> {
        match &self.0 {
            Some(t) if t.covers(key) => Ok(Cow::Owned(t.encode(key, value)?)),
            _ => Ok(Cow::Borrowed(value)),
        }
    }

    /// The plaintext of stored bytes, and whether they should be rewritten.
    pub fn decode_stored(&self, key: &str, stored: Vec<u8>) -> Result<Decoded, StoreError> {
        let encrypted = stored.starts_with(ENCRYPTED_PREFIX);
        match &self.0 {
            Some(t) if encrypted || t.covers(key) => t.decode(key, &stored),
            Some(_) => Ok(Decoded {
                value: stored,
                stale: false,
            }),
            None if encrypted => Err(StoreError::Backend(format!(
                "the stored value of {key} is encrypted ({}), but the store was opened without an \
                 encryption configuration: start with the configuration that holds its key",
                describe_envelope(&stored)
            ))),
            None => Ok(Decoded {
                value: stored,
                stale: false,
            }),
        }
    }

    /// Whether any transformer is configured.
    pub fn is_active(&self) -> bool {
        self.0.is_some()
    }
}

/// `provider aescbc, key k1` from an envelope's header, for error messages (never the data).
pub fn describe_envelope(stored: &[u8]) -> String {
    let header = stored
        .strip_prefix(ENCRYPTED_PREFIX)
        .unwrap_or_default()
        .splitn(4, |b| *b == b':')
        .take(3)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect::<Vec<_>>();
    match header.as_slice() {
        [provider, _version, key] => format!("provider {provider}, key {key:?}"),
        _ => "an unreadable envelope".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_values_without_a_configuration_are_refused() {
        let codec = Codec::default();
        let err = codec
            .decode_stored(
                "/registry/core/secrets/a/b",
                b"k8s:enc:aescbc:v1:k1:xyz".to_vec(),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("provider aescbc, key \"k1\""),
            "{err}"
        );
        let plain = codec.decode_stored("/k", b"{}".to_vec()).unwrap();
        assert_eq!(plain.value, b"{}");
        assert!(!plain.stale);
    }

    #[test]
    fn envelope_descriptions_never_show_data() {
        assert_eq!(
            describe_envelope(b"k8s:enc:aesgcm:v1:new:secret:bytes"),
            "provider aesgcm, key \"new\""
        );
        assert_eq!(describe_envelope(b"k8s:enc:"), "an unreadable envelope");
    }
}
