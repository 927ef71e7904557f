//! `toYaml` as Helm writes it: `sigs.k8s.io/yaml.Marshal` = `encoding/json`, then yaml.v2's
//! emitter (keys in yaml.v2's natural order, sequences not indented under their key, YAML 1.1
//! look-alike strings double-quoted, `|` literals for multi-line text, folding at 80 columns).

use gotmpl::Value;

use super::key_order::sort_by_key_order;
use super::resolve::{Resolved, go_parse_int, go_parse_uint, is_base60_float, resolve};

/// A value that `encoding/json` cannot marshal (NaN or an infinity).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("json: unsupported value: {0}")]
pub struct EmitError(pub String);

/// The value after the JSON round trip, as yaml.v2 sees it.
enum Node {
    Null,
    Bool(bool),
    Int(String),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

const BEST_INDENT: usize = 2;
const BEST_WIDTH: usize = 80;

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn to_node(v: &Value, depth: usize) -> Result<Node, EmitError> {
    if depth > 10_000 {
        return Err(EmitError("value nested too deeply".into()));
    }
    Ok(match v {
        Value::Nil => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Int(i, _) => Node::Int(i.to_string()),
        Value::Uint(u) => Node::Int(u.to_string()),
        Value::Float(f) => {
            let text =
                gofmt::json_float(*f).ok_or_else(|| EmitError(gofmt::format_float(*f, 'g', -1)))?;
            // yaml.v2 re-reads the JSON number: integers stay integers, the rest are floats.
            if let Some(i) = go_parse_int(&text) {
                Node::Int(i.to_string())
            } else if let Some(u) = go_parse_uint(&text) {
                Node::Int(u.to_string())
            } else {
                Node::Float(text.parse().unwrap_or(*f))
            }
        }
        Value::String(s) => Node::Str(s.to_string()),
        Value::Bytes(b) => Node::Str(base64(b)),
        Value::List(items) => Node::Seq(
            items
                .iter()
                .map(|i| to_node(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => {
            let mut entries: Vec<(String, Node)> = m
                .snapshot()
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_node(v, depth + 1)?)))
                .collect::<Result<_, EmitError>>()?;
            sort_by_key_order(&mut entries, |e| &e.0);
            Node::Map(entries)
        }
        Value::Object(o) => to_node(&o.to_value(), depth + 1)?,
    })
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    c == '\n'
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    block_plain: bool,
    single: bool,
    block: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(s: &str) -> Analysis {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Analysis {
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let (mut block_ind, mut special, mut line_breaks) = (false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
    }
    let mut preceded_ws = true;
    let mut followed_ws = is_blankz(chars.get(1).copied());
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_ind = true;
            }
            if (c == '?' || c == ':') && followed_ws {
                block_ind = true;
            }
            if c == '-' && followed_ws {
                block_ind = true;
            }
        } else {
            if c == ':' && followed_ws {
                block_ind = true;
            }
            if c == '#' && preceded_ws {
                block_ind = true;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == last {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == last {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = is_blankz(Some(c));
        followed_ws = is_blankz(chars.get(i + 2).copied());
    }
    let mut a = Analysis {
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.block_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

fn choose_style(s: &str, simple_key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if resolve(s) == Resolved::Str && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze(s);
    let mut style = requested;
    if style == Style::Plain && !a.block_plain {
        style = Style::Single;
    }
    if style == Style::Single && !a.single {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block || simple_key) {
        style = Style::Double;
    }
    style
}

struct Writer {
    out: String,
    column: usize,
    /// yaml.v3 (`toYamlPretty`) indents sequences under their key; yaml.v2 does not.
    indent_seqs: bool,
}

impl Writer {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }
    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }
    fn newline(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }
    /// Starts a line at `indent` unless the cursor already sits at the start of a fresh line.
    fn indent(&mut self, indent: usize) {
        if self.column != 0 || !(self.out.is_empty() || self.out.ends_with('\n')) {
            self.newline();
        }
        for _ in 0..indent {
            self.put(' ');
        }
    }
    /// A space before a value unless one was just written.
    fn space(&mut self) {
        if !(self.out.is_empty() || self.out.ends_with(' ') || self.out.ends_with('\n')) {
            self.put(' ');
        }
    }

    fn scalar(&mut self, s: &str, indent: usize, simple_key: bool) {
        let allow_breaks = !simple_key;
        match choose_style(s, simple_key) {
            Style::Plain => {
                self.space();
                let chars: Vec<char> = s.chars().collect();
                let mut spaces = false;
                for (i, &c) in chars.iter().enumerate() {
                    if c == ' ' {
                        if allow_breaks
                            && !spaces
                            && self.column > BEST_WIDTH
                            && chars.get(i + 1) != Some(&' ')
                        {
                            self.indent(indent);
                        } else {
                            self.put(c);
                        }
                        spaces = true;
                    } else {
                        self.put(c);
                        spaces = false;
                    }
                }
            }
            Style::Single => {
                self.space();
                self.put('\'');
                let chars: Vec<char> = s.chars().collect();
                let mut spaces = false;
                for (i, &c) in chars.iter().enumerate() {
                    if c == ' ' {
                        if allow_breaks
                            && !spaces
                            && self.column > BEST_WIDTH
                            && i != 0
                            && i != chars.len() - 1
                            && chars.get(i + 1) != Some(&' ')
                        {
                            self.indent(indent);
                        } else {
                            self.put(c);
                        }
                        spaces = true;
                    } else {
                        if c == '\'' {
                            self.put('\'');
                        }
                        self.put(c);
                        spaces = false;
                    }
                }
                self.put('\'');
            }
            Style::Double => self.double_quoted(s, indent, allow_breaks),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.space();
        self.put('"');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let u = c as u32;
                        if u <= 0xFF {
                            self.put_str(&format!("x{u:02X}"));
                        } else if u <= 0xFFFF {
                            self.put_str(&format!("u{u:04X}"));
                        } else {
                            self.put_str(&format!("U{u:08X}"));
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
            i += 1;
        }
        self.put('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.space();
        self.put('|');
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.put_str(&BEST_INDENT.to_string());
        }
        let chars: Vec<char> = s.chars().collect();
        match chars.len() {
            0 => self.put('-'),
            n if !is_break(chars[n - 1]) => self.put('-'),
            1 => self.put('+'),
            n if is_break(chars[n - 2]) => self.put('+'),
            _ => {}
        }
        self.newline();
        let mut line_start = true;
        for c in chars {
            if is_break(c) {
                self.out.push(c);
                self.column = 0;
                line_start = true;
            } else {
                if line_start {
                    for _ in 0..indent {
                        self.put(' ');
                    }
                    line_start = false;
                }
                self.put(c);
            }
        }
    }

    /// Writes `node` as the value after `key:` or `-`, or at the root (`container` is the
    /// indentation of the enclosing collection).
    fn node(&mut self, node: &Node, container: usize, in_seq: bool) {
        match node {
            Node::Null => {
                self.space();
                self.put_str("null");
            }
            Node::Bool(b) => {
                self.space();
                self.put_str(if *b { "true" } else { "false" });
            }
            Node::Int(t) => {
                self.space();
                self.put_str(t);
            }
            Node::Float(f) => {
                self.space();
                let s = gofmt::format_float(*f, 'g', -1);
                let s = match s.as_str() {
                    "+Inf" => ".inf".to_string(),
                    "-Inf" => "-.inf".to_string(),
                    "NaN" => ".nan".to_string(),
                    _ => s,
                };
                self.put_str(&s);
            }
            Node::Str(s) => self.scalar(s, container + BEST_INDENT, false),
            Node::Seq(items) if items.is_empty() => {
                self.space();
                self.put_str("[]");
            }
            Node::Map(entries) if entries.is_empty() => {
                self.space();
                self.put_str("{}");
            }
            Node::Seq(items) => {
                // Inline after "- "; a sequence under a key keeps the key's indentation.
                let (indent, inline) = if in_seq {
                    (container + BEST_INDENT, true)
                } else if self.indent_seqs && !self.out.is_empty() {
                    (container + BEST_INDENT, false)
                } else {
                    (container, false)
                };
                self.seq(items, indent, inline);
            }
            Node::Map(entries) => {
                let (indent, inline) = if in_seq {
                    (container + BEST_INDENT, true)
                } else {
                    (container + BEST_INDENT, false)
                };
                self.map(entries, indent, inline);
            }
        }
    }

    fn seq(&mut self, items: &[Node], indent: usize, inline_first: bool) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline_first {
                self.indent(indent);
            } else {
                self.space();
            }
            self.put('-');
            self.node(item, indent, true);
        }
    }

    fn map(&mut self, entries: &[(String, Node)], indent: usize, inline_first: bool) {
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 || !inline_first {
                self.indent(indent);
            } else {
                self.space();
            }
            self.scalar(k, indent + BEST_INDENT, true);
            self.put(':');
            self.node(v, indent, false);
        }
    }
}

/// `yaml.Marshal` as Helm's `toYaml` calls it, before the final newline is trimmed.
pub fn marshal(v: &Value) -> Result<String, EmitError> {
    marshal_with(v, false)
}

fn marshal_with(v: &Value, indent_seqs: bool) -> Result<String, EmitError> {
    let node = to_node(v, 0)?;
    let mut w = Writer {
        out: String::new(),
        column: 0,
        indent_seqs,
    };
    match &node {
        Node::Map(entries) if !entries.is_empty() => w.map(entries, 0, false),
        Node::Seq(items) if !items.is_empty() => w.seq(items, 0, false),
        other => w.node(other, 0, false),
    }
    if !w.out.ends_with('\n') {
        w.out.push('\n');
    }
    Ok(w.out)
}

/// Helm's `toYaml`: `yaml.Marshal` without the trailing newline.
pub fn to_yaml(v: &Value) -> Result<String, EmitError> {
    let mut s = marshal(v)?;
    if s.ends_with('\n') {
        s.pop();
    }
    Ok(s)
}

/// Helm's `toYamlPretty` (yaml.v3 encoder, indent 2): sequences indented under their key.
pub fn to_yaml_pretty(v: &Value) -> Result<String, EmitError> {
    let mut s = marshal_with(v, true)?;
    if s.ends_with('\n') {
        s.pop();
    }
    Ok(s)
}
