//! MutatingWebhookConfiguration and ValidatingWebhookConfiguration
//! (`admissionregistration.k8s.io/v1`): kube's defaults and validation; the calls themselves
//! are in `verbs/webhooks.rs`.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// One of the two webhook configuration kinds.
pub struct WebhookConfiguration {
    /// Mutating (else validating).
    pub mutating: bool,
}

const COLUMNS: &[Col] = &[c("Name"), c("Webhooks"), c("Age")];

impl Kind for WebhookConfiguration {
    fn spec(&self) -> Spec {
        if self.mutating {
            spec(
                "admissionregistration.k8s.io",
                "v1",
                "mutatingwebhookconfigurations",
                "MutatingWebhookConfiguration",
            )
            .cluster()
        } else {
            spec(
                "admissionregistration.k8s.io",
                "v1",
                "validatingwebhookconfigurations",
                "ValidatingWebhookConfiguration",
            )
            .cluster()
        }
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let n = obj["webhooks"].as_array().map_or(0, Vec::len);
        vec![name(obj), json!(n), age]
    }

    fn defaults(&self, obj: &mut Value) {
        for hook in obj["webhooks"].as_array_mut().into_iter().flatten() {
            let Some(h) = hook.as_object_mut() else {
                continue;
            };
            h.entry("failurePolicy").or_insert_with(|| "Fail".into());
            h.entry("matchPolicy")
                .or_insert_with(|| "Equivalent".into());
            h.entry("namespaceSelector").or_insert_with(|| json!({}));
            h.entry("objectSelector").or_insert_with(|| json!({}));
            h.entry("timeoutSeconds").or_insert_with(|| 10.into());
            if self.mutating {
                h.entry("reinvocationPolicy")
                    .or_insert_with(|| "Never".into());
            }
            if let Some(svc) = h
                .get_mut("clientConfig")
                .and_then(|c| c.get_mut("service"))
                .and_then(Value::as_object_mut)
            {
                svc.entry("port").or_insert_with(|| 443.into());
            }
            for rule in h
                .get_mut("rules")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(r) = rule.as_object_mut() {
                    r.entry("scope").or_insert_with(|| "*".into());
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, hook) in obj["webhooks"].as_array().into_iter().flatten().enumerate() {
            validate_webhook(&mut errs, &format!("webhooks[{i}]"), hook, &mut names);
        }
        errs
    }
}

fn validate_webhook(
    errs: &mut Vec<FieldError>,
    at: &str,
    hook: &Value,
    names: &mut std::collections::HashSet<String>,
) {
    let name = hook["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errs.push(FieldError::required(&format!("{at}.name"), ""));
    } else if name.split('.').count() < 3
        || !apimachinery::validation::is_dns1123_subdomain(name).is_empty()
    {
        errs.push(FieldError::invalid(
            &format!("{at}.name"),
            name,
            "should be a domain with at least three segments separated by dots",
        ));
    } else if !names.insert(name.to_string()) {
        errs.push(FieldError::duplicate(&format!("{at}.name"), name));
    }
    let cc = &hook["clientConfig"];
    match (
        cc["url"].as_str(),
        cc.get("service").filter(|s| s.is_object()),
    ) {
        (Some(url), None) => {
            if !url.starts_with("https://") {
                errs.push(FieldError::invalid(
                    &format!("{at}.clientConfig.url"),
                    url,
                    "'https' is the only allowed URL scheme",
                ));
            }
        }
        (None, Some(svc)) => {
            for f in ["namespace", "name"] {
                if svc[f].as_str().unwrap_or_default().is_empty() {
                    errs.push(FieldError::required(
                        &format!("{at}.clientConfig.service.{f}"),
                        &format!("service {f} is required"),
                    ));
                }
            }
        }
        _ => errs.push(FieldError::required(
            &format!("{at}.clientConfig"),
            "exactly one of url or service is required",
        )),
    }
    match hook["sideEffects"].as_str() {
        Some("None" | "NoneOnDryRun") => {}
        None => errs.push(FieldError::required(
            &format!("{at}.sideEffects"),
            "must specify one of None, NoneOnDryRun",
        )),
        Some(other) => errs.push(FieldError::not_supported(
            &format!("{at}.sideEffects"),
            other,
            &["None", "NoneOnDryRun"],
        )),
    }
    let versions = hook["admissionReviewVersions"]
        .as_array()
        .map_or(0, Vec::len);
    if versions == 0 {
        errs.push(FieldError::required(
            &format!("{at}.admissionReviewVersions"),
            "must specify one of v1, v1beta1",
        ));
    }
    if let Some(p) = hook["failurePolicy"].as_str()
        && !matches!(p, "Fail" | "Ignore")
    {
        errs.push(FieldError::not_supported(
            &format!("{at}.failurePolicy"),
            p,
            &["Fail", "Ignore"],
        ));
    }
    if let Some(t) = hook["timeoutSeconds"].as_i64()
        && !(1..=30).contains(&t)
    {
        errs.push(FieldError::invalid(
            &format!("{at}.timeoutSeconds"),
            t,
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
}
