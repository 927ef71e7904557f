//! yaml.v2's `resolve`: which type a plain (unquoted) scalar has. Helm parses values with it on
//! the way in and `toYaml` quotes every string that would resolve to something else.

use std::sync::LazyLock;

use regex::Regex;

/// What a plain scalar means to yaml.v2.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// `~`, `null`, empty.
    Null,
    /// `true`, `yes`, `on`, `y`, … (YAML 1.1 booleans).
    Bool(bool),
    /// An integer that fits `int64`.
    Int(i64),
    /// A positive integer beyond `int64`.
    Uint(u64),
    /// A float (including `.inf` and `.nan`).
    Float(f64),
    /// The merge key `<<`.
    Merge,
    /// A timestamp; decoding into `interface{}` keeps it as the original string.
    Timestamp,
    /// A plain string.
    Str,
}

static FLOAT_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").ok());
static BASE60_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").ok());

fn float_re_match(s: &str) -> bool {
    FLOAT_RE.as_ref().is_some_and(|r| r.is_match(s))
}

/// yaml.v2 quotes strings such as `1:20` that YAML 1.1 reads as base-60 floats.
pub fn is_base60_float(s: &str) -> bool {
    !s.is_empty() && BASE60_RE.as_ref().is_some_and(|r| r.is_match(s))
}

fn keyword(s: &str) -> Option<Resolved> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Resolved::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        "<<" => Resolved::Merge,
        _ => return None,
    })
}

/// Go's `strconv.ParseInt(s, 0, 64)` (base prefixes, leading-zero octal).
pub fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = go_parse_uint(body)?;
    if neg {
        if mag <= (i64::MAX as u64) + 1 {
            Some((mag as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub fn go_parse_uint(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let year = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if year != 4 || b.get(4) != Some(&b'-') {
        return false;
    }
    // Formats: 2006-1-2, 2006-1-2T15:4:5.999999999Z07:00, 2006-1-2t…, 2006-1-2 15:4:5.9…
    static TS: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?(Z|[-+][0-9]{2}:[0-9]{2})?)?$",
        )
        .ok()
    });
    if !TS.as_ref().is_some_and(|r| r.is_match(s)) {
        return false;
    }
    // Go's time.Parse validates ranges.
    let date: Vec<u32> = s[..s.find(['T', 't', ' ', '\t']).unwrap_or(s.len())]
        .split('-')
        .filter_map(|p| p.parse().ok())
        .collect();
    matches!(date.as_slice(), [_, m, d] if (1..=12).contains(m) && (1..=31).contains(d))
}

/// Resolves a plain scalar as yaml.v2 does.
pub fn resolve(s: &str) -> Resolved {
    let Some(&first) = s.as_bytes().first() else {
        return Resolved::Null;
    };
    let hint = match first {
        b'0'..=b'9' => b'D',
        b'+' | b'-' => b'S',
        b'.' => b'.',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' | b'<' => b'M',
        _ => return Resolved::Str,
    };
    if let Some(k) = keyword(s) {
        return k;
    }
    match hint {
        b'M' => Resolved::Str,
        b'.' => {
            if float_re_match(s) {
                s.parse::<f64>()
                    .map(Resolved::Float)
                    .unwrap_or(Resolved::Str)
            } else {
                Resolved::Str
            }
        }
        _ => {
            if hint == b'D' && is_timestamp(s) {
                return Resolved::Timestamp;
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Resolved::Int(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Resolved::Uint(u);
            }
            if float_re_match(&plain)
                && let Ok(f) = plain.parse::<f64>()
            {
                return Resolved::Float(f);
            }
            Resolved::Str
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_keywords() {
        assert_eq!(resolve("yes"), Resolved::Bool(true));
        assert_eq!(resolve("Off"), Resolved::Bool(false));
        assert_eq!(resolve("~"), Resolved::Null);
        assert_eq!(resolve("yesno"), Resolved::Str);
    }

    #[test]
    fn numbers() {
        assert_eq!(resolve("0x1F"), Resolved::Int(31));
        assert_eq!(resolve("017"), Resolved::Int(15));
        assert_eq!(resolve("1_000"), Resolved::Int(1000));
        assert_eq!(resolve("08"), Resolved::Float(8.0));
        assert_eq!(resolve("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve("-1.5"), Resolved::Float(-1.5));
        assert_eq!(resolve("18446744073709551615"), Resolved::Uint(u64::MAX));
        assert_eq!(resolve("1.2.3"), Resolved::Str);
        assert_eq!(resolve("2001-12-14"), Resolved::Timestamp);
        assert_eq!(resolve("-"), Resolved::Str);
    }

    #[test]
    fn base60() {
        assert!(is_base60_float("1:20"));
        assert!(!is_base60_float("1:2a"));
    }
}
