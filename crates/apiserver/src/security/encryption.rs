//! Encryption at rest, configured as kube-apiserver's `EncryptionConfiguration`
//! (`--encryption-provider-config`).
//!
//! ```yaml
//! apiVersion: apiserver.config.k8s.io/v1
//! kind: EncryptionConfiguration
//! resources:
//!   - resources: [secrets]
//!     providers:
//!       - aesgcm: {keys: [{name: key2, secret: <base64 of 32 bytes>}]}
//!       - aescbc: {keys: [{name: key1, secret: <base64 of 32 bytes>}]}
//!       - identity: {}
//! ```
//!
//! For each resource the first provider (and its first key) encrypts; every provider and key
//! listed decrypts. Values are stored as kube-apiserver stores them:
//! `k8s:enc:<provider>:v1:<key name>:` followed by the ciphertext — for `aescbc` a random
//! 16-byte IV and AES-CBC with PKCS#7 padding, for `aesgcm` a random 12-byte nonce and AES-GCM
//! whose tag also covers the object's storage key (so a value cannot be moved to another
//! key), for `secretbox` a random 24-byte nonce and XSalsa20-Poly1305. `identity` stores
//! plaintext. The store applies this only to what it writes to its file: memory, watchers and
//! clients see plaintext.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use rand::Rng;
use serde::Deserialize;
use store::{Decoded, StoreError, ValueTransformer};

use crate::registry::keys;

/// Why an encryption configuration was refused.
#[derive(Debug, thiserror::Error)]
#[error("encryption configuration {path}: {message}")]
pub struct ConfigError {
    path: String,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileConfig {
    api_version: String,
    kind: String,
    #[serde(default)]
    resources: Vec<FileResources>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileResources {
    resources: Vec<String>,
    providers: Vec<FileProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    aescbc: Option<FileKeys>,
    aesgcm: Option<FileKeys>,
    secretbox: Option<FileKeys>,
    identity: Option<serde_json::Value>,
    kms: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKeys {
    keys: Vec<FileKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    name: String,
    secret: String,
}

/// One AES or XSalsa20 key.
#[derive(Clone)]
enum Cipher {
    Cbc128([u8; 16]),
    Cbc192([u8; 24]),
    Cbc256([u8; 32]),
    Gcm128(Box<aes_gcm::Aes128Gcm>),
    Gcm192(Box<aes_gcm::AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>>),
    Gcm256(Box<aes_gcm::Aes256Gcm>),
    Secretbox(Box<crypto_secretbox::XSalsa20Poly1305>),
}

/// A named key of a provider.
#[derive(Clone)]
struct Key {
    name: String,
    cipher: Cipher,
}

/// One entry of a resource's provider list.
#[derive(Clone)]
enum Provider {
    Identity,
    Keys {
        /// `aescbc`, `aesgcm` or `secretbox`.
        kind: &'static str,
        keys: Vec<Key>,
    },
}

/// The providers of the objects under one key prefix.
#[derive(Clone)]
struct Rule {
    /// The resource as written in the file, for messages.
    resource: String,
    prefix: String,
    providers: Vec<Provider>,
}

/// A parsed `EncryptionConfiguration`: the store's value transformer.
#[derive(Clone)]
pub struct EncryptionConfig {
    rules: Vec<Rule>,
}

impl std::fmt::Debug for EncryptionConfig {
    // Never the key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|r| &r.resource))
            .finish()
    }
}

impl EncryptionConfig {
    /// Reads and checks an `EncryptionConfiguration` file.
    pub fn load(path: &Path) -> Result<EncryptionConfig, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        Self::parse(&bytes).map_err(err)
    }

    /// Parses an `EncryptionConfiguration` document (YAML or JSON).
    pub fn parse(bytes: &[u8]) -> Result<EncryptionConfig, String> {
        let value = apimachinery::yaml::decode(bytes)?;
        let file: FileConfig = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if file.api_version != "apiserver.config.k8s.io/v1"
            || file.kind != "EncryptionConfiguration"
        {
            return Err(format!(
                "expected apiVersion apiserver.config.k8s.io/v1 and kind EncryptionConfiguration, \
                 found {} {}",
                file.api_version, file.kind
            ));
        }
        let mut rules = Vec::new();
        for (i, entry) in file.resources.iter().enumerate() {
            if entry.providers.is_empty() {
                return Err(format!("resources[{i}] lists no providers"));
            }
            let mut providers = Vec::new();
            for (j, p) in entry.providers.iter().enumerate() {
                providers
                    .push(provider(p).map_err(|e| format!("resources[{i}].providers[{j}]: {e}"))?);
            }
            for resource in &entry.resources {
                let prefix = resource_prefix(resource).ok_or_else(|| {
                    format!("resources[{i}]: {resource:?} is not a resource name")
                })?;
                if rules.iter().any(|r: &Rule| r.prefix == prefix) {
                    return Err(format!("{resource:?} is listed twice"));
                }
                rules.push(Rule {
                    resource: resource.clone(),
                    prefix,
                    providers: providers.clone(),
                });
            }
        }
        Ok(EncryptionConfig { rules })
    }

    /// The rule of a key: the first entry whose resource matches, as kube-apiserver does.
    fn rule(&self, key: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| key.starts_with(&r.prefix))
    }

    /// Every key of every provider of this `kind` named `name`, the key's own rule first.
    fn find_key(&self, storage_key: &str, kind: &str, name: &str) -> Option<&Cipher> {
        let own = self.rule(storage_key).into_iter();
        own.chain(self.rules.iter())
            .flat_map(|r| r.providers.iter())
            .find_map(|p| match p {
                Provider::Keys { kind: k, keys } if *k == kind => keys
                    .iter()
                    .find(|key| key.name == name)
                    .map(|key| &key.cipher),
                _ => None,
            })
    }
}

/// kube-apiserver's resource names: `secrets` (core), `deployments.apps`, `*.apps` (a whole
/// group), `*.` (the core group), `*.*` (everything).
fn resource_prefix(resource: &str) -> Option<String> {
    let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    match (plural, group) {
        ("*", _) if !resource.contains('.') => None,
        ("*", "*") => Some(keys::ROOT.to_string()),
        ("*", g) => {
            let group = if g.is_empty() { "core" } else { g };
            valid(group).then(|| format!("{}{group}/", keys::ROOT))
        }
        (p, g) if valid(p) && (g.is_empty() || valid(g)) => Some(keys::prefix(g, p)),
        _ => None,
    }
}

fn provider(p: &FileProvider) -> Result<Provider, String> {
    let set = [
        p.aescbc.is_some(),
        p.aesgcm.is_some(),
        p.secretbox.is_some(),
        p.identity.is_some(),
        p.kms.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err("exactly one of aescbc, aesgcm, secretbox, identity must be set".into());
    }
    if p.kms.is_some() {
        return Err("kms providers are not supported; use aescbc, aesgcm or secretbox".into());
    }
    if p.identity.is_some() {
        return Ok(Provider::Identity);
    }
    let (kind, file_keys) = match (&p.aescbc, &p.aesgcm, &p.secretbox) {
        (Some(k), _, _) => ("aescbc", k),
        (_, Some(k), _) => ("aesgcm", k),
        (_, _, Some(k)) => ("secretbox", k),
        _ => return Err("no provider".into()),
    };
    if file_keys.keys.is_empty() {
        return Err(format!("{kind} lists no keys"));
    }
    let mut keys = Vec::new();
    for k in &file_keys.keys {
        if k.name.is_empty() || k.name.contains(':') {
            return Err(format!(
                "{kind} key name {:?} must be non-empty without ':'",
                k.name
            ));
        }
        if keys.iter().any(|existing: &Key| existing.name == k.name) {
            return Err(format!("{kind} key {:?} is listed twice", k.name));
        }
        let secret = base64::engine::general_purpose::STANDARD
            .decode(k.secret.trim())
            .map_err(|_| format!("{kind} key {:?}: the secret is not base64", k.name))?;
        let cipher = cipher(kind, &secret).ok_or_else(|| {
            format!(
                "{kind} key {:?} is {} bytes; {kind} takes {}",
                k.name,
                secret.len(),
                if kind == "secretbox" {
                    "32"
                } else {
                    "16, 24 or 32"
                }
            )
        })?;
        keys.push(Key {
            name: k.name.clone(),
            cipher,
        });
    }
    Ok(Provider::Keys { kind, keys })
}

fn cipher(kind: &str, secret: &[u8]) -> Option<Cipher> {
    Some(match (kind, secret.len()) {
        ("aescbc", 16) => Cipher::Cbc128(secret.try_into().ok()?),
        ("aescbc", 24) => Cipher::Cbc192(secret.try_into().ok()?),
        ("aescbc", 32) => Cipher::Cbc256(secret.try_into().ok()?),
        ("aesgcm", 16) => {
            Cipher::Gcm128(Box::new(aes_gcm::Aes128Gcm::new_from_slice(secret).ok()?))
        }
        ("aesgcm", 24) => Cipher::Gcm192(Box::new(aes_gcm::AesGcm::new_from_slice(secret).ok()?)),
        ("aesgcm", 32) => {
            Cipher::Gcm256(Box::new(aes_gcm::Aes256Gcm::new_from_slice(secret).ok()?))
        }
        ("secretbox", 32) => Cipher::Secretbox(Box::new(
            crypto_secretbox::XSalsa20Poly1305::new_from_slice(secret).ok()?,
        )),
        _ => return None,
    })
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill(&mut bytes[..]);
    bytes
}

fn fail(what: &str) -> StoreError {
    StoreError::Backend(what.to_string())
}

impl Cipher {
    fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        fn cbc<C>(key: &[u8], plain: &[u8]) -> Vec<u8>
        where
            cbc::Encryptor<C>: KeyIvInit + BlockEncryptMut,
            C: cbc::cipher::BlockCipher + cbc::cipher::BlockEncryptMut,
        {
            let iv = random::<16>();
            let mut out = iv.to_vec();
            let enc = cbc::Encryptor::<C>::new_from_slices(key, &iv).ok();
            if let Some(enc) = enc {
                out.extend(enc.encrypt_padded_vec_mut::<Pkcs7>(plain));
            }
            out
        }
        let gcm = |sealed: Result<Vec<u8>, aes_gcm::Error>, nonce: [u8; 12]| {
            let mut out = nonce.to_vec();
            out.extend(sealed.map_err(|_| fail("AES-GCM encryption failed"))?);
            Ok::<_, StoreError>(out)
        };
        let payload = Payload { msg: plain, aad };
        match self {
            Cipher::Cbc128(k) => Ok(cbc::<aes::Aes128>(k, plain)),
            Cipher::Cbc192(k) => Ok(cbc::<aes::Aes192>(k, plain)),
            Cipher::Cbc256(k) => Ok(cbc::<aes::Aes256>(k, plain)),
            Cipher::Gcm128(c) => {
                let n = random::<12>();
                gcm(c.encrypt((&n).into(), payload), n)
            }
            Cipher::Gcm192(c) => {
                let n = random::<12>();
                gcm(c.encrypt((&n).into(), payload), n)
            }
            Cipher::Gcm256(c) => {
                let n = random::<12>();
                gcm(c.encrypt((&n).into(), payload), n)
            }
            Cipher::Secretbox(c) => {
                let n = random::<24>();
                let mut out = n.to_vec();
                out.extend(
                    c.encrypt((&n).into(), plain)
                        .map_err(|_| fail("secretbox encryption failed"))?,
                );
                Ok(out)
            }
        }
    }

    fn open(&self, aad: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        fn cbc<C>(key: &[u8], data: &[u8]) -> Option<Vec<u8>>
        where
            cbc::Decryptor<C>: KeyIvInit + BlockDecryptMut,
            C: cbc::cipher::BlockCipher + cbc::cipher::BlockDecryptMut,
        {
            let (iv, body) = (data.get(..16)?, data.get(16..)?);
            cbc::Decryptor::<C>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_vec_mut::<Pkcs7>(body)
                .ok()
        }
        match self {
            Cipher::Cbc128(k) => cbc::<aes::Aes128>(k, data),
            Cipher::Cbc192(k) => cbc::<aes::Aes192>(k, data),
            Cipher::Cbc256(k) => cbc::<aes::Aes256>(k, data),
            Cipher::Gcm128(c) => {
                let (n, body) = (data.get(..12)?, data.get(12..)?);
                c.decrypt(n.into(), Payload { msg: body, aad }).ok()
            }
            Cipher::Gcm192(c) => {
                let (n, body) = (data.get(..12)?, data.get(12..)?);
                c.decrypt(n.into(), Payload { msg: body, aad }).ok()
            }
            Cipher::Gcm256(c) => {
                let (n, body) = (data.get(..12)?, data.get(12..)?);
                c.decrypt(n.into(), Payload { msg: body, aad }).ok()
            }
            Cipher::Secretbox(c) => {
                let (n, body) = (data.get(..24)?, data.get(24..)?);
                c.decrypt(n.into(), body).ok()
            }
        }
    }
}

impl ValueTransformer for EncryptionConfig {
    fn covers(&self, key: &str) -> bool {
        matches!(
            self.rule(key).and_then(|r| r.providers.first()),
            Some(Provider::Keys { .. })
        )
    }

    fn encode(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let Some(Provider::Keys { kind, keys }) = self.rule(key).and_then(|r| r.providers.first())
        else {
            return Ok(value.to_vec());
        };
        let Some(first) = keys.first() else {
            return Err(fail("an encryption provider without keys"));
        };
        let mut out = format!("k8s:enc:{kind}:v1:{}:", first.name).into_bytes();
        out.extend(first.cipher.seal(key.as_bytes(), value)?);
        Ok(out)
    }

    fn decode(&self, key: &str, stored: &[u8]) -> Result<Decoded, StoreError> {
        let Some(rest) = stored.strip_prefix(store::ENCRYPTED_PREFIX) else {
            return Ok(Decoded {
                value: stored.to_vec(),
                stale: self.covers(key),
            });
        };
        let mut parts = rest.splitn(4, |b| *b == b':');
        let (Some(kind), Some(b"v1"), Some(name), Some(data)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail(&format!(
                "the stored value of {key} has an unreadable encryption envelope"
            )));
        };
        let (kind, name) = (String::from_utf8_lossy(kind), String::from_utf8_lossy(name));
        let cipher = self.find_key(key, &kind, &name).ok_or_else(|| {
            fail(&format!(
                "cannot decrypt the stored value of {key}: it was encrypted with {}, which the \
                 encryption configuration does not list; add that key back (any position after \
                 the first) until a rewrite has re-encrypted everything",
                store::describe_envelope(stored)
            ))
        })?;
        let value = cipher.open(key.as_bytes(), data).ok_or_else(|| {
            fail(&format!(
                "cannot decrypt the stored value of {key} with {}: the key's secret differs from \
                 the one that encrypted it, or the data is damaged",
                store::describe_envelope(stored)
            ))
        })?;
        let current = match self.rule(key).and_then(|r| r.providers.first()) {
            Some(Provider::Keys { kind: k, keys }) => {
                *k == kind && keys.first().is_some_and(|f| f.name == name)
            }
            _ => false,
        };
        Ok(Decoded {
            value,
            stale: !current,
        })
    }
}

#[cfg(test)]
mod tests;
