//! `.helmignore` rules (Helm's `pkg/ignore`): gitignore-like, without `**`.

use super::glob::glob_match;

struct Pattern {
    rule: String,
    negate: bool,
    must_dir: bool,
    anchored: bool,
    has_slash: bool,
}

/// A parsed `.helmignore` file plus Helm's default rule (`templates/.?*`).
#[derive(Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

impl Rules {
    /// Parses `.helmignore` text; lines with `**` are errors as in Helm.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut r = Rules::default();
        for line in text.trim_start_matches('\u{feff}').lines() {
            r.add(line)?;
        }
        Ok(r)
    }

    /// Adds Helm's default rule that hides dot files under `templates/`.
    pub fn add_defaults(&mut self) {
        let _ = self.add("templates/.?*");
    }

    fn add(&mut self, line: &str) -> Result<(), String> {
        let mut rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        let negate = rule.starts_with('!');
        if negate {
            rule = &rule[1..];
        }
        let must_dir = rule.ends_with('/');
        let rule = rule.trim_end_matches('/');
        let anchored = rule.starts_with('/');
        let rule = rule.trim_start_matches('/');
        self.patterns.push(Pattern {
            rule: rule.to_string(),
            negate,
            must_dir,
            anchored,
            has_slash: rule.contains('/'),
        });
        Ok(())
    }

    /// Whether the chart-relative `path` is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let matched = if p.anchored || p.has_slash {
                glob_match(&p.rule, path, false)
            } else {
                let base = path.rsplit('/').next().unwrap_or(path);
                glob_match(&p.rule, base, false)
            };
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !matched {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basename_and_path_rules() {
        let mut r = Rules::parse("# c\n*.md\n/ci\ndocs/\n.git\n").unwrap_or_default();
        r.add_defaults();
        assert!(r.ignore("README.md", false));
        assert!(r.ignore("charts/x/README.md", false));
        assert!(r.ignore("ci", true));
        assert!(!r.ignore("x/ci", true));
        assert!(r.ignore("docs", true));
        assert!(!r.ignore("docs", false));
        assert!(r.ignore("templates/.hidden", false));
        assert!(!r.ignore("templates/a.yaml", false));
    }

    #[test]
    fn double_star_rejected() {
        assert!(Rules::parse("a/**/b").is_err());
    }
}
