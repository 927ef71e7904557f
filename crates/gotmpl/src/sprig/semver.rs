//! Masterminds/semver v3 versions and constraints (`semver`, `semverCompare`).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::{Object, Value};

use super::conv::str_arg;
use super::reg;

/// A parsed semantic version (Masterminds `*semver.Version`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release, without `-`.
    pub pre: String,
    /// Build metadata, without `+`.
    pub meta: String,
    /// The text it was parsed from.
    pub original: String,
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

impl Version {
    /// `semver.NewVersion` (lenient: `v` prefix, missing minor/patch).
    pub fn parse(s: &str) -> Result<Version, String> {
        let invalid = || "Invalid Semantic Version".to_string();
        let body = s.strip_prefix('v').unwrap_or(s);
        let (body, meta) = match body.split_once('+') {
            Some((b, m)) => {
                if !valid_ident(m) {
                    return Err(invalid());
                }
                (b, m.to_string())
            }
            None => (body, String::new()),
        };
        let (nums, pre) = match body.split_once('-') {
            Some((n, p)) => {
                if !valid_ident(p) {
                    return Err(invalid());
                }
                (n, p.to_string())
            }
            None => (body, String::new()),
        };
        let parts: Vec<&str> = nums.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(invalid());
        }
        let mut n = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid());
            }
            n[i] = p.parse().map_err(|_| invalid())?;
        }
        Ok(Version {
            major: n[0],
            minor: n[1],
            patch: n[2],
            pre,
            meta,
            original: s.to_string(),
        })
    }

    fn cmp_pre(a: &str, b: &str) -> Ordering {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {}
        }
        let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
        for i in 0..pa.len().max(pb.len()) {
            let (x, y) = match (pa.get(i), pb.get(i)) {
                (Some(x), Some(y)) => (x, y),
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
            };
            let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(a), Ok(b)) => a.cmp(&b),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                _ => x.cmp(y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// Precedence order (metadata ignored).
    pub fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| Version::cmp_pre(&self.pre, &o.pre))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.meta.is_empty() {
            write!(f, "+{}", self.meta)?;
        }
        Ok(())
    }
}

impl Object for Version {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Major" => Value::Uint(self.major),
            "Minor" => Value::Uint(self.minor),
            "Patch" => Value::Uint(self.patch),
            "Prerelease" => Value::from(self.pre.clone()),
            "Metadata" => Value::from(self.meta.clone()),
            "Original" => Value::from(self.original.clone()),
            "String" => Value::from(self.to_string()),
            _ => return None,
        })
    }
    fn print(&self) -> String {
        self.to_string()
    }
}

struct Constraint {
    op: String,
    major_dirty: bool,
    v: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    let c = c.trim();
    let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"];
    let op = ops
        .iter()
        .find(|o| c.starts_with(**o))
        .copied()
        .unwrap_or("");
    let ver = c[op.len()..].trim();
    let bad = || format!("improper constraint: {c}");
    let (core, rest) = match ver.find(['-', '+']) {
        Some(i) => (&ver[..i], &ver[i..]),
        None => (ver, ""),
    };
    let core = core.strip_prefix('v').unwrap_or(core);
    let parts: Vec<&str> = core.split('.').collect();
    if core.is_empty() || parts.len() > 3 {
        return Err(bad());
    }
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    if parts
        .iter()
        .any(|p| !is_x(p) && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())))
    {
        return Err(bad());
    }
    let mut nums = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if is_x(p) {
            if i <= 1 {
                minor_dirty = true;
            } else {
                patch_dirty = true;
            }
            dirty = true;
            break;
        }
        nums.push(*p);
    }
    if !dirty {
        if parts.len() == 1 {
            minor_dirty = true;
            dirty = true;
        } else if parts.len() == 2 {
            patch_dirty = true;
            dirty = true;
        }
    }
    if minor_dirty {
        patch_dirty = false;
    }
    let mut full: Vec<&str> = nums.clone();
    while full.len() < 3 {
        full.push("0");
    }
    let text = format!("{}{}", full.join("."), rest);
    let v = Version::parse(&text).map_err(|_| bad())?;
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        o => o,
    };
    Ok(Constraint {
        op: op.to_string(),
        major_dirty: nums.is_empty(),
        v,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

fn check(c: &Constraint, v: &Version) -> bool {
    if !v.pre.is_empty() && c.v.pre.is_empty() {
        return false;
    }
    let cv = &c.v;
    if c.major_dirty {
        return matches!(c.op.as_str(), "" | "=" | "~" | "^" | ">=" | "<=");
    }
    let tilde = || {
        if v.compare(cv) == Ordering::Less {
            return false;
        }
        if cv.minor == 0 && cv.patch == 0 && !c.minor_dirty && !c.patch_dirty {
            return true;
        }
        if v.major != cv.major {
            return false;
        }
        if v.minor != cv.minor && !c.minor_dirty {
            return false;
        }
        true
    };
    match c.op.as_str() {
        "" | "=" => {
            if c.dirty {
                tilde()
            } else {
                v.compare(cv) == Ordering::Equal
            }
        }
        "!=" => {
            if c.dirty {
                !tilde()
            } else {
                v.compare(cv) != Ordering::Equal
            }
        }
        ">" => {
            if !c.dirty {
                v.compare(cv) == Ordering::Greater
            } else if c.minor_dirty {
                v.major > cv.major
            } else {
                v.major > cv.major || (v.major == cv.major && v.minor > cv.minor)
            }
        }
        "<" => v.compare(cv) == Ordering::Less,
        ">=" => v.compare(cv) != Ordering::Less,
        "<=" => {
            if !c.dirty {
                v.compare(cv) != Ordering::Greater
            } else if c.minor_dirty {
                v.major <= cv.major
            } else {
                v.major < cv.major || (v.major == cv.major && v.minor <= cv.minor)
            }
        }
        "~" => tilde(),
        "^" => {
            if v.compare(cv) == Ordering::Less {
                return false;
            }
            if cv.major > 0 || c.minor_dirty {
                return v.major == cv.major;
            }
            if cv.minor > 0 || c.patch_dirty {
                return v.major == 0 && v.minor == cv.minor;
            }
            v.major == 0 && v.minor == 0 && v.patch == cv.patch
        }
        _ => false,
    }
}

fn and_group(g: &str) -> Result<Vec<Constraint>, String> {
    // Hyphen ranges "1.2 - 1.4.5" become ">= 1.2, <= 1.4.5".
    let g = g.trim();
    if let Some((a, b)) = g.split_once(" - ") {
        return Ok(vec![
            parse_constraint(&format!(">={}", a.trim()))?,
            parse_constraint(&format!("<={}", b.trim()))?,
        ]);
    }
    let mut out = Vec::new();
    let mut pending_op = String::new();
    for tok in g.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()) {
        if tok.chars().all(|c| "<>=!~^".contains(c)) {
            pending_op.push_str(tok);
            continue;
        }
        out.push(parse_constraint(&format!("{pending_op}{tok}"))?);
        pending_op.clear();
    }
    if out.is_empty() {
        return Err(format!("improper constraint: {g}"));
    }
    Ok(out)
}

/// Whether `version` satisfies the Masterminds v3 `constraint` (`||` of `,`-joined ranges).
pub fn constraint_matches(constraint: &str, version: &str) -> Result<bool, String> {
    // semver v3.5 (Helm v4) reports the whole `||` group that failed, quoted.
    let groups: Vec<Vec<Constraint>> = constraint
        .split("||")
        .map(|g| {
            and_group(g).map_err(|_| format!("improper constraint: {}", crate::gofmt::quote(g)))
        })
        .collect::<Result<_, _>>()?;
    let v = Version::parse(version)?;
    Ok(groups.iter().any(|g| g.iter().all(|c| check(c, &v))))
}

pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "semverCompare", |a| {
        constraint_matches(&str_arg(a.first()), &str_arg(a.get(1)))
            .map(Value::Bool)
            .map_err(FuncError::Msg)
    });
    reg(m, "semver", |a| {
        let v = Version::parse(&str_arg(a.first())).map_err(FuncError::Msg)?;
        Ok(Value::Object(Arc::new(v)))
    });
}
