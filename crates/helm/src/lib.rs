//! Helm-compatible charts: loading (directories and `.tgz`), values (coalescing, `--set`,
//! schema validation), YAML exactly as Helm reads and writes it, and the rendering engine on
//! top of [`gotmpl`]. Start with [`chart::load`] and [`engine::render`], or
//! [`cli::template_command`] for `helm template`.

pub mod chart;
pub mod cli;
pub mod engine;
pub mod manifest;
pub mod release;
pub mod values;
pub mod yaml;
