//! The compiled form of one `openAPIV3Schema` node, and the structural-schema checks kube
//! applies when a CRD is created (apiextensions-apiserver's `ValidateStructural` and the
//! CRD validation of vendor extensions), reported as field errors under the schema's path.

use std::collections::BTreeMap;

use apimachinery::FieldError;
use regex::Regex;
use serde_json::Value;

use crate::cel::Rule;
use crate::path::child;

/// A schema `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
}

impl Type {
    fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            "object" => Type::Object,
            "array" => Type::Array,
            _ => return None,
        })
    }

    /// The name as written in a schema.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
            Type::Object => "object",
            Type::Array => "array",
        }
    }
}

/// `additionalProperties`: absent, a boolean, or a schema for every value of a map.
#[derive(Debug)]
pub(crate) enum Additional {
    Absent,
    Allowed,
    Schema(Box<Node>),
}

/// A `pattern` with its source kept for messages.
#[derive(Debug)]
pub(crate) struct Pattern {
    pub source: String,
    pub regex: Regex,
}

/// One compiled schema node.
#[derive(Debug)]
pub(crate) struct Node {
    pub ty: Option<Type>,
    pub int_or_string: bool,
    pub nullable: bool,
    pub format: Option<String>,
    pub enumeration: Option<Vec<Value>>,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub multiple_of: Option<f64>,
    pub max_length: Option<u64>,
    pub min_length: Option<u64>,
    pub pattern: Option<Pattern>,
    pub max_items: Option<u64>,
    pub min_items: Option<u64>,
    pub unique_items: bool,
    pub max_properties: Option<u64>,
    pub min_properties: Option<u64>,
    pub required: Vec<String>,
    pub properties: BTreeMap<String, Node>,
    pub additional: Additional,
    pub items: Option<Box<Node>>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub default: Option<Value>,
    pub preserve_unknown: bool,
    pub embedded: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub rules: Vec<Rule>,
}

/// Where a node sits, which decides what the structural rules allow in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Root,
    Property,
    Items,
    AdditionalProperties,
    /// Inside `allOf`/`anyOf`/`oneOf`/`not`: value validations only.
    ValueValidation,
    /// A branch under an int-or-string node, which may say `type: integer` or `type: string`
    /// (the `anyOf` controller-gen writes for `IntOrString`).
    IntOrStringBranch,
}

/// Collects structural violations while compiling.
pub(crate) struct Compiler {
    pub errors: Vec<FieldError>,
    depth: usize,
}

/// Schemas nested deeper than this are refused rather than walked (stack safety).
const MAX_DEPTH: usize = 64;

fn u64_of(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(|n| {
        n.as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
    })
}

fn bool_of(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

impl Compiler {
    pub(crate) fn new() -> Self {
        Compiler {
            errors: Vec::new(),
            depth: 0,
        }
    }

    /// Compiles `v` found at `path` (a CRD field path, for messages).
    pub(crate) fn node(&mut self, v: &Value, path: &str, place: Place) -> Node {
        let mut node = Node::empty();
        let Some(obj) = v.as_object() else {
            self.errors.push(FieldError::invalid(
                path,
                v.clone(),
                "must be a JSON object describing a schema",
            ));
            return node;
        };
        if self.depth > MAX_DEPTH {
            self.errors.push(FieldError::invalid(
                path,
                "",
                &format!("must not be nested more than {MAX_DEPTH} levels deep"),
            ));
            return node;
        }
        self.depth += 1;

        if obj.contains_key("$ref") {
            self.errors.push(FieldError::forbidden(
                &child(path, "$ref"),
                "$ref is not supported",
            ));
        }
        node.int_or_string = bool_of(v, "x-kubernetes-int-or-string");
        node.nullable = bool_of(v, "nullable");
        node.embedded = bool_of(v, "x-kubernetes-embedded-resource");
        match v.get("x-kubernetes-preserve-unknown-fields") {
            Some(Value::Bool(true)) => node.preserve_unknown = true,
            Some(Value::Bool(false)) => self.errors.push(FieldError::invalid(
                &child(path, "x-kubernetes-preserve-unknown-fields"),
                false,
                "must be true or undefined",
            )),
            _ => {}
        }
        self.types(v, path, place, &mut node);
        self.scalars(v, path, &mut node);
        self.nested(v, path, place, &mut node);
        self.extensions(v, path, &mut node);
        node.rules = self.rules(v, path, &node);
        if place == Place::ValueValidation {
            self.value_validation_limits(v, path, false);
        } else if place == Place::IntOrStringBranch {
            let scalar = matches!(node.ty, None | Some(Type::Integer | Type::String));
            self.value_validation_limits(v, path, scalar);
        }
        self.check_default(&node, path, place);
        self.depth -= 1;
        node
    }

    fn types(&mut self, v: &Value, path: &str, place: Place, node: &mut Node) {
        let type_path = child(path, "type");
        match v.get("type") {
            Some(Value::String(s)) if !s.is_empty() => match Type::parse(s) {
                Some(t) => node.ty = Some(t),
                None => self.errors.push(FieldError::not_supported(
                    &type_path,
                    s.as_str(),
                    &["array", "boolean", "integer", "number", "object", "string"],
                )),
            },
            Some(other) if !other.is_null() && other.as_str() != Some("") => {
                self.errors.push(FieldError::invalid(
                    &type_path,
                    other.clone(),
                    "must be a string",
                ));
            }
            _ => {}
        }
        if node.int_or_string && node.ty.is_some() {
            self.errors.push(FieldError::invalid(
                &type_path,
                node.ty.map(Type::name).unwrap_or_default(),
                "must be empty if x-kubernetes-int-or-string is true",
            ));
        }
        let untyped_ok = node.int_or_string || node.preserve_unknown;
        match place {
            Place::Root => {
                if let Some(t) = node.ty.filter(|t| *t != Type::Object) {
                    self.errors.push(FieldError::invalid(
                        &type_path,
                        t.name(),
                        "must be object at the root",
                    ));
                } else if node.ty.is_none() && !node.preserve_unknown {
                    self.errors.push(FieldError::required(
                        &type_path,
                        "must not be empty at the root",
                    ));
                }
            }
            Place::Property | Place::AdditionalProperties if node.ty.is_none() && !untyped_ok => {
                self.errors.push(FieldError::required(
                    &type_path,
                    "must not be empty for specified object fields",
                ));
            }
            Place::Items if node.ty.is_none() && !untyped_ok => {
                self.errors.push(FieldError::required(
                    &type_path,
                    "must not be empty for specified array items",
                ));
            }
            _ => {}
        }
        if node.embedded && node.ty != Some(Type::Object) {
            self.errors.push(FieldError::invalid(
                &type_path,
                node.ty.map(Type::name).unwrap_or_default(),
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        }
    }

    fn scalars(&mut self, v: &Value, path: &str, node: &mut Node) {
        node.format = v
            .get("format")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from);
        node.enumeration = v.get("enum").and_then(Value::as_array).cloned();
        node.maximum = v.get("maximum").and_then(Value::as_f64);
        node.minimum = v.get("minimum").and_then(Value::as_f64);
        node.exclusive_maximum = bool_of(v, "exclusiveMaximum");
        node.exclusive_minimum = bool_of(v, "exclusiveMinimum");
        node.multiple_of = v.get("multipleOf").and_then(Value::as_f64);
        if let Some(m) = node.multiple_of.filter(|m| *m <= 0.0) {
            self.errors.push(FieldError::invalid(
                &child(path, "multipleOf"),
                m,
                "must be greater than zero",
            ));
        }
        node.max_length = u64_of(v, "maxLength");
        node.min_length = u64_of(v, "minLength");
        node.max_items = u64_of(v, "maxItems");
        node.min_items = u64_of(v, "minItems");
        node.max_properties = u64_of(v, "maxProperties");
        node.min_properties = u64_of(v, "minProperties");
        node.unique_items = bool_of(v, "uniqueItems");
        if node.unique_items {
            self.errors.push(FieldError::forbidden(
                &child(path, "uniqueItems"),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            ));
        }
        if let Some(p) = v.get("pattern").and_then(Value::as_str) {
            match Regex::new(p) {
                Ok(regex) => {
                    node.pattern = Some(Pattern {
                        source: p.to_string(),
                        regex,
                    })
                }
                Err(e) => self.errors.push(FieldError::invalid(
                    &child(path, "pattern"),
                    p,
                    &format!("must be a valid regular expression, but isn't: {e}"),
                )),
            }
        }
        node.required = v
            .get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        node.default = v.get("default").cloned();
    }

    fn nested(&mut self, v: &Value, path: &str, place: Place, node: &mut Node) {
        let in_value_validation =
            matches!(place, Place::ValueValidation | Place::IntOrStringBranch);
        let inner = if in_value_validation {
            Place::ValueValidation
        } else {
            Place::Property
        };
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                let p_path = format!("{}[{name}]", child(path, "properties"));
                let compiled = self.node(p, &p_path, inner);
                node.properties.insert(name.clone(), compiled);
            }
        }
        let items_place = if in_value_validation {
            Place::ValueValidation
        } else {
            Place::Items
        };
        match v.get("items") {
            Some(items @ Value::Object(_)) => {
                node.items = Some(Box::new(self.node(
                    items,
                    &child(path, "items"),
                    items_place,
                )));
            }
            Some(Value::Array(_)) => self.errors.push(FieldError::forbidden(
                &child(path, "items"),
                "items must be a schema object and not an array",
            )),
            _ => {
                if node.ty == Some(Type::Array) && !in_value_validation {
                    self.errors.push(FieldError::required(
                        &child(path, "items"),
                        "must be specified",
                    ));
                }
            }
        }
        let ap_path = child(path, "additionalProperties");
        match v.get("additionalProperties") {
            Some(Value::Bool(b)) => {
                if !b {
                    self.errors.push(FieldError::forbidden(
                        &ap_path,
                        "additionalProperties cannot be set to false",
                    ));
                }
                node.additional = Additional::Allowed;
            }
            Some(ap @ Value::Object(_)) => {
                let ap_place = if in_value_validation {
                    Place::ValueValidation
                } else {
                    Place::AdditionalProperties
                };
                node.additional = Additional::Schema(Box::new(self.node(ap, &ap_path, ap_place)));
            }
            _ => {}
        }
        if !node.properties.is_empty() && !matches!(node.additional, Additional::Absent) {
            self.errors.push(FieldError::forbidden(
                &ap_path,
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        let branch_place = if node.int_or_string || place == Place::IntOrStringBranch {
            Place::IntOrStringBranch
        } else {
            Place::ValueValidation
        };
        for (key, list) in [
            ("allOf", &mut node.all_of),
            ("anyOf", &mut node.any_of),
            ("oneOf", &mut node.one_of),
        ] {
            if let Some(branches) = v.get(key).and_then(Value::as_array) {
                for (i, b) in branches.iter().enumerate() {
                    let b_path = format!("{}[{i}]", child(path, key));
                    list.push(self.node(b, &b_path, branch_place));
                }
            }
        }
        if let Some(n) = v.get("not") {
            node.not = Some(Box::new(self.node(
                n,
                &child(path, "not"),
                Place::ValueValidation,
            )));
        }
        if place == Place::Root
            && let Some(meta) = v.get("properties").and_then(|p| p.get("metadata"))
        {
            self.root_metadata(meta, path);
        }
    }
}

impl Node {
    fn empty() -> Node {
        Node {
            ty: None,
            int_or_string: false,
            nullable: false,
            format: None,
            enumeration: None,
            maximum: None,
            exclusive_maximum: false,
            minimum: None,
            exclusive_minimum: false,
            multiple_of: None,
            max_length: None,
            min_length: None,
            pattern: None,
            max_items: None,
            min_items: None,
            unique_items: false,
            max_properties: None,
            min_properties: None,
            required: Vec::new(),
            properties: BTreeMap::new(),
            additional: Additional::Absent,
            items: None,
            all_of: Vec::new(),
            any_of: Vec::new(),
            one_of: Vec::new(),
            not: None,
            default: None,
            preserve_unknown: false,
            embedded: false,
            list_type: None,
            list_map_keys: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// The schema for the value of `key` in an object this node describes.
    pub(crate) fn field(&self, key: &str) -> Option<&Node> {
        match self.properties.get(key) {
            Some(n) => Some(n),
            None => match &self.additional {
                Additional::Schema(s) => Some(s),
                _ => None,
            },
        }
    }

    /// The `type` kube reports as the bad value of a failed CEL rule.
    pub(crate) fn type_name(&self) -> &'static str {
        self.ty.map(Type::name).unwrap_or("")
    }
}
