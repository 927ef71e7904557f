//! Wrong-typed fields in any body of any built-in kind are a 4xx Status, never a panic, a
//! dropped connection or a stored object (issue 11, must-show 4).
//!
//! A generator, not a hand list: the kinds come from the cluster's discovery (every resource
//! that takes `create`), the fields from the cluster's own OpenAPI schema of each kind (every
//! property path a few levels deep, list items included), and each field gets every JSON type
//! its schema does not declare. Each body is sent as a create; for kinds whose bare object is
//! accepted, the same wrong value also goes in as a merge patch and as a replace of that
//! object. At the end nothing that was refused may be stored, the seeds are unchanged, and
//! the process still answers.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::TestCluster;
use serde_json::{Map, Value, json};

/// How deep into each kind's schema fields are generated.
const MAX_PATH_DEPTH: usize = 4;
/// Fields tried per kind (spread over the whole schema, deterministically).
const FIELDS_PER_KIND: usize = 48;
/// The namespace namespaced objects are created in.
const NS: &str = "wrong-types";

struct Api {
    client: kube::Client,
}

/// One answer: status code and the body as JSON (Null when not JSON).
struct Answer {
    code: u16,
    body: Value,
}

impl Api {
    async fn send(&self, method: &str, path: &str, content_type: &str, body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(kube::client::Body::from(bytes))
            .expect("request");
        let resp = self.client.send(req).await.unwrap_or_else(|e| {
            panic!("{method} {path} {body}: no answer ({e}): the connection dropped")
        });
        let code = resp.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Answer {
            code,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let a = self
            .send("GET", path, "application/json", &Value::Null)
            .await;
        assert_eq!(a.code, 200, "GET {path}: {}", a.body);
        a.body
    }
}

/// A served resource that takes `create`.
#[derive(Debug, Clone)]
struct Kind {
    group: String,
    version: String,
    kind: String,
    plural: String,
    namespaced: bool,
    /// Whether single objects can be read, patched and replaced (reviews cannot).
    writable: bool,
}

impl Kind {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn collection(&self) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if self.namespaced {
            format!("{base}/namespaces/{NS}/{}", self.plural)
        } else {
            format!("{base}/{}", self.plural)
        }
    }
}

/// Every resource of every preferred group version that takes `create`, from discovery.
async fn creatable_kinds(api: &Api) -> Vec<Kind> {
    let mut versions = vec![(String::new(), "v1".to_string())];
    let groups = api.get("/apis").await;
    for g in groups["groups"].as_array().into_iter().flatten() {
        let name = g["name"].as_str().unwrap_or_default().to_string();
        let v = g["preferredVersion"]["version"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        versions.push((name, v));
    }
    let mut kinds = Vec::new();
    for (group, version) in versions {
        let path = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{group}/{version}")
        };
        let list = api.get(&path).await;
        for r in list["resources"].as_array().into_iter().flatten() {
            let plural = r["name"].as_str().unwrap_or_default();
            let has = |verb: &str| {
                r["verbs"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|v| v == verb))
            };
            let creatable = has("create");
            if plural.contains('/') || !creatable {
                continue;
            }
            kinds.push(Kind {
                group: group.clone(),
                version: version.clone(),
                kind: r["kind"].as_str().unwrap_or_default().to_string(),
                plural: plural.to_string(),
                namespaced: r["namespaced"].as_bool().unwrap_or(false),
                writable: has("get") && has("patch") && has("update"),
            });
        }
    }
    kinds
}

/// The OpenAPI v2 definitions, and the definition name of each group/version/kind.
struct Schemas {
    definitions: Map<String, Value>,
    by_gvk: BTreeMap<(String, String, String), String>,
}

impl Schemas {
    async fn load(api: &Api) -> Schemas {
        let doc = api.get("/openapi/v2").await;
        let definitions = doc["definitions"].as_object().cloned().unwrap_or_default();
        let mut by_gvk = BTreeMap::new();
        for (name, def) in &definitions {
            for gvk in def["x-kubernetes-group-version-kind"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let key = (
                    gvk["group"].as_str().unwrap_or_default().to_string(),
                    gvk["version"].as_str().unwrap_or_default().to_string(),
                    gvk["kind"].as_str().unwrap_or_default().to_string(),
                );
                by_gvk.insert(key, name.clone());
            }
        }
        Schemas {
            definitions,
            by_gvk,
        }
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..8 {
            match schema["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/definitions/"))
                .and_then(|n| self.definitions.get(n))
            {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }

    /// Every field path of `schema` up to `MAX_PATH_DEPTH` (`[]` steps into list items),
    /// with the JSON type its schema declares (None when untyped).
    fn fields(&self, schema: &Value) -> Vec<(Vec<String>, Option<String>)> {
        let mut out = Vec::new();
        let mut queue = vec![(Vec::<String>::new(), schema)];
        while let Some((path, schema)) = queue.pop() {
            let schema = self.resolve(schema);
            if !path.is_empty() {
                out.push((path.clone(), declared_type(schema)));
            }
            if path.len() >= MAX_PATH_DEPTH {
                continue;
            }
            if let Some(props) = schema["properties"].as_object() {
                for (k, child) in props {
                    if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind") {
                        continue;
                    }
                    let mut p = path.clone();
                    p.push(k.clone());
                    queue.push((p, child));
                }
            }
            if schema["type"] == "array" && schema["items"].is_object() {
                let mut p = path.clone();
                p.push("[]".into());
                queue.push((p, &schema["items"]));
            }
        }
        out.sort();
        out
    }
}

/// The JSON type a schema declares: `object`, `array`, `string`, `integer`, `number`,
/// `boolean`; int-or-string and Quantity (which decode from numbers too) as `int-or-string`.
fn declared_type(schema: &Value) -> Option<String> {
    if schema["format"] == "int-or-string" || schema["x-kubernetes-int-or-string"] == true {
        return Some("int-or-string".into());
    }
    schema["type"].as_str().map(str::to_string)
}

/// The values of every JSON type the declared type does not take.
fn wrong_values(declared: &str) -> Vec<Value> {
    let all = [
        ("string", json!("x")),
        ("number", json!(7)),
        ("boolean", json!(true)),
        ("array", json!(["x"])),
        ("object", json!({"x": "y"})),
    ];
    let accepted: &[&str] = match declared {
        "object" => &["object"],
        "array" => &["array"],
        "string" => &["string"],
        "integer" | "number" => &["number"],
        "boolean" => &["boolean"],
        "int-or-string" => &["string", "number"],
        _ => &["string", "number", "boolean", "array", "object"],
    };
    all.into_iter()
        .filter(|(t, _)| !accepted.contains(t))
        .map(|(_, v)| v)
        .collect()
}

/// Sets `value` at `path` in `obj`, creating objects (and one-item lists for `[]`) on the way.
fn set_path(obj: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *obj = value;
        return;
    };
    if first == "[]" {
        if !obj.is_array() || obj.as_array().is_some_and(Vec::is_empty) {
            *obj = json!([{}]);
        }
        if let Some(item) = obj.as_array_mut().and_then(|a| a.first_mut()) {
            set_path(item, rest, value);
        }
        return;
    }
    if !obj.is_object() {
        *obj = json!({});
    }
    if let Some(map) = obj.as_object_mut() {
        let child = map.entry(first.clone()).or_insert_with(|| json!({}));
        set_path(child, rest, value);
    }
}

/// Picks `n` items spread evenly over `items` (all when there are fewer).
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// The value at `path` (`[]` = the first list item), if any.
fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, seg| {
        if seg == "[]" {
            v.as_array().and_then(|a| a.first())
        } else {
            v.get(seg)
        }
    })
}

/// A refused write left nothing of itself in the stored object. (Controllers may change
/// other fields meanwhile, so the resourceVersion is no measure.)
fn assert_not_stored(what: &str, stored: &Value, path: &[String], wrong: &Value) {
    assert_ne!(
        value_at(stored, path),
        Some(wrong),
        "{what}: refused, yet the wrong value was stored"
    );
}

fn assert_refused_or_accepted(what: &str, a: &Answer) {
    match a.code {
        200..=299 => {}
        400..=499 => {
            assert_eq!(a.body["kind"], "Status", "{what}: {} {}", a.code, a.body);
            assert_eq!(a.body["code"], a.code, "{what}: {}", a.body);
        }
        _ => panic!("{what}: answered {} {}", a.code, a.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_typed_fields_of_every_kind_are_refused_and_store_nothing() {
    let mut cluster = TestCluster::start(&[]);
    let api = Api {
        client: cluster.client().await,
    };
    let ns = api
        .send(
            "POST",
            "/api/v1/namespaces",
            "application/json",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        )
        .await;
    assert_eq!(ns.code, 201, "{}", ns.body);

    let kinds = creatable_kinds(&api).await;
    let schemas = Schemas::load(&api).await;
    let mut tally = Tally::default();
    for kind in &kinds {
        tally.try_kind(&api, &schemas, kind).await;
    }
    let Tally {
        tried_kinds,
        requests,
        refused,
        ..
    } = tally;

    // The generator covered the built-in kinds, not a handful.
    assert!(tried_kinds >= 40, "only {tried_kinds} kinds had a schema");
    assert!(
        refused >= 1000,
        "only {refused} of {requests} requests refused"
    );
    tally.nothing_refused_is_stored(&api, &kinds).await;
    let health = api
        .send("GET", "/healthz", "application/json", &Value::Null)
        .await;
    assert_eq!(health.code, 200);
    assert!(
        cluster.child.try_wait().ok().flatten().is_none(),
        "the cluster process exited"
    );
    eprintln!("{tried_kinds} kinds, {requests} requests, {refused} creates refused");
}

/// What the wrong-types run tried and what the server did with it.
#[derive(Default)]
struct Tally {
    tried_kinds: usize,
    requests: usize,
    refused: usize,
    /// Objects that were accepted, by collection path; nothing else may exist at the end.
    accepted: BTreeMap<String, BTreeSet<String>>,
    /// Every name a create was tried with (controllers create other objects meanwhile).
    attempted: BTreeMap<String, BTreeSet<String>>,
}

impl Tally {
    /// Sends every wrong value of a kind's sampled fields: in creates, and in a patch and a
    /// replace of a seed object when the kind accepts one.
    async fn try_kind(&mut self, api: &Api, schemas: &Schemas, kind: &Kind) {
        let key = (kind.group.clone(), kind.version.clone(), kind.kind.clone());
        let Some(def) = schemas.by_gvk.get(&key) else {
            return;
        };
        let Some(schema) = schemas.definitions.get(def) else {
            return;
        };
        self.tried_kinds += 1;
        let collection = kind.collection();
        let base = json!({"apiVersion": kind.api_version(), "kind": kind.kind, "metadata": {}});
        let seed = self.seed(api, kind, &base).await;
        let fields = schemas.fields(schema);
        for (i, (path, declared)) in spread(&fields, FIELDS_PER_KIND).into_iter().enumerate() {
            let Some(declared) = declared else { continue };
            for (j, wrong) in wrong_values(&declared).into_iter().enumerate() {
                let name = format!("wt-{}-{i}-{j}", kind.plural.replace('.', "-"));
                self.create(api, &collection, &base, &name, &path, &wrong)
                    .await;
                if let Some(seed_name) = &seed {
                    let item = format!("{collection}/{seed_name}");
                    self.patch_and_replace(api, &item, &path, &wrong).await;
                }
            }
        }
    }

    /// A bare object as the seed for patches and replaces; its name when the kind took it.
    async fn seed(&mut self, api: &Api, kind: &Kind, base: &Value) -> Option<String> {
        let collection = kind.collection();
        let seed_name = format!("wt-seed-{}", kind.plural);
        let mut seed = base.clone();
        seed["metadata"]["name"] = json!(seed_name);
        let made = api
            .send("POST", &collection, "application/json", &seed)
            .await;
        assert_refused_or_accepted(&format!("POST {collection} (seed)"), &made);
        self.requests += 1;
        let seeded = made.code == 201 && kind.writable;
        if !seeded {
            return None;
        }
        self.accepted
            .entry(collection)
            .or_default()
            .insert(seed_name.clone());
        Some(seed_name)
    }

    /// A create with one wrong value.
    async fn create(
        &mut self,
        api: &Api,
        collection: &str,
        base: &Value,
        name: &str,
        path: &[String],
        wrong: &Value,
    ) {
        let mut body = base.clone();
        set_path(&mut body, path, wrong.clone());
        let names_it = path.len() == 2 && path[0] == "metadata" && path[1] == "name";
        if body["metadata"].is_object() && !names_it {
            body["metadata"]["name"] = json!(name);
        }
        self.attempted
            .entry(collection.to_string())
            .or_default()
            .insert(name.to_string());
        let what = format!("POST {collection} {}={wrong}", path.join("."));
        let a = api
            .send("POST", collection, "application/json", &body)
            .await;
        assert_refused_or_accepted(&what, &a);
        self.requests += 1;
        if a.code < 300 {
            if let Some(n) = a.body["metadata"]["name"].as_str() {
                self.accepted
                    .entry(collection.to_string())
                    .or_default()
                    .insert(n.to_string());
            }
        } else {
            self.refused += 1;
        }
    }

    /// The same wrong value as a merge patch of the seed, and in a replace of it.
    async fn patch_and_replace(&mut self, api: &Api, item: &str, path: &[String], wrong: &Value) {
        let mut patch = json!({});
        set_path(&mut patch, path, wrong.clone());
        let p = api
            .send("PATCH", item, "application/merge-patch+json", &patch)
            .await;
        let what = format!("PATCH {item} {patch}");
        assert_refused_or_accepted(&what, &p);
        let current = api.get(item).await;
        if p.code >= 400 {
            assert_not_stored(&what, &current, path, wrong);
        }
        let mut put = current.clone();
        set_path(&mut put, path, wrong.clone());
        let u = api.send("PUT", item, "application/json", &put).await;
        let what = format!("PUT {item} {}", path.join("."));
        assert_refused_or_accepted(&what, &u);
        if u.code >= 400 {
            assert_not_stored(&what, &api.get(item).await, path, wrong);
        }
        self.requests += 2;
    }

    /// Nothing refused was stored: every object named like ours was accepted.
    async fn nothing_refused_is_stored(&self, api: &Api, kinds: &[Kind]) {
        for kind in kinds {
            let collection = kind.collection();
            let list = api
                .send("GET", &collection, "application/json", &Value::Null)
                .await;
            if list.code != 200 {
                continue;
            }
            for item in list.body["items"].as_array().into_iter().flatten() {
                let name = item["metadata"]["name"].as_str().unwrap_or_default();
                if !self
                    .attempted
                    .get(&collection)
                    .is_some_and(|s| s.contains(name))
                {
                    continue;
                }
                assert!(
                    self.accepted
                        .get(&collection)
                        .is_some_and(|s| s.contains(name)),
                    "{collection}/{name} is stored although its create was refused"
                );
            }
        }
    }
}
