//! Admission webhooks (`admissionregistration.k8s.io/v1`, issue 12): configurations created
//! with kubectl are called as kube-apiserver calls them, against a real HTTPS webhook server
//! on loopback started here (its own CA, passed as `caBundle`).

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

use super::common::TestCluster;
use super::run::{Kubectl, get_json, wait_until};

/// Answers AdmissionReviews: `/validate` refuses ConfigMaps holding a `forbidden` key (403),
/// `/mutate` labels what it sees `webhook=seen`.
fn review_answer(path: &str, review: &Value) -> Value {
    let req = &review["request"];
    let obj = &req["object"];
    let mut response = json!({"uid": req["uid"], "allowed": true});
    if path == "/validate" && obj["data"].get("forbidden").is_some() {
        response["allowed"] = false.into();
        response["status"] = json!({"code": 403, "message": "no forbidden keys"});
    }
    let protected = req["oldObject"]["metadata"]["labels"]["protected"] == "true";
    if path == "/validate" && req["operation"] == "DELETE" && protected && obj.is_null() {
        response["allowed"] = false.into();
        response["status"] = json!({"code": 403, "message": "protected objects stay"});
    }
    if path == "/mutate" {
        let patch = if obj["metadata"]["labels"].is_object() {
            json!([{"op": "add", "path": "/metadata/labels/webhook", "value": "seen"}])
        } else {
            json!([{"op": "add", "path": "/metadata/labels", "value": {"webhook": "seen"}}])
        };
        response["patchType"] = "JSONPatch".into();
        response["patch"] = base64::engine::general_purpose::STANDARD
            .encode(patch.to_string())
            .into();
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

/// Starts the webhook server on 127.0.0.1; returns its address and CA (PEM).
async fn webhook_server() -> (SocketAddr, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("tls config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let path = req.uri().path().to_string();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let review: Value = serde_json::from_slice(&body).unwrap_or_default();
                        let answer = review_answer(&path, &review).to_string();
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(answer)))
                                .expect("response"),
                        )
                    },
                );
                let io = hyper_util::rt::TokioIo::new(tls);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    (addr, ca.pem())
}

fn hook(name: &str, url: &str, ca: &str, failure: &str) -> Value {
    json!({
        "name": name,
        "clientConfig": {"url": url, "caBundle": base64::engine::general_purpose::STANDARD.encode(ca)},
        "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"],
            "resources": ["configmaps"]}],
        "namespaceSelector": {"matchLabels": {"webhooks": "on"}},
        "failurePolicy": failure,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 5,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_called_as_kube_apiserver_calls_them() {
    let (addr, ca) = webhook_server().await;
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    let base = format!("https://{addr}");
    // A closed port: behind `Ignore` it admits; a Service-backed webhook admits (simulation).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut service_backed = hook("svc.example.com", "", &ca, "Fail");
    service_backed["clientConfig"] = json!({"service": {"namespace": "default", "name": "hooks"}});
    let validating = json!({"apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "policy"},
        "webhooks": [hook("deny.example.com", &format!("{base}/validate"), &ca, "Fail"),
            hook("gone.example.com", &format!("https://{closed}/validate"), &ca, "Ignore"),
            service_backed]});
    let mutating = json!({"apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration", "metadata": {"name": "labeller"},
        "webhooks": [hook("label.example.com", &format!("{base}/mutate"), &ca, "Fail")]});
    k.ok_stdin(&["apply", "-f", "-"], Some(&validating.to_string()));
    k.ok_stdin(&["apply", "-f", "-"], Some(&mutating.to_string()));
    let stored = get_json(&k, &["get", "validatingwebhookconfiguration", "policy"]);
    assert_eq!(
        stored["webhooks"][0]["matchPolicy"], "Equivalent",
        "defaulted: {stored}"
    );
    assert_eq!(stored["webhooks"][0]["rules"][0]["scope"], "*");
    k.ok(&["create", "namespace", "hooked"]);
    k.ok(&["label", "namespace", "hooked", "webhooks=on"]);

    creates_updates_and_deletes_are_admitted(&k);

    unreachable_webhooks_fail_closed(&k, closed, &ca);

    // Configurations are validated as kube validates them.
    let mut bad = validating.clone();
    bad["metadata"]["name"] = "plain-http".into();
    bad["webhooks"] = json!([hook(
        "http.example.com",
        "http://127.0.0.1:1/x",
        &ca,
        "Fail"
    )]);
    let err = k.fails(&["create", "-f", "-"], Some(&bad.to_string()));
    assert!(
        err.contains("'https' is the only allowed URL scheme"),
        "{err}"
    );
}

/// The configurations reach the server's admission chain (as kube's, through a watch): creates,
/// updates and deletes in the selected namespace are validated and mutated; others are not.
fn creates_updates_and_deletes_are_admitted(k: &Kubectl) {
    // The configurations reach the server's admission chain (as kube's, through a watch).
    wait_until("the validating webhook refuses", || {
        let out = k.run(
            &[
                "create",
                "configmap",
                "bad",
                "-n",
                "hooked",
                "--from-literal=forbidden=1",
            ],
            None,
        );
        !out.status.success()
    });
    let err = k.fails(
        &[
            "create",
            "configmap",
            "bad",
            "-n",
            "hooked",
            "--from-literal=forbidden=1",
        ],
        None,
    );
    assert!(
        err.contains(
            "admission webhook \"deny.example.com\" denied the request: no forbidden keys"
        ),
        "{err}"
    );
    k.ok(&[
        "create",
        "configmap",
        "good",
        "-n",
        "hooked",
        "--from-literal=a=1",
    ]);
    let good = get_json(k, &["get", "configmap", "good", "-n", "hooked"]);
    assert_eq!(
        good["metadata"]["labels"]["webhook"], "seen",
        "mutated: {good}"
    );
    // An update is admitted too; a namespace the selector leaves out is not.
    let err = k.fails(
        &[
            "patch",
            "configmap",
            "good",
            "-n",
            "hooked",
            "-p",
            r#"{"data":{"forbidden":"x"}}"#,
        ],
        None,
    );
    assert!(err.contains("no forbidden keys"), "{err}");
    k.ok(&["create", "configmap", "free", "--from-literal=forbidden=1"]);
    // A DELETE is admitted too, with the stored object as oldObject.
    k.ok(&[
        "label",
        "configmap",
        "good",
        "-n",
        "hooked",
        "protected=true",
    ]);
    let err = k.fails(&["delete", "configmap", "good", "-n", "hooked"], None);
    assert!(
        err.contains(
            "admission webhook \"deny.example.com\" denied the request: protected objects stay"
        ),
        "{err}"
    );
    k.ok(&["label", "configmap", "good", "-n", "hooked", "protected-"]);
    k.ok(&["delete", "configmap", "good", "-n", "hooked"]);
}

/// A webhook that cannot be reached fails closed under `Fail`; webhook configurations
/// themselves are never admitted by webhooks, so it can be removed.
fn unreachable_webhooks_fail_closed(k: &Kubectl, closed: SocketAddr, ca: &str) {
    // A webhook that cannot be reached fails closed under `Fail`.
    let broken = json!({"apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "broken"},
        "webhooks": [hook("broken.example.com", &format!("https://{closed}/validate"), ca, "Fail")]});
    k.ok_stdin(&["apply", "-f", "-"], Some(&broken.to_string()));
    wait_until("the unreachable webhook fails closed", || {
        !k.run(
            &[
                "create",
                "configmap",
                "probe",
                "-n",
                "hooked",
                "--from-literal=a=1",
            ],
            None,
        )
        .status
        .success()
    });
    let err = k.fails(
        &[
            "create",
            "configmap",
            "probe",
            "-n",
            "hooked",
            "--from-literal=a=1",
        ],
        None,
    );
    assert!(
        err.contains("failed calling webhook \"broken.example.com\""),
        "{err}"
    );
    // Webhook configurations themselves are never admitted by webhooks: it can be removed.
    k.ok(&["delete", "validatingwebhookconfiguration", "broken"]);
}
