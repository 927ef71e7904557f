//! The API resources the platform reads and writes, as kube-rs dynamic `ApiResource`s.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};

use crate::crds::{APPLICATION, CLUSTER, IAM, QUOTA, TENANT};
use crate::extensions::crds::{CORE as MARKET, ROUTING as EXT, VERSION as EXT_V};

/// One kind the platform uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// iam User.
    User,
    /// iam GlobalRole.
    GlobalRole,
    /// iam GlobalRoleBinding.
    GlobalRoleBinding,
    /// iam WorkspaceRole.
    WorkspaceRole,
    /// iam WorkspaceRoleBinding.
    WorkspaceRoleBinding,
    /// iam ClusterRole.
    ClusterRole,
    /// iam ClusterRoleBinding.
    ClusterRoleBinding,
    /// iam Role (namespaced).
    Role,
    /// iam RoleBinding (namespaced).
    RoleBinding,
    /// iam RoleTemplate.
    RoleTemplate,
    /// iam LoginRecord.
    LoginRecord,
    /// iam Group (label `kubesphere.io/workspace`).
    Group,
    /// iam GroupBinding (`groupRef`, `users[]`).
    GroupBinding,
    /// tenant Workspace.
    Workspace,
    /// tenant WorkspaceTemplate.
    WorkspaceTemplate,
    /// cluster Cluster.
    Cluster,
    /// cluster Label.
    Label,
    /// core Namespace.
    Namespace,
    /// core Secret.
    Secret,
    /// core ConfigMap.
    ConfigMap,
    /// apiextensions CustomResourceDefinition.
    Crd,
    /// quota ResourceQuota: a workspace's quota in one cluster (cluster-scoped).
    WorkspaceQuota,
    /// admissionregistration ValidatingWebhookConfiguration.
    ValidatingWebhook,
    /// application Repo.
    AppRepo,
    /// application Category.
    AppCategory,
    /// application Application (an app of the store, or a workspace's app template).
    App,
    /// application ApplicationVersion.
    AppVersion,
    /// application ApplicationRelease (an app deployed into a cluster's project).
    AppRelease,
    /// extensions APIService (an extension's `/kapis/{group}/{version}` backend).
    ApiService,
    /// extensions ReverseProxy (an extension's `/proxy/…` route).
    ReverseProxy,
    /// extensions JSBundle (an extension's UI bundle).
    JsBundle,
    /// kubesphere.io Repository (a Helm repository of extension charts).
    ExtRepository,
    /// kubesphere.io Extension (an extension of the marketplace).
    Extension,
    /// kubesphere.io ExtensionVersion (`<extension>-<version>`).
    ExtensionVersion,
    /// kubesphere.io Category (a marketplace category).
    ExtCategory,
    /// kubesphere.io InstallPlan (an extension's installation).
    InstallPlan,
}

impl Kind {
    /// (group, version, kind, plural, namespaced).
    pub fn parts(self) -> (&'static str, &'static str, &'static str, &'static str, bool) {
        match self {
            Kind::User => (IAM, "v1beta1", "User", "users", false),
            Kind::GlobalRole => (IAM, "v1beta1", "GlobalRole", "globalroles", false),
            Kind::GlobalRoleBinding => (
                IAM,
                "v1beta1",
                "GlobalRoleBinding",
                "globalrolebindings",
                false,
            ),
            Kind::WorkspaceRole => (IAM, "v1beta1", "WorkspaceRole", "workspaceroles", false),
            Kind::WorkspaceRoleBinding => (
                IAM,
                "v1beta1",
                "WorkspaceRoleBinding",
                "workspacerolebindings",
                false,
            ),
            Kind::ClusterRole => (IAM, "v1beta1", "ClusterRole", "clusterroles", false),
            Kind::ClusterRoleBinding => (
                IAM,
                "v1beta1",
                "ClusterRoleBinding",
                "clusterrolebindings",
                false,
            ),
            Kind::Role => (IAM, "v1beta1", "Role", "roles", true),
            Kind::RoleBinding => (IAM, "v1beta1", "RoleBinding", "rolebindings", true),
            Kind::RoleTemplate => (IAM, "v1beta1", "RoleTemplate", "roletemplates", false),
            Kind::LoginRecord => (IAM, "v1beta1", "LoginRecord", "loginrecords", false),
            Kind::Group => (IAM, "v1beta1", "Group", "groups", false),
            Kind::GroupBinding => (IAM, "v1beta1", "GroupBinding", "groupbindings", false),
            Kind::Workspace => (TENANT, "v1beta1", "Workspace", "workspaces", false),
            Kind::WorkspaceTemplate => (
                TENANT,
                "v1beta1",
                "WorkspaceTemplate",
                "workspacetemplates",
                false,
            ),
            Kind::Cluster => (CLUSTER, "v1alpha1", "Cluster", "clusters", false),
            Kind::Label => (CLUSTER, "v1alpha1", "Label", "labels", false),
            Kind::Namespace => ("", "v1", "Namespace", "namespaces", false),
            Kind::Secret => ("", "v1", "Secret", "secrets", true),
            Kind::ConfigMap => ("", "v1", "ConfigMap", "configmaps", true),
            Kind::Crd => (
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            ),
            Kind::WorkspaceQuota => (QUOTA, "v1alpha2", "ResourceQuota", "resourcequotas", false),
            Kind::AppRepo => (APPLICATION, "v2", "Repo", "repos", false),
            Kind::AppCategory => (APPLICATION, "v2", "Category", "categories", false),
            Kind::App => (APPLICATION, "v2", "Application", "applications", false),
            Kind::AppVersion => (
                APPLICATION,
                "v2",
                "ApplicationVersion",
                "applicationversions",
                false,
            ),
            Kind::AppRelease => (
                APPLICATION,
                "v2",
                "ApplicationRelease",
                "applicationreleases",
                false,
            ),
            Kind::ApiService => (EXT, EXT_V, "APIService", "apiservices", false),
            Kind::ReverseProxy => (EXT, EXT_V, "ReverseProxy", "reverseproxies", false),
            Kind::JsBundle => (EXT, EXT_V, "JSBundle", "jsbundles", false),
            Kind::ExtRepository => (MARKET, EXT_V, "Repository", "repositories", false),
            Kind::Extension => (MARKET, EXT_V, "Extension", "extensions", false),
            Kind::ExtensionVersion => (
                MARKET,
                EXT_V,
                "ExtensionVersion",
                "extensionversions",
                false,
            ),
            Kind::ExtCategory => (MARKET, EXT_V, "Category", "categories", false),
            Kind::InstallPlan => (MARKET, EXT_V, "InstallPlan", "installplans", false),
            Kind::ValidatingWebhook => (
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
                "validatingwebhookconfigurations",
                false,
            ),
        }
    }

    /// The `apiVersion` string.
    pub fn api_version(self) -> String {
        let (g, v, ..) = self.parts();
        if g.is_empty() {
            v.to_string()
        } else {
            format!("{g}/{v}")
        }
    }

    /// The kind name.
    pub fn kind(self) -> &'static str {
        self.parts().2
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        self.parts().4
    }

    /// The kube-rs dynamic resource.
    pub fn resource(self) -> ApiResource {
        let (group, version, kind, plural, _) = self.parts();
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: self.api_version(),
            kind: kind.into(),
            plural: plural.into(),
        }
    }

    /// An `Api` for this kind (in `ns` if namespaced and given, else all namespaces).
    pub fn api(self, client: &Client, ns: Option<&str>) -> Api<DynamicObject> {
        let ar = self.resource();
        match ns {
            Some(ns) if self.namespaced() => Api::namespaced_with(client.clone(), ns, &ar),
            _ => Api::all_with(client.clone(), &ar),
        }
    }
}
