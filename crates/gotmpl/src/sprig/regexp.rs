//! Sprig's regular expressions, with Go's `regexp` semantics where they differ.

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::{int_arg, str_arg, string_list};
use super::{reg, s1};

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

/// Registers the regular expression functions.
pub(crate) fn register(m: &mut FuncMap) {
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
}
