//! Executes parse trees with Go's `text/template` semantics (Helm's `missingkey=zero` by
//! default): variables, `if`/`with`/`range`, field chains, function calls and printing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::ast::{Arg, Branch, Command, Node, Pipe, Tree};
use crate::error::{FuncError, TemplateError};
use crate::funcs::Callable;
use crate::gofmt;
use crate::template::{Layer, associate};
use crate::value::Value;

/// Resource limits for one execution (including nested `template`, `include` and `tpl` calls).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum nesting of template calls (`template`, `include`, `tpl`).
    pub max_depth: usize,
    /// Execution fails once this instant has passed.
    pub deadline: Option<Instant>,
    /// Maximum bytes of output, counting nested executions.
    pub max_output: usize,
    /// Go's `missingkey=error` (Helm's strict mode) instead of `missingkey=zero`.
    pub missing_key_error: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 1000,
            deadline: None,
            max_output: 64 << 20,
            missing_key_error: false,
        }
    }
}

/// State shared by an execution and all executions nested in it.
pub(crate) struct Shared {
    limits: Limits,
    depth: usize,
    output: usize,
    ticks: u32,
}

impl Shared {
    pub(crate) fn new(limits: &Limits) -> Shared {
        Shared {
            limits: limits.clone(),
            depth: 0,
            output: 0,
            ticks: 0,
        }
    }

    fn wrote(&mut self, n: usize) -> Result<(), TemplateError> {
        self.output += n;
        if self.output > self.limits.max_output {
            return Err(TemplateError::Limit(format!(
                "template output exceeds the limit of {} bytes",
                self.limits.max_output
            )));
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<(), TemplateError> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(256)
            && let Some(d) = self.limits.deadline
            && Instant::now() > d
        {
            return Err(TemplateError::Limit(
                "template execution took too long (deadline exceeded)".into(),
            ));
        }
        Ok(())
    }
}

/// What a template function gets besides its arguments: a way back into the engine.
pub struct CallContext<'a, 'p> {
    pub(crate) layer: &'a Layer<'p>,
    pub(crate) shared: &'a mut Shared,
    pub(crate) template_name: &'a str,
}

impl CallContext<'_, '_> {
    /// The name of the template being executed.
    pub fn template_name(&self) -> &str {
        self.template_name
    }

    /// The limits of this execution.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Current nesting depth of template calls.
    pub fn depth(&self) -> usize {
        self.shared.depth
    }

    /// Whether a template of that name is visible.
    pub fn has_template(&self, name: &str) -> bool {
        self.layer.lookup(name).is_some()
    }

    /// Executes the named template with `data` into a string (Helm's `include`).
    pub fn execute_template(&mut self, name: &str, data: &Value) -> Result<String, FuncError> {
        let Some(tree) = self.layer.lookup(name) else {
            return Err(TemplateError::NoTemplate {
                name: name.to_string(),
                root: self.layer.root_name.to_string(),
            }
            .into());
        };
        let tree = tree.clone();
        let mut out = String::new();
        execute_tree(self.layer, self.shared, &tree, data, &mut out)?;
        Ok(out)
    }

    /// Parses `source` as template `name` in a copy of the current set and executes it with
    /// `data` (Helm's `tpl`); `define`s in `source` are visible only inside this call.
    pub fn execute_source(
        &mut self,
        name: &str,
        source: &str,
        data: &Value,
    ) -> Result<String, FuncError> {
        let trees = crate::parse::parse(name, source, self.layer.funcs)?;
        let mut overlay = HashMap::new();
        associate(&mut overlay, trees);
        let layer = Layer {
            templates: &overlay,
            parent: Some(self.layer),
            funcs: self.layer.funcs,
            root_name: self.layer.root_name,
        };
        let Some(tree) = layer.lookup(name) else {
            return Err(TemplateError::NoTemplate {
                name: name.to_string(),
                root: self.layer.root_name.to_string(),
            }
            .into());
        };
        let tree = tree.clone();
        let mut out = String::new();
        execute_tree(&layer, self.shared, &tree, data, &mut out)?;
        Ok(out)
    }
}

/// Runs a tree with `data` as dot and `$`.
pub(crate) fn execute_tree(
    layer: &Layer<'_>,
    shared: &mut Shared,
    tree: &Arc<Tree>,
    data: &Value,
    out: &mut String,
) -> Result<(), TemplateError> {
    if shared.depth >= shared.limits.max_depth {
        return Err(TemplateError::Limit(format!(
            "exceeded maximum template depth ({}) executing {}",
            shared.limits.max_depth,
            gofmt::quote(&tree.name)
        )));
    }
    shared.depth += 1;
    let mut ex = Exec {
        layer,
        tree,
        shared: &mut *shared,
        vars: vec![Var {
            name: Arc::from("$"),
            value: data.clone(),
            iface: false,
        }],
        at: At::None,
    };
    let dot = Slot {
        v: data.clone(),
        iface: false,
    };
    let r = ex.walk(&dot, &tree.root, out);
    shared.depth -= 1;
    match r {
        Ok(()) => Ok(()),
        Err(Stop::Err(e)) => Err(*e),
        Err(Stop::Break | Stop::Continue) => Ok(()),
    }
}

/// A value with whether it sits in an `interface{}` slot (a map value or list element):
/// Go then reports a nil pointer on field access instead of yielding no value.
#[derive(Clone)]
struct Slot {
    v: Value,
    iface: bool,
}

impl Slot {
    fn plain(v: Value) -> Slot {
        Slot { v, iface: false }
    }
}

struct Var {
    name: Arc<str>,
    value: Value,
    iface: bool,
}

enum Stop {
    Break,
    Continue,
    Err(Box<TemplateError>),
}

impl From<TemplateError> for Stop {
    fn from(e: TemplateError) -> Self {
        Stop::Err(Box::new(e))
    }
}

impl From<Box<TemplateError>> for Stop {
    fn from(e: Box<TemplateError>) -> Self {
        Stop::Err(e)
    }
}

#[derive(Clone, Copy)]
enum At<'t> {
    None,
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

/// Errors are boxed so results stay small on the hot paths.
type EResult<T> = Result<T, Box<TemplateError>>;

struct Exec<'t, 'a, 'p> {
    layer: &'a Layer<'p>,
    tree: &'t Tree,
    shared: &'a mut Shared,
    vars: Vec<Var>,
    at: At<'t>,
}

fn node_pos(n: &Node) -> usize {
    match n {
        Node::Text(_) => 0,
        Node::Action(p) => p.pos,
        Node::If(b) | Node::Range(b) | Node::With(b) => b.pipe.pos,
        Node::Template { pos, .. } | Node::Break(pos) | Node::Continue(pos) => *pos,
    }
}

impl<'t, 'a, 'p> Exec<'t, 'a, 'p> {
    fn errorf(&self, msg: impl Into<String>) -> Box<TemplateError> {
        Box::new(self.error_at(msg))
    }

    fn error_at(&self, msg: impl Into<String>) -> TemplateError {
        let (pos, ctx) = match self.at {
            At::None => {
                return TemplateError::Exec {
                    name: self.tree.name.to_string(),
                    location: None,
                    context: None,
                    msg: msg.into(),
                };
            }
            At::Node(n) => (node_pos(n), n.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Arg(a) => (a.pos(), a.to_string()),
        };
        TemplateError::Exec {
            name: self.tree.name.to_string(),
            location: Some(self.tree.location(pos)),
            context: Some(ctx),
            msg: msg.into(),
        }
    }

    fn write(&mut self, out: &mut String, s: &str) -> EResult<()> {
        out.push_str(s);
        Ok(self.shared.wrote(s.len())?)
    }

    fn walk(&mut self, dot: &Slot, nodes: &'t [Node], out: &mut String) -> Result<(), Stop> {
        // Nested blocks and template calls recurse; grow the stack instead of overflowing it.
        crate::stack::grow(|| {
            for n in nodes {
                self.walk_node(dot, n, out)?;
            }
            Ok(())
        })
    }

    fn walk_node(&mut self, dot: &Slot, node: &'t Node, out: &mut String) -> Result<(), Stop> {
        self.at = At::Node(node);
        match node {
            Node::Text(t) => self.write(out, t)?,
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    match &v {
                        Value::Nil => self.write(out, "<no value>")?,
                        Value::String(s) => self.write(out, s)?,
                        other => {
                            let s = gofmt::sprint_value(other);
                            self.write(out, &s)?;
                        }
                    }
                }
            }
            Node::If(b) => self.walk_if_with(dot, b, false, out)?,
            Node::With(b) => self.walk_if_with(dot, b, true, out)?,
            Node::Range(b) => self.walk_range(dot, node, b, out)?,
            Node::Template { name, pipe, .. } => {
                let Some(tree) = self.layer.lookup(name) else {
                    return Err(self
                        .errorf(format!("template {} not defined", gofmt::quote(name)))
                        .into());
                };
                let tree = tree.clone();
                let data = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                self.shared.tick()?;
                execute_tree(self.layer, self.shared, &tree, &data, out)?;
            }
            Node::Break(_) => return Err(Stop::Break),
            Node::Continue(_) => return Err(Stop::Continue),
        }
        Ok(())
    }

    fn walk_if_with(
        &mut self,
        dot: &Slot,
        b: &'t Branch,
        with: bool,
        out: &mut String,
    ) -> Result<(), Stop> {
        let mark = self.vars.len();
        let r = (|| {
            let v = self.eval_pipeline(dot, &b.pipe)?;
            if is_true(&v) {
                if with {
                    self.walk(&Slot::plain(v), &b.list, out)
                } else {
                    self.walk(dot, &b.list, out)
                }
            } else if let Some(e) = &b.else_list {
                self.walk(dot, e, out)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(
        &mut self,
        dot: &Slot,
        node: &'t Node,
        b: &'t Branch,
        out: &mut String,
    ) -> Result<(), Stop> {
        let mark = self.vars.len();
        let r = self.walk_range_inner(dot, node, b, out);
        self.vars.truncate(mark);
        match r {
            Err(Stop::Break) => Ok(()),
            other => other,
        }
    }

    fn set_top_var(&mut self, n: usize, v: Value, iface: bool) {
        let len = self.vars.len();
        if let Some(var) = self.vars.get_mut(len - n) {
            var.value = v;
            var.iface = iface;
        }
    }

    fn one_iteration(
        &mut self,
        b: &'t Branch,
        mark: usize,
        index: Value,
        elem: Slot,
        out: &mut String,
    ) -> Result<(), Stop> {
        self.shared.tick()?;
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone(), false)?;
                } else {
                    self.set_var(&decl[0], elem.v.clone(), elem.iface)?;
                }
            } else {
                self.set_top_var(1, elem.v.clone(), elem.iface);
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.v.clone(), elem.iface)?;
            } else {
                self.set_top_var(2, index, false);
            }
        }
        let r = self.walk(&elem, &b.list, out);
        self.vars.truncate(mark);
        match r {
            Err(Stop::Continue) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(
        &mut self,
        dot: &Slot,
        _node: &'t Node,
        b: &'t Branch,
        out: &mut String,
    ) -> Result<(), Stop> {
        let val = self.eval_pipeline(dot, &b.pipe)?.collection_view();
        let mark = self.vars.len();
        match &val {
            Value::List(items) => {
                if !items.is_empty() {
                    for (i, e) in items.iter().enumerate() {
                        self.one_iteration(
                            b,
                            mark,
                            Value::int(i as i64),
                            Slot {
                                v: e.clone(),
                                iface: true,
                            },
                            out,
                        )?;
                    }
                    return Ok(());
                }
            }
            Value::Bytes(bytes) => {
                if !bytes.is_empty() {
                    for (i, e) in bytes.iter().enumerate() {
                        self.one_iteration(
                            b,
                            mark,
                            Value::int(i as i64),
                            Slot::plain(Value::Uint(*e as u64)),
                            out,
                        )?;
                    }
                    return Ok(());
                }
            }
            Value::Map(m) => {
                let m = m.snapshot();
                if !m.is_empty() {
                    for (k, e) in m.iter() {
                        self.one_iteration(
                            b,
                            mark,
                            Value::str(k.as_str()),
                            Slot {
                                v: e.clone(),
                                iface: true,
                            },
                            out,
                        )?;
                    }
                    return Ok(());
                }
            }
            Value::Int(n, kind) => {
                if b.pipe.decl.len() > 1 {
                    return Err(self
                        .errorf(format!(
                            "can't use {n} to iterate over more than one variable"
                        ))
                        .into());
                }
                if *n > 0 {
                    for i in 0..*n {
                        self.one_iteration(
                            b,
                            mark,
                            Value::Nil,
                            Slot::plain(Value::Int(i, *kind)),
                            out,
                        )?;
                    }
                    return Ok(());
                }
            }
            Value::Uint(n) => {
                if b.pipe.decl.len() > 1 {
                    return Err(self
                        .errorf(format!(
                            "can't use {n} to iterate over more than one variable"
                        ))
                        .into());
                }
                if *n > 0 {
                    for i in 0..*n {
                        self.one_iteration(b, mark, Value::Nil, Slot::plain(Value::Uint(i)), out)?;
                    }
                    return Ok(());
                }
            }
            Value::Nil => {}
            other => {
                return Err(self
                    .errorf(format!(
                        "range can't iterate over {}",
                        gofmt::sprint_value(other)
                    ))
                    .into());
            }
        }
        if let Some(e) = &b.else_list {
            self.walk(dot, e, out)?;
        }
        Ok(())
    }

    fn var_value(&self, name: &str) -> EResult<Slot> {
        for v in self.vars.iter().rev() {
            if *v.name == *name {
                return Ok(Slot {
                    v: v.value.clone(),
                    iface: v.iface,
                });
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn set_var(&mut self, name: &str, value: Value, iface: bool) -> EResult<()> {
        for v in self.vars.iter_mut().rev() {
            if *v.name == *name {
                v.value = value;
                v.iface = iface;
                return Ok(());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn eval_pipeline(&mut self, dot: &Slot, pipe: &'t Pipe) -> EResult<Value> {
        crate::stack::grow(|| self.eval_pipeline_inner(dot, pipe))
    }

    fn eval_pipeline_inner(&mut self, dot: &Slot, pipe: &'t Pipe) -> EResult<Value> {
        self.at = At::Pipe(pipe);
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for d in &pipe.decl {
            if pipe.is_assign {
                self.set_var(d, value.clone(), false)?;
            } else {
                self.vars.push(Var {
                    name: d.clone(),
                    value: value.clone(),
                    iface: false,
                });
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &'t [Arg], fin: &Option<Value>) -> EResult<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Slot, cmd: &'t Command, fin: Option<Value>) -> EResult<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                return Ok(self
                    .eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, fin)?
                    .v);
            }
            Arg::Chain { node, fields, .. } => {
                self.at = At::Arg(first);
                let recv = self.eval_chain_receiver(dot, first, node)?;
                return Ok(self
                    .eval_field_chain(dot, recv, first, fields, &cmd.args, fin)?
                    .v);
            }
            Arg::Ident { name, func, .. } => {
                return self.eval_function(dot, first, name, func, At::Cmd(cmd), &cmd.args, fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { idents, .. } => {
                self.at = At::Arg(first);
                let v = self.var_value(&idents[0])?;
                if idents.len() == 1 {
                    self.not_a_function(&cmd.args, &fin)?;
                    return Ok(v.v);
                }
                return Ok(self
                    .eval_field_chain(dot, v, first, &idents[1..], &cmd.args, fin)?
                    .v);
            }
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Dot(_) => Ok(dot.v.clone()),
            Arg::Nil(_) => Err(self.errorf("nil is not a command")),
            Arg::Number { value, .. } => value.clone().map_err(|m| self.errorf(m.to_string())),
            Arg::Str { value, .. } => Ok(value.clone()),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                gofmt::quote(&first.to_string())
            ))),
        }
    }

    fn eval_chain_receiver(&mut self, dot: &Slot, chain: &'t Arg, node: &'t Arg) -> EResult<Slot> {
        if let Arg::Nil(_) = node {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        Ok(Slot::plain(self.eval_arg(dot, node)?))
    }

    fn eval_field_chain(
        &mut self,
        dot: &Slot,
        mut recv: Slot,
        node: &'t Arg,
        idents: &'t [Arc<str>],
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> EResult<Slot> {
        let n = idents.len();
        for id in &idents[..n - 1] {
            recv = self.eval_field(dot, id, node, &[], None, recv)?;
        }
        self.eval_field(dot, &idents[n - 1], node, args, fin, recv)
    }

    fn eval_field(
        &mut self,
        dot: &Slot,
        name: &str,
        node: &'t Arg,
        args: &'t [Arg],
        fin: Option<Value>,
        recv: Slot,
    ) -> EResult<Slot> {
        let has_args = args.len() > 1 || fin.is_some();
        match &recv.v {
            Value::Nil => {
                if recv.iface {
                    self.at = At::Arg(node);
                    return Err(
                        self.errorf(format!("nil pointer evaluating interface {{}}.{name}"))
                    );
                }
                if self.shared.limits.missing_key_error {
                    return Err(
                        self.errorf(format!("nil data; no entry for key {}", gofmt::quote(name)))
                    );
                }
                Ok(Slot::plain(Value::Nil))
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                match m.get(name) {
                    Some(v) => Ok(Slot { v, iface: true }),
                    None => {
                        if self.shared.limits.missing_key_error {
                            return Err(self.errorf(format!(
                                "map has no entry for key {}",
                                gofmt::quote(name)
                            )));
                        }
                        Ok(Slot {
                            v: Value::Nil,
                            iface: true,
                        })
                    }
                }
            }
            Value::Object(o) => {
                if has_args {
                    let mut argv = Vec::with_capacity(args.len());
                    for a in args.iter().skip(1) {
                        argv.push(self.eval_arg(dot, a)?);
                    }
                    if let Some(f) = fin {
                        argv.push(f);
                    }
                    return match o.call(name, &argv) {
                        Some(Ok(v)) => Ok(Slot::plain(v)),
                        Some(Err(e)) => {
                            self.at = At::Arg(node);
                            Err(self.errorf(format!("error calling {name}: {e}")))
                        }
                        None if o.field(name).is_some() => Err(self.errorf(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ))),
                        None => Err(self.errorf(format!(
                            "can't evaluate field {name} in type {}",
                            o.type_name()
                        ))),
                    };
                }
                if let Some(v) = o.field(name) {
                    return Ok(Slot::plain(v));
                }
                match o.call(name, &[]) {
                    Some(Ok(v)) => Ok(Slot::plain(v)),
                    Some(Err(e)) => Err(self.errorf(format!("error calling {name}: {e}"))),
                    None => Err(self.errorf(format!(
                        "can't evaluate field {name} in type {}",
                        o.type_name()
                    ))),
                }
            }
            other => {
                let typ = if recv.iface {
                    "interface {}".to_string()
                } else {
                    other.type_name()
                };
                Err(self.errorf(format!("can't evaluate field {name} in type {typ}")))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_function(
        &mut self,
        dot: &Slot,
        ident: &'t Arg,
        name: &str,
        func: &'t Callable,
        call_at: At<'t>,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> EResult<Value> {
        self.at = At::Arg(ident);
        match func {
            Callable::And | Callable::Or => {
                let is_or = matches!(func, Callable::Or);
                if args.len() < 2 && fin.is_none() {
                    return Err(self.errorf(format!(
                        "wrong number of args for {name}: want at least 1 got 0"
                    )));
                }
                let mut v = Value::Nil;
                for a in &args[1..] {
                    v = self.eval_arg(dot, a)?;
                    if is_true(&v) == is_or {
                        return Ok(v);
                    }
                }
                if let Some(f) = fin {
                    v = f;
                }
                Ok(v)
            }
            Callable::Func(f) => {
                let mut argv = Vec::with_capacity(args.len());
                for a in &args[1..] {
                    argv.push(self.eval_arg(dot, a)?);
                }
                if let Some(f) = fin {
                    argv.push(f);
                }
                // Both borrow from the tree ('t), not from self: no reference-count traffic.
                let tree: &'t Tree = self.tree;
                let mut ctx = CallContext {
                    layer: self.layer,
                    shared: self.shared,
                    template_name: &tree.name,
                };
                match f(&mut ctx, &argv) {
                    Ok(v) => Ok(v),
                    Err(FuncError::Template(e)) if matches!(*e, TemplateError::Limit(_)) => Err(e),
                    Err(FuncError::Arity(m)) => Err(self.errorf(m)),
                    Err(e) => {
                        self.at = call_at;
                        Err(self.errorf(format!("error calling {name}: {e}")))
                    }
                }
            }
        }
    }

    fn eval_arg(&mut self, dot: &Slot, arg: &'t Arg) -> EResult<Value> {
        self.at = At::Arg(arg);
        match arg {
            Arg::Dot(_) => Ok(dot.v.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Field { idents, .. } => Ok(self
                .eval_field_chain(
                    dot,
                    dot.clone(),
                    arg,
                    idents,
                    std::slice::from_ref(arg),
                    None,
                )?
                .v),
            Arg::Variable { idents, .. } => {
                let v = self.var_value(&idents[0])?;
                if idents.len() == 1 {
                    return Ok(v.v);
                }
                Ok(self
                    .eval_field_chain(dot, v, arg, &idents[1..], &[], None)?
                    .v)
            }
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Ident { name, func, .. } => self.eval_function(
                dot,
                arg,
                name,
                func,
                At::Arg(arg),
                std::slice::from_ref(arg),
                None,
            ),
            Arg::Chain { node, fields, .. } => {
                let recv = self.eval_chain_receiver(dot, arg, node)?;
                Ok(self.eval_field_chain(dot, recv, arg, fields, &[], None)?.v)
            }
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Number { value, .. } => value.clone().map_err(|m| self.errorf(m.to_string())),
            Arg::Str { value, .. } => Ok(value.clone()),
        }
    }
}

/// Go's `isTrue`: the truth of a value in `if`, `with`, `and`, `or`, `not`.
pub fn is_true(v: &Value) -> bool {
    match v {
        Value::Nil => false,
        Value::Bool(b) => *b,
        Value::Int(i, _) => *i != 0,
        Value::Uint(u) => *u != 0,
        Value::Float(f) => *f != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
        Value::Object(o) => match o.to_value() {
            Value::Nil => true,
            inner => is_true(&inner),
        },
    }
}
