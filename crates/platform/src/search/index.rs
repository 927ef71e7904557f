//! Per-cluster, watch-fed index of the kinds the console shows, in a compact form: name,
//! namespace, labels, creation time and a one-word status, with namespaces and label strings
//! interned (shared by every object that uses them). The built-in kinds are fixed
//! ([`SEARCH_KINDS`]); custom resources are added and dropped as their CRDs come and go.
//! ConfigMaps, Secrets and custom resources are listed and watched as metadata only (the
//! API server is asked for `PartialObjectMetadata`): their data, specs and statuses never
//! reach the platform through the index, and the App Store's thousands of
//! ApplicationVersions cost a metadata decode each, not a whole object's.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use apimachinery::selector::Labels;
use futures::{Stream, StreamExt};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// One built-in kind the search covers.
#[derive(Debug, Clone, Copy)]
pub struct SearchKind {
    /// Plural resource name (what `kind=` takes).
    pub plural: &'static str,
    /// API group.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

const fn k(
    plural: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> SearchKind {
    SearchKind {
        plural,
        group,
        version,
        kind,
        namespaced,
    }
}

/// The built-in kinds every cluster's index holds. Custom resources (the platform's own roles,
/// workspaces… among them) come from each cluster's CRDs.
pub const SEARCH_KINDS: [SearchKind; 19] = [
    k("namespaces", "", "v1", "Namespace", false),
    k("nodes", "", "v1", "Node", false),
    k("pods", "", "v1", "Pod", true),
    k("services", "", "v1", "Service", true),
    k(
        "persistentvolumeclaims",
        "",
        "v1",
        "PersistentVolumeClaim",
        true,
    ),
    k("events", "", "v1", "Event", true),
    k("deployments", "apps", "v1", "Deployment", true),
    k("statefulsets", "apps", "v1", "StatefulSet", true),
    k("daemonsets", "apps", "v1", "DaemonSet", true),
    k("jobs", "batch", "v1", "Job", true),
    k("cronjobs", "batch", "v1", "CronJob", true),
    k("configmaps", "", "v1", "ConfigMap", true),
    k("secrets", "", "v1", "Secret", true),
    k("serviceaccounts", "", "v1", "ServiceAccount", true),
    k("persistentvolumes", "", "v1", "PersistentVolume", false),
    k("ingresses", "networking.k8s.io", "v1", "Ingress", true),
    k(
        "networkpolicies",
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        true,
    ),
    k(
        "storageclasses",
        "storage.k8s.io",
        "v1",
        "StorageClass",
        false,
    ),
    k(
        "horizontalpodautoscalers",
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        true,
    ),
];

/// Built-in kinds indexed from their metadata alone (their contents are data, not status).
/// Custom resources are too (see [`KindInfo::metadata_only`]).
const METADATA_ONLY: [&str; 2] = ["configmaps", "secrets"];

/// A kind as the search knows it: a built-in's or a custom resource's (from its CRD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindInfo {
    /// Plural resource name.
    pub plural: String,
    /// API group.
    pub group: String,
    /// Version watched.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether it is a custom resource.
    pub custom: bool,
}

impl From<&SearchKind> for KindInfo {
    fn from(k: &SearchKind) -> KindInfo {
        KindInfo {
            plural: k.plural.into(),
            group: k.group.into(),
            version: k.version.into(),
            kind: k.kind.into(),
            namespaced: k.namespaced,
            custom: false,
        }
    }
}

impl KindInfo {
    /// `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (`plural` for the core group): the kind's key.
    pub fn key(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether the index reads only the objects' metadata (lists and watches them as
    /// `PartialObjectMetadata`): ConfigMaps and Secrets (their contents are data) and custom
    /// resources (a status of their own shape, and too many of them — the App Store's
    /// versions — to decode whole).
    pub fn metadata_only(&self) -> bool {
        self.custom || METADATA_ONLY.contains(&self.plural.as_str())
    }

    /// Whether these are Namespaces (visible by name, not by a list in them).
    pub fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.plural == "namespaces"
    }

    fn resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    /// The kind a CRD serves (its storage version, else the first served one), if it serves
    /// any.
    pub fn of_crd(crd: &Value) -> Option<KindInfo> {
        let spec = &crd["spec"];
        let versions = spec["versions"].as_array()?;
        let served = |v: &&Value| v["served"].as_bool().unwrap_or(true);
        let version = versions
            .iter()
            .filter(served)
            .find(|v| v["storage"] == true)
            .or_else(|| versions.iter().find(served))?;
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        Some(KindInfo {
            plural: text(&spec["names"]["plural"])?,
            group: text(&spec["group"])?,
            version: text(&version["name"])?,
            kind: text(&spec["names"]["kind"])?,
            namespaced: spec["scope"] != "Cluster",
            custom: true,
        })
    }
}

/// One indexed object.
#[derive(Debug)]
pub struct Compact {
    /// Namespace (interned), if namespaced.
    pub namespace: Option<Arc<str>>,
    /// Name.
    pub name: Box<str>,
    /// Labels (keys and values interned).
    pub labels: Box<[(Arc<str>, Arc<str>)]>,
    /// `creationTimestamp` as Unix seconds.
    pub created: i64,
    /// A short status: a pod's or namespace's phase, a node's readiness, a workload's
    /// `ready/desired`, an event's reason; none for kinds indexed from metadata only.
    pub status: Option<Arc<str>>,
}

impl Labels for Compact {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

#[derive(Default)]
struct Interner(HashSet<Arc<str>>, usize);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }

    /// Drops strings no object uses any more, when the table has doubled since the last time.
    fn sweep(&mut self) {
        if self.0.len() > 2 * self.1.max(1024) {
            self.0.retain(|a| Arc::strong_count(a) > 1);
            self.1 = self.0.len();
        }
    }
}

/// One kind's objects in one cluster's index.
pub struct IndexedKind {
    /// The kind.
    pub info: KindInfo,
    objects: RwLock<HashMap<Box<str>, Arc<Compact>>>,
    init: Mutex<Option<HashMap<Box<str>, Arc<Compact>>>>,
    synced: AtomicBool,
}

impl std::fmt::Debug for IndexedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedKind")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl IndexedKind {
    fn new(info: KindInfo) -> IndexedKind {
        IndexedKind {
            info,
            objects: RwLock::default(),
            init: Mutex::default(),
            synced: AtomicBool::new(false),
        }
    }

    /// Visits every object under a read lock.
    pub fn for_each(&self, mut f: impl FnMut(&Arc<Compact>)) {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        for c in objects.values() {
            f(c);
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether it holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it has had its first full list.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }
}

/// A custom resource kind and the token that stops its watch.
type Custom = (Arc<IndexedKind>, CancellationToken);

/// The index of one cluster.
pub struct ClusterIndex {
    builtin: Vec<Arc<IndexedKind>>,
    /// Custom resource kinds by `plural.group`.
    custom: RwLock<BTreeMap<String, Custom>>,
    interner: Mutex<Interner>,
}

impl Default for ClusterIndex {
    fn default() -> Self {
        ClusterIndex::new()
    }
}

fn status_of(kind: &KindInfo, obj: &Value) -> Option<String> {
    // Only their metadata is read (custom resources, ConfigMaps, Secrets).
    if kind.metadata_only() {
        return None;
    }
    let s = &obj["status"];
    match kind.plural.as_str() {
        "nodes" => s["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .map(|c| {
                if c["status"] == "True" {
                    "Ready".into()
                } else {
                    "NotReady".into()
                }
            }),
        "events" => obj["reason"].as_str().map(str::to_string),
        "deployments" | "statefulsets" | "daemonsets" => {
            let (ready, want) = if kind.plural == "daemonsets" {
                (&s["numberReady"], &s["desiredNumberScheduled"])
            } else {
                (&s["readyReplicas"], &obj["spec"]["replicas"])
            };
            Some(format!(
                "{}/{}",
                ready.as_u64().unwrap_or(0),
                want.as_u64().unwrap_or(0)
            ))
        }
        _ => s["phase"].as_str().map(str::to_string),
    }
}

fn key_of(ns: Option<&str>, name: &str) -> Box<str> {
    match ns {
        Some(ns) => format!("{ns}/{name}").into(),
        None => name.into(),
    }
}

fn to_value<T: Serialize>(o: T) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}

/// A watch's events with their objects as JSON.
fn json_events<T: Serialize>(ev: Event<T>) -> Event<Value> {
    match ev {
        Event::Apply(o) => Event::Apply(to_value(o)),
        Event::Delete(o) => Event::Delete(to_value(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(to_value(o)),
        Event::InitDone => Event::InitDone,
    }
}

/// What a watch hands the index: a whole object as JSON, or an object's metadata (read as
/// it is, without a trip through JSON).
pub trait Indexable {
    /// The object's key and compact form as `kind` in `index`.
    fn compact(&self, index: &ClusterIndex, kind: &KindInfo) -> (Box<str>, Compact);
    /// The object's key (`namespace/name`, or `name`).
    fn key(&self) -> Box<str>;
}

impl Indexable for Value {
    fn compact(&self, index: &ClusterIndex, kind: &KindInfo) -> (Box<str>, Compact) {
        index.compact(kind, self)
    }

    fn key(&self) -> Box<str> {
        let meta = &self["metadata"];
        key_of(
            meta["namespace"].as_str().filter(|n| !n.is_empty()),
            meta["name"].as_str().unwrap_or_default(),
        )
    }
}

impl Indexable for PartialObjectMeta<DynamicObject> {
    fn compact(&self, index: &ClusterIndex, _: &KindInfo) -> (Box<str>, Compact) {
        index.compact_meta(&self.metadata)
    }

    fn key(&self) -> Box<str> {
        key_of(
            self.metadata.namespace.as_deref().filter(|n| !n.is_empty()),
            self.metadata.name.as_deref().unwrap_or_default(),
        )
    }
}

/// Applies a watch's events to `kind` until `stop` (or the stream ends).
async fn feed<T: Indexable, E: std::fmt::Display>(
    index: &ClusterIndex,
    kind: &IndexedKind,
    mut stream: impl Stream<Item = Result<Event<T>, E>> + Unpin,
    stop: &CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            ev = stream.next() => match ev {
                Some(Ok(ev)) => index.apply(kind, ev),
                Some(Err(e)) => tracing::debug!(kind = %kind.info.key(), error = %e, "search watch failed; retrying"),
                None => return,
            }
        }
    }
}

impl ClusterIndex {
    /// An empty index.
    pub fn new() -> ClusterIndex {
        ClusterIndex {
            builtin: SEARCH_KINDS
                .iter()
                .map(|k| Arc::new(IndexedKind::new(k.into())))
                .collect(),
            custom: RwLock::default(),
            interner: Mutex::new(Interner::default()),
        }
    }

    /// A built-in kind (an index into [`SEARCH_KINDS`]).
    pub fn builtin(&self, kind: usize) -> &Arc<IndexedKind> {
        &self.builtin[kind]
    }

    /// Every kind: the built-in ones, then the custom resources'.
    pub fn kinds(&self) -> Vec<Arc<IndexedKind>> {
        let custom = self.custom.read().unwrap_or_else(|e| e.into_inner());
        self.builtin
            .iter()
            .cloned()
            .chain(custom.values().map(|(k, _)| k.clone()))
            .collect()
    }

    /// Adds a custom resource kind (kept as it is when already there with the same version
    /// and scope, else replaced with an empty one) and hands it back with whether it is new.
    pub fn add_custom(&self, info: KindInfo) -> (Arc<IndexedKind>, CancellationToken, bool) {
        let mut custom = self.custom.write().unwrap_or_else(|e| e.into_inner());
        let key = info.key();
        if let Some((k, stop)) = custom.get(&key)
            && k.info == info
        {
            return (k.clone(), stop.clone(), false);
        }
        let kind = Arc::new(IndexedKind::new(info));
        let stop = CancellationToken::new();
        if let Some((_, old)) = custom.insert(key, (kind.clone(), stop.clone())) {
            old.cancel();
        }
        (kind, stop, true)
    }

    /// Drops a custom resource kind (by `plural.group`) and stops its watch.
    pub fn remove_custom(&self, key: &str) {
        let removed = self
            .custom
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        if let Some((_, stop)) = removed {
            stop.cancel();
        }
    }

    /// Turns an object (JSON) into its compact form.
    pub fn compact(&self, kind: &KindInfo, obj: &Value) -> (Box<str>, Compact) {
        let meta = &obj["metadata"];
        let labels = meta["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()));
        let created = meta["creationTimestamp"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0);
        self.make_compact(
            meta["namespace"].as_str(),
            meta["name"].as_str().unwrap_or_default(),
            labels,
            created,
            status_of(kind, obj).as_deref(),
        )
    }

    /// Turns an object's metadata (what a metadata-only watch gives) into its compact form,
    /// without a status.
    pub fn compact_meta(&self, meta: &ObjectMeta) -> (Box<str>, Compact) {
        let labels = meta
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        self.make_compact(
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
            labels,
            meta.creation_timestamp
                .as_ref()
                .map_or(0, |t| t.0.as_second()),
            None,
        )
    }

    fn make_compact<'a>(
        &self,
        ns: Option<&str>,
        name: &str,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
        created: i64,
        status: Option<&str>,
    ) -> (Box<str>, Compact) {
        let ns = ns.filter(|n| !n.is_empty());
        let mut interner = self.interner.lock().unwrap_or_else(|e| e.into_inner());
        let labels: Box<[(Arc<str>, Arc<str>)]> = labels
            .map(|(k, v)| (interner.get(k), interner.get(v)))
            .collect();
        let c = Compact {
            namespace: ns.map(|n| interner.get(n)),
            name: name.into(),
            labels,
            created,
            status: status.map(|s| interner.get(s)),
        };
        (key_of(ns, name), c)
    }

    /// Adds or replaces an object of a built-in kind (tests and benchmarks feed indexes this
    /// way; clusters feed them through [`ClusterIndex::run`]).
    pub fn insert(&self, kind: usize, obj: &Value) {
        self.insert_into(&self.builtin[kind].clone(), obj);
    }

    /// Adds or replaces an object of `kind`.
    pub fn insert_into(&self, kind: &IndexedKind, obj: &Value) {
        let (key, c) = self.compact(&kind.info, obj);
        kind.objects
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::new(c));
    }

    /// Marks a built-in kind synced (for indexes fed by [`ClusterIndex::insert`]).
    pub fn mark_synced(&self, kind: usize) {
        self.builtin[kind].synced.store(true, Ordering::Release);
    }

    /// Whether one built-in kind has had its first full list.
    pub fn kind_synced(&self, kind: usize) -> bool {
        self.builtin[kind].is_synced()
    }

    /// Whether every built-in kind has had its first full list.
    pub fn is_synced(&self) -> bool {
        self.builtin.iter().all(|s| s.is_synced())
    }

    /// Number of objects of a built-in kind.
    pub fn len(&self, kind: usize) -> usize {
        self.builtin[kind].len()
    }

    /// Visits every object of a built-in kind under a read lock.
    pub fn for_each(&self, kind: usize, f: impl FnMut(&Arc<Compact>)) {
        self.builtin[kind].for_each(f);
    }

    /// Applies one watch event to `kind`.
    pub fn apply<T: Indexable>(&self, kind: &IndexedKind, event: Event<T>) {
        match event {
            Event::Apply(o) => {
                let (key, c) = o.compact(self, &kind.info);
                kind.objects
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, Arc::new(c));
            }
            Event::Delete(o) => {
                kind.objects
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&o.key());
            }
            Event::Init => {
                *kind.init.lock().unwrap_or_else(|e| e.into_inner()) = Some(HashMap::new());
            }
            Event::InitApply(o) => {
                let (key, c) = o.compact(self, &kind.info);
                kind.init
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(HashMap::new)
                    .insert(key, Arc::new(c));
            }
            Event::InitDone => {
                let fresh = kind
                    .init
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .unwrap_or_default();
                *kind.objects.write().unwrap_or_else(|e| e.into_inner()) = fresh;
                kind.synced.store(true, Ordering::Release);
                self.interner
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .sweep();
            }
        }
    }

    /// Feeds one kind from a watch on `client` until `stop`: ConfigMaps, Secrets and custom
    /// resources from a metadata-only list and watch (`PartialObjectMetadata`), the rest from
    /// the objects.
    async fn watch_kind(&self, kind: Arc<IndexedKind>, client: Client, stop: CancellationToken) {
        let resource = kind.info.resource();
        let config = watcher::Config::default();
        if kind.info.metadata_only() {
            // An `Api` of `PartialObjectMeta` lists and watches with kube's metadata `Accept`.
            let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &resource);
            let stream = watcher::watcher(api, config).default_backoff().boxed();
            feed(self, &kind, stream, &stop).await;
        } else {
            let api: Api<DynamicObject> = Api::all_with(client, &resource);
            let stream = watcher::watcher(api, config)
                .default_backoff()
                .map(|r| r.map(json_events))
                .boxed();
            feed(self, &kind, stream, &stop).await;
        }
    }

    /// Follows the cluster's CRDs: a kind is added (and watched) for each one that serves a
    /// version, dropped (and its watch stopped) when the CRD goes.
    async fn watch_crds(self: Arc<ClusterIndex>, client: Client, stop: CancellationToken) {
        let crds = ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &crds);
        let mut stream = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .map(|r| r.map(json_events))
            .boxed();
        // The kinds seen since the last (re)list began.
        let mut listed: Option<HashSet<String>> = None;
        loop {
            let ev = tokio::select! {
                _ = stop.cancelled() => break,
                ev = stream.next() => match ev {
                    Some(Ok(ev)) => ev,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "search CRD watch failed; retrying");
                        continue;
                    }
                    None => break,
                },
            };
            match ev {
                Event::Apply(crd) | Event::InitApply(crd) => {
                    let Some(info) = KindInfo::of_crd(&crd) else {
                        continue;
                    };
                    if let Some(l) = listed.as_mut() {
                        l.insert(info.key());
                    }
                    let (kind, kind_stop, new) = self.add_custom(info);
                    if new {
                        // Stopped by its own token: when the CRD goes, or below when `stop` ends
                        // this loop.
                        let (index, client) = (self.clone(), client.clone());
                        tokio::spawn(
                            async move { index.watch_kind(kind, client, kind_stop).await },
                        );
                    }
                }
                Event::Delete(crd) => {
                    if let Some(info) = KindInfo::of_crd(&crd) {
                        self.remove_custom(&info.key());
                    }
                }
                Event::Init => listed = Some(HashSet::new()),
                Event::InitDone => {
                    let seen = listed.take().unwrap_or_default();
                    let gone: Vec<String> = self
                        .custom
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for key in gone {
                        self.remove_custom(&key);
                    }
                }
            }
        }
        let custom = std::mem::take(&mut *self.custom.write().unwrap_or_else(|e| e.into_inner()));
        for (_, (_, s)) in custom {
            s.cancel();
        }
    }

    /// Feeds every kind from watches on `client` until `stop`.
    pub async fn run(self: Arc<ClusterIndex>, client: Client, stop: CancellationToken) {
        let mut tasks = Vec::new();
        for kind in self.builtin.clone() {
            let (index, client, stop) = (self.clone(), client.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                index.watch_kind(kind, client, stop).await;
            }));
        }
        tasks.push(tokio::spawn(self.clone().watch_crds(client, stop)));
        for t in tasks {
            let _ = t.await;
        }
    }
}
