//! CustomResourceDefinitions end to end: two served versions (v1 storage, v1beta1), structural
//! schema validation with defaults, required fields, enums and CEL rules (422 with field
//! causes), pruning, the status subresource, printer columns, short names and categories
//! (issue 3: everything kubectl, controllers and CRDs expect, must-show 2).

mod common;
#[path = "kubectl_advanced/run.rs"]
mod run;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

use common::TestCluster;
use run::{Kubectl, wait_until};

/// One version's schema; both versions share it, as a conversion-free CRD must.
const SCHEMA: &str = r#"
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [engine]
              x-kubernetes-validations:
              - rule: "self.replicas <= self.maxReplicas"
                message: replicas must not exceed maxReplicas
              properties:
                engine:
                  type: string
                  enum: [postgres, mysql]
                  x-kubernetes-validations:
                  - rule: "self == oldSelf"
                    message: engine is immutable
                replicas: {type: integer, minimum: 1, default: 1}
                maxReplicas: {type: integer, default: 5}
                storage:
                  type: object
                  default: {}
                  properties:
                    size: {type: string, default: 1Gi}
            status:
              type: object
              properties:
                phase: {type: string}"#;

fn crd_yaml() -> String {
    let version = |name: &str, storage: bool| {
        format!(
            r#"
  - name: {name}
    served: true
    storage: {storage}
    subresources: {{status: {{}}}}
    additionalPrinterColumns:
    - {{name: Engine, type: string, jsonPath: .spec.engine}}
    - {{name: Replicas, type: integer, jsonPath: .spec.replicas}}
    - {{name: Phase, type: string, jsonPath: .status.phase}}
    - {{name: Age, type: date, jsonPath: .metadata.creationTimestamp}}
    schema:{SCHEMA}"#
        )
    };
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: databases.example.com}}
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: databases
    singular: database
    kind: Database
    shortNames: [db]
    categories: [datastores]
  versions:{}{}
"#,
        version("v1", true),
        version("v1beta1", false)
    )
}

/// Starts a cluster with the Database CRD installed and served.
fn cluster_with_crd() -> (TestCluster, Kubectl) {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    k.ok_stdin(&["apply", "-f", "-"], Some(&crd_yaml()));
    let out = k.ok(&[
        "wait",
        "--for=condition=established",
        "crd/databases.example.com",
        "--timeout=30s",
    ]);
    assert!(out.contains("condition met"), "{out}");
    wait_until("databases served", || {
        k.run(&["get", "databases.v1.example.com"], None)
            .status
            .success()
    });
    (c, k)
}

fn api(client: kube::Client, version: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("example.com", version, "Database");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "databases");
    Api::namespaced_with(client, "default", &ar)
}

fn database(version: &str, name: &str, spec: serde_json::Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": format!("example.com/{version}"), "kind": "Database",
        "metadata": {"name": name}, "spec": spec
    }))
    .expect("a Database")
}

fn field(obj: &DynamicObject, path: &[&str]) -> serde_json::Value {
    path.iter().fold(&obj.data, |v, k| &v[*k]).clone()
}

#[test]
fn versions_defaults_pruning_printer_columns_and_categories() {
    let (_c, k) = cluster_with_crd();
    let with_unknown = r#"{"apiVersion":"example.com/v1beta1","kind":"Database",
        "metadata":{"name":"main"},
        "spec":{"engine":"postgres","bogus":1,"storage":{"junk":true}},
        "extra":"dropped"}"#;
    // kubectl asks for strict field validation by default: unknown fields are an error...
    let err = k.fails(&["create", "-f", "-"], Some(with_unknown));
    assert!(
        err.contains("unknown field \"spec.bogus\"") && err.contains("unknown field \"extra\""),
        "{err}"
    );
    // ...and without it they are pruned silently.
    let out = k.ok_stdin(
        &["create", "--validate=false", "-f", "-"],
        Some(with_unknown),
    );
    assert!(out.contains("database.example.com/main created"), "{out}");

    let v1 = common::json(&k.ok(&["get", "databases.v1.example.com", "main", "-o", "json"]));
    assert_eq!(v1["apiVersion"], "example.com/v1", "read back as v1: {v1}");
    assert_eq!(v1["spec"]["replicas"], 1, "defaulted: {v1}");
    assert_eq!(v1["spec"]["maxReplicas"], 5, "defaulted: {v1}");
    assert_eq!(
        v1["spec"]["storage"],
        json!({"size": "1Gi"}),
        "nested default, pruned: {v1}"
    );
    assert!(
        v1["spec"].get("bogus").is_none(),
        "unknown field pruned: {v1}"
    );
    assert!(
        v1.get("extra").is_none(),
        "unknown top-level field pruned: {v1}"
    );
    let beta = common::json(&k.ok(&["get", "databases.v1beta1.example.com", "main", "-o", "json"]));
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(beta["metadata"]["uid"], v1["metadata"]["uid"]);
    let crd = common::json(&k.ok(&["get", "crd", "databases.example.com", "-o", "json"]));
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]), "{crd}");
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Database", "{crd}");

    k.ok(&[
        "patch",
        "db",
        "main",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Ready"}}"#,
    ]);
    let table = k.ok(&["get", "db"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "ENGINE", "REPLICAS", "PHASE", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..4], ["main", "postgres", "1", "Ready"], "{table}");

    let by_category = k.ok(&["get", "datastores", "-o", "name"]);
    assert_eq!(by_category.trim(), "database.example.com/main");
    let explained = k.ok(&["explain", "database.spec.engine"]);
    assert!(
        explained.contains("engine") && explained.contains("<string>"),
        "{explained}"
    );
}

/// Sends a create (or, with `old`, an update) expected to fail with 422, and returns the
/// Status causes as (field, message) pairs.
async fn rejected(api: &Api<DynamicObject>, obj: DynamicObject) -> Vec<(String, String)> {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let result = if obj.metadata.resource_version.is_some() {
        api.replace(&name, &PostParams::default(), &obj).await
    } else {
        api.create(&PostParams::default(), &obj).await
    };
    match result {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{s:?}");
            assert!(
                s.message
                    .contains(&format!("Database.example.com \"{name}\" is invalid")),
                "{}",
                s.message
            );
            s.details
                .map(|d| d.causes)
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.field, c.message))
                .collect()
        }
        other => panic!("expected 422 for {name}, got {other:?}"),
    }
}

fn has_cause(causes: &[(String, String)], field: &str, message: &str) -> bool {
    causes
        .iter()
        .any(|(f, m)| f == field && m.contains(message))
}

#[tokio::test]
async fn invalid_objects_are_422_with_field_causes() {
    let (c, _k) = cluster_with_crd();
    let api = api(c.client().await, "v1");

    let causes = rejected(&api, database("v1", "no-engine", json!({"replicas": 2}))).await;
    assert!(has_cause(&causes, "spec.engine", "Required"), "{causes:?}");

    let causes = rejected(&api, database("v1", "oracle", json!({"engine": "oracle"}))).await;
    assert!(
        has_cause(&causes, "spec.engine", "Unsupported value"),
        "{causes:?}"
    );

    let causes = rejected(
        &api,
        database("v1", "zero", json!({"engine": "mysql", "replicas": 0})),
    )
    .await;
    assert!(
        has_cause(&causes, "spec.replicas", "greater than or equal to 1"),
        "{causes:?}"
    );

    let causes = rejected(
        &api,
        database(
            "v1",
            "typed",
            json!({"engine": "mysql", "replicas": "three"}),
        ),
    )
    .await;
    assert!(has_cause(&causes, "spec.replicas", "integer"), "{causes:?}");

    let causes = rejected(
        &api,
        database(
            "v1",
            "too-many",
            json!({"engine": "mysql", "replicas": 9, "maxReplicas": 3}),
        ),
    )
    .await;
    assert!(
        has_cause(&causes, "spec", "replicas must not exceed maxReplicas"),
        "CEL rule on spec: {causes:?}"
    );
    // The same rules hold through the other served version.
    let beta = api_for_beta(&c).await;
    let causes = rejected(
        &beta,
        database("v1beta1", "beta-bad", json!({"engine": "db2"})),
    )
    .await;
    assert!(
        has_cause(&causes, "spec.engine", "Unsupported value"),
        "{causes:?}"
    );

    // A transition rule (oldSelf) is checked on update only.
    let created = api
        .create(
            &PostParams::default(),
            &database("v1", "steady", json!({"engine": "mysql"})),
        )
        .await
        .expect("valid create");
    let mut changed = created.clone();
    changed.data["spec"]["engine"] = json!("postgres");
    let causes = rejected(&api, changed).await;
    assert!(
        has_cause(&causes, "spec.engine", "engine is immutable"),
        "{causes:?}"
    );
    // Nothing invalid was stored.
    let names: Vec<String> = api
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(names, vec!["steady".to_string()]);
}

async fn api_for_beta(c: &TestCluster) -> Api<DynamicObject> {
    api(c.client().await, "v1beta1")
}

#[tokio::test]
async fn spec_and_status_are_updated_independently() {
    let (c, _k) = cluster_with_crd();
    let api = api(c.client().await, "v1");
    let created = api
        .create(
            &PostParams::default(),
            &database("v1", "split", json!({"engine": "postgres"})),
        )
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    // Through /status, only status changes and generation stays.
    let after = api
        .patch_status(
            "split",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}, "spec": {"replicas": 3}})),
        )
        .await
        .expect("status patch");
    assert_eq!(field(&after, &["status", "phase"]), "Ready");
    assert_eq!(
        field(&after, &["spec", "replicas"]),
        1,
        "spec ignored on /status"
    );
    assert_eq!(after.metadata.generation, Some(1));

    // Through the main resource, only spec changes and generation moves.
    let after = api
        .patch(
            "split",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Gone"}, "spec": {"replicas": 2}})),
        )
        .await
        .expect("spec patch");
    assert_eq!(field(&after, &["spec", "replicas"]), 2);
    assert_eq!(
        field(&after, &["status", "phase"]),
        "Ready",
        "status ignored on the main resource"
    );
    assert_eq!(after.metadata.generation, Some(2));

    // A status write is validated against the schema too, and a spec write the same.
    let mut bad = after.clone();
    bad.data["status"]["phase"] = json!(7);
    match api
        .replace_status("split", &PostParams::default(), &bad)
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 422, "{s:?}"),
        other => panic!("expected 422 for a non-string phase, got {other:?}"),
    }
    let got = api.get("split").await.expect("get");
    assert_eq!(field(&got, &["status", "phase"]), "Ready");
    assert_eq!(field(&got, &["spec", "replicas"]), 2);
}
