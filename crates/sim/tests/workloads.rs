//! Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and Service endpoints
//! driven by the simulation against an in-process API server.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{SimCluster, obj, wait_for};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Endpoints, Node, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(30);

pub fn running_ready(p: &Pod) -> bool {
    let st = p.status.as_ref();
    st.and_then(|s| s.phase.as_deref()) == Some("Running")
        && st
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn ready_pods(api: &Api<Pod>, selector: &str, n: usize) -> Option<Vec<Pod>> {
    let l = api
        .list(&ListParams::default().labels(selector))
        .await
        .ok()?;
    let live: Vec<Pod> = l
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    (live.len() == n && live.iter().all(running_ready)).then_some(live)
}

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    obj(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "main", "image": image, "ports": [{"containerPort": 80, "name": "http"}],
                                                       "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}},
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_and_leases_exist() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let listed = wait_for("3 nodes", LIMIT, || async {
        let l = nodes.list(&ListParams::default()).await.ok()?;
        (l.items.len() == 3).then_some(l.items)
    })
    .await;
    for n in &listed {
        let st = n.status.as_ref().unwrap();
        assert_eq!(st.node_info.as_ref().unwrap().kubelet_version, "v1.33.0");
        assert!(
            st.conditions
                .as_ref()
                .unwrap()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        );
        assert_eq!(st.allocatable.as_ref().unwrap()["pods"].0, "110");
        for l in [
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
            "topology.kubernetes.io/region",
            "kubernetes.io/os",
            "kubernetes.io/arch",
            "node.kubernetes.io/instance-type",
        ] {
            assert!(n.labels().contains_key(l), "{l}");
        }
    }
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(c.client.clone(), "kube-node-lease");
    wait_for("3 leases", LIMIT, || async {
        (leases.list(&ListParams::default()).await.ok()?.items.len() == 3).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_rolls_out_scales_and_keeps_history() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let deps: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    deps.create(&PostParams::default(), &deployment("web", 3, "nginx:1.27"))
        .await
        .unwrap();
    let (rs_name, hash) = first_rollout(&deps, &pods).await;

    // Rolling update: a new ReplicaSet takes over, the old one is kept at 0 as history.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28",
        "ports": [{"containerPort": 80, "name": "http"}], "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}});
    deps.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let (old, new) = wait_for("rollout to revision 2", LIMIT, || async {
        let l = rss
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?;
        let new = l
            .items
            .iter()
            .find(|r| {
                r.annotations()
                    .get("deployment.kubernetes.io/revision")
                    .map(String::as_str)
                    == Some("2")
            })?
            .clone();
        let old = l.items.iter().find(|r| r.name_any() == rs_name)?.clone();
        let done = old.spec.as_ref()?.replicas == Some(0)
            && old.status.as_ref()?.replicas == 0
            && new.status.as_ref()?.available_replicas == Some(3);
        done.then_some((old, new))
    })
    .await;
    assert_ne!(old.name_any(), new.name_any());
    let now = wait_for("3 new ready pods", LIMIT, || {
        ready_pods(&pods, "app=web", 3)
    })
    .await;
    assert!(now.iter().all(|p| p.labels()["pod-template-hash"] != hash));
    wait_for("deployment at revision 2", LIMIT, || async {
        let d = deps.get("web").await.ok()?;
        (d.annotations().get("deployment.kubernetes.io/revision")? == "2"
            && d.status?.updated_replicas == Some(3))
        .then_some(())
    })
    .await;

    // Rollback (what `kubectl rollout undo` does): the old template comes back as revision 3.
    let old_template = serde_json::to_value(&old.spec.as_ref().unwrap().template).unwrap();
    let mut t = old_template.clone();
    t["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    deps.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"template": t}})),
    )
    .await
    .unwrap();
    wait_for("rollback to the first ReplicaSet", LIMIT, || async {
        let rs = rss.get(&rs_name).await.ok()?;
        (rs.annotations().get("deployment.kubernetes.io/revision")? == "3"
            && rs.status?.available_replicas == Some(3))
        .then_some(())
    })
    .await;

    // Scale to zero and back.
    deps.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();
    wait_for("no pods", LIMIT, || async {
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    deps.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 2}})),
    )
    .await
    .unwrap();
    wait_for("2 ready pods again", LIMIT, || {
        ready_pods(&pods, "app=web", 2)
    })
    .await;
}

/// The first rollout: three ready pods spread over the nodes, owned by `web-<hash>`, and the
/// Deployment complete at revision 1. Returns the ReplicaSet's name and hash.
async fn first_rollout(deps: &Api<Deployment>, pods: &Api<Pod>) -> (String, String) {
    let first = wait_for("3 ready pods", LIMIT, || ready_pods(pods, "app=web", 3)).await;
    let nodes: BTreeSet<String> = first
        .iter()
        .map(|p| p.spec.as_ref().unwrap().node_name.clone().unwrap())
        .collect();
    assert_eq!(nodes.len(), 3, "replicas spread over the nodes");
    let ips: BTreeSet<String> = first
        .iter()
        .map(|p| p.status.as_ref().unwrap().pod_ip.clone().unwrap())
        .collect();
    assert_eq!(ips.len(), 3);
    assert!(ips.iter().all(|ip| ip.starts_with("10.244.")));
    let p0 = &first[0];
    let owner = &p0.owner_references()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("ReplicaSet", Some(true), Some(true))
    );
    let cs = &p0
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0];
    assert!(
        cs.ready
            && cs.started == Some(true)
            && cs.image_id.contains("sha256:")
            && cs.container_id.is_some()
    );
    let rs_name = owner.name.clone();
    assert!(p0.name_any().starts_with(&format!("{rs_name}-")));
    let hash = p0.labels()["pod-template-hash"].clone();
    assert_eq!(rs_name, format!("web-{hash}"));

    let d = wait_for("deployment complete", LIMIT, || async {
        let d = deps.get("web").await.ok()?;
        let st = d.status.clone()?;
        let progressing = st
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Progressing")?
            .reason
            .clone()?;
        (st.available_replicas == Some(3) && progressing == "NewReplicaSetAvailable").then_some(d)
    })
    .await;
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "1");
    let st = d.status.unwrap();
    assert_eq!(
        (st.replicas, st.updated_replicas, st.ready_replicas),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!(st.observed_generation, d.metadata.generation);
    assert!(st.conditions.unwrap().iter().any(|c| c.type_ == "Available"
        && c.status == "True"
        && c.reason.as_deref() == Some("MinimumReplicasAvailable")));
    (rs_name, hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_gets_ordered_pods_and_bound_claims() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    sts.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "db"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]},
    }))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let ready = wait_for("3 stateful pods", LIMIT, || ready_pods(&pods, "app=db", 3)).await;
    let names: BTreeSet<String> = ready.iter().map(|p| p.name_any()).collect();
    assert_eq!(
        names,
        ["db-0", "db-1", "db-2"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let created: Vec<_> = ["db-0", "db-1", "db-2"]
        .iter()
        .map(|n| {
            ready
                .iter()
                .find(|p| p.name_any() == *n)
                .unwrap()
                .metadata
                .resource_version
                .clone()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .collect();
    assert!(created.windows(2).all(|w| w[0] < w[1]) || created.len() == 3);
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), "default");
    for i in 0..3 {
        let pvc = pvcs.get(&format!("data-db-{i}")).await.unwrap();
        assert_eq!(pvc.status.unwrap().phase.as_deref(), Some("Bound"));
        assert!(pvc.spec.unwrap().volume_name.unwrap().starts_with("pvc-"));
    }
    wait_for("sts status", LIMIT, || async {
        let s = sts.get("db").await.ok()?.status?;
        (s.ready_replicas == Some(3) && s.replicas == 3).then_some(())
    })
    .await;
    sts.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    wait_for("scaled down to db-0", LIMIT, || async {
        let l = pods
            .list(&ListParams::default().labels("app=db"))
            .await
            .ok()?;
        (l.items.len() == 1 && l.items[0].name_any() == "db-0").then_some(())
    })
    .await;
}

/// The revisions of a StatefulSet, as (name, revision, image), oldest first.
async fn revisions(api: &Api<ControllerRevision>) -> Vec<(String, i64, String)> {
    let mut out: Vec<(String, i64, String)> = api
        .list(&ListParams::default().labels("app=hist"))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let image = r.data.as_ref().map_or(String::new(), |d| {
                d.0["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            });
            (r.name_any(), r.revision, image)
        })
        .collect();
    out.sort_by_key(|(_, r, _)| *r);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_history_is_kept_in_controller_revisions_and_rolls_back() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    let revs: Api<ControllerRevision> = Api::namespaced(c.client.clone(), "default");
    sts.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "hist"},
        "spec": {"replicas": 1, "serviceName": "hist", "selector": {"matchLabels": {"app": "hist"}},
                 "template": {"metadata": {"labels": {"app": "hist"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}}},
    }))).await.unwrap();
    wait_for("revision 1", LIMIT, || async {
        (revisions(&revs).await.len() == 1).then_some(())
    })
    .await;
    let image =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}});
    sts.patch("hist", &PatchParams::default(), &Patch::Strategic(&image))
        .await
        .unwrap();
    let two = wait_for("revision 2", LIMIT, || async {
        let r = revisions(&revs).await;
        (r.len() == 2).then_some(r)
    })
    .await;
    assert_eq!(
        (two[0].1, two[0].2.as_str(), two[1].1, two[1].2.as_str()),
        (1, "v1", 2, "v2")
    );
    let first = revs.get(&two[0].0).await.unwrap();
    assert_eq!(first.owner_references()[0].name, "hist");
    assert_eq!(first.labels().get("app").map(String::as_str), Some("hist"));
    // `kubectl rollout undo`: revision 1's data sent back as a strategic merge patch.
    let data = first.data.clone().unwrap().0;
    sts.patch("hist", &PatchParams::default(), &Patch::Strategic(&data))
        .await
        .unwrap();
    let s = sts.get("hist").await.unwrap();
    let spec = s.spec.unwrap();
    assert_eq!(
        spec.template.spec.unwrap().containers[0].image.as_deref(),
        Some("v1")
    );
    // The template that came back is renumbered as the newest; no third revision appears.
    wait_for("revision 1 renumbered 3", LIMIT, || async {
        let r = revisions(&revs).await;
        (r.len() == 2 && r[1].0 == two[0].0 && r[1].1 == 3).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_runs_on_every_node() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let ds: Api<DaemonSet> = Api::namespaced(c.client.clone(), "kube-system");
    ds.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "busybox:1.36"}]}}},
    }))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "kube-system");
    let ready = wait_for("a daemon pod per node", LIMIT, || {
        ready_pods(&pods, "app=agent", 3)
    })
    .await;
    let nodes: BTreeSet<String> = ready
        .iter()
        .map(|p| p.spec.as_ref().unwrap().node_name.clone().unwrap())
        .collect();
    assert_eq!(nodes.len(), 3);
    wait_for("ds status", LIMIT, || async {
        let s = ds.get("agent").await.ok()?.status?;
        (s.desired_number_scheduled == 3 && s.number_ready == 3).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_completes_and_failing_job_fails() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), "default");
    jobs.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "pi"},
        "spec": {"completions": 3, "parallelism": 2, "template": {
            "metadata": {"annotations": {"sim.orrery.io/duration": "5s"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5"}]}}},
    }))).await.unwrap();
    jobs.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "bad"},
        "spec": {"backoffLimit": 1, "template": {
            "metadata": {"annotations": {"sim.orrery.io/exit-code": "2"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "x", "image": "busybox"}]}}},
    }))).await.unwrap();
    let done = wait_for("job complete", LIMIT, || async {
        let j = jobs.get("pi").await.ok()?;
        let st = j.status.clone()?;
        st.conditions
            .as_ref()?
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
            .then_some(st)
    })
    .await;
    assert_eq!(done.succeeded, Some(3));
    assert!(done.completion_time.is_some());
    assert!(
        done.conditions
            .unwrap()
            .iter()
            .any(|c| c.type_ == "SuccessCriteriaMet")
    );
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let job_pods = pods
        .list(&ListParams::default().labels("batch.kubernetes.io/job-name=pi"))
        .await
        .unwrap();
    assert_eq!(job_pods.items.len(), 3);
    assert!(
        job_pods
            .items
            .iter()
            .all(|p| p.status.as_ref().unwrap().phase.as_deref() == Some("Succeeded"))
    );
    let failed = wait_for("job failed", LIMIT, || async {
        let st = jobs.get("bad").await.ok()?.status?;
        st.conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Failed" && c.status == "True")
            .cloned()
            .map(|c| (c, st.failed))
    })
    .await;
    assert_eq!(failed.0.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(failed.1, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cronjob_creates_jobs_on_a_sped_up_clock() {
    let c = SimCluster::start(SimCluster::config(120.0)).await;
    let cjs: Api<CronJob> = Api::namespaced(c.client.clone(), "default");
    cjs.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "tick"},
        "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 2, "jobTemplate": {"spec": {"template": {
            "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "t", "image": "busybox"}]}}}}},
    }))).await.unwrap();
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), "default");
    let made = wait_for("two jobs from the cronjob", LIMIT, || async {
        let l = jobs.list(&ListParams::default()).await.ok()?;
        (l.items.len() >= 2).then_some(l.items)
    })
    .await;
    for j in &made {
        let suffix = j.name_any().strip_prefix("tick-").unwrap().to_string();
        assert!(suffix.parse::<i64>().is_ok(), "{}", j.name_any());
        assert_eq!(j.owner_references()[0].kind, "CronJob");
    }
    wait_for("lastScheduleTime and history limit", LIMIT, || async {
        let cj = cjs.get("tick").await.ok()?;
        let st = cj.status?;
        let l = jobs.list(&ListParams::default()).await.ok()?;
        let complete = l
            .items
            .iter()
            .filter(|j| j.status.as_ref().and_then(|s| s.succeeded) == Some(1))
            .count();
        (st.last_schedule_time.is_some() && st.last_successful_time.is_some() && complete <= 3)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_endpoints_list_ready_pods() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let deps: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let mut d = deployment("api", 2, "nginx:1.27");
    let spec = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    spec.containers[0].readiness_probe = Some(obj(
        json!({"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 10}),
    ));
    deps.create(&PostParams::default(), &d).await.unwrap();
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "default");
    svcs.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "api"},
        "spec": {"selector": {"app": "api"}, "ports": [{"name": "web", "port": 8080, "targetPort": "http"}]},
    }))).await.unwrap();
    let eps: Api<Endpoints> = Api::namespaced(c.client.clone(), "default");
    let e = wait_for("2 ready addresses", LIMIT, || async {
        let e = eps.get("api").await.ok()?;
        let subset = e.subsets.as_ref()?.first()?.clone();
        (subset.addresses.as_ref().map(Vec::len) == Some(2)).then_some(subset)
    })
    .await;
    assert_eq!(
        e.ports.unwrap()[0].port,
        80,
        "named targetPort resolved to the container port"
    );
    let slices: Api<EndpointSlice> = Api::namespaced(c.client.clone(), "default");
    let slice = wait_for("a slice with 2 ready endpoints", LIMIT, || async {
        let l = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=api"))
            .await
            .ok()?;
        let s = l.items.first()?.clone();
        (l.items.len() == 1
            && s.endpoints.len() == 2
            && s.endpoints
                .iter()
                .all(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true)))
        .then_some(s)
    })
    .await;
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.owner_references()[0].kind, "Service");
}
