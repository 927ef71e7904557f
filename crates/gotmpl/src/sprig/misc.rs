//! Sprig's defaults, encoding, hashing, reflection, path, regex, URL and other small functions.

use base64::Engine;
use std::collections::BTreeMap;

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::{empty, int_arg, str_arg, string_list, strval};
use super::json::{from_json, to_json};
use super::reg;

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

/// Go's `path.Clean`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Go's `path.Dir`.
pub fn dir(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    clean(&p[..i])
}

/// Go's `path.Ext`.
pub fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

fn regex(pat: &str) -> Result<regex::Regex, FuncError> {
    regex::Regex::new(pat).map_err(|e| FuncError::msg(format!("error parsing regexp: {e}")))
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Go's `regexp.Regexp.Split`.
fn regex_split(re: &regex::Regex, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let limit = if n > 0 { n as usize } else { usize::MAX };
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for m in re.find_iter(s).take(limit) {
        if n > 0 && out.len() == limit - 1 {
            break;
        }
        end = m.start();
        if m.end() != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = m.end();
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    out
}

fn url_parse(s: &str) -> Result<Value, FuncError> {
    let mut rest = s;
    let mut m = BTreeMap::new();
    let mut fragment = String::new();
    if let Some(i) = rest.find('#') {
        fragment = rest[i + 1..].to_string();
        rest = &rest[..i];
    }
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let cand = &rest[..i];
        if !cand.is_empty()
            && cand.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && cand
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = cand.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut query = String::new();
    if let Some(i) = rest.find('?') {
        query = rest[i + 1..].to_string();
        rest = &rest[..i];
    }
    let (mut host, mut userinfo, mut opaque, mut path) =
        (String::new(), String::new(), String::new(), String::new());
    if let Some(r) = rest.strip_prefix("//") {
        let end = r.find('/').unwrap_or(r.len());
        let auth = &r[..end];
        path = r[end..].to_string();
        match auth.rfind('@') {
            Some(at) => {
                userinfo = auth[..at].to_string();
                host = auth[at + 1..].to_string();
            }
            None => host = auth.to_string(),
        }
    } else if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest.to_string();
    } else {
        path = rest.to_string();
    }
    let hostname = if host.starts_with('[') {
        host.find(']')
            .map(|i| host[1..i].to_string())
            .unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| host.clone())
    };
    m.insert("scheme".to_string(), Value::from(scheme));
    m.insert("host".to_string(), Value::from(host));
    m.insert("hostname".to_string(), Value::from(hostname));
    m.insert("path".to_string(), Value::from(path));
    m.insert("query".to_string(), Value::from(query));
    m.insert("opaque".to_string(), Value::from(opaque));
    m.insert("fragment".to_string(), Value::from(fragment));
    m.insert("userinfo".to_string(), Value::from(userinfo));
    Ok(Value::map(m))
}

/// Which part of a URL Go's `url.escape` is escaping.
#[derive(Clone, Copy, PartialEq)]
enum UrlPart {
    Host,
    Path,
    UserPassword,
    Fragment,
}

/// Go's `url.shouldEscape`.
fn url_should_escape(c: u8, part: UrlPart) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if part == UrlPart::Host {
        // Host names keep sub-delimiters, brackets for IPv6 and non-ASCII (IDNA) bytes.
        return !(c >= 0x80
            || matches!(
                c,
                b'!' | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
                    | b'<'
                    | b'>'
                    | b'"'
                    | b'-'
                    | b'_'
                    | b'.'
                    | b'~'
            ));
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match part {
            UrlPart::Path => c == b'?',
            UrlPart::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
            _ => false,
        },
        b'!' | b'(' | b')' | b'*' if part == UrlPart::Fragment => false,
        _ => true,
    }
}

/// Go's `url.escape` (percent-encoding with upper-case hex).
fn url_escape(s: &str, part: UrlPart) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if url_should_escape(b, part) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Go's `url.unescape` of a user name or password: `%XX` sequences must be valid.
fn url_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
            let Some(hex) = hex else {
                let bad: String = s[i..].chars().take(3).collect();
                return Err(format!("invalid URL escape {}", crate::gofmt::quote(&bad)));
            };
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Sprig's `urlJoin`: a Go `url.URL` from the dict's parts, printed by `URL.String()`; the
/// userinfo goes through `url.Parse` as Sprig does (so it is validated and unescaped).
fn url_join(d: &Value) -> Result<String, String> {
    let m = d.as_map().unwrap_or_default();
    let g = |k: &str| m.get(k).map(strval).unwrap_or_default();
    let (scheme, host, path, query, opaque, fragment) = (
        g("scheme"),
        g("host"),
        g("path"),
        g("query"),
        g("opaque"),
        g("fragment"),
    );
    let userinfo = g("userinfo");
    let user = if userinfo.is_empty() {
        None
    } else {
        let invalid = || {
            format!(
                "unable to parse userinfo in dict: parse {}: net/url: invalid userinfo",
                crate::gofmt::quote(&format!("proto://{userinfo}@host"))
            )
        };
        if !userinfo
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&c))
        {
            return Err(invalid());
        }
        let (name, password) = match userinfo.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (userinfo.as_str(), None),
        };
        let fail = |e: String| {
            format!(
                "unable to parse userinfo in dict: parse {}: {e}",
                crate::gofmt::quote(&format!("proto://{userinfo}@host"))
            )
        };
        let name = url_unescape(name).map_err(fail)?;
        let password = password.map(url_unescape).transpose().map_err(fail)?;
        let mut u = url_escape(&name, UrlPart::UserPassword);
        if let Some(p) = password {
            u.push(':');
            u.push_str(&url_escape(&p, UrlPart::UserPassword));
        }
        Some(u)
    };
    let mut s = String::new();
    if !scheme.is_empty() {
        s.push_str(&scheme);
        s.push(':');
    }
    if !opaque.is_empty() {
        s.push_str(&opaque);
    } else {
        if !scheme.is_empty() || !host.is_empty() || user.is_some() {
            if !host.is_empty() || !path.is_empty() || user.is_some() {
                s.push_str("//");
            }
            if let Some(u) = &user {
                s.push_str(u);
                s.push('@');
            }
            s.push_str(&url_escape(&host, UrlPart::Host));
        }
        let path = url_escape(&path, UrlPart::Path);
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            s.push('/');
        }
        if s.is_empty() && path.split('/').next().is_some_and(|seg| seg.contains(':')) {
            // A first segment with a colon would read as a scheme.
            s.push_str("./");
        }
        s.push_str(&path);
    }
    if !query.is_empty() {
        s.push('?');
        s.push_str(&query);
    }
    if !fragment.is_empty() {
        s.push('#');
        s.push_str(&url_escape(&fragment, UrlPart::Fragment));
    }
    Ok(s)
}

pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "default", |a| {
        let given = a.get(1);
        Ok(match given {
            Some(g) if !empty(g) => g.clone(),
            _ => a.first().cloned().unwrap_or_default(),
        })
    });
    reg(m, "empty", |a| Ok(Value::Bool(a.first().is_none_or(empty))));
    reg(m, "coalesce", |a| {
        Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or_default())
    });
    reg(m, "all", |a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    reg(m, "any", |a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    reg(m, "ternary", |a| {
        // Go declares the condition `bool`; text/template refuses anything else.
        let c = match a.get(2) {
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(FuncError::Arity(format!(
                    "wrong type for value; expected bool; got {}",
                    other.type_name()
                )));
            }
            None => false,
        };
        Ok(if c { a.first() } else { a.get(1) }
            .cloned()
            .unwrap_or_default())
    });
    reg(m, "fromJson", |a| {
        Ok(from_json(&str_arg(a.first())).unwrap_or(Value::Nil))
    });
    reg(m, "mustFromJson", |a| {
        from_json(&str_arg(a.first())).map_err(FuncError::Msg)
    });
    reg(m, "toJson", |a| {
        Ok(Value::from(
            to_json(a.first().unwrap_or(&Value::Nil), true, None).unwrap_or_default(),
        ))
    });
    reg(m, "mustToJson", |a| {
        Ok(Value::from(to_json(
            a.first().unwrap_or(&Value::Nil),
            true,
            None,
        )?))
    });
    reg(m, "toPrettyJson", |a| {
        Ok(Value::from(
            to_json(a.first().unwrap_or(&Value::Nil), true, Some("  ")).unwrap_or_default(),
        ))
    });
    reg(m, "mustToPrettyJson", |a| {
        Ok(Value::from(to_json(
            a.first().unwrap_or(&Value::Nil),
            true,
            Some("  "),
        )?))
    });
    reg(m, "toRawJson", |a| {
        Ok(Value::from(
            to_json(a.first().unwrap_or(&Value::Nil), false, None).unwrap_or_default(),
        ))
    });
    reg(m, "mustToRawJson", |a| {
        Ok(Value::from(to_json(
            a.first().unwrap_or(&Value::Nil),
            false,
            None,
        )?))
    });
    // Encoding and hashes.
    let s1 = |f: fn(&str) -> String| {
        move |_: &mut crate::CallContext<'_, '_>, a: &[Value]| {
            Ok(Value::from(f(&str_arg(a.first()))))
        }
    };
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
    // Paths (Helm runs on Unix, where filepath is path).
    for (p, os) in [
        ("base", "osBase"),
        ("dir", "osDir"),
        ("clean", "osClean"),
        ("ext", "osExt"),
    ] {
        let f: fn(&str) -> String = match p {
            "base" => base,
            "dir" => dir,
            "clean" => clean,
            _ => ext,
        };
        m.insert(p, s1(f));
        m.insert(os, s1(f));
    }
    for name in ["isAbs", "osIsAbs"] {
        reg(m, name, |a| {
            Ok(Value::Bool(str_arg(a.first()).starts_with('/')))
        });
    }
    // Reflection.
    reg(m, "typeOf", |a| {
        Ok(Value::from(a.first().unwrap_or(&Value::Nil).type_name()))
    });
    reg(m, "typeIs", |a| {
        Ok(Value::Bool(
            str_arg(a.first()) == a.get(1).unwrap_or(&Value::Nil).type_name(),
        ))
    });
    reg(m, "typeIsLike", |a| {
        let t = a.get(1).unwrap_or(&Value::Nil).type_name();
        let target = str_arg(a.first());
        Ok(Value::Bool(target == t || format!("*{target}") == t))
    });
    reg(m, "kindOf", |a| {
        Ok(Value::str(a.first().unwrap_or(&Value::Nil).kind_name()))
    });
    reg(m, "kindIs", |a| {
        Ok(Value::Bool(
            str_arg(a.first()) == a.get(1).unwrap_or(&Value::Nil).kind_name(),
        ))
    });
    reg(m, "deepEqual", |a| Ok(Value::Bool(a.first() == a.get(1))));
    // Regular expressions.
    reg(m, "regexMatch", |a| {
        Ok(Value::Bool(
            regex(&str_arg(a.first()))
                .map(|r| r.is_match(&str_arg(a.get(1))))
                .unwrap_or(false),
        ))
    });
    reg(m, "mustRegexMatch", |a| {
        Ok(Value::Bool(
            regex(&str_arg(a.first()))?.is_match(&str_arg(a.get(1))),
        ))
    });
    for name in ["regexFindAll", "mustRegexFindAll"] {
        reg(m, name, |a| {
            let r = regex(&str_arg(a.first()))?;
            let s = str_arg(a.get(1));
            let n = int_arg(a.get(2));
            let it = r.find_iter(&s).map(|m| m.as_str().to_string());
            let v: Vec<String> = if n < 0 {
                it.collect()
            } else {
                it.take(n as usize).collect()
            };
            Ok(string_list(v))
        });
    }
    for name in ["regexFind", "mustRegexFind"] {
        reg(m, name, |a| {
            let r = regex(&str_arg(a.first()))?;
            Ok(Value::from(
                r.find(&str_arg(a.get(1)))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
            ))
        });
    }
    for name in ["regexReplaceAll", "mustRegexReplaceAll"] {
        reg(m, name, |a| {
            let r = regex(&str_arg(a.first()))?;
            Ok(Value::from(
                r.replace_all(&str_arg(a.get(1)), str_arg(a.get(2)).as_str())
                    .into_owned(),
            ))
        });
    }
    for name in ["regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"] {
        reg(m, name, |a| {
            let r = regex(&str_arg(a.first()))?;
            let rep = str_arg(a.get(2));
            Ok(Value::from(
                r.replace_all(&str_arg(a.get(1)), regex::NoExpand(&rep))
                    .into_owned(),
            ))
        });
    }
    for name in ["regexSplit", "mustRegexSplit"] {
        reg(m, name, |a| {
            let r = regex(&str_arg(a.first()))?;
            Ok(string_list(regex_split(
                &r,
                &str_arg(a.get(1)),
                int_arg(a.get(2)),
            )))
        });
    }
    m.insert("regexQuoteMeta", s1(quote_meta));
    // URLs.
    reg(m, "urlParse", |a| url_parse(&str_arg(a.first())));
    reg(m, "urlJoin", |a| {
        url_join(a.first().unwrap_or(&Value::Nil))
            .map(Value::from)
            .map_err(FuncError::Msg)
    });
    // Random and identity.
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    reg(m, "randAlphaNum", |a| {
        Ok(Value::from(super::random::string_from(
            ALNUM,
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randAlpha", |a| {
        Ok(Value::from(super::random::string_from(
            &ALNUM[..52],
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randNumeric", |a| {
        Ok(Value::from(super::random::string_from(
            &ALNUM[52..],
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randAscii", |a| {
        let chars: Vec<u8> = (32u8..127).collect();
        Ok(Value::from(super::random::string_from(
            &chars,
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randBytes", |a| {
        let b = super::random::bytes(int_arg(a.first()).clamp(0, 1 << 20) as usize);
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(b),
        ))
    });
    reg(m, "uuidv4", |_| {
        Ok(Value::from(uuid::Uuid::new_v4().to_string()))
    });
    reg(m, "fail", |a| Err(FuncError::Msg(str_arg(a.first()))));
    reg(m, "getHostByName", |a| {
        Err(FuncError::msg(format!(
            "lookup {}: name resolution is disabled in templates",
            str_arg(a.first())
        )))
    });
    reg(m, "hello", |_| Ok(Value::str("Hello!")));
}
