use serde_json::json;

use super::*;
use crate::validation::FieldError;

#[test]
fn not_found_core_and_grouped() {
    let e = ApiError::not_found("", "configmaps", "foo");
    assert_eq!(e.code, 404);
    assert_eq!(e.to_string(), "configmaps \"foo\" not found");
    assert_eq!(
        e.to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"configmaps \"foo\" not found","reason":"NotFound",
               "details":{"name":"foo","kind":"configmaps"},"code":404})
    );
    let e = ApiError::not_found("apps", "deployments", "web");
    assert_eq!(e.message, "deployments.apps \"web\" not found");
    assert_eq!(
        e.to_status()["details"],
        json!({"name":"web","group":"apps","kind":"deployments"})
    );
}

#[test]
fn status_keeps_kube_field_order() {
    let s = ApiError::already_exists("", "pods", "p").to_status();
    let keys: Vec<&String> = s
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "kind",
            "apiVersion",
            "metadata",
            "status",
            "message",
            "reason",
            "details",
            "code"
        ]
    );
}

#[test]
fn already_exists_and_conflicts() {
    let e = ApiError::already_exists("", "configmaps", "foo");
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(e.message, "configmaps \"foo\" already exists");
    let e = ApiError::stale_conflict("", "configmaps", "foo");
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Operation cannot be fulfilled on configmaps \"foo\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let e = ApiError::generate_name_conflict("", "pods", "web-abcde", 1);
    assert_eq!(
        e.message,
        "pods \"web-abcde\" already exists, the server was not able to generate a unique name for the object"
    );
    assert_eq!(e.to_status()["details"]["retryAfterSeconds"], json!(1));
}

#[test]
fn invalid_aggregates_messages_and_causes() {
    let errs = vec![
        FieldError::invalid("metadata.name", "Foo", "bad name"),
        FieldError::required("metadata.namespace", ""),
    ];
    let e = ApiError::invalid("", "ConfigMap", "Foo", &errs);
    assert_eq!(e.code, 422);
    assert_eq!(
        e.message,
        "ConfigMap \"Foo\" is invalid: [metadata.name: Invalid value: \"Foo\": bad name, metadata.namespace: Required value]"
    );
    assert_eq!(
        e.to_status()["details"],
        json!({"name":"Foo","kind":"ConfigMap","causes":[
            {"reason":"FieldValueInvalid","message":"Invalid value: \"Foo\": bad name","field":"metadata.name"},
            {"reason":"FieldValueRequired","message":"Required value","field":"metadata.namespace"}]})
    );
    let one = ApiError::invalid("apps", "Deployment", "d", &errs[..1]);
    assert_eq!(
        one.message,
        "Deployment.apps \"d\" is invalid: metadata.name: Invalid value: \"Foo\": bad name"
    );
    assert_eq!(
        ApiError::invalid("", "Pod", "p", &[]).message,
        "Pod \"p\" is invalid"
    );
}

#[test]
fn invalid_drops_duplicate_messages() {
    let e = FieldError::invalid("x", "y", "z");
    let err = ApiError::invalid("", "Pod", "p", &[e.clone(), e]);
    assert_eq!(
        err.message,
        "Pod \"p\" is invalid: x: Invalid value: \"y\": z"
    );
    assert_eq!(err.details.map(|d| d.causes.len()), Some(2));
}

#[test]
fn simple_constructors() {
    let cases = [
        (ApiError::bad_request("nope"), 400, "BadRequest", "nope"),
        (
            ApiError::unauthorized(),
            401,
            "Unauthorized",
            "Unauthorized",
        ),
        (
            ApiError::unauthorized_with(""),
            401,
            "Unauthorized",
            "not authorized",
        ),
        (
            ApiError::expired("too old resource version: 1 (5)"),
            410,
            "Expired",
            "too old resource version: 1 (5)",
        ),
        (ApiError::gone("gone"), 410, "Gone", "gone"),
        (
            ApiError::too_large("limit is 3145728"),
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        ),
        (
            ApiError::unsupported_media_type("x"),
            415,
            "UnsupportedMediaType",
            "x",
        ),
        (ApiError::not_acceptable("y"), 406, "NotAcceptable", "y"),
        (
            ApiError::internal("boom"),
            500,
            "InternalError",
            "Internal error occurred: boom",
        ),
        (ApiError::timeout("slow"), 504, "Timeout", "Timeout: slow"),
        (
            ApiError::too_many_requests("later", 3),
            429,
            "TooManyRequests",
            "later",
        ),
        (
            ApiError::service_unavailable("down"),
            503,
            "ServiceUnavailable",
            "down",
        ),
    ];
    for (e, code, reason, msg) in cases {
        assert_eq!(
            (e.code, e.reason.as_str(), e.message.as_str()),
            (code, reason, msg)
        );
        assert_eq!(e.to_status()["code"], json!(code));
    }
}

#[test]
fn details_shapes_match_kube() {
    assert_eq!(
        ApiError::internal("boom").to_status()["details"],
        json!({"causes":[{"message":"boom"}]})
    );
    assert_eq!(ApiError::timeout("x").to_status()["details"], json!({}));
    assert_eq!(
        ApiError::too_many_requests("x", 5).to_status()["details"],
        json!({"retryAfterSeconds":5})
    );
    assert!(
        ApiError::bad_request("x")
            .to_status()
            .get("details")
            .is_none()
    );
}

#[test]
fn forbidden_forms() {
    assert_eq!(
        ApiError::forbidden("", "pods", "p", "User \"u\" cannot get resource \"pods\"").message,
        "pods \"p\" is forbidden: User \"u\" cannot get resource \"pods\""
    );
    assert_eq!(
        ApiError::forbidden("apps", "deployments", "", "no").message,
        "deployments.apps is forbidden: no"
    );
    assert_eq!(
        ApiError::forbidden("", "", "", "no").message,
        "forbidden: no"
    );
}

#[test]
fn method_and_media_type_messages() {
    let e = ApiError::method_not_allowed("", "pods", "deletecollection");
    assert_eq!(e.code, 405);
    assert_eq!(
        e.message,
        "deletecollection is not supported on resources of kind \"pods\""
    );
    assert_eq!(
        ApiError::unsupported_media_type_accepted(&["application/json", "application/yaml"])
            .message,
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
    );
    assert_eq!(
        ApiError::not_acceptable_accepted(&["application/json"]).message,
        "only the following media types are accepted: application/json"
    );
}

#[test]
fn apply_conflict_carries_causes() {
    let cause = StatusCause {
        reason: "FieldManagerConflict".into(),
        message: "conflict with \"kubectl\"".into(),
        field: ".spec.replicas".into(),
    };
    let e = ApiError::apply_conflict(vec![cause], "Apply failed with 1 conflict");
    assert_eq!(
        e.to_status()["details"],
        json!({"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kubectl\"","field":".spec.replicas"}]})
    );
}

#[test]
fn names_with_quotes_are_go_quoted() {
    assert_eq!(
        ApiError::not_found("", "secrets", "a\"b").message,
        "secrets \"a\\\"b\" not found"
    );
}

#[test]
fn from_status_round_trips() {
    let errors = [
        ApiError::not_found("apps", "deployments", "d"),
        ApiError::invalid("", "Pod", "p", &[FieldError::required("spec", "")]),
        ApiError::too_many_requests("slow down", 2),
        ApiError::timeout("x"),
        ApiError::bad_request("bad"),
    ];
    for e in errors {
        assert_eq!(ApiError::from_status(&e.to_status()), Some(e));
    }
    assert_eq!(ApiError::from_status(&json!({"kind":"Pod"})), None);
    assert_eq!(
        ApiError::from_status(&json!({"kind":"Status","status":"Success"})),
        None
    );
}
