use super::*;
use serde_json::json;

fn node(name: &str, cpu: &str, labels: serde_json::Value, taints: serde_json::Value) -> NodeInfo {
    let n: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
    }))
    .unwrap();
    NodeInfo::new(&n)
}

fn pod(spec: serde_json::Value) -> Pod {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c", "image": "x"}]);
    }
    serde_json::from_value(
        json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "a"}}, "spec": spec}),
    )
    .unwrap()
}

fn three() -> Vec<NodeInfo> {
    vec![
        node(
            "n0",
            "2",
            json!({"zone": "a", "disk": "ssd", "gen": "3"}),
            json!([]),
        ),
        node("n1", "2", json!({"zone": "b", "gen": "5"}), json!([])),
        node(
            "n2",
            "2",
            json!({"zone": "c"}),
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        ),
    ]
}

#[test]
fn insufficient_cpu_message_like_kube() {
    let p = pod(
        json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "3"}}}]}),
    );
    assert_eq!(choose(&p, &three()), Err("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.".into()));
    let mut nodes = three();
    nodes[2].taints.clear();
    assert_eq!(
        choose(&p, &nodes),
        Err("0/3 nodes are available: 3 Insufficient cpu.".into())
    );
}

#[test]
fn requests_fall_back_to_limits_and_init_max() {
    let p = pod(json!({
        "containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}},
                       {"name": "b", "image": "x", "resources": {"requests": {"cpu": "250m"}}}],
        "initContainers": [{"name": "i", "image": "x", "resources": {"requests": {"cpu": "2", "memory": "10Mi"}}}],
    }));
    assert_eq!(
        pod_requests(&p),
        Requests {
            cpu: 2000,
            memory: 1024 * 1024 * 1024
        }
    );
}

#[test]
fn node_selector_and_affinity_operators() {
    let nodes = three();
    let sel = pod(json!({"nodeSelector": {"disk": "ssd"}}));
    assert_eq!(choose(&sel, &nodes), Ok(0));
    let aff = |expr: serde_json::Value| {
        pod(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [expr]}]}}}}),
        )
    };
    assert_eq!(
        choose(
            &aff(json!({"key": "gen", "operator": "Gt", "values": ["4"]})),
            &nodes
        ),
        Ok(1)
    );
    assert_eq!(
        choose(
            &aff(json!({"key": "gen", "operator": "Lt", "values": ["4"]})),
            &nodes
        ),
        Ok(0)
    );
    assert_eq!(
        choose(
            &aff(json!({"key": "zone", "operator": "In", "values": ["b"]})),
            &nodes
        ),
        Ok(1)
    );
    assert!(matches_node_selector(
        &aff(json!({"key": "gen", "operator": "DoesNotExist"})),
        &nodes[2]
    ));
    assert!(!matches_node_selector(
        &aff(json!({"key": "zone", "operator": "NotIn", "values": ["a"]})),
        &nodes[0]
    ));
    assert!(matches_node_selector(
        &aff(json!({"key": "disk", "operator": "Exists"})),
        &nodes[0]
    ));
    let fields = pod(
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}),
    );
    assert_eq!(choose(&fields, &nodes), Ok(1));
    let none = pod(json!({"nodeSelector": {"disk": "nvme"}}));
    assert_eq!(choose(&none, &nodes), Err("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector.".into()));
}

#[test]
fn tolerations_match_taints() {
    let taint = Taint {
        key: "dedicated".into(),
        value: Some("gpu".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    let t = |v: serde_json::Value| -> Toleration { serde_json::from_value(v).unwrap() };
    assert!(tolerates(
        &t(json!({"key": "dedicated", "value": "gpu"})),
        &taint
    ));
    assert!(tolerates(
        &t(json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"})),
        &taint
    ));
    assert!(tolerates(&t(json!({"operator": "Exists"})), &taint));
    assert!(!tolerates(
        &t(json!({"key": "dedicated", "value": "cpu"})),
        &taint
    ));
    assert!(!tolerates(
        &t(json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"})),
        &taint
    ));
    let p = pod(
        json!({"nodeSelector": {"zone": "c"}, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
    );
    assert_eq!(choose(&p, &three()), Ok(2));
}

#[test]
fn hostname_anti_affinity_spreads_one_per_node() {
    let p = pod(
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "a"}}}]}}}),
    );
    let mut nodes = three();
    nodes[2].taints.clear();
    let mut placed = Vec::new();
    for _ in 0..3 {
        let i = choose(&p, &nodes).unwrap();
        nodes[i].add(&p);
        placed.push(i);
    }
    placed.sort();
    assert_eq!(placed, vec![0, 1, 2]);
    assert_eq!(
        choose(&p, &nodes),
        Err("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.".into())
    );
}

#[test]
fn least_allocated_prefers_emptier_nodes_and_pod_limits() {
    let mut nodes = three();
    nodes[2].taints.clear();
    let p = pod(json!({}));
    nodes[0].add(&p);
    nodes[0].add(&p);
    nodes[1].add(&p);
    assert_eq!(choose(&p, &nodes), Ok(2));
    nodes[2].allocatable.2 = 0;
    assert_eq!(choose(&p, &nodes), Ok(1));
    let err = unfit_reasons(&p, &nodes[2]);
    assert_eq!(err, vec!["Too many pods".to_string()]);
}

#[test]
fn cordoned_nodes_are_skipped() {
    let mut nodes = three();
    nodes[0].unschedulable = true;
    let p = pod(json!({"nodeSelector": {"disk": "ssd"}}));
    assert_eq!(choose(&p, &nodes), Err("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable.".into()));
}

proptest::proptest! {
    #[test]
    fn choose_never_panics_on_odd_quantities(cpu in ".{0,8}", mem in ".{0,8}", op in "(In|NotIn|Exists|DoesNotExist|Gt|Lt|Bogus)", v in ".{0,4}") {
        let p = pod(json!({
            "containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": mem}}}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "gen", "operator": op, "values": [v]}]}]}}},
        }));
        let _ = choose(&p, &three());
    }
}
