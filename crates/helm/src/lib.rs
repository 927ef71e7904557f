//! Helm-compatible charts, rendering byte for byte like Helm v4: loading (directories and
//! `.tgz`, `.helmignore`, limits for untrusted archives), values (coalescing, dependencies,
//! `--set`, schema validation), YAML exactly as Helm reads and writes it, and Helm's engine on
//! top of [`gotmpl`].
//!
//! Start with [`chart::load`], then [`engine::render_chart`] (template path → output, like
//! Helm's `engine.Render`) or [`release::render_release`] (the release manifest, hooks and
//! notes an install produces). The `helm` command line is the binary's (`orrery helm`).

pub mod action;
pub mod chart;
pub mod engine;
pub mod manifest;
pub mod release;
pub mod values;
pub mod yaml;
