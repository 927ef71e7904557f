//! Patch metadata: which lists merge and by which key, from the `patchStrategy` and
//! `patchMergeKey` struct tags of k8s.io/api v0.33 (and metav1.ObjectMeta).

/// Patch metadata of one field of a struct.
#[derive(Clone, Copy, Default)]
pub struct FieldPatchMeta<'a> {
    /// The `patchStrategy` tag: "", "merge", "replace", "retainKeys" or "merge,retainKeys".
    pub strategy: &'a str,
    /// The `patchMergeKey` tag, empty for lists of scalars and untagged fields.
    pub merge_key: &'a str,
    /// The schema of the field's value (or of its list elements), if known.
    pub schema: Option<&'a dyn PatchSchema>,
}

/// A struct type's patch metadata, as strategic merge patch looks it up field by field.
pub trait PatchSchema: Sync {
    /// The Go type name, used in kube's error messages.
    fn name(&self) -> &str;
    /// The metadata of field `key`; unknown fields have none (lists replace, maps merge).
    fn field(&self, key: &str) -> FieldPatchMeta<'_>;
}

/// A field of a [`StructSchema`]: JSON name, strategy, merge key, value type.
pub type SchemaField = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static StructSchema>,
);

/// A statically described struct type.
pub struct StructSchema {
    /// The Go type name.
    pub name: &'static str,
    /// The fields that carry patch tags or lead to types that do.
    pub fields: &'static [SchemaField],
}

impl PatchSchema for StructSchema {
    fn name(&self) -> &str {
        self.name
    }

    fn field(&self, key: &str) -> FieldPatchMeta<'_> {
        match self.fields.iter().find(|f| f.0 == key) {
            Some(&(_, strategy, merge_key, schema)) => FieldPatchMeta {
                strategy,
                merge_key,
                schema: schema.map(|s| s as &dyn PatchSchema),
            },
            None => FieldPatchMeta::default(),
        }
    }
}

const MERGE: &str = "merge";

static OBJECT_META: StructSchema = StructSchema {
    name: "ObjectMeta",
    fields: &[
        ("finalizers", MERGE, "", None),
        ("ownerReferences", MERGE, "uid", None),
    ],
};

static CONTAINER: StructSchema = StructSchema {
    name: "Container",
    fields: &[
        ("ports", MERGE, "containerPort", None),
        ("env", MERGE, "name", None),
        ("volumeMounts", MERGE, "mountPath", None),
        ("volumeDevices", MERGE, "devicePath", None),
    ],
};

static EPHEMERAL_CONTAINER: StructSchema = StructSchema {
    name: "EphemeralContainer",
    fields: CONTAINER.fields,
};

static VOLUME: StructSchema = StructSchema {
    name: "Volume",
    fields: &[],
};

static POD_SPEC: StructSchema = StructSchema {
    name: "PodSpec",
    fields: &[
        ("volumes", "merge,retainKeys", "name", Some(&VOLUME)),
        ("initContainers", MERGE, "name", Some(&CONTAINER)),
        ("containers", MERGE, "name", Some(&CONTAINER)),
        (
            "ephemeralContainers",
            MERGE,
            "name",
            Some(&EPHEMERAL_CONTAINER),
        ),
        ("imagePullSecrets", MERGE, "name", None),
        ("hostAliases", MERGE, "ip", None),
        ("topologySpreadConstraints", MERGE, "topologyKey", None),
        ("schedulingGates", MERGE, "name", None),
        ("resourceClaims", "merge,retainKeys", "name", None),
    ],
};

static POD_STATUS: StructSchema = StructSchema {
    name: "PodStatus",
    fields: &[
        ("conditions", MERGE, "type", None),
        ("hostIPs", MERGE, "ip", None),
        ("podIPs", MERGE, "ip", None),
        ("resourceClaimStatuses", "merge,retainKeys", "name", None),
    ],
};

static POD_TEMPLATE_SPEC: StructSchema = StructSchema {
    name: "PodTemplateSpec",
    fields: &[
        ("metadata", "", "", Some(&OBJECT_META)),
        ("spec", "", "", Some(&POD_SPEC)),
    ],
};

/// Status types whose only tagged field is `conditions` merged by `type`.
static CONDITIONS_STATUS: StructSchema = StructSchema {
    name: "Status",
    fields: &[("conditions", MERGE, "type", None)],
};

static WORKLOAD_SPEC: StructSchema = StructSchema {
    name: "WorkloadSpec",
    fields: &[("template", "", "", Some(&POD_TEMPLATE_SPEC))],
};

static DEPLOYMENT_SPEC: StructSchema = StructSchema {
    name: "DeploymentSpec",
    fields: &[
        ("template", "", "", Some(&POD_TEMPLATE_SPEC)),
        ("strategy", "retainKeys", "", None),
    ],
};

static JOB_TEMPLATE_SPEC: StructSchema = StructSchema {
    name: "JobTemplateSpec",
    fields: &[
        ("metadata", "", "", Some(&OBJECT_META)),
        ("spec", "", "", Some(&WORKLOAD_SPEC)),
    ],
};

static CRON_JOB_SPEC: StructSchema = StructSchema {
    name: "CronJobSpec",
    fields: &[("jobTemplate", "", "", Some(&JOB_TEMPLATE_SPEC))],
};

static SERVICE_SPEC: StructSchema = StructSchema {
    name: "ServiceSpec",
    fields: &[("ports", MERGE, "port", None)],
};

static NODE_SPEC: StructSchema = StructSchema {
    name: "NodeSpec",
    fields: &[("podCIDRs", MERGE, "", None)],
};

static NODE_STATUS: StructSchema = StructSchema {
    name: "NodeStatus",
    fields: &[
        ("conditions", MERGE, "type", None),
        ("addresses", MERGE, "type", None),
    ],
};

static PDB_SPEC: StructSchema = StructSchema {
    name: "PodDisruptionBudgetSpec",
    fields: &[("selector", "replace", "", None)],
};

static CSI_NODE_SPEC: StructSchema = StructSchema {
    name: "CSINodeSpec",
    fields: &[("drivers", MERGE, "name", None)],
};

macro_rules! kind {
    ($ident:ident, $name:literal, [$($field:expr),* $(,)?]) => {
        static $ident: StructSchema = StructSchema {
            name: $name,
            fields: &[("metadata", "", "", Some(&OBJECT_META)), $($field),*],
        };
    };
}

kind!(GENERIC, "Object", []);
kind!(
    POD,
    "Pod",
    [
        ("spec", "", "", Some(&POD_SPEC)),
        ("status", "", "", Some(&POD_STATUS)),
    ]
);
kind!(
    POD_TEMPLATE,
    "PodTemplate",
    [("template", "", "", Some(&POD_TEMPLATE_SPEC))]
);
kind!(
    WORKLOAD,
    "Workload",
    [
        ("spec", "", "", Some(&WORKLOAD_SPEC)),
        ("status", "", "", Some(&CONDITIONS_STATUS)),
    ]
);
kind!(
    DEPLOYMENT,
    "Deployment",
    [
        ("spec", "", "", Some(&DEPLOYMENT_SPEC)),
        ("status", "", "", Some(&CONDITIONS_STATUS)),
    ]
);
kind!(
    CRON_JOB,
    "CronJob",
    [("spec", "", "", Some(&CRON_JOB_SPEC))]
);
kind!(
    SERVICE,
    "Service",
    [
        ("spec", "", "", Some(&SERVICE_SPEC)),
        ("status", "", "", Some(&CONDITIONS_STATUS)),
    ]
);
kind!(
    SERVICE_ACCOUNT,
    "ServiceAccount",
    [("secrets", MERGE, "name", None)]
);
kind!(
    NODE,
    "Node",
    [
        ("spec", "", "", Some(&NODE_SPEC)),
        ("status", "", "", Some(&NODE_STATUS)),
    ]
);
kind!(
    WITH_CONDITIONS,
    "Object",
    [("status", "", "", Some(&CONDITIONS_STATUS))]
);
kind!(
    COMPONENT_STATUS,
    "ComponentStatus",
    [("conditions", MERGE, "type", None)]
);
kind!(
    PDB,
    "PodDisruptionBudget",
    [
        ("spec", "", "", Some(&PDB_SPEC)),
        ("status", "", "", Some(&CONDITIONS_STATUS)),
    ]
);
kind!(
    CSI_NODE,
    "CSINode",
    [("spec", "", "", Some(&CSI_NODE_SPEC))]
);

/// API groups whose kinds are compiled into kube-apiserver (and so accept strategic merge
/// patch); custom resources live elsewhere.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "coordination.k8s.io",
    "events.k8s.io",
    "discovery.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "admissionregistration.k8s.io",
    "scheduling.k8s.io",
    "certificates.k8s.io",
    "node.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "resource.k8s.io",
    "storagemigration.k8s.io",
    "internal.apiserver.k8s.io",
];

/// The strategic-merge schema of a built-in kind. `None` for custom resources: kube refuses
/// strategic merge patch on them with 415 UnsupportedMediaType, so the API server should too.
pub fn builtin_patch_schema(group: &str, kind: &str) -> Option<&'static dyn PatchSchema> {
    let schema: &'static StructSchema = match (group, kind) {
        ("", "Pod") => &POD,
        ("", "PodTemplate") => &POD_TEMPLATE,
        ("", "ReplicationController") => &WORKLOAD,
        ("apps", "StatefulSet" | "DaemonSet" | "ReplicaSet") => &WORKLOAD,
        ("apps", "Deployment") => &DEPLOYMENT,
        ("batch", "Job") => &WORKLOAD,
        ("batch", "CronJob") => &CRON_JOB,
        ("", "Service") => &SERVICE,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("", "Node") => &NODE,
        ("", "Namespace" | "PersistentVolumeClaim") => &WITH_CONDITIONS,
        ("", "ComponentStatus") => &COMPONENT_STATUS,
        ("networking.k8s.io", "ServiceCIDR") => &WITH_CONDITIONS,
        ("autoscaling", "HorizontalPodAutoscaler") => &WITH_CONDITIONS,
        ("policy", "PodDisruptionBudget") => &PDB,
        ("storage.k8s.io", "CSINode") => &CSI_NODE,
        (g, _) if BUILTIN_GROUPS.contains(&g) => &GENERIC,
        _ => return None,
    };
    Some(schema)
}
