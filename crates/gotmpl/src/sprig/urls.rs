//! Sprig's URL functions (`urlParse`, `urlJoin`) with Go's `net/url` escaping.

use std::collections::BTreeMap;

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::{str_arg, strval};
use super::reg;

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

/// Registers the URL functions.
pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "urlParse", |a| url_parse(&str_arg(a.first())));
    reg(m, "urlJoin", |a| {
        url_join(a.first().unwrap_or(&Value::Nil))
            .map(Value::from)
            .map_err(FuncError::Msg)
    });
}
