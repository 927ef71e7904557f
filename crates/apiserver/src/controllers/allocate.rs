//! Service ClusterIPs and NodePorts, allocated by the API server when a Service is created and
//! released when it is deleted, never handed out twice.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use apimachinery::status::ApiError;
use apimachinery::validation::FieldError;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::registry::Resource;

const NODE_PORT_MIN: u16 = 30000;
const NODE_PORT_MAX: u16 = 32767;

/// Allocation state, loaded from the stored Services on first use.
#[derive(Default)]
pub struct Allocator {
    state: Mutex<Option<State>>,
}

struct State {
    base: u32,
    size: u32,
    next_ip: u32,
    ips: BTreeSet<u32>,
    ports: BTreeSet<u16>,
    next_port: u16,
}

/// Parses an IPv4 CIDR into (network, size).
pub fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (ip, bits) = cidr.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    if !(8..=30).contains(&bits) {
        return None;
    }
    let size = 1u32 << (32 - bits);
    Some((u32::from(ip) & !(size - 1), size))
}

fn is_service(res: &Resource) -> bool {
    res.group.is_empty() && res.plural == "services"
}

fn service_ips(obj: &Value) -> Vec<String> {
    let spec = &obj["spec"];
    let mut out: Vec<String> = spec["clusterIPs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if let Some(ip) = spec["clusterIP"].as_str()
        && !out.iter().any(|x| x == ip)
    {
        out.push(ip.to_string());
    }
    out
}

fn node_ports(obj: &Value) -> Vec<u16> {
    obj["spec"]["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .filter_map(|n| u16::try_from(n).ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Allocator {
    fn with_state<T>(
        &self,
        cluster: &Cluster,
        f: impl FnOnce(&mut State) -> T,
    ) -> Result<T, ApiError> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let (base, size) = parse_cidr(&cluster.config.service_cidr).ok_or_else(|| {
                ApiError::internal(format!(
                    "invalid service CIDR {}",
                    cluster.config.service_cidr
                ))
            })?;
            let mut st = State {
                base,
                size,
                next_ip: 10,
                ips: BTreeSet::new(),
                ports: BTreeSet::new(),
                next_port: NODE_PORT_MIN,
            };
            // The `kubernetes` Service takes the first address.
            st.ips.insert(base + 1);
            let listed = cluster
                .store
                .list(
                    &crate::registry::keys::prefix("", "services"),
                    None,
                    0,
                    None,
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            for kv in listed.items {
                if let Ok(obj) = serde_json::from_slice::<Value>(&kv.value) {
                    for ip in service_ips(&obj) {
                        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                            st.ips.insert(u32::from(ip));
                        }
                    }
                    st.ports.extend(node_ports(&obj));
                }
            }
            *guard = Some(st);
        }
        match guard.as_mut() {
            Some(st) => Ok(f(st)),
            None => Err(ApiError::internal("allocator state missing")),
        }
    }

    fn release(&self, obj: &Value) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(st) = guard.as_mut() {
            for ip in service_ips(obj) {
                if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                    st.ips.remove(&u32::from(ip));
                }
            }
            for p in node_ports(obj) {
                st.ports.remove(&p);
            }
        }
    }
}

impl State {
    fn take_ip(&mut self) -> Option<u32> {
        let usable = self.size.saturating_sub(2);
        for _ in 0..usable {
            let off = 1 + (self.next_ip % usable.max(1));
            self.next_ip = self.next_ip.wrapping_add(1);
            let ip = self.base + off;
            if self.ips.insert(ip) {
                return Some(ip);
            }
        }
        None
    }

    fn take_port(&mut self) -> Option<u16> {
        let span = NODE_PORT_MAX - NODE_PORT_MIN + 1;
        for _ in 0..span {
            let p = self.next_port;
            self.next_port = if p >= NODE_PORT_MAX {
                NODE_PORT_MIN
            } else {
                p + 1
            };
            if self.ports.insert(p) {
                return Some(p);
            }
        }
        None
    }
}

/// Allocates a new Service's ClusterIP and NodePorts (nothing for other kinds).
pub async fn on_create(
    cluster: &Arc<Cluster>,
    res: &Resource,
    obj: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    if !is_service(res) {
        return Ok(());
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let ty = obj["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    let requested = obj["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
    let wants_ports = ty == "NodePort" || ty == "LoadBalancer";
    let port_count = obj["spec"]["ports"].as_array().map(Vec::len).unwrap_or(0);
    let mut errors = Vec::new();
    let result = cluster.allocator.with_state(cluster, |st| {
        let mut taken_ip = None;
        let mut taken_ports = Vec::new();
        if ty != "ExternalName" && requested != "None" {
            if requested.is_empty() {
                match st.take_ip() {
                    Some(ip) => taken_ip = Some(ip),
                    None => errors.push(FieldError::internal("spec.clusterIPs", "failed to allocate a serviceIP: range is full")),
                }
            } else {
                match requested.parse::<Ipv4Addr>() {
                    Ok(ip) => {
                        let n = u32::from(ip);
                        if n <= st.base || n >= st.base + st.size - 1 {
                            errors.push(FieldError::invalid(
                                "spec.clusterIPs",
                                json!(requested),
                                &format!("failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}", cluster.config.service_cidr),
                            ));
                        } else if dry_run {
                            if st.ips.contains(&n) {
                                errors.push(FieldError::invalid("spec.clusterIPs", json!(requested), &format!("failed to allocate IP {requested}: provided IP is already allocated")));
                            }
                        } else if !st.ips.insert(n) {
                            errors.push(FieldError::invalid("spec.clusterIPs", json!(requested), &format!("failed to allocate IP {requested}: provided IP is already allocated")));
                        } else {
                            taken_ip = Some(n);
                        }
                    }
                    Err(_) => errors.push(FieldError::invalid("spec.clusterIPs", json!(requested), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")),
                }
            }
        }
        if wants_ports {
            for i in 0..port_count {
                let given = obj["spec"]["ports"][i]["nodePort"].as_u64();
                match given {
                    Some(p) => {
                        let ok = u16::try_from(p).ok().filter(|p| (NODE_PORT_MIN..=NODE_PORT_MAX).contains(p));
                        match ok {
                            Some(p) if dry_run || st.ports.insert(p) => {
                                if !dry_run {
                                    taken_ports.push(p);
                                }
                            }
                            Some(_) => errors.push(FieldError::invalid(&format!("spec.ports[{i}].nodePort"), json!(p), "provided port is already allocated")),
                            None => errors.push(FieldError::invalid(&format!("spec.ports[{i}].nodePort"), json!(p), &format!("provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"))),
                        }
                    }
                    None => match st.take_port() {
                        Some(p) => {
                            obj["spec"]["ports"][i]["nodePort"] = json!(p);
                            taken_ports.push(p);
                        }
                        None => errors.push(FieldError::internal(&format!("spec.ports[{i}].nodePort"), "range is full")),
                    },
                }
            }
        }
        if !errors.is_empty() || dry_run {
            if let Some(ip) = taken_ip {
                st.ips.remove(&ip);
            }
            for p in &taken_ports {
                st.ports.remove(p);
            }
        }
        taken_ip
    })?;
    if !errors.is_empty() {
        return Err(ApiError::invalid("", "Service", &name, &errors));
    }
    if let Some(ip) = result {
        let ip = Ipv4Addr::from(ip).to_string();
        obj["spec"]["clusterIP"] = json!(ip);
        obj["spec"]["clusterIPs"] = json!([ip]);
    } else if requested == "None" {
        obj["spec"]["clusterIPs"] = json!(["None"]);
    }
    if ty != "ExternalName" {
        if obj["spec"]["ipFamilies"].is_null() {
            obj["spec"]["ipFamilies"] = json!(["IPv4"]);
        }
        if obj["spec"]["ipFamilyPolicy"].is_null() {
            obj["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        }
    }
    Ok(())
}

/// Keeps a Service's allocated addresses across updates; they may not change.
pub fn on_update(res: &Resource, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    if !is_service(res) {
        return Ok(());
    }
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if new["spec"][f].is_null() || new["spec"][f] == json!("") {
            if !old["spec"][f].is_null() && new["spec"].is_object() {
                new["spec"][f] = old["spec"][f].clone();
            }
        } else if !old["spec"][f].is_null()
            && new["spec"][f] != old["spec"][f]
            && (f == "clusterIP" || f == "clusterIPs")
        {
            let name = old["metadata"]["name"].as_str().unwrap_or("");
            return Err(ApiError::invalid(
                "",
                "Service",
                name,
                &[FieldError::invalid(
                    &format!("spec.{f}"),
                    new["spec"][f].clone(),
                    "field is immutable",
                )],
            ));
        }
    }
    // Node ports of ports that keep their port number stay allocated to them.
    if let (Some(old_ports), Some(new_ports)) = (
        old["spec"]["ports"].as_array().cloned(),
        new["spec"]["ports"].as_array_mut(),
    ) {
        for np in new_ports.iter_mut() {
            if np.get("nodePort").is_none_or(Value::is_null)
                && let Some(op) = old_ports.iter().find(|op| op.get("port") == np.get("port"))
                && let Some(n) = op.get("nodePort")
            {
                np["nodePort"] = n.clone();
            }
        }
    }
    Ok(())
}

/// Whether objects of this resource hold allocations that [`on_delete`] must give back.
pub fn holds_allocations(res: &Resource) -> bool {
    is_service(res)
}

/// Releases what a deleted Service held.
pub fn on_delete(cluster: &Cluster, res: &Resource, obj: &Value) {
    if is_service(res) {
        cluster.allocator.release(obj);
    }
}
