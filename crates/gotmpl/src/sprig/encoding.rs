//! Sprig's encodings and hashes: base64 and base32 as Go writes and reads them, SHA sums and
//! Adler-32.

use base64::Engine;

use crate::funcs::FuncMap;

use super::s1;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adler-32 checksum.
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// Go's `base64.StdEncoding.DecodeString`: `\r` and `\n` are skipped, non-zero trailing bits
/// are accepted, and errors name the byte offset in the original input.
pub(crate) fn go_b64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    if !s.contains(['\r', '\n']) {
        return GO_STD.decode(s).map_err(go_b64_error);
    }
    let mut kept = Vec::with_capacity(s.len());
    let mut offsets = Vec::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        if b != b'\r' && b != b'\n' {
            kept.push(b);
            offsets.push(i);
        }
    }
    GO_STD.decode(&kept).map_err(|e| {
        let at = |i: usize| offsets.get(i).copied().unwrap_or(s.len());
        go_b64_error(match e {
            base64::DecodeError::InvalidByte(i, b) => base64::DecodeError::InvalidByte(at(i), b),
            base64::DecodeError::InvalidLastSymbol(i, b) => {
                base64::DecodeError::InvalidLastSymbol(at(i), b)
            }
            other => other,
        })
    })
}

/// Go's `base64` decoding error text.
pub(crate) fn go_b64_error(e: base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => {
            format!("illegal base64 data at input byte {i}")
        }
        base64::DecodeError::InvalidLength(i) => format!("illegal base64 data at input byte {i}"),
        base64::DecodeError::InvalidPadding => "illegal base64 data at input byte 0".into(),
    }
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32enc(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32dec(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim_end_matches(['\r', '\n']);
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for (i, c) in s.bytes().enumerate() {
        if c == b'=' {
            break;
        }
        let Some(v) = B32.iter().position(|x| *x == c) else {
            return Err(format!("illegal base32 data at input byte {i}"));
        };
        bits = (bits << 5) | v as u64;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    if !s.len().is_multiple_of(8) {
        return Err(format!(
            "illegal base32 data at input byte {}",
            s.len() / 8 * 8
        ));
    }
    Ok(out)
}

/// Registers the encoding and hash functions.
pub(crate) fn register(m: &mut FuncMap) {
    m.insert(
        "b64enc",
        s1(|s| base64::engine::general_purpose::STANDARD.encode(s)),
    );
    m.insert(
        "b64dec",
        s1(|s| match go_b64_decode(s) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e,
        }),
    );
    m.insert("b32enc", s1(|s| b32enc(s.as_bytes())));
    m.insert(
        "b32dec",
        s1(|s| match b32dec(s) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e,
        }),
    );
    m.insert(
        "sha1sum",
        s1(|s| {
            use sha1::Digest;
            hex(&sha1::Sha1::digest(s.as_bytes()))
        }),
    );
    m.insert(
        "sha256sum",
        s1(|s| {
            use sha2::Digest;
            hex(&sha2::Sha256::digest(s.as_bytes()))
        }),
    );
    m.insert(
        "sha512sum",
        s1(|s| {
            use sha2::Digest;
            hex(&sha2::Sha512::digest(s.as_bytes()))
        }),
    );
    m.insert("adler32sum", s1(|s| adler32(s.as_bytes()).to_string()));
}
