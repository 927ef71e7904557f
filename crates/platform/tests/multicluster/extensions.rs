//! A `Multicluster` extension (issue 14): its frontend in the host, its `agent` subchart as
//! release `<ext>-agent` in the member the placement names, with that cluster's override and
//! `global.clusterInfo`; removed from the member when it leaves the placement, back when it
//! joins it again; the uninstall leaves nothing labelled in either cluster.
use super::*;
use kube::api::{Api, DynamicObject, PostParams};

const MARKET: &str = "/apis/kubesphere.io/v1alpha1";
const REF: &str = "kubesphere.io/extension-ref";

fn package() -> Vec<u8> {
    let v = "1.0.0";
    let chart = format!(
        "apiVersion: v2\nname: mc\nversion: {v}\ndependencies:\n  - name: frontend\n    version: {v}\n    tags: [extension]\n  - name: backend\n    version: {v}\n    tags: [agent]\n"
    );
    let ext = format!("name: mc\nversion: {v}\ninstallationMode: Multicluster\n");
    let perms = "kind: ClusterRole\nrules:\n  - {apiGroups: [extensions.kubesphere.io], resources: ['*'], verbs: ['*']}\n---\nkind: Role\nrules:\n  - {apiGroups: ['', apps], resources: ['*'], verbs: ['*']}\n";
    let root = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mc-host}\ndata: {cluster: {{ .Values.global.clusterInfo.name | quote }}}\n";
    let bundle = format!(
        "apiVersion: extensions.kubesphere.io/v1alpha1\nkind: JSBundle\nmetadata: {{name: mc}}\nspec: {{raw: {}}}\n",
        B64.encode("export default {}")
    );
    let agent = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mc-agent}\ndata:\n  cluster: {{ .Values.global.clusterInfo.name | quote }}\n  role: {{ .Values.global.clusterInfo.role | quote }}\n  greeting: {{ .Values.greeting | default \"hello\" | quote }}\n";
    let sub = |n: &str| format!("apiVersion: v2\nname: {n}\nversion: {v}\n");
    let (fe, be) = (sub("frontend"), sub("backend"));
    helm::chart::package_files(
        "mc",
        &[
            ("Chart.yaml", chart.as_bytes()),
            ("extension.yaml", ext.as_bytes()),
            ("permissions.yaml", perms.as_bytes()),
            ("templates/root.yaml", root.as_bytes()),
            ("charts/frontend/Chart.yaml", fe.as_bytes()),
            ("charts/frontend/templates/bundle.yaml", bundle.as_bytes()),
            ("charts/backend/Chart.yaml", be.as_bytes()),
            ("charts/backend/templates/agent.yaml", agent.as_bytes()),
        ],
    )
}

/// Every object labelled with the extension in a cluster, as `Kind namespace/name`.
async fn labelled(kube: &kube::Client, with_jsbundles: bool) -> Vec<String> {
    let mut kinds = vec![
        crate::common::api_resource("", "v1", "ConfigMap", "configmaps"),
        crate::common::api_resource("", "v1", "ServiceAccount", "serviceaccounts"),
        crate::common::api_resource("", "v1", "Namespace", "namespaces"),
        crate::common::api_resource(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
        ),
        crate::common::api_resource(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        ),
    ];
    if with_jsbundles {
        kinds.push(crate::common::api_resource(
            "extensions.kubesphere.io",
            "v1alpha1",
            "JSBundle",
            "jsbundles",
        ));
    }
    crate::common::labelled_objects(kube, &kinds, &format!("{REF}=mc")).await
}

async fn plan_until(c: &Client, admin: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (s, v) = c.get(&format!("{MARKET}/installplans/mc"), admin).await;
        if s == StatusCode::OK && check(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s} {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn patch(c: &Client, admin: &str, body: Value) {
    c.merge_patch(&format!("{MARKET}/installplans/mc"), admin, body)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multicluster_extension_places_its_agent_and_follows_the_placement() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    join(c, &admin, "m1", &cert_kubeconfig(&m1, "m1")).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    let host = env.kube().await;
    let member = member_client(&m1).await;

    package_version_and_plan_for_m1(c, &admin, &host).await;
    let p = plan_until(c, &admin, "the agent installed in m1", |v| {
        v["status"]["state"] == "Installed"
            && v["status"]["clusterSchedulingStatuses"]["m1"]["state"] == "Installed"
    })
    .await;
    assert_eq!(
        p["status"]["clusterSchedulingStatuses"]["m1"]["releaseName"], "mc-agent",
        "{p:#}"
    );
    frontend_on_the_host_agent_in_m1(&host, &member).await;

    // m1 leaves the placement: its agent, installer and namespace go.
    patch(
        c,
        &admin,
        json!({"spec": {"clusterScheduling": {"placement": {"clusters": []}}}}),
    )
    .await;
    plan_until(c, &admin, "m1 out of the placement", |v| {
        v["status"]["clusterSchedulingStatuses"]["m1"].is_null()
            && v["status"]["state"] == "Upgraded"
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !labelled(&member, false).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{:#?}",
            labelled(&member, false).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Back in (by a selector this time), then uninstalled: nothing labelled anywhere.
    let clusters: Api<DynamicObject> = Api::all_with(
        host.clone(),
        &crate::common::api_resource("cluster.kubesphere.io", "v1alpha1", "Cluster", "clusters"),
    );
    clusters
        .patch(
            "m1",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {"tier": "edge"}}})),
        )
        .await
        .expect("label m1");
    patch(
        c,
        &admin,
        json!({"spec": {"clusterScheduling": {"placement": {"clusterSelector": {"matchLabels": {"tier": "edge"}}}}}}),
    )
    .await;
    plan_until(c, &admin, "m1 selected again", |v| {
        v["status"]["clusterSchedulingStatuses"]["m1"]["state"] == "Installed"
    })
    .await;
    c.ok(
        Method::DELETE,
        &format!("{MARKET}/installplans/mc"),
        &admin,
        None,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (s, _) = c.get(&format!("{MARKET}/installplans/mc"), &admin).await;
        if s == StatusCode::NOT_FOUND {
            break;
        }
        assert!(Instant::now() < deadline, "the plan was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(labelled(&host, true).await, Vec::<String>::new());
    assert_eq!(labelled(&member, false).await, Vec::<String>::new());
}

/// The package in a ConfigMap, its ExtensionVersion, and a plan placing the agent on m1.
async fn package_version_and_plan_for_m1(c: &Client, admin: &str, host: &kube::Client) {
    // The package in a ConfigMap, its ExtensionVersion, and a plan placing the agent on m1.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(host.clone(), "kubesphere-system");
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "mc-chart"}, "binaryData": {"chart.tgz": B64.encode(package())}}))
    .expect("cm");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("chart");
    let versions: Api<DynamicObject> = Api::all_with(
        host.clone(),
        &crate::common::api_resource(
            "kubesphere.io",
            "v1alpha1",
            "ExtensionVersion",
            "extensionversions",
        ),
    );
    let ev: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kubesphere.io/v1alpha1", "kind": "ExtensionVersion",
        "metadata": {"name": "mc-1.0.0", "labels": {REF: "mc"}},
        "spec": {"version": "1.0.0", "installationMode": "Multicluster",
            "chartDataRef": {"namespace": "kubesphere-system", "name": "mc-chart", "key": "chart.tgz"}}}))
    .expect("ev");
    versions
        .create(&PostParams::default(), &ev)
        .await
        .expect("version");
    c.ok(
        Method::POST,
        &format!("{MARKET}/installplans"),
        admin,
        Some(
            json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
            "metadata": {"name": "mc"},
            "spec": {"extension": {"name": "mc", "version": "1.0.0"},
                "clusterScheduling": {"placement": {"clusters": ["m1"]},
                    "overrides": {"m1": "backend:\n  greeting: from-m1\n"}}}}),
        ),
    )
    .await;
}

/// The host has the frontend and the chart's own templates, not the agent; the member has the
/// agent only, with its override and its own cluster info.
async fn frontend_on_the_host_agent_in_m1(host: &kube::Client, member: &kube::Client) {
    // The host has the frontend and the chart's own templates, not the agent.
    let on_host = labelled(host, true).await;
    assert!(on_host.iter().any(|o| o == "JSBundle /mc"), "{on_host:#?}");
    assert!(
        on_host
            .iter()
            .any(|o| o == "ConfigMap extension-mc/mc-host"),
        "{on_host:#?}"
    );
    assert!(
        !on_host.iter().any(|o| o.contains("mc-agent")),
        "{on_host:#?}"
    );
    // The member has the agent only, with its override and its own cluster info.
    let on_member = labelled(member, false).await;
    assert!(
        on_member
            .iter()
            .any(|o| o == "ConfigMap extension-mc/mc-agent"),
        "{on_member:#?}"
    );
    assert!(
        !on_member.iter().any(|o| o.contains("mc-host")),
        "{on_member:#?}"
    );
    let agent_cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(member.clone(), "extension-mc");
    let agent = agent_cms.get("mc-agent").await.expect("agent configmap");
    let data = agent.data.unwrap_or_default();
    assert_eq!(data.get("cluster").map(String::as_str), Some("m1"));
    assert_eq!(data.get("role").map(String::as_str), Some("member"));
    assert_eq!(data.get("greeting").map(String::as_str), Some("from-m1"));
}
