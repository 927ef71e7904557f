//! Private keys as Sprig generates, parses and writes them: RSA (PKCS#1), ECDSA (SEC1), Ed25519
//! (PKCS#8) and DSA (OpenSSL's `DSA PRIVATE KEY` sequence), plus the public-key and signing
//! pieces a certificate needs.

use rand_core::OsRng;
use rsa::traits::PublicKeyParts;

use super::der::{self, seq, tlv};

/// OIDs Go's `crypto/x509` writes.
const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const SHA256_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const ECDSA_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];
const ECDSA_SHA512: &[u64] = &[1, 2, 840, 10045, 4, 3, 4];
const ED25519: &[u64] = &[1, 3, 101, 112];
const P256_OID: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const P384_OID: &[u64] = &[1, 3, 132, 0, 34];
const P521_OID: &[u64] = &[1, 3, 132, 0, 35];

/// A private key of one of the kinds Sprig handles.
pub enum PrivateKey {
    /// RSA (`*rsa.PrivateKey`).
    Rsa(Box<rsa::RsaPrivateKey>),
    /// ECDSA on P-256.
    P256(p256::SecretKey),
    /// ECDSA on P-384.
    P384(p384::SecretKey),
    /// ECDSA on P-521.
    P521(p521::SecretKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// DSA: Sprig can generate and parse these but Go cannot sign certificates with them.
    /// Holds the DER of the `DSA PRIVATE KEY` block.
    Dsa(Vec<u8>),
}

/// Generates a key the way Sprig's `genPrivateKey` does; `Err` carries Sprig's message.
pub fn generate(kind: &str) -> Result<PrivateKey, String> {
    match kind {
        "" | "rsa" => {
            generate_rsa(4096).map_err(|e| format!("failed to generate private key: {e}"))
        }
        "ecdsa" => Ok(PrivateKey::P256(p256::SecretKey::random(&mut OsRng))),
        "ed25519" => Ok(PrivateKey::Ed25519(ed25519_dalek::SigningKey::generate(
            &mut OsRng,
        ))),
        "dsa" => Ok(generate_dsa()),
        other => Err(format!("Unknown type {other}")),
    }
}

/// A fresh RSA key of `bits` bits.
pub fn generate_rsa(bits: usize) -> Result<PrivateKey, String> {
    super::rsagen::generate(bits)
        .map(|k| PrivateKey::Rsa(Box::new(k)))
        .map_err(|e| e.to_string())
}

fn generate_dsa() -> PrivateKey {
    let components = dsa::Components::generate(&mut OsRng, dsa::KeySize::DSA_2048_256);
    let key = dsa::SigningKey::generate(&mut OsRng, components);
    let vk = key.verifying_key();
    let c = vk.components();
    let body = seq(&[
        &der::small_int(0),
        &der::uint(&c.p().to_bytes_be()),
        &der::uint(&c.q().to_bytes_be()),
        &der::uint(&c.g().to_bytes_be()),
        &der::uint(&vk.y().to_bytes_be()),
        &der::uint(&key.x().to_bytes_be()),
    ]);
    PrivateKey::Dsa(body)
}

/// SEC1 `ECPrivateKey` with the curve and public key, as Go's `x509.MarshalECPrivateKey`.
fn sec1(private: &[u8], curve: &[u64], public: &[u8]) -> Vec<u8> {
    seq(&[
        &der::small_int(1),
        &der::octets(private),
        &tlv(0xa0, &der::oid(curve)),
        &tlv(0xa1, &der::bit_string(public)),
    ])
}

impl PrivateKey {
    /// The PEM block Sprig's `pemBlockForKey` writes for this key.
    pub fn to_pem(&self) -> Result<String, String> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        Ok(match self {
            PrivateKey::Rsa(k) => {
                let d = k
                    .to_pkcs1_der()
                    .map_err(|e| format!("error pem-encoding key: {e}"))?;
                der::pem_encode("RSA PRIVATE KEY", d.as_bytes())
            }
            PrivateKey::P256(k) => der::pem_encode(
                "EC PRIVATE KEY",
                &sec1(&k.to_bytes(), P256_OID, &self.public_key_bits()),
            ),
            PrivateKey::P384(k) => der::pem_encode(
                "EC PRIVATE KEY",
                &sec1(&k.to_bytes(), P384_OID, &self.public_key_bits()),
            ),
            PrivateKey::P521(k) => der::pem_encode(
                "EC PRIVATE KEY",
                &sec1(&k.to_bytes(), P521_OID, &self.public_key_bits()),
            ),
            PrivateKey::Ed25519(k) => {
                // Go's MarshalPKCS8PrivateKey: version 0, no attributes, no public key.
                let body = seq(&[
                    &der::small_int(0),
                    &seq(&[&der::oid(ED25519)]),
                    &der::octets(&der::octets(k.as_bytes())),
                ]);
                der::pem_encode("PRIVATE KEY", &body)
            }
            PrivateKey::Dsa(d) => der::pem_encode("DSA PRIVATE KEY", d),
        })
    }

    /// The `subjectPublicKey` bits (what Go hashes for the subject key identifier).
    pub fn public_key_bits(&self) -> Vec<u8> {
        use rsa::pkcs1::EncodeRsaPublicKey;
        match self {
            PrivateKey::Rsa(k) => {
                let p = k.to_public_key();
                p.to_pkcs1_der()
                    .map(|d| d.as_bytes().to_vec())
                    .unwrap_or_else(|_| {
                        seq(&[
                            &der::uint(&p.n().to_bytes_be()),
                            &der::uint(&p.e().to_bytes_be()),
                        ])
                    })
            }
            PrivateKey::P256(k) => k.public_key().to_sec1_bytes().to_vec(),
            PrivateKey::P384(k) => k.public_key().to_sec1_bytes().to_vec(),
            PrivateKey::P521(k) => k.public_key().to_sec1_bytes().to_vec(),
            PrivateKey::Ed25519(k) => k.verifying_key().as_bytes().to_vec(),
            PrivateKey::Dsa(_) => Vec::new(),
        }
    }

    /// The `SubjectPublicKeyInfo` DER, as Go's `marshalPublicKey` writes it.
    pub fn spki(&self) -> Result<Vec<u8>, String> {
        let alg = match self {
            PrivateKey::Rsa(_) => seq(&[&der::oid(RSA_ENCRYPTION), &tlv(der::NULL, &[])]),
            PrivateKey::P256(_) => seq(&[&der::oid(EC_PUBLIC_KEY), &der::oid(P256_OID)]),
            PrivateKey::P384(_) => seq(&[&der::oid(EC_PUBLIC_KEY), &der::oid(P384_OID)]),
            PrivateKey::P521(_) => seq(&[&der::oid(EC_PUBLIC_KEY), &der::oid(P521_OID)]),
            PrivateKey::Ed25519(_) => seq(&[&der::oid(ED25519)]),
            PrivateKey::Dsa(_) => {
                return Err("x509: unsupported public key type: *dsa.PublicKey".into());
            }
        };
        Ok(seq(&[&alg, &der::bit_string(&self.public_key_bits())]))
    }

    /// The signature `AlgorithmIdentifier` Go picks for this key by default.
    pub fn signature_algorithm(&self) -> Result<Vec<u8>, String> {
        Ok(match self {
            PrivateKey::Rsa(_) => seq(&[&der::oid(SHA256_WITH_RSA), &tlv(der::NULL, &[])]),
            PrivateKey::P256(_) => seq(&[&der::oid(ECDSA_SHA256)]),
            PrivateKey::P384(_) => seq(&[&der::oid(ECDSA_SHA384)]),
            PrivateKey::P521(_) => seq(&[&der::oid(ECDSA_SHA512)]),
            PrivateKey::Ed25519(_) => seq(&[&der::oid(ED25519)]),
            PrivateKey::Dsa(_) => {
                return Err(
                    "x509: certificate private key does not implement crypto.Signer".into(),
                );
            }
        })
    }

    /// Signs `msg` with the hash Go pairs with this key (SHA-256 for RSA and P-256, SHA-384
    /// for P-384, SHA-512 for P-521, none for Ed25519).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        use p256::ecdsa::signature::Signer;
        use sha2::Digest;
        match self {
            PrivateKey::Rsa(k) => {
                let digest = sha2::Sha256::digest(msg);
                k.sign_with_rng(
                    &mut OsRng,
                    rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    &digest,
                )
                .map_err(|e| format!("x509: {e}"))
            }
            PrivateKey::P256(k) => {
                let sig: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k).sign(msg);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            PrivateKey::P384(k) => {
                let sig: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(k).sign(msg);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            PrivateKey::P521(k) => {
                let sk = p521::ecdsa::SigningKey::from_bytes(&k.to_bytes())
                    .map_err(|e| format!("x509: {e}"))?;
                let sig: p521::ecdsa::Signature = sk.sign(msg);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            PrivateKey::Ed25519(k) => Ok(k.sign(msg).to_bytes().to_vec()),
            PrivateKey::Dsa(_) => {
                Err("x509: certificate private key does not implement crypto.Signer".into())
            }
        }
    }
}

/// Sprig's `parsePrivateKeyPEM`: the first PEM block as a private key, with Sprig's errors.
pub fn parse_pem(text: &str) -> Result<PrivateKey, String> {
    let Some((label, bytes)) = der::pem_decode(text) else {
        return Err("no PEM data in input".into());
    };
    if label == "PRIVATE KEY" {
        return parse_pkcs8(&bytes).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
    }
    let Some(kind) = label.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {label}"));
    };
    match kind {
        "RSA" => parse_pkcs1(&bytes).map_err(|e| format!("parsing RSA private key from PEM: {e}")),
        "EC" => {
            parse_sec1(&bytes, None).map_err(|e| format!("parsing EC private key from PEM: {e}"))
        }
        "DSA" => {
            let ok = der::read_tlv(&bytes).is_some_and(|(tag, body, _)| {
                let mut n = 0;
                let mut rest = body;
                while let Some((t, _, r)) = der::read_tlv(rest) {
                    if t != der::INTEGER {
                        return false;
                    }
                    n += 1;
                    rest = r;
                }
                tag == der::SEQUENCE && n == 6 && rest.is_empty()
            });
            if ok {
                Ok(PrivateKey::Dsa(bytes))
            } else {
                Err("parsing DSA private key from PEM: asn1: structure error".into())
            }
        }
        _ => Err(format!("invalid private key type {label}")),
    }
}

fn parse_pkcs1(der_bytes: &[u8]) -> Result<PrivateKey, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs1_der(der_bytes).map_err(|_| {
        "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)"
            .to_string()
    })?;
    key.validate()
        .map_err(|e| format!("crypto/rsa: invalid private key: {e}"))?;
    Ok(PrivateKey::Rsa(Box::new(key)))
}

fn ec_from_scalar(curve: &[u8], scalar: &[u8]) -> Result<PrivateKey, String> {
    let bad = |_| "x509: invalid elliptic curve private key value".to_string();
    if curve == der::oid(P256_OID).as_slice() {
        p256::SecretKey::from_slice(scalar)
            .map(PrivateKey::P256)
            .map_err(bad)
    } else if curve == der::oid(P384_OID).as_slice() {
        p384::SecretKey::from_slice(scalar)
            .map(PrivateKey::P384)
            .map_err(bad)
    } else if curve == der::oid(P521_OID).as_slice() {
        p521::SecretKey::from_slice(scalar)
            .map(PrivateKey::P521)
            .map_err(bad)
    } else {
        Err("x509: unknown elliptic curve".into())
    }
}

/// A SEC1 `ECPrivateKey`; `curve` is the OID TLV from a PKCS#8 wrapper, if any.
fn parse_sec1(der_bytes: &[u8], curve: Option<&[u8]>) -> Result<PrivateKey, String> {
    let malformed = || "x509: failed to parse EC private key: asn1: structure error".to_string();
    let (tag, body, _) = der::read_tlv(der_bytes).ok_or_else(malformed)?;
    if tag != der::SEQUENCE {
        return Err(malformed());
    }
    let (t, version, rest) = der::read_tlv(body).ok_or_else(malformed)?;
    if t != der::INTEGER || version != [1] {
        return Err(format!(
            "x509: unknown EC private key version {}",
            version.first().copied().unwrap_or(0)
        ));
    }
    let (t, scalar, mut rest) = der::read_tlv(rest).ok_or_else(malformed)?;
    if t != der::OCTET_STRING {
        return Err(malformed());
    }
    let mut named: Option<Vec<u8>> = curve.map(<[u8]>::to_vec);
    while let Some((t, inner, r)) = der::read_tlv(rest) {
        if t == 0xa0 && named.is_none() {
            named = Some(inner.to_vec());
        }
        rest = r;
    }
    let named = named.ok_or_else(|| "x509: unknown elliptic curve".to_string())?;
    ec_from_scalar(&named, scalar)
}

fn parse_pkcs8(der_bytes: &[u8]) -> Result<PrivateKey, String> {
    let malformed = || "asn1: structure error".to_string();
    let (tag, body, _) = der::read_tlv(der_bytes).ok_or_else(malformed)?;
    if tag != der::SEQUENCE {
        return Err(malformed());
    }
    let (_, _version, rest) = der::read_tlv(body).ok_or_else(malformed)?;
    let (t, alg, rest) = der::read_tlv(rest).ok_or_else(malformed)?;
    if t != der::SEQUENCE {
        return Err(malformed());
    }
    let (t, inner, _) = der::read_tlv(rest).ok_or_else(malformed)?;
    if t != der::OCTET_STRING {
        return Err(malformed());
    }
    let (_, oid_body, params) = der::read_tlv(alg).ok_or_else(malformed)?;
    let oid_tlv = tlv(der::OID, oid_body);
    if oid_tlv == der::oid(RSA_ENCRYPTION) {
        parse_pkcs1(inner)
            .map_err(|e| format!("x509: failed to parse RSA private key embedded in PKCS#8: {e}"))
    } else if oid_tlv == der::oid(EC_PUBLIC_KEY) {
        let curve = der::read_tlv(params)
            .filter(|(t, _, _)| *t == der::OID)
            .map(|(_, b, _)| tlv(der::OID, b))
            .ok_or_else(|| "x509: unknown elliptic curve".to_string())?;
        parse_sec1(inner, Some(&curve))
            .map_err(|e| format!("x509: failed to parse EC private key embedded in PKCS#8: {e}"))
    } else if oid_tlv == der::oid(ED25519) {
        let seed = der::read_tlv(inner)
            .filter(|(t, b, _)| *t == der::OCTET_STRING && b.len() == 32)
            .map(|(_, b, _)| b)
            .ok_or_else(|| "x509: invalid Ed25519 private key".to_string())?;
        let mut s = [0u8; 32];
        s.copy_from_slice(seed);
        Ok(PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
            &s,
        )))
    } else {
        Err(format!(
            "x509: PKCS#8 wrapping contained private key with unknown algorithm: {}",
            oid_string(oid_body)
        ))
    }
}

/// Dotted form of an OID body, for error messages.
fn oid_string(body: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for b in body {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_and_ed25519_keys_round_trip_through_pem() {
        for kind in ["ecdsa", "ed25519"] {
            let k = generate(kind).unwrap_or_else(|e| panic!("{e}"));
            let pem = k.to_pem().unwrap_or_default();
            let back = parse_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back.public_key_bits(), k.public_key_bits(), "{kind}");
            assert_eq!(back.to_pem().unwrap_or_default(), pem, "{kind}");
        }
    }

    #[test]
    fn pem_labels_are_sprigs() {
        let ec = generate("ecdsa")
            .and_then(|k| k.to_pem())
            .unwrap_or_default();
        assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        let ed = generate("ed25519")
            .and_then(|k| k.to_pem())
            .unwrap_or_default();
        assert!(ed.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(matches!(generate("bad"), Err(e) if e == "Unknown type bad"));
    }

    #[test]
    fn parse_errors_match_sprig() {
        assert!(matches!(parse_pem("x"), Err(e) if e == "no PEM data in input"));
        let cert = der::pem_encode("CERTIFICATE", &[1, 2]);
        assert!(
            matches!(parse_pem(&cert), Err(e) if e == "no private key data in PEM block of type CERTIFICATE")
        );
        let other = der::pem_encode("FOO PRIVATE KEY", &[1, 2]);
        assert!(
            matches!(parse_pem(&other), Err(e) if e == "invalid private key type FOO PRIVATE KEY")
        );
        assert_eq!(oid_string(&der::oid(P521_OID)[2..]), "1.3.132.0.35");
    }
}
