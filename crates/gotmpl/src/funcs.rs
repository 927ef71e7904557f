//! The function map templates call into, and the context a function gets to call back into the
//! template engine (Helm's `include` and `tpl` need that).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::FuncError;
use crate::exec::{CallContext, Shared};
use crate::value::Value;

/// A template function: gets the call context and the evaluated arguments.
pub type Func =
    Arc<dyn Fn(&mut CallContext<'_, '_>, &[Value]) -> Result<Value, FuncError> + Send + Sync>;

/// What a function name resolves to; `and`/`or` are special because they short-circuit.
#[derive(Clone)]
pub enum Callable {
    /// An ordinary function.
    Func(Func),
    /// Go's builtin `and`.
    And,
    /// Go's builtin `or`.
    Or,
}

impl fmt::Debug for Callable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Callable::Func(_) => f.write_str("Func"),
            Callable::And => f.write_str("And"),
            Callable::Or => f.write_str("Or"),
        }
    }
}

/// Functions by name. Go's builtins (`and`, `len`, `printf`, …) are always present unless an
/// entry of the same name replaces them, as in Go.
#[derive(Clone, Default)]
pub struct FuncMap {
    map: HashMap<String, Callable>,
}

impl FuncMap {
    /// An empty map (only Go's builtins).
    pub fn new() -> FuncMap {
        FuncMap::default()
    }

    /// Adds or replaces a function.
    pub fn insert<F>(&mut self, name: &str, f: F)
    where
        F: Fn(&mut CallContext<'_, '_>, &[Value]) -> Result<Value, FuncError>
            + Send
            + Sync
            + 'static,
    {
        self.map
            .insert(name.to_string(), Callable::Func(Arc::new(f)));
    }

    /// Adds or replaces a function given as a shared [`Func`].
    pub fn insert_func(&mut self, name: &str, f: Func) {
        self.map.insert(name.to_string(), Callable::Func(f));
    }

    /// Removes a function (Helm removes Sprig's `env` and `expandenv`).
    pub fn remove(&mut self, name: &str) {
        self.map.remove(name);
    }

    /// Looks a name up: the map first, then Go's builtins.
    pub fn get(&self, name: &str) -> Option<Callable> {
        if let Some(c) = self.map.get(name) {
            return Some(c.clone());
        }
        crate::builtins::builtin(name)
    }

    /// Whether a name resolves.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name) || crate::builtins::builtin(name).is_some()
    }

    /// The names added to this map (builtins not included), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.map.keys().cloned().collect();
        v.sort();
        v
    }
}

impl fmt::Debug for FuncMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuncMap")
            .field("len", &self.map.len())
            .finish()
    }
}

/// Calls a function outside template execution (tests, Helm helpers); no `include`/`tpl`.
pub fn call_detached(f: &Func, args: &[Value]) -> Result<Value, FuncError> {
    let limits = crate::exec::Limits::default();
    let mut shared = Shared::new(&limits);
    let templates = HashMap::new();
    let funcs = FuncMap::new();
    let layer = crate::template::Layer {
        templates: &templates,
        parent: None,
        funcs: &funcs,
        root_name: "",
    };
    let mut ctx = CallContext {
        layer: &layer,
        shared: &mut shared,
        template_name: "",
    };
    f(&mut ctx, args)
}
