//! The platform's OpenAPI documents: the host cluster's `/openapi/v2` and `/openapi/v3` served
//! through the platform, every native path kept, with the platform's own `/kapis` routes merged
//! in (kubectl reads them for validation, `explain` and apply).
//!
//! - `/openapi/v2`: the host's Swagger document plus a path for every route of [`ROUTES`] and
//!   for the dynamic API (`/kapis/{group}/{version}/…` of CRDs labelled
//!   `kubesphere.io/resource-served`, the same operations as under `/apis`); JSON, or gnostic
//!   protobuf when asked for as client-go does.
//! - `/openapi/v3`: the host's index plus one `kapis/{group}/{version}` document per group
//!   version the platform serves; other documents are the host's, relayed.
//!
//! Objects the routes answer with are referred to by the host's own definitions of their kinds
//! (found by `x-kubernetes-group-version-kind`, so it holds for any host cluster). Built
//! documents are kept for [`TTL`] and answered with an `ETag`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header;
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::{ApiError, ApiResult, AppState, Caller, Shared};
use crate::error::PlatformError;
use crate::kubeapi;

/// How long built documents are served before the host's are read again.
pub const TTL: Duration = Duration::from_secs(10);

/// A kind as (group, version, kind).
type Gvk = (&'static str, &'static str, &'static str);

const USER: Gvk = ("iam.kubesphere.io", "v1beta1", "User");
const GLOBAL_ROLE: Gvk = ("iam.kubesphere.io", "v1beta1", "GlobalRole");
const CLUSTER_ROLE: Gvk = ("iam.kubesphere.io", "v1beta1", "ClusterRole");
const WORKSPACE_ROLE: Gvk = ("iam.kubesphere.io", "v1beta1", "WorkspaceRole");
const ROLE: Gvk = ("iam.kubesphere.io", "v1beta1", "Role");
const ROLE_TEMPLATE: Gvk = ("iam.kubesphere.io", "v1beta1", "RoleTemplate");
const GROUP: Gvk = ("iam.kubesphere.io", "v1beta1", "Group");
const GROUP_BINDING: Gvk = ("iam.kubesphere.io", "v1beta1", "GroupBinding");
const WORKSPACE_ROLE_BINDING: Gvk = ("iam.kubesphere.io", "v1beta1", "WorkspaceRoleBinding");
const LOGIN_RECORD: Gvk = ("iam.kubesphere.io", "v1beta1", "LoginRecord");
const WORKSPACE_TEMPLATE: Gvk = ("tenant.kubesphere.io", "v1beta1", "WorkspaceTemplate");
const WORKSPACE: Gvk = ("tenant.kubesphere.io", "v1beta1", "Workspace");
const NAMESPACE: Gvk = ("", "v1", "Namespace");
const CLUSTER: Gvk = ("cluster.kubesphere.io", "v1alpha1", "Cluster");
const QUOTA: Gvk = ("quota.kubesphere.io", "v1alpha2", "ResourceQuota");
const SECRET: Gvk = ("", "v1", "Secret");
const APP: Gvk = ("application.kubesphere.io", "v2", "Application");
const APP_VERSION: Gvk = ("application.kubesphere.io", "v2", "ApplicationVersion");
const APP_RELEASE: Gvk = ("application.kubesphere.io", "v2", "ApplicationRelease");
const APP_CATEGORY: Gvk = ("application.kubesphere.io", "v2", "Category");
const APP_REPO: Gvk = ("application.kubesphere.io", "v2", "Repo");

/// One documented platform route.
pub struct Route {
    /// Path template (`{name}` for parameters).
    pub path: &'static str,
    /// HTTP methods, lower case.
    pub methods: &'static [&'static str],
    /// What it does.
    pub summary: &'static str,
    /// The kind it reads and writes, if any.
    pub kind: Option<Gvk>,
    /// Whether the path is a collection (GET lists, paged as KubeSphere pages).
    pub collection: bool,
}

const fn r(
    path: &'static str,
    methods: &'static [&'static str],
    summary: &'static str,
    kind: Option<Gvk>,
    collection: bool,
) -> Route {
    Route {
        path,
        methods,
        summary,
        kind,
        collection,
    }
}

const LIST_CREATE: &[&str] = &["get", "post"];
const CRUD: &[&str] = &["get", "put", "delete"];
const CRUD_PATCH: &[&str] = &["get", "put", "patch", "delete"];
const GET: &[&str] = &["get"];

/// The platform's own `/kapis` routes (`http::router`; a test checks each is routed).
pub const ROUTES: &[Route] = &[
    r(
        "/kapis/version",
        GET,
        "The platform's and the host cluster's versions",
        None,
        false,
    ),
    r(
        "/kapis/config.kubesphere.io/v1alpha2/configs/oauth",
        GET,
        "Identity providers offered at login",
        None,
        false,
    ),
    r(
        "/kapis/config.kubesphere.io/v1alpha2/configs/theme",
        GET,
        "The console theme",
        None,
        false,
    ),
    r(
        "/kapis/config.kubesphere.io/v1alpha2/configs/configz",
        GET,
        "The platform's configuration (components enabled)",
        None,
        false,
    ),
    r(
        "/kapis/config.kubesphere.io/v1alpha2/platformconfigs/theme",
        &["get", "put"],
        "Reads or sets the console theme",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users",
        LIST_CREATE,
        "Users (passwords never shown)",
        Some(USER),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users/{user}",
        CRUD_PATCH,
        "A user",
        Some(USER),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users/{user}/password",
        &["put"],
        "Changes a user's password",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users/{user}/loginrecords",
        GET,
        "A user's login records",
        Some(LOGIN_RECORD),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users/{user}/loginlocks",
        &["delete"],
        "Clears a user's login locks",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users/{user}/tokens",
        GET,
        "A user's token sessions",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users/{user}/tokens/{id}",
        &["delete"],
        "Revokes a token session",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/users/{user}/roletemplates",
        GET,
        "The role templates a user holds",
        Some(ROLE_TEMPLATE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/signingkey/rotate",
        &["post"],
        "Rotates the token signing key",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/identityproviders/test",
        &["post"],
        "Checks an identity provider's configuration against the provider (LDAP, OIDC, GitHub)",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/idtokenkey/rotate",
        &["post"],
        "Rotates the ID token signing key (the previous key stays published)",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/subjectaccessreviews",
        &["post"],
        "Whether a user may do something, at any level",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/roletemplates",
        GET,
        "Role templates",
        Some(ROLE_TEMPLATE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/roletemplates",
        GET,
        "The role templates a workspace's roles can aggregate",
        Some(ROLE_TEMPLATE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/namespaces/{namespace}/roletemplates",
        GET,
        "The role templates a project's roles can aggregate",
        Some(ROLE_TEMPLATE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/globalroles",
        LIST_CREATE,
        "Platform roles",
        Some(GLOBAL_ROLE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/globalroles/{role}",
        CRUD,
        "A platform role",
        Some(GLOBAL_ROLE),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/clusterroles",
        LIST_CREATE,
        "Cluster roles",
        Some(CLUSTER_ROLE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/clusterroles/{role}",
        CRUD,
        "A cluster role",
        Some(CLUSTER_ROLE),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspaceroles",
        LIST_CREATE,
        "A workspace's roles",
        Some(WORKSPACE_ROLE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspaceroles/{role}",
        CRUD,
        "A workspace role",
        Some(WORKSPACE_ROLE),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/namespaces/{namespace}/roles",
        LIST_CREATE,
        "A project's roles",
        Some(ROLE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/namespaces/{namespace}/roles/{role}",
        CRUD,
        "A project role",
        Some(ROLE),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/groups",
        LIST_CREATE,
        "A workspace's groups",
        Some(GROUP),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/groups/{group}",
        CRUD_PATCH,
        "A group",
        Some(GROUP),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/groupbindings",
        LIST_CREATE,
        "Users put into the workspace's groups",
        Some(GROUP_BINDING),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/groupbindings/{binding}",
        &["delete"],
        "Takes a user out of a group",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspacerolebindings",
        LIST_CREATE,
        "Workspace roles granted to groups",
        Some(WORKSPACE_ROLE_BINDING),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspacerolebindings/{binding}",
        &["delete"],
        "Revokes a group's workspace role",
        None,
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/clustermembers",
        LIST_CREATE,
        "The cluster's members",
        Some(USER),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/clustermembers/{member}",
        CRUD,
        "A cluster member and role",
        Some(USER),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspacemembers",
        LIST_CREATE,
        "A workspace's members",
        Some(USER),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspacemembers/{member}",
        CRUD,
        "A workspace member and role",
        Some(USER),
        false,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspacemembers/{member}/namespaces",
        GET,
        "The workspace's projects a member belongs to",
        Some(NAMESPACE),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/namespaces/{namespace}/namespacemembers",
        LIST_CREATE,
        "A project's members",
        Some(USER),
        true,
    ),
    r(
        "/kapis/iam.kubesphere.io/v1beta1/namespaces/{namespace}/namespacemembers/{member}",
        CRUD,
        "A project member and role",
        Some(USER),
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates",
        LIST_CREATE,
        "Workspace templates",
        Some(WORKSPACE_TEMPLATE),
        true,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates/{workspace}",
        CRUD_PATCH,
        "A workspace template",
        Some(WORKSPACE_TEMPLATE),
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces",
        GET,
        "The workspaces the caller belongs to",
        Some(WORKSPACE),
        true,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/{workspace}",
        GET,
        "A workspace",
        Some(WORKSPACE),
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/{workspace}/clusters",
        GET,
        "The clusters a workspace is placed on",
        Some(CLUSTER),
        true,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/{workspace}/namespaces",
        LIST_CREATE,
        "A workspace's projects",
        Some(NAMESPACE),
        true,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/{workspace}/namespaces/{namespace}",
        &["get", "delete"],
        "A project",
        Some(NAMESPACE),
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/{workspace}/resourcequotas",
        LIST_CREATE,
        "A workspace's quotas in the host cluster",
        Some(QUOTA),
        true,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/{workspace}/resourcequotas/{quota}",
        CRUD_PATCH,
        "A workspace quota",
        Some(QUOTA),
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1alpha2/workspaces/{workspace}/resourcequotas",
        LIST_CREATE,
        "A workspace's quotas in the host cluster (KubeSphere 3's path)",
        Some(QUOTA),
        true,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1alpha2/workspaces/{workspace}/resourcequotas/{quota}",
        CRUD_PATCH,
        "A workspace quota (KubeSphere 3's path)",
        Some(QUOTA),
        false,
    ),
    r(
        "/kapis/cluster.kubesphere.io/v1alpha1/clusters/validation",
        &["post"],
        "Checks a cluster could join",
        None,
        false,
    ),
    r(
        "/kapis/cluster.kubesphere.io/v1alpha1/clusters/{cluster}/kubeconfig",
        &["put"],
        "Replaces a member's kubeconfig",
        None,
        false,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha2/users/{user}/kubeconfig",
        GET,
        "A kubeconfig for the user, through the platform",
        None,
        false,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/{resources}",
        GET,
        "Any cluster-scoped resource, or any resource in every namespace, paged and sorted",
        None,
        true,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/{resources}/{name}",
        GET,
        "One object of a cluster-scoped resource",
        None,
        false,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{namespace}",
        GET,
        "A namespace",
        Some(NAMESPACE),
        false,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{namespace}/{resources}",
        GET,
        "Any namespaced resource in a namespace, paged and sorted",
        None,
        true,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{namespace}/{resources}/{name}",
        GET,
        "One object in a namespace",
        None,
        false,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{namespace}/secrets",
        GET,
        "A namespace's Secrets: names, types and keys only",
        Some(SECRET),
        true,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/secrets",
        GET,
        "Every namespace's Secrets: names, types and keys only",
        Some(SECRET),
        true,
    ),
    r(
        "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{namespace}/secrets/{name}",
        GET,
        "A Secret's name, type and keys",
        Some(SECRET),
        false,
    ),
    r(
        "/kapis/search.orrery.io/v1alpha1/resources",
        GET,
        "Searches every cluster's objects the caller may see",
        None,
        true,
    ),
    r(
        "/kapis/alerting.kubesphere.io/v2beta1/alerts",
        GET,
        "The cluster's alerts (of its ClusterRuleGroups); state=, label_filters=",
        None,
        true,
    ),
    r(
        "/kapis/alerting.kubesphere.io/v2beta1/namespaces/{namespace}/alerts",
        GET,
        "A project's alerts (of its RuleGroups); state=, label_filters=",
        None,
        true,
    ),
    r(
        "/kapis/alerting.kubesphere.io/v2beta1/globalalerts",
        GET,
        "The platform's alerts (of GlobalRuleGroups, from every cluster)",
        None,
        true,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1alpha2/auditing/events",
        GET,
        "Audit events (audit.k8s.io/v1) of the workspaces the caller may audit, filtered and paged",
        None,
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1alpha2/workspaces/{workspace}/auditing/events",
        GET,
        "One workspace's audit events (audit.k8s.io/v1), filtered and paged",
        None,
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1alpha2/events",
        GET,
        "Events of every cluster the caller may see, filtered (cluster=, workspace_filter=, namespace_filter=, involved_object_kind_filter=, involved_object_name_filter=, reason_filter=, type_filter=, start_time=, end_time=), newest first, paged (from=, size=)",
        None,
        false,
    ),
    r(
        "/kapis/tenant.kubesphere.io/v1alpha2/namespaces/{namespace}/workloads/{kind}/{name}/logs",
        GET,
        "The logs of a workload's pods merged in time order, lines prefixed pod/container (container=, previous=, tailLines=, sinceSeconds=, timestamps=, follow=)",
        None,
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps",
        LIST_CREATE,
        "Apps (the store's published ones for everyone); uploads a chart package",
        Some(APP),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps/{app}",
        &["get", "patch", "delete"],
        "An app",
        Some(APP),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps/{app}/action",
        &["post"],
        "Suspends or restores a whole app",
        Some(APP),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps/{app}/versions",
        LIST_CREATE,
        "An app's versions; uploads a new one",
        Some(APP_VERSION),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps/{app}/versions/{version}",
        &["get", "delete"],
        "An app version",
        Some(APP_VERSION),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps/{app}/versions/{version}/files",
        GET,
        "A version's README, values, schema and Chart.yaml (base64)",
        None,
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps/{app}/versions/{version}/package",
        GET,
        "A version's chart package (base64)",
        None,
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/apps/{app}/versions/{version}/action",
        &["post"],
        "Moves a version along the review lifecycle",
        Some(APP_VERSION),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/apps",
        LIST_CREATE,
        "A workspace's app templates; uploads a chart package",
        Some(APP),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/apps/{app}",
        &["get", "patch", "delete"],
        "A workspace's app template",
        Some(APP),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/apps/{app}/versions",
        LIST_CREATE,
        "An app template's versions",
        Some(APP_VERSION),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/apps/{app}/versions/{version}",
        &["get", "delete"],
        "An app template's version",
        Some(APP_VERSION),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/apps/{app}/versions/{version}/action",
        &["post"],
        "Submits or withdraws a version",
        Some(APP_VERSION),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/reviews",
        GET,
        "Versions waiting for review (status=… for others)",
        Some(APP_VERSION),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/categories",
        LIST_CREATE,
        "App categories",
        Some(APP_CATEGORY),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/categories/{category}",
        CRUD,
        "An app category",
        Some(APP_CATEGORY),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/applications",
        GET,
        "Every release of every cluster",
        Some(APP_RELEASE),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/namespaces/{namespace}/applications",
        LIST_CREATE,
        "A project's releases; deploys an app version",
        Some(APP_RELEASE),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/namespaces/{namespace}/applications/{application}",
        CRUD_PATCH,
        "A release (changing its version or values upgrades it)",
        Some(APP_RELEASE),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/namespaces/{namespace}/applications/{application}/action",
        &["post"],
        "Rolls a release back to a revision",
        Some(APP_RELEASE),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/namespaces/{namespace}/applications/{application}/history",
        GET,
        "A release's Helm revisions",
        None,
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/namespaces/{namespace}/applications/{application}/resources",
        GET,
        "The objects of a release's latest revision in its cluster (kind, name, exists, ready)",
        None,
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/repos",
        LIST_CREATE,
        "Helm repositories of the platform (credentials never shown)",
        Some(APP_REPO),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/repos/{repo}",
        &["get", "patch", "delete"],
        "A Helm repository (deleting it takes its apps)",
        Some(APP_REPO),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/repos/{repo}/action",
        &["post"],
        "Syncs a repository now",
        Some(APP_REPO),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/repos",
        LIST_CREATE,
        "A workspace's Helm repositories",
        Some(APP_REPO),
        true,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/repos/{repo}",
        &["get", "patch", "delete"],
        "A workspace's Helm repository",
        Some(APP_REPO),
        false,
    ),
    r(
        "/kapis/application.kubesphere.io/v2/workspaces/{workspace}/repos/{repo}/action",
        &["post"],
        "Syncs a workspace's repository now",
        Some(APP_REPO),
        false,
    ),
];

/// Documents built from the host's, kept for [`TTL`].
#[derive(Default)]
pub struct Docs {
    v2: Mutex<Option<(Instant, Arc<Built>)>>,
    v3: Mutex<Option<(Instant, Arc<V3>)>>,
}

struct Built {
    json: Bytes,
    protobuf: Bytes,
    etag: String,
}

struct V3 {
    /// The index (`/openapi/v3`).
    index: Bytes,
    /// `kapis/{group}/{version}` → document.
    docs: HashMap<String, (Bytes, String)>,
}

fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:X}\"", sha2::Sha256::digest(bytes))
}

fn fresh<T>(slot: &Mutex<Option<(Instant, Arc<T>)>>) -> Option<Arc<T>> {
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .filter(|(at, _)| at.elapsed() < TTL)
        .map(|(_, v)| v.clone())
}

fn keep<T>(slot: &Mutex<Option<(Instant, Arc<T>)>>, v: Arc<T>) {
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), v));
}

async fn host_json(state: &AppState, path: &str) -> Result<Option<Value>, PlatformError> {
    let req = http::Request::get(path)
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
    match kubeapi::timed("openapi", state.client.request::<Value>(req)).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if kubeapi::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Definition names by the kind they describe (`x-kubernetes-group-version-kind`).
fn by_gvk(definitions: &Map<String, Value>) -> HashMap<(String, String, String), String> {
    let mut out = HashMap::new();
    for (name, def) in definitions {
        for g in def["x-kubernetes-group-version-kind"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let key = (
                g["group"].as_str().unwrap_or_default().to_string(),
                g["version"].as_str().unwrap_or_default().to_string(),
                g["kind"].as_str().unwrap_or_default().to_string(),
            );
            out.entry(key).or_insert_with(|| name.clone());
        }
    }
    out
}

/// The path's parameters (`{name}` segments).
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// `getKapisIamKubesphereIoV1beta1UsersUser`: unique per method and path.
fn operation_id(method: &str, path: &str) -> String {
    let mut out = method.to_string();
    let mut upper = true;
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

/// The API group a `/kapis/{group}/…` path belongs to (`kapis` for `/kapis/version`).
fn tag_of(path: &str) -> &str {
    let mut segs = path.trim_start_matches('/').split('/');
    segs.next();
    match segs.next() {
        Some(g) if g.contains('.') => g,
        _ => "kapis",
    }
}

/// The schema a route reads or writes, in the dialect's `$ref` form (`None`: any object).
type RefOf<'a> = dyn Fn(Gvk) -> Option<String> + 'a;

fn object_schema(kind: Option<Gvk>, ref_of: &RefOf<'_>) -> Value {
    match kind.and_then(ref_of) {
        Some(r) => json!({"$ref": r}),
        None => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    }
}

fn paged(items: Value) -> Value {
    json!({"type": "object", "description": "A page of objects, as KubeSphere pages lists.",
        "properties": {"items": {"type": "array", "items": items},
            "totalItems": {"type": "integer", "description": "How many objects match, on every page."}},
        "required": ["items", "totalItems"]})
}

/// KubeSphere's list parameters.
const LIST_PARAMS: [(&str, &str, &str); 6] = [
    ("page", "integer", "1-based page number"),
    ("limit", "integer", "Objects per page (all when unset)"),
    ("sortBy", "string", "name, createTime or a field path"),
    (
        "ascending",
        "boolean",
        "Sort ascending (newest first by default)",
    ),
    ("name", "string", "Only objects whose name contains this"),
    ("labelSelector", "string", "A label selector"),
];

/// What a route answers `method` with, and the body it takes.
fn shapes(route: &Route, method: &str, ref_of: &RefOf<'_>) -> (Value, Option<Value>) {
    let object = object_schema(route.kind, ref_of);
    match method {
        "get" if route.collection => (paged(object), None),
        "get" => (object, None),
        "post" | "put" | "patch" if route.kind.is_some() => (object.clone(), Some(object)),
        "post" | "put" | "patch" => (object.clone(), Some(object)),
        _ => (object_schema(None, ref_of), None),
    }
}

fn v2_operation(route: &Route, method: &str, ref_of: &RefOf<'_>) -> Value {
    let (answer, body) = shapes(route, method, ref_of);
    let mut params: Vec<Value> = path_params(route.path)
        .into_iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "type": "string", "uniqueItems": true}))
        .collect();
    if route.collection && method == "get" {
        params.extend(LIST_PARAMS.iter().map(|(n, t, d)| {
            json!({"name": n, "in": "query", "type": t, "description": d, "uniqueItems": true})
        }));
    }
    if let Some(schema) = body {
        params.push(json!({"name": "body", "in": "body", "required": true, "schema": schema}));
    }
    let consumes = if method == "patch" {
        json!(["application/merge-patch+json", "application/json"])
    } else {
        json!(["application/json"])
    };
    json!({
        "tags": [tag_of(route.path)],
        "operationId": operation_id(method, route.path),
        "summary": route.summary,
        "consumes": consumes,
        "produces": ["application/json"],
        "schemes": ["https"],
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "schema": answer},
            "401": {"description": "Unauthorized"},
            "403": {"description": "Forbidden"},
        },
    })
}

fn v3_operation(route: &Route, method: &str, ref_of: &RefOf<'_>) -> Value {
    let (answer, body) = shapes(route, method, ref_of);
    let mut params: Vec<Value> = path_params(route.path)
        .into_iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}))
        .collect();
    if route.collection && method == "get" {
        params.extend(LIST_PARAMS.iter().map(|(n, t, d)| {
            json!({"name": n, "in": "query", "description": d, "schema": {"type": t, "uniqueItems": true}})
        }));
    }
    let mut op = json!({
        "tags": [tag_of(route.path)],
        "operationId": operation_id(method, route.path),
        "summary": route.summary,
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
            "401": {"description": "Unauthorized"},
            "403": {"description": "Forbidden"},
        },
    });
    if let Some(schema) = body {
        let kinds = if method == "patch" {
            vec!["application/merge-patch+json", "application/json"]
        } else {
            vec!["application/json"]
        };
        let content: Map<String, Value> = kinds
            .into_iter()
            .map(|k| (k.to_string(), json!({"schema": schema})))
            .collect();
        op["requestBody"] = json!({"required": true, "content": content});
    }
    op
}

/// The `/kapis/{group}/{version}` a path belongs to (`kapis/version` for `/kapis/version`).
fn v3_key(path: &str) -> String {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["kapis", g, v, ..] if g.contains('.') => format!("kapis/{g}/{v}"),
        _ => "kapis/version".to_string(),
    }
}

/// Group-versions of the dynamic API (CRDs labelled `kubesphere.io/resource-served`).
async fn dynamic_gvs(state: &AppState) -> Vec<(String, String)> {
    match state.discovery.index().await {
        Ok(index) => {
            let mut v: Vec<(String, String)> = index.kapis_served().cloned().collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

/// Copies the host's `/apis/{g}/{v}/…` operations to `/kapis/{g}/{v}/…`.
fn dynamic_paths(host_paths: &Map<String, Value>, g: &str, v: &str) -> Map<String, Value> {
    let prefix = format!("/apis/{g}/{v}/");
    let mut out = Map::new();
    for (path, item) in host_paths {
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let mut item = item.clone();
        if let Some(ops) = item.as_object_mut() {
            for op in ops.values_mut() {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    op["operationId"] = format!("{id}KubeSphere").into();
                }
            }
        }
        out.insert(format!("/kapis/{g}/{v}/{rest}"), item);
    }
    out
}

async fn build_v2(state: &AppState) -> Result<Built, PlatformError> {
    let mut doc = host_json(state, "/openapi/v2")
        .await?
        .ok_or_else(|| PlatformError::Invalid("the host cluster serves no /openapi/v2".into()))?;
    let definitions = doc["definitions"].as_object().cloned().unwrap_or_default();
    let names = by_gvk(&definitions);
    let ref_of = |(g, v, k): Gvk| {
        names
            .get(&(g.to_string(), v.to_string(), k.to_string()))
            .map(|n| format!("#/definitions/{n}"))
    };
    let mut added = Map::new();
    for route in ROUTES {
        let mut item = Map::new();
        for m in route.methods {
            item.insert((*m).to_string(), v2_operation(route, m, &ref_of));
        }
        added.insert(route.path.to_string(), Value::Object(item));
    }
    let host_paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (g, v) in dynamic_gvs(state).await {
        added.extend(dynamic_paths(&host_paths, &g, &v));
    }
    if let Some(paths) = doc["paths"].as_object_mut() {
        paths.extend(added);
    }
    let json = serde_json::to_vec(&doc).map_err(|e| PlatformError::Invalid(e.to_string()))?;
    let protobuf = tokio::task::spawn_blocking(move || kubeproto::encode_openapi_v2(&doc))
        .await
        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
    Ok(Built {
        etag: etag_of(&json),
        json: json.into(),
        protobuf: protobuf.into(),
    })
}

async fn build_v3(state: &AppState) -> Result<V3, PlatformError> {
    let mut index = host_json(state, "/openapi/v3")
        .await?
        .ok_or_else(|| PlatformError::Invalid("the host cluster serves no /openapi/v3".into()))?;
    let mut by_key: BTreeMap<String, Vec<&Route>> = BTreeMap::new();
    for route in ROUTES {
        by_key.entry(v3_key(route.path)).or_default().push(route);
    }
    let mut docs = HashMap::new();
    for (key, routes) in by_key {
        // The kinds' schemas come from the host's document of the same group-version.
        let host_doc = match key.strip_prefix("kapis/") {
            Some(gv) if gv.contains('/') => {
                host_json(state, &format!("/openapi/v3/apis/{gv}")).await?
            }
            _ => None,
        };
        let schemas = host_doc
            .as_ref()
            .and_then(|d| d["components"]["schemas"].as_object().cloned())
            .unwrap_or_default();
        let names = by_gvk(&schemas);
        let ref_of = |(g, v, k): Gvk| {
            names
                .get(&(g.to_string(), v.to_string(), k.to_string()))
                .map(|n| format!("#/components/schemas/{n}"))
        };
        let mut paths = Map::new();
        for route in routes {
            let mut item = Map::new();
            for m in route.methods {
                item.insert((*m).to_string(), v3_operation(route, m, &ref_of));
            }
            paths.insert(route.path.to_string(), Value::Object(item));
        }
        let doc = json!({
            "openapi": "3.0.0",
            "info": {"title": "Orrery platform API", "version": env!("CARGO_PKG_VERSION")},
            "paths": paths,
            "components": {"schemas": schemas},
        });
        docs.insert(key, doc);
    }
    for (g, v) in dynamic_gvs(state).await {
        let Some(mut doc) = host_json(state, &format!("/openapi/v3/apis/{g}/{v}")).await? else {
            continue;
        };
        let host_paths = doc["paths"].as_object().cloned().unwrap_or_default();
        doc["paths"] = Value::Object(dynamic_paths(&host_paths, &g, &v));
        docs.insert(format!("kapis/{g}/{v}"), doc);
    }
    let mut out = HashMap::new();
    for (key, doc) in docs {
        let bytes = serde_json::to_vec(&doc).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let hash = format!("{:X}", sha2::Sha512::digest(&bytes));
        index["paths"][&key] =
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")});
        out.insert(key, (Bytes::from(bytes), hash));
    }
    let index = serde_json::to_vec(&index).map_err(|e| PlatformError::Invalid(e.to_string()))?;
    Ok(V3 {
        index: index.into(),
        docs: out,
    })
}

fn answer(req_headers: &http::HeaderMap, bytes: Bytes, etag: &str, content_type: &str) -> Response {
    let matches = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::VARY, "Accept");
    let built = if matches {
        builder
            .status(http::StatusCode::NOT_MODIFIED)
            .body(Body::empty())
    } else {
        builder
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
    };
    built.unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response())
}

/// `GET /openapi/v2`.
pub async fn v2(State(state): State<Shared>, req: Request) -> ApiResult<Response> {
    let built = match fresh(&state.openapi.v2) {
        Some(b) => b,
        None => {
            let b = Arc::new(build_v2(&state).await?);
            keep(&state.openapi.v2, b.clone());
            b
        }
    };
    let protobuf = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("com.github.proto-openapi.spec.v2"));
    Ok(if protobuf {
        let etag = etag_of(&built.protobuf);
        answer(
            req.headers(),
            built.protobuf.clone(),
            &etag,
            kubeproto::OPENAPI_V2_CONTENT_TYPE,
        )
    } else {
        answer(
            req.headers(),
            built.json.clone(),
            &built.etag,
            "application/json",
        )
    })
}

async fn v3_docs(state: &AppState) -> ApiResult<Arc<V3>> {
    if let Some(v) = fresh(&state.openapi.v3) {
        return Ok(v);
    }
    let v = Arc::new(build_v3(state).await?);
    keep(&state.openapi.v3, v.clone());
    Ok(v)
}

/// `GET /openapi/v3`.
pub async fn v3_index(State(state): State<Shared>, req: Request) -> ApiResult<Response> {
    let docs = v3_docs(&state).await?;
    let etag = etag_of(&docs.index);
    Ok(answer(
        req.headers(),
        docs.index.clone(),
        &etag,
        "application/json",
    ))
}

/// `GET /openapi/v3/{path}`: the platform's `kapis/…` documents, the host's others.
pub async fn v3_document(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    req: Request,
) -> ApiResult<Response> {
    let path = caller.info.path.clone();
    let key = path.trim_start_matches("/openapi/v3/");
    if key.starts_with("kapis/") {
        let docs = v3_docs(&state).await?;
        let Some((bytes, hash)) = docs.docs.get(key) else {
            return Err(super::error::no_route());
        };
        let etag = format!("\"{hash}\"");
        return Ok(answer(
            req.headers(),
            bytes.clone(),
            &etag,
            "application/json",
        ));
    }
    let uri = super::proxy::with_query(&path, req.uri().query());
    let (parts, _) = req.into_parts();
    Ok(super::proxy::relay(
        &state.client,
        &parts,
        &uri,
        Bytes::new(),
        Duration::from_secs(30),
        "host cluster",
        None,
    )
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique() {
        let mut ids: Vec<String> = ROUTES
            .iter()
            .flat_map(|r| r.methods.iter().map(|m| operation_id(m, r.path)))
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(
            operation_id("get", "/kapis/iam.kubesphere.io/v1beta1/users/{user}"),
            "getKapisIamKubesphereIoV1beta1UsersUser"
        );
    }

    #[test]
    fn every_route_is_a_kapis_path_once() {
        let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
        assert!(paths.iter().all(|p| p.starts_with("/kapis/")));
        let n = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), n);
    }

    #[test]
    fn kinds_are_referred_to_by_the_definitions_that_declare_them() {
        let defs = json!({"io.kubesphere.iam.v1beta1.User": {"type": "object",
            "x-kubernetes-group-version-kind": [{"group": "iam.kubesphere.io", "version": "v1beta1", "kind": "User"}]}});
        let names = by_gvk(defs.as_object().expect("object"));
        let ref_of = |(g, v, k): Gvk| {
            names
                .get(&(g.to_string(), v.to_string(), k.to_string()))
                .map(|n| format!("#/definitions/{n}"))
        };
        let users = ROUTES
            .iter()
            .find(|r| r.path.ends_with("/users"))
            .expect("users");
        let op = v2_operation(users, "get", &ref_of);
        assert_eq!(
            op["responses"]["200"]["schema"]["properties"]["items"]["items"]["$ref"],
            "#/definitions/io.kubesphere.iam.v1beta1.User"
        );
        assert!(
            op["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "limit")
        );
        let post = v2_operation(users, "post", &ref_of);
        assert_eq!(post["parameters"][0]["in"], "body");
        let groups = ROUTES
            .iter()
            .find(|r| r.path.ends_with("/groups"))
            .expect("groups");
        assert_eq!(
            v2_operation(groups, "get", &ref_of)["responses"]["200"]["schema"]["properties"]["items"]
                ["items"]["type"],
            "object",
            "a kind the host does not describe is any object"
        );
        assert_eq!(
            v3_key("/kapis/iam.kubesphere.io/v1beta1/users"),
            "kapis/iam.kubesphere.io/v1beta1"
        );
        assert_eq!(v3_key("/kapis/version"), "kapis/version");
    }

    #[test]
    fn dynamic_paths_mirror_the_apis_ones() {
        let host = json!({
            "/apis/demo.example.com/v1/widgets": {"get": {"operationId": "listDemoExampleComV1Widget"}},
            "/apis/demo.example.com/v1beta1/widgets": {"get": {"operationId": "x"}},
            "/apis/apps/v1/deployments": {"get": {"operationId": "y"}}
        });
        let out = dynamic_paths(host.as_object().expect("object"), "demo.example.com", "v1");
        assert_eq!(out.len(), 1);
        assert_eq!(
            out["/kapis/demo.example.com/v1/widgets"]["get"]["operationId"],
            "listDemoExampleComV1WidgetKubeSphere"
        );
    }
}
