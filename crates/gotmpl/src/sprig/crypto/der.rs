//! The few DER and PEM encodings Sprig's certificate functions need, written the way Go's
//! `encoding/asn1` and `encoding/pem` write them.

use base64::Engine;

/// DER tags used here.
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const BOOLEAN: u8 = 0x01;

/// A DER TLV with the given tag around `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// An INTEGER from big-endian unsigned magnitude bytes (minimal, with a 0 pad if needed).
pub fn uint(be: &[u8]) -> Vec<u8> {
    let skip = be
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(be.len().saturating_sub(1));
    let mut v = be[skip..].to_vec();
    if v.is_empty() {
        v.push(0);
    }
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(INTEGER, &v)
}

/// A small non-negative INTEGER.
pub fn small_int(i: u64) -> Vec<u8> {
    uint(&i.to_be_bytes())
}

/// An OBJECT IDENTIFIER from its dotted arcs.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        body.extend(tmp);
    };
    push(first);
    for a in arcs.iter().skip(2) {
        push(*a);
    }
    tlv(OID, &body)
}

/// A BIT STRING with no unused bits.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.push(0);
    v.extend_from_slice(bytes);
    tlv(BIT_STRING, &v)
}

/// An OCTET STRING.
pub fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, bytes)
}

/// A string the way Go's `encoding/asn1` marshals an untagged `string` inside a `pkix.Name`:
/// PrintableString when every character allows it, UTF8String otherwise.
pub fn directory_string(s: &str) -> Vec<u8> {
    let printable = s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\''
                    | b'('
                    | b')'
                    | b'+'
                    | b','
                    | b'-'
                    | b'.'
                    | b'/'
                    | b':'
                    | b'='
                    | b'?'
                    | b'*'
                    | b'&'
            )
    });
    tlv(if printable { 0x13 } else { 0x0c }, s.as_bytes())
}

/// A UTCTime or GeneralizedTime, as Go chooses between them (UTCTime for 1950..2050).
pub fn time(t: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    use chrono::Datelike;
    let year = t.year();
    if (1950..2050).contains(&year) {
        tlv(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes())
    } else {
        tlv(0x18, t.format("%Y%m%d%H%M%SZ").to_string().as_bytes())
    }
}

/// Reads one TLV from the front of `input`: (tag, content, rest).
pub fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Go's `pem.EncodeToMemory` of one block without headers.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Go's `pem.Decode`: the first well-formed block in `text` as (type, bytes), or `None`.
pub fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let mut rest = text;
    while let Some(i) = rest.find("-----BEGIN ") {
        let after = &rest[i + "-----BEGIN ".len()..];
        rest = after;
        let end_label = after.find("-----")?;
        let label = &after[..end_label];
        // The BEGIN line must end right after its dashes.
        let body_start = &after[end_label + 5..];
        let Some(body_start) = body_start
            .strip_prefix("\r\n")
            .or_else(|| body_start.strip_prefix('\n'))
            .or_else(|| body_start.is_empty().then_some(body_start))
        else {
            continue;
        };
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            continue;
        };
        let body = &body_start[..end];
        // Headers ("Proc-Type: ...") come first and end at a blank line.
        let body = if body.lines().next().is_some_and(|l| l.contains(':')) {
            match body.find("\n\n").or_else(|| body.find("\r\n\r\n")) {
                Some(j) => &body[j..],
                None => continue,
            }
        } else {
            body
        };
        let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(bytes) => return Some((label.to_string(), bytes)),
            Err(_) => continue,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_go_asn1() {
        assert_eq!(small_int(0), vec![2, 1, 0]);
        assert_eq!(small_int(128), vec![2, 2, 0, 128]);
        assert_eq!(uint(&[0, 0, 1]), vec![2, 1, 1]);
        assert_eq!(oid(&[2, 5, 4, 3]), vec![6, 3, 0x55, 4, 3]);
        assert_eq!(
            oid(&[1, 2, 840, 113549, 1, 1, 11]),
            vec![6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11]
        );
        assert_eq!(tlv(4, &[0; 200])[..3], [4, 0x81, 200]);
        assert_eq!(tlv(4, &[0; 300])[..4], [4, 0x82, 1, 44]);
        assert_eq!(directory_string("a.b")[0], 0x13);
        assert_eq!(directory_string("a_b")[0], 0x0c);
    }

    #[test]
    fn pem_round_trip_and_leading_text() {
        let der: Vec<u8> = (0..100u8).collect();
        let p = pem_encode("CERTIFICATE", &der);
        assert!(p.lines().all(|l| l.len() <= 64));
        let (label, back) = pem_decode(&format!("junk\n{p}trailer")).unwrap_or_default();
        assert_eq!(label, "CERTIFICATE");
        assert_eq!(back, der);
        assert!(pem_decode("no pem here").is_none());
        assert!(pem_decode("-----BEGIN X-----\n!!!\n-----END X-----\n").is_none());
    }
}
