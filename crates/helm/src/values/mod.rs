//! Values: coalescing ([`coalesce`]), dependency processing ([`deps`]), `--set` parsing
//! ([`strvals`]) and schema validation ([`schema`]).

pub mod coalesce;
pub mod deps;
pub mod schema;
pub mod semver;
pub mod strvals;

pub use coalesce::{Map, coalesce_values, merge_values};
pub use deps::process_dependencies;
