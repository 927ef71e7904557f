//! The CRD-level checks of a schema node beyond its shape: root metadata, list types,
//! CEL rules and what value validations (`allOf`/`anyOf`/…) may contain.

use apimachinery::FieldError;
use serde_json::Value;

use crate::cel::{self, Rule};
use crate::node::{Compiler, Node, Place, Type};
use crate::path::child;

impl Compiler {
    /// kube lets a CRD restrict only `metadata.name` and `metadata.generateName`.
    pub(crate) fn root_metadata(&mut self, meta: &Value, path: &str) {
        let m_path = format!("{}[metadata]", child(path, "properties"));
        let Some(obj) = meta.as_object() else { return };
        let only_allowed = obj.iter().all(|(k, val)| match k.as_str() {
            "type" => val.as_str() == Some("object"),
            "properties" => val
                .as_object()
                .is_some_and(|p| p.keys().all(|k| k == "name" || k == "generateName")),
            _ => false,
        });
        if !only_allowed {
            self.errors.push(FieldError::forbidden(
                &m_path,
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }

    pub(crate) fn extensions(&mut self, v: &Value, path: &str, node: &mut Node) {
        let lt_path = child(path, "x-kubernetes-list-type");
        if let Some(lt) = v.get("x-kubernetes-list-type").and_then(Value::as_str) {
            if !matches!(lt, "atomic" | "set" | "map") {
                self.errors.push(FieldError::not_supported(
                    &lt_path,
                    lt,
                    &["atomic", "set", "map"],
                ));
            } else if node.ty != Some(Type::Array) {
                self.errors.push(FieldError::invalid(
                    &lt_path,
                    lt,
                    "must only be used if type is array",
                ));
            }
            node.list_type = Some(lt.to_string());
        }
        node.list_map_keys = v
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let keys_path = child(path, "x-kubernetes-list-map-keys");
        match node.list_type.as_deref() {
            Some("map") if node.list_map_keys.is_empty() => self.errors.push(FieldError::required(
                &keys_path,
                "must not be empty if x-kubernetes-list-type is map",
            )),
            Some("map") => {
                if let Some(items) = &node.items {
                    if items.ty != Some(Type::Object) {
                        self.errors.push(FieldError::invalid(
                            &child(path, "items.type"),
                            items.ty.map(Type::name).unwrap_or_default(),
                            "must be object if parent array's x-kubernetes-list-type is map",
                        ));
                    }
                    for k in &node.list_map_keys {
                        if !items.properties.contains_key(k) {
                            self.errors.push(FieldError::invalid(
                                &keys_path,
                                node.list_map_keys
                                    .iter()
                                    .map(|s| Value::from(s.as_str()))
                                    .collect::<Vec<_>>(),
                                &format!("entries must all be names of item properties: {k}"),
                            ));
                        }
                    }
                }
            }
            Some("set") => {
                if let Some(items) = &node.items
                    && matches!(items.ty, Some(Type::Object | Type::Array))
                {
                    self.errors.push(FieldError::invalid(
                        &child(path, "items.type"),
                        items.ty.map(Type::name).unwrap_or_default(),
                        "must be a scalar type if parent array's x-kubernetes-list-type is set",
                    ));
                }
            }
            _ if !node.list_map_keys.is_empty() => self.errors.push(FieldError::invalid(
                &lt_path,
                node.list_type.clone().unwrap_or_default(),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            _ => {}
        }
    }

    pub(crate) fn rules(&mut self, v: &Value, path: &str, node: &Node) -> Vec<Rule> {
        let Some(list) = v.get("x-kubernetes-validations").and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(list.len());
        for (i, raw) in list.iter().enumerate() {
            let r_path = format!("{}[{i}]", child(path, "x-kubernetes-validations"));
            match cel::compile_rule(raw, node) {
                Ok(rule) => out.push(rule),
                Err(errs) => {
                    for (field, value, detail) in errs {
                        self.errors.push(if detail.is_empty() {
                            FieldError::required(&child(&r_path, field), "rule is not specified")
                        } else {
                            FieldError::invalid(&child(&r_path, field), value, &detail)
                        });
                    }
                }
            }
        }
        out
    }

    /// Inside `allOf`/`anyOf`/`oneOf`/`not` only value validations are structural.
    pub(crate) fn value_validation_limits(&mut self, v: &Value, path: &str, type_allowed: bool) {
        for key in [
            "type",
            "nullable",
            "default",
            "additionalProperties",
            "x-kubernetes-preserve-unknown-fields",
            "x-kubernetes-embedded-resource",
            "x-kubernetes-int-or-string",
            "x-kubernetes-validations",
        ] {
            if v.get(key).is_some() && !(type_allowed && key == "type") {
                self.errors.push(FieldError::forbidden(
                    &child(path, key),
                    "must be empty to be structural",
                ));
            }
        }
    }

    /// A default must itself be valid once defaulted and pruned, as kube requires.
    pub(crate) fn check_default(&mut self, node: &Node, path: &str, place: Place) {
        let Some(d) = &node.default else { return };
        let d_path = child(path, "default");
        if matches!(place, Place::Root) {
            self.errors.push(FieldError::forbidden(
                &d_path,
                "must not be set at the root",
            ));
            return;
        }
        let mut value = d.clone();
        crate::prune::prune(node, &mut value, false);
        crate::defaulting::apply(node, &mut value, false);
        let mut errs = Vec::new();
        crate::validate::check(node, &value, "default", &mut errs);
        for e in errs {
            let detail = if e.detail.is_empty() {
                e.to_string()
            } else {
                e.detail
            };
            self.errors
                .push(FieldError::invalid(&d_path, d.clone(), &detail));
        }
    }
}
