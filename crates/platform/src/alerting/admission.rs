//! Rule groups and Silences written through the platform are checked before they reach the
//! cluster, so a mistake is refused with a clear 422 and nothing is stored: what
//! [`super::rules::parse_group`] and [`super::silences::Silence::parse`] would refuse at
//! evaluation, and expressions that are not PromQL. (Whether an expression stays inside the
//! in-process store's subset depends on the cluster's source: that shows in the group's
//! `status.evaluationError`.) Only whole objects (create, update) are checked here; a patch is
//! checked when the group is next evaluated.

use apimachinery::status::ApiError;
use serde_json::Value;

use crate::authz::scope::RequestInfo;

fn invalid(kind: &str, obj: &Value, why: &str) -> ApiError {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    ApiError::new(
        422,
        "Invalid",
        format!("{kind}.{} \"{name}\" is invalid: {why}", kind_group(kind)),
    )
}

fn kind_group(kind: &str) -> &'static str {
    if kind == "Silence" {
        crate::crds::NOTIFICATION
    } else {
        crate::crds::ALERTING
    }
}

/// Checks the body of a write; `Err` is the answer refusing it.
pub fn check(info: &RequestInfo, method: &http::Method, body: &[u8]) -> Result<(), ApiError> {
    if !matches!(*method, http::Method::POST | http::Method::PUT) || !info.subresource.is_empty() {
        return Ok(());
    }
    let kind = match (info.api_group.as_str(), info.resource.as_str()) {
        (crate::crds::ALERTING, "rulegroups") => "RuleGroup",
        (crate::crds::ALERTING, "clusterrulegroups") => "ClusterRuleGroup",
        (crate::crds::ALERTING, "globalrulegroups") => "GlobalRuleGroup",
        (crate::crds::NOTIFICATION, "silences") => "Silence",
        _ => return Ok(()),
    };
    // Not JSON (YAML, a malformed body): the cluster decodes and answers it.
    let Ok(obj) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    if kind == "Silence" {
        return super::silences::Silence::parse(&obj)
            .map(|_| ())
            .map_err(|e| invalid(kind, &obj, &e));
    }
    let group = super::rules::parse_group(&obj).map_err(|e| invalid(kind, &obj, &e))?;
    for (i, r) in group.rules.iter().enumerate() {
        promql_parser::parser::parse(&r.expr).map_err(|e| {
            invalid(
                kind,
                &obj,
                &format!("spec.rules[{i}].expr is not PromQL: {e}"),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(method: &str, path: &str) -> RequestInfo {
        RequestInfo::parse(method, path, "")
    }

    #[test]
    fn refuses_bad_groups_and_silences() {
        let path = "/apis/alerting.kubesphere.io/v2beta1/namespaces/p/rulegroups";
        let good = json!({"metadata": {"name": "g"}, "spec": {"rules": [{"alert": "A", "expr": "up == 0"}]}});
        assert!(
            check(
                &info("POST", path),
                &http::Method::POST,
                good.to_string().as_bytes()
            )
            .is_ok()
        );
        for (spec, why) in [
            (
                json!({"rules": [{"alert": "A", "expr": "sum(("}]}),
                "is not PromQL",
            ),
            (json!({"rules": [{"alert": "A"}]}), "expr is required"),
            (json!({"interval": "often"}), "spec.interval"),
        ] {
            let body = json!({"metadata": {"name": "g"}, "spec": spec}).to_string();
            let e =
                check(&info("POST", path), &http::Method::POST, body.as_bytes()).expect_err(why);
            assert_eq!(e.code, 422);
            assert!(e.message.contains(why), "{}", e.message);
            assert!(
                e.message
                    .starts_with("RuleGroup.alerting.kubesphere.io \"g\""),
                "{}",
                e.message
            );
        }
        let bad_put =
            json!({"metadata": {"name": "g"}, "spec": {"rules": [{"expr": "up"}]}}).to_string();
        let put = info("PUT", &format!("{path}/g"));
        assert!(check(&put, &http::Method::PUT, bad_put.as_bytes()).is_err());
        // Other writes and kinds pass through.
        assert!(check(&put, &http::Method::DELETE, b"").is_ok());
        assert!(
            check(
                &info("POST", "/api/v1/namespaces/p/configmaps"),
                &http::Method::POST,
                bad_put.as_bytes()
            )
            .is_ok()
        );
        let silences = info("POST", "/apis/notification.kubesphere.io/v2beta2/silences");
        let e = check(
            &silences,
            &http::Method::POST,
            br#"{"metadata":{"name":"s"},"spec":{"matcher":{}}}"#,
        )
        .expect_err("empty matcher");
        assert!(e.message.contains("every alert"), "{}", e.message);
    }
}
