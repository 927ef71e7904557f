//! The observability routes of issue 16 in the grammar, and what their answers may hold.
//!
//! Routes (each on the host and under `/clusters/{c}`, each with the right API version or a
//! wrong one, then spelled every way [`crate::grammar`] distorts a path):
//! - `kapis/monitoring.kubesphere.io/v1alpha3/` dashboards at the `cluster`, `nodes[/{node}]`,
//!   `workspaces/{ws}`, `namespaces/{ns}`, `…/workloads/{kind}/{name}` and `…/pods[/{pod}]`
//!   levels, and PromQL at `[namespaces/{ns}/]targets/query`;
//! - `kapis/alerting.kubesphere.io/v2beta1/` `alerts`, `namespaces/{ns}/alerts`,
//!   `globalalerts`, and the rule groups of the three levels under `/apis`;
//! - `kapis/tenant.kubesphere.io/v1alpha2/` `[workspaces/{ws}/]auditing/events`, `events`,
//!   `namespaces/{ns}/workloads/{kind}/{name}/logs`;
//!
//! with query parameters that try to leave the caller's namespaces: PromQL (`{namespace=~".+"}`,
//! `or` groups, matcher groups, `label_replace`, `absent`, aggregations), `namespace_filter`,
//! `workspace_filter`, `cluster`, `label_filters`, `metrics_filter` and stray `namespace=`.
//!
//! An answer that is allowed is then read: every series, alert, audit record and Event it
//! holds must belong to a namespace (workspace) the caller may see, as the oracle reads the
//! roles; counts and `absent` confined to a namespace must not tell anything of another.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::Value;

use crate::grammar::{NAMESPACE_ROLES, WORKSPACES, namespace};
use crate::oracle::{Attrs, World};

/// A family of routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Monitoring dashboards.
    Dashboard,
    /// PromQL (`targets/query`).
    PromQl,
    /// The alerts API.
    Alerts,
    /// Rule groups (native API).
    RuleGroups,
    /// The auditing query.
    Audit,
    /// Events across clusters.
    Events,
    /// A workload's logs.
    Logs,
}

/// Routes: `@v` the family's version, `@ns` a namespace, `@other` workspace b's project in the
/// cluster, `@ws` a workspace, `@node`, `@pod`, `@kind`, `@wl` names. The last ones nest a
/// second level into a route's path (no such route exists: they must not answer anything the
/// innermost level does not allow).
pub const ROUTES: [(Family, &str); 25] = [
    (
        Family::Dashboard,
        "kapis/monitoring.kubesphere.io/@v/cluster",
    ),
    (Family::Dashboard, "kapis/monitoring.kubesphere.io/@v/nodes"),
    (
        Family::Dashboard,
        "kapis/monitoring.kubesphere.io/@v/nodes/@node",
    ),
    (
        Family::Dashboard,
        "kapis/monitoring.kubesphere.io/@v/workspaces/@ws",
    ),
    (
        Family::Dashboard,
        "kapis/monitoring.kubesphere.io/@v/namespaces/@ns",
    ),
    (
        Family::Dashboard,
        "kapis/monitoring.kubesphere.io/@v/namespaces/@ns/workloads/@kind/@wl",
    ),
    (
        Family::Dashboard,
        "kapis/monitoring.kubesphere.io/@v/namespaces/@ns/pods",
    ),
    (
        Family::Dashboard,
        "kapis/monitoring.kubesphere.io/@v/namespaces/@ns/pods/@pod",
    ),
    (
        Family::PromQl,
        "kapis/monitoring.kubesphere.io/@v/targets/query",
    ),
    (
        Family::PromQl,
        "kapis/monitoring.kubesphere.io/@v/namespaces/@ns/targets/query",
    ),
    (Family::Alerts, "kapis/alerting.kubesphere.io/@v/alerts"),
    (
        Family::Alerts,
        "kapis/alerting.kubesphere.io/@v/namespaces/@ns/alerts",
    ),
    (
        Family::Alerts,
        "kapis/alerting.kubesphere.io/@v/globalalerts",
    ),
    (
        Family::RuleGroups,
        "apis/alerting.kubesphere.io/@v/namespaces/@ns/rulegroups",
    ),
    (
        Family::RuleGroups,
        "apis/alerting.kubesphere.io/@v/clusterrulegroups",
    ),
    (
        Family::RuleGroups,
        "apis/alerting.kubesphere.io/@v/globalrulegroups",
    ),
    (
        Family::Audit,
        "kapis/tenant.kubesphere.io/@v/auditing/events",
    ),
    (
        Family::Audit,
        "kapis/tenant.kubesphere.io/@v/workspaces/@ws/auditing/events",
    ),
    (Family::Events, "kapis/tenant.kubesphere.io/@v/events"),
    (
        Family::Logs,
        "kapis/tenant.kubesphere.io/@v/namespaces/@ns/workloads/@kind/@wl/logs",
    ),
    (
        Family::PromQl,
        "kapis/monitoring.kubesphere.io/@v/namespaces/@ns/namespaces/@other/targets/query",
    ),
    (
        Family::PromQl,
        "kapis/monitoring.kubesphere.io/@v/workspaces/@ws/namespaces/@ns/targets/query",
    ),
    (
        Family::Alerts,
        "kapis/alerting.kubesphere.io/@v/workspaces/@ws/namespaces/@ns/alerts",
    ),
    (
        Family::Events,
        "kapis/tenant.kubesphere.io/@v/workspaces/@ws/events",
    ),
    (
        Family::Logs,
        "kapis/tenant.kubesphere.io/@v/workspaces/@ws/namespaces/@ns/workloads/@kind/@wl/logs",
    ),
];

/// The family's version, then a wrong one.
fn versions(f: Family) -> [&'static str; 2] {
    match f {
        Family::Dashboard | Family::PromQl => ["v1alpha3", "v1alpha2"],
        Family::Alerts | Family::RuleGroups => ["v2beta1", "v1"],
        Family::Audit | Family::Events | Family::Logs => ["v1alpha2", "v1beta1"],
    }
}

/// Node names: none exists in the fixture's clusters (the dashboards answer empty), one names
/// a pod.
const NODES: [&str; 2] = ["node-1", "pod-b-p"];
/// Workload kinds: the API's, a Kind, something that is no workload.
const KINDS: [&str; 5] = [
    "deployments",
    "statefulsets",
    "jobs",
    "Deployment",
    "secrets",
];
/// Workload names.
const WORKLOADS: [&str; 2] = ["web", "nowhere"];

/// The namespaces where the fixture runs a pod `pod-{ns}` with an Event `ev-{ns}`, by cluster
/// (the projects also hold a RuleGroup `rg-{ns}` whose rule selects `kube_pod_info`).
pub const POD_NAMESPACES: [(&str, &str); 6] = [
    ("host", "a-p"),
    ("host", "b-p"),
    ("host", "default"),
    ("member", "a-mp"),
    ("member", "b-mp"),
    ("member", "default"),
];

/// How an answer to a PromQL expression confined to one namespace is judged beyond its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// Labels only.
    Labels,
    /// Labels, except the one the expression writes itself with `label_replace` (a forged
    /// `pod` or `namespace` tells nothing of where the series came from; the other label does).
    Forges(&'static str),
    /// Every value counts pods: at most those of the visible namespaces.
    Pods,
    /// `absent(…)` of another namespace's series: always exactly one sample of 1 (whether the
    /// other namespace has them must not show).
    Absent,
}

/// PromQL tried: `{A}` is workspace a's project in the cluster addressed, `{B}` b's.
const EXPRS: [(&str, Bound); 14] = [
    ("kube_pod_info", Bound::Labels),
    (r#"kube_pod_info{namespace=~".+"}"#, Bound::Labels),
    (r#"kube_pod_info{namespace="{B}"}"#, Bound::Labels),
    (
        r#"kube_pod_info{namespace="{A}"} or kube_pod_info{namespace="{B}"}"#,
        Bound::Labels,
    ),
    (
        r#"{__name__=~"kube_pod_.+", namespace="{B}" or namespace="{A}"}"#,
        Bound::Labels,
    ),
    (
        r#"label_replace(kube_pod_info{namespace="{B}"}, "namespace", "{A}", "", "")"#,
        Bound::Forges("namespace"),
    ),
    (
        r#"label_replace(kube_pod_info, "pod", "pod-{A}", "", "")"#,
        Bound::Forges("pod"),
    ),
    ("count(kube_pod_info)", Bound::Pods),
    (r#"count(kube_pod_info{namespace!="{A}"})"#, Bound::Pods),
    (
        r#"sum by (namespace, pod) (kube_pod_status_phase{namespace=~"{B}|{A}"})"#,
        Bound::Pods,
    ),
    (
        r#"count(kube_pod_info{namespace="{B}"}) or vector(0)"#,
        Bound::Pods,
    ),
    (r#"absent(kube_pod_info{namespace="{B}"})"#, Bound::Absent),
    (
        r#"topk(5, kube_pod_status_phase{namespace!~"{A}"} offset 1s)"#,
        Bound::Labels,
    ),
    (r#"{__name__=~".+"}"#, Bound::Labels),
];

/// Query parameter sets of each family (`k=v`, `&`-separated; `{A}`/`{B}` as in [`EXPRS`]).
fn params(f: Family) -> &'static [&'static str] {
    match f {
        Family::Dashboard => &[
            "",
            "metrics_filter=.*",
            "metrics_filter=namespace_pod_count|workspace_pod_count|pod_cpu_usage|cluster_pod_count$",
            "namespace={B}",
            "@range",
        ],
        Family::PromQl => &[""],
        Family::Alerts => &[
            "",
            "state=firing",
            "label_filters=namespace={B}",
            "label_filters=namespace~b,pod~pod",
            "page=1&limit=1",
            "namespace={B}",
        ],
        Family::RuleGroups => &[
            "",
            "fieldSelector=metadata.namespace={B}",
            "labelSelector=x",
        ],
        Family::Audit => &[
            "",
            "workspace_filter=b",
            "objectref_namespace_filter={B}&size=1000",
            "size=1000",
            "workspace_filter=a,b&size=1000&sort=asc",
            "cluster_filter=member",
        ],
        Family::Events => &[
            "",
            "cluster=member",
            "cluster=host",
            "namespace_filter={B}",
            "workspace_filter=b",
            "namespace_filter={A},{B}&size=1000",
            "cluster=nowhere",
            "size=1000",
        ],
        Family::Logs => &[
            "",
            "container=c",
            "tailLines=1",
            "namespace={B}",
            "previous=true",
        ],
    }
}

/// One generated observability request (indexes, shrinking towards the first of each).
#[derive(Debug, Clone, Copy)]
pub struct Obs {
    /// Index into [`ROUTES`].
    pub route: usize,
    /// Namespace role (see [`namespace`]).
    pub ns: usize,
    /// Index into [`WORKSPACES`].
    pub ws: usize,
    /// Which node, pod, kind or workload name.
    pub pick: usize,
    /// Which query parameter set (or PromQL expression).
    pub params: usize,
    /// The wrong version instead of the family's.
    pub wrong_version: bool,
    /// PromQL over a range instead of an instant; the parameter named `query` not `expr`.
    pub range: bool,
    /// Sent with the case's method instead of GET.
    pub write: bool,
}

/// The generator.
pub fn strategy() -> impl Strategy<Value = Obs> {
    (
        0..ROUTES.len(),
        // The caller's own project most often: its answers are the ones to read.
        prop_oneof![2 => Just(0usize), 3 => 0..NAMESPACE_ROLES],
        0..WORKSPACES.len(),
        0..16usize,
        0..32usize,
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.3),
        proptest::bool::weighted(0.12),
    )
        .prop_map(
            |(route, ns, ws, pick, params, wrong_version, range, write)| Obs {
                route,
                ns,
                ws,
                pick,
                params,
                wrong_version,
                range,
                write,
            },
        )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Obs {
    /// The family.
    pub fn family(&self) -> Family {
        ROUTES[self.route % ROUTES.len()].0
    }

    /// The segments after any `/clusters/{c}` (`cluster`: as named there; `None` the host).
    pub fn segments(&self, cluster: Option<&str>) -> Vec<String> {
        let (family, template) = ROUTES[self.route % ROUTES.len()];
        let version = versions(family)[usize::from(self.wrong_version)];
        let pod_role = [0usize, 1, 5][self.pick % 3];
        template
            .split('/')
            .map(|t| match t {
                "@v" => version.to_string(),
                "@ns" => namespace(self.ns % NAMESPACE_ROLES, cluster).to_string(),
                "@other" => namespace(1, cluster).to_string(),
                "@ws" => WORKSPACES[self.ws % WORKSPACES.len()].to_string(),
                "@node" => NODES[self.pick % NODES.len()].to_string(),
                "@pod" => format!("pod-{}", namespace(pod_role, cluster)),
                "@kind" => KINDS[self.pick % KINDS.len()].to_string(),
                "@wl" => WORKLOADS[(self.pick / KINDS.len()) % WORKLOADS.len()].to_string(),
                other => other.to_string(),
            })
            .collect()
    }

    /// The query pairs.
    pub fn query(&self, cluster: Option<&str>) -> Vec<(String, String)> {
        let fill = |s: &str| {
            s.replace("{A}", namespace(0, cluster))
                .replace("{B}", namespace(1, cluster))
        };
        let range = || {
            let t = now();
            vec![
                ("start".to_string(), (t - 120).to_string()),
                ("end".to_string(), t.to_string()),
                ("step".to_string(), "30s".to_string()),
            ]
        };
        let family = self.family();
        if family == Family::PromQl {
            let (expr, _) = EXPRS[self.params % EXPRS.len()];
            let key = if self.range { "query" } else { "expr" };
            let mut q = vec![(key.to_string(), fill(expr))];
            if self.range {
                q.extend(range());
            }
            if self.pick % 4 == 3 {
                // A stray namespace parameter (KubeSphere 3's console sends none).
                q.push(("namespace".to_string(), namespace(1, cluster).to_string()));
            }
            return q;
        }
        let sets = params(family);
        let set = sets[self.params % sets.len()];
        if set == "@range" {
            return range();
        }
        form_urlencoded::parse(fill(set).as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

// ---- What an allowed answer may hold ----

fn series(data: &Value) -> Vec<(&Value, Vec<&Value>)> {
    data["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let values: Vec<&Value> = if let Some(v) = r.get("value") {
                vec![&v[1]]
            } else {
                r["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| &p[1])
                    .collect()
            };
            (&r["metric"], values)
        })
        .collect()
}

fn number(v: &Value) -> Option<f64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
}

/// The namespace a fixture pod's name tells (`pod-{ns}`).
fn pod_namespace(pod: &str) -> Option<&str> {
    pod.strip_prefix("pod-")
}

/// Checks the labels of a monitoring answer's series against the visible namespaces; a label
/// named in `forged` was written by the query itself and is not judged.
fn check_labels(
    metric: &Value,
    visible: &BTreeSet<String>,
    forged: Option<&str>,
) -> Result<(), String> {
    if let Some(ns) = metric["namespace"].as_str()
        && forged != Some("namespace")
        && !visible.contains(ns)
    {
        return Err(format!("a series of namespace {ns}: {metric}"));
    }
    if let Some(ns) = metric["pod"].as_str().and_then(pod_namespace)
        && forged != Some("pod")
        && !visible.contains(ns)
    {
        return Err(format!("a series of a pod of namespace {ns}: {metric}"));
    }
    Ok(())
}

/// The fixture's pods in `visible` namespaces of `cluster`.
fn pods_in(cluster: &str, visible: &BTreeSet<String>) -> usize {
    POD_NAMESPACES
        .iter()
        .filter(|(c, ns)| *c == cluster && visible.contains(*ns))
        .count()
}

/// A request's place once decoded: the cluster, and the segments after its prefix.
pub struct Place<'a> {
    /// The cluster's name as the oracle knows it.
    pub cluster: &'a str,
    /// Segments after `/clusters/{c}`.
    pub rest: &'a [String],
    /// Query pairs.
    pub query: &'a [(String, String)],
}

fn q<'a>(p: &'a Place, key: &str) -> Option<&'a str> {
    p.query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Checks the body of an allowed, successful answer to a user; `Err` says what leaked.
pub fn check_body(world: &World, user: &str, p: &Place, body: &str) -> Result<(), String> {
    let rest: Vec<&str> = p.rest.iter().map(String::as_str).collect();
    let json = || parse_body(body);
    match rest.as_slice() {
        ["kapis", "monitoring.kubesphere.io", "v1alpha3", level @ ..] => {
            check_monitoring(world, p, level, body)
        }
        ["kapis", "alerting.kubesphere.io", "v2beta1", level @ ..] => {
            check_alerts(world, p, level, body)
        }
        [
            "kapis",
            "tenant.kubesphere.io",
            "v1alpha2",
            "auditing",
            "events",
        ] => {
            // `None`: every workspace's records and those of none.
            match world.auditing_workspaces(user) {
                None => Ok(()),
                Some(set) => audit_records(world, &json()?, |ws| set.contains(ws)),
            }
        }
        [
            "kapis",
            "tenant.kubesphere.io",
            "v1alpha2",
            "workspaces",
            ws,
            "auditing",
            "events",
        ] => audit_records(world, &json()?, |w| w == *ws),
        ["kapis", "tenant.kubesphere.io", "v1alpha2", "events"] => {
            check_events(world, user, p, body)
        }
        _ => Ok(()),
    }
}

/// The answer's body as JSON.
fn parse_body(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("the answer is not JSON ({e}): {body:.200}"))
}

/// A monitoring answer holds only series of what the caller may see, and pod counts no larger
/// than what that holds.
fn check_monitoring(world: &World, p: &Place, level: &[&str], body: &str) -> Result<(), String> {
    let json = || parse_body(body);
    let visible: BTreeSet<String> = match level {
        // Cluster levels: the caller may see the whole cluster.
        ["cluster"] | ["nodes"] | ["nodes", _] | ["targets", "query"] => return Ok(()),
        // Any other: at most what every level the path names holds.
        _ => scope(world, p.cluster, level).unwrap_or_default(),
    };
    let v = json()?;
    let pods = pods_in(p.cluster, &visible);
    if level.last() == Some(&"query") {
        let expr = q(p, "expr").or_else(|| q(p, "query")).unwrap_or("");
        let bound = EXPRS
            .iter()
            .find(|(e, _)| {
                e.replace("{A}", namespace(0, Some(p.cluster)))
                    .replace("{B}", namespace(1, Some(p.cluster)))
                    == expr
            })
            .map_or(Bound::Labels, |(_, b)| *b);
        // `{B}` is the confining namespace itself when the route names b's project: its own
        // series are the caller's to see, absent or not.
        let bound = if bound == Bound::Absent && visible.contains(namespace(1, Some(p.cluster))) {
            Bound::Labels
        } else {
            bound
        };
        let all = series(&v["data"]);
        if bound == Bound::Absent
            && v["data"]["resultType"] == "vector"
            && (all.len() != 1 || all[0].1.iter().any(|x| number(x) != Some(1.0)))
        {
            return Err(format!(
                "absent() of another namespace's series answers {v} (confined: always 1)"
            ));
        }
        for (metric, values) in all {
            match bound {
                Bound::Absent => {}
                Bound::Forges(label) => check_labels(metric, &visible, Some(label))?,
                Bound::Labels | Bound::Pods => check_labels(metric, &visible, None)?,
            }
            if bound == Bound::Pods
                && let Some(x) = values
                    .iter()
                    .filter_map(|x| number(x))
                    .find(|x| *x > pods as f64)
            {
                return Err(format!(
                    "{expr:?} counts {x} pods; {visible:?} hold {pods}: {metric}"
                ));
            }
        }
        return Ok(());
    }
    for r in v["results"].as_array().into_iter().flatten() {
        let name = r["metric_name"].as_str().unwrap_or_default();
        for (metric, values) in series(&r["data"]) {
            check_labels(metric, &visible, None)?;
            if name.ends_with("_pod_count")
                && let Some(x) = values
                    .iter()
                    .filter_map(|x| number(x))
                    .find(|x| *x > pods as f64)
            {
                return Err(format!("{name} is {x}; {visible:?} hold {pods} pods"));
            }
        }
    }
    Ok(())
}

/// An alerts answer holds only alerts of the path's cluster, and at a project level only of
/// the namespaces the caller may see.
fn check_alerts(world: &World, p: &Place, level: &[&str], body: &str) -> Result<(), String> {
    let json = || parse_body(body);
    let visible = match level {
        ["alerts"] => None,
        [.., "alerts"] => Some(scope(world, p.cluster, level).unwrap_or_default()),
        _ => return Ok(()),
    };
    let v = json()?;
    for a in v["items"].as_array().into_iter().flatten() {
        let cluster = a["cluster"].as_str().unwrap_or_default();
        if world.cluster_name(cluster) != Some(p.cluster) {
            return Err(format!("an alert of cluster {cluster:?}: {a}"));
        }
        if let Some(visible) = &visible {
            check_labels(&a["labels"], visible, None)?;
            if !a["labels"]["namespace"]
                .as_str()
                .is_some_and(|ns| visible.contains(ns))
            {
                return Err(format!("an alert of no namespace or another: {a}"));
            }
        }
    }
    Ok(())
}

/// An Events answer holds only Events of the asked cluster in namespaces where the caller may
/// list Events.
fn check_events(world: &World, user: &str, p: &Place, body: &str) -> Result<(), String> {
    let json = || parse_body(body);
    let v = json()?;
    let asked = q(p, "cluster").filter(|c| !c.is_empty());
    for ev in v["query"]["records"].as_array().into_iter().flatten() {
        let meta = &ev["metadata"];
        let named = meta["annotations"]["kubesphere.io/cluster"]
            .as_str()
            .unwrap_or_default();
        let Some(cluster) = world.cluster_name(named) else {
            return Err(format!("an Event of an unknown cluster {named:?}"));
        };
        if asked.is_some_and(|a| world.cluster_name(a) != Some(cluster)) {
            return Err(format!(
                "an Event of cluster {cluster} for cluster={asked:?}"
            ));
        }
        let ns = meta["namespace"].as_str().unwrap_or_default();
        let list = Attrs {
            resource_request: true,
            prefix: "api".into(),
            verb: "list".into(),
            version: "v1".into(),
            namespace: ns.to_string(),
            namespace_prefix: true,
            resource: "events".into(),
            ..Attrs::default()
        };
        if !world.may(cluster, user, &list) {
            return Err(format!(
                "an Event of namespace {ns} in {cluster}, where {user} may not list Events: {}",
                meta["name"]
            ));
        }
    }
    Ok(())
}

/// The namespaces every `namespaces/{ns}` and `workspaces/{ws}` pair of a path allows at once
/// (`None`: the path names neither).
fn scope(world: &World, cluster: &str, level: &[&str]) -> Option<BTreeSet<String>> {
    let mut out: Option<BTreeSet<String>> = None;
    for pair in level.windows(2) {
        let allowed = match pair {
            ["namespaces", ns] => BTreeSet::from([ns.to_string()]),
            ["workspaces", ws] => world.workspace_namespaces(cluster, ws),
            _ => continue,
        };
        out = Some(match out {
            None => allowed,
            Some(o) => o.intersection(&allowed).cloned().collect(),
        });
    }
    out
}

/// Checks audit records: each one's workspace must pass `readable`, and the namespace it is
/// about must not belong to a workspace that does not.
fn audit_records(world: &World, v: &Value, readable: impl Fn(&str) -> bool) -> Result<(), String> {
    for r in v["query"]["records"].as_array().into_iter().flatten() {
        let ann = &r["annotations"];
        let cluster = ann["kubesphere.io/cluster"].as_str().unwrap_or("host");
        let Some(ws) = ann["kubesphere.io/workspace"].as_str() else {
            return Err(format!(
                "an audit record of no workspace: {} {}",
                r["verb"], r["requestURI"]
            ));
        };
        if !readable(ws) {
            return Err(format!(
                "an audit record of workspace {ws}: {} {}",
                r["verb"], r["requestURI"]
            ));
        }
        if let Some(ns) = r["objectRef"]["namespace"].as_str()
            && let Some(owner) = world.namespace_workspace(cluster, ns)
            && !readable(&owner)
        {
            return Err(format!(
                "an audit record about namespace {ns} of workspace {owner}: {} {}",
                r["verb"], r["requestURI"]
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::ClusterData;
    use serde_json::json;

    fn world() -> World {
        let mut host = ClusterData {
            host: true,
            ..ClusterData::default()
        };
        host.namespaces.insert("a-p".into(), Some("a".into()));
        host.namespaces.insert("b-p".into(), Some("b".into()));
        host.namespaces.insert("default".into(), None);
        let mut w = World::default();
        w.clusters.insert("host".into(), host);
        w
    }

    fn judge(path: &str, query: &[(&str, &str)], body: Value) -> Result<(), String> {
        let rest: Vec<String> = path[1..].split('/').map(str::to_string).collect();
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let place = Place {
            cluster: "host",
            rest: &rest,
            query: &query,
        };
        check_body(&world(), "nobody", &place, &body.to_string())
    }

    fn vector(series: &[(Value, &str)]) -> Value {
        let result: Vec<Value> = series
            .iter()
            .map(|(m, v)| json!({"metric": m, "value": [1, v]}))
            .collect();
        json!({"status": "success", "data": {"resultType": "vector", "result": result}})
    }

    const QUERY: &str = "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/a-p/targets/query";

    #[test]
    fn confined_promql_answers_hold_only_the_namespace() {
        let own = json!({"__name__": "kube_pod_info", "namespace": "a-p", "pod": "pod-a-p"});
        assert!(judge(QUERY, &[("expr", "kube_pod_info")], vector(&[(own, "1")])).is_ok());
        let other = json!({"namespace": "b-p", "pod": "pod-b-p"});
        assert!(judge(QUERY, &[("expr", "kube_pod_info")], vector(&[(other, "1")])).is_err());
        // Relabelled into the namespace, the pod still tells where it came from.
        let relabelled = json!({"namespace": "a-p", "pod": "pod-b-p"});
        assert!(judge(QUERY, &[("expr", "x")], vector(&[(relabelled, "1")])).is_err());
        // A label the expression forges is not judged; the other one still is. At default's path
        // a pod relabelled `pod-a-p` is default's own series; one of namespace a-p leaked.
        let at_default =
            "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/default/targets/query";
        let forge_pod = [(
            "expr",
            r#"label_replace(kube_pod_info, "pod", "pod-a-p", "", "")"#,
        )];
        let own = json!({"namespace": "default", "pod": "pod-a-p"});
        assert!(judge(at_default, &forge_pod, vector(&[(own.clone(), "1")])).is_ok());
        assert!(judge(at_default, &[("expr", "x")], vector(&[(own, "1")])).is_err());
        let other = json!({"namespace": "a-p", "pod": "pod-a-p"});
        assert!(judge(at_default, &forge_pod, vector(&[(other, "1")])).is_err());
        let forge_ns = [(
            "expr",
            r#"label_replace(kube_pod_info{namespace="b-p"}, "namespace", "a-p", "", "")"#,
        )];
        let leaked = json!({"namespace": "a-p", "pod": "pod-b-p"});
        assert!(judge(QUERY, &forge_ns, vector(&[(leaked, "1")])).is_err());
        let own = json!({"namespace": "a-p", "pod": "pod-default"});
        assert!(judge(at_default, &forge_ns, vector(&[(own, "1")])).is_ok());
        // One pod in a-p: a count of two saw another namespace's.
        let count = [("expr", "count(kube_pod_info)")];
        assert!(judge(QUERY, &count, vector(&[(json!({}), "1")])).is_ok());
        assert!(judge(QUERY, &count, vector(&[(json!({}), "2")])).is_err());
        // absent() of b-p's series is 1 when confined; empty says b-p has them.
        let absent = [("expr", r#"absent(kube_pod_info{namespace="b-p"})"#)];
        assert!(
            judge(
                QUERY,
                &absent,
                vector(&[(json!({"namespace": "b-p"}), "1")])
            )
            .is_ok()
        );
        assert!(judge(QUERY, &absent, vector(&[])).is_err());
        // At b-p's own route its series are the caller's: absent or not, nothing leaks.
        let at_b = "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/b-p/targets/query";
        assert!(judge(at_b, &absent, vector(&[])).is_ok());
        let leaked = json!({"namespace": "a-p"});
        assert!(judge(at_b, &absent, vector(&[(leaked, "1")])).is_err());
        // Cluster-wide PromQL is for those who may see the cluster: not judged.
        let cluster = "/kapis/monitoring.kubesphere.io/v1alpha3/targets/query";
        let other = json!({"namespace": "b-p"});
        assert!(judge(cluster, &[("expr", "x")], vector(&[(other, "1")])).is_ok());
    }

    #[test]
    fn dashboards_alerts_and_audit_records_hold_only_the_level() {
        let ws = "/kapis/monitoring.kubesphere.io/v1alpha3/workspaces/a";
        let results = |ns: &str, count: &str| {
            json!({"results": [{"metric_name": "workspace_pod_count", "data":
                {"resultType": "vector", "result": [{"metric": {"namespace": ns}, "value": [1, count]}]}}]})
        };
        assert!(judge(ws, &[], results("a-p", "1")).is_ok());
        assert!(judge(ws, &[], results("b-p", "1")).is_err());
        assert!(judge(ws, &[], results("a-p", "3")).is_err());
        let alerts = "/kapis/alerting.kubesphere.io/v2beta1/namespaces/a-p/alerts";
        let item = |ns: &str, cluster: &str| json!({"total": 1, "items": [{"cluster": cluster, "labels": {"namespace": ns, "pod": format!("pod-{ns}")}}]});
        assert!(judge(alerts, &[], item("a-p", "host")).is_ok());
        assert!(judge(alerts, &[], item("b-p", "host")).is_err());
        assert!(judge(alerts, &[], item("a-p", "member")).is_err());
        let audit = "/kapis/tenant.kubesphere.io/v1alpha2/workspaces/a/auditing/events";
        let record = |ws: &str, ns: &str| {
            json!({"query": {"total": 1, "records": [{"verb": "get", "requestURI": "/x",
                "annotations": {"kubesphere.io/workspace": ws}, "objectRef": {"namespace": ns}}]}})
        };
        assert!(judge(audit, &[], record("a", "a-p")).is_ok());
        assert!(judge(audit, &[], record("b", "b-p")).is_err());
        assert!(judge(audit, &[], record("a", "b-p")).is_err());
    }
}
