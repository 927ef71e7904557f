//! Reading the configuration file: YAML (serde-saphyr) into one entry per key, each with the
//! line and column it was written at. Keys not in [`keys::KEYS`] are refused (what
//! `deny_unknown_fields` does for a typed struct, with the key's full path, where it is, and
//! the keys that are allowed there); values are checked later by the flag's own parser, so
//! the file, the flag and the variable accept exactly the same text.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::keys::{self, Key};

/// The largest configuration file read.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// A value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum FileValue {
    /// `null`, `~` or nothing: the key is left unset (as if absent).
    Null,
    /// One scalar, as text (`10`, `2h`, `true`, `"0.0.0.0:30880"`).
    Scalar(String),
    /// A list of scalars.
    List(Vec<String>),
}

/// One key set by the file.
#[derive(Debug)]
pub struct Entry {
    /// Which key.
    pub key: &'static Key,
    /// Its value.
    pub value: FileValue,
    /// Where the key is written (1-based).
    pub line: u64,
    /// Column of the key (1-based).
    pub column: u64,
}

/// Why a file was refused: where, which key (when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// The key's dotted path, when the problem is a key's.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => {}
        }
        if let Some(k) = &self.key {
            write!(f, "`{k}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for FileError {}

/// A YAML node with the positions of its keys.
#[derive(Debug)]
enum Node {
    Null,
    Scalar(String),
    List(Vec<String>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar, a list of scalars or a mapping")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<String>>()? {
            let v = map.next_value::<Spanned<Node>>()?;
            entries.push((k, v));
        }
        Ok(Node::Map(entries))
    }
}

/// Parses the file's text into its entries.
pub fn parse(text: &str) -> Result<Vec<Entry>, FileError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(FileError {
            line: None,
            column: None,
            key: None,
            message: format!("the file is larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    let root: Spanned<Node> = serde_saphyr::from_str(text).map_err(syntax_error)?;
    let mut out = Vec::new();
    match root.value {
        Node::Null => {}
        Node::Map(entries) => walk("", entries, &mut out)?,
        _ => {
            return Err(FileError {
                line: Some(root.referenced.line()),
                column: Some(root.referenced.column()),
                key: None,
                message: "the file must be a mapping of keys (see docs/configuration.md)".into(),
            });
        }
    }
    Ok(out)
}

/// serde-saphyr's error with its position taken apart (its text repeats the position and
/// shows the lines around it, which stay in the message).
fn syntax_error(e: serde_saphyr::Error) -> FileError {
    let loc = e.location();
    let text = e.to_string();
    let mut message = text.strip_prefix("error: ").unwrap_or(&text).to_string();
    if let Some(l) = loc {
        let prefix = format!("line {} column {}: ", l.line(), l.column());
        if let Some(rest) = message.strip_prefix(&prefix) {
            message = rest.to_string();
        }
    }
    FileError {
        line: loc.map(|l| l.line()).filter(|l| *l > 0),
        column: loc.map(|l| l.column()).filter(|c| *c > 0),
        key: None,
        message: message.trim_end().to_string(),
    }
}

fn walk(
    section: &str,
    entries: Vec<(Spanned<String>, Spanned<Node>)>,
    out: &mut Vec<Entry>,
) -> Result<(), FileError> {
    for (name, value) in entries {
        let path = if section.is_empty() {
            name.value.clone()
        } else {
            format!("{section}.{}", name.value)
        };
        let at = |message: String| FileError {
            line: Some(name.referenced.line()),
            column: Some(name.referenced.column()),
            key: Some(path.clone()),
            message,
        };
        if let Some(key) = keys::find(&path) {
            let value = match value.value {
                Node::Null => FileValue::Null,
                Node::Scalar(s) => FileValue::Scalar(s),
                Node::List(items) => FileValue::List(items),
                Node::Map(_) => {
                    return Err(at("takes a value or a list, not a mapping".into()));
                }
            };
            out.push(Entry {
                key,
                value,
                line: name.referenced.line(),
                column: name.referenced.column(),
            });
        } else if keys::is_section(&path) {
            match value.value {
                Node::Map(inner) => walk(&path, inner, out)?,
                Node::Null => {}
                _ => {
                    return Err(at(format!(
                        "is a section, not a value; its keys are {}",
                        keys::children(&path).join(", ")
                    )));
                }
            }
        } else {
            let known = keys::children(section);
            let hint = closest(&name.value, &known)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(at(format!(
                "unknown key{hint}; the keys {} are {}",
                if section.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("under `{section}`")
                },
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// The known name nearest to `name` when it is a likely misspelling (case aside, at most two
/// edits apart).
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(&'static str, FileValue, u64)> {
        parse(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| (e.key.path, e.value, e.line))
            .collect()
    }

    #[test]
    fn nested_keys_scalars_and_lists_with_their_lines() {
        let got = values(
            "listen: 0.0.0.0:30880\n\
             authentication:\n  multipleLogin: false\n  lockout:\n    threshold: 3\n    window: 1m\n\
             trustedProxies: [10.0.0.0/8, 192.168.0.1]\n\
             clusters:\n  execPluginAllow:\n    - aws\n    - kubelogin\n\
             sim:\n  timeScale: 2.5\n  seed: ~\n",
        );
        let s = |v: &str| FileValue::Scalar(v.into());
        assert_eq!(
            got,
            vec![
                ("listen", s("0.0.0.0:30880"), 1),
                ("authentication.multipleLogin", s("false"), 3),
                ("authentication.lockout.threshold", s("3"), 5),
                ("authentication.lockout.window", s("1m"), 6),
                (
                    "trustedProxies",
                    FileValue::List(vec!["10.0.0.0/8".into(), "192.168.0.1".into()]),
                    7
                ),
                (
                    "clusters.execPluginAllow",
                    FileValue::List(vec!["aws".into(), "kubelogin".into()]),
                    9
                ),
                ("sim.timeScale", s("2.5"), 13),
                ("sim.seed", FileValue::Null, 14),
            ]
        );
    }

    #[test]
    fn empty_files_and_empty_sections_set_nothing() {
        assert!(values("").is_empty());
        assert!(values("# nothing\n").is_empty());
        assert!(values("authentication:\n").is_empty());
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line_and_a_suggestion() {
        let e = parse("listen: 127.0.0.1:0\nauthentication:\n  lockout:\n    treshold: 3\n")
            .expect_err("unknown key");
        assert_eq!(e.line, Some(4));
        assert_eq!(e.column, Some(5));
        assert_eq!(e.key.as_deref(), Some("authentication.lockout.treshold"));
        let text = e.to_string();
        assert!(text.starts_with("line 4, column 5: `authentication.lockout.treshold`"));
        assert!(text.contains("did you mean `threshold`?"), "{text}");
        assert!(text.contains("threshold, window, duration"), "{text}");
        let e = parse("listne: x\n").expect_err("unknown");
        assert!(e.to_string().contains("did you mean `listen`?"), "{e}");
    }

    #[test]
    fn shapes_are_checked() {
        let e = parse("authentication: 3\n").expect_err("section as value");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(1), Some("authentication"))
        );
        assert!(e.message.contains("is a section"), "{e}");
        let e = parse("a: 1\nlisten:\n  port: 1\n").expect_err("value as section");
        assert_eq!(e.key.as_deref(), Some("a"));
        let e = parse("dataDir: /d\nlisten:\n  port: 1\n").expect_err("value as section");
        assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("listen")));
        let e = parse("- listen\n").expect_err("a list");
        assert_eq!(e.line, Some(1));
        let e = parse("trustedProxies:\n  - a: 1\n").expect_err("a list of maps");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn syntax_errors_carry_their_line() {
        let e = parse("listen: 1\nauthentication:\n  lockout: [1\n").expect_err("syntax");
        assert!(e.line.is_some_and(|l| l >= 3), "{e:?}");
        let e = parse("listen: 1\nlisten: 2\n").expect_err("duplicate");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.to_string().contains("duplicate"), "{e}");
        let e = parse("listen: \"\\xZ\"\n").expect_err("bad escape");
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn alias_bombs_are_refused_quickly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let start = std::time::Instant::now();
        assert!(parse(&text).is_err());
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
