//! Orrery as an OpenID Connect provider, so that kubectl (through an OIDC login plugin),
//! Grafana, Argo CD and the like can sign people in with their Orrery accounts. The HTTP side
//! is `http::oidc_provider`; this module holds what it stands on:
//!
//! - [`clients`]: OAuth clients as KubeSphere stores them (Secrets of type
//!   `config.kubesphere.io/oauthclient`), read at each request, with exact redirect-URI
//!   allow-lists;
//! - [`codes`]: single-use authorization codes bound to a client, a redirect URI, a person,
//!   scopes, a nonce and a PKCE challenge, kept as short-lived Secrets so any replica can
//!   redeem a code another issued;
//! - [`keys`]: the RSA keys ID tokens are signed with, kept in a host Secret (every replica
//!   signs with the same key), published as a JWKS with the previous key beside the current
//!   one so a rotation does not break tokens issued just before it;
//! - [`request`]: the checks an authorization request passes (pure);
//! - [`claims`]: what an ID token and the userinfo endpoint say about a person (pure).

pub mod claims;
pub mod clients;
pub mod codes;
pub mod keys;
pub mod request;

pub use keys::SigningKeys;
