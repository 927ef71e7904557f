//! The recent events this replica recorded, kept in memory for the query API: a window bounded
//! by count and by bytes (the oldest go first), filtered, sorted and paged on query.
//!
//! Why memory and not the file: the query answers from the same window whatever the file
//! backend's rotation did, without parsing files on every query, and its cost is bounded.
//! Each replica keeps the events it recorded; with several replicas the webhook backend is
//! the place where all events meet (documented in docs/observability.md).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use super::event::Event;

/// A bounded window of recent events.
pub struct Store {
    max_events: usize,
    max_bytes: usize,
    inner: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    events: VecDeque<(Arc<Event>, usize)>,
    bytes: usize,
}

/// What a query asks for (KubeSphere's auditing query parameters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Exact user names (any of).
    pub users: Vec<String>,
    /// Substring of the user name.
    pub user_search: Option<String>,
    /// Exact workspaces (any of).
    pub workspaces: Vec<String>,
    /// Substring of the workspace.
    pub workspace_search: Option<String>,
    /// Exact clusters (any of).
    pub clusters: Vec<String>,
    /// Exact namespaces (any of).
    pub namespaces: Vec<String>,
    /// Substring of the namespace.
    pub namespace_search: Option<String>,
    /// Exact resources (any of).
    pub resources: Vec<String>,
    /// Exact object names (any of).
    pub names: Vec<String>,
    /// Substring of the object name.
    pub name_search: Option<String>,
    /// Exact verbs (any of).
    pub verbs: Vec<String>,
    /// Exact response codes (any of).
    pub codes: Vec<u16>,
    /// Received at or after (unix seconds).
    pub start: Option<i64>,
    /// Received at or before (unix seconds).
    pub end: Option<i64>,
    /// Skip this many.
    pub from: usize,
    /// Return at most this many.
    pub size: usize,
    /// Oldest first (default newest first).
    pub ascending: bool,
}

/// The largest page a query may ask for.
pub const MAX_PAGE: usize = 1000;

impl Query {
    /// Parses KubeSphere's auditing query string; bad values are refused with the reason.
    pub fn parse(raw: &str) -> Result<Query, String> {
        let mut q = Query {
            size: 10,
            ..Default::default()
        };
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let search = |v: &str| Some(v.trim().to_lowercase()).filter(|s| !s.is_empty());
        let int = |k: &str, v: &str| -> Result<i64, String> {
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("{k} must be an integer, got {v:?}"))
        };
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            match k.as_ref() {
                "user_filter" => q.users = list(&v),
                "user_search" => q.user_search = search(&v),
                "workspace_filter" => q.workspaces = list(&v),
                "workspace_search" => q.workspace_search = search(&v),
                "cluster_filter" => q.clusters = list(&v),
                "objectref_namespace_filter" => q.namespaces = list(&v),
                "objectref_namespace_search" => q.namespace_search = search(&v),
                "objectref_resource_filter" => q.resources = list(&v),
                "objectref_name_filter" => q.names = list(&v),
                "objectref_name_search" => q.name_search = search(&v),
                "verb_filter" => q.verbs = list(&v),
                "response_code_filter" => {
                    q.codes = list(&v)
                        .iter()
                        .map(|c| {
                            c.parse::<u16>().map_err(|_| {
                                format!("response_code_filter: {c:?} is not an HTTP status code")
                            })
                        })
                        .collect::<Result<_, _>>()?
                }
                "start_time" => q.start = Some(int(&k, &v)?),
                "end_time" => q.end = Some(int(&k, &v)?),
                "from" => {
                    q.from = usize::try_from(int(&k, &v)?)
                        .map_err(|_| "from must not be negative".to_string())?
                }
                "size" => {
                    let size = int(&k, &v)?;
                    if !(0..=MAX_PAGE as i64).contains(&size) {
                        return Err(format!("size must be between 0 and {MAX_PAGE}"));
                    }
                    q.size = size as usize;
                }
                "sort" => {
                    q.ascending = match v.as_ref() {
                        "asc" => true,
                        "desc" | "" => false,
                        other => return Err(format!("sort must be asc or desc, got {other:?}")),
                    }
                }
                _ => {}
            }
        }
        if let (Some(s), Some(e)) = (q.start, q.end)
            && s > e
        {
            return Err("start_time is after end_time".into());
        }
        Ok(q)
    }

    fn matches(&self, e: &Event) -> bool {
        let any = |set: &[String], v: &str| set.is_empty() || set.iter().any(|s| s == v);
        let like = |s: &Option<String>, v: &str| {
            s.as_ref()
                .is_none_or(|s| v.to_lowercase().contains(s.as_str()))
        };
        let obj = e.object_ref.clone().unwrap_or_default();
        let ws = e.workspace().unwrap_or_default();
        let secs = e.received_micros.div_euclid(1_000_000);
        any(&self.users, &e.user.username)
            && like(&self.user_search, &e.user.username)
            && any(&self.workspaces, ws)
            && like(&self.workspace_search, ws)
            && any(&self.clusters, e.cluster().unwrap_or_default())
            && any(&self.namespaces, &obj.namespace)
            && like(&self.namespace_search, &obj.namespace)
            && any(&self.resources, &obj.resource)
            && any(&self.names, &obj.name)
            && like(&self.name_search, &obj.name)
            && any(&self.verbs, &e.verb)
            && (self.codes.is_empty()
                || e.response_status
                    .as_ref()
                    .is_some_and(|s| self.codes.contains(&s.code)))
            && self.start.is_none_or(|s| secs >= s)
            && self.end.is_none_or(|end| secs <= end)
    }
}

/// Which workspaces' events a caller may read.
#[derive(Debug, Clone)]
pub enum Visible {
    /// Every event (platform administrators).
    All,
    /// Only events annotated with one of these workspaces.
    Workspaces(HashSet<String>),
}

impl Store {
    /// An empty window of at most `max_events` events and about `max_bytes` bytes.
    pub fn new(max_events: usize, max_bytes: usize) -> Store {
        Store {
            max_events,
            max_bytes,
            inner: Mutex::new(Window::default()),
        }
    }

    /// Adds an event whose JSON takes `bytes`, dropping the oldest beyond the bounds.
    pub fn push(&self, event: Arc<Event>, bytes: usize) {
        if self.max_events == 0 {
            return;
        }
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        w.events.push_back((event, bytes));
        w.bytes += bytes;
        while w.events.len() > self.max_events || w.bytes > self.max_bytes && w.events.len() > 1 {
            if let Some((_, b)) = w.events.pop_front() {
                w.bytes -= b;
            }
        }
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The events matching `q` that `visible` lets through: the total and one page.
    pub fn query(&self, q: &Query, visible: &Visible) -> (usize, Vec<Arc<Event>>) {
        let mut hits: Vec<Arc<Event>> = {
            let w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            w.events
                .iter()
                .map(|(e, _)| e)
                .filter(|e| match visible {
                    Visible::All => true,
                    Visible::Workspaces(set) => e.workspace().is_some_and(|ws| set.contains(ws)),
                })
                .filter(|e| q.matches(e))
                .cloned()
                .collect()
        };
        // Events are stored as requests complete; order by arrival as the query promises.
        hits.sort_by_key(|e| e.received_micros);
        if !q.ascending {
            hits.reverse();
        }
        let total = hits.len();
        let page = hits.into_iter().skip(q.from).take(q.size).collect();
        (total, page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{
        API_VERSION, CLUSTER_ANNOTATION, Level, ObjectReference, ResponseStatus, User,
        WORKSPACE_ANNOTATION,
    };
    use std::collections::BTreeMap;

    fn ev(user: &str, ws: &str, verb: &str, code: u16, secs: i64) -> Arc<Event> {
        let mut annotations = BTreeMap::from([(CLUSTER_ANNOTATION.to_string(), "host".into())]);
        if !ws.is_empty() {
            annotations.insert(WORKSPACE_ANNOTATION.into(), ws.into());
        }
        Arc::new(Event {
            kind: "Event".into(),
            api_version: API_VERSION.into(),
            level: Level::Metadata,
            audit_id: format!("{user}-{secs}"),
            stage: "ResponseComplete".into(),
            request_uri: "/x".into(),
            verb: verb.into(),
            user: User {
                username: user.into(),
                groups: vec![],
            },
            source_ips: vec![],
            user_agent: String::new(),
            object_ref: Some(ObjectReference {
                resource: "configmaps".into(),
                namespace: format!("{ws}-p"),
                name: format!("cm-{secs}"),
                ..Default::default()
            }),
            response_status: Some(ResponseStatus {
                code,
                ..Default::default()
            }),
            request_object: None,
            response_object: None,
            request_received_timestamp: String::new(),
            stage_timestamp: String::new(),
            annotations,
            received_micros: secs * 1_000_000,
        })
    }

    fn q(raw: &str) -> Query {
        Query::parse(raw).expect("query")
    }

    #[test]
    fn filters_sorts_and_pages() {
        let s = Store::new(100, 1 << 20);
        s.push(ev("alice", "a", "create", 201, 10), 100);
        s.push(ev("bob", "b", "create", 201, 20), 100);
        s.push(ev("carol", "b", "create", 403, 30), 100);
        s.push(ev("admin", "", "delete", 200, 40), 100);
        let all = Visible::All;
        let (n, page) = s.query(&q(""), &all);
        assert_eq!(n, 4);
        assert_eq!(page[0].user.username, "admin");
        let (n, page) = s.query(&q("workspace_filter=b&sort=asc"), &all);
        assert_eq!(n, 2);
        assert_eq!(page[0].user.username, "bob");
        assert_eq!(s.query(&q("user_filter=alice,carol"), &all).0, 2);
        assert_eq!(s.query(&q("user_search=AR"), &all).0, 1);
        assert_eq!(s.query(&q("response_code_filter=403"), &all).0, 1);
        assert_eq!(s.query(&q("verb_filter=delete"), &all).0, 1);
        assert_eq!(s.query(&q("start_time=15&end_time=30"), &all).0, 2);
        assert_eq!(s.query(&q("objectref_name_filter=cm-20"), &all).0, 1);
        assert_eq!(s.query(&q("objectref_namespace_filter=a-p"), &all).0, 1);
        let (n, page) = s.query(&q("from=1&size=2"), &all);
        assert_eq!((n, page.len()), (4, 2));
        assert_eq!(page[0].user.username, "carol");
        // A tenant of `a` sees `a` only, whatever it asks.
        let only_a = Visible::Workspaces(HashSet::from(["a".to_string()]));
        assert_eq!(s.query(&q(""), &only_a).0, 1);
        assert_eq!(s.query(&q("workspace_filter=b"), &only_a).0, 0);
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let s = Store::new(3, 1 << 20);
        for i in 0..5 {
            s.push(ev("u", "a", "create", 200, i), 10);
        }
        assert_eq!(s.len(), 3);
        let (_, page) = s.query(&q("sort=asc"), &Visible::All);
        assert_eq!(page[0].received_micros, 2_000_000);
        let s = Store::new(100, 250);
        for i in 0..5 {
            s.push(ev("u", "a", "create", 200, i), 100);
        }
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn bad_queries_are_refused() {
        for bad in [
            "size=-1",
            "size=5000",
            "from=x",
            "sort=up",
            "response_code_filter=abc",
            "start_time=10&end_time=5",
        ] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }
}
