//! Reaching a member cluster from its kubeconfig: parsing, the safety checks that come before
//! any client is built (exec allow-list, no local files), the client, and the probe that reads
//! the member's identity and facts.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig, NamedAuthInfo};
use serde_json::Value;

/// Why a kubeconfig cannot be used to reach a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig could not be parsed or misses a part.
    #[error("malformed kubeconfig: {0}")]
    Malformed(String),
    /// An exec plugin whose command is not on the operator's allow-list.
    #[error(
        "exec plugin command {0:?} is not allowed on this platform (allowed: {1}); an operator can add it with --exec-plugin-allow"
    )]
    ExecNotAllowed(String, String),
    /// The kubeconfig names a file on the platform's machine.
    #[error("kubeconfig field {0} refers to a local file; embed the data instead (e.g. {0}-data)")]
    LocalFile(&'static str),
    /// The server did not answer.
    #[error("cluster unreachable: {0}")]
    Unreachable(String),
    /// The server answered but refused the credentials.
    #[error("cluster refused the credentials: {0}")]
    Credentials(String),
    /// The server did not answer in time.
    #[error("cluster did not answer within {0} s")]
    Timeout(u64),
}

/// The YAML text of a kubeconfig given as base64 (as in a Cluster's spec) or as plain YAML.
pub fn decode(raw: &str) -> Result<String, ConnectError> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    match B64.decode(compact.as_bytes()) {
        Ok(bytes) if !compact.is_empty() => String::from_utf8(bytes)
            .map_err(|_| ConnectError::Malformed("base64 data is not UTF-8 text".into())),
        _ => Ok(raw.to_string()),
    }
}

impl ConnectError {
    /// A message safe to log or show to anyone who may read the Cluster: parser errors can
    /// quote parts of the kubeconfig, so they are not repeated.
    pub fn public_message(&self) -> String {
        match self {
            ConnectError::Malformed(_) => {
                "the stored kubeconfig is malformed; replace it (PUT …/clusters/{c}/kubeconfig)"
                    .into()
            }
            other => other.to_string(),
        }
    }
}

/// Reads a kubeconfig given as base64 (as in a Cluster's spec) or as plain YAML.
pub fn parse(raw: &str) -> Result<Kubeconfig, ConnectError> {
    let text = decode(raw)?;
    if text.trim().is_empty() {
        return Err(ConnectError::Malformed("the kubeconfig is empty".into()));
    }
    let kc = Kubeconfig::from_yaml(&text).map_err(|e| ConnectError::Malformed(e.to_string()))?;
    if kc.clusters.is_empty() || kc.contexts.is_empty() {
        return Err(ConnectError::Malformed(
            "it needs at least one cluster and one context".into(),
        ));
    }
    Ok(kc)
}

/// The user of the kubeconfig's current context (or its only context).
fn current_user(kc: &Kubeconfig) -> Result<Option<&NamedAuthInfo>, ConnectError> {
    let ctx = match &kc.current_context {
        Some(name) => kc
            .contexts
            .iter()
            .find(|c| &c.name == name)
            .ok_or_else(|| {
                ConnectError::Malformed(format!("current-context {name:?} is not defined"))
            })?,
        None if kc.contexts.len() == 1 => &kc.contexts[0],
        None => {
            return Err(ConnectError::Malformed(
                "no current-context and several contexts".into(),
            ));
        }
    };
    let user = ctx.context.as_ref().and_then(|c| c.user.as_deref());
    Ok(user.and_then(|u| kc.auth_infos.iter().find(|a| a.name == u)))
}

/// Whether an exec command may run: a command with a path must be listed exactly; a bare
/// command must be listed by name (it is then looked up on the platform's `PATH`).
pub fn exec_allowed(command: &str, allow: &[String]) -> bool {
    allow.iter().any(|a| a == command)
}

/// The checks that come before any client is built: no local file references (they would read
/// the platform's own files), no auth-provider plugins, exec commands only from `allow`.
pub fn check(kc: &Kubeconfig, allow: &[String]) -> Result<(), ConnectError> {
    for c in &kc.clusters {
        if c.cluster
            .as_ref()
            .and_then(|c| c.certificate_authority.as_ref())
            .is_some()
        {
            return Err(ConnectError::LocalFile("certificate-authority"));
        }
    }
    for a in &kc.auth_infos {
        let Some(info) = &a.auth_info else { continue };
        if info.client_certificate.is_some() {
            return Err(ConnectError::LocalFile("client-certificate"));
        }
        if info.client_key.is_some() {
            return Err(ConnectError::LocalFile("client-key"));
        }
        if info.token_file.is_some() {
            return Err(ConnectError::LocalFile("tokenFile"));
        }
        if info.auth_provider.is_some() {
            return Err(ConnectError::Malformed(
                "auth-provider plugins are not supported; use an exec plugin".into(),
            ));
        }
        if let Some(exec) = &info.exec {
            let cmd = exec.command.as_deref().unwrap_or_default();
            if !exec_allowed(cmd, allow) {
                return Err(ConnectError::ExecNotAllowed(
                    cmd.to_string(),
                    allow.join(", "),
                ));
            }
        }
    }
    current_user(kc)?;
    Ok(())
}

/// When the current user's client certificate expires, if it has one.
pub fn cert_expiry(kc: &Kubeconfig) -> Option<DateTime<Utc>> {
    let info = current_user(kc).ok()??.auth_info.as_ref()?;
    let data = info.client_certificate_data.as_deref()?;
    let pem_bytes = B64.decode(data.trim()).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem_bytes).ok()?;
    let cert = pem.parse_x509().ok()?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
}

/// A client for a checked kubeconfig: connections time out after `timeout`; reads have no
/// timeout (watches are long), callers bound each request themselves.
pub async fn client(
    kc: Kubeconfig,
    allow: &[String],
    timeout: Duration,
) -> Result<Client, ConnectError> {
    check(&kc, allow)?;
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| ConnectError::Malformed(e.to_string()))?;
    config.connect_timeout = Some(timeout);
    config.read_timeout = None;
    Client::try_from(config).map_err(|e| ConnectError::Malformed(e.to_string()))
}

/// What the platform reads about a cluster on each health check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// The kube-system namespace's uid: the cluster's identity.
    pub uid: String,
    /// `gitVersion`.
    pub kubernetes_version: String,
    /// Number of nodes.
    pub node_count: usize,
    /// Distinct `topology.kubernetes.io/zone` labels of the nodes, sorted.
    pub zones: Vec<String>,
    /// The first `topology.kubernetes.io/region` label of the nodes.
    pub region: String,
}

fn classify(e: kube::Error) -> ConnectError {
    match e {
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => {
            ConnectError::Credentials(s.message)
        }
        // An exec plugin's failure can carry its output, which may hold credentials.
        kube::Error::Auth(_) => ConnectError::Credentials(
            "getting credentials failed (exec plugin, token or client certificate)".into(),
        ),
        other => ConnectError::Unreachable(other.to_string()),
    }
}

async fn get_json(client: &Client, path: &str, timeout: Duration) -> Result<Value, ConnectError> {
    let req = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| ConnectError::Malformed(e.to_string()))?;
    match tokio::time::timeout(timeout, client.request::<Value>(req)).await {
        Ok(r) => r.map_err(classify),
        Err(_) => Err(ConnectError::Timeout(timeout.as_secs().max(1))),
    }
}

/// Node facts: count, distinct zones (sorted) and the first region.
pub type NodeFacts = (usize, Vec<String>, String);

/// Node facts from nodes' labels (`topology.kubernetes.io/zone`, `…/region`).
pub fn node_facts<'a>(labels: impl Iterator<Item = Vec<(&'a str, &'a str)>>) -> NodeFacts {
    let (mut count, mut zones, mut region) = (0, Vec::new(), String::new());
    for node in labels {
        count += 1;
        for (k, v) in node {
            match k {
                "topology.kubernetes.io/zone" => zones.push(v.to_string()),
                "topology.kubernetes.io/region" if region.is_empty() => region = v.to_string(),
                _ => {}
            }
        }
    }
    zones.sort();
    zones.dedup();
    (count, zones, region)
}

/// Reads the cluster's identity and facts, each call bounded by `timeout`. Needs permission
/// to read namespaces and nodes, so it also checks the credentials are usable. `known_nodes`
/// (from a synced watch) spares listing every node on each check.
pub async fn probe(
    client: &Client,
    timeout: Duration,
    known_nodes: Option<NodeFacts>,
) -> Result<Probe, ConnectError> {
    let version = get_json(client, "/version", timeout).await?;
    let ns = get_json(client, "/api/v1/namespaces/kube-system", timeout).await?;
    let (node_count, zones, region) = match known_nodes {
        Some(facts) => facts,
        None => {
            let nodes = get_json(client, "/api/v1/nodes", timeout).await?;
            let items = nodes["items"].as_array().cloned().unwrap_or_default();
            node_facts(items.iter().map(|n| {
                n["metadata"]["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                    .collect()
            }))
        }
    };
    Ok(Probe {
        uid: ns["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        kubernetes_version: version["gitVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        node_count,
        zones,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n";

    fn with_user(user: &str) -> String {
        format!("{KC}{user}")
    }

    #[test]
    fn parses_plain_and_base64() {
        let plain = with_user("    token: abc\n");
        assert!(parse(&plain).is_ok());
        assert!(parse(&B64.encode(plain.as_bytes())).is_ok());
        assert!(matches!(parse(""), Err(ConnectError::Malformed(_))));
        assert!(matches!(
            parse("::: not yaml"),
            Err(ConnectError::Malformed(_))
        ));
        assert!(matches!(
            parse("apiVersion: v1\nkind: Config\n"),
            Err(ConnectError::Malformed(_))
        ));
    }

    #[test]
    fn exec_commands_must_be_listed() {
        let allow = vec!["aws".to_string(), "/opt/bin/plugin".to_string()];
        let exec = |cmd: &str| {
            parse(&with_user(&format!(
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {cmd}\n      interactiveMode: Never\n"
            )))
            .expect("parse")
        };
        assert!(check(&exec("aws"), &allow).is_ok());
        assert!(check(&exec("/opt/bin/plugin"), &allow).is_ok());
        for bad in ["sh", "/tmp/aws", "plugin"] {
            assert!(
                matches!(
                    check(&exec(bad), &allow),
                    Err(ConnectError::ExecNotAllowed(..))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn local_files_are_refused() {
        for user in [
            "    tokenFile: /etc/shadow\n",
            "    client-certificate: /x\n",
            "    client-key: /x\n",
        ] {
            let kc = parse(&with_user(user)).expect("parse");
            assert!(
                matches!(check(&kc, &[]), Err(ConnectError::LocalFile(_))),
                "{user}"
            );
        }
        let kc = parse(&KC.replace(
            "    server: https://127.0.0.1:1\n",
            "    server: https://127.0.0.1:1\n    certificate-authority: /etc/ca\n",
        ))
        .expect("parse");
        assert!(matches!(check(&kc, &[]), Err(ConnectError::LocalFile(_))));
    }

    #[test]
    fn current_context_must_exist() {
        let kc =
            parse(&with_user("    token: a\n").replace("current-context: c", "current-context: x"))
                .expect("parse");
        assert!(matches!(check(&kc, &[]), Err(ConnectError::Malformed(_))));
    }
}
