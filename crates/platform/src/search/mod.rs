//! Cross-cluster search over the per-cluster [`index`]es: filter by kind, name text, label
//! selector, cluster, workspace and namespace; sort and page on the server; keep only what the
//! caller may see (decided once per cluster, kind and namespace, not per object).

pub mod index;

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::listing::ListQuery;
use index::{ClusterIndex, Compact, SEARCH_KINDS};

/// A parsed search.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Paging, sorting (`name`, `createTime`, `namespace`, `cluster`), `name`, `labelSelector`.
    pub list: ListQuery,
    /// Indexes into [`SEARCH_KINDS`] (every kind when `kind` is absent).
    pub kinds: Vec<usize>,
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
            clusters: Vec::new(),
            workspace: None,
            namespace: None,
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let values = || v.split(',').map(str::trim).filter(|s| !s.is_empty());
            match k.as_ref() {
                "kind" => {
                    for want in values() {
                        let i = SEARCH_KINDS
                            .iter()
                            .position(|k| {
                                k.plural == want.to_ascii_lowercase()
                                    || k.kind.eq_ignore_ascii_case(want)
                            })
                            .ok_or_else(|| {
                                let known: Vec<&str> =
                                    SEARCH_KINDS.iter().map(|k| k.plural).collect();
                                format!("unknown kind {want:?} (known: {})", known.join(", "))
                            })?;
                        q.kinds.push(i);
                    }
                }
                "cluster" => q.clusters.extend(values().map(str::to_string)),
                "workspace" if !v.is_empty() => q.workspace = Some(v.into_owned()),
                "namespace" if !v.is_empty() => q.namespace = Some(v.into_owned()),
                _ => {}
            }
        }
        if q.kinds.is_empty() {
            q.kinds = (0..SEARCH_KINDS.len()).collect();
        }
        q.kinds.sort();
        q.kinds.dedup();
        Ok(q)
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
    /// Index into [`SEARCH_KINDS`].
    pub kind: usize,
    /// The object.
    pub obj: Arc<Compact>,
}

/// The namespace an object is "in" for visibility and filters: its own, or for a Namespace
/// its name.
fn scope_namespace(kind: usize, c: &Compact) -> Option<&str> {
    if SEARCH_KINDS[kind].plural == "namespaces" {
        Some(&c.name)
    } else {
        c.namespace.as_deref()
    }
}

/// One side of a comparison: cluster index, kind index, object.
type Side<'a> = (usize, usize, &'a Compact);

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
    .then_with(|| ak.cmp(&bk));
    if q.ascending { ord } else { ord.reverse() }
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Pages deeper than this are sorted in full instead of kept in a bounded sorted buffer.
const BOUNDED_PAGE_END: usize = 2_000;

/// Runs `q` over `clusters`; `may_see(cluster, kind, namespace)` decides visibility (asked at
/// most once per distinct triple). Returns the total and the requested page.
pub fn run(
    q: &SearchQuery,
    clusters: &[SearchCluster<'_>],
    mut may_see: impl FnMut(usize, usize, Option<&str>) -> bool,
) -> (usize, Vec<Hit>) {
    let needle = q.list.name.as_deref();
    // Interned namespaces are shared, so their address identifies them.
    let mut seen: HashMap<(usize, usize, usize), bool> = HashMap::new();
    let limit = q.list.limit.unwrap_or(DEFAULT_LIMIT);
    let start = (q.list.page - 1).saturating_mul(limit);
    let end = start.saturating_add(limit);
    let cmp = |a: &Hit, b: &Hit| {
        compare(
            &q.list,
            clusters,
            (a.cluster, a.kind, &a.obj),
            (b.cluster, b.kind, &b.obj),
        )
    };
    // The best `end` hits so far, in order, while `end` is small; else every hit.
    let bounded = end <= BOUNDED_PAGE_END;
    let mut hits: Vec<Hit> = Vec::new();
    let mut total = 0usize;
    for (ci, cluster) in clusters.iter().enumerate() {
        if !q.clusters.is_empty() && !q.clusters.iter().any(|c| c == cluster.name) {
            continue;
        }
        for &kind in &q.kinds {
            let is_namespace = SEARCH_KINDS[kind].plural == "namespaces";
            cluster.index.for_each(kind, |c| {
                let ns = scope_namespace(kind, c);
                if let Some(want) = &q.namespace
                    && ns != Some(want.as_str())
                {
                    return;
                }
                if let Some(set) = &cluster.workspace_namespaces
                    && !ns.is_some_and(|n| set.contains(n))
                {
                    return;
                }
                if let Some(n) = needle
                    && !contains_ignore_case(&c.name, n)
                {
                    return;
                }
                if !q.list.label_selector.is_empty() && !q.list.label_selector.matches(&**c) {
                    return;
                }
                let allowed = if is_namespace {
                    may_see(ci, kind, ns)
                } else {
                    let id = c
                        .namespace
                        .as_ref()
                        .map_or(0, |n| Arc::as_ptr(n) as *const u8 as usize);
                    *seen
                        .entry((ci, kind, id))
                        .or_insert_with(|| may_see(ci, kind, ns))
                };
                if !allowed {
                    return;
                }
                total += 1;
                let me = (ci, kind, &**c);
                if bounded && hits.len() == end {
                    match hits.last() {
                        Some(w)
                            if compare(&q.list, clusters, me, (w.cluster, w.kind, &w.obj))
                                == Ordering::Less =>
                        {
                            hits.pop();
                        }
                        _ => return,
                    }
                }
                let hit = Hit {
                    cluster: ci,
                    kind,
                    obj: c.clone(),
                };
                if !bounded {
                    hits.push(hit);
                    return;
                }
                let at = hits.partition_point(|h| cmp(h, &hit) != Ordering::Greater);
                hits.insert(at, hit);
            });
        }
    }
    if start >= hits.len() {
        return (total, Vec::new());
    }
    if !bounded {
        let end = end.min(hits.len());
        if end < hits.len() {
            hits.select_nth_unstable_by(end - 1, cmp);
            hits.truncate(end);
        }
        hits.sort_unstable_by(cmp);
    }
    (total, hits.split_off(start))
}

/// A hit as the API answers it.
pub fn to_json(h: &Hit, clusters: &[SearchCluster<'_>]) -> Value {
    let kind = &SEARCH_KINDS[h.kind];
    let c = &h.obj;
    let cluster = &clusters[h.cluster];
    let labels: serde_json::Map<String, Value> = c
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let created = chrono::DateTime::from_timestamp(c.created, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let workspace = scope_namespace(h.kind, c).and_then(|ns| (cluster.workspace_of)(ns));
    json!({
        "cluster": cluster.name, "apiVersion": kind.api_version(), "kind": kind.kind,
        "resource": kind.plural, "workspace": workspace,
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
}
