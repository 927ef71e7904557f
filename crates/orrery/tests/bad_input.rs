//! Bad input gets a proper `Status` and stores nothing (issue: embedded cluster, must-show 5).

mod common;

use common::{TestCluster, json};

/// Sends a raw request with the admin token through kube-rs' HTTP client.
async fn raw(
    c: &TestCluster,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    try_raw(c, method, path, content_type, body)
        .await
        .expect("the connection broke while the body was being written")
}

/// [`raw`], or `None` when the connection broke while the body was still being written.
async fn try_raw(
    c: &TestCluster,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Option<(u16, serde_json::Value)> {
    let client = c.client().await;
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .unwrap();
    let resp = match client.send(req.map(kube::client::Body::from)).await {
        Ok(r) => r,
        Err(e) if format!("{e:?}").contains("BodyWrite") => return None,
        Err(e) => panic!("{e:?}"),
    };
    let code = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    Some((
        code,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    ))
}

fn assert_status(v: &serde_json::Value, code: u16, reason: &str) {
    assert_eq!(v["kind"], "Status", "{v}");
    assert_eq!(v["status"], "Failure", "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["reason"], reason, "{v}");
}

fn count_configmaps(c: &TestCluster) -> usize {
    json(&c.ok(&["get", "cm", "-n", "default", "-o", "json"]))["items"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0)
}

#[tokio::test]
async fn malformed_and_mismatched_bodies() {
    let c = TestCluster::start(&[]);
    let before = count_configmaps(&c);
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, v) = raw(
        &c,
        "POST",
        path,
        "application/json",
        b"{\"kind\": \"ConfigMap\", ".to_vec(),
    )
    .await;
    assert_eq!(code, 400);
    assert_status(&v, 400, "BadRequest");

    let (code, v) = raw(
        &c,
        "POST",
        path,
        "application/json",
        br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert_status(&v, 400, "BadRequest");
    let (code, v) = raw(
        &c,
        "POST",
        path,
        "application/json",
        br#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("apps/v1"), "{v}");

    let (code, v) = raw(
        &c,
        "POST",
        path,
        "application/json",
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 422);
    assert_status(&v, 422, "Invalid");
    assert!(v["message"].as_str().unwrap().contains("RFC 1123"), "{v}");
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");

    let (code, v) = raw(&c, "POST", path, "application/json", br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ok","labels":{"bad key!":"v"}}}"#.to_vec()).await;
    assert_eq!(code, 422, "{v}");
    assert!(
        v["details"]["causes"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("metadata.labels"),
        "{v}"
    );
    let (code, v) = raw(&c, "POST", path, "application/json", br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ok","labels":{"k":"bad value!"}}}"#.to_vec()).await;
    assert_eq!(code, 422, "{v}");

    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    // The server refuses from Content-Length and may close before the client has written the
    // whole body (the client then sees a broken pipe, not the answer): try a few times until
    // the answer is read.
    let mut answered = None;
    for _ in 0..10 {
        if let Some(a) = try_raw(
            &c,
            "POST",
            path,
            "application/json",
            big.clone().into_bytes(),
        )
        .await
        {
            answered = Some(a);
            break;
        }
    }
    let (code, v) = answered.expect("the 413 answer was read at least once");
    assert_eq!(code, 413, "{v}");
    assert_status(&v, 413, "RequestEntityTooLarge");

    let (code, v) = raw(
        &c,
        "GET",
        "/api/v1/namespaces/default/widgets",
        "application/json",
        vec![],
    )
    .await;
    assert_eq!(code, 404);
    assert_status(&v, 404, "NotFound");

    let (code, v) = raw(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(",
        "application/json",
        vec![],
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert_status(&v, 400, "BadRequest");
    let (code, v) = raw(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps?fieldSelector=spec.nodeName%3Dx",
        "application/json",
        vec![],
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("field label not supported"),
        "{v}"
    );

    assert_eq!(count_configmaps(&c), before, "nothing was stored");
}

#[test]
fn kubectl_reports_bad_input_with_validation_on() {
    let c = TestCluster::start(&[]);
    let before = count_configmaps(&c);
    let err = c.fails(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n"),
    );
    assert!(
        err.contains("Invalid value") && err.contains("Bad_Name"),
        "{err}"
    );
    let err = c.fails(&["create", "-f", "-"], Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  labels:\n    \"no spaces\": x\n"));
    assert!(err.contains("metadata.labels"), "{err}");
    let err = c.fails(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, map]\n"),
    );
    assert!(!err.is_empty());
    let err = c.fails(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatta:\n  a: b\n"),
    );
    assert!(err.contains("datta"), "unknown field reported: {err}");
    let err = c.fails(&["get", "cm", "-l", "a in ("], None);
    assert!(!err.is_empty());
    let err = c.fails(&["get", "widgets"], None);
    assert!(
        err.contains("the server doesn't have a resource type \"widgets\""),
        "{err}"
    );
    assert_eq!(count_configmaps(&c), before, "nothing was stored");
}

/// The hostile bodies of issue 11 (point 4): each is refused at once with a Status and
/// changes nothing, several at a time included, and the server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_refused_and_change_nothing() {
    let c = TestCluster::start(&[]);
    c.ok(&[
        "create",
        "configmap",
        "target",
        "-n",
        "default",
        "--from-literal=k=v",
    ]);
    let before = c.ok(&["get", "cm", "target", "-n", "default", "-o", "json"]);
    let count = count_configmaps(&c);
    let item = "/api/v1/namespaces/default/configmaps/target";
    let collection = "/api/v1/namespaces/default/configmaps";

    // A JSON patch whose copies double the object forty times: terabytes if applied.
    let mut ops =
        vec![serde_json::json!({"op": "add", "path": "/data/x", "value": "0123456789abcdef"})];
    ops.push(serde_json::json!({"op": "add", "path": "/metadata/annotations", "value": {"a": []}}));
    for _ in 0..40 {
        ops.push(serde_json::json!({"op": "copy", "from": "/metadata/annotations/a", "path": "/metadata/annotations/a/-"}));
    }
    let copy_bomb = serde_json::to_vec(&ops).unwrap();
    // A "billion laughs" YAML body of a few hundred bytes.
    let mut laughs = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: laughs}\nx0: &x0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*x{}", i - 1); 10].join(",");
        laughs.push_str(&format!("x{i}: &x{i} [{refs}]\n"));
    }
    // 3 MiB of nesting in JSON and in YAML.
    let depth = (3 * 1024 * 1024 - 256) / 2;
    let nested_json = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"deep\"}},\"x\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let nested_yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\nx: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );

    // Three rounds of all four at once.
    let client = c.client().await;
    let mut tasks = Vec::new();
    for _ in 0..3 {
        for (method, path, ct, body, code) in [
            (
                "PATCH",
                item,
                "application/json-patch+json",
                copy_bomb.clone(),
                422,
            ),
            (
                "POST",
                collection,
                "application/yaml",
                laughs.clone().into_bytes(),
                400,
            ),
            (
                "POST",
                collection,
                "application/json",
                nested_json.clone().into_bytes(),
                400,
            ),
            (
                "POST",
                collection,
                "application/yaml",
                nested_yaml.clone().into_bytes(),
                400,
            ),
        ] {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let req = http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("content-type", ct)
                    .body(kube::client::Body::from(body))
                    .unwrap();
                let resp = client.send(req).await.expect("an answer");
                let got = resp.status().as_u16();
                let bytes = http_body_util::BodyExt::collect(resp.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                (method, ct, code, got, v)
            }));
        }
    }
    for t in tasks {
        let (method, ct, code, got, v) = t.await.unwrap();
        assert_eq!(got, code, "{method} {ct}: {v}");
        assert_eq!(v["kind"], "Status", "{method} {ct}: {v}");
    }
    let (code, _) = raw(&c, "GET", "/healthz", "application/json", Vec::new()).await;
    assert_eq!(code, 200);
    assert_eq!(
        c.ok(&["get", "cm", "target", "-n", "default", "-o", "json"]),
        before,
        "the copy bomb changed the target"
    );
    assert_eq!(count_configmaps(&c), count, "a refused body was stored");
}
