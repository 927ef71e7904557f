//! Go's `text/template` language and the Sprig v3 function library, in Rust, faithful to the
//! byte so that Helm charts render exactly as Helm renders them.
//!
//! Start with [`TemplateSet`]: create one with a [`FuncMap`] (usually [`sprig()`] plus your
//! own functions), [`TemplateSet::parse`] sources into it, then [`TemplateSet::execute`] a
//! template with a [`Value`] as data. Functions receive a [`CallContext`] through which they
//! can execute other templates ([`CallContext::execute_template`], Helm's `include`) or parse
//! and run a string ([`CallContext::execute_source`], Helm's `tpl`).
//!
//! Semantics follow Helm's engine: missing map keys are Go's `missingkey=zero` (print as
//! `<no value>`, which Helm then replaces with ""), or errors with
//! [`Limits::missing_key_error`] (Helm's strict mode).

mod ast;
mod builtins;
mod error;
mod exec;
mod funcs;
pub mod gofmt;
mod lex;
mod number;
mod parse;
mod stack;
mod template;
mod value;

pub use ast::{Arg, Branch, Command, Node, Pipe, Tree};
pub use builtins::{
    eq as go_eq, html_escape, index as go_index, js_escape, lt as go_lt, query_escape,
};
pub use error::{FuncError, TemplateError};
pub use exec::{CallContext, Limits, is_true};
pub use funcs::{Callable, Func, FuncMap, call_detached};
pub use template::TemplateSet;
pub use value::{Dict, IntKind, Object, Value};
pub mod sprig;
pub use sprig::{sprig, sprig_function_names};
