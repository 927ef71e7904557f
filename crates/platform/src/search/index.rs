//! Per-cluster, watch-fed index of the kinds the platform lists, in a compact form: name,
//! namespace, labels, creation time and a one-word status, with namespaces and label strings
//! interned (shared by every object that uses them).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use apimachinery::selector::Labels;
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// One kind the search covers.
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

/// The kinds every cluster's index holds (no Secrets or ConfigMaps: their names are all a
/// search would show, and data stays out of caches).
pub const SEARCH_KINDS: [SearchKind; 11] = [
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
];

impl SearchKind {
    /// `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.into(),
            version: self.version.into(),
            api_version: self.api_version(),
            kind: self.kind.into(),
            plural: self.plural.into(),
        }
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
    /// `ready/desired`, an event's reason.
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

#[derive(Default)]
struct KindStore {
    objects: RwLock<HashMap<Box<str>, Arc<Compact>>>,
    init: Mutex<Option<HashMap<Box<str>, Arc<Compact>>>>,
    synced: AtomicBool,
}

/// The index of one cluster.
pub struct ClusterIndex {
    stores: Vec<KindStore>,
    interner: Mutex<Interner>,
}

impl Default for ClusterIndex {
    fn default() -> Self {
        ClusterIndex::new()
    }
}

fn status_of(kind: &SearchKind, obj: &Value) -> Option<String> {
    let s = &obj["status"];
    match kind.plural {
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

impl ClusterIndex {
    /// An empty index.
    pub fn new() -> ClusterIndex {
        ClusterIndex {
            stores: SEARCH_KINDS.iter().map(|_| KindStore::default()).collect(),
            interner: Mutex::new(Interner::default()),
        }
    }

    /// Turns an object (JSON) into its compact form.
    pub fn compact(&self, kind: usize, obj: &Value) -> (Box<str>, Compact) {
        let meta = &obj["metadata"];
        let name = meta["name"].as_str().unwrap_or_default();
        let ns = meta["namespace"].as_str().filter(|n| !n.is_empty());
        let mut interner = self.interner.lock().unwrap_or_else(|e| e.into_inner());
        let labels: Box<[(Arc<str>, Arc<str>)]> = meta["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                (
                    interner.get(k),
                    interner.get(v.as_str().unwrap_or_default()),
                )
            })
            .collect();
        let status = status_of(&SEARCH_KINDS[kind], obj).map(|s| interner.get(&s));
        let c = Compact {
            namespace: ns.map(|n| interner.get(n)),
            name: name.into(),
            labels,
            created: meta["creationTimestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0),
            status,
        };
        (key_of(ns, name), c)
    }

    /// Adds or replaces an object (tests and benchmarks feed indexes this way; clusters feed
    /// them through [`ClusterIndex::run`]).
    pub fn insert(&self, kind: usize, obj: &Value) {
        let (key, c) = self.compact(kind, obj);
        let store = &self.stores[kind];
        store
            .objects
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::new(c));
    }

    /// Marks a kind synced (for indexes fed by [`ClusterIndex::insert`]).
    pub fn mark_synced(&self, kind: usize) {
        self.stores[kind].synced.store(true, Ordering::Release);
    }

    /// Whether one kind has had its first full list.
    pub fn kind_synced(&self, kind: usize) -> bool {
        self.stores[kind].synced.load(Ordering::Acquire)
    }

    /// Whether every kind has had its first full list.
    pub fn is_synced(&self) -> bool {
        self.stores.iter().all(|s| s.synced.load(Ordering::Acquire))
    }

    /// Number of objects of a kind.
    pub fn len(&self, kind: usize) -> usize {
        self.stores[kind]
            .objects
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Visits every object of a kind under a read lock.
    pub fn for_each(&self, kind: usize, mut f: impl FnMut(&Arc<Compact>)) {
        let objects = self.stores[kind]
            .objects
            .read()
            .unwrap_or_else(|e| e.into_inner());
        for c in objects.values() {
            f(c);
        }
    }

    fn apply(&self, kind: usize, event: Event<DynamicObject>) {
        let to_value = |o: DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
        let store = &self.stores[kind];
        match event {
            Event::Apply(o) => self.insert(kind, &to_value(o)),
            Event::Delete(o) => {
                let v = to_value(o);
                let key = key_of(
                    v["metadata"]["namespace"]
                        .as_str()
                        .filter(|n| !n.is_empty()),
                    v["metadata"]["name"].as_str().unwrap_or_default(),
                );
                store
                    .objects
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
            }
            Event::Init => {
                *store.init.lock().unwrap_or_else(|e| e.into_inner()) = Some(HashMap::new());
            }
            Event::InitApply(o) => {
                let (key, c) = self.compact(kind, &to_value(o));
                store
                    .init
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(HashMap::new)
                    .insert(key, Arc::new(c));
            }
            Event::InitDone => {
                let fresh = store
                    .init
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .unwrap_or_default();
                *store.objects.write().unwrap_or_else(|e| e.into_inner()) = fresh;
                store.synced.store(true, Ordering::Release);
                self.interner
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .sweep();
            }
        }
    }

    /// Feeds every kind from watches on `client` until `stop`.
    pub async fn run(self: Arc<ClusterIndex>, client: Client, stop: CancellationToken) {
        let mut tasks = Vec::new();
        for (i, kind) in SEARCH_KINDS.iter().enumerate() {
            let index = self.clone();
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.resource());
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut stream = watcher::watcher(api, watcher::Config::default())
                    .default_backoff()
                    .boxed();
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        ev = stream.next() => match ev {
                            Some(Ok(ev)) => index.apply(i, ev),
                            Some(Err(e)) => tracing::debug!(kind = SEARCH_KINDS[i].plural, error = %e, "search watch failed; retrying"),
                            None => return,
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}
