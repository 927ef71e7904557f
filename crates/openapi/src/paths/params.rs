//! Path and query parameters of the operations.

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
}

/// The JSON type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamType {
    String,
    Boolean,
    Integer,
}

/// A path or query parameter.
#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) name: &'static str,
    pub(crate) location: In,
    pub(crate) ty: ParamType,
    pub(crate) description: &'static str,
}

const fn query(name: &'static str, ty: ParamType, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        ty,
        description,
    }
}

pub(super) const NAME: Param = Param {
    name: "name",
    location: In::Path,
    ty: ParamType::String,
    description: "name of the object",
};
pub(super) const NAMESPACE: Param = Param {
    name: "namespace",
    location: In::Path,
    ty: ParamType::String,
    description: "object name and auth scope, such as for teams and projects",
};
pub(super) const PRETTY: Param = query(
    "pretty",
    ParamType::String,
    "If 'true', then the output is pretty printed.",
);
pub(super) const DRY_RUN: Param = query(
    "dryRun",
    ParamType::String,
    "When present, indicates that modifications should not be persisted. Valid values are: - All",
);
pub(super) const FIELD_MANAGER: Param = query(
    "fieldManager",
    ParamType::String,
    "The name of the actor or entity making these changes.",
);
pub(super) const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    ParamType::String,
    "How the server handles unknown or duplicate fields in the request: Ignore, Warn or Strict.",
);
pub(super) const FORCE: Param = query(
    "force",
    ParamType::Boolean,
    "Force an apply request to take conflicting fields.",
);
pub(super) const GRACE_PERIOD: Param = query(
    "gracePeriodSeconds",
    ParamType::Integer,
    "The duration in seconds before the object should be deleted.",
);
pub(super) const ORPHAN: Param = query(
    "orphanDependents",
    ParamType::Boolean,
    "Deprecated: use propagationPolicy. Whether dependent objects should be orphaned.",
);
pub(super) const PROPAGATION: Param = query(
    "propagationPolicy",
    ParamType::String,
    "Whether and how garbage collection is performed: Orphan, Background or Foreground.",
);
pub(super) const LIST_PARAMS: [Param; 10] = [
    query(
        "allowWatchBookmarks",
        ParamType::Boolean,
        "Request watch events of type BOOKMARK.",
    ),
    query(
        "continue",
        ParamType::String,
        "The continue token of a previous, chunked list call.",
    ),
    query(
        "fieldSelector",
        ParamType::String,
        "A selector restricting the returned objects by fields.",
    ),
    query(
        "labelSelector",
        ParamType::String,
        "A selector restricting the returned objects by labels.",
    ),
    query(
        "limit",
        ParamType::Integer,
        "The maximum number of objects to return.",
    ),
    query(
        "resourceVersion",
        ParamType::String,
        "The resource version the request is served from.",
    ),
    query(
        "resourceVersionMatch",
        ParamType::String,
        "How resourceVersion is applied to list calls: Exact or NotOlderThan.",
    ),
    query(
        "sendInitialEvents",
        ParamType::Boolean,
        "Start a watch with synthetic ADDED events.",
    ),
    query(
        "timeoutSeconds",
        ParamType::Integer,
        "Timeout for the list/watch call.",
    ),
    query(
        "watch",
        ParamType::Boolean,
        "Watch for changes instead of listing.",
    ),
];
pub(super) const LOG_PARAMS: [Param; 8] = [
    query(
        "container",
        ParamType::String,
        "The container whose logs are streamed.",
    ),
    query("follow", ParamType::Boolean, "Follow the log stream."),
    query(
        "limitBytes",
        ParamType::Integer,
        "Stop after this many bytes.",
    ),
    query(
        "previous",
        ParamType::Boolean,
        "Return the previous terminated container's logs.",
    ),
    query(
        "sinceSeconds",
        ParamType::Integer,
        "Relative time in seconds to start the logs from.",
    ),
    query(
        "sinceTime",
        ParamType::String,
        "An RFC3339 timestamp to start the logs from.",
    ),
    query(
        "tailLines",
        ParamType::Integer,
        "The number of lines from the end of the logs to show.",
    ),
    query(
        "timestamps",
        ParamType::Boolean,
        "Prefix every line with an RFC3339 timestamp.",
    ),
];
