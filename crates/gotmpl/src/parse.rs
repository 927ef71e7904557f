//! The parser of Go's `text/template/parse`: same grammar, same variable scoping checks and the
//! same error messages.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Arg, Branch, Command, Node, Pipe, Tree, is_empty_tree};
use crate::error::TemplateError;
use crate::funcs::FuncMap;
use crate::lex::{Item, ItemType, lex};
use crate::number::parse_number;
use crate::value::Value;

/// Parses `text` as template `name`; returns the top-level tree and every `define`/`block`.
pub(crate) fn parse<'f>(
    name: &str,
    text: &'f str,
    funcs: &'f FuncMap,
) -> Result<HashMap<Arc<str>, Tree>, TemplateError> {
    let items = lex(text);
    let src: Arc<str> = Arc::from(text);
    let parse_name: Arc<str> = Arc::from(name);
    let mut p = Parser {
        depth: 0,
        items,
        i: 0,
        last_line: 1,
        funcs,
        parse_name: parse_name.clone(),
        vars: vec![Arc::from("$")],
        range_depth: 0,
        action_line: 0,
        trees: HashMap::new(),
        src: src.clone(),
    };
    let root = p.parse_top()?;
    p.add(Tree {
        name: parse_name.clone(),
        parse_name,
        text: src,
        root,
    })?;
    Ok(p.trees)
}

/// Deepest nesting of parentheses and blocks accepted.
const MAX_NESTING: usize = 1000;

struct Parser<'f> {
    depth: usize,
    items: Vec<Item<'f>>,
    i: usize,
    last_line: usize,
    funcs: &'f FuncMap,
    parse_name: Arc<str>,
    vars: Vec<Arc<str>>,
    range_depth: usize,
    action_line: usize,
    trees: HashMap<Arc<str>, Tree>,
    src: Arc<str>,
}

type PResult<T> = Result<T, TemplateError>;

enum Listed {
    End,
    Else,
}

impl<'f> Parser<'f> {
    fn next(&mut self) -> Item<'f> {
        let idx = self.i.min(self.items.len() - 1);
        let it = self.items[idx].clone();
        if self.i < self.items.len() {
            self.i += 1;
        }
        self.last_line = it.line;
        it
    }

    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }

    fn peek(&self) -> &Item<'f> {
        &self.items[self.i.min(self.items.len() - 1)]
    }

    fn next_non_space(&mut self) -> Item<'f> {
        loop {
            let it = self.next();
            if it.typ != ItemType::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'f> {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn errorf(&self, msg: impl Into<String>) -> TemplateError {
        TemplateError::Parse {
            name: self.parse_name.to_string(),
            line: self.last_line,
            msg: msg.into(),
        }
    }

    fn unexpected(&self, it: &Item, context: &str) -> TemplateError {
        if it.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != it.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if it.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{}{}", it.val, extra));
        }
        self.errorf(format!("unexpected {} in {}", it.describe(), context))
    }

    fn expect(&mut self, typ: ItemType, context: &str) -> PResult<Item<'f>> {
        let it = self.next_non_space();
        if it.typ != typ {
            return Err(self.unexpected(&it, context));
        }
        Ok(it)
    }

    fn add(&mut self, tree: Tree) -> PResult<()> {
        match self.trees.get(&tree.name) {
            Some(old) if !is_empty_tree(&old.root) => {
                if !is_empty_tree(&tree.root) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        crate::gofmt::quote(&tree.name)
                    )));
                }
            }
            _ => {
                self.trees.insert(tree.name.clone(), tree);
            }
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let save = self.i;
                self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.i = save;
            }
            match self.text_or_action()? {
                Ok(n) => root.push(n),
                Err(Listed::End) => return Err(self.errorf("unexpected {{end}}")),
                Err(Listed::Else) => return Err(self.errorf("unexpected {{else}}")),
            }
        }
        Ok(root)
    }

    fn with_fresh_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let vars = std::mem::replace(&mut self.vars, vec![Arc::from("$")]);
        let depth = std::mem::replace(&mut self.range_depth, 0);
        let r = f(self);
        self.vars = vars;
        self.range_depth = depth;
        r
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let tok = self.next_non_space();
        if tok.typ != ItemType::String && tok.typ != ItemType::RawString {
            return Err(self.unexpected(&tok, CONTEXT));
        }
        let name = self.unquote(&tok)?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let (root, end) = self.with_fresh_scope(|p| p.item_list())?;
        if let Listed::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}")));
        }
        let tree = Tree {
            name: Arc::from(name.as_str()),
            parse_name: self.parse_name.clone(),
            text: self.src.clone(),
            root,
        };
        self.add(tree)
    }

    fn unquote(&self, tok: &Item) -> PResult<String> {
        crate::number::unquote(&tok.val).map_err(|e| self.errorf(e))
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Listed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Ok(n) => list.push(n),
                Err(end) => return Ok((list, end)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Result<Node, Listed>> {
        let tok = self.next_non_space();
        match tok.typ {
            ItemType::Text => Ok(Ok(Node::Text(Arc::from(tok.val.as_ref())))),
            ItemType::LeftDelim => {
                let saved = self.action_line;
                self.action_line = tok.line;
                let r = self.action();
                self.action_line = saved;
                r
            }
            _ => Err(self.unexpected(&tok, "input")),
        }
    }

    fn action(&mut self) -> PResult<Result<Node, Listed>> {
        let tok = self.next_non_space();
        match tok.typ {
            ItemType::Block => return self.block_control().map(Ok),
            ItemType::Break | ItemType::Continue => {
                let word = if tok.typ == ItemType::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let t = self.next_non_space();
                if t.typ != ItemType::RightDelim {
                    return Err(self.unexpected(&t, word));
                }
                if self.range_depth == 0 {
                    return Err(self.errorf(format!("{word} outside {{{{range}}}}")));
                }
                return Ok(Ok(if tok.typ == ItemType::Break {
                    Node::Break(tok.pos)
                } else {
                    Node::Continue(tok.pos)
                }));
            }
            ItemType::Else => {
                let p = self.peek_non_space();
                if p.typ == ItemType::If || p.typ == ItemType::With {
                    return Ok(Err(Listed::Else));
                }
                self.expect(ItemType::RightDelim, "else")?;
                return Ok(Err(Listed::Else));
            }
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Err(Listed::End));
            }
            ItemType::If => return self.control("if").map(|b| Ok(Node::If(b))),
            ItemType::Range => return self.control("range").map(|b| Ok(Node::Range(b))),
            ItemType::With => return self.control("with").map(|b| Ok(Node::With(b))),
            ItemType::Template => return self.template_control().map(Ok),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Ok(Node::Action(pipe)))
    }

    fn control(&mut self, context: &str) -> PResult<Box<Branch>> {
        if self.depth >= MAX_NESTING {
            return Err(self.errorf(format!("template nesting exceeds {MAX_NESTING} levels")));
        }
        let mark = self.vars.len();
        self.depth += 1;
        let r = crate::stack::grow(|| self.control_inner(context));
        self.depth -= 1;
        self.vars.truncate(mark);
        r
    }

    fn control_inner(&mut self, context: &str) -> PResult<Box<Branch>> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        if let Listed::Else = next {
            let pk = self.peek().typ;
            if context == "if" && pk == ItemType::If {
                self.next();
                else_list = Some(vec![Node::If(self.control("if")?)]);
            } else if context == "with" && pk == ItemType::With {
                self.next();
                else_list = Some(vec![Node::With(self.control("with")?)]);
            } else {
                let (l, n) = self.item_list()?;
                if let Listed::Else = n {
                    return Err(self.errorf("expected end; found {{else}}"));
                }
                else_list = Some(l);
            }
        }
        Ok(Box::new(Branch {
            pipe,
            list,
            else_list,
        }))
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let tok = self.next_non_space();
        if tok.typ != ItemType::String && tok.typ != ItemType::RawString {
            return Err(self.unexpected(&tok, CONTEXT));
        }
        let name = self.unquote(&tok)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template {
            pos: tok.pos,
            name: Arc::from(name.as_str()),
            pipe,
        })
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let tok = self.next_non_space();
        if tok.typ != ItemType::String && tok.typ != ItemType::RawString {
            return Err(self.unexpected(&tok, CONTEXT));
        }
        let name = self.unquote(&tok)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let (root, end) = self.with_fresh_scope(|p| p.item_list())?;
        if let Listed::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}")));
        }
        let name: Arc<str> = Arc::from(name.as_str());
        self.add(Tree {
            name: name.clone(),
            parse_name: self.parse_name.clone(),
            text: self.src.clone(),
            root,
        })?;
        Ok(Node::Template {
            pos: tok.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        if self.depth >= MAX_NESTING {
            return Err(self.errorf(format!("template nesting exceeds {MAX_NESTING} levels")));
        }
        self.depth += 1;
        let r = crate::stack::grow(|| self.pipeline_inner(context, end));
        self.depth -= 1;
        r
    }

    fn pipeline_inner(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let first = self.peek_non_space();
        let mut pipe = Pipe {
            pos: first.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            let save = self.i;
            self.next_non_space();
            let after = self.peek().typ;
            let nxt = self.peek_non_space();
            match nxt.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = nxt.typ == ItemType::Assign;
                    self.next_non_space();
                    let name: Arc<str> = Arc::from(v.val.as_ref());
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                }
                ItemType::Char if nxt.val == "," => {
                    self.next_non_space();
                    let name: Arc<str> = Arc::from(v.val.as_ref());
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue 'decls;
                            }
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => {
                    let _ = after;
                    self.i = save;
                }
            }
            break;
        }
        loop {
            let tok = self.next_non_space();
            if tok.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match tok.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&tok, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool(..)
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number { .. }
                        | Arg::Str { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let tok = self.next();
            match tok.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&tok, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields: Vec<Arc<str>> = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            for part in f.val.split('.').filter(|s| !s.is_empty()) {
                fields.push(Arc::from(part));
            }
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Bool(..) | Arg::Str { .. } | Arg::Number { .. } | Arg::Nil(_) | Arg::Dot(_) => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::gofmt::quote(&node.to_string())
                )));
            }
            other => Arg::Chain {
                pos: chain_pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let tok = self.next_non_space();
        let pos = tok.pos;
        Ok(Some(match tok.typ {
            ItemType::Identifier => {
                let Some(func) = self.funcs.get(&tok.val) else {
                    return Err(self.errorf(format!(
                        "function {} not defined",
                        crate::gofmt::quote(&tok.val)
                    )));
                };
                Arg::Ident {
                    pos,
                    name: Arc::from(tok.val.as_ref()),
                    func,
                }
            }
            ItemType::Dot => Arg::Dot(pos),
            ItemType::Nil => Arg::Nil(pos),
            ItemType::Variable => {
                let idents: Vec<Arc<str>> = tok.val.split('.').map(Arc::from).collect();
                if !self.vars.iter().any(|v| **v == *idents[0]) {
                    return Err(self.errorf(format!(
                        "undefined variable {}",
                        crate::gofmt::quote(&idents[0])
                    )));
                }
                Arg::Variable { pos, idents }
            }
            ItemType::Field => {
                let idents = tok
                    .val
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(Arc::from)
                    .collect();
                Arg::Field { pos, idents }
            }
            ItemType::Bool => Arg::Bool(pos, tok.val == "true"),
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let value = parse_number(&tok.val, tok.typ == ItemType::CharConstant)
                    .map_err(|e| self.errorf(e))?;
                Arg::Number {
                    pos,
                    text: Arc::from(tok.val.as_ref()),
                    value,
                }
            }
            ItemType::LeftParen => Arg::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", ItemType::RightParen)?,
            )),
            ItemType::String | ItemType::RawString => {
                let s = self.unquote(&tok)?;
                Arg::Str {
                    pos,
                    quoted: Arc::from(tok.val.as_ref()),
                    value: Value::str(s),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}
