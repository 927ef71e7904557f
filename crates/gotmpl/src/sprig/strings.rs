//! Sprig's string functions.

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::{int_arg, str_arg, string_list, strslice, strval};
use super::{reg, s1};

fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

/// Go's `strings.Title`.
pub fn title(s: &str) -> String {
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let sep = if (prev as u32) <= 0x7f {
            !(prev.is_ascii_alphanumeric() || prev == '_')
        } else if prev.is_alphanumeric() {
            false
        } else {
            is_go_space(prev)
        };
        if sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if is_go_space(c) {
            at_start = true;
            out.push(c);
        } else if at_start {
            out.extend(c.to_lowercase());
            at_start = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn swapcase(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else if c.is_lowercase() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut last_space = true;
    for c in s.chars() {
        if is_go_space(c) {
            last_space = true;
        } else {
            if last_space {
                out.push(c);
            }
            last_space = false;
        }
    }
    out
}

fn abbreviate_full(s: &str, offset: i64, max: i64) -> String {
    let len = s.len() as i64;
    if s.is_empty() || max < 4 {
        return String::new();
    }
    if len <= max {
        return s.to_string();
    }
    let mut offset = offset.min(len);
    if len - offset < max - 3 {
        offset = len - (max - 3);
    }
    let b = s.as_bytes();
    let cut = |a: i64, e: i64| {
        String::from_utf8_lossy(&b[a.max(0) as usize..e.clamp(0, len) as usize]).into_owned()
    };
    if offset <= 4 {
        return format!("{}...", cut(0, max - 3));
    }
    if max < 7 {
        return String::new();
    }
    if offset + max - 3 < len {
        let rest = cut(offset, len);
        return format!("...{}", abbreviate_full(&rest, 0, max - 3));
    }
    format!("...{}", cut(len - (max - 3), len))
}

/// `goutils.WrapCustom`.
fn wrap_custom(s: &str, width: i64, newline: &str, wrap_long: bool) -> String {
    let newline = if newline.is_empty() { "\n" } else { newline };
    let width = width.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let mut out = String::new();
    let mut offset = 0usize;
    let sub = |a: usize, e: usize| String::from_utf8_lossy(&b[a..e.min(len)]).into_owned();
    while len - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (width + offset + 1).min(len);
        let space_to_wrap_at = sub(offset, end).rfind(' ').map(|i| i + offset);
        match space_to_wrap_at {
            Some(sp) if sp >= offset => {
                out.push_str(&sub(offset, sp));
                out.push_str(newline);
                offset = sp + 1;
            }
            _ => {
                if wrap_long {
                    out.push_str(&sub(offset, width + offset));
                    out.push_str(newline);
                    offset += width;
                } else {
                    let next = sub(width + offset, len)
                        .find(' ')
                        .map(|i| i + width + offset);
                    match next {
                        Some(sp) => {
                            out.push_str(&sub(offset, sp));
                            out.push_str(newline);
                            offset = sp + 1;
                        }
                        None => {
                            out.push_str(&sub(offset, len));
                            offset = len;
                        }
                    }
                }
            }
        }
    }
    out.push_str(&sub(offset, len));
    out
}

/// Splits words the way `huandu/xstrings` case conversions do and joins them with `sep`.
fn nospace(s: &str) -> String {
    s.chars().filter(|c| !is_go_space(*c)).collect()
}

fn substr(start: i64, end: i64, s: &str) -> Result<String, FuncError> {
    let len = s.len() as i64;
    let slice = |a: i64, e: i64| -> Result<String, FuncError> {
        if a < 0 || e > len || a > e {
            return Err(FuncError::msg(format!(
                "runtime error: slice bounds out of range [{a}:{e}]"
            )));
        }
        Ok(String::from_utf8_lossy(&s.as_bytes()[a as usize..e as usize]).into_owned())
    };
    if start < 0 {
        return slice(0, end);
    }
    if end < 0 || end > len {
        return slice(start, len);
    }
    slice(start, end)
}

fn trunc(c: i64, s: &str) -> String {
    let len = s.len() as i64;
    let b = s.as_bytes();
    if c < 0 && len + c > 0 {
        return String::from_utf8_lossy(&b[(len + c) as usize..]).into_owned();
    }
    if c >= 0 && len > c {
        return String::from_utf8_lossy(&b[..c as usize]).into_owned();
    }
    s.to_string()
}

pub(crate) fn register(m: &mut FuncMap) {
    register_case(m);
    register_edits(m);
    register_joins(m);
}

/// Registers the trimming and case functions.
fn register_case(m: &mut FuncMap) {
    m.insert("trim", s1(|s| s.trim_matches(is_go_space).to_string()));
    m.insert("upper", s1(|s| s.to_uppercase()));
    m.insert("lower", s1(|s| s.to_lowercase()));
    m.insert("title", s1(title));
    m.insert("untitle", s1(untitle));
    m.insert("nospace", s1(nospace));
    m.insert("initials", s1(initials));
    m.insert("swapcase", s1(swapcase));
    m.insert("snakecase", s1(|s| super::xstrings::to_lower_case(s, '_')));
    m.insert("kebabcase", s1(|s| super::xstrings::to_lower_case(s, '-')));
    m.insert("camelcase", s1(super::xstrings::to_pascal_case));
    m.insert(
        "shuffle",
        s1(|s| {
            let mut cs: Vec<char> = s.chars().collect();
            super::random::shuffle(&mut cs);
            cs.into_iter().collect()
        }),
    );
}

/// Registers the abbreviating, wrapping and matching functions.
fn register_edits(m: &mut FuncMap) {
    reg(m, "abbrev", |a| {
        let w = int_arg(a.first());
        let s = str_arg(a.get(1));
        Ok(Value::from(if w < 4 {
            s
        } else {
            abbreviate_full(&s, 0, w)
        }))
    });
    reg(m, "abbrevboth", |a| {
        let (l, r) = (int_arg(a.first()), int_arg(a.get(1)));
        let s = str_arg(a.get(2));
        Ok(Value::from(if r < 4 || l > 0 && r < 7 {
            s
        } else {
            abbreviate_full(&s, l, r)
        }))
    });
    reg(m, "trunc", |a| {
        Ok(Value::from(trunc(int_arg(a.first()), &str_arg(a.get(1)))))
    });
    reg(m, "substr", |a| {
        Ok(Value::from(substr(
            int_arg(a.first()),
            int_arg(a.get(1)),
            &str_arg(a.get(2)),
        )?))
    });
    reg(m, "repeat", |a| {
        let n = int_arg(a.first());
        if n < 0 {
            return Err(FuncError::msg("strings: negative Repeat count"));
        }
        let s = str_arg(a.get(1));
        if (n as usize).saturating_mul(s.len()) > 64 << 20 {
            return Err(FuncError::msg("strings: Repeat output length overflow"));
        }
        Ok(Value::from(s.repeat(n as usize)))
    });
    for name in ["trimAll", "trimall"] {
        reg(m, name, |a| {
            let cut = str_arg(a.first());
            Ok(Value::from(
                str_arg(a.get(1))
                    .trim_matches(|c| cut.contains(c))
                    .to_string(),
            ))
        });
    }
    reg(m, "trimSuffix", |a| {
        let suf = str_arg(a.first());
        let s = str_arg(a.get(1));
        Ok(Value::from(
            s.strip_suffix(suf.as_str()).unwrap_or(&s).to_string(),
        ))
    });
    reg(m, "trimPrefix", |a| {
        let pre = str_arg(a.first());
        let s = str_arg(a.get(1));
        Ok(Value::from(
            s.strip_prefix(pre.as_str()).unwrap_or(&s).to_string(),
        ))
    });
    reg(m, "wrap", |a| {
        Ok(Value::from(wrap_custom(
            &str_arg(a.get(1)),
            int_arg(a.first()),
            "\n",
            false,
        )))
    });
    reg(m, "wrapWith", |a| {
        Ok(Value::from(wrap_custom(
            &str_arg(a.get(2)),
            int_arg(a.first()),
            &str_arg(a.get(1)),
            true,
        )))
    });
    reg(m, "contains", |a| {
        Ok(Value::Bool(
            str_arg(a.get(1)).contains(str_arg(a.first()).as_str()),
        ))
    });
    reg(m, "hasPrefix", |a| {
        Ok(Value::Bool(
            str_arg(a.get(1)).starts_with(str_arg(a.first()).as_str()),
        ))
    });
    reg(m, "hasSuffix", |a| {
        Ok(Value::Bool(
            str_arg(a.get(1)).ends_with(str_arg(a.first()).as_str()),
        ))
    });
}

/// Registers the quoting, indenting, joining and splitting functions.
fn register_joins(m: &mut FuncMap) {
    reg(m, "quote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| crate::gofmt::quote(&strval(v)))
            .collect();
        Ok(Value::from(parts.join(" ")))
    });
    reg(m, "squote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        Ok(Value::from(parts.join(" ")))
    });
    reg(m, "cat", |a| {
        let parts: Vec<Value> = a.iter().filter(|v| !v.is_nil()).cloned().collect();
        let f = "%v ".repeat(parts.len());
        Ok(Value::from(crate::gofmt::sprintf(
            f.trim_matches(is_go_space),
            &parts,
        )))
    });
    reg(m, "indent", |a| {
        let pad = " ".repeat(int_arg(a.first()).clamp(0, 1 << 20) as usize);
        let s = str_arg(a.get(1));
        Ok(Value::from(format!(
            "{pad}{}",
            s.replace('\n', &format!("\n{pad}"))
        )))
    });
    reg(m, "nindent", |a| {
        let pad = " ".repeat(int_arg(a.first()).clamp(0, 1 << 20) as usize);
        let s = str_arg(a.get(1));
        Ok(Value::from(format!(
            "\n{pad}{}",
            s.replace('\n', &format!("\n{pad}"))
        )))
    });
    reg(m, "replace", |a| {
        let (old, new, src) = (str_arg(a.first()), str_arg(a.get(1)), str_arg(a.get(2)));
        Ok(Value::from(go_replace(&src, &old, &new)))
    });
    reg(m, "plural", |a| {
        let n = int_arg(a.get(2));
        Ok(if n == 1 {
            Value::from(str_arg(a.first()))
        } else {
            Value::from(str_arg(a.get(1)))
        })
    });
    reg(m, "toString", |a| {
        Ok(Value::from(strval(a.first().unwrap_or(&Value::Nil))))
    });
    reg(m, "toStrings", |a| {
        Ok(string_list(strslice(a.first().unwrap_or(&Value::Nil))))
    });
    reg(m, "join", |a| {
        let sep = str_arg(a.first());
        Ok(Value::from(
            strslice(a.get(1).unwrap_or(&Value::Nil)).join(&sep),
        ))
    });
    reg(m, "sortAlpha", |a| {
        let v = a.first().unwrap_or(&Value::Nil);
        let mut l = match v {
            Value::List(_) | Value::Bytes(_) => strslice(v),
            other => vec![strval(other)],
        };
        l.sort();
        Ok(string_list(l))
    });
    reg(m, "splitList", |a| {
        let (sep, s) = (str_arg(a.first()), str_arg(a.get(1)));
        Ok(string_list(go_split(&s, &sep, -1)))
    });
    reg(m, "split", |a| {
        let (sep, s) = (str_arg(a.first()), str_arg(a.get(1)));
        Ok(indexed_map(go_split(&s, &sep, -1)))
    });
    reg(m, "splitn", |a| {
        let (sep, n, s) = (str_arg(a.first()), int_arg(a.get(1)), str_arg(a.get(2)));
        Ok(indexed_map(go_split(&s, &sep, n)))
    });
}

fn indexed_map(parts: Vec<String>) -> Value {
    let m = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::from(p)))
        .collect();
    Value::map(m)
}

/// Go's `strings.Replace(s, old, new, -1)` (an empty `old` inserts around every rune).
pub fn go_replace(s: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        let mut out = String::from(new);
        for c in s.chars() {
            out.push(c);
            out.push_str(new);
        }
        return out;
    }
    s.replace(old, new)
}

/// Go's `strings.SplitN` (`n` < 0: all).
pub fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut v: Vec<String> = s.chars().map(|c| c.to_string()).collect();
        if n > 0 && v.len() > n as usize {
            let rest: String = v[n as usize - 1..].concat();
            v.truncate(n as usize - 1);
            v.push(rest);
        }
        return v;
    }
    if n < 0 {
        return s.split(sep).map(String::from).collect();
    }
    s.splitn(n as usize, sep).map(String::from).collect()
}
