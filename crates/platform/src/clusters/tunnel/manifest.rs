//! The manifests that run `orrery agent` in a member cluster: what
//! `GET /kapis/cluster.kubesphere.io/v1alpha1/clusters/{c}/agent/deployment` answers with the
//! values filled in, and what `deploy/agent/*.yaml` hold with placeholders (a test keeps the
//! two the same).

/// Where the agent runs in the member.
pub const NAMESPACE: &str = "kubesphere-system";
/// The agent's name (ServiceAccount, binding, Secret, Deployment).
pub const NAME: &str = "orrery-agent";

/// What fills the manifests.
pub struct AgentValues<'a> {
    /// The Cluster's name on the platform.
    pub cluster: &'a str,
    /// The platform's URL as the member reaches it.
    pub platform_url: &'a str,
    /// The join token.
    pub token: &'a str,
    /// The CA of the platform's certificate (PEM), when it is not publicly trusted.
    pub ca_pem: Option<&'a str>,
    /// The image with the `orrery` binary.
    pub image: &'a str,
}

/// A YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The namespace.
pub fn namespace() -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n")
}

/// The agent's ServiceAccount.
pub fn service_account() -> String {
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {NAME}\n  namespace: {NAMESPACE}\n"
    )
}

/// The agent acts for the platform, which administers the member (as with a kubeconfig join):
/// `cluster-admin`.
pub fn cluster_role_binding() -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {NAME}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: {NAME}\n  namespace: {NAMESPACE}\n"
    )
}

/// The Secret with the join token (and the platform's CA).
pub fn secret(v: &AgentValues) -> String {
    let mut out = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {NAME}\n  namespace: {NAMESPACE}\ntype: Opaque\nstringData:\n  token: {}\n",
        quoted(v.token)
    );
    if let Some(ca) = v.ca_pem {
        out.push_str("  ca.crt: |\n");
        for line in ca.trim_end().lines() {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The Deployment: one replica (the platform keeps one tunnel per cluster; a second agent
/// would replace the first), the token from the Secret, no listening port.
pub fn deployment(v: &AgentValues) -> String {
    let ca_arg = if v.ca_pem.is_some() {
        "\n        - --ca-file=/etc/orrery-agent/ca.crt"
    } else {
        ""
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {NAME}
  namespace: {NAMESPACE}
  labels:
    app.kubernetes.io/name: {NAME}
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app.kubernetes.io/name: {NAME}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {NAME}
    spec:
      serviceAccountName: {NAME}
      containers:
      - name: agent
        image: {image}
        args:
        - agent
        - --platform-url={url}
        - --cluster={cluster}{ca_arg}
        env:
        - name: ORRERY_AGENT_TOKEN
          valueFrom:
            secretKeyRef:
              name: {NAME}
              key: token
        resources:
          requests:
            cpu: 10m
            memory: 16Mi
          limits:
            memory: 128Mi
        securityContext:
          runAsNonRoot: true
          runAsUser: 65532
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: ["ALL"]
        volumeMounts:
        - name: agent
          mountPath: /etc/orrery-agent
          readOnly: true
      volumes:
      - name: agent
        secret:
          secretName: {NAME}
"#,
        image = quoted(v.image),
        url = v.platform_url,
        cluster = v.cluster,
    )
}

/// Every manifest as one multi-document YAML stream, in the order to apply them.
pub fn all(v: &AgentValues) -> String {
    [
        namespace(),
        service_account(),
        cluster_role_binding(),
        secret(v),
        deployment(v),
    ]
    .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The placeholders `deploy/agent/*.yaml` carry.
    fn placeholders() -> AgentValues<'static> {
        AgentValues {
            cluster: "CLUSTER_NAME",
            platform_url: "https://PLATFORM_HOST:30880",
            token: "JOIN_TOKEN",
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nPLATFORM_CA\n-----END CERTIFICATE-----\n"),
            image: "orrery:latest",
        }
    }

    /// `ORRERY_BLESS=1 cargo test -p platform deploy_files` rewrites the files.
    #[test]
    fn deploy_files_match_the_served_manifests() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/agent");
        let v = placeholders();
        for (file, want) in [
            ("namespace.yaml", namespace()),
            ("serviceaccount.yaml", service_account()),
            ("clusterrolebinding.yaml", cluster_role_binding()),
            ("secret.yaml", secret(&v)),
            ("deployment.yaml", deployment(&v)),
        ] {
            if std::env::var_os("ORRERY_BLESS").is_some() {
                std::fs::create_dir_all(&dir).expect("mkdir deploy/agent");
                std::fs::write(dir.join(file), &want).expect("write");
            }
            let have = std::fs::read_to_string(dir.join(file))
                .unwrap_or_else(|e| panic!("deploy/agent/{file}: {e}"));
            assert_eq!(have, want, "deploy/agent/{file} differs from manifest.rs");
        }
    }

    #[test]
    fn every_document_is_yaml() {
        let text = all(&placeholders());
        let docs: Vec<&str> = text.split("\n---\n").collect();
        assert_eq!(docs.len(), 5);
        for doc in docs {
            let v: serde_json::Value = serde_saphyr::from_str(doc).expect("yaml");
            assert!(v["kind"].is_string(), "{doc}");
        }
        let secret: serde_json::Value =
            serde_saphyr::from_str(&secret(&placeholders())).expect("yaml");
        assert_eq!(secret["stringData"]["token"], "JOIN_TOKEN");
        assert!(
            secret["stringData"]["ca.crt"]
                .as_str()
                .is_some_and(|c| c.contains("PLATFORM_CA"))
        );
    }
}
