//! End-to-end tests of every platform route over HTTP (in-process host cluster + platform).

#[path = "../common/mod.rs"]
mod common;

mod access;
mod alerting;
mod appstore_helm;
mod audit;
mod console;
mod escalation;
mod events_logs;
mod extensions_install;
mod extensions_repository;
mod extensions_routing;
mod fairness;
mod github;
mod ldap;
mod migration;
mod monitoring;
mod oauth;
mod oidc;
mod oidc_provider;
mod openapi;
mod proxy;
mod repos;
mod repos_older_versions;
mod resources;
mod search_index;
mod storage_versions;
mod tenancy;
mod users;
mod wrong_types;
mod yamlapps;
