//! Pure scheduling predicates: resources, node selectors and affinity, taints and tolerations,
//! and hostname pod anti-affinity, with kube-scheduler's reasons for a node not fitting.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use crate::quantity::{parse_bytes, parse_cpu_millis};

/// Requests the scheduler uses for a container that declares none (kube's non-zero defaults).
const DEFAULT_CPU_MILLIS: i64 = 100;
const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// What a pod asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    /// Millicores.
    pub cpu: i64,
    /// Bytes.
    pub memory: i64,
}

/// The pod's effective requests: the sum over containers, or the largest init container if
/// that is more (requests fall back to limits, as API defaulting does).
pub fn pod_requests(pod: &Pod) -> Requests {
    let Some(spec) = &pod.spec else {
        return Requests::default();
    };
    let one = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.as_ref();
        let get = |k: &str| {
            r.and_then(|r| {
                r.requests
                    .as_ref()
                    .and_then(|m| m.get(k))
                    .or_else(|| r.limits.as_ref().and_then(|m| m.get(k)))
            })
            .map(|q| q.0.clone())
        };
        Requests {
            cpu: get("cpu").and_then(|q| parse_cpu_millis(&q)).unwrap_or(0),
            memory: get("memory").and_then(|q| parse_bytes(&q)).unwrap_or(0),
        }
    };
    let mut sum = Requests::default();
    for c in &spec.containers {
        let r = one(c);
        sum.cpu += r.cpu;
        sum.memory += r.memory;
    }
    for c in spec.init_containers.iter().flatten() {
        let r = one(c);
        sum.cpu = sum.cpu.max(r.cpu);
        sum.memory = sum.memory.max(r.memory);
    }
    sum
}

/// A node and what is already placed on it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Allocatable CPU (millicores), memory (bytes) and pods.
    pub allocatable: (i64, i64, i64),
    /// Requested CPU, memory and pod count of the pods on the node.
    pub used: (i64, i64, i64),
    /// CPU and memory of the pods on the node with kube's non-zero defaults, for scoring.
    pub scored: (i64, i64),
    /// (namespace, labels) of the pods on the node, for anti-affinity.
    pub pods: Vec<(String, BTreeMap<String, String>)>,
}

impl NodeInfo {
    /// A node with nothing on it.
    pub fn new(node: &Node) -> NodeInfo {
        let alloc = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
        let q = |k: &str| alloc.and_then(|a| a.get(k)).map(|q| q.0.clone());
        NodeInfo {
            name: node.name_any(),
            labels: node.labels().clone(),
            taints: node
                .spec
                .as_ref()
                .and_then(|s| s.taints.clone())
                .unwrap_or_default(),
            unschedulable: node
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false),
            allocatable: (
                q("cpu").and_then(|v| parse_cpu_millis(&v)).unwrap_or(0),
                q("memory").and_then(|v| parse_bytes(&v)).unwrap_or(0),
                q("pods").and_then(|v| v.parse().ok()).unwrap_or(110),
            ),
            used: (0, 0, 0),
            scored: (0, 0),
            pods: Vec::new(),
        }
    }

    /// Accounts for a pod placed on this node.
    pub fn add(&mut self, pod: &Pod) {
        let r = pod_requests(pod);
        self.used.0 += r.cpu;
        self.used.1 += r.memory;
        self.used.2 += 1;
        let (cpu, mem) = non_zero(r);
        self.scored.0 += cpu;
        self.scored.1 += mem;
        self.pods
            .push((pod.namespace().unwrap_or_default(), pod.labels().clone()));
    }

    /// Least-allocated score in [0, 1] after placing `r` (higher is emptier).
    pub fn score(&self, r: Requests) -> f64 {
        let (cpu, mem) = non_zero(r);
        let frac = |cap: i64, used: i64, req: i64| {
            if cap <= 0 {
                0.0
            } else {
                ((cap - used - req) as f64 / cap as f64).max(0.0)
            }
        };
        (frac(self.allocatable.0, self.scored.0, cpu)
            + frac(self.allocatable.1, self.scored.1, mem))
            / 2.0
    }
}

fn non_zero(r: Requests) -> (i64, i64) {
    (
        if r.cpu == 0 {
            DEFAULT_CPU_MILLIS
        } else {
            r.cpu
        },
        if r.memory == 0 {
            DEFAULT_MEMORY
        } else {
            r.memory
        },
    )
}

/// Whether a toleration tolerates a taint.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty())
        && e != taint.effect
    {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => {
            key == taint.key
                && t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
    }
}

/// The first NoSchedule/NoExecute taint of `node` that `pod` does not tolerate.
pub fn untolerated_taint<'a>(pod: &Pod, node: &'a NodeInfo) -> Option<&'a Taint> {
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_ref());
    node.taints.iter().find(|taint| {
        matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
            && !tolerations.is_some_and(|ts| ts.iter().any(|t| tolerates(t, taint)))
    })
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, node.labels.get(&r.key)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(&node.name)))
}

/// Whether `node` satisfies the pod's `nodeSelector` and required node affinity.
pub fn matches_node_selector(pod: &Pod, node: &NodeInfo) -> bool {
    let Some(spec) = &pod.spec else { return true };
    if let Some(sel) = &spec.node_selector
        && !sel.iter().all(|(k, v)| node.labels.get(k) == Some(v))
    {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        Some(r) => r.node_selector_terms.iter().any(|t| term_matches(t, node)),
        None => true,
    }
}

/// Whether a label selector matches labels (an empty selector matches everything).
pub fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    if let Some(ml) = &sel.match_labels
        && !ml.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or(&[]);
        let v = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => v.is_some_and(|v| values.contains(v)),
            "NotIn" => !v.is_some_and(|v| values.contains(v)),
            "Exists" => v.is_some(),
            "DoesNotExist" => v.is_none(),
            _ => false,
        }
    })
}

/// Whether placing `pod` on `node` violates one of its required hostname anti-affinity terms.
pub fn violates_anti_affinity(pod: &Pod, node: &NodeInfo) -> bool {
    let terms = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|p| {
            p.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let own_ns = pod.namespace().unwrap_or_default();
    terms.iter().flat_map(|t| t.iter()).any(|term| {
        if term.topology_key != "kubernetes.io/hostname" {
            return false;
        }
        let Some(sel) = &term.label_selector else {
            return false;
        };
        let all_ns = term
            .namespace_selector
            .as_ref()
            .is_some_and(|s| s.match_labels.is_none() && s.match_expressions.is_none());
        node.pods.iter().any(|(ns, labels)| {
            let ns_ok = all_ns
                || term
                    .namespaces
                    .as_ref()
                    .map_or(*ns == own_ns, |list| list.contains(ns));
            ns_ok && selector_matches(sel, labels)
        })
    })
}

/// Why `node` cannot take `pod` (empty if it can), with kube-scheduler's wording.
pub fn unfit_reasons(pod: &Pod, node: &NodeInfo) -> Vec<String> {
    if node.unschedulable {
        let tolerated = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_ref())
            .is_some_and(|ts| {
                let taint = Taint {
                    key: "node.kubernetes.io/unschedulable".into(),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                };
                ts.iter().any(|t| tolerates(t, &taint))
            });
        if !tolerated {
            return vec!["node(s) were unschedulable".into()];
        }
    }
    if let Some(t) = untolerated_taint(pod, node) {
        return vec![format!(
            "node(s) had untolerated taint {{{}: {}}}",
            t.key,
            t.value.as_deref().unwrap_or("")
        )];
    }
    if !matches_node_selector(pod, node) {
        return vec!["node(s) didn't match Pod's node affinity/selector".into()];
    }
    let r = pod_requests(pod);
    let mut reasons = Vec::new();
    if node.used.2 + 1 > node.allocatable.2 {
        reasons.push("Too many pods".to_string());
    }
    if r.cpu > 0 && node.used.0 + r.cpu > node.allocatable.0 {
        reasons.push("Insufficient cpu".into());
    }
    if r.memory > 0 && node.used.1 + r.memory > node.allocatable.1 {
        reasons.push("Insufficient memory".into());
    }
    if !reasons.is_empty() {
        return reasons;
    }
    if violates_anti_affinity(pod, node) {
        return vec!["node(s) didn't match pod anti-affinity rules".into()];
    }
    Vec::new()
}

/// The node to place `pod` on (least allocated, ties to the first in `nodes` order), or
/// kube-scheduler's message for why none fits.
pub fn choose(pod: &Pod, nodes: &[NodeInfo]) -> Result<usize, String> {
    let r = pod_requests(pod);
    let mut best: Option<(usize, f64)> = None;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        let why = unfit_reasons(pod, n);
        if why.is_empty() {
            let s = n.score(r);
            if best.is_none_or(|(_, b)| s > b + 1e-12) {
                best = Some((i, s));
            }
        } else {
            for w in why {
                *reasons.entry(w).or_default() += 1;
            }
        }
    }
    match best {
        Some((i, _)) => Ok(i),
        None => Err(unschedulable_message(nodes.len(), &reasons)),
    }
}

/// `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {a: b}.`
pub fn unschedulable_message(total: usize, reasons: &BTreeMap<String, usize>) -> String {
    if reasons.is_empty() {
        return format!("0/{total} nodes are available.");
    }
    // kube-scheduler sorts the "<count> <reason>" strings themselves.
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    format!("0/{total} nodes are available: {}.", parts.join(", "))
}

#[cfg(test)]
#[path = "fit_tests.rs"]
mod tests;
