//! Watch paths and subresource paths of a resource.

use super::params::{
    DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE, LIST_PARAMS, LOG_PARAMS, PRETTY, Param,
};
use super::{Body, Method, PathItem, ResourcePaths, Response, gvk};
use crate::catalog::Subresource;

impl ResourcePaths<'_> {
    /// The watch paths, and for namespaced resources the all-namespaces list and watch.
    pub(super) fn watch_paths(
        &self,
        scope: &str,
        scope_params: &[&'static Param],
        item_params: &[&'static Param],
    ) -> Vec<PathItem> {
        let kind = &self.gvk.kind;
        let watch_base = if self.namespaced {
            format!(
                "{}/watch/namespaces/{{namespace}}/{}",
                self.prefix, self.plural
            )
        } else {
            format!("{}/watch/{}", self.prefix, self.plural)
        };
        let watch_spec = |action: &'static str, description: String| {
            let mut spec = self.spec(Method::Get, "watch", action, description);
            spec.response = Response::Object(crate::meta::WATCH_EVENT.to_owned());
            spec.streams = true;
            spec
        };
        let mut items = Vec::new();
        let mut list_params: Vec<&'static Param> = scope_params.to_vec();
        list_params.extend(LIST_PARAMS.iter());
        let mut spec = watch_spec("watchlist", format!("watch changes to a list of {kind}"));
        spec.suffix = "List";
        items.push(PathItem {
            path: watch_base.clone(),
            params: list_params,
            operations: vec![self.op(scope, spec)],
        });
        let mut single_params: Vec<&'static Param> = item_params.to_vec();
        single_params.extend(LIST_PARAMS.iter());
        items.push(PathItem {
            path: format!("{watch_base}/{{name}}"),
            params: single_params,
            operations: vec![self.op(
                scope,
                watch_spec(
                    "watch",
                    format!("watch changes to an object of kind {kind}"),
                ),
            )],
        });
        if self.namespaced {
            let mut all_params: Vec<&'static Param> = vec![&PRETTY];
            all_params.extend(LIST_PARAMS.iter());
            let mut spec = self.spec(
                Method::Get,
                "list",
                "list",
                format!("list or watch objects of kind {kind}"),
            );
            spec.suffix = "ForAllNamespaces";
            spec.response = Response::Object(format!("{}List", self.definition));
            spec.streams = true;
            items.push(PathItem {
                path: format!("{}/{}", self.prefix, self.plural),
                params: all_params.clone(),
                operations: vec![self.op("", spec)],
            });
            let mut spec = watch_spec("watchlist", format!("watch changes to a list of {kind}"));
            spec.suffix = "ListForAllNamespaces";
            items.push(PathItem {
                path: format!("{}/watch/{}", self.prefix, self.plural),
                params: all_params,
                operations: vec![self.op("", spec)],
            });
        }
        items
    }

    /// The path item of one subresource.
    pub(super) fn subresource(
        &self,
        sub: Subresource,
        scope: &str,
        base: &str,
        item_params: &[&'static Param],
    ) -> PathItem {
        let kind = &self.gvk.kind;
        let (segment, suffix) = match sub {
            Subresource::Status => ("status", "Status"),
            Subresource::Scale => ("scale", "Scale"),
            Subresource::Log => ("log", "Log"),
            Subresource::Eviction => ("eviction", "Eviction"),
            Subresource::Binding => ("binding", "Binding"),
            Subresource::EphemeralContainers => ("ephemeralcontainers", "Ephemeralcontainers"),
            Subresource::Token => ("token", "Token"),
        };
        let path = format!("{base}/{{name}}/{segment}");
        let mut operations = Vec::new();
        match sub {
            Subresource::Status | Subresource::Scale | Subresource::EphemeralContainers => {
                let (definition, gvk) = if sub == Subresource::Scale {
                    (
                        crate::meta::SCALE.to_owned(),
                        gvk("autoscaling", "v1", "Scale"),
                    )
                } else {
                    (self.definition.to_owned(), self.gvk.clone())
                };
                let what = if sub == Subresource::Scale {
                    "scale"
                } else {
                    segment
                };
                for (method, verb, action, description) in [
                    (
                        Method::Get,
                        "read",
                        "get",
                        format!("read {what} of the specified {kind}"),
                    ),
                    (
                        Method::Put,
                        "replace",
                        "put",
                        format!("replace {what} of the specified {kind}"),
                    ),
                    (
                        Method::Patch,
                        "patch",
                        "patch",
                        format!("partially update {what} of the specified {kind}"),
                    ),
                ] {
                    let mut spec = self.spec(method, verb, action, description);
                    spec.suffix = suffix;
                    spec.gvk = Some(gvk.clone());
                    spec.response = Response::Object(definition.clone());
                    match method {
                        Method::Put => {
                            spec.params = vec![&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION];
                            spec.body = Some(Body::Object(definition.clone()));
                            spec.codes = &[200, 201];
                        }
                        Method::Patch => {
                            spec.params = vec![&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION, &FORCE];
                            spec.body = Some(Body::Patch);
                            spec.codes = &[200, 201];
                        }
                        _ => {}
                    }
                    operations.push(self.op(scope, spec));
                }
            }
            Subresource::Log => {
                let mut spec = self.spec(
                    Method::Get,
                    "read",
                    "get",
                    format!("read log of the specified {kind}"),
                );
                spec.suffix = suffix;
                spec.params = LOG_PARAMS.iter().collect();
                spec.response = Response::Text;
                operations.push(self.op(scope, spec));
            }
            Subresource::Eviction | Subresource::Binding | Subresource::Token => {
                let (definition, gvk) = match sub {
                    Subresource::Eviction => {
                        (crate::meta::EVICTION, gvk("policy", "v1", "Eviction"))
                    }
                    Subresource::Binding => (crate::meta::BINDING, gvk("", "v1", "Binding")),
                    _ => (
                        crate::meta::TOKEN_REQUEST,
                        gvk("authentication.k8s.io", "v1", "TokenRequest"),
                    ),
                };
                let mut spec = self.spec(
                    Method::Post,
                    "create",
                    "post",
                    format!("create {segment} of a {kind}"),
                );
                spec.suffix = suffix;
                spec.gvk = Some(gvk);
                spec.params = vec![&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION];
                spec.body = Some(Body::Object(definition.to_owned()));
                spec.codes = &[200, 201, 202];
                spec.response = Response::Object(definition.to_owned());
                operations.push(self.op(scope, spec));
            }
        }
        PathItem {
            path,
            params: item_params.to_vec(),
            operations,
        }
    }
}
