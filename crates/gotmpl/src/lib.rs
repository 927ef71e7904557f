//! Go's `text/template` language and the Sprig v3 function library, in Rust.
//!
//! Start with [`Value`], the dynamic value templates work on.

mod value;

pub use value::{IntKind, Object, Value};
