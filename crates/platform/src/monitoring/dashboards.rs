//! KubeSphere's `monitoring.kubesphere.io/v1alpha3` metrics as PromQL templates over the
//! series both sources have (kube-state-metrics, cAdvisor and kubelet resource metrics names;
//! see [`super::sampler`]), so a dashboard answers the same from a Prometheus and from the
//! in-process store.
//!
//! Containers are `container!="", container!="POD"` (cAdvisor's pod cgroups and pause
//! containers are left out); pods that finished (`Succeeded`, `Failed`) do not count; a
//! Deployment's pods are those owned by its ReplicaSets (`{name}-{hash}`), other workloads'
//! those they own; CPU is in cores (a 5-minute rate), memory in bytes (working set); cluster
//! and node usage are the nodes' own (kubelet resource metrics), system daemons included.

use promql_parser::util::duration::{display_duration, parse_duration};

/// One level's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    /// The whole cluster.
    Cluster,
    /// All nodes, or one.
    Nodes(Option<String>),
    /// The namespaces of a workspace in this cluster.
    Workspace(Vec<String>),
    /// One namespace.
    Namespace(String),
    /// A workload: namespace, kind (plural, lower-case), name.
    Workload(String, String, String),
    /// The pods of a namespace, or one.
    Pods(String, Option<String>),
}

/// Quotes a label value for PromQL.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Escapes regular expression metacharacters (a literal inside `=~`).
pub fn regex_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const CONTAINERS: &str = r#"container!="",container!="POD""#;
const RATE: &str = "5m";

fn cpu(sel: &str) -> String {
    format!("rate(container_cpu_usage_seconds_total{{{CONTAINERS}{sel}}}[{RATE}])")
}

fn mem(sel: &str) -> String {
    format!("container_memory_working_set_bytes{{{CONTAINERS}{sel}}}")
}

fn net(dir: &str, sel: &str) -> String {
    let metric = if dir == "received" {
        "container_network_receive_bytes_total"
    } else {
        "container_network_transmit_bytes_total"
    };
    format!("rate({metric}{{{}}}[{RATE}])", sel.trim_start_matches(','))
}

/// Pods counted: not finished.
fn live_pods(sel: &str) -> String {
    format!(
        r#"kube_pod_info{{{s}}} unless on (namespace, pod) (kube_pod_status_phase{{phase=~"Succeeded|Failed"{sel}}} > 0)"#,
        s = sel.trim_start_matches(',')
    )
}

/// How many pods are not finished: the sum of the current-phase series (1 for the phase a pod
/// is in) over the phases that are not final, with no join.
fn live_count(sel: &str) -> String {
    format!(r#"sum(kube_pod_status_phase{{phase=~"Pending|Running|Unknown"{sel}}})"#)
}

/// The selector of a workload's pods as a set operand (`and on (namespace, pod) …`).
fn owned_by(ns: &str, kind: &str, name: &str) -> String {
    let (okind, oname) = match kind {
        "deployments" => ("ReplicaSet", format!("{}-[a-z0-9]+", regex_literal(name))),
        "statefulsets" => ("StatefulSet", regex_literal(name)),
        "daemonsets" => ("DaemonSet", regex_literal(name)),
        "replicasets" => ("ReplicaSet", regex_literal(name)),
        "jobs" => ("Job", regex_literal(name)),
        _ => ("", String::new()),
    };
    format!(
        "kube_pod_owner{{namespace={},owner_kind={},owner_name=~{}}}",
        quote(ns),
        quote(okind),
        quote(&oname)
    )
}

/// Workload kinds a workload dashboard accepts.
pub const WORKLOAD_KINDS: [&str; 5] = [
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "jobs",
];

/// The metric names a level answers.
pub fn names(level: &Level) -> &'static [&'static str] {
    match level {
        Level::Cluster => &[
            "cluster_cpu_usage",
            "cluster_memory_usage_wo_cache",
            "cluster_pod_count",
            "cluster_pod_running_count",
            "cluster_node_total",
            "cluster_pod_restarts",
            "cluster_net_bytes_received",
            "cluster_net_bytes_transmitted",
        ],
        Level::Nodes(_) => &[
            "node_cpu_usage",
            "node_memory_usage_wo_cache",
            "node_pod_count",
            "node_cpu_total",
            "node_memory_total",
        ],
        Level::Workspace(_) => &[
            "workspace_cpu_usage",
            "workspace_memory_usage_wo_cache",
            "workspace_pod_count",
            "workspace_pod_restarts",
            "workspace_net_bytes_received",
            "workspace_net_bytes_transmitted",
        ],
        Level::Namespace(_) => &[
            "namespace_cpu_usage",
            "namespace_memory_usage_wo_cache",
            "namespace_pod_count",
            "namespace_pod_running_count",
            "namespace_pod_restarts",
            "namespace_net_bytes_received",
            "namespace_net_bytes_transmitted",
        ],
        Level::Workload(..) => &[
            "workload_cpu_usage",
            "workload_memory_usage_wo_cache",
            "workload_pod_count",
            "workload_pod_restarts",
            "workload_net_bytes_received",
            "workload_net_bytes_transmitted",
            "pod_cpu_usage",
            "pod_memory_usage_wo_cache",
            "pod_restarts",
        ],
        Level::Pods(..) => &[
            "pod_cpu_usage",
            "pod_memory_usage_wo_cache",
            "pod_restarts",
            "pod_net_bytes_received",
            "pod_net_bytes_transmitted",
            "container_cpu_usage",
            "container_memory_usage_wo_cache",
        ],
    }
}

/// The PromQL of `metric` at `level`; `None` for a metric the level does not have.
pub fn promql(level: &Level, metric: &str) -> Option<String> {
    if !names(level).contains(&metric) {
        return None;
    }
    match level {
        Level::Cluster => cluster_promql(metric),
        Level::Nodes(node) => nodes_promql(node.as_deref(), metric),
        Level::Workspace(namespaces) => workspace_promql(namespaces, metric),
        Level::Namespace(ns) => namespace_promql(ns, metric),
        Level::Workload(ns, kind, name) => workload_promql(ns, kind, name, metric),
        Level::Pods(ns, pod) => pods_promql(ns, pod.as_deref(), metric),
    }
}

/// The cluster level's PromQL.
fn cluster_promql(metric: &str) -> Option<String> {
    let q = match metric {
        "cluster_cpu_usage" => format!("sum(rate(node_cpu_usage_seconds_total[{RATE}]))"),
        "cluster_memory_usage_wo_cache" => "sum(node_memory_working_set_bytes)".to_string(),
        "cluster_pod_count" => format!("{} or vector(0)", live_count("")),
        "cluster_pod_running_count" => {
            r#"count(kube_pod_status_phase{phase="Running"} > 0) or vector(0)"#.to_string()
        }
        "cluster_node_total" => "count(kube_node_info) or vector(0)".to_string(),
        "cluster_pod_restarts" => {
            "sum(kube_pod_container_status_restarts_total) or vector(0)".to_string()
        }
        "cluster_net_bytes_received" => format!("sum({})", net("received", "")),
        "cluster_net_bytes_transmitted" => format!("sum({})", net("transmitted", "")),
        _ => return None,
    };
    Some(q)
}

/// The nodes level's PromQL (one node or all).
fn nodes_promql(node: Option<&str>, metric: &str) -> Option<String> {
    let sel = node
        .map(|n| format!(",node={}", quote(n)))
        .unwrap_or_default();
    let only = sel.trim_start_matches(',');
    let q = match metric {
        "node_cpu_usage" => {
            format!("sum by (node) (rate(node_cpu_usage_seconds_total{{{only}}}[{RATE}]))")
        }
        "node_memory_usage_wo_cache" => {
            format!("sum by (node) (node_memory_working_set_bytes{{{only}}})")
        }
        "node_pod_count" => format!("count by (node) ({})", live_pods(&sel)),
        "node_cpu_total" => {
            format!(r#"sum by (node) (kube_node_status_capacity{{resource="cpu"{sel}}})"#)
        }
        "node_memory_total" => {
            format!(r#"sum by (node) (kube_node_status_capacity{{resource="memory"{sel}}})"#)
        }
        _ => return None,
    };
    Some(q)
}

/// The workspace level's PromQL over its projects' namespaces.
fn workspace_promql(namespaces: &[String], metric: &str) -> Option<String> {
    if namespaces.is_empty() {
        // No project of the workspace in this cluster: nothing, whatever the metric.
        return Some("vector(0) unless vector(0)".to_string());
    }
    let re: Vec<String> = namespaces.iter().map(|n| regex_literal(n)).collect();
    let sel = format!(",namespace=~{}", quote(&re.join("|")));
    let q = match metric {
        "workspace_cpu_usage" => format!("sum({})", cpu(&sel)),
        "workspace_memory_usage_wo_cache" => format!("sum({})", mem(&sel)),
        "workspace_pod_count" => format!("{} or vector(0)", live_count(&sel)),
        "workspace_pod_restarts" => format!(
            "sum(kube_pod_container_status_restarts_total{{{}}}) or vector(0)",
            sel.trim_start_matches(',')
        ),
        "workspace_net_bytes_received" => format!("sum({})", net("received", &sel)),
        "workspace_net_bytes_transmitted" => {
            format!("sum({})", net("transmitted", &sel))
        }
        _ => return None,
    };
    Some(q)
}

/// The namespace level's PromQL.
fn namespace_promql(ns: &str, metric: &str) -> Option<String> {
    let sel = format!(",namespace={}", quote(ns));
    let only = sel.trim_start_matches(',');
    let q = match metric {
        "namespace_cpu_usage" => format!("sum by (namespace) ({})", cpu(&sel)),
        "namespace_memory_usage_wo_cache" => {
            format!("sum by (namespace) ({})", mem(&sel))
        }
        "namespace_pod_count" => format!("{} or vector(0)", live_count(&sel)),
        "namespace_pod_running_count" => {
            format!(r#"count(kube_pod_status_phase{{phase="Running"{sel}}} > 0) or vector(0)"#)
        }
        "namespace_pod_restarts" => {
            format!("sum(kube_pod_container_status_restarts_total{{{only}}}) or vector(0)")
        }
        "namespace_net_bytes_received" => {
            format!("sum by (namespace) ({})", net("received", &sel))
        }
        "namespace_net_bytes_transmitted" => {
            format!("sum by (namespace) ({})", net("transmitted", &sel))
        }
        _ => return None,
    };
    Some(q)
}

/// A workload's PromQL and its pods'.
fn workload_promql(ns: &str, kind: &str, name: &str, metric: &str) -> Option<String> {
    let sel = format!(",namespace={}", quote(ns));
    let owned = format!("and on (namespace, pod) {}", owned_by(ns, kind, name));
    let only = sel.trim_start_matches(',');
    let q = match metric {
        "workload_cpu_usage" => format!("sum(({}) {owned})", cpu(&sel)),
        "workload_memory_usage_wo_cache" => format!("sum(({}) {owned})", mem(&sel)),
        "workload_pod_count" => {
            format!("count(({}) {owned}) or vector(0)", live_pods(&sel))
        }
        "workload_pod_restarts" => {
            format!("sum(kube_pod_container_status_restarts_total{{{only}}} {owned}) or vector(0)")
        }
        "workload_net_bytes_received" => {
            format!("sum(({}) {owned})", net("received", &sel))
        }
        "workload_net_bytes_transmitted" => {
            format!("sum(({}) {owned})", net("transmitted", &sel))
        }
        "pod_cpu_usage" => format!("sum by (namespace, pod) (({}) {owned})", cpu(&sel)),
        "pod_memory_usage_wo_cache" => {
            format!("sum by (namespace, pod) (({}) {owned})", mem(&sel))
        }
        "pod_restarts" => format!(
            "sum by (namespace, pod) (kube_pod_container_status_restarts_total{{{only}}} {owned})"
        ),
        _ => return None,
    };
    Some(q)
}

/// The pods level's PromQL (one pod or a namespace's).
fn pods_promql(ns: &str, pod: Option<&str>, metric: &str) -> Option<String> {
    let mut sel = format!(",namespace={}", quote(ns));
    if let Some(p) = pod {
        sel.push_str(&format!(",pod={}", quote(p)));
    }
    let only = sel.trim_start_matches(',');
    let q = match metric {
        "pod_cpu_usage" => format!("sum by (namespace, pod) ({})", cpu(&sel)),
        "pod_memory_usage_wo_cache" => format!("sum by (namespace, pod) ({})", mem(&sel)),
        "pod_restarts" => {
            format!("sum by (namespace, pod) (kube_pod_container_status_restarts_total{{{only}}})")
        }
        "pod_net_bytes_received" => {
            format!("sum by (namespace, pod) ({})", net("received", &sel))
        }
        "pod_net_bytes_transmitted" => {
            format!("sum by (namespace, pod) ({})", net("transmitted", &sel))
        }
        "container_cpu_usage" => {
            format!("sum by (namespace, pod, container) ({})", cpu(&sel))
        }
        "container_memory_usage_wo_cache" => {
            format!("sum by (namespace, pod, container) ({})", mem(&sel))
        }
        _ => return None,
    };
    Some(q)
}

/// The metric names `metrics_filter` asks for at `level`: `m1|m2|…` (a trailing `$` allowed,
/// as the KubeSphere console sends it); a part that is not a plain name is a regular
/// expression over the level's names. Unknown plain names are kept, to be answered with an
/// error entry. No filter: every metric of the level.
pub fn wanted(level: &Level, filter: Option<&str>) -> Vec<String> {
    let all = names(level);
    let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return all.iter().map(|s| s.to_string()).collect();
    };
    let mut out: Vec<String> = Vec::new();
    for part in filter.split('|') {
        let part = part.trim().trim_end_matches('$').trim_start_matches('^');
        if part.is_empty() {
            continue;
        }
        if part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            if !out.iter().any(|o| o == part) {
                out.push(part.to_string());
            }
            continue;
        }
        if let Ok(re) = regex::Regex::new(&format!("^(?:{part})$")) {
            for n in all.iter().filter(|n| re.is_match(n)) {
                if !out.iter().any(|o| o == n) {
                    out.push(n.to_string());
                }
            }
        }
    }
    out
}

/// A Go duration (`60s`, `10m`, `1h30m`) or seconds, as KubeSphere's `step` is given.
pub fn step(s: &str) -> Option<std::time::Duration> {
    if let Ok(secs) = s.parse::<f64>() {
        return (secs > 0.0 && secs.is_finite()).then(|| std::time::Duration::from_secs_f64(secs));
    }
    parse_duration(s).ok().filter(|d| !d.is_zero())
}

/// A duration as PromQL writes it (for messages).
pub fn show(d: std::time::Duration) -> String {
    display_duration(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_stays_in_the_subset() {
        let levels = [
            Level::Cluster,
            Level::Nodes(None),
            Level::Nodes(Some("n1".into())),
            Level::Workspace(vec!["a".into(), "b.c".into()]),
            Level::Workspace(vec![]),
            Level::Namespace("ns".into()),
            Level::Workload("ns".into(), "deployments".into(), "web".into()),
            Level::Workload("ns".into(), "statefulsets".into(), "db".into()),
            Level::Pods("ns".into(), None),
            Level::Pods("ns".into(), Some("p\"x".into())),
        ];
        for l in &levels {
            for m in names(l) {
                let q = promql(l, m).unwrap_or_default();
                if let Err(e) = super::super::engine::parse(&q) {
                    panic!("{l:?} {m}: {q}: {e}");
                }
            }
        }
        assert_eq!(promql(&Level::Cluster, "pod_cpu_usage"), None);
    }

    #[test]
    fn filters_name_metrics_or_match_them() {
        let l = Level::Pods("ns".into(), None);
        assert_eq!(
            wanted(&l, Some("pod_cpu_usage|pod_memory_usage_wo_cache$")),
            ["pod_cpu_usage", "pod_memory_usage_wo_cache"]
        );
        assert_eq!(wanted(&l, Some("nope")), ["nope"]);
        assert_eq!(wanted(&l, Some("container_.*")).len(), 2);
        assert_eq!(wanted(&l, None).len(), names(&l).len());
    }

    #[test]
    fn steps_and_quoting() {
        assert_eq!(step("60s"), Some(std::time::Duration::from_secs(60)));
        assert_eq!(step("1h30m"), Some(std::time::Duration::from_secs(5400)));
        assert_eq!(step("15"), Some(std::time::Duration::from_secs(15)));
        assert_eq!(step("0s"), None);
        assert_eq!(step("x"), None);
        assert_eq!(quote("a\"b\\"), r#""a\"b\\""#);
        assert_eq!(regex_literal("a.b"), r"a\.b");
    }
}
