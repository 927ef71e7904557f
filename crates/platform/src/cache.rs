//! Watch-fed caches of host-cluster objects (kube-runtime watchers) with secondary indexes.
//!
//! Authorization and lists read only from here; writes go to the cluster and callers that need
//! to read their own write wait for the cache to see it ([`Cache::wait_for`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::authz::rbac::{Rule, rules_from_json};
use crate::kinds::Kind;

/// One cached object, with its rules parsed once (empty for kinds that have none).
#[derive(Debug)]
pub struct Entry {
    /// The object as JSON (managedFields dropped).
    pub obj: Value,
    /// Parsed top-level `rules` (roles only).
    pub rules: Vec<Rule>,
}

impl Entry {
    fn new(mut obj: Value) -> Entry {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        let rules = rules_from_json(obj.get("rules"));
        Entry { obj, rules }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.obj["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// A label value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.obj["metadata"]["labels"][key].as_str()
    }
}

/// Computes the index keys of an object.
pub type Indexer = fn(&Value) -> Vec<String>;

#[derive(Default)]
struct Inner {
    objects: HashMap<String, Arc<Entry>>,
    index: HashMap<String, HashSet<String>>,
    init: Option<HashMap<String, Arc<Entry>>>,
}

/// A watch-fed cache of one kind.
pub struct Cache {
    kind: Kind,
    labels: Option<&'static str>,
    inner: RwLock<Inner>,
    indexer: Option<Indexer>,
    changed: tokio::sync::watch::Sender<u64>,
    synced: AtomicBool,
}

/// The cache key of an object: `ns/name` or `name`.
pub fn key_of(obj: &Value) -> String {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    match meta["namespace"].as_str() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

impl Cache {
    /// A cache of `kind`, optionally restricted to a label selector, with an optional index.
    pub fn new(kind: Kind, labels: Option<&'static str>, indexer: Option<Indexer>) -> Arc<Cache> {
        Arc::new(Cache {
            kind,
            labels,
            inner: RwLock::new(Inner::default()),
            indexer,
            changed: tokio::sync::watch::channel(0).0,
            synced: AtomicBool::new(false),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// One object by key.
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.read().objects.get(key).cloned()
    }

    /// Every cached object.
    pub fn list(&self) -> Vec<Arc<Entry>> {
        self.read().objects.values().cloned().collect()
    }

    /// The kind it caches.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The label selector it is restricted to, if any.
    pub fn selector(&self) -> Option<&'static str> {
        self.labels
    }

    /// Number of cached objects.
    pub fn len(&self) -> usize {
        self.read().objects.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects whose index keys include `key`.
    pub fn by_index(&self, key: &str) -> Vec<Arc<Entry>> {
        let inner = self.read();
        inner
            .index
            .get(key)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| inner.objects.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the first full list has arrived.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// A number that grows with every change to the cache (its watch events included).
    pub fn version(&self) -> u64 {
        *self.changed.borrow()
    }

    /// Marks the cache synced, as its watch's first full list does (tests fill caches by hand).
    #[cfg(test)]
    pub(crate) fn mark_synced(&self) {
        self.synced.store(true, Ordering::Release);
    }

    /// A receiver that sees every change to the cache.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Waits until `check` holds for the cache (or `timeout` passes); returns whether it held.
    pub async fn wait_for(&self, timeout: Duration, check: impl Fn(&Cache) -> bool) -> bool {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return check(self),
            }
        }
    }

    /// Waits until the object `key` is present with at least `resource_version` (or absent
    /// when `resource_version` is `None`).
    pub async fn wait_for_version(&self, key: &str, resource_version: Option<&str>) -> bool {
        let want: Option<u64> = resource_version.and_then(|v| v.parse().ok());
        self.wait_for(Duration::from_secs(5), |c| match (c.get(key), want) {
            (None, None) => true,
            (Some(e), Some(want)) => e.obj["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|rv| rv >= want),
            // Non-numeric versions (foreign clusters) cannot be compared: presence is enough.
            (Some(_), None) => resource_version.is_some(),
            (None, Some(_)) => false,
        })
        .await
    }

    /// Puts an object in the cache directly. Production caches are fed by their watch; this is
    /// for tests and benchmarks that exercise readers without a cluster.
    pub fn insert_object(&self, obj: Value) {
        {
            let mut inner = self.write();
            self.insert(&mut inner, Arc::new(Entry::new(obj)));
        }
        self.changed.send_modify(|n| *n += 1);
    }

    fn index_keys(&self, obj: &Value) -> Vec<String> {
        self.indexer.map(|f| f(obj)).unwrap_or_default()
    }

    fn insert(&self, inner: &mut Inner, entry: Arc<Entry>) {
        let key = key_of(&entry.obj);
        if let Some(old) = inner.objects.get(&key).cloned() {
            self.unindex(inner, &key, &old.obj);
        }
        for ik in self.index_keys(&entry.obj) {
            inner.index.entry(ik).or_default().insert(key.clone());
        }
        inner.objects.insert(key, entry);
    }

    fn unindex(&self, inner: &mut Inner, key: &str, obj: &Value) {
        for ik in self.index_keys(obj) {
            if let Some(set) = inner.index.get_mut(&ik) {
                set.remove(key);
                if set.is_empty() {
                    inner.index.remove(&ik);
                }
            }
        }
    }

    fn apply(&self, event: Event<kube::api::DynamicObject>) {
        let to_entry = |o| Arc::new(Entry::new(serde_json::to_value(o).unwrap_or(Value::Null)));
        {
            let mut inner = self.write();
            match event {
                Event::Apply(o) => self.insert(&mut inner, to_entry(o)),
                Event::Delete(o) => {
                    let e = to_entry(o);
                    let key = key_of(&e.obj);
                    if let Some(old) = inner.objects.remove(&key) {
                        self.unindex(&mut inner, &key, &old.obj);
                    }
                }
                Event::Init => inner.init = Some(HashMap::new()),
                Event::InitApply(o) => {
                    let e = to_entry(o);
                    inner
                        .init
                        .get_or_insert_with(HashMap::new)
                        .insert(key_of(&e.obj), e);
                }
                Event::InitDone => {
                    let fresh = inner.init.take().unwrap_or_default();
                    inner.objects.clear();
                    inner.index.clear();
                    for (_, e) in fresh {
                        self.insert(&mut inner, e);
                    }
                    self.synced.store(true, Ordering::Release);
                }
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Feeds the cache from a watch until `shutdown`.
    pub async fn run(self: Arc<Cache>, client: Client, shutdown: CancellationToken) {
        let api = self.kind.api(&client, None);
        let mut config = watcher::Config::default();
        if let Some(l) = self.labels {
            config = config.labels(l);
        }
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = stream.next() => match ev {
                    Some(Ok(ev)) => self.apply(ev),
                    Some(Err(e)) => tracing::warn!(kind = self.kind.kind(), error = %e, "watch failed; retrying"),
                    None => return,
                }
            }
        }
    }
}

fn subject_keys(obj: &Value) -> Vec<String> {
    obj["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let kind = s["kind"].as_str()?;
            let name = s["name"].as_str()?;
            Some(format!("{kind}:{name}"))
        })
        .collect()
}

fn binding_keys(obj: &Value) -> Vec<String> {
    let mut keys = subject_keys(obj);
    if let Some(ws) = obj["metadata"]["labels"]["kubesphere.io/workspace"].as_str() {
        keys.push(format!("ws:{ws}"));
    }
    if let Some(ns) = obj["metadata"]["namespace"].as_str() {
        keys.push(format!("ns:{ns}"));
    }
    keys
}

fn workspace_label_keys(obj: &Value) -> Vec<String> {
    obj["metadata"]["labels"]["kubesphere.io/workspace"]
        .as_str()
        .map(|ws| vec![format!("ws:{ws}")])
        .unwrap_or_default()
}

/// A GroupBinding is found by its group (`group:<g>`) and by each of its users (`User:<u>`).
fn group_binding_keys(obj: &Value) -> Vec<String> {
    let mut keys: Vec<String> = obj["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|u| format!("User:{u}"))
        .collect();
    if let Some(g) = obj["groupRef"]["name"].as_str() {
        keys.push(format!("group:{g}"));
    }
    keys
}

fn namespace_keys(obj: &Value) -> Vec<String> {
    let mut keys = workspace_label_keys(obj);
    if let Some(ns) = obj["metadata"]["namespace"].as_str() {
        keys.push(format!("ns:{ns}"));
    }
    keys
}

fn user_ref_keys(obj: &Value) -> Vec<String> {
    obj["metadata"]["labels"]["iam.kubesphere.io/user-ref"]
        .as_str()
        .map(|u| vec![format!("user:{u}")])
        .unwrap_or_default()
}

/// Label carried by the Secrets that record issued token sessions.
pub const SESSION_LABEL: &str = "orrery.io/token-session";

/// Every cache the platform keeps.
pub struct Caches {
    /// Users.
    pub users: Arc<Cache>,
    /// GlobalRoles.
    pub global_roles: Arc<Cache>,
    /// GlobalRoleBindings, indexed by subject.
    pub global_role_bindings: Arc<Cache>,
    /// WorkspaceRoles, indexed by workspace.
    pub workspace_roles: Arc<Cache>,
    /// WorkspaceRoleBindings, indexed by subject and workspace.
    pub workspace_role_bindings: Arc<Cache>,
    /// iam ClusterRoles.
    pub cluster_roles: Arc<Cache>,
    /// iam ClusterRoleBindings, indexed by subject.
    pub cluster_role_bindings: Arc<Cache>,
    /// iam Roles, indexed by namespace.
    pub roles: Arc<Cache>,
    /// iam RoleBindings, indexed by subject and namespace.
    pub role_bindings: Arc<Cache>,
    /// RoleTemplates.
    pub role_templates: Arc<Cache>,
    /// Groups, indexed by workspace.
    pub groups: Arc<Cache>,
    /// GroupBindings, indexed by user and by group.
    pub group_bindings: Arc<Cache>,
    /// Workspaces.
    pub workspaces: Arc<Cache>,
    /// WorkspaceTemplates.
    pub workspace_templates: Arc<Cache>,
    /// Namespaces, indexed by workspace.
    pub namespaces: Arc<Cache>,
    /// Token session Secrets, indexed by user.
    pub sessions: Arc<Cache>,
    /// Clusters (host only).
    pub clusters: Arc<Cache>,
    /// The Secrets holding member kubeconfigs (host only).
    pub kubeconfigs: Arc<Cache>,
    /// Cluster Labels (host only).
    pub cluster_labels: Arc<Cache>,
    /// Workspace quotas (`quota.kubesphere.io` ResourceQuotas), indexed by workspace.
    pub workspace_quotas: Arc<Cache>,
    /// The App Store's apps (host only), indexed by workspace.
    pub apps: Arc<Cache>,
    /// The App Store's repositories (host only): a repository added or changed wakes the
    /// leader's App Store controllers, which sync it without waiting for their next pass.
    pub repos: Arc<Cache>,
    /// Extension APIServices (host only).
    pub api_services: Arc<Cache>,
    /// Extension ReverseProxies (host only).
    pub reverse_proxies: Arc<Cache>,
    /// Extension JSBundles (host only).
    pub js_bundles: Arc<Cache>,
}

impl Caches {
    /// Empty caches.
    pub fn new() -> Caches {
        Caches {
            users: Cache::new(Kind::User, None, None),
            global_roles: Cache::new(Kind::GlobalRole, None, None),
            global_role_bindings: Cache::new(Kind::GlobalRoleBinding, None, Some(binding_keys)),
            workspace_roles: Cache::new(Kind::WorkspaceRole, None, Some(workspace_label_keys)),
            workspace_role_bindings: Cache::new(
                Kind::WorkspaceRoleBinding,
                None,
                Some(binding_keys),
            ),
            cluster_roles: Cache::new(Kind::ClusterRole, None, None),
            cluster_role_bindings: Cache::new(Kind::ClusterRoleBinding, None, Some(binding_keys)),
            roles: Cache::new(Kind::Role, None, Some(namespace_keys)),
            role_bindings: Cache::new(Kind::RoleBinding, None, Some(binding_keys)),
            role_templates: Cache::new(Kind::RoleTemplate, None, None),
            groups: Cache::new(Kind::Group, None, Some(workspace_label_keys)),
            group_bindings: Cache::new(Kind::GroupBinding, None, Some(group_binding_keys)),
            workspaces: Cache::new(Kind::Workspace, None, None),
            workspace_templates: Cache::new(Kind::WorkspaceTemplate, None, None),
            namespaces: Cache::new(Kind::Namespace, None, Some(workspace_label_keys)),
            sessions: Cache::new(Kind::Secret, Some(SESSION_LABEL), Some(user_ref_keys)),
            clusters: Cache::new(Kind::Cluster, None, None),
            kubeconfigs: Cache::new(Kind::Secret, Some(crate::clusters::KUBECONFIG_LABEL), None),
            cluster_labels: Cache::new(Kind::Label, None, None),
            workspace_quotas: Cache::new(Kind::WorkspaceQuota, None, Some(workspace_label_keys)),
            apps: Cache::new(Kind::App, None, Some(workspace_label_keys)),
            repos: Cache::new(Kind::AppRepo, None, None),
            api_services: Cache::new(Kind::ApiService, None, None),
            reverse_proxies: Cache::new(Kind::ReverseProxy, None, None),
            js_bundles: Cache::new(Kind::JsBundle, None, None),
        }
    }

    /// All caches, for starting and sync checks.
    pub fn all(&self) -> Vec<Arc<Cache>> {
        vec![
            self.users.clone(),
            self.global_roles.clone(),
            self.global_role_bindings.clone(),
            self.workspace_roles.clone(),
            self.workspace_role_bindings.clone(),
            self.cluster_roles.clone(),
            self.cluster_role_bindings.clone(),
            self.roles.clone(),
            self.role_bindings.clone(),
            self.role_templates.clone(),
            self.groups.clone(),
            self.group_bindings.clone(),
            self.workspaces.clone(),
            self.workspace_templates.clone(),
            self.namespaces.clone(),
            self.sessions.clone(),
            self.clusters.clone(),
            self.kubeconfigs.clone(),
            self.cluster_labels.clone(),
            self.workspace_quotas.clone(),
            self.apps.clone(),
            self.repos.clone(),
            self.api_services.clone(),
            self.reverse_proxies.clone(),
            self.js_bundles.clone(),
        ]
    }

    /// The caches kept for a member cluster: what authorization reads about a cluster
    /// (namespaces with their workspace label, iam Roles, RoleBindings, ClusterRoles and
    /// ClusterRoleBindings), the Workspaces placed there and their quotas.
    pub fn member_set(&self) -> Vec<Arc<Cache>> {
        vec![
            self.namespaces.clone(),
            self.roles.clone(),
            self.role_bindings.clone(),
            self.cluster_roles.clone(),
            self.cluster_role_bindings.clone(),
            self.workspaces.clone(),
            self.workspace_quotas.clone(),
        ]
    }

    /// The cache for a kind, if the platform caches it.
    pub fn for_kind(&self, kind: Kind) -> Option<&Arc<Cache>> {
        Some(match kind {
            Kind::User => &self.users,
            Kind::GlobalRole => &self.global_roles,
            Kind::GlobalRoleBinding => &self.global_role_bindings,
            Kind::WorkspaceRole => &self.workspace_roles,
            Kind::WorkspaceRoleBinding => &self.workspace_role_bindings,
            Kind::ClusterRole => &self.cluster_roles,
            Kind::ClusterRoleBinding => &self.cluster_role_bindings,
            Kind::Role => &self.roles,
            Kind::RoleBinding => &self.role_bindings,
            Kind::RoleTemplate => &self.role_templates,
            Kind::Group => &self.groups,
            Kind::GroupBinding => &self.group_bindings,
            Kind::Workspace => &self.workspaces,
            Kind::WorkspaceTemplate => &self.workspace_templates,
            Kind::Namespace => &self.namespaces,
            Kind::Secret => &self.sessions,
            Kind::Cluster => &self.clusters,
            Kind::Label => &self.cluster_labels,
            Kind::WorkspaceQuota => &self.workspace_quotas,
            Kind::App => &self.apps,
            Kind::ApiService => &self.api_services,
            Kind::ReverseProxy => &self.reverse_proxies,
            Kind::JsBundle => &self.js_bundles,
            Kind::LoginRecord
            | Kind::Crd
            | Kind::ConfigMap
            | Kind::ValidatingWebhook
            | Kind::AppRepo
            | Kind::AppCategory
            | Kind::AppVersion
            | Kind::AppRelease
            | Kind::ExtRepository
            | Kind::Extension
            | Kind::ExtensionVersion
            | Kind::ExtCategory
            | Kind::InstallPlan => return None,
        })
    }
}

impl Default for Caches {
    fn default() -> Self {
        Caches::new()
    }
}
