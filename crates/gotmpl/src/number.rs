//! Go literal syntax: number constants (as `text/template` types them) and `strconv.Unquote`.

use std::sync::Arc;

use crate::value::Value;

/// Parses a Go integer literal with base prefix and underscores (`strconv.ParseInt(s, 0, 64)`).
pub(crate) fn parse_go_int(text: &str) -> Option<i128> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.starts_with('_') && radix == 10 || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(&clean, radix).ok()?;
    let v = i128::try_from(v).ok()?;
    Some(if neg { -v } else { v })
}

/// A Go hexadecimal floating-point literal (`0x1.8p3`): hex mantissa, binary exponent.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let body = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))?;
    let (mant, exp) = body.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exp - 4 * frac_part.len() as i32;
    let v = v * 2f64.powi(scale);
    Some(if neg { -v } else { v })
}

/// Parses a number token into the value Go's `idealConstant` gives it: `int` for integers
/// (and characters), `float64` for literals with `.`, `e` or `p`.
pub(crate) fn parse_number(text: &str, is_char: bool) -> Result<Result<Value, Arc<str>>, String> {
    if is_char {
        let s = unquote(text)?;
        let mut cs = s.chars();
        return match (cs.next(), cs.next()) {
            (Some(c), None) => Ok(Ok(Value::int(c as i64))),
            _ => Err(format!("malformed character constant: {text}")),
        };
    }
    if text.ends_with('i') {
        return Err(format!(
            "complex numbers are not supported: {}",
            crate::gofmt::quote(text)
        ));
    }
    let as_int = parse_go_int(text);
    let is_int = as_int.is_some_and(|v| v >= i64::MIN as i128 && v <= i64::MAX as i128);
    let is_uint = as_int.is_some_and(|v| v >= 0 && v <= u64::MAX as i128);
    let lower = text.to_ascii_lowercase();
    let is_hex = lower.trim_start_matches(['+', '-']).starts_with("0x");
    let looks_float = if is_hex {
        lower.contains('p')
    } else {
        text.contains(['.', 'e', 'E', 'p', 'P'])
    };
    if looks_float {
        let clean: String = text.chars().filter(|c| *c != '_').collect();
        let parsed = if is_hex {
            parse_hex_float(&clean)
        } else {
            clean.parse().ok()
        };
        let f: f64 = parsed
            .ok_or_else(|| format!("illegal number syntax: {}", crate::gofmt::quote(text)))?;
        return Ok(Ok(Value::Float(f)));
    }
    if is_int {
        return Ok(Ok(Value::int(as_int.unwrap_or_default() as i64)));
    }
    if is_uint {
        return Ok(Err(Arc::from(format!("{text} overflows int"))));
    }
    if as_int.is_some()
        || text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_' || c == '+' || c == '-')
    {
        return Err(format!("integer overflow: {}", crate::gofmt::quote(text)));
    }
    Err(format!(
        "illegal number syntax: {}",
        crate::gofmt::quote(text)
    ))
}

/// Go's `strconv.Unquote` for double-quoted, back-quoted and single-quoted literals.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let bad = || "invalid syntax".to_string();
    let b = s.as_bytes();
    if b.len() < 2 {
        return Err(bad());
    }
    let q = b[0];
    if q != b[b.len() - 1] {
        return Err(bad());
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err(bad());
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' | b'\'' => {
            let mut out: Vec<u8> = Vec::with_capacity(inner.len());
            let mut chars = inner.char_indices().peekable();
            while let Some((_, c)) = chars.next() {
                if c == q as char || c == '\n' {
                    return Err(bad());
                }
                if c != '\\' {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
                let Some((_, e)) = chars.next() else {
                    return Err(bad());
                };
                let mut take = |n: usize, radix: u32| -> Result<u32, String> {
                    let mut v = 0u32;
                    for _ in 0..n {
                        let (_, d) = chars.next().ok_or_else(bad)?;
                        v = v * radix + d.to_digit(radix).ok_or_else(bad)?;
                    }
                    Ok(v)
                };
                match e {
                    'a' => out.push(7),
                    'b' => out.push(8),
                    'f' => out.push(12),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'v' => out.push(11),
                    '\\' => out.push(b'\\'),
                    '\'' if q == b'\'' => out.push(b'\''),
                    '"' if q == b'"' => out.push(b'"'),
                    'x' => out.push(take(2, 16)? as u8),
                    '0'..='7' => {
                        let rest = take(2, 8)?;
                        let v = (e as u32 - '0' as u32) * 64 + rest;
                        if v > 255 {
                            return Err(bad());
                        }
                        out.push(v as u8);
                    }
                    'u' | 'U' => {
                        let v = take(if e == 'u' { 4 } else { 8 }, 16)?;
                        let c = char::from_u32(v).ok_or_else(bad)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(bad()),
                }
            }
            let s = String::from_utf8_lossy(&out).into_owned();
            if q == b'\'' && s.chars().count() != 1 {
                return Err(bad());
            }
            Ok(s)
        }
        _ => Err(bad()),
    }
}
