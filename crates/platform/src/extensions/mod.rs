//! The extension framework (KubeSphere 4's "LuBan"): the marketplace kinds, and the
//! `extensions.kubesphere.io` routes served after the platform's authorization. See
//! `docs/extensions.md`.

pub mod agents;
pub mod authoring;
pub mod bundles;
pub mod chart;
pub mod crds;
pub mod files;
pub mod install;
pub mod package;
pub mod permissions;
pub mod repository;
pub mod reverse;
pub mod routing;
