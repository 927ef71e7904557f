//! kube-apiserver's typed round trip, for JSON bodies: a built-in object is decoded into its Go
//! type and encoded again, so every non-pointer field tagged `omitempty` that holds Go's zero
//! value disappears (`env: []`, `labels: {}`, `image: ""`, `stdin: false`). Structs stay:
//! `encoding/json` never omits them (`resources: {}` is kept, as kube keeps it).

use serde_json::{Map, Value};

use crate::schema::{self, INLINE, Label, Message, OMIT_ZERO, Special, Ty};

/// Nesting deeper than this is left as it is (request bodies are depth-limited before).
const MAX_DEPTH: usize = 64;

/// Drops from `obj` (an object of a built-in kind, by its `apiVersion` and `kind`) what kube's
/// typed round trip drops; objects of kinds without a schema are left as they are.
pub fn omit_empty(obj: &mut Value) {
    let index = match (obj["apiVersion"].as_str(), obj["kind"].as_str()) {
        (Some(av), Some(kind)) => schema::lookup(av, kind),
        _ => None,
    };
    if let (Some(index), Value::Object(members)) = (index, obj) {
        prune(schema::message(index), members, 0);
    }
}

fn is_zero(ty: Ty, label: Label, v: &Value) -> bool {
    match (label, v) {
        (Label::Repeated | Label::Map, Value::Null) => true,
        (Label::Repeated, Value::Array(a)) => a.is_empty(),
        (Label::Map, Value::Object(m)) => m.is_empty(),
        (Label::Single, _) => match (ty, v) {
            (Ty::Msg(_), _) => false,
            (_, Value::Null) => true,
            (Ty::Bool, Value::Bool(b)) => !b,
            (Ty::Str | Ty::Bytes, Value::String(s)) => s.is_empty(),
            (Ty::I32 | Ty::I64 | Ty::F64, Value::Number(n)) => n.as_f64() == Some(0.0),
            _ => false,
        },
        _ => false,
    }
}

fn prune(msg: &'static Message, obj: &mut Map<String, Value>, depth: usize) {
    if depth > MAX_DEPTH || msg.special != Special::None {
        return;
    }
    for field in msg.fields {
        if field.flags & INLINE != 0 {
            if let Ty::Msg(m) = field.ty {
                prune(schema::message(m), obj, depth + 1);
            }
            continue;
        }
        let Some(v) = obj.get_mut(field.json) else {
            continue;
        };
        if field.flags & OMIT_ZERO != 0 && is_zero(field.ty, field.label, v) {
            obj.remove(field.json);
            continue;
        }
        let Ty::Msg(m) = field.ty else { continue };
        let sub = schema::message(m);
        match (field.label, v) {
            (Label::Single, Value::Object(o)) => prune(sub, o, depth + 1),
            (Label::Repeated, Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    prune(sub, item, depth + 1);
                }
            }
            (Label::Map, Value::Object(entries)) => {
                for item in entries.values_mut().filter_map(Value::as_object_mut) {
                    prune(sub, item, depth + 1);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_omitempty_fields_go_and_structs_stay() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {}, "annotations": {"a": "b"}},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [
            {"name": "c", "image": "img", "env": [], "args": [], "stdin": false,
             "resources": {}, "workingDir": "", "ports": [{"containerPort": 80, "hostIP": ""}]}
        ]}}}});
        omit_empty(&mut d);
        assert_eq!(
            d,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"a": "b"}},
            "spec": {"template": {"metadata": {}, "spec": {"containers": [
                {"name": "c", "image": "img", "resources": {}, "ports": [{"containerPort": 80}]}
            ]}}}})
        );
    }

    #[test]
    fn fields_without_omitempty_and_unknown_kinds_are_kept() {
        // rbac PolicyRule lists are not omitempty; a Role's `rules: []` stays.
        let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r"}, "rules": []});
        let before = role.clone();
        omit_empty(&mut role);
        assert_eq!(role, before);
        let mut custom =
            json!({"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"list": []}});
        let before = custom.clone();
        omit_empty(&mut custom);
        assert_eq!(custom, before);
    }
}
