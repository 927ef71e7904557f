//! Identity providers, configured as KubeSphere configures them: Secrets in `kubesphere-system`
//! of type `config.kubesphere.io/identityprovider` (label `config.kubesphere.io/type:
//! identityprovider`) whose `configuration.yaml` holds `name`, `type`, `mappingMethod`,
//! `hidden`, `disabled`, `displayName` and the provider's own settings under `provider`. They
//! are read from the host at each login, so a change applies without a restart.
//!
//! An upstream identity ([`Identity`]) becomes an Orrery user by [`map_identity`]: a user
//! already linked to it (annotation `iam.kubesphere.io/identity-provider.<idp>: <uid>`) is that
//! user; otherwise the mapping method decides — `auto` creates the user (never taking over an
//! existing user of the same name), `lookup` admits only linked users, `manual` lets the person
//! choose a username. Directory groups become GroupBindings of groups named `<idp>:<group>`
//! (prefixed, so no provider can put anyone into another provider's or a local group), which
//! the groups controller turns into the user's groups at all four levels.

pub mod github;
pub mod ldap;
pub mod oidc;

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;

use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// The Secret type of an identity provider's configuration.
pub const SECRET_TYPE: &str = "config.kubesphere.io/identityprovider";
/// The label selecting identity provider Secrets.
pub const SECRET_LABEL: &str = "config.kubesphere.io/type=identityprovider";
/// A user's link to an identity: `<prefix><idp>: <uid>`.
pub const LINK_PREFIX: &str = "iam.kubesphere.io/identity-provider.";
/// The label on the GroupBindings a provider made (their groups are that provider's).
pub const PROVIDER_LABEL: &str = "iam.orrery.io/identity-provider";
const USER_REF: &str = "iam.kubesphere.io/user-ref";

/// How a new identity becomes a user (KubeSphere's `mappingMethod`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingMethod {
    /// Create the user at first login.
    #[default]
    Auto,
    /// Only users already linked to the identity.
    Lookup,
    /// The person chooses a username at first login.
    Manual,
}

/// One configured identity provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfig {
    /// Its name (`provider=<name>`, `idp=<name>`).
    pub name: String,
    /// `LDAPIdentityProvider`, `OIDCIdentityProvider`, `GitHubIdentityProvider`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How a new identity becomes a user.
    #[serde(default)]
    pub mapping_method: MappingMethod,
    /// Not offered on the login page (still usable by name).
    #[serde(default)]
    pub hidden: bool,
    /// Not usable at all.
    #[serde(default)]
    pub disabled: bool,
    /// The name people see.
    #[serde(default)]
    pub display_name: String,
    /// The provider's own settings.
    #[serde(default)]
    pub provider: Value,
}

impl ProviderConfig {
    /// Whether it checks passwords itself (the password grant) rather than redirecting.
    pub fn is_password(&self) -> bool {
        self.kind.eq_ignore_ascii_case("LDAPIdentityProvider")
    }

    /// What the login page may show: name, type, display name, how to use it.
    pub fn public(&self) -> Value {
        json!({"name": self.name, "type": self.kind, "mappingMethod": self.mapping_method_str(),
            "displayName": if self.display_name.is_empty() { &self.name } else { &self.display_name },
            "password": self.is_password()})
    }

    fn mapping_method_str(&self) -> &'static str {
        match self.mapping_method {
            MappingMethod::Auto => "auto",
            MappingMethod::Lookup => "lookup",
            MappingMethod::Manual => "manual",
        }
    }
}

/// The text of a KubeSphere configuration Secret's `configuration.yaml` (identity providers,
/// OAuth clients); the reason on failure.
pub fn configuration_text(secret: &Value) -> Result<String, String> {
    let data = secret["data"]["configuration.yaml"]
        .as_str()
        .ok_or("no configuration.yaml")?;
    let bytes = B64
        .decode(data)
        .map_err(|_| "configuration.yaml is not base64")?;
    String::from_utf8(bytes).map_err(|_| "configuration.yaml is not UTF-8".to_string())
}

/// Parses a provider Secret's `configuration.yaml`; the reason on failure.
pub fn parse_secret(secret: &Value) -> Result<ProviderConfig, String> {
    let text = configuration_text(secret)?;
    let cfg: ProviderConfig =
        serde_saphyr::from_str(&text).map_err(|e| format!("configuration.yaml: {e}"))?;
    if cfg.name.is_empty() || cfg.name.contains([':', '/']) {
        return Err(format!(
            "name {:?} must be non-empty, without ':' or '/'",
            cfg.name
        ));
    }
    Ok(cfg)
}

/// Every configured provider (a Secret that cannot be read is logged and skipped).
pub async fn providers(state: &AppState) -> Result<Vec<ProviderConfig>, PlatformError> {
    let secrets = kubeapi::list(
        &state.client,
        Kind::Secret,
        Some(SYSTEM_NAMESPACE),
        SECRET_LABEL,
    )
    .await?;
    let mut out: Vec<ProviderConfig> = Vec::new();
    for s in secrets {
        if s["type"] != SECRET_TYPE {
            continue;
        }
        match parse_secret(&s) {
            Ok(cfg) if !out.iter().any(|c| c.name == cfg.name) => out.push(cfg),
            Ok(cfg) => {
                tracing::warn!(provider = %cfg.name, "identity provider defined twice; the first is used")
            }
            Err(why) => tracing::warn!(
                secret = s["metadata"]["name"].as_str().unwrap_or_default(),
                %why,
                "identity provider configuration ignored"
            ),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Checks a provider's settings against the provider itself (LDAP: connect, bind, search
/// base; OIDC: discovery and keys; GitHub: the settings only — github.com answers nothing
/// useful without a person). What was found, or why not.
pub async fn check(cfg: &ProviderConfig) -> Result<String, String> {
    if cfg.is_password() {
        let o = ldap::Options::from_value(&cfg.provider).map_err(|e| e.to_string())?;
        o.check().await.map_err(|e| e.to_string())
    } else if cfg.kind.eq_ignore_ascii_case("OIDCIdentityProvider") {
        oidc::Options::from_value(&cfg.provider)?.check().await
    } else if cfg.kind.eq_ignore_ascii_case("GitHubIdentityProvider") {
        github::Options::from_value(&cfg.provider)?;
        Ok("the settings are complete".into())
    } else {
        Err(format!(
            "type {:?} is none of LDAPIdentityProvider, OIDCIdentityProvider, GitHubIdentityProvider",
            cfg.kind
        ))
    }
}

/// The largest answer read from a provider.
const MAX_ANSWER: usize = 1 << 20;

/// A provider's JSON answer (whatever its status), at most [`MAX_ANSWER`] bytes.
async fn json_of(mut resp: reqwest::Response) -> Result<Value, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("the answer is larger than {MAX_ANSWER} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
}

/// The enabled provider `name`.
pub async fn provider(
    state: &AppState,
    name: &str,
) -> Result<Option<ProviderConfig>, PlatformError> {
    Ok(providers(state)
        .await?
        .into_iter()
        .find(|p| p.name == name && !p.disabled))
}

/// What an upstream identity says about a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The provider's name.
    pub provider: String,
    /// The provider's stable id of the person (LDAP: the login attribute; OIDC: `sub`).
    pub uid: String,
    /// The username it suggests.
    pub username: String,
    /// E-mail, if known.
    pub email: String,
    /// Display name, if known.
    pub display_name: String,
    /// Directory groups (names as the provider gives them).
    pub groups: Vec<String>,
}

/// What becomes of an identity at login.
#[derive(Debug)]
pub enum Mapped {
    /// This user.
    User(Value),
    /// `manual`: the person chooses a username first.
    ChooseUsername,
    /// Not admitted, and why.
    Refused(String),
}

/// The user linked to `idp`'s `uid`, if any.
pub fn linked_user(state: &AppState, idp: &str, uid: &str) -> Option<Value> {
    let key = format!("{LINK_PREFIX}{idp}");
    state
        .caches
        .users
        .list()
        .into_iter()
        .find(|u| u.obj["metadata"]["annotations"][&key].as_str() == Some(uid))
        .map(|u| u.obj.clone())
}

/// A username from what a provider suggests: a DNS label (lower case, `-` for anything else).
pub fn username_from(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    out.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Maps `id` of provider `cfg` to a user, creating or refusing as the mapping method says, and
/// brings the user's directory groups in step.
pub async fn map_identity(
    state: &AppState,
    cfg: &ProviderConfig,
    id: &Identity,
) -> Result<Mapped, PlatformError> {
    let user = match linked_user(state, &cfg.name, &id.uid) {
        Some(u) => u,
        None => match cfg.mapping_method {
            MappingMethod::Lookup => {
                return Ok(Mapped::Refused(format!(
                    "no user is linked to this {} identity; ask an administrator to link one",
                    cfg.name
                )));
            }
            MappingMethod::Manual => return Ok(Mapped::ChooseUsername),
            MappingMethod::Auto => {
                let name = username_from(&id.username);
                match create_linked(state, cfg, id, &name).await? {
                    Ok(u) => u,
                    Err(why) => return Ok(Mapped::Refused(why)),
                }
            }
        },
    };
    if user["status"]["state"].as_str() == Some("Disabled") {
        return Ok(Mapped::Refused("user is disabled".into()));
    }
    let name = user["metadata"]["name"].as_str().unwrap_or_default();
    sync_groups(state, &cfg.name, name, &id.groups).await?;
    Ok(Mapped::User(user))
}

/// Creates user `name` linked to `id` (no password: it logs in through the provider only).
/// `Err(why)` when the name is not usable or already taken (an existing user is never taken
/// over by an identity).
pub async fn create_linked(
    state: &AppState,
    cfg: &ProviderConfig,
    id: &Identity,
    name: &str,
) -> Result<Result<Value, String>, PlatformError> {
    if name.is_empty() || !apimachinery::validation::is_dns1123_label(name).is_empty() {
        return Ok(Err(format!("{name:?} cannot be a username (a DNS label)")));
    }
    if crate::http::load_user(state, name).await?.is_some() {
        return Ok(Err(format!(
            "a user named {name} already exists and is not linked to this {} identity",
            cfg.name
        )));
    }
    let mut spec = json!({});
    if !id.email.is_empty() {
        spec["email"] = id.email.clone().into();
    }
    if !id.display_name.is_empty() {
        spec["displayName"] = id.display_name.clone().into();
    }
    let user = json!({
        "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
        "metadata": {"name": name, "annotations": {
            format!("{LINK_PREFIX}{}", cfg.name): id.uid,
            "iam.kubesphere.io/origin-provider": cfg.name}},
        "spec": spec,
    });
    match kubeapi::create(&state.client, Kind::User, None, user).await {
        Ok(u) => {
            let patch = json!({"status": {"state": "Active"}});
            let _ = kubeapi::merge_patch_status(&state.client, Kind::User, None, name, patch).await;
            crate::http::settle(&state.caches.users, &u).await;
            Ok(Ok(u))
        }
        Err(e) if kubeapi::is_conflict(&e) => {
            Ok(Err(format!("a user named {name} already exists")))
        }
        Err(e) => Err(e),
    }
}

/// The group name a provider's directory group has in Orrery.
pub fn group_name(idp: &str, group: &str) -> String {
    format!("{idp}:{group}")
}

fn binding_name(idp: &str, user: &str, group: &str) -> String {
    let h = sha2::Sha256::digest(format!("{idp}\0{group}").as_bytes());
    let short: String = h.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{user}-idp-{short}")
}

/// Makes the GroupBindings of `user`'s directory groups from `idp` exactly `groups`.
pub async fn sync_groups(
    state: &AppState,
    idp: &str,
    user: &str,
    groups: &[String],
) -> Result<(), PlatformError> {
    let want: BTreeSet<String> = groups.iter().map(|g| group_name(idp, g)).collect();
    let have = kubeapi::list(
        &state.client,
        Kind::GroupBinding,
        None,
        &format!("{PROVIDER_LABEL}={idp},{USER_REF}={user}"),
    )
    .await?;
    let mut present = BTreeSet::new();
    for b in have {
        let g = b["groupRef"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if want.contains(&g) {
            present.insert(g);
        } else {
            let name = b["metadata"]["name"].as_str().unwrap_or_default();
            kubeapi::delete(&state.client, Kind::GroupBinding, None, name).await?;
        }
    }
    for g in want.difference(&present) {
        let b = json!({
            "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "GroupBinding",
            "metadata": {"name": binding_name(idp, user, g),
                "labels": {PROVIDER_LABEL: idp, USER_REF: user}},
            "groupRef": {"apiGroup": "iam.kubesphere.io", "kind": "Group", "name": g},
            "users": [user],
        });
        match kubeapi::create(&state.client, Kind::GroupBinding, None, b).await {
            Err(e) if kubeapi::is_conflict(&e) => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(yaml: &str) -> Value {
        json!({"type": SECRET_TYPE, "data": {"configuration.yaml": B64.encode(yaml)}})
    }

    #[test]
    fn kubesphere_provider_secrets_parse() {
        let cfg = parse_secret(&secret(
            "name: corp\ntype: LDAPIdentityProvider\nmappingMethod: lookup\nhidden: true\nprovider:\n  host: ldap.corp:389\n  managerDN: cn=admin\n",
        ))
        .expect("config");
        assert_eq!(cfg.name, "corp");
        assert!(cfg.is_password());
        assert_eq!(cfg.mapping_method, MappingMethod::Lookup);
        assert!(cfg.hidden && !cfg.disabled);
        assert_eq!(cfg.provider["host"], "ldap.corp:389");
        let public = cfg.public();
        assert_eq!(public["displayName"], "corp");
        assert!(
            public.get("provider").is_none(),
            "no settings (secrets) on the login page"
        );
        let auto = parse_secret(&secret("name: gh\ntype: GitHubIdentityProvider\n")).expect("gh");
        assert_eq!(auto.mapping_method, MappingMethod::Auto);
        for bad in [
            "name: ''\ntype: X\n",
            "name: a:b\ntype: X\n",
            "type: X\n",
            "name: x\nmappingMethod: sometimes\n",
            "[",
        ] {
            assert!(parse_secret(&secret(bad)).is_err(), "{bad}");
        }
        assert!(parse_secret(&json!({"data": {}})).is_err());
    }

    #[test]
    fn usernames_are_dns_labels() {
        assert_eq!(username_from("Alice.Smith"), "alice-smith");
        assert_eq!(username_from("  bob  "), "bob");
        assert_eq!(username_from("Zoë_99!"), "zo-99");
        assert_eq!(username_from("---"), "");
        assert_eq!(username_from(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn directory_groups_are_prefixed_and_bindings_named_stably() {
        assert_eq!(group_name("corp", "devs"), "corp:devs");
        let a = binding_name("corp", "alice", "corp:devs");
        assert_eq!(a, binding_name("corp", "alice", "corp:devs"));
        assert_ne!(a, binding_name("corp", "alice", "corp:ops"));
        assert!(apimachinery::validation::is_dns1123_subdomain(&a).is_empty());
    }
}
