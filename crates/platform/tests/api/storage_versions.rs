//! Stored versions of Orrery's own CRDs migrate (issue 18, upgrades): a host whose objects an
//! older platform stored in a version that is no longer the storage version gets them
//! rewritten in the storage version by the leader, and only then is the CRD's
//! `status.storedVersions` trimmed, as kube-storage-version-migrator does. The older version
//! stays served, so a replica of the previous release still reads every object.
use crate::common::*;
use kube::api::{ApiResource, DynamicObject};
use platform::kinds::Kind;
use serde_json::{Value, json};

const CRD: &str = "labels.cluster.kubesphere.io";

fn labels(version: &str) -> ApiResource {
    ApiResource {
        group: "cluster.kubesphere.io".into(),
        version: version.into(),
        api_version: format!("cluster.kubesphere.io/{version}"),
        kind: "Label".into(),
        plural: "labels".into(),
    }
}

async fn crd(kube: &kube::Client) -> Value {
    let o = Kind::Crd
        .api(kube, None)
        .get(CRD)
        .await
        .expect("get the CRD");
    serde_json::to_value(o).expect("json")
}

fn stored_versions(crd: &Value) -> Vec<String> {
    crd["status"]["storedVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_version_bump_rewrites_stored_objects_then_trims_stored_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = start_cluster(dir.path()).await;
    let kube = kube::Client::try_from(kube_config(&cluster.kubeconfig_path).await).expect("client");

    // What an older release installed: Orrery's Label CRD with its one version named v1alpha0.
    let mut old = platform::crds::all()
        .into_iter()
        .find(|c| c["metadata"]["name"] == CRD)
        .expect("the platform's Label CRD");
    old["spec"]["versions"][0]["name"] = "v1alpha0".into();
    old["apiVersion"] = "apiextensions.k8s.io/v1".into();
    old["kind"] = "CustomResourceDefinition".into();
    let o: DynamicObject = serde_json::from_value(old).expect("crd object");
    Kind::Crd
        .api(&kube, None)
        .create(&Default::default(), &o)
        .await
        .expect("install the older CRD");
    let v0: kube::Api<DynamicObject> = kube::Api::all_with(kube.clone(), &labels("v1alpha0"));
    eventually("v1alpha0 served", || async {
        v0.list(&Default::default()).await.is_ok()
    })
    .await;
    let names: Vec<String> = (0..5).map(|i| format!("zone-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let label: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cluster.kubesphere.io/v1alpha0", "kind": "Label",
            "metadata": {"name": name},
            "spec": {"key": "zone", "value": format!("z{i}"), "clusters": ["host"]}}))
        .expect("label");
        v0.create(&Default::default(), &label)
            .await
            .expect("create through v1alpha0");
    }
    let raw = |name: &str| -> Value {
        let kv = cluster
            .cluster
            .store
            .get(&format!("/registry/cluster.kubesphere.io/labels/{name}"))
            .expect("stored");
        serde_json::from_slice(&kv.value).expect("stored JSON")
    };
    assert_eq!(
        raw("zone-0")["apiVersion"],
        "cluster.kubesphere.io/v1alpha0"
    );

    // This release starts: its bootstrap makes v1alpha1 the storage version (v1alpha0 still
    // served), and its leader migrates.
    let platform = platform::start(test_config(
        kube_config(&cluster.kubeconfig_path).await,
        &dir.path().join("platform"),
    ))
    .await
    .expect("start platform");
    let mut trimmed = Vec::new();
    for _ in 0..200 {
        trimmed = stored_versions(&crd(&kube).await);
        if trimmed == ["v1alpha1"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        trimmed,
        ["v1alpha1"],
        "storedVersions trimmed to the storage version"
    );
    let now = crd(&kube).await;
    assert_eq!(
        now["metadata"]["annotations"]["orrery.io/platform-version"],
        platform::version::VERSION
    );
    // Trimmed only after every object was stored again, in the storage version, unchanged.
    for (i, name) in names.iter().enumerate() {
        let v = raw(name);
        assert_eq!(v["apiVersion"], "cluster.kubesphere.io/v1alpha1", "{name}");
        assert_eq!(v["spec"]["value"], format!("z{i}"));
    }
    // The older version is still served: a replica of the previous release reads them. (The
    // embedded API server answers reads with the stored bytes, so their `apiVersion` is the
    // stored one; kube-apiserver would name the version asked for.)
    let old_view = v0.get("zone-3").await.expect("read through v1alpha0");
    assert_eq!(old_view.data["spec"]["value"], "z3");
    // Nothing to do the second time.
    assert_eq!(
        platform::controllers::storage::migrate(&kube, CRD)
            .await
            .expect("migrate"),
        platform::controllers::storage::Migrated::Current
    );
    platform.shutdown().await;
}
