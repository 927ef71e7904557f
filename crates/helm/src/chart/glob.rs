//! The two glob dialects charts meet: Go's `filepath.Match` (`.helmignore`) and gobwas/glob
//! with `/` as separator (`.Files.Glob`, which adds `**` and `{a,b}`).

/// Matches `name` against `pattern`; `*` and `?` never cross `/`. With `extended`, `**`
/// crosses `/` and `{a,b}` alternates (gobwas/glob); without, it is Go's `filepath.Match`.
pub fn glob_match(pattern: &str, name: &str, extended: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let mut budget = 100_000usize;
    matches(&p, &n, extended, &mut budget)
}

fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    // Returns (matched, length of the class in the pattern).
    let mut i = 1;
    let negate = matches!(p.get(1), Some('^') | Some('!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let mut lo = p[i];
        if lo == '\\' {
            i += 1;
            lo = *p.get(i)?;
        }
        let mut hi = lo;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&c| c != ']') {
            hi = p[i + 2];
            if hi == '\\' {
                hi = *p.get(i + 3)?;
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
        i += 1;
    }
    None
}

fn matches(p: &[char], n: &[char], ext: bool, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let Some(&c) = p.first() else {
        return n.is_empty();
    };
    match c {
        '*' => {
            let double = ext && p.get(1) == Some(&'*');
            let rest = if double { &p[2..] } else { &p[1..] };
            for k in 0..=n.len() {
                if k > 0 && !double && n[k - 1] == '/' {
                    break;
                }
                if matches(rest, &n[k..], ext, budget) {
                    return true;
                }
            }
            false
        }
        '?' => !n.is_empty() && n[0] != '/' && matches(&p[1..], &n[1..], ext, budget),
        '[' => match (
            n.first(),
            class_match(p, n.first().copied().unwrap_or('\0')),
        ) {
            (Some(&ch), Some((true, len))) if ch != '/' => matches(&p[len..], &n[1..], ext, budget),
            _ => false,
        },
        '{' if ext => {
            let Some(close) = p.iter().position(|&x| x == '}') else {
                return false;
            };
            let rest = &p[close + 1..];
            p[1..close].split(|&x| x == ',').any(|alt| {
                let mut q: Vec<char> = alt.to_vec();
                q.extend_from_slice(rest);
                matches(&q, n, ext, budget)
            })
        }
        '\\' if p.len() > 1 => n.first() == Some(&p[1]) && matches(&p[2..], &n[1..], ext, budget),
        _ => n.first() == Some(&c) && matches(&p[1..], &n[1..], ext, budget),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filepath_match() {
        assert!(glob_match("*.txt", "a.txt", false));
        assert!(!glob_match("*.txt", "d/a.txt", false));
        assert!(glob_match("templates/.?*", "templates/.x", false));
        assert!(glob_match("[a-c]?", "bz", false));
        assert!(!glob_match("[^a-c]?", "bz", false));
    }

    #[test]
    fn gobwas_glob() {
        assert!(glob_match("dashboards/*.json", "dashboards/a.json", true));
        assert!(!glob_match(
            "dashboards/*.json",
            "dashboards/x/a.json",
            true
        ));
        assert!(glob_match("**.json", "dashboards/x/a.json", true));
        assert!(glob_match("files/{a,b}.txt", "files/b.txt", true));
    }
}
