//! YAML exactly as Helm reads and writes it (see [`decode`] and [`emit`]).

pub mod decode;
pub mod emit;
pub mod key_order;
pub mod resolve;

pub use decode::{YamlError, parse_documents, parse_map, parse_value};
pub use emit::{EmitError, marshal, to_yaml};

#[cfg(test)]
mod tests;
