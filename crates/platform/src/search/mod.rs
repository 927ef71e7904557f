//! Cross-cluster search over the per-cluster [`index`]es: filter by kind, name text, label
//! selector, cluster, workspace and namespace; sort and page on the server; keep only what the
//! caller may see (decided once per cluster, kind and namespace, not per object).

pub mod index;

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::listing::ListQuery;
use index::{ClusterIndex, Compact, IndexedKind, KindInfo, SEARCH_KINDS};

/// A kind named in a query: a built-in's plural or Kind, or `plural.group` (how custom
/// resources are named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSel {
    /// Plural resource name.
    pub plural: String,
    /// API group (empty for the core group).
    pub group: String,
}

impl KindSel {
    /// Reads one `kind=` value.
    pub fn parse(want: &str) -> Result<KindSel, String> {
        let lower = want.to_ascii_lowercase();
        if let Some(k) = SEARCH_KINDS
            .iter()
            .find(|k| k.plural == lower || k.kind.eq_ignore_ascii_case(want))
        {
            return Ok(KindSel {
                plural: k.plural.into(),
                group: k.group.into(),
            });
        }
        match lower.split_once('.') {
            Some((plural, group)) if !plural.is_empty() && !group.is_empty() => Ok(KindSel {
                plural: plural.into(),
                group: group.into(),
            }),
            _ => {
                let known: Vec<&str> = SEARCH_KINDS.iter().map(|k| k.plural).collect();
                Err(format!(
                    "unknown kind {want:?} (known: {}; custom resources as plural.group)",
                    known.join(", ")
                ))
            }
        }
    }

    /// Whether `k` is this kind.
    pub fn matches(&self, k: &KindInfo) -> bool {
        k.plural == self.plural && k.group == self.group
    }
}

/// A parsed search.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Paging, sorting (`name`, `createTime`, `namespace`, `cluster`), `name`, `labelSelector`.
    pub list: ListQuery,
    /// The kinds asked for (`kind=`; every kind, custom resources included, when empty).
    pub kinds: Vec<KindSel>,
    /// Kinds left out (`excludeKind=`).
    pub excluded: Vec<KindSel>,
    /// Cluster names (every cluster when absent).
    pub clusters: Vec<String>,
    /// Only objects in this workspace's namespaces (or the workspace's namespaces).
    pub workspace: Option<String>,
    /// Only objects in this namespace.
    pub namespace: Option<String>,
}

/// Largest page the search answers.
pub const MAX_LIMIT: usize = 500;
/// Page size when none is given.
pub const DEFAULT_LIMIT: usize = 20;

impl SearchQuery {
    /// Parses the URL query.
    pub fn parse(query: &str) -> Result<SearchQuery, String> {
        let mut list = ListQuery::parse(query).map_err(|e| e.to_string())?;
        list.limit = Some(list.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT));
        let mut q = SearchQuery {
            list,
            kinds: Vec::new(),
            excluded: Vec::new(),
            clusters: Vec::new(),
            workspace: None,
            namespace: None,
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let values = || v.split(',').map(str::trim).filter(|s| !s.is_empty());
            match k.as_ref() {
                "kind" => {
                    for want in values() {
                        q.kinds.push(KindSel::parse(want)?);
                    }
                }
                "excludeKind" => {
                    for want in values() {
                        q.excluded.push(KindSel::parse(want)?);
                    }
                }
                "cluster" => q.clusters.extend(values().map(str::to_string)),
                "workspace" if !v.is_empty() => q.workspace = Some(v.into_owned()),
                "namespace" if !v.is_empty() => q.namespace = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(q)
    }

    /// Whether the query covers `k`.
    pub fn wants(&self, k: &KindInfo) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|s| s.matches(k)))
            && !self.excluded.iter().any(|s| s.matches(k))
    }
}

/// One cluster as the search sees it.
pub struct SearchCluster<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its index.
    pub index: &'a ClusterIndex,
    /// Namespace → workspace (the namespace's `kubesphere.io/workspace` label).
    pub workspace_of: &'a dyn Fn(&str) -> Option<String>,
    /// The namespaces of the queried workspace (when the query names one).
    pub workspace_namespaces: Option<HashSet<String>>,
}

/// One result.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Index of its cluster in the slice given to [`run`].
    pub cluster: usize,
    /// Its kind (in that cluster's index).
    pub kind: Arc<IndexedKind>,
    /// The object.
    pub obj: Arc<Compact>,
}

/// The namespace an object is "in" for visibility and filters: its own, or for a Namespace
/// its name.
fn scope_namespace<'c>(kind: &KindInfo, c: &'c Compact) -> Option<&'c str> {
    if kind.is_namespace() {
        Some(&c.name)
    } else {
        c.namespace.as_deref()
    }
}

/// One side of a comparison: cluster index, kind, object.
type Side<'a> = (usize, &'a KindInfo, &'a Compact);

fn compare(q: &ListQuery, clusters: &[SearchCluster<'_>], a: Side<'_>, b: Side<'_>) -> Ordering {
    let ((ac, ak, a), (bc, bk, b)) = (a, b);
    let by_name = || a.name.cmp(&b.name);
    let ord = match q.sort_by.as_str() {
        "name" => by_name(),
        "namespace" => a.namespace.cmp(&b.namespace).then_with(by_name),
        "cluster" => clusters[ac].name.cmp(clusters[bc].name).then_with(by_name),
        _ => a.created.cmp(&b.created).then_with(by_name),
    }
    .then_with(|| a.namespace.cmp(&b.namespace))
    .then_with(|| clusters[ac].name.cmp(clusters[bc].name))
    .then_with(|| (&ak.group, &ak.plural).cmp(&(&bk.group, &bk.plural)));
    if q.ascending { ord } else { ord.reverse() }
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Pages deeper than this are sorted in full instead of kept in a bounded sorted buffer.
const BOUNDED_PAGE_END: usize = 2_000;

/// Whether an object passes the query's namespace, workspace, name and label filters.
fn passes(q: &SearchQuery, cluster: &SearchCluster<'_>, ns: Option<&str>, c: &Compact) -> bool {
    if let Some(want) = &q.namespace
        && ns != Some(want.as_str())
    {
        return false;
    }
    if let Some(set) = &cluster.workspace_namespaces
        && !ns.is_some_and(|n| set.contains(n))
    {
        return false;
    }
    if let Some(n) = q.list.name.as_deref()
        && !contains_ignore_case(&c.name, n)
    {
        return false;
    }
    q.list.label_selector.is_empty() || q.list.label_selector.matches(c)
}

/// The hits kept while scanning: the best `end` in order while `end` is small, else all.
struct Kept<'q, 'c> {
    q: &'q SearchQuery,
    clusters: &'q [SearchCluster<'c>],
    end: usize,
    bounded: bool,
    hits: Vec<Hit>,
}

fn side(h: &Hit) -> Side<'_> {
    (h.cluster, &h.kind.info, &h.obj)
}

impl Kept<'_, '_> {
    fn cmp(&self, a: &Hit, b: &Hit) -> Ordering {
        compare(&self.q.list, self.clusters, side(a), side(b))
    }

    fn offer(&mut self, hit: Hit) {
        if !self.bounded {
            self.hits.push(hit);
            return;
        }
        if self.hits.len() == self.end {
            match self.hits.last() {
                Some(w) if self.cmp(&hit, w) == Ordering::Less => {
                    self.hits.pop();
                }
                _ => return,
            }
        }
        let at = self
            .hits
            .partition_point(|h| self.cmp(h, &hit) != Ordering::Greater);
        self.hits.insert(at, hit);
    }

    /// The page from `start`.
    fn page(mut self, start: usize) -> Vec<Hit> {
        if start >= self.hits.len() {
            return Vec::new();
        }
        let mut hits = std::mem::take(&mut self.hits);
        if !self.bounded {
            let end = self.end.min(hits.len());
            if end < hits.len() {
                hits.select_nth_unstable_by(end - 1, |a, b| self.cmp(a, b));
                hits.truncate(end);
            }
            hits.sort_unstable_by(|a, b| self.cmp(a, b));
        }
        hits.split_off(start)
    }
}

/// Runs `q` over `clusters`; `may_see(cluster, kind, namespace)` decides visibility (asked at
/// most once per distinct triple). Returns the total and the requested page.
pub fn run(
    q: &SearchQuery,
    clusters: &[SearchCluster<'_>],
    mut may_see: impl FnMut(usize, &KindInfo, Option<&str>) -> bool,
) -> (usize, Vec<Hit>) {
    // Kinds and interned namespaces are shared, so their addresses identify them.
    let mut seen: HashMap<(usize, usize, usize), bool> = HashMap::new();
    let limit = q.list.limit.unwrap_or(DEFAULT_LIMIT);
    let start = (q.list.page - 1).saturating_mul(limit);
    let end = start.saturating_add(limit);
    let mut kept = Kept {
        q,
        clusters,
        end,
        bounded: end <= BOUNDED_PAGE_END,
        hits: Vec::new(),
    };
    let mut total = 0usize;
    for (ci, cluster) in clusters.iter().enumerate() {
        if !q.clusters.is_empty() && !q.clusters.iter().any(|c| c == cluster.name) {
            continue;
        }
        for kind in cluster.index.kinds() {
            if !q.wants(&kind.info) {
                continue;
            }
            let kind_id = Arc::as_ptr(&kind) as usize;
            kind.for_each(|c| {
                let ns = scope_namespace(&kind.info, c);
                if !passes(q, cluster, ns, c) {
                    return;
                }
                let allowed = if kind.info.is_namespace() {
                    may_see(ci, &kind.info, ns)
                } else {
                    let id = c
                        .namespace
                        .as_ref()
                        .map_or(0, |n| Arc::as_ptr(n) as *const u8 as usize);
                    *seen
                        .entry((ci, kind_id, id))
                        .or_insert_with(|| may_see(ci, &kind.info, ns))
                };
                if allowed {
                    total += 1;
                    kept.offer(Hit {
                        cluster: ci,
                        kind: kind.clone(),
                        obj: c.clone(),
                    });
                }
            });
        }
    }
    (total, kept.page(start))
}

/// A hit as the API answers it.
pub fn to_json(h: &Hit, clusters: &[SearchCluster<'_>]) -> Value {
    let kind = &h.kind.info;
    let c = &h.obj;
    let cluster = &clusters[h.cluster];
    let labels: serde_json::Map<String, Value> = c
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let created = chrono::DateTime::from_timestamp(c.created, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let workspace = scope_namespace(kind, c).and_then(|ns| (cluster.workspace_of)(ns));
    json!({
        "cluster": cluster.name, "apiVersion": kind.api_version(), "kind": kind.kind,
        "resource": kind.plural, "group": kind.group, "custom": kind.custom,
        "workspace": workspace,
        "metadata": {"name": &*c.name, "namespace": c.namespace.as_deref(), "labels": labels,
            "creationTimestamp": created},
        "status": c.status.as_deref(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str, name: &str, app: &str, created: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": ns, "labels": {"app": app},
            "creationTimestamp": created}, "status": {"phase": "Running"}})
    }

    fn no_ws(_: &str) -> Option<String> {
        None
    }

    fn fill() -> (ClusterIndex, ClusterIndex) {
        let (a, b) = (ClusterIndex::new(), ClusterIndex::new());
        let pods = SEARCH_KINDS
            .iter()
            .position(|k| k.plural == "pods")
            .unwrap_or(0);
        for i in 0..30 {
            let t = format!("2026-01-01T00:00:{i:02}Z");
            a.insert(pods, &pod("x", &format!("web-{i:02}"), "web", &t));
            b.insert(
                pods,
                &pod(
                    if i % 2 == 0 { "y" } else { "z" },
                    &format!("db-{i:02}"),
                    "db",
                    &t,
                ),
            );
        }
        (a, b)
    }

    #[test]
    fn filters_sorts_pages_and_hides() {
        let (a, b) = fill();
        let clusters = vec![
            SearchCluster {
                name: "a",
                index: &a,
                workspace_of: &no_ws,
                workspace_namespaces: None,
            },
            SearchCluster {
                name: "b",
                index: &b,
                workspace_of: &no_ws,
                workspace_namespaces: None,
            },
        ];
        let q =
            SearchQuery::parse("kind=pods&sortBy=name&ascending=true&limit=5&page=2").expect("q");
        let (total, page) = run(&q, &clusters, |_, _, _| true);
        assert_eq!(total, 60);
        let names: Vec<&str> = page.iter().map(|h| &*h.obj.name).collect();
        assert_eq!(names, ["db-05", "db-06", "db-07", "db-08", "db-09"]);
        let q =
            SearchQuery::parse("kind=Pod&labelSelector=app%3Dweb&name=WEB-1&limit=100").expect("q");
        let (total, page) = run(&q, &clusters, |_, _, _| true);
        assert_eq!(total, 10);
        assert_eq!(&*page[0].obj.name, "web-19", "newest first by default");
        // Visibility is asked once per namespace and applies to every object in it.
        let mut asked = Vec::new();
        let q = SearchQuery::parse("kind=pods&limit=100").expect("q");
        let (total, _) = run(&q, &clusters, |c, _, ns| {
            asked.push((c, ns.map(str::to_string)));
            ns == Some("y")
        });
        assert_eq!(total, 15);
        asked.sort();
        assert_eq!(asked.len(), 3);
        let q = SearchQuery::parse("cluster=a&namespace=x&limit=3").expect("q");
        let (total, page) = run(&q, &clusters, |_, _, _| true);
        assert_eq!((total, page.len()), (30, 3));
        assert!(SearchQuery::parse("kind=gadgets").is_err());
        let q = SearchQuery::parse("page=99").expect("q");
        assert!(run(&q, &clusters, |_, _, _| true).1.is_empty());
    }

    #[test]
    fn workspace_filter_uses_the_namespace_set() {
        let (a, b) = fill();
        let set: HashSet<String> = ["z".to_string()].into();
        let clusters = vec![
            SearchCluster {
                name: "a",
                index: &a,
                workspace_of: &no_ws,
                workspace_namespaces: Some(HashSet::new()),
            },
            SearchCluster {
                name: "b",
                index: &b,
                workspace_of: &no_ws,
                workspace_namespaces: Some(set),
            },
        ];
        let q = SearchQuery::parse("workspace=w&limit=100").expect("q");
        let (total, page) = run(&q, &clusters, |_, _, _| true);
        assert_eq!(total, 15);
        assert!(page.iter().all(|h| h.obj.namespace.as_deref() == Some("z")));
        let v = to_json(&page[0], &clusters);
        assert_eq!(v["cluster"], "b");
        assert_eq!(v["kind"], "Pod");
        assert_eq!(v["status"], "Running");
        assert_eq!(v["metadata"]["labels"]["app"], "db");
    }

    fn builtin(plural: &str) -> usize {
        SEARCH_KINDS
            .iter()
            .position(|k| k.plural == plural)
            .unwrap_or_else(|| panic!("{plural} is not a built-in search kind"))
    }

    fn one(index: &ClusterIndex) -> Vec<SearchCluster<'_>> {
        vec![SearchCluster {
            name: "m1",
            index,
            workspace_of: &no_ws,
            workspace_namespaces: None,
        }]
    }

    fn found(clusters: &[SearchCluster<'_>], query: &str) -> Vec<String> {
        let q = SearchQuery::parse(query).expect("query");
        let (_, page) = run(&q, clusters, |_, _, _| true);
        page.iter()
            .map(|h| format!("{}/{}", h.kind.info.kind, h.obj.name))
            .collect()
    }

    /// The kinds the console shows besides workloads are indexed: ConfigMaps, Secrets,
    /// ServiceAccounts, Ingresses, PVCs, storage and policy kinds, each found by `kind=`.
    #[test]
    fn console_kinds_are_indexed() {
        let index = ClusterIndex::new();
        let kinds = [
            ("configmaps", "ConfigMap"),
            ("secrets", "Secret"),
            ("serviceaccounts", "ServiceAccount"),
            ("ingresses", "Ingress"),
            ("persistentvolumeclaims", "PersistentVolumeClaim"),
            ("networkpolicies", "NetworkPolicy"),
            ("horizontalpodautoscalers", "HorizontalPodAutoscaler"),
        ];
        for (plural, _) in kinds {
            index.insert(
                builtin(plural),
                &json!({"metadata": {"name": format!("shop-{plural}"), "namespace": "shop"}}),
            );
        }
        for plural in ["persistentvolumes", "storageclasses"] {
            index.insert(
                builtin(plural),
                &json!({"metadata": {"name": format!("shop-{plural}")}}),
            );
        }
        let clusters = one(&index);
        for (plural, kind) in kinds {
            assert_eq!(
                found(&clusters, &format!("kind={plural}&name=shop")),
                [format!("{kind}/shop-{plural}")]
            );
        }
        let all = found(&clusters, "name=shop-&limit=100");
        assert_eq!(all.len(), 9, "{all:?}");
        let q = SearchQuery::parse("name=shop&kind=ingresses.networking.k8s.io").expect("q");
        let (total, page) = run(&q, &clusters, |_, _, _| true);
        assert_eq!(total, 1);
        let v = to_json(&page[0], &clusters);
        assert_eq!(v["apiVersion"], "networking.k8s.io/v1");
        assert_eq!(v["resource"], "ingresses");
        assert_eq!(v["metadata"]["namespace"], "shop");
        assert_eq!(
            found(
                &clusters,
                "name=shop&excludeKind=secrets,configmaps&limit=100"
            )
            .len(),
            7
        );
    }

    /// A Secret's data (and a ConfigMap's) is never indexed nor answered, even when the whole
    /// object reaches the index: only its metadata is kept.
    #[test]
    fn secret_data_is_never_indexed_or_returned() {
        let index = ClusterIndex::new();
        index.insert(
            builtin("secrets"),
            &json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "db-password", "namespace": "shop", "labels": {"app": "db"},
                    "annotations": {"note": "annotation-value"}},
                "data": {"pwkey": "aHVudGVyMg=="}, "stringData": {"token": "hunter2"}}),
        );
        index.insert(
            builtin("configmaps"),
            &json!({"metadata": {"name": "db-config", "namespace": "shop"},
                "data": {"url": "postgres://db"}, "binaryData": {"blob": "AAEC"}}),
        );
        let clusters = one(&index);
        let q = SearchQuery::parse("name=db-").expect("q");
        let (total, page) = run(&q, &clusters, |_, _, _| true);
        assert_eq!(total, 2);
        let text = serde_json::to_string(
            &page
                .iter()
                .map(|h| to_json(h, &clusters))
                .collect::<Vec<_>>(),
        )
        .expect("json");
        for secret in [
            "aHVudGVyMg",
            "hunter2",
            "pwkey",
            "token",
            "postgres",
            "AAEC",
            "annotation-value",
        ] {
            assert!(!text.contains(secret), "{secret} answered: {text}");
        }
        let debug = format!("{:?}", page.iter().map(|h| &h.obj).collect::<Vec<_>>());
        assert!(
            !debug.contains("hunter2") && !debug.contains("aHVudGVyMg"),
            "{debug}"
        );
        assert!(text.contains("db-password") && text.contains("\"app\":\"db\""));
    }

    fn widget_crd(version: &str, scope: &str) -> Value {
        json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com",
            "scope": scope, "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": false},
                {"name": version, "served": true, "storage": true}]}})
    }

    /// Custom resources are searched as the CRD names them, by `plural.group`, asked about by
    /// their own group and resource, and dropped with their CRD.
    #[test]
    fn custom_resources_come_and_go_with_their_crd() {
        let index = ClusterIndex::new();
        let info = KindInfo::of_crd(&widget_crd("v1", "Namespaced")).expect("served");
        assert_eq!((info.version.as_str(), info.namespaced), ("v1", true));
        assert!(KindInfo::of_crd(&json!({"spec": {"versions": []}})).is_none());
        let (kind, stop, new) = index.add_custom(info.clone());
        assert!(new);
        index.insert_into(
            &kind,
            &json!({"metadata": {"name": "blue-widget", "namespace": "shop"},
                "status": {"phase": "Shiny"}}),
        );
        let clusters = one(&index);
        assert_eq!(found(&clusters, "name=blue"), ["Widget/blue-widget"]);
        assert_eq!(
            found(&clusters, "kind=widgets.example.com"),
            ["Widget/blue-widget"]
        );
        assert!(found(&clusters, "kind=pods&name=blue").is_empty());
        assert!(SearchQuery::parse("kind=Widget").is_err(), "plural.group");
        let mut asked = Vec::new();
        let q = SearchQuery::parse("name=blue").expect("q");
        let (total, page) = run(&q, &clusters, |_, k, ns| {
            asked.push((k.group.clone(), k.plural.clone(), ns.map(str::to_string)));
            false
        });
        assert_eq!((total, page.len()), (0, 0));
        assert_eq!(
            asked,
            [("example.com".into(), "widgets".into(), Some("shop".into()))]
        );
        let q = SearchQuery::parse("name=blue").expect("q");
        let (_, page) = run(&q, &clusters, |_, _, _| true);
        let v = to_json(&page[0], &clusters);
        // Custom resources are indexed from their metadata: no status, whatever it holds.
        assert_eq!(
            (&v["apiVersion"], &v["custom"], &v["status"]),
            (&json!("example.com/v1"), &json!(true), &Value::Null)
        );
        // The same CRD again keeps the kind; a new storage version replaces it.
        assert!(!index.add_custom(info).2);
        let (_, _, new) =
            index.add_custom(KindInfo::of_crd(&widget_crd("v2", "Namespaced")).expect("served"));
        assert!(new && stop.is_cancelled(), "the old watch is stopped");
        assert!(found(&clusters, "name=blue").is_empty());
        index.remove_custom("widgets.example.com");
        assert_eq!(index.kinds().len(), SEARCH_KINDS.len());
    }

    proptest::proptest! {
        /// Any `kind=`/`excludeKind=` value is refused or read as a plural and group that a
        /// built-in or a `plural.group` names, never panicking.
        #[test]
        fn kind_values_are_read_or_refused(want in "\\PC{0,60}") {
            if let Ok(sel) = KindSel::parse(&want) {
                let builtin = SEARCH_KINDS
                    .iter()
                    .any(|k| k.plural == sel.plural && k.group == sel.group);
                proptest::prop_assert!(
                    builtin || (!sel.plural.is_empty() && !sel.group.is_empty())
                );
            }
            let query = format!("kind={}&excludeKind={}", urlencode(&want), urlencode(&want));
            let _ = SearchQuery::parse(&query);
        }

        /// A CRD of any shape (names missing or empty, versions served or not) gives a kind
        /// only with all its names, at a served version, preferring the storage one.
        #[test]
        fn crds_give_a_kind_only_when_whole(
            names in proptest::collection::vec(proptest::option::of("[a-z.]{0,3}"), 3),
            versions in proptest::collection::vec(
                ("v[0-9]", proptest::option::of(proptest::bool::ANY), proptest::bool::ANY), 0..4),
        ) {
            let crd = json!({"spec": {"group": names[0], "scope": "Namespaced",
                "names": {"plural": names[1], "kind": names[2]},
                "versions": versions.iter().map(|(n, served, storage)|
                    json!({"name": n, "served": served, "storage": storage})).collect::<Vec<_>>()}});
            let served: Vec<&(String, Option<bool>, bool)> =
                versions.iter().filter(|v| v.1 != Some(false)).collect();
            match KindInfo::of_crd(&crd) {
                Some(k) => {
                    proptest::prop_assert!(!k.plural.is_empty() && !k.group.is_empty() && !k.kind.is_empty());
                    let want = served.iter().find(|v| v.2).or(served.first()).map(|v| &v.0);
                    proptest::prop_assert_eq!(Some(&k.version), want);
                }
                None => proptest::prop_assert!(
                    served.is_empty() || names.iter().any(|n| n.as_deref().is_none_or(str::is_empty))
                ),
            }
        }
    }

    fn urlencode(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }
}
