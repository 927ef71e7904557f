//! `--wait`: polls the release's resources until they are ready, like Helm's legacy waiter
//! (Deployments available, StatefulSets/DaemonSets ready, Jobs complete, Pods ready, PVCs
//! bound, Services with IPs).

use serde_json::Value as Json;
use tokio::time::Instant;

use super::ActionError;
use super::resources::{Target, get};

fn int(o: &Json, p: &str) -> i64 {
    o.pointer(p).and_then(Json::as_i64).unwrap_or(0)
}

fn has_condition(o: &Json, kind: &str, status: &str) -> bool {
    o.pointer("/status/conditions")
        .and_then(Json::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Json::as_str) == Some(kind)
                    && c.get("status").and_then(Json::as_str) == Some(status)
            })
        })
}

/// Whether a live object counts as ready; `Err` text when it can never become ready.
pub fn is_ready(kind: &str, o: &Json) -> Result<bool, String> {
    let observed = int(o, "/status/observedGeneration") >= int(o, "/metadata/generation");
    Ok(match kind {
        "Deployment" => {
            let want = o
                .pointer("/spec/replicas")
                .and_then(Json::as_i64)
                .unwrap_or(1);
            observed
                && int(o, "/status/updatedReplicas") >= want
                && int(o, "/status/availableReplicas") >= want
        }
        "StatefulSet" => {
            let want = o
                .pointer("/spec/replicas")
                .and_then(Json::as_i64)
                .unwrap_or(1);
            observed && int(o, "/status/readyReplicas") >= want
        }
        "DaemonSet" => {
            observed && int(o, "/status/numberReady") >= int(o, "/status/desiredNumberScheduled")
        }
        "ReplicaSet" | "ReplicationController" => {
            let want = o
                .pointer("/spec/replicas")
                .and_then(Json::as_i64)
                .unwrap_or(1);
            int(o, "/status/readyReplicas") >= want
        }
        "Job" => {
            if has_condition(o, "Failed", "True") {
                return Err("job failed".into());
            }
            has_condition(o, "Complete", "True")
                || int(o, "/status/succeeded")
                    >= o.pointer("/spec/completions")
                        .and_then(Json::as_i64)
                        .unwrap_or(1)
        }
        "Pod" => {
            if o.pointer("/status/phase").and_then(Json::as_str) == Some("Failed") {
                return Err("pod failed".into());
            }
            o.pointer("/status/phase").and_then(Json::as_str) == Some("Succeeded")
                || has_condition(o, "Ready", "True")
        }
        "PersistentVolumeClaim" => {
            o.pointer("/status/phase").and_then(Json::as_str) == Some("Bound")
        }
        "Service" => match o.pointer("/spec/type").and_then(Json::as_str) {
            Some("ExternalName") => true,
            Some("LoadBalancer") => o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Json::as_array)
                .is_some_and(|a| !a.is_empty()),
            _ => o
                .pointer("/spec/clusterIP")
                .and_then(Json::as_str)
                .is_some_and(|s| !s.is_empty()),
        },
        _ => true,
    })
}

/// Waits until each target is ready or `deadline` passes.
pub async fn wait_ready(targets: &[Target], deadline: Instant) -> Result<(), ActionError> {
    for t in targets {
        loop {
            let live = get(t).await?;
            let ready = match &live {
                None => false,
                Some(obj) => {
                    let j =
                        serde_json::to_value(obj).map_err(|e| ActionError::Other(e.to_string()))?;
                    is_ready(&t.kind, &j)
                        .map_err(|why| ActionError::Other(format!("{}: {why}", t.describe())))?
                }
            };
            if ready {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ActionError::Timeout(format!(
                    "resource {} not ready",
                    t.describe()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// Waits until a CustomResourceDefinition is `Established` (its kind is served).
pub async fn wait_established(t: &Target, deadline: Instant) -> Result<(), ActionError> {
    loop {
        if let Some(obj) = get(t).await? {
            let j = serde_json::to_value(&obj).map_err(|e| ActionError::Other(e.to_string()))?;
            if has_condition(&j, "Established", "True") {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(ActionError::Timeout(format!(
                "{} not established",
                t.describe()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
