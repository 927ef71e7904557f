//! Each cluster's discovery, kept for request resolution (which resources exist, namespaced
//! or not). Loaded on first use and reloaded when a request names a resource it does not know
//! (a CRD created a moment ago), at most once per [`MIN_REFRESH`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use kube::Client;
use kube::discovery::{Discovery, Scope};

use crate::authz::resolve::ApiIndex;

/// The shortest interval between two reloads triggered by unknown resources.
pub const MIN_REFRESH: Duration = Duration::from_secs(2);
/// How long one reload may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The discovery of one cluster.
pub struct ClusterDiscovery {
    client: Client,
    index: RwLock<Option<(Arc<ApiIndex>, Instant)>>,
    loading: tokio::sync::Mutex<()>,
}

impl ClusterDiscovery {
    /// Discovery of the cluster `client` reaches (nothing is loaded yet).
    pub fn new(client: Client) -> ClusterDiscovery {
        ClusterDiscovery {
            client,
            index: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<(Arc<ApiIndex>, Instant)> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The index, loading it if it never was.
    pub async fn index(&self) -> Result<Arc<ApiIndex>, String> {
        if let Some((i, _)) = self.current() {
            return Ok(i);
        }
        self.reload(Duration::ZERO).await
    }

    /// Reloads unless the index is younger than `min_age` (then returns it as it is).
    pub async fn reload(&self, min_age: Duration) -> Result<Arc<ApiIndex>, String> {
        let _one = self.loading.lock().await;
        if let Some((i, at)) = self.current()
            && (at.elapsed() < min_age || min_age.is_zero())
        {
            return Ok(i);
        }
        let loaded = tokio::time::timeout(LOAD_TIMEOUT, load(self.client.clone()))
            .await
            .map_err(|_| "discovery did not answer in time".to_string())??;
        let loaded = Arc::new(loaded);
        *self.index.write().unwrap_or_else(|e| e.into_inner()) =
            Some((loaded.clone(), Instant::now()));
        Ok(loaded)
    }

    /// Reloads if the index is older than [`MIN_REFRESH`] (a resource was not found in it).
    pub async fn refresh(&self) -> Result<Arc<ApiIndex>, String> {
        if self.current().is_none() {
            return self.index().await;
        }
        self.reload(MIN_REFRESH).await
    }
}

async fn load(client: Client) -> Result<ApiIndex, String> {
    // Aggregated discovery is one request per prefix; a server without it may answer with the
    // plain documents, which parse as an empty list, so an answer without the core group
    // falls back to per-group discovery.
    let aggregated = Discovery::new(client.clone()).run_aggregated().await;
    let discovery = match aggregated {
        Ok(d) if d.has_group("") => d,
        _ => Discovery::new(client.clone())
            .run()
            .await
            .map_err(|e| format!("discovery: {e}"))?,
    };
    let mut index = ApiIndex::new();
    for group in discovery.groups() {
        for version in group.versions() {
            for (res, caps) in group.versioned_resources(version) {
                index.insert(
                    &res.group,
                    &res.version,
                    &res.plural,
                    caps.scope == Scope::Namespaced,
                );
            }
        }
    }
    // KubeSphere's dynamic API: CRDs labelled `kubesphere.io/resource-served: "true"` are
    // also served under `/kapis/{group}/{version}`. A cluster that does not let the platform
    // list CRDs simply has none.
    let crds = crate::kinds::Kind::Crd.api(&client, None);
    let served = kube::api::ListParams::default().labels("kubesphere.io/resource-served=true");
    if let Ok(list) = crds.list(&served).await {
        for crd in list.items {
            let v = serde_json::to_value(&crd).unwrap_or_default();
            let group = v["spec"]["group"].as_str().unwrap_or_default();
            for version in v["spec"]["versions"].as_array().into_iter().flatten() {
                if version["served"].as_bool() == Some(true)
                    && let Some(name) = version["name"].as_str()
                {
                    index.serve_under_kapis(group, name);
                }
            }
        }
    }
    Ok(index)
}
