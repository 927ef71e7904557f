//! `GET [/clusters/{c}]/kapis/tenant.kubesphere.io/v1alpha2/namespaces/{ns}/workloads/{kind}/{name}/logs`:
//! the logs of every pod of a workload (Deployment, StatefulSet, DaemonSet, Job), merged in
//! time order, each line prefixed `pod/container `.
//!
//! Each container's log is asked of the cluster with `timestamps=true` and the lines are merged
//! by those timestamps. With `follow=true` the answer is a chunked stream: every container's
//! follow stream feeds one merger that holds lines for [`REORDER_WINDOW`] so that lines written
//! at about the same time by different pods leave in time order; pods that appear later (a
//! rollout, a scale-up) are picked up. The stream ends when the client goes away, or after
//! [`FOLLOW_LIMIT`].
//!
//! Authorized as `get pods/log` in the namespace (see [`crate::authz::resolve`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, ListParams, LogParams};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::clusters::Target;
use super::{ApiError, ApiResult, Shared};
use crate::kubeapi;

/// Most containers whose logs one request reads.
pub const MAX_STREAMS: usize = 32;
/// How long a followed line is held so that slightly earlier lines of other pods go first.
pub const REORDER_WINDOW: Duration = Duration::from_millis(300);
/// How long a followed answer lasts at most.
pub const FOLLOW_LIMIT: Duration = Duration::from_secs(30 * 60);
/// How often a followed workload's pods are listed again to pick up new ones.
const RELIST_PERIOD: Duration = Duration::from_secs(3);
/// Containers read at once without `follow`.
const CONCURRENT_READS: usize = 8;

/// The request's options.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LogQuery {
    /// Only this container of each pod.
    pub container: Option<String>,
    /// The previous (terminated) instance's log.
    pub previous: bool,
    /// Keep each line's timestamp after its prefix.
    pub timestamps: bool,
    /// Last lines of each container.
    pub tail_lines: Option<i64>,
    /// Lines of the last seconds.
    pub since_seconds: Option<i64>,
    /// Follow.
    pub follow: bool,
}

fn flag(v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{other:?} is not a boolean")),
    }
}

impl LogQuery {
    /// Parses the query string (unknown parameters are ignored).
    pub fn parse(raw: &str) -> Result<LogQuery, String> {
        let mut q = LogQuery::default();
        let positive = |k: &str, v: &str| -> Result<i64, String> {
            match v.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n),
                _ => Err(format!("{k} must be a non-negative integer, not {v:?}")),
            }
        };
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            match k.as_ref() {
                "container" => q.container = Some(v.to_string()).filter(|c| !c.is_empty()),
                "previous" => q.previous = flag(&v).map_err(|e| format!("previous: {e}"))?,
                "timestamps" => q.timestamps = flag(&v).map_err(|e| format!("timestamps: {e}"))?,
                "follow" => q.follow = flag(&v).map_err(|e| format!("follow: {e}"))?,
                "tailLines" if !v.is_empty() => q.tail_lines = Some(positive(&k, &v)?),
                "sinceSeconds" if !v.is_empty() => {
                    let n = positive(&k, &v)?;
                    if n == 0 {
                        return Err("sinceSeconds must be positive".into());
                    }
                    q.since_seconds = Some(n);
                }
                _ => {}
            }
        }
        if q.follow && q.previous {
            return Err("previous logs cannot be followed".into());
        }
        Ok(q)
    }

    fn params(&self, container: &str, follow: bool) -> LogParams {
        LogParams {
            container: Some(container.to_string()),
            follow,
            previous: self.previous,
            since_seconds: self.since_seconds,
            tail_lines: self.tail_lines,
            timestamps: true,
            ..LogParams::default()
        }
    }
}

/// The workload kinds whose pods are found through `spec.selector`.
fn workload_resource(kind: &str) -> Option<ApiResource> {
    let (group, kind, plural) = match kind.to_ascii_lowercase().as_str() {
        "deployment" | "deployments" => ("apps", "Deployment", "deployments"),
        "statefulset" | "statefulsets" => ("apps", "StatefulSet", "statefulsets"),
        "daemonset" | "daemonsets" => ("apps", "DaemonSet", "daemonsets"),
        "job" | "jobs" => ("batch", "Job", "jobs"),
        _ => return None,
    };
    Some(ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: kind.into(),
        plural: plural.into(),
    })
}

/// A `metav1.LabelSelector` (JSON) as a selector string; `None` for an empty or malformed one
/// (which would select every pod of the namespace).
pub fn selector_string(sel: &Value) -> Option<String> {
    let mut parts: Vec<String> = sel["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str()?;
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match e["operator"].as_str()? {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        });
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Splits a line the cluster wrote with `timestamps=true` into its time (Unix nanoseconds) and
/// the rest; a line without a readable timestamp gets `None`.
pub fn split_timestamp(line: &str) -> (Option<i64>, &str, &str) {
    if let Some((ts, rest)) = line.split_once(' ')
        && let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts)
    {
        return (t.timestamp_nanos_opt(), ts, rest);
    }
    (None, "", line)
}

/// One line ready to leave: its time, which stream and its place there (ties), the text.
type Keyed = (i64, usize, usize, String);

/// A followed line held by the merger: [`Keyed`] plus when it arrived.
type Held = (i64, usize, usize, String, tokio::time::Instant);

/// Formats a line: `pod/container [timestamp ]text\n`.
fn render(prefix: &str, ts: &str, rest: &str, timestamps: bool) -> String {
    if timestamps && !ts.is_empty() {
        format!("{prefix} {ts} {rest}\n")
    } else {
        format!("{prefix} {rest}\n")
    }
}

/// Merges whole logs (one text per stream, each in time order) into one text in time order.
/// A line without a timestamp keeps the time of the line before it in its stream.
pub fn merge(logs: &[(String, String)], timestamps: bool) -> String {
    let mut lines: Vec<Keyed> = Vec::new();
    for (i, (prefix, text)) in logs.iter().enumerate() {
        let mut last = i64::MIN;
        for (j, line) in text.lines().enumerate() {
            let (t, ts, rest) = split_timestamp(line);
            last = t.unwrap_or(last);
            lines.push((last, i, j, render(prefix, ts, rest, timestamps)));
        }
    }
    lines.sort_by_key(|l| (l.0, l.1, l.2));
    lines.into_iter().map(|l| l.3).collect()
}

/// The pods a workload selects, sorted by name, with the containers to read.
async fn workload_pods(
    client: &kube::Client,
    ns: &str,
    kind: &str,
    name: &str,
    container: Option<&str>,
) -> ApiResult<Vec<(String, String)>> {
    let ar = workload_resource(kind).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unsupported workload kind {kind:?}: one of deployments, statefulsets, daemonsets, jobs"
        ))
    })?;
    let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client.clone(), ns, &ar);
    let workload = match kubeapi::timed("get workload", api.get(name)).await {
        Ok(w) => serde_json::to_value(w).unwrap_or(Value::Null),
        Err(e) if kubeapi::is_not_found(&e) => {
            return Err(ApiError::not_found(&ar.group, &ar.plural, name));
        }
        Err(e) => return Err(e.into()),
    };
    let selector = selector_string(&workload["spec"]["selector"]).ok_or_else(|| {
        super::error::invalid(format!("{} {name:?} has no usable pod selector", ar.kind))
    })?;
    pods_of(client, ns, &selector, container).await
}

async fn pods_of(
    client: &kube::Client,
    ns: &str,
    selector: &str,
    container: Option<&str>,
) -> ApiResult<Vec<(String, String)>> {
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), ns);
    let list = kubeapi::timed(
        "list pods",
        pods.list(&ListParams::default().labels(selector)),
    )
    .await?;
    let mut out = Vec::new();
    for p in list.items {
        let Some(pod) = p.metadata.name.clone() else {
            continue;
        };
        for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
            if container.is_none_or(|want| want == c.name) {
                out.push((pod.clone(), c.name.clone()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn text_response(body: Body) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-cache"),
            (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The handler (host cluster).
pub async fn serve(
    State(state): State<Shared>,
    target: Option<Extension<Target>>,
    Path(params): Path<BTreeMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let client = match &target {
        Some(Extension(Target(m))) => m.client.clone(),
        None => state.client.clone(),
    };
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let (ns, kind, name) = (get("ns"), get("kind"), get("name"));
    let q = LogQuery::parse(raw.as_deref().unwrap_or_default()).map_err(ApiError::bad_request)?;
    let streams = workload_pods(&client, &ns, &kind, &name, q.container.as_deref()).await?;
    if streams.len() > MAX_STREAMS {
        return Err(ApiError::bad_request(format!(
            "the workload has {} containers to read, more than {MAX_STREAMS}: name one with container=",
            streams.len()
        )));
    }
    if q.follow {
        let selector = {
            let ar = workload_resource(&kind).ok_or_else(|| ApiError::bad_request("kind"))?;
            let api: kube::Api<DynamicObject> =
                kube::Api::namespaced_with(client.clone(), &ns, &ar);
            let w = kubeapi::timed("get workload", api.get(&name)).await?;
            selector_string(&serde_json::to_value(w).unwrap_or(Value::Null)["spec"]["selector"])
                .unwrap_or_default()
        };
        return Ok(text_response(follow(client, ns, selector, streams, q)));
    }
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), &ns);
    let results: Vec<(String, Result<String, crate::error::PlatformError>)> =
        futures::stream::iter(streams)
            .map(|(pod, c)| {
                let pods = pods.clone();
                let lp = q.params(&c, false);
                async move {
                    let text = kubeapi::timed("read log", pods.logs(&pod, &lp)).await;
                    (format!("{pod}/{c}"), text)
                }
            })
            .buffered(CONCURRENT_READS)
            .collect()
            .await;
    let mut logs = Vec::new();
    let mut first_error = None;
    for (prefix, r) in results {
        match r {
            Ok(text) => logs.push((prefix, text)),
            // A container not started yet or without a previous instance has no log to add;
            // the request fails only if no container had one.
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if logs.is_empty()
        && let Some(e) = first_error
    {
        return Err(e.into());
    }
    Ok(text_response(Body::from(merge(&logs, q.timestamps))))
}

/// Reads one container's followed log into `tx` until it ends or `stop`.
#[allow(clippy::too_many_arguments)]
async fn follow_one(
    pods: kube::Api<Pod>,
    pod: String,
    container: String,
    lp: LogParams,
    index: usize,
    tx: mpsc::Sender<Keyed>,
    stop: CancellationToken,
    timestamps: bool,
) {
    let prefix = format!("{pod}/{container}");
    let reader = match kubeapi::timed("follow log", pods.log_stream(&pod, &lp)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(%pod, %container, error = %e, "log not followed");
            return;
        }
    };
    let mut lines = reader.lines().enumerate();
    let mut last = i64::MIN;
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            n = lines.next() => n,
        };
        let Some((j, Ok(line))) = next else { return };
        let (t, ts, rest) = split_timestamp(&line);
        last = t.unwrap_or(last);
        if tx
            .send((last, index, j, render(&prefix, ts, rest, timestamps)))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The followed answer: one task per container, a task that picks up new pods, and a merger
/// whose output is the body. Dropping the body (the client went away) stops them all.
fn follow(
    client: kube::Client,
    ns: String,
    selector: String,
    first: Vec<(String, String)>,
    q: LogQuery,
) -> Body {
    let stop = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<Keyed>(1024);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(64);
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), &ns);
    // Starts the streams of containers not seen before.
    let started = Arc::new(std::sync::Mutex::new(HashSet::<(String, String)>::new()));
    let start = {
        let (pods, tx, stop, started, q) = (
            pods.clone(),
            tx.clone(),
            stop.clone(),
            started.clone(),
            q.clone(),
        );
        move |list: Vec<(String, String)>, fresh_pods: bool| {
            let mut seen = started.lock().unwrap_or_else(|e| e.into_inner());
            for (pod, c) in list {
                if seen.len() >= MAX_STREAMS || !seen.insert((pod.clone(), c.clone())) {
                    continue;
                }
                let mut lp = q.params(&c, true);
                if fresh_pods {
                    // A pod that appeared while following: all of its log is new.
                    lp.tail_lines = None;
                    lp.since_seconds = None;
                }
                tokio::spawn(follow_one(
                    pods.clone(),
                    pod,
                    c,
                    lp,
                    seen.len(),
                    tx.clone(),
                    stop.clone(),
                    q.timestamps,
                ));
            }
        }
    };
    start(first, false);
    {
        let stop = stop.clone();
        let container = q.container.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RELIST_PERIOD) => {}
                }
                if selector.is_empty() {
                    continue;
                }
                if let Ok(list) = pods_of(&client, &ns, &selector, container.as_deref()).await {
                    start(list, true);
                }
            }
        });
    }
    drop(tx);
    // The merger: holds each line REORDER_WINDOW, then sends lines in time order.
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _guard = stop.clone().drop_guard();
            let deadline = tokio::time::Instant::now() + FOLLOW_LIMIT;
            let mut held: BinaryHeap<Reverse<Held>> = BinaryHeap::new();
            let mut tick = tokio::time::interval(REORDER_WINDOW / 3);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return,
                    _ = out_tx.closed() => return,
                    line = rx.recv() => match line {
                        Some((t, i, j, text)) => {
                            held.push(Reverse((t, i, j, text, tokio::time::Instant::now())));
                            continue;
                        }
                        // Every stream ended and no new pod can start one: flush and end.
                        None => {
                            let mut chunk = String::new();
                            while let Some(Reverse((_, _, _, text, _))) = held.pop() {
                                chunk.push_str(&text);
                            }
                            if !chunk.is_empty() {
                                let _ = out_tx.send(Bytes::from(chunk)).await;
                            }
                            return;
                        }
                    },
                    _ = tick.tick() => {}
                }
                let ripe = tokio::time::Instant::now() - REORDER_WINDOW;
                let mut chunk = String::new();
                while held.peek().is_some_and(|Reverse(l)| l.4 <= ripe) {
                    if let Some(Reverse((_, _, _, text, _))) = held.pop() {
                        chunk.push_str(&text);
                    }
                }
                if !chunk.is_empty() && out_tx.send(Bytes::from(chunk)).await.is_err() {
                    return;
                }
            }
        });
    }
    Body::from_stream(futures::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_parses_and_refuses_bad_values() {
        let q = LogQuery::parse("container=web&previous=true&tailLines=10&sinceSeconds=60")
            .expect("parses");
        assert_eq!(q.container.as_deref(), Some("web"));
        assert!(q.previous && !q.follow);
        assert_eq!((q.tail_lines, q.since_seconds), (Some(10), Some(60)));
        for bad in [
            "tailLines=-1",
            "tailLines=x",
            "sinceSeconds=0",
            "follow=maybe",
            "follow=true&previous=true",
        ] {
            assert!(LogQuery::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn selectors_become_strings() {
        assert_eq!(
            selector_string(&json!({"matchLabels": {"app": "web"}, "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "x", "operator": "Exists"},
                {"key": "y", "operator": "DoesNotExist"},
                {"key": "z", "operator": "NotIn", "values": ["c"]}]}))
            .as_deref(),
            Some("app=web,tier in (a,b),x,!y,z notin (c)")
        );
        assert_eq!(selector_string(&json!({})), None);
        assert_eq!(
            selector_string(&json!({"matchExpressions": [{"key": "k", "operator": "Near"}]})),
            None
        );
    }

    #[test]
    fn merge_orders_by_timestamp_across_pods() {
        let a = "2026-01-01T00:00:01Z a1\n2026-01-01T00:00:03Z a2\nno timestamp\n".to_string();
        let b = "2026-01-01T00:00:02.5Z b1\n2026-01-01T00:00:04Z b2\n".to_string();
        let out = merge(&[("p1/c".into(), a), ("p2/c".into(), b)], false);
        assert_eq!(
            out,
            "p1/c a1\np2/c b1\np1/c a2\np1/c no timestamp\np2/c b2\n"
        );
        let out = merge(&[("p/c".into(), "2026-01-01T00:00:01Z x\n".into())], true);
        assert_eq!(out, "p/c 2026-01-01T00:00:01Z x\n");
    }
}
