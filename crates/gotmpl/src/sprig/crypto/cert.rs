//! X.509 certificates the way Sprig's `getBaseCertTemplate` + Go's `x509.CreateCertificate`
//! build them: the same fields, extensions, extension order and encodings.

use std::net::IpAddr;

use super::der::{self, seq, tlv};
use super::keys::PrivateKey;

const OID_CN: &[u64] = &[2, 5, 4, 3];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_SUBJECT_KEY_ID: &[u64] = &[2, 5, 29, 14];
const OID_AUTHORITY_KEY_ID: &[u64] = &[2, 5, 29, 35];
const OID_SAN: &[u64] = &[2, 5, 29, 17];
const OID_SERVER_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 1];
const OID_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];

/// Go's `x509.KeyUsage` bits used by Sprig.
const KU_DIGITAL_SIGNATURE: u16 = 1;
const KU_KEY_ENCIPHERMENT: u16 = 1 << 2;
const KU_CERT_SIGN: u16 = 1 << 5;

/// What Sprig puts in a certificate template.
pub struct Template {
    /// Subject common name.
    pub cn: String,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
    /// DNS SANs.
    pub dns: Vec<String>,
    /// Validity in days from now.
    pub days: i64,
    /// A CA certificate (`genCA`): adds `CertSign` and `IsCA`.
    pub is_ca: bool,
}

/// The parts of a parsed CA certificate that signing with it needs.
pub struct Parent {
    /// The raw subject `Name` (becomes the issuer).
    subject: Vec<u8>,
    /// Its subject key identifier, if it has one (becomes the authority key identifier).
    subject_key_id: Option<Vec<u8>>,
    /// Its public key bits, to check the CA key matches.
    public_key_bits: Vec<u8>,
}

/// Go's `pkix.Name{CommonName: cn}` marshalled (an empty sequence for an empty name).
fn subject_name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return seq(&[]);
    }
    let atv = seq(&[&der::oid(OID_CN), &der::directory_string(cn)]);
    seq(&[&tlv(der::SET, &atv)])
}

/// Go's `marshalKeyUsage`: bits reversed per byte, trailing zero bits counted as unused.
fn key_usage(ku: u16) -> Vec<u8> {
    let a = [(ku as u8).reverse_bits(), ((ku >> 8) as u8).reverse_bits()];
    let bytes = if a[1] != 0 { &a[..] } else { &a[..1] };
    let last = bytes[bytes.len() - 1];
    let unused = if last == 0 {
        0
    } else {
        last.trailing_zeros() as u8
    };
    let mut v = vec![unused];
    v.extend_from_slice(bytes);
    tlv(der::BIT_STRING, &v)
}

fn extension(oid: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        seq(&[
            &der::oid(oid),
            &tlv(der::BOOLEAN, &[0xff]),
            &der::octets(value),
        ])
    } else {
        seq(&[&der::oid(oid), &der::octets(value)])
    }
}

/// Go's `net.IP` in a SAN: 4 bytes for IPv4 (and IPv4-mapped IPv6), else 16.
fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        },
    }
}

/// Go's `net.ParseIP` (IPv4, IPv6, IPv4-mapped; no zones).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok()
}

/// Parses the PEM certificate Sprig's `genSignedCert` gets as its CA, with Sprig's errors.
pub fn parse_parent(pem: &str) -> Result<Parent, String> {
    let Some((_, der_bytes)) = der::pem_decode(pem) else {
        return Err("unable to decode certificate".into());
    };
    let cert = parse_certificate(&der_bytes)
        .map_err(|e| format!("error parsing certificate: decodedSignerCert.Bytes: {e}"))?;
    Ok(cert)
}

/// Go's `x509.ParseCertificate`, keeping what signing needs.
pub fn parse_certificate(der_bytes: &[u8]) -> Result<Parent, String> {
    use x509_parser::extensions::ParsedExtension;
    let (_, cert) = x509_parser::parse_x509_certificate(der_bytes)
        .map_err(|_| "x509: malformed certificate".to_string())?;
    let subject_key_id = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    Ok(Parent {
        subject: cert.tbs_certificate.subject.as_raw().to_vec(),
        subject_key_id,
        public_key_bits: cert.public_key().subject_public_key.data.to_vec(),
    })
}

fn random_serial() -> Vec<u8> {
    // rand.Int(rand.Reader, 2^128): 16 random bytes as a non-negative integer.
    der::uint(&super::super::random::bytes(16))
}

/// Creates and signs a certificate for `key`, self-signed when `parent` is `None`; returns the
/// certificate and key PEM, with Go's `x509: ...` errors.
pub fn create(
    t: &Template,
    key: &PrivateKey,
    parent: Option<(&Parent, &PrivateKey)>,
) -> Result<(String, String), String> {
    let signer = parent.map(|(_, k)| k).unwrap_or(key);
    let sig_alg = signer.signature_algorithm()?;
    let spki = key.spki()?;
    let subject = subject_name(&t.cn);
    let issuer = parent
        .map(|(p, _)| p.subject.clone())
        .unwrap_or_else(|| subject.clone());

    let authority_key_id = match parent {
        Some((p, _)) if issuer != subject => p.subject_key_id.clone(),
        _ => None,
    };
    let subject_key_id = t.is_ca.then(|| {
        use sha2::Digest;
        // Go 1.25+: leftmost 160 bits of SHA-256 of the public key bits (RFC 7093 method 1).
        sha2::Sha256::digest(key.public_key_bits())[..20].to_vec()
    });
    if let Some((p, k)) = parent
        && p.public_key_bits != k.public_key_bits()
    {
        return Err("x509: provided PrivateKey doesn't match parent's PublicKey".into());
    }

    let mut exts: Vec<Vec<u8>> = Vec::new();
    let mut ku = KU_KEY_ENCIPHERMENT | KU_DIGITAL_SIGNATURE;
    if t.is_ca {
        ku |= KU_CERT_SIGN;
    }
    exts.push(extension(OID_KEY_USAGE, true, &key_usage(ku)));
    exts.push(extension(
        OID_EXT_KEY_USAGE,
        false,
        &seq(&[&der::oid(OID_SERVER_AUTH), &der::oid(OID_CLIENT_AUTH)]),
    ));
    let bc = if t.is_ca {
        seq(&[&tlv(der::BOOLEAN, &[0xff])])
    } else {
        seq(&[])
    };
    exts.push(extension(OID_BASIC_CONSTRAINTS, true, &bc));
    if let Some(ski) = &subject_key_id {
        exts.push(extension(OID_SUBJECT_KEY_ID, false, &der::octets(ski)));
    }
    if let Some(aki) = &authority_key_id {
        exts.push(extension(
            OID_AUTHORITY_KEY_ID,
            false,
            &seq(&[&tlv(0x80, aki)]),
        ));
    }
    if !t.dns.is_empty() || !t.ips.is_empty() {
        let mut names: Vec<u8> = Vec::new();
        for d in &t.dns {
            if !d.is_ascii() {
                return Err(format!(
                    "x509: {} cannot be encoded as an IA5String",
                    crate::gofmt::quote(d)
                ));
            }
            names.extend(tlv(0x82, d.as_bytes()));
        }
        for ip in &t.ips {
            names.extend(tlv(0x87, &ip_bytes(ip)));
        }
        let empty_subject = subject == seq(&[]);
        exts.push(extension(
            OID_SAN,
            empty_subject,
            &tlv(der::SEQUENCE, &names),
        ));
    }

    let now = chrono::Utc::now();
    // time.Duration(days) * 24h wraps around in Go's int64 nanoseconds.
    let nanos = t.days.wrapping_mul(24 * 3600 * 1_000_000_000);
    let not_after = now + chrono::Duration::nanoseconds(nanos);
    let validity = seq(&[&der::time(now), &der::time(not_after)]);

    let ext_refs: Vec<&[u8]> = exts.iter().map(Vec::as_slice).collect();
    let tbs = seq(&[
        &tlv(0xa0, &der::small_int(2)),
        &random_serial(),
        &sig_alg,
        &issuer,
        &validity,
        &subject,
        &spki,
        &tlv(0xa3, &seq(&ext_refs)),
    ]);
    let signature = signer.sign(&tbs)?;
    let cert = seq(&[&tbs, &sig_alg, &der::bit_string(&signature)]);
    let key_pem = key.to_pem()?;
    Ok((der::pem_encode("CERTIFICATE", &cert), key_pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_bits_match_go() {
        // DigitalSignature|KeyEncipherment and with CertSign, as Go marshals them.
        assert_eq!(
            key_usage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT),
            [3, 2, 5, 0xa0]
        );
        assert_eq!(
            key_usage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_CERT_SIGN),
            [3, 2, 2, 0xa4]
        );
    }

    #[test]
    fn names_and_ips_encode_like_go() {
        assert_eq!(subject_name(""), [0x30, 0]);
        assert_eq!(
            subject_name("a"),
            [
                0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 6, 3, 0x55, 4, 3, 0x13, 1, b'a'
            ]
        );
        let mapped = parse_ip("::ffff:10.0.0.1").map(|i| ip_bytes(&i));
        assert_eq!(mapped, Some(vec![10, 0, 0, 1]));
        assert_eq!(parse_ip("::1").map(|i| ip_bytes(&i).len()), Some(16));
        assert!(parse_ip("1.2.3").is_none());
        assert!(parse_ip("01.2.3.4").is_none());
    }
}
