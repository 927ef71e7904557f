//! ControllerRevisions: the pod-template history of StatefulSets and DaemonSets as kube's
//! controllers keep it. One revision per distinct template, named `<owner>-<hash>`, labelled with
//! the template's labels and `controller-revision-hash`, owned by the workload; numbered in the
//! order templates became current (a template that comes back, as after `kubectl rollout undo`,
//! is renumbered as the newest); `data` is the strategic merge patch that restores the template
//! (`{"spec": {"template": {…, "$patch": "replace"}}}`, what `rollout undo` sends back as is);
//! the oldest beyond `revisionHistoryLimit` (default 10) are deleted, never the current one.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::create_json;
use crate::engine::Ctx;

/// The workload whose template is recorded.
pub(crate) struct Owner<'a> {
    pub ns: &'a str,
    pub uid: &'a str,
    /// The controller ownerReference list (`owner_ref`).
    pub owner_ref: Value,
    /// The revision's name, `<owner>-<hash>`.
    pub name: &'a str,
    pub hash: &'a str,
    /// The pod template, as JSON.
    pub template: Value,
    pub limit: Option<i32>,
}

/// What each owner had recorded last, so a pass lists revisions only when its template changed.
#[derive(Default)]
pub(crate) struct History {
    recorded: HashMap<String, String>,
}

/// The revision's `data`: the template under `spec`, replacing the workload's whole template.
pub fn revision_data(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(m) = t.as_object_mut() {
        m.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

fn owned_by(r: &ControllerRevision, uid: &str) -> bool {
    r.owner_references().iter().any(|o| o.uid == uid)
}

/// The revisions to delete so that at most `limit` besides `current` remain: the oldest first.
pub fn to_trim(revisions: &[(String, i64)], current: &str, limit: usize) -> Vec<String> {
    let mut old: Vec<&(String, i64)> = revisions.iter().filter(|(n, _)| n != current).collect();
    old.sort_by_key(|(_, r)| *r);
    let extra = old.len().saturating_sub(limit);
    old.into_iter()
        .take(extra)
        .map(|(n, _)| n.clone())
        .collect()
}

impl History {
    /// Forgets owners that are gone.
    pub fn retain(&mut self, live: &HashSet<String>) {
        self.recorded.retain(|uid, _| live.contains(uid));
    }

    /// Makes `o`'s current template the newest revision (creating or renumbering it) and trims
    /// the history. Failures are retried on a later pass.
    pub async fn record(&mut self, ctx: &Ctx, o: Owner<'_>) {
        if self.recorded.get(o.uid).map(String::as_str) == Some(o.name) {
            return;
        }
        let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), o.ns);
        let Ok(list) = api.list(&ListParams::default()).await else {
            return;
        };
        let mine: Vec<(String, i64)> = list
            .items
            .iter()
            .filter(|r| owned_by(r, o.uid))
            .map(|r| (r.name_any(), r.revision))
            .collect();
        let newest = mine.iter().map(|(_, r)| *r).max().unwrap_or(0);
        let ok = match mine.iter().find(|(n, _)| n == o.name) {
            Some((_, r)) if *r < newest => {
                let patch = json!({"revision": newest + 1});
                api.patch(o.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .is_ok()
            }
            Some(_) => true,
            None => {
                let mut labels = o.template["metadata"]["labels"].clone();
                if !labels.is_object() {
                    labels = json!({});
                }
                labels["controller-revision-hash"] = json!(o.hash);
                let obj = json!({
                    "apiVersion": "apps/v1",
                    "kind": "ControllerRevision",
                    "metadata": {"name": o.name, "namespace": o.ns, "labels": labels, "ownerReferences": o.owner_ref},
                    "data": revision_data(&o.template),
                    "revision": newest + 1,
                });
                create_json(&api, obj).await.is_ok()
            }
        };
        if !ok {
            return;
        }
        let limit = usize::try_from(o.limit.unwrap_or(10).max(0)).unwrap_or(0);
        for name in to_trim(&mine, o.name, limit) {
            let _ = api.delete(&name, &DeleteParams::default()).await;
        }
        self.recorded.insert(o.uid.to_string(), o.name.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_replaces_the_whole_template() {
        let t = json!({"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}});
        assert_eq!(
            revision_data(&t),
            json!({"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}})
        );
    }

    #[test]
    fn trims_the_oldest_beyond_the_limit_but_never_the_current() {
        let revs: Vec<(String, i64)> = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
            .iter()
            .map(|(n, r)| (n.to_string(), *r))
            .collect();
        assert_eq!(to_trim(&revs, "d", 2), vec!["a".to_string()]);
        assert_eq!(
            to_trim(&revs, "a", 1),
            vec!["b".to_string(), "c".to_string()]
        );
        assert_eq!(to_trim(&revs, "d", 10), Vec::<String>::new());
        assert_eq!(to_trim(&revs, "d", 0).len(), 3);
    }
}
