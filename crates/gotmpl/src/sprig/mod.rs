//! The Sprig v3 function library as Helm exposes it (without `env` and `expandenv`).

mod collections;
pub mod conv;
mod crypto;
mod dates;
mod defaults;
mod encoding;
pub mod json;
mod math;
mod paths;
mod random;
mod reflect;
mod regexp;
mod semver;
mod strings;
mod urls;
mod xstrings;

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

pub use crypto::Certificate;
pub use semver::{Version, constraint_matches};

/// Registers a function that only needs its arguments.
pub(crate) fn reg<F>(m: &mut FuncMap, name: &str, f: F)
where
    F: Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
{
    m.insert(name, move |_, a| f(a));
}

/// A function of one string argument that returns a string.
pub(crate) fn s1(
    f: fn(&str) -> String,
) -> impl Fn(&mut crate::CallContext<'_, '_>, &[Value]) -> Result<Value, FuncError> + Send + Sync + 'static
{
    move |_, a| Ok(Value::from(f(&conv::str_arg(a.first()))))
}

/// Go's builtins plus every Sprig function Helm keeps.
pub fn sprig() -> FuncMap {
    let mut m = FuncMap::new();
    strings::register(&mut m);
    collections::register(&mut m);
    math::register(&mut m);
    defaults::register(&mut m);
    json::register(&mut m);
    encoding::register(&mut m);
    paths::register(&mut m);
    reflect::register(&mut m);
    regexp::register(&mut m);
    urls::register(&mut m);
    random::register(&mut m);
    semver::register(&mut m);
    dates::register(&mut m);
    crypto::register(&mut m);
    m
}

/// The names of the Sprig functions [`sprig()`] provides, sorted.
pub fn sprig_function_names() -> Vec<String> {
    sprig().names()
}
