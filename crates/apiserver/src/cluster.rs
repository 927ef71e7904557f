//! The embedded cluster's shared state and configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use store::Store;
use tokio_util::sync::CancellationToken;

use crate::pki::ClusterCredentials;
use crate::registry::Registry;

/// How an embedded cluster is run. Every timing tests depend on is here.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Directory for the store, PKI and kubeconfig.
    pub data_dir: PathBuf,
    /// Address of the Kubernetes API listener (port 0 picks a free port).
    pub listen: SocketAddr,
    /// How often watch streams that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// How often the store compacts its history.
    pub compaction_interval: Duration,
    /// How many revisions of history the store keeps at least.
    pub retain_revisions: i64,
    /// Whether writes are fsynced before they are acknowledged.
    pub durable: bool,
    /// Largest accepted request body (kube-apiserver: 3 MiB).
    pub max_request_bytes: usize,
    /// Service ClusterIP range (CIDR).
    pub service_cidr: String,
    /// Where container logs and resource usage come from (none: logs and metrics are empty).
    pub data_plane: Option<Arc<dyn crate::dataplane::DataPlane>>,
    /// Seed for generated names, so a run driven the same way is reproducible.
    pub seed: Option<u64>,
    /// How long a client may take to send a request's headers, and how long an idle
    /// connection is kept (kube-apiserver closes slow ones after about 32 s).
    pub request_header_timeout: Duration,
    /// How stored values are encrypted at rest (`--encryption-provider-config`); none: plaintext.
    pub encryption: Option<Arc<dyn store::ValueTransformer>>,
    /// Re-encrypt every stored value the encryption configuration would write differently now,
    /// before serving (after adding a key, or to encrypt data written before).
    pub rewrite_encrypted: bool,
    /// Told how far that rewrite has come: (revision reached, latest revision); the last call
    /// has both equal.
    pub rewrite_progress: Option<Progress>,
}

/// A progress callback: (done, total).
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64, u64) + Send + Sync>);

impl Progress {
    /// Wraps `f`.
    pub fn new(f: impl Fn(u64, u64) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(f))
    }

    /// Reports (done, total).
    pub fn report(&self, done: u64, total: u64) {
        (self.0)(done, total)
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl ClusterConfig {
    /// The defaults for a cluster keeping its data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> ClusterConfig {
        ClusterConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 6443)),
            bookmark_interval: Duration::from_secs(60),
            compaction_interval: Duration::from_secs(300),
            retain_revisions: 100_000,
            durable: true,
            max_request_bytes: 3 * 1024 * 1024,
            service_cidr: "10.96.0.0/12".to_string(),
            data_plane: None,
            seed: None,
            request_header_timeout: Duration::from_secs(32),
            encryption: None,
            rewrite_encrypted: false,
            rewrite_progress: None,
        }
    }
}

/// The state every request handler shares.
pub struct Cluster {
    /// The revisioned object store.
    pub store: Arc<Store>,
    /// Served resources.
    pub registry: Registry,
    /// OpenAPI documents of the built-in kinds.
    pub openapi: openapi::OpenApi,
    /// Configuration.
    pub config: ClusterConfig,
    /// CA, serving certificate and admin token.
    pub credentials: ClusterCredentials,
    /// Cancelled when the cluster shuts down.
    pub shutdown: CancellationToken,
    /// The address the API listener is bound to.
    pub bound: SocketAddr,
    /// Service ClusterIP and NodePort allocation.
    pub allocator: crate::allocate::Allocator,
    /// Wakes the namespace controller.
    pub namespace_kick: tokio::sync::Notify,
    /// Compiled schemas and printer columns of served custom resources.
    pub compiled_crds: std::sync::RwLock<Arc<crate::crd::CompiledCrds>>,
    /// With a seed, how many names each (namespace, generateName prefix) has generated.
    pub generated_names: std::sync::Mutex<std::collections::HashMap<(String, String), u64>>,
    /// RBAC roles and bindings, kept in step with the store.
    pub rbac: crate::rbac::Authorizer,
    /// Admission webhook configurations, kept in step with the store.
    pub webhooks: crate::webhooks::Webhooks,
    /// OpenAPI schemas of served custom resources, rebuilt after CRD changes.
    pub crd_schema_cache: std::sync::RwLock<Option<Arc<Vec<openapi::CrdSchema>>>>,
    /// The last `/openapi/v2` JSON document and its protobuf encoding.
    pub openapi_v2_proto: std::sync::Mutex<Option<(bytes::Bytes, bytes::Bytes)>>,
    /// Request metrics and the state of the `/metrics` endpoints.
    pub telemetry: crate::telemetry::Telemetry,
}

impl Cluster {
    /// Schemas of the served custom resources, for the OpenAPI documents.
    pub fn crd_schemas(&self) -> Arc<Vec<openapi::CrdSchema>> {
        if let Some(c) = self
            .crd_schema_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            return c.clone();
        }
        let fresh = Arc::new(crate::crd::openapi_schemas(self));
        *self
            .crd_schema_cache
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(fresh.clone());
        fresh
    }

    /// `/openapi/v2` as gnostic protobuf, encoded once per distinct JSON document.
    pub fn openapi_v2_protobuf(&self) -> bytes::Bytes {
        let json = self.openapi.v2(&self.crd_schemas());
        let mut cached = self
            .openapi_v2_proto
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((doc, pb)) = cached.as_ref()
            && *doc == json
        {
            return pb.clone();
        }
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        let pb = bytes::Bytes::from(kubeproto::encode_openapi_v2(&value));
        *cached = Some((json, pb.clone()));
        pb
    }

    /// The compiled schema of a custom resource's version.
    pub fn compiled_crd(
        &self,
        res: &crate::registry::Resource,
    ) -> Option<Arc<crate::crd::CompiledVersion>> {
        let all = self
            .compiled_crds
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        all.get(&(res.group.clone(), res.plural.clone(), res.version.clone()))
            .cloned()
    }

    /// A `generateName` suffix: random, or with a seed derived from (seed, namespace, prefix,
    /// how many such names came before), so a run driven the same way gets the same names.
    pub fn generate_suffix(&self, namespace: Option<&str>, prefix: &str) -> String {
        let Some(seed) = self.config.seed else {
            return crate::object::random_suffix(5);
        };
        let ns = namespace.unwrap_or("").to_string();
        let n = {
            let mut counters = self
                .generated_names
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let c = counters
                .entry((ns.clone(), prefix.to_string()))
                .or_insert(0);
            *c += 1;
            *c
        };
        crate::object::seeded_suffix(5, &format!("{seed}/{ns}/{prefix}/{n}"))
    }

    /// Drops the cached CRD schemas (after a CRD changed).
    pub fn invalidate_crd_schemas(&self) {
        *self
            .crd_schema_cache
            .write()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The `https://` URL of the API.
    pub fn url(&self) -> String {
        format!("https://{}", self.bound)
    }
}
