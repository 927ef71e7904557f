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
    /// A unique id, when the identity has one (ServiceAccounts).
    pub uid: Option<String>,
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
                uid: None,
            });
        }
        if let Some(sa) = crate::tokens::verify(cluster, token) {
            return Ok(sa);
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
    Some(UserInfo {
        name,
        groups,
        uid: None,
    })
}

/// Applies `Impersonate-User` / `Impersonate-Group` / `Impersonate-Uid` headers: the caller must
/// be allowed to impersonate each of them; the request then runs as the impersonated identity.
pub fn impersonate(
    cluster: &Cluster,
    user: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    let Some(target) = headers.get("impersonate-user") else {
        if headers.get("impersonate-group").is_some() {
            return Err(ApiError::bad_request(
                "requested [Impersonate-Group] without impersonating a user",
            ));
        }
        return Ok(user);
    };
    let target = target
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid Impersonate-User header"))?
        .to_string();
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    let uid = headers
        .get("impersonate-uid")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let check = |attrs: crate::rbac::Attributes, what: &str| -> Result<(), ApiError> {
        if cluster.rbac.allows(&user, &attrs) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                &attrs.api_group,
                &attrs.resource,
                attrs.name.as_deref().unwrap_or(""),
                &format!(
                    "User \"{}\" cannot impersonate resource \"{}\" in API group \"{}\"{what}",
                    user.name, attrs.resource, attrs.api_group
                ),
            ))
        }
    };
    let mut result_groups = groups.clone();
    if let Some(rest) = target.strip_prefix("system:serviceaccount:") {
        let (ns, name) = rest
            .split_once(':')
            .ok_or_else(|| ApiError::bad_request("invalid service account name"))?;
        check(
            crate::rbac::Attributes {
                verb: "impersonate".into(),
                namespace: Some(ns.into()),
                resource: "serviceaccounts".into(),
                name: Some(name.into()),
                ..Default::default()
            },
            &format!(" in the namespace \"{ns}\""),
        )?;
        if result_groups.is_empty() {
            result_groups = vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ];
        }
    } else {
        check(
            crate::rbac::Attributes {
                verb: "impersonate".into(),
                resource: "users".into(),
                name: Some(target.clone()),
                ..Default::default()
            },
            " at the cluster scope",
        )?;
    }
    for g in &groups {
        check(
            crate::rbac::Attributes {
                verb: "impersonate".into(),
                resource: "groups".into(),
                name: Some(g.clone()),
                ..Default::default()
            },
            " at the cluster scope",
        )?;
    }
    if let Some(u) = &uid {
        check(
            crate::rbac::Attributes {
                verb: "impersonate".into(),
                api_group: "authentication.k8s.io".into(),
                resource: "uids".into(),
                name: Some(u.clone()),
                ..Default::default()
            },
            " at the cluster scope",
        )?;
    }
    if target != "system:anonymous" && !result_groups.iter().any(|g| g == "system:authenticated") {
        result_groups.push("system:authenticated".into());
    }
    Ok(UserInfo {
        name: target,
        groups: result_groups,
        uid,
    })
}
