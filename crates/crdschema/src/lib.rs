//! CustomResourceDefinition structural schemas, as kube-apiserver applies them to custom
//! objects: [`Schema::compile`] one version's `openAPIV3Schema` once (refusing non-structural
//! schemas with kube's messages), then per write [`Schema::prune`], [`Schema::default`] and
//! [`Schema::validate`] (OpenAPI keywords, formats, list types, embedded resources and CEL
//! `x-kubernetes-validations`, with transition rules on update). [`printer_cells`] computes
//! `additionalPrinterColumns` and [`get_path`]/[`set_path`] serve the scale subresource.
//! Pure code, no I/O: objects are `serde_json::Value`s and errors are kube's field errors.

mod cel;
mod columns;
mod defaulting;
mod formats;
mod gofmt;
mod jsonpath;
mod node;
mod path;
mod prune;
mod structural;
mod validate;
mod walk;

use apimachinery::FieldError;
use serde_json::Value;
use thiserror::Error;

pub use columns::{human_duration, printer_cells, printer_cells_at};
pub use jsonpath::{JsonPath, JsonPathError};
pub use path::{get_path, set_path};

use node::{Compiler, Node, Place};

/// A schema kube would refuse in a CRD: not structural, a bad pattern, a rule that does not
/// compile. The errors carry the field paths of the CRD (e.g.
/// `spec.versions[0].schema.openAPIV3Schema.properties[a].type`).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{}", apimachinery::validation::aggregate_messages(.errors).unwrap_or_default())]
pub struct SchemaError {
    /// Every violation found.
    pub errors: Vec<FieldError>,
}

/// One version's compiled `openAPIV3Schema`: regexes and CEL programs are built once here.
#[derive(Debug)]
pub struct Schema {
    root: Node,
}

impl Schema {
    /// Compiles a schema, reporting violations under the path `openAPIV3Schema`.
    pub fn compile(open_api_v3_schema: &Value) -> Result<Schema, SchemaError> {
        Self::compile_at(open_api_v3_schema, "openAPIV3Schema")
    }

    /// Compiles a schema, reporting violations under `path` (for a CRD, e.g.
    /// `spec.versions[0].schema.openAPIV3Schema`).
    pub fn compile_at(open_api_v3_schema: &Value, path: &str) -> Result<Schema, SchemaError> {
        let mut c = Compiler::new();
        let root = c.node(open_api_v3_schema, path, Place::Root);
        if c.errors.is_empty() {
            Ok(Schema { root })
        } else {
            Err(SchemaError { errors: c.errors })
        }
    }

    /// Drops the fields the schema does not specify (never the root `apiVersion`, `kind`
    /// and `metadata`).
    pub fn prune(&self, obj: &mut Value) {
        prune::prune(&self.root, obj, true);
    }

    /// The paths (`spec.foo`, `spec.items[0].bar`) that [`Schema::prune`] would drop, for
    /// `fieldValidation=Strict` and `Warn`.
    pub fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        let mut out = Vec::new();
        prune::unknown(&self.root, obj, "", true, &mut out);
        out
    }

    /// Applies the schema's defaults (metadata excepted) and drops nulls kube would prune.
    pub fn default(&self, obj: &mut Value) {
        defaulting::apply(&self.root, obj, true);
    }

    /// Validates a (pruned and defaulted) object: OpenAPI keywords, embedded resources,
    /// list types, then CEL rules; `old` is the stored object on update, which enables
    /// transition rules. Errors come in kube's order and wording.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        self.validate_in_place(&mut obj.clone(), old)
    }

    /// [`Schema::validate`] without copying the object: its `metadata` is narrowed to what
    /// the schema may constrain for the keyword checks and put back, as it was, before the
    /// rest (the object is unchanged when this returns).
    pub fn validate_in_place(&self, obj: &mut Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        // Metadata is validated by the API server; the schema may only narrow name/generateName,
        // which are checked here.
        let full_meta = obj
            .as_object_mut()
            .and_then(|map| map.get_mut("metadata"))
            .map(|meta| {
                let narrowed: serde_json::Map<String, Value> = meta
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| *k == "name" || *k == "generateName")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                std::mem::replace(meta, Value::Object(narrowed))
            });
        validate::check(&self.root, obj, "", &mut errors);
        if let (Some(full), Some(meta)) = (full_meta, obj.get_mut("metadata")) {
            *meta = full;
        }
        let obj = &*obj;
        let run_cel = !validate::blocks_cel(&errors);
        let mut found = walk::Found::default();
        walk::walk(&self.root, obj, old, "", true, run_cel, &mut found);
        errors.append(&mut found.embedded);
        errors.append(&mut found.lists);
        if run_cel {
            errors.append(&mut found.cel);
        } else if self.has_rules() {
            errors.push(validate::cel_skipped());
        }
        for e in &mut errors {
            // kube validates custom resources under a nil field path, printed `<nil>`.
            if e.field.is_empty() {
                e.field = validate::NIL_PATH.to_string();
            }
        }
        errors
    }

    /// Whether any node carries CEL rules.
    fn has_rules(&self) -> bool {
        fn any(n: &Node) -> bool {
            !n.rules.is_empty()
                || n.properties.values().any(any)
                || n.items.as_deref().is_some_and(any)
                || matches!(&n.additional, node::Additional::Schema(s) if any(s))
        }
        any(&self.root)
    }
}

#[cfg(test)]
mod tests {
    /// The API server shares compiled schemas between request threads.
    #[test]
    fn schema_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<super::Schema>();
    }
}
