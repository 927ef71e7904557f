//! Enough of Masterminds/semver to match dependency versions as Helm does
//! (`IsCompatibleRange`): `=`, `!=`, `<`, `<=`, `>`, `>=`, `~`, `^`, wildcards (`1.2.*`,
//! `2.x.x`), hyphen ranges, `,`/space (and) and `||` (or).

use std::cmp::Ordering;

/// A parsed version (`v` prefix and missing parts allowed, as Masterminds' `NewVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    nums: [u64; 3],
    pre: String,
}

impl Version {
    /// Parses `1`, `1.2`, `v1.2.3-rc.1+build`.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().strip_prefix('v').unwrap_or(s.trim());
        let s = s.split('+').next()?;
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, p.to_string()),
            None => (s, String::new()),
        };
        let mut nums = [0u64; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            nums[i] = p.parse().ok()?;
        }
        Some(Version { nums, pre })
    }

    fn cmp_pre(&self, other: &Version) -> Ordering {
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (a, b) in self.pre.split('.').zip(other.pre.split('.')) {
                    let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                        (Ok(x), Ok(y)) => x.cmp(&y),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        _ => a.cmp(b),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                self.pre
                    .split('.')
                    .count()
                    .cmp(&other.pre.split('.').count())
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nums.cmp(&other.nums).then_with(|| self.cmp_pre(other))
    }
}

/// One `op version` term, with wildcards already turned into bounds.
struct Term {
    op: &'static str,
    v: Version,
}

fn parse_partial(s: &str) -> Option<(Version, usize)> {
    // Returns the version with wildcards zeroed and how many parts were concrete.
    let s = s.trim().strip_prefix('v').unwrap_or(s.trim());
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, p.to_string()),
        None => (s.split('+').next()?, String::new()),
    };
    let mut nums = [0u64; 3];
    let mut concrete = 0;
    for (i, p) in core.split('.').enumerate() {
        if i > 2 {
            return None;
        }
        if matches!(p, "x" | "X" | "*") {
            break;
        }
        nums[i] = p.parse().ok()?;
        concrete = i + 1;
    }
    Some((Version { nums, pre }, concrete))
}

fn bump(v: &Version, idx: usize) -> Version {
    let mut nums = v.nums;
    nums[idx] += 1;
    for n in nums.iter_mut().skip(idx + 1) {
        *n = 0;
    }
    Version {
        nums,
        pre: String::new(),
    }
}

fn terms(op: &str, ver: &str) -> Option<Vec<Term>> {
    if matches!(ver.trim(), "*" | "x" | "X" | "") {
        return Some(vec![Term {
            op: ">=",
            v: Version {
                nums: [0; 3],
                pre: String::new(),
            },
        }]);
    }
    let (v, concrete) = parse_partial(ver)?;
    let range =
        |lo: Version, hi: Version| Some(vec![Term { op: ">=", v: lo }, Term { op: "<", v: hi }]);
    match op {
        "" | "=" if concrete < 3 => range(v.clone(), bump(&v, concrete.max(1) - 1)),
        "" | "=" => Some(vec![Term { op: "=", v }]),
        "!=" => Some(vec![Term { op: "!=", v }]),
        ">" if concrete < 3 => Some(vec![Term {
            op: ">=",
            v: bump(&v, concrete.max(1) - 1),
        }]),
        ">" => Some(vec![Term { op: ">", v }]),
        ">=" | "=>" => Some(vec![Term { op: ">=", v }]),
        "<" => Some(vec![Term { op: "<", v }]),
        "<=" | "=<" if concrete < 3 => Some(vec![Term {
            op: "<",
            v: bump(&v, concrete.max(1) - 1),
        }]),
        "<=" | "=<" => Some(vec![Term { op: "<=", v }]),
        "~" | "~>" => {
            let hi = if concrete <= 1 {
                bump(&v, 0)
            } else {
                bump(&v, 1)
            };
            range(v, hi)
        }
        "^" => {
            let idx = if v.nums[0] > 0 || concrete <= 1 {
                0
            } else if v.nums[1] > 0 || concrete == 2 {
                1
            } else {
                2
            };
            let hi = bump(&v, idx);
            range(v, hi)
        }
        _ => None,
    }
}

fn check_term(t: &Term, v: &Version) -> bool {
    // Masterminds: a prerelease version only satisfies terms that mention a prerelease.
    if !v.pre.is_empty() && t.v.pre.is_empty() {
        return false;
    }
    match t.op {
        "=" => v == &t.v,
        "!=" => v != &t.v,
        ">" => v > &t.v,
        ">=" => v >= &t.v,
        "<" => v < &t.v,
        "<=" => v <= &t.v,
        _ => false,
    }
}

fn parse_and(group: &str) -> Option<Vec<Term>> {
    let mut out = Vec::new();
    let tokens: Vec<String> = {
        let norm = group.replace(',', " ");
        let mut toks: Vec<String> = Vec::new();
        let mut pending_op = String::new();
        for w in norm.split_whitespace() {
            if w.chars().all(|c| "<>=!~^".contains(c)) {
                pending_op = w.to_string();
            } else {
                toks.push(format!("{pending_op}{w}"));
                pending_op.clear();
            }
        }
        toks
    };
    let mut i = 0;
    while i < tokens.len() {
        if tokens.get(i + 1).map(String::as_str) == Some("-") {
            let lo = parse_partial(&tokens[i])?.0;
            let (hi, concrete) = parse_partial(tokens.get(i + 2)?)?;
            out.push(Term { op: ">=", v: lo });
            if concrete < 3 {
                out.push(Term {
                    op: "<",
                    v: bump(&hi, concrete.max(1) - 1),
                });
            } else {
                out.push(Term { op: "<=", v: hi });
            }
            i += 3;
            continue;
        }
        let tok = &tokens[i];
        let op_len = tok.chars().take_while(|c| "<>=!~^".contains(*c)).count();
        out.extend(terms(&tok[..op_len], &tok[op_len..])?);
        i += 1;
    }
    if out.is_empty() { None } else { Some(out) }
}

/// Whether `version` satisfies `constraint`; invalid input never matches (as in Helm).
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    let Some(v) = Version::parse(version) else {
        return false;
    };
    let mut any = false;
    for group in constraint.split("||") {
        let Some(ts) = parse_and(group) else {
            return false;
        };
        if ts.iter().all(|t| check_term(t, &v)) {
            any = true;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_dependency_versions() {
        assert!(is_compatible_range("1.42.*", "1.42.0"));
        assert!(!is_compatible_range("1.42.*", "1.43.0"));
        assert!(is_compatible_range("2.x.x", "2.31.10"));
        assert!(!is_compatible_range("2.x.x", "3.0.0"));
        assert!(is_compatible_range("12.0.18", "12.0.18"));
        assert!(!is_compatible_range("latest", "0.1.0"));
        assert!(is_compatible_range("~1.2.3", "1.2.9"));
        assert!(!is_compatible_range("~1.2.3", "1.3.0"));
        assert!(is_compatible_range("^1.2.3", "1.9.0"));
        assert!(is_compatible_range(">=1.0.0 <2.0.0", "1.5.0"));
        assert!(is_compatible_range("<1 || >=3", "3.1.0"));
        assert!(is_compatible_range("1.0 - 1.4", "1.4.7"));
        assert!(!is_compatible_range(">=1.0.0", "1.2.0-rc.1"));
    }
}
