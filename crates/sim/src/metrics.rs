//! Synthetic `metrics.k8s.io/v1beta1` usage for `kubectl top`: each container uses a stable,
//! hash-seeded fraction of its requests (or limits, or a small default) that drifts slowly over
//! a ten-minute cycle, so numbers are plausible, repeatable and not frozen.
//!
//! The same usage feeds cAdvisor's series ([`pod_stats`]): CPU time is the exact integral of
//! the instantaneous CPU usage since the container started (the usage is a closed-form
//! function of time, so the counter is monotonic and its rate is the usage `kubectl top`
//! shows), and the pod's network counters grow at a stable, hash-seeded rate.

use apiserver::{ContainerStats, PodStats};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::hash::unit;
use crate::quantity::{parse_bytes, parse_cpu_millis};

/// What the kubelet and system daemons use on every node.
const NODE_OVERHEAD_CPU_MILLIS: f64 = 80.0;
const NODE_OVERHEAD_MEMORY: f64 = 600.0 * 1024.0 * 1024.0;

fn quantity<'a>(c: &'a Value, kind: &str) -> Option<&'a str> {
    c["resources"]["requests"][kind]
        .as_str()
        .or_else(|| c["resources"]["limits"][kind].as_str())
}

/// The period of the usage's slow drift, in seconds.
const CYCLE_SECONDS: f64 = 600.0;
/// How much the CPU fraction swings around its mean over a cycle.
const CPU_SWING: f64 = 0.1;

/// The shape of one container's usage: `cpu(t) = cpu_millis × (mean + CPU_SWING × sin(ωt + φ))`.
struct UsageShape {
    cpu_millis: f64,
    cpu_mean: f64,
    mem_base: f64,
    mem_frac_mean: f64,
    phase: f64,
}

impl UsageShape {
    fn of(key: &str, c: &Value) -> UsageShape {
        UsageShape {
            cpu_millis: quantity(c, "cpu")
                .and_then(parse_cpu_millis)
                .map(|m| m as f64)
                .unwrap_or(20.0 + 80.0 * unit(1, key)),
            // At least CPU_SWING + 0.01, so the fraction never dips below 0.01 and needs no
            // clamping: the CPU time below can then be integrated in closed form.
            cpu_mean: 0.11 + 0.5 * unit(4, key),
            mem_base: quantity(c, "memory")
                .and_then(parse_bytes)
                .map(|b| b as f64)
                .unwrap_or((16.0 + 112.0 * unit(2, key)) * 1024.0 * 1024.0),
            mem_frac_mean: 0.3 + 0.4 * unit(5, key),
            phase: unit(3, key) * std::f64::consts::TAU,
        }
    }

    fn angle(&self, t: f64) -> f64 {
        t / CYCLE_SECONDS * std::f64::consts::TAU + self.phase
    }

    /// Nanocores used at `t` (Unix seconds).
    fn cpu_nanocores(&self, t: f64) -> f64 {
        let frac = self.cpu_mean + CPU_SWING * self.angle(t).sin();
        self.cpu_millis * frac * 1e6
    }

    /// CPU seconds used between `from` and `to` (Unix seconds): the integral of
    /// [`UsageShape::cpu_nanocores`].
    fn cpu_seconds(&self, from: f64, to: f64) -> f64 {
        if to <= from {
            return 0.0;
        }
        let omega = std::f64::consts::TAU / CYCLE_SECONDS;
        let frac_integral = self.cpu_mean * (to - from)
            - CPU_SWING / omega * (self.angle(to).cos() - self.angle(from).cos());
        (self.cpu_millis / 1000.0 * frac_integral).max(0.0)
    }

    /// Working-set bytes at `t`.
    fn memory_bytes(&self, t: f64) -> f64 {
        let frac = (self.mem_frac_mean + 0.03 * self.angle(t).sin()).clamp(0.05, 1.0);
        self.mem_base * frac
    }
}

/// Unix seconds, with the fraction.
fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// (nanocores, bytes) one container uses at `now`.
fn container_usage(key: &str, c: &Value, now: DateTime<Utc>) -> (f64, f64) {
    let shape = UsageShape::of(key, c);
    let t = seconds(now);
    (shape.cpu_nanocores(t), shape.memory_bytes(t))
}

fn cpu_string(nanocores: f64) -> String {
    format!("{}n", nanocores.max(0.0).round() as u64)
}

fn memory_string(bytes: f64) -> String {
    format!("{}Ki", (bytes.max(0.0) / 1024.0).round() as u64)
}

fn ts(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
}

/// The stable key every pseudo-random property of a pod's container derives from.
fn container_key(pod: &Value, container: &str) -> String {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    format!("{ns}/{name}/{uid}/{container}")
}

fn containers_usage(pod: &Value, now: DateTime<Utc>) -> Vec<(String, f64, f64)> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let cname = c["name"].as_str().unwrap_or("").to_string();
            let (cpu, mem) = container_usage(&container_key(pod, &cname), c, now);
            (cname, cpu, mem)
        })
        .collect()
}

fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// cAdvisor's view of a running pod at `now`: each running container's CPU time since it
/// started and its memory, and the pod's network counters since the pod started. `None` for a
/// pod that is not running.
pub fn pod_stats(pod: &Value, now: DateTime<Utc>) -> Option<PodStats> {
    if !running(pod) {
        return None;
    }
    let t = seconds(now);
    let statuses = pod["status"]["containerStatuses"].as_array();
    let containers = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let cname = c["name"].as_str()?;
            // Only a running container has a cgroup; its counters start with it.
            let started = statuses?
                .iter()
                .find(|s| s["name"] == cname)
                .and_then(|s| timestamp(&s["state"]["running"]["startedAt"]))?;
            let key = container_key(pod, cname);
            let shape = UsageShape::of(&key, c);
            let working_set = shape.memory_bytes(t);
            Some(ContainerStats {
                container: cname.to_string(),
                cpu_usage_seconds_total: shape.cpu_seconds(seconds(started), t),
                memory_working_set_bytes: working_set,
                // Page cache on top of the working set.
                memory_usage_bytes: working_set * (1.1 + 0.2 * unit(6, &key)),
            })
        })
        .collect();
    let pod_key = container_key(pod, "");
    let since = timestamp(&pod["status"]["startTime"])
        .map(|s| (t - seconds(s)).max(0.0))
        .unwrap_or(0.0);
    Some(PodStats {
        containers,
        network_receive_bytes_total: Some(since * (2.0 + 60.0 * unit(7, &pod_key)) * 1024.0),
        network_transmit_bytes_total: Some(since * (1.0 + 30.0 * unit(8, &pod_key)) * 1024.0),
    })
}

/// The `PodMetrics` of a pod (given as JSON) at `now`, or `None` if the pod is not running
/// (metrics-server reports only running pods).
pub fn pod_metrics(pod: &Value, now: DateTime<Utc>) -> Option<Value> {
    if !running(pod) {
        return None;
    }
    let containers: Vec<Value> = containers_usage(pod, now)
        .into_iter()
        .map(|(name, cpu, mem)| json!({"name": name, "usage": {"cpu": cpu_string(cpu), "memory": memory_string(mem)}}))
        .collect();
    Some(json!({
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "creationTimestamp": ts(now),
            "labels": pod["metadata"]["labels"],
        },
        "timestamp": ts(now),
        "window": "15s",
        "containers": containers,
    }))
}

/// Each container's usage as `PodMetrics` reports it, in milli-units (`Quantity.MilliValue` of
/// the served quantities: millicores, milli-bytes), as the HPA controller reads it from
/// metrics-server; `None` for a pod that is not running.
pub fn pod_usage_milli(pod: &Value, now: DateTime<Utc>) -> Option<Vec<(String, i64, i64)>> {
    if !running(pod) {
        return None;
    }
    let usage = containers_usage(pod, now)
        .into_iter()
        .map(|(name, cpu, mem)| {
            let nanocores = cpu.max(0.0).round() as i64;
            let kib = (mem.max(0.0) / 1024.0).round() as i64;
            (name, (nanocores + 999_999) / 1_000_000, kib * 1024 * 1000)
        })
        .collect();
    Some(usage)
}

/// The `NodeMetrics` of a node (JSON) whose pods are `pods_on_node`, at `now`: the running
/// pods' usage plus a fixed system overhead, never more than capacity.
pub fn node_metrics(node: &Value, pods_on_node: &[Value], now: DateTime<Utc>) -> Value {
    let (mut cpu, mut mem) = (NODE_OVERHEAD_CPU_MILLIS * 1e6, NODE_OVERHEAD_MEMORY);
    for p in pods_on_node.iter().filter(|p| running(p)) {
        for (_, c, m) in containers_usage(p, now) {
            cpu += c;
            mem += m;
        }
    }
    let cap = &node["status"]["capacity"];
    if let Some(max) = cap["cpu"].as_str().and_then(parse_cpu_millis) {
        cpu = cpu.min(max as f64 * 1e6);
    }
    if let Some(max) = cap["memory"].as_str().and_then(parse_bytes) {
        mem = mem.min(max as f64);
    }
    json!({
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": node["metadata"]["name"], "creationTimestamp": ts(now), "labels": node["metadata"]["labels"]},
        "timestamp": ts(now),
        "window": "20s",
        "usage": {"cpu": cpu_string(cpu), "memory": memory_string(mem)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, req: Option<(&str, &str)>) -> Value {
        let resources = req
            .map(|(c, m)| json!({"requests": {"cpu": c, "memory": m}}))
            .unwrap_or(json!({}));
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
               "spec": {"containers": [{"name": "app", "resources": resources}]},
               "status": {"phase": phase}})
    }

    fn nanos(v: &Value) -> u64 {
        v.as_str().unwrap().trim_end_matches('n').parse().unwrap()
    }

    #[test]
    fn stable_plausible_and_only_for_running_pods() {
        let now = Utc::now();
        let p = pod("a", "Running", Some(("500m", "256Mi")));
        let m1 = pod_metrics(&p, now).unwrap();
        let m2 = pod_metrics(&p, now).unwrap();
        assert_eq!(m1, m2);
        let cpu = nanos(&m1["containers"][0]["usage"]["cpu"]);
        assert!(cpu > 0 && cpu <= 500_000_000, "{cpu}");
        assert_eq!(m1["apiVersion"], "metrics.k8s.io/v1beta1");
        assert!(pod_metrics(&pod("b", "Pending", None), now).is_none());
        let other = pod_metrics(&pod("c", "Running", Some(("500m", "256Mi"))), now).unwrap();
        assert_ne!(
            m1["containers"][0]["usage"],
            other["containers"][0]["usage"]
        );
    }

    #[test]
    fn milli_usage_is_what_pod_metrics_serves() {
        let now = Utc::now();
        let p = pod("a", "Running", Some(("500m", "256Mi")));
        let served = pod_metrics(&p, now).unwrap();
        let usage = pod_usage_milli(&p, now).unwrap();
        let cpu = nanos(&served["containers"][0]["usage"]["cpu"]) as i64;
        assert_eq!(usage[0].1, (cpu + 999_999) / 1_000_000);
        let ki: i64 = served["containers"][0]["usage"]["memory"]
            .as_str()
            .unwrap()
            .trim_end_matches("Ki")
            .parse()
            .unwrap();
        assert_eq!(usage[0].2, ki * 1024 * 1000);
        assert!(pod_usage_milli(&pod("b", "Pending", None), now).is_none());
    }

    fn started(mut p: Value, at: DateTime<Utc>) -> Value {
        let ts = at.to_rfc3339_opts(SecondsFormat::Secs, true);
        p["status"]["startTime"] = json!(ts);
        p["status"]["containerStatuses"] =
            json!([{"name": "app", "state": {"running": {"startedAt": ts}}}]);
        p
    }

    #[test]
    fn cpu_time_is_the_integral_of_usage() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = started(pod("a", "Running", Some(("500m", "256Mi"))), start);
        let at = |s: i64| start + chrono::Duration::seconds(s);
        let cpu = |s: i64| pod_stats(&p, at(s)).unwrap().containers[0].cpu_usage_seconds_total;
        assert_eq!(cpu(0), 0.0);
        // Monotonic, and over a second it grows by the usage `kubectl top` shows.
        let mut last = 0.0;
        for s in (1..1300).step_by(7) {
            let now = cpu(s);
            assert!(now > last, "{s}: {now} <= {last}");
            last = now;
            let rate = cpu(s + 1) - now;
            let cores = nanos(&pod_metrics(&p, at(s)).unwrap()["containers"][0]["usage"]["cpu"])
                as f64
                / 1e9;
            assert!(
                (rate - cores).abs() < 0.01,
                "{s}: rate {rate} vs usage {cores}"
            );
        }
        // Never more than the requested 0.5 core on average.
        assert!(cpu(1200) <= 0.5 * 1200.0);
        let stats = pod_stats(&p, at(60)).unwrap();
        assert!(
            stats.containers[0].memory_usage_bytes > stats.containers[0].memory_working_set_bytes
        );
        assert!(stats.network_receive_bytes_total.unwrap() > 0.0);
        assert!(pod_stats(&pod("b", "Pending", None), at(60)).is_none());
    }

    #[test]
    fn a_container_that_is_not_running_has_no_cgroup() {
        let p = pod("a", "Running", None);
        assert!(pod_stats(&p, Utc::now()).unwrap().containers.is_empty());
    }

    #[test]
    fn node_usage_sums_pods_and_is_capped() {
        let now = Utc::now();
        let node = json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "1", "memory": "1Gi"}}});
        let empty = node_metrics(&node, &[], now);
        let pods: Vec<Value> = (0..3)
            .map(|i| pod(&format!("p{i}"), "Running", Some(("200m", "100Mi"))))
            .collect();
        let busy = node_metrics(&node, &pods, now);
        assert!(nanos(&busy["usage"]["cpu"]) > nanos(&empty["usage"]["cpu"]));
        let many: Vec<Value> = (0..50)
            .map(|i| pod(&format!("q{i}"), "Running", Some(("1", "1Gi"))))
            .collect();
        assert_eq!(
            nanos(&node_metrics(&node, &many, now)["usage"]["cpu"]),
            1_000_000_000
        );
    }
}
