//! The LDAP (and Active Directory) password provider, with KubeSphere's settings:
//!
//! ```yaml
//! provider:
//!   host: ldap.example.com:389        # or ldap://…, ldaps://…:636
//!   managerDN: cn=admin,dc=example,dc=com
//!   managerPassword: …
//!   startTLS: false
//!   insecureSkipVerify: false
//!   rootCAData: <base64 of PEM>       # or rootCA: <PEM>
//!   userSearchBase: ou=people,dc=example,dc=com
//!   userSearchFilter: (objectClass=inetOrgPerson)
//!   loginAttribute: uid
//!   mailAttribute: mail
//!   displayNameAttribute: cn
//!   groupSearchBase: ou=groups,dc=example,dc=com
//!   groupSearchFilter: (objectClass=groupOfNames)
//!   groupMemberAttribute: member      # holds the user's DN; memberUid holds the login name
//!   groupNameAttribute: cn
//!   readTimeout: 15000                # milliseconds
//! ```
//!
//! A login binds as the manager, finds exactly one user by the login attribute, then binds as
//! that user with the password. An empty password is refused before any bind (LDAP takes a
//! bind with a DN and no password as an unauthenticated bind, which succeeds), and every value
//! put into a filter is escaped (RFC 4515).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;

use super::Identity;

/// The provider's settings (`provider:` of its configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    host: String,
    #[serde(default, rename = "managerDN")]
    manager_dn: String,
    #[serde(default)]
    manager_password: String,
    #[serde(default, rename = "startTLS")]
    start_tls: bool,
    #[serde(default)]
    insecure_skip_verify: bool,
    #[serde(default, rename = "rootCA")]
    root_ca: String,
    #[serde(default, rename = "rootCAData")]
    root_ca_data: String,
    user_search_base: String,
    #[serde(default)]
    user_search_filter: String,
    #[serde(default = "uid")]
    login_attribute: String,
    #[serde(default = "mail")]
    mail_attribute: String,
    #[serde(default)]
    display_name_attribute: String,
    #[serde(default)]
    group_search_base: String,
    #[serde(default)]
    group_search_filter: String,
    #[serde(default = "member")]
    group_member_attribute: String,
    #[serde(default = "cn")]
    group_name_attribute: String,
    #[serde(default)]
    read_timeout: u64,
}

fn uid() -> String {
    "uid".into()
}
fn mail() -> String {
    "mail".into()
}
fn member() -> String {
    "member".into()
}
fn cn() -> String {
    "cn".into()
}

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// Wrong password, unknown or ambiguous user: a failed login.
    #[error("incorrect username or password")]
    Invalid,
    /// The directory could not be asked (down, TLS, manager bind): not the person's fault.
    #[error("the directory is not available: {0}")]
    Unavailable(String),
    /// The provider's settings are wrong.
    #[error("the LDAP provider is misconfigured: {0}")]
    Config(String),
}

impl Options {
    /// Reads the settings.
    pub fn from_value(v: &serde_json::Value) -> Result<Options, LdapError> {
        let o: Options =
            serde_json::from_value(v.clone()).map_err(|e| LdapError::Config(e.to_string()))?;
        if o.host.is_empty() || o.user_search_base.is_empty() {
            return Err(LdapError::Config(
                "host and userSearchBase are required".into(),
            ));
        }
        Ok(o)
    }

    fn url(&self) -> String {
        if self.host.contains("://") {
            self.host.clone()
        } else {
            format!("ldap://{}", self.host)
        }
    }

    fn timeout(&self) -> Duration {
        if self.read_timeout == 0 {
            Duration::from_secs(15)
        } else {
            Duration::from_millis(self.read_timeout)
        }
    }

    fn tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>, LdapError> {
        let pem = if !self.root_ca_data.is_empty() {
            B64.decode(self.root_ca_data.trim())
                .map_err(|_| LdapError::Config("rootCAData is not base64".into()))?
        } else if !self.root_ca.is_empty() {
            self.root_ca.as_bytes().to_vec()
        } else {
            return Ok(None);
        };
        let mut roots = rustls::RootCertStore::empty();
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| LdapError::Config(format!("rootCA: {e}")))?;
        if certs.is_empty() {
            return Err(LdapError::Config("rootCA holds no certificate".into()));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| LdapError::Config(format!("rootCA: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| LdapError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(Arc::new(config)))
    }

    async fn connect(&self) -> Result<ldap3::Ldap, LdapError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.start_tls)
            .set_no_tls_verify(self.insecure_skip_verify);
        if let Some(cfg) = self.tls()? {
            settings = settings.set_config(cfg);
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url())
            .await
            .map_err(|e| LdapError::Unavailable(e.to_string()))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// A connection bound as the manager (anonymous when no manager is set).
    async fn manager(&self) -> Result<ldap3::Ldap, LdapError> {
        let mut ldap = self.connect().await?;
        if !self.manager_dn.is_empty() {
            ldap.with_timeout(self.timeout())
                .simple_bind(&self.manager_dn, &self.manager_password)
                .await
                .map_err(|e| LdapError::Unavailable(e.to_string()))?
                .success()
                .map_err(|e| LdapError::Unavailable(format!("manager bind: {e}")))?;
        }
        Ok(ldap)
    }

    fn user_filter(&self, username: &str) -> String {
        let by_login = format!("({}={})", self.login_attribute, ldap_escape(username));
        if self.user_search_filter.is_empty() {
            by_login
        } else {
            format!("(&{}{by_login})", wrap(&self.user_search_filter))
        }
    }

    fn group_filter(&self, member_value: &str) -> String {
        let by_member = format!(
            "({}={})",
            self.group_member_attribute,
            ldap_escape(member_value)
        );
        if self.group_search_filter.is_empty() {
            by_member
        } else {
            format!("(&{}{by_member})", wrap(&self.group_search_filter))
        }
    }

    /// Checks the settings against the directory: it answers, the manager can bind, and the
    /// user search base exists. What was found, or why not.
    pub async fn check(&self) -> Result<String, LdapError> {
        let t = self.timeout();
        let mut ldap = self.manager().await?;
        let unavailable = |e: ldap3::LdapError| LdapError::Unavailable(e.to_string());
        let (found, _) = ldap
            .with_timeout(t)
            .search(
                &self.user_search_base,
                Scope::Subtree,
                &wrap(if self.user_search_filter.is_empty() {
                    "(objectClass=*)"
                } else {
                    &self.user_search_filter
                }),
                vec!["1.1"],
            )
            .await
            .map_err(unavailable)?
            .success()
            .map_err(|e| LdapError::Unavailable(format!("user search: {e}")))?;
        let _ = ldap.unbind().await;
        Ok(format!(
            "connected to {}; {} entries under {}",
            self.url(),
            found.len(),
            self.user_search_base
        ))
    }

    /// Checks `username`/`password` against the directory and says who the person is.
    pub async fn authenticate(
        &self,
        idp: &str,
        username: &str,
        password: &str,
    ) -> Result<Identity, LdapError> {
        // An empty password would make the user bind unauthenticated, which succeeds.
        if username.is_empty() || password.is_empty() {
            return Err(LdapError::Invalid);
        }
        let t = self.timeout();
        let mut ldap = self.manager().await?;
        let unavailable = |e: ldap3::LdapError| LdapError::Unavailable(e.to_string());
        let mut attrs = vec![self.login_attribute.as_str(), self.mail_attribute.as_str()];
        if !self.display_name_attribute.is_empty() {
            attrs.push(&self.display_name_attribute);
        }
        let (entries, _) = ldap
            .with_timeout(t)
            .search(
                &self.user_search_base,
                Scope::Subtree,
                &self.user_filter(username),
                attrs,
            )
            .await
            .map_err(unavailable)?
            .success()
            .map_err(|e| LdapError::Unavailable(format!("user search: {e}")))?;
        if entries.len() != 1 {
            let _ = ldap.unbind().await;
            return Err(LdapError::Invalid);
        }
        let entry = SearchEntry::construct(entries.into_iter().next().ok_or(LdapError::Invalid)?);
        let first = |a: &str| {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(a))
                .and_then(|(_, v)| v.first().cloned())
                .unwrap_or_default()
        };
        let login = first(&self.login_attribute);
        // The person's own bind, on a fresh connection (the manager's stays untouched).
        let mut user_conn = self.connect().await?;
        let bound = user_conn
            .with_timeout(t)
            .simple_bind(&entry.dn, password)
            .await
            .map_err(unavailable)?;
        let _ = user_conn.unbind().await;
        if bound.rc != 0 {
            let _ = ldap.unbind().await;
            return Err(LdapError::Invalid);
        }
        let mut groups = Vec::new();
        if !self.group_search_base.is_empty() {
            let member = if self
                .group_member_attribute
                .eq_ignore_ascii_case("memberUid")
            {
                login.clone()
            } else {
                entry.dn.clone()
            };
            let (found, _) = ldap
                .with_timeout(t)
                .search(
                    &self.group_search_base,
                    Scope::Subtree,
                    &self.group_filter(&member),
                    vec![self.group_name_attribute.as_str()],
                )
                .await
                .map_err(unavailable)?
                .success()
                .map_err(|e| LdapError::Unavailable(format!("group search: {e}")))?;
            for g in found {
                let g = SearchEntry::construct(g);
                if let Some(name) = g
                    .attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&self.group_name_attribute))
                    .and_then(|(_, v)| v.first())
                {
                    groups.push(name.clone());
                }
            }
            groups.sort();
            groups.dedup();
        }
        let _ = ldap.unbind().await;
        let display_name = if self.display_name_attribute.is_empty() {
            String::new()
        } else {
            first(&self.display_name_attribute)
        };
        Ok(Identity {
            provider: idp.to_string(),
            uid: if login.is_empty() {
                username.to_string()
            } else {
                login.clone()
            },
            username: if login.is_empty() {
                username.to_string()
            } else {
                login
            },
            email: first(&self.mail_attribute),
            display_name,
            groups,
        })
    }
}

/// A filter as configured, in parentheses (KubeSphere's examples leave them out at times).
fn wrap(filter: &str) -> String {
    let f = filter.trim();
    if f.starts_with('(') {
        f.to_string()
    } else {
        format!("({f})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(extra: serde_json::Value) -> Options {
        let mut v = json!({"host": "ldap.corp:389", "userSearchBase": "ou=people,dc=corp"});
        json_patch::merge(&mut v, &extra);
        Options::from_value(&v).expect("options")
    }

    #[test]
    fn filters_escape_what_people_type() {
        let o = opts(json!({"userSearchFilter": "objectClass=person"}));
        assert_eq!(o.user_filter("alice"), "(&(objectClass=person)(uid=alice))");
        // RFC 4515: *, (, ), \ and NUL are escaped, so a name cannot widen the search.
        assert_eq!(
            o.user_filter("*)(uid=*"),
            "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))"
        );
        assert_eq!(
            o.user_filter("a\\b\0"),
            "(&(objectClass=person)(uid=a\\5cb\\00))"
        );
        let g = opts(json!({"groupSearchFilter": "(objectClass=groupOfNames)"}));
        assert_eq!(
            g.group_filter("uid=a(b),dc=corp"),
            "(&(objectClass=groupOfNames)(member=uid=a\\28b\\29,dc=corp))"
        );
    }

    /// RFC 4515's reading of an assertion value: `\XX` is the byte XX.
    fn unescape(v: &str) -> Option<Vec<u8>> {
        let b = v.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' {
                out.push(u8::from_str_radix(v.get(i + 1..i + 3)?, 16).ok()?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        Some(out)
    }

    proptest::proptest! {
        /// Whatever people type, the filter keeps its shape: the value holds no unescaped
        /// `*`, `(`, `)`, `\` or NUL, and reads back as exactly what was typed.
        #[test]
        fn any_username_stays_one_value(name in "[a-z*()\\\\\\x00=&|! \u{e9}\u{4e2d}]{0,12}") {
            let o = opts(json!({"userSearchFilter": "(objectClass=person)"}));
            let f = o.user_filter(&name);
            let value = f
                .strip_prefix("(&(objectClass=person)(uid=")
                .and_then(|v| v.strip_suffix("))"))
                .expect("the filter's shape");
            proptest::prop_assert!(!value.contains(['*', '(', ')', '\0']), "{:?}", f);
            proptest::prop_assert_eq!(unescape(value), Some(name.as_bytes().to_vec()));
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(Options::from_value(&json!({"host": "x"})).is_err());
        assert_eq!(opts(json!({})).url(), "ldap://ldap.corp:389");
        assert_eq!(
            opts(json!({"host": "ldaps://ldap.corp:636"})).url(),
            "ldaps://ldap.corp:636"
        );
        assert!(matches!(
            opts(json!({"rootCAData": "%%%"})).tls(),
            Err(LdapError::Config(_))
        ));
        assert!(matches!(
            opts(json!({"rootCA": "not a pem"})).tls(),
            Err(LdapError::Config(_))
        ));
    }

    #[tokio::test]
    async fn an_empty_password_never_reaches_the_directory() {
        // Port 9 (discard) on loopback: any connection attempt would fail as Unavailable.
        let o = opts(json!({"host": "127.0.0.1:9"}));
        assert!(matches!(
            o.authenticate("x", "alice", "").await,
            Err(LdapError::Invalid)
        ));
        assert!(matches!(
            o.authenticate("x", "", "pw").await,
            Err(LdapError::Invalid)
        ));
        assert!(matches!(
            o.authenticate("x", "alice", "pw").await,
            Err(LdapError::Unavailable(_))
        ));
    }
}
