//! ReplicationController.

use serde_json::{Value, json};

use super::podtemplate::template_defaults;
use super::*;

/// The `ReplicationController` kind (its selector is a plain label map).
pub struct ReplicationController;

impl Kind for ReplicationController {
    fn spec(&self) -> Spec {
        spec("", "v1", "replicationcontrollers", "ReplicationController")
            .short(&["rc"])
            .all()
            .status()
            .scale()
    }

    fn defaults(&self, obj: &mut Value) {
        let Some(spec) = obj_mut(obj, "spec") else {
            return;
        };
        set_default(spec, "replicas", json!(1));
        template_defaults(spec, "Always");
    }

    /// An RC's selector is a label map (`labels.SelectorFromSet`).
    fn scale_selector(&self, obj: &Value) -> String {
        super::fields::label_pairs(&obj["spec"]["selector"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_selector_is_the_label_map_sorted() {
        let rc = json!({"spec": {"selector": {"b": "2", "a": "1"}}});
        assert_eq!(ReplicationController.scale_selector(&rc), "a=1,b=2");
        assert_eq!(ReplicationController.scale_selector(&json!({})), "");
    }
}
