//! core/v1 Events, written by a background task so controllers never wait on them. Repeats of
//! the same event for the same object bump `count` and `lastTimestamp`, as client-go's
//! recorder aggregates them. Events are best effort: when the queue is full they are dropped.

use std::collections::HashMap;

use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The object an event is about.
#[derive(Clone, Debug, Default)]
pub(crate) struct Involved {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub field_path: Option<String>,
}

impl Involved {
    /// The reference to a typed object.
    pub fn of<K: Resource<DynamicType = ()>>(obj: &K) -> Involved {
        Involved {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespace: obj.namespace(),
            name: obj.name_any(),
            uid: obj.uid().unwrap_or_default(),
            field_path: None,
        }
    }

    /// The same reference, pointing into a field (e.g. `spec.containers{nginx}`).
    pub fn field(mut self, path: String) -> Involved {
        self.field_path = Some(path);
        self
    }
}

struct Record {
    involved: Involved,
    warning: bool,
    reason: String,
    message: String,
    component: &'static str,
    host: Option<String>,
}

/// Queues events for the writer task.
#[derive(Clone)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Record>,
}

impl Recorder {
    /// Starts the writer task.
    pub fn spawn(client: Client, shutdown: CancellationToken) -> Recorder {
        let (tx, rx) = mpsc::channel(20_000);
        tokio::spawn(write_loop(client, rx, shutdown));
        Recorder { tx }
    }

    /// Records a `Normal` event.
    pub fn normal(
        &self,
        component: &'static str,
        involved: Involved,
        reason: &str,
        message: String,
    ) {
        self.send(component, involved, false, reason, message, None);
    }

    /// Records a `Warning` event.
    pub fn warning(
        &self,
        component: &'static str,
        involved: Involved,
        reason: &str,
        message: String,
    ) {
        self.send(component, involved, true, reason, message, None);
    }

    /// Records an event from a kubelet on `host`.
    pub fn kubelet(
        &self,
        host: &str,
        involved: Involved,
        warning: bool,
        reason: &str,
        message: String,
    ) {
        self.send(
            "kubelet",
            involved,
            warning,
            reason,
            message,
            Some(host.to_string()),
        );
    }

    fn send(
        &self,
        component: &'static str,
        involved: Involved,
        warning: bool,
        reason: &str,
        message: String,
        host: Option<String>,
    ) {
        let record = Record {
            involved,
            warning,
            reason: reason.to_string(),
            message,
            component,
            host,
        };
        if self.tx.try_send(record).is_err() {
            tracing::debug!("sim event queue full; event dropped");
        }
    }
}

/// Aggregation state: (namespace, uid, reason, message) → (event name, count).
type Seen = HashMap<(String, String, String, String), (String, i32)>;

async fn write_loop(client: Client, rx: mpsc::Receiver<Record>, shutdown: CancellationToken) {
    let mut seen: Seen = HashMap::new();
    let mut serial: u64 = 0;
    let stream = tokio_stream_from(rx);
    let mut chunks = std::pin::pin!(stream.ready_chunks(64));
    loop {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => break,
            b = chunks.next() => match b { Some(b) => b, None => break },
        };
        if seen.len() > 50_000 {
            seen.clear();
        }
        let mut writes = Vec::new();
        for r in batch {
            let ns = r
                .involved
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let key = (
                ns.clone(),
                r.involved.uid.clone(),
                r.reason.clone(),
                r.message.clone(),
            );
            let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
            let api: Api<Event> = Api::namespaced(client.clone(), &ns);
            if let Some((name, count)) = seen.get_mut(&key) {
                *count += 1;
                let body = json!({"count": *count, "lastTimestamp": now});
                let name = name.clone();
                writes.push(Box::pin(async move {
                    let _ = api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&body))
                        .await;
                })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);
                continue;
            }
            serial += 1;
            let nanos = Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64 + serial;
            let name = format!("{}.{:x}", r.involved.name, nanos);
            seen.insert(key, (name.clone(), 1));
            let ev = json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": {
                    "apiVersion": r.involved.api_version,
                    "kind": r.involved.kind,
                    "name": r.involved.name,
                    "namespace": r.involved.namespace,
                    "uid": r.involved.uid,
                    "fieldPath": r.involved.field_path,
                },
                "reason": r.reason,
                "message": r.message,
                "type": if r.warning { "Warning" } else { "Normal" },
                "source": {"component": r.component, "host": r.host},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "reportingComponent": r.component,
                "reportingInstance": r.host.clone().unwrap_or_default(),
            });
            writes.push(Box::pin(async move {
                match serde_json::from_value::<Event>(ev) {
                    Ok(ev) => {
                        if let Err(e) = api.create(&PostParams::default(), &ev).await {
                            tracing::debug!(error = %e, "sim event not written");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "sim event not encodable"),
                }
            }));
        }
        futures::stream::iter(writes)
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    async_stream::stream! {
        while let Some(x) = rx.recv().await {
            yield x;
        }
    }
}
