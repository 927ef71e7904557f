//! Mapping manifest documents to API resources through discovery, and applying, reading and
//! deleting them the way Helm's kube client does.

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{Discovery, Scope};
use serde_json::Value as Json;

use super::ActionError;
use crate::release::record::integral_floats_as_ints;

/// API groups served by Kubernetes itself; their objects take strategic merge patches, while
/// custom resources only take JSON merge patches.
const BUILTIN_GROUPS: &[&str] = &[
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// A manifest document resolved to its API endpoint.
#[derive(Clone)]
pub struct Target {
    /// The object as rendered (JSON).
    pub object: Json,
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// The namespace it lives in (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Whether the kind is built into Kubernetes (strategic merge patch applies).
    pub builtin: bool,
    /// The endpoint.
    pub api: Api<DynamicObject>,
}

impl Target {
    /// `Kind/name` for messages.
    pub fn describe(&self) -> String {
        format!("{} {:?}", self.kind, self.name)
    }
}

/// The manifest's documents as JSON objects, in order (empty documents dropped).
pub fn manifest_objects(manifest: &str) -> Result<Vec<Json>, ActionError> {
    let docs =
        crate::yaml::parse_documents(manifest).map_err(|e| ActionError::Manifest(e.to_string()))?;
    let mut out = Vec::new();
    for d in docs {
        let mut j = crate::values::schema::to_json(&d);
        if j.is_null() {
            continue;
        }
        if !j.is_object() {
            return Err(ActionError::Manifest(
                "a manifest document is not an object".into(),
            ));
        }
        integral_floats_as_ints(&mut j);
        out.push(j);
    }
    Ok(out)
}

/// A cluster connection with its discovered resources.
pub struct Resources {
    /// The client.
    pub client: kube::Client,
    discovery: Option<Discovery>,
}

impl Resources {
    /// Wraps a client; discovery runs on first use.
    pub fn new(client: kube::Client) -> Resources {
        Resources {
            client,
            discovery: None,
        }
    }

    async fn discover(&mut self) -> Result<&Discovery, ActionError> {
        if self.discovery.is_none() {
            self.discovery = Some(Discovery::new(self.client.clone()).run().await?);
        }
        self.discovery
            .as_ref()
            .ok_or_else(|| ActionError::Other("discovery failed".into()))
    }

    /// Drops the discovered resources, so the next lookup sees kinds served since.
    pub fn forget_discovery(&mut self) {
        self.discovery = None;
    }

    /// The API group versions the cluster serves, for `.Capabilities.APIVersions`.
    pub async fn api_versions(&mut self) -> Result<Vec<String>, ActionError> {
        let d = self.discover().await?;
        let mut out = Vec::new();
        for g in d.groups() {
            for v in g.versions() {
                out.push(if g.name().is_empty() {
                    v.to_string()
                } else {
                    format!("{}/{v}", g.name())
                });
            }
        }
        Ok(out)
    }

    /// Resolves one object with what discovery knows now (no waiting for a kind to be served):
    /// `None` for a kind the cluster does not serve.
    pub async fn resolve(
        &mut self,
        object: &Json,
        default_ns: &str,
    ) -> Result<Option<Target>, ActionError> {
        match self.resolve_with(object, default_ns, false).await {
            Ok(t) => Ok(Some(t)),
            Err(ActionError::NoKind { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Resolves one object; an unknown kind rediscovers once, since a CRD created earlier in
    /// the same release may only now be served.
    pub async fn target(&mut self, object: &Json, default_ns: &str) -> Result<Target, ActionError> {
        self.resolve_with(object, default_ns, true).await
    }

    async fn resolve_with(
        &mut self,
        object: &Json,
        default_ns: &str,
        wait: bool,
    ) -> Result<Target, ActionError> {
        let api_version = object
            .get("apiVersion")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let kind = object
            .get("kind")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let name = object
            .pointer("/metadata/name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        if kind.is_empty() || api_version.is_empty() || name.is_empty() {
            return Err(ActionError::Manifest(format!(
                "object {kind:?} {name:?} lacks apiVersion, kind or metadata.name"
            )));
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &kind);
        let mut found = self.discover().await?.resolve_gvk(&gvk);
        if found.is_none() && wait {
            for _ in 0..20 {
                self.discovery = None;
                found = self.discover().await?.resolve_gvk(&gvk);
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
        let Some((ar, caps)) = found else {
            return Err(ActionError::NoKind {
                name,
                kind,
                api_version,
            });
        };
        let builtin = !group.contains('.') || BUILTIN_GROUPS.contains(&group.as_str());
        let (namespace, api) = if caps.scope == Scope::Namespaced {
            let ns = object
                .pointer("/metadata/namespace")
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(default_ns)
                .to_string();
            let api = Api::namespaced_with(self.client.clone(), &ns, &ar);
            (ns, api)
        } else {
            (String::new(), Api::all_with(self.client.clone(), &ar))
        };
        let mut object = object.clone();
        if !namespace.is_empty()
            && let Some(md) = object.get_mut("metadata").and_then(Json::as_object_mut)
        {
            md.insert("namespace".into(), Json::String(namespace.clone()));
        }
        Ok(Target {
            object,
            name,
            kind,
            namespace,
            builtin,
            api,
        })
    }

    /// Resolves every object of a manifest.
    pub async fn targets(
        &mut self,
        manifest: &str,
        default_ns: &str,
    ) -> Result<Vec<Target>, ActionError> {
        let mut out = Vec::new();
        for o in manifest_objects(manifest)? {
            out.push(self.target(&o, default_ns).await?);
        }
        Ok(out)
    }
}

/// Marks an object as belonging to a release, as Helm's `setMetadataVisitor` does.
pub fn set_release_metadata(t: &mut Target, release: &str, release_ns: &str) {
    let Some(md) = t.object.get_mut("metadata").and_then(Json::as_object_mut) else {
        return;
    };
    let labels = md
        .entry("labels")
        .or_insert_with(|| Json::Object(Default::default()));
    if !labels.is_object() {
        *labels = Json::Object(Default::default());
    }
    if let Some(l) = labels.as_object_mut() {
        l.insert(
            "app.kubernetes.io/managed-by".into(),
            Json::String("Helm".into()),
        );
    }
    let ann = md
        .entry("annotations")
        .or_insert_with(|| Json::Object(Default::default()));
    if !ann.is_object() {
        *ann = Json::Object(Default::default());
    }
    if let Some(a) = ann.as_object_mut() {
        a.insert(
            "meta.helm.sh/release-name".into(),
            Json::String(release.into()),
        );
        a.insert(
            "meta.helm.sh/release-namespace".into(),
            Json::String(release_ns.into()),
        );
    }
}

/// The live object, if it exists.
pub async fn get(t: &Target) -> Result<Option<DynamicObject>, ActionError> {
    Ok(t.api.get_opt(&t.name).await?)
}

/// Server-side apply with field manager `helm`.
pub async fn apply_server_side(t: &Target, force: bool) -> Result<(), ActionError> {
    let mut pp = PatchParams::apply("helm");
    pp.force = force;
    t.api
        .patch(&t.name, &pp, &Patch::Apply(&t.object))
        .await
        .map_err(|e| ActionError::Apply(t.describe(), e))?;
    Ok(())
}

/// Creates the object (client-side apply of a new object).
pub async fn create(t: &Target) -> Result<(), ActionError> {
    let obj: DynamicObject = serde_json::from_value(t.object.clone())
        .map_err(|e| ActionError::Manifest(e.to_string()))?;
    let pp = PostParams {
        field_manager: Some("helm".into()),
        ..PostParams::default()
    };
    t.api
        .create(&pp, &obj)
        .await
        .map_err(|e| ActionError::Apply(t.describe(), e))?;
    Ok(())
}

/// The JSON merge patch taking `from` to `to` (removed keys become `null`).
pub fn merge_diff(from: &Json, to: &Json) -> Option<Json> {
    match (from, to) {
        (Json::Object(a), Json::Object(b)) => {
            let mut out = serde_json::Map::new();
            for (k, v) in b {
                match a.get(k) {
                    Some(old) => {
                        if let Some(d) = merge_diff(old, v) {
                            out.insert(k.clone(), d);
                        }
                    }
                    None => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            for k in a.keys() {
                if !b.contains_key(k) {
                    out.insert(k.clone(), Json::Null);
                }
            }
            (!out.is_empty()).then_some(Json::Object(out))
        }
        _ => (from != to).then(|| to.clone()),
    }
}

/// Client-side update: the three-way patch from the previous release's object (`original`)
/// to the new one, with the new object's fields also asserted over live drift — sent as a
/// strategic merge patch for built-in kinds and a JSON merge patch for custom resources.
pub async fn apply_client_side(t: &Target, original: Option<&Json>) -> Result<(), ActionError> {
    let Some(live) = get(t).await? else {
        return create(t).await;
    };
    let live = serde_json::to_value(&live).map_err(|e| ActionError::Manifest(e.to_string()))?;
    let mut patch = match original {
        Some(o) => merge_diff(o, &t.object).unwrap_or_else(|| Json::Object(Default::default())),
        None => Json::Object(Default::default()),
    };
    // Fields the chart sets that differ live are put back, as Helm's three-way merge does.
    if let Some(drift) = merge_diff(&live, &t.object) {
        overlay_sets(&mut patch, &drift);
    }
    if patch.as_object().is_some_and(|m| m.is_empty()) {
        return Ok(());
    }
    let pp = PatchParams {
        field_manager: Some("helm".into()),
        ..PatchParams::default()
    };
    let res = if t.builtin {
        t.api.patch(&t.name, &pp, &Patch::Strategic(&patch)).await
    } else {
        t.api.patch(&t.name, &pp, &Patch::Merge(&patch)).await
    };
    res.map_err(|e| ActionError::Apply(t.describe(), e))?;
    Ok(())
}

/// Adds the non-null entries of `drift` into `patch` (deletions of live-only fields are not
/// Helm's to make).
fn overlay_sets(patch: &mut Json, drift: &Json) {
    let (Some(p), Some(d)) = (patch.as_object_mut(), drift.as_object()) else {
        return;
    };
    for (k, v) in d {
        if v.is_null() {
            continue;
        }
        match p.get_mut(k) {
            Some(existing) if existing.is_object() && v.is_object() => overlay_sets(existing, v),
            Some(existing) if existing.is_null() => {}
            Some(_) => {}
            None => {
                let mut v = v.clone();
                strip_nulls(&mut v);
                p.insert(k.clone(), v);
            }
        }
    }
}

fn strip_nulls(v: &mut Json) {
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !x.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

/// Deletes the object with background propagation; a missing object is not an error.
pub async fn delete(t: &Target) -> Result<bool, ActionError> {
    match t.api.delete(&t.name, &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(ActionError::Apply(t.describe(), e)),
    }
}

/// Waits until the object is gone (or `deadline` passes).
pub async fn wait_deleted(t: &Target, deadline: tokio::time::Instant) -> Result<(), ActionError> {
    loop {
        if get(t).await?.is_none() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ActionError::Timeout(format!(
                "deletion of {}",
                t.describe()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `ApiResource` for Secrets (release storage).
pub fn secret_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Secret"), "secrets")
}
