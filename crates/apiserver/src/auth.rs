//! Who is calling: the admin bearer token, or a client certificate signed by the cluster CA.

use apimachinery::status::ApiError;
use http::HeaderMap;

use crate::cluster::Cluster;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// Whether the caller is a cluster administrator (`system:masters`).
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

/// The identity in a verified client certificate (CN = user, O = groups), if one was presented.
#[derive(Clone, Debug, Default)]
pub struct PeerCert {
    /// The certificate's identity, if the client sent one the CA signed.
    pub identity: Option<UserInfo>,
}

/// Compares secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Authenticates a request; anonymous requests are refused with 401.
pub fn authenticate(
    cluster: &Cluster,
    peer: &PeerCert,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    if let Some(auth) = headers.get(http::header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| ApiError::unauthorized())?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        if constant_time_eq(token.as_bytes(), cluster.credentials.admin_token.as_bytes()) {
            return Ok(UserInfo {
                name: "system:admin".into(),
                groups: vec!["system:masters".into(), "system:authenticated".into()],
            });
        }
        return Err(ApiError::unauthorized());
    }
    if let Some(mut id) = peer.identity.clone() {
        if !id.groups.iter().any(|g| g == "system:authenticated") {
            id.groups.push("system:authenticated".into());
        }
        return Ok(id);
    }
    Err(ApiError::unauthorized())
}

/// Reads CN and O from a DER certificate the TLS layer has already verified against the CA.
pub fn identity_from_der(der: &[u8]) -> Option<UserInfo> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(String::from))
        .collect();
    Some(UserInfo { name, groups })
}
