//! Who may do what: authentication (`auth`, ServiceAccount `tokens`, client certificates),
//! authorization (`authz` over the RBAC cache in `rbac`), RBAC's escalate/bind rules
//! (`escalation`), and the cluster's PKI.

pub mod auth;
pub(crate) mod authz;
pub mod encryption;
pub(crate) mod escalation;
pub mod pki;
pub(crate) mod rbac;
pub(crate) mod tokens;
