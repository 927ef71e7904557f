//! Service endpoints: an Endpoints object and an EndpointSlice per Service with a selector,
//! listing the matching pods that have an IP (ready ones as ready addresses).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use super::{is_ready, is_terminal, owner_ref};
use crate::engine::{Ctx, Reconcile};
use crate::hash::{fnv32a, safe_encode};
use crate::patch::merge_diff;

/// Endpoints controller state: what was last written per Service.
#[derive(Default)]
pub(crate) struct Endpoints {
    written: HashMap<(String, String), (Value, Value)>,
}

/// The target port number of a service port on a pod (named ports resolve via the pod's
/// container ports).
fn target_port(pod: &Pod, port: &k8s_openapi::api::core::v1::ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(i)) => Some(*i),
        Some(IntOrString::String(name)) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
}

/// The EndpointSlice name of a Service: `<service>-<stable suffix>`.
pub fn slice_name(service: &str) -> String {
    let suffix: String = safe_encode(&fnv32a(service.as_bytes()).to_string())
        .chars()
        .take(5)
        .collect();
    format!("{service}-{suffix}")
}

/// The desired Endpoints and EndpointSlice of a Service.
pub fn desired(
    svc: &Service,
    pods: &[&Arc<Pod>],
    zones: &HashMap<String, String>,
) -> (Value, Value) {
    let name = svc.name_any();
    let ns = svc.namespace().unwrap_or_default();
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    let mut slice_eps = Vec::new();
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut sorted: Vec<&Arc<Pod>> = pods.to_vec();
    sorted.sort_by_key(|p| p.name_any());
    for p in &sorted {
        let Some(ip) = p.status.as_ref().and_then(|s| s.pod_ip.clone()) else {
            continue;
        };
        let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
        let addr = json!({"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": ns, "name": p.name_any(), "uid": p.uid()}});
        let ok = is_ready(p) || publish;
        if ok {
            ready.push(addr)
        } else {
            not_ready.push(addr)
        }
        let mut ep = json!({
            "addresses": [ip],
            "conditions": {"ready": ok, "serving": ok, "terminating": false},
            "nodeName": node,
            "targetRef": {"kind": "Pod", "namespace": ns, "name": p.name_any(), "uid": p.uid()},
        });
        if let Some(z) = node.as_ref().and_then(|n| zones.get(n)) {
            ep["zone"] = json!(z);
        }
        slice_eps.push(ep);
    }
    let port_of = |sp: &k8s_openapi::api::core::v1::ServicePort| {
        let number = sorted
            .first()
            .and_then(|p| target_port(p, sp))
            .unwrap_or(sp.port);
        json!({"name": sp.name.clone().unwrap_or_default(), "port": number, "protocol": sp.protocol.clone().unwrap_or("TCP".into())})
    };
    let ep_ports: Vec<Value> = ports.iter().map(port_of).collect();
    let mut subset = json!({});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = json!(not_ready);
    }
    let subsets = if ready.is_empty() && not_ready.is_empty() {
        json!([])
    } else {
        subset["ports"] = json!(ep_ports);
        json!([subset])
    };
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name, "namespace": ns, "labels": svc.labels()},
        "subsets": subsets,
    });
    let mut labels = svc.labels().clone();
    labels.insert("kubernetes.io/service-name".into(), name.clone());
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        "endpointslice-controller.k8s.io".into(),
    );
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": slice_name(&name), "namespace": ns, "labels": labels, "ownerReferences": owner_ref(svc)},
        "addressType": "IPv4",
        "endpoints": slice_eps,
        "ports": ep_ports,
    });
    (endpoints, slice)
}

async fn upsert<K>(api: &Api<K>, name: &str, old: Option<&Value>, new: &Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let patch = match old {
        Some(o) => match merge_diff(o, new) {
            Some(d) => d,
            None => return,
        },
        None => new.clone(),
    };
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s)) if s.code == 404 => {
            if let Ok(obj) = serde_json::from_value::<K>(new.clone())
                && let Err(e) = api.create(&PostParams::default(), &obj).await
            {
                tracing::debug!(error = %e, name, "endpoints not created");
            }
        }
        Err(e) => tracing::debug!(error = %e, name, "endpoints not written"),
        Ok(_) => {}
    }
}

impl Reconcile for Endpoints {
    const NAME: &'static str = "endpoints";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let pods = ctx.pods.state();
        let zones: HashMap<String, String> = ctx
            .nodes
            .state()
            .iter()
            .filter_map(|n| {
                n.labels()
                    .get("topology.kubernetes.io/zone")
                    .map(|z| (n.name_any(), z.clone()))
            })
            .collect();
        let mut by_ns: HashMap<String, Vec<&Arc<Pod>>> = HashMap::new();
        for p in &pods {
            if !is_terminal(p) && p.metadata.deletion_timestamp.is_none() {
                by_ns
                    .entry(p.namespace().unwrap_or_default())
                    .or_default()
                    .push(p);
            }
        }
        let mut services = ctx.services.state();
        services.sort_by_key(|s| (s.namespace(), s.name_any()));
        let mut live = std::collections::HashSet::new();
        for svc in services {
            let Some(selector) = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.clone())
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let ns = svc.namespace().unwrap_or_default();
            let key = (ns.clone(), svc.name_any());
            live.insert(key.clone());
            let matching: Vec<&Arc<Pod>> = by_ns
                .get(&ns)
                .map(|ps| {
                    ps.iter()
                        .copied()
                        .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
                        .collect()
                })
                .unwrap_or_default();
            let (ep, slice) = desired(&svc, &matching, &zones);
            let prev = self.written.get(&key);
            if prev.is_some_and(|(e, s)| *e == ep && *s == slice) {
                continue;
            }
            let ep_api: Api<k8s_openapi::api::core::v1::Endpoints> =
                Api::namespaced(ctx.client.clone(), &ns);
            upsert(&ep_api, &svc.name_any(), prev.map(|p| &p.0), &ep).await;
            let slice_api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
            upsert(
                &slice_api,
                &slice_name(&svc.name_any()),
                prev.map(|p| &p.1),
                &slice,
            )
            .await;
            self.written.insert(key, (ep, slice));
        }
        let gone: Vec<(String, String)> = self
            .written
            .keys()
            .filter(|k| !live.contains(*k))
            .cloned()
            .collect();
        for (ns, name) in gone {
            self.written.remove(&(ns.clone(), name.clone()));
            let ep_api: Api<k8s_openapi::api::core::v1::Endpoints> =
                Api::namespaced(ctx.client.clone(), &ns);
            let _ = ep_api.delete(&name, &DeleteParams::default()).await;
            let slice_api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
            let _ = slice_api
                .delete(&slice_name(&name), &DeleteParams::default())
                .await;
        }
        None
    }
}
