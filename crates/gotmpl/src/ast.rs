//! The parse tree of a template, shaped like Go's `text/template/parse` nodes. `Display` prints
//! a node the way Go's `Node.String()` does; execution errors quote nodes that way.

use std::fmt;
use std::sync::Arc;

use crate::funcs::Callable;
use crate::value::Value;

/// A parsed template: its name, the name of the source it came from, and its body.
#[derive(Clone, Debug)]
pub struct Tree {
    /// The template's name (a `define` name or the name given to `parse`).
    pub name: Arc<str>,
    /// The name of the source text it was parsed from (Go's `ParseName`).
    pub parse_name: Arc<str>,
    /// The source text, kept to turn byte positions into lines and columns for errors.
    pub(crate) text: Arc<str>,
    /// The body.
    pub root: Vec<Node>,
}

impl Tree {
    /// Go's `ErrorContext` location: `PARSENAME:LINE:COL` with a zero-based byte column.
    pub(crate) fn location(&self, pos: usize) -> String {
        let pos = pos.min(self.text.len());
        let before = self.text.get(..pos).unwrap_or("");
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => pos - (i + 1),
            None => pos,
        };
        format!("{}:{}:{}", self.parse_name, line, col)
    }
}

/// Go's `parse.IsEmptyTree`: only blank text (and nothing executable).
pub(crate) fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t
            .trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{85}' || c == '\u{a0}')
            .is_empty(),
        _ => false,
    })
}

/// A node of a template body.
#[derive(Clone, Debug)]
pub enum Node {
    /// Plain text.
    Text(Arc<str>),
    /// `{{pipeline}}`.
    Action(Pipe),
    /// `{{if}}`.
    If(Box<Branch>),
    /// `{{range}}`.
    Range(Box<Branch>),
    /// `{{with}}`.
    With(Box<Branch>),
    /// `{{template "name" pipeline}}`.
    Template {
        /// Position of the name.
        pos: usize,
        /// The template invoked.
        name: Arc<str>,
        /// The data pipeline.
        pipe: Option<Pipe>,
    },
    /// `{{break}}`.
    Break(usize),
    /// `{{continue}}`.
    Continue(usize),
}

/// The shared shape of `if`, `range` and `with`.
#[derive(Clone, Debug)]
pub struct Branch {
    /// The condition or range pipeline.
    pub pipe: Pipe,
    /// The body.
    pub list: Vec<Node>,
    /// The `else` body.
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline with optional variable declarations: `$x := a | b`.
#[derive(Clone, Debug)]
pub struct Pipe {
    /// Position of the first token.
    pub pos: usize,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// The declared or assigned variables, with `$`.
    pub decl: Vec<Arc<str>>,
    /// The commands, in order.
    pub cmds: Vec<Command>,
}

/// One command of a pipeline: an operand or a function call with arguments.
#[derive(Clone, Debug)]
pub struct Command {
    /// Position of the first word.
    pub pos: usize,
    /// The words; the first is the function, field or value.
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Clone, Debug)]
pub enum Arg {
    /// `.a.b`.
    Field { pos: usize, idents: Vec<Arc<str>> },
    /// `$x.a.b` (idents[0] is `$x`).
    Variable { pos: usize, idents: Vec<Arc<str>> },
    /// A function name.
    Ident {
        pos: usize,
        name: Arc<str>,
        func: Callable,
    },
    /// `.`.
    Dot(usize),
    /// `nil`.
    Nil(usize),
    /// `true` / `false`.
    Bool(usize, bool),
    /// A number literal: its source text and the constant Go makes of it (or why it can't).
    Number {
        pos: usize,
        text: Arc<str>,
        value: Result<Value, Arc<str>>,
    },
    /// A string literal: source text (quoted) and value.
    Str {
        pos: usize,
        quoted: Arc<str>,
        value: Value,
    },
    /// `(pipeline)`.
    Pipe(Box<Pipe>),
    /// `(pipeline).a.b` or `func.a`.
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<Arc<str>>,
    },
}

impl Arg {
    /// The node's position in the source.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Ident { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number { pos, .. }
            | Arg::Str { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, nodes: &[Node]) -> fmt::Result {
    for n in nodes {
        write!(f, "{n}")?;
    }
    Ok(())
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text(t) => f.write_str(t),
            Node::Action(p) => write!(f, "{{{{{p}}}}}"),
            Node::If(b) => write_branch(f, "if", b),
            Node::Range(b) => write_branch(f, "range", b),
            Node::With(b) => write_branch(f, "with", b),
            Node::Template { name, pipe, .. } => {
                let q = crate::gofmt::quote(name);
                match pipe {
                    Some(p) => write!(f, "{{{{template {q} {p}}}}}"),
                    None => write!(f, "{{{{template {q}}}}}"),
                }
            }
            Node::Break(_) => f.write_str("{{break}}"),
            Node::Continue(_) => f.write_str("{{continue}}"),
        }
    }
}

fn write_branch(f: &mut fmt::Formatter<'_>, kw: &str, b: &Branch) -> fmt::Result {
    write!(f, "{{{{{kw} {}}}}}", b.pipe)?;
    write_list(f, &b.list)?;
    if let Some(e) = &b.else_list {
        f.write_str("{{else}}")?;
        write_list(f, e)?;
    }
    f.write_str("{{end}}")
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::grow(|| self.write_to(f))
    }
}

impl Pipe {
    fn write_to(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            for (i, d) in self.decl.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(d)?;
            }
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => {
                for (n, i) in idents.iter().enumerate() {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(i)?;
                }
                Ok(())
            }
            Arg::Ident { name, .. } => f.write_str(name),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number { text, .. } => f.write_str(text),
            Arg::Str { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
        }
    }
}

// Deeply nested trees (up to the parser's nesting limit) are dropped recursively; continue on
// a fresh stack segment when the current one runs low, as parsing and execution do.
impl Drop for Pipe {
    fn drop(&mut self) {
        if !self.cmds.is_empty() {
            let cmds = std::mem::take(&mut self.cmds);
            crate::stack::grow(move || drop(cmds));
        }
    }
}

impl Drop for Branch {
    fn drop(&mut self) {
        let list = std::mem::take(&mut self.list);
        let else_list = self.else_list.take();
        crate::stack::grow(move || drop((list, else_list)));
    }
}
