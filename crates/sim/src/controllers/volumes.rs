//! Volumes: the default StorageClass `standard`, and dynamic provisioning: every pending
//! PersistentVolumeClaim of a class with provisioner `orrery.io/sim` gets a new Bound
//! PersistentVolume `pvc-<claim uid>`; released volumes are deleted (reclaim policy Delete).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::SimError;
use crate::engine::{Ctx, Reconcile};
use crate::events::Involved;

/// The simulated provisioner.
pub const PROVISIONER: &str = "orrery.io/sim";
/// The default StorageClass's name.
pub const DEFAULT_CLASS: &str = "standard";

/// Creates the default StorageClass unless it exists.
pub(crate) async fn ensure_default_storage_class(client: &Client) -> Result<(), SimError> {
    let api: Api<StorageClass> = Api::all(client.clone());
    let sc: StorageClass = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": true,
    }))
    .map_err(|e| SimError::Config(e.to_string()))?;
    match api.create(&PostParams::default(), &sc).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Volume controller state.
#[derive(Default)]
pub(crate) struct Volumes {
    provisioned: HashSet<String>,
}

impl Reconcile for Volumes {
    const NAME: &'static str = "volumes";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let mut claims = ctx.pvcs.state();
        claims.sort_by_key(|c| (c.namespace(), c.name_any()));
        let live_claims: HashSet<String> = claims.iter().filter_map(|c| c.uid()).collect();
        for pvc in &claims {
            let uid = pvc.uid().unwrap_or_default();
            let phase = pvc
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Pending");
            if phase == "Bound"
                || pvc.metadata.deletion_timestamp.is_some()
                || self.provisioned.contains(&uid)
            {
                continue;
            }
            if provision(ctx, pvc).await {
                self.provisioned.insert(uid);
            }
        }
        self.provisioned.retain(|u| live_claims.contains(u));
        reclaim(ctx, &live_claims).await;
        None
    }
}

/// Provisions a volume of the default class for a pending claim and binds the two, as the
/// external provisioner and kube's PV controller do together; true once bound.
async fn provision(ctx: &Ctx, pvc: &PersistentVolumeClaim) -> bool {
    let spec = pvc.spec.clone().unwrap_or_default();
    let class = spec
        .storage_class_name
        .clone()
        .unwrap_or_else(|| DEFAULT_CLASS.to_string());
    if class != DEFAULT_CLASS {
        return false;
    }
    let uid = pvc.uid().unwrap_or_default();
    let ns = pvc.namespace().unwrap_or_default();
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone())
        .unwrap_or("1Gi".into());
    let modes = spec
        .access_modes
        .clone()
        .unwrap_or_else(|| vec!["ReadWriteOnce".into()]);
    let pv_name = format!("pvc-{uid}");
    let pv: Result<PersistentVolume, _> = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": size}, "accessModes": modes,
            "persistentVolumeReclaimPolicy": "Delete", "storageClassName": class,
            "volumeMode": spec.volume_mode.clone().unwrap_or("Filesystem".into()),
            "hostPath": {"path": format!("/var/lib/orrery/sim/volumes/{pv_name}"), "type": ""},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": pvc.name_any(), "uid": uid},
        },
    }));
    let Ok(pv) = pv else { return false };
    let pv_api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match pv_api.create(&PostParams::default(), &pv).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => {
            tracing::debug!(error = %e, "volume not provisioned");
            return false;
        }
    }
    let _ = pv_api
        .patch_status(
            &pv_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"phase": "Bound"}})),
        )
        .await;
    let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = json!({
        "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.beta.kubernetes.io/storage-provisioner": PROVISIONER, "volume.kubernetes.io/storage-provisioner": PROVISIONER}},
        "spec": {"volumeName": pv_name, "storageClassName": class},
    });
    if let Err(e) = claims_api
        .patch(
            &pvc.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::debug!(error = %e, "claim not bound");
        return false;
    }
    let status =
        json!({"status": {"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}}});
    let _ = claims_api
        .patch_status(
            &pvc.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await;
    let msg = format!("Successfully provisioned volume {pv_name} using {PROVISIONER}");
    ctx.events.normal(
        "persistentvolume-controller",
        Involved::of(pvc),
        "ProvisioningSucceeded",
        msg,
    );
    true
}

/// Deletes the volumes this provisioner made whose claim is gone (reclaim policy Delete).
async fn reclaim(ctx: &Ctx, live_claims: &HashSet<String>) {
    let pv_api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    for pv in ctx.pvs.state() {
        let spec = pv.spec.as_ref();
        let claim_uid = spec
            .and_then(|s| s.claim_ref.as_ref())
            .and_then(|c| c.uid.clone());
        let ours = pv
            .annotations()
            .get("pv.kubernetes.io/provisioned-by")
            .is_some_and(|p| p == PROVISIONER);
        let delete =
            spec.and_then(|s| s.persistent_volume_reclaim_policy.as_deref()) == Some("Delete");
        if ours
            && delete
            && claim_uid.is_some_and(|u| !live_claims.contains(&u))
            && pv.metadata.deletion_timestamp.is_none()
        {
            let _ = pv_api
                .delete(&pv.name_any(), &DeleteParams::default())
                .await;
        }
    }
}
