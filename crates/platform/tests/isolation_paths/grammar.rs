//! Request paths generated from the URL grammar: `[/clusters/{c}]/{api/v1 | apis/{g}/{v} |
//! kapis/{g}/{v}}[/watch][/workspaces/{ws}][/namespaces/{ns}]/{resource}[/{name}[/{sub}]]`,
//! or one of the observability routes of issue 16 with its query parameters
//! ([`crate::observability`]), or an installed extension's routes (`/kapis/hello.kubesphere.io/
//! v1alpha1/…` of its APIService, `/proxy/hello/…` of its ReverseProxy, `/dist/hello/…` of its
//! JSBundle: [`crate::extension`], in the same grammar), then one distortion of the spelling (percent-encoding of any
//! character, dot segments, encoded dots and slashes, double and trailing slashes, case
//! changes), a method, upgrade headers and a caller. Every choice is an index, so proptest
//! shrinks towards the first (plainest) option of each.

use proptest::prelude::*;

use crate::observability::{self, Obs};

/// `(prefix, group, version)` of each API tried, the first ones matching a real API.
pub const APIS: [(&str, &str, &str); 19] = [
    ("api", "", "v1"),
    ("apis", "rbac.authorization.k8s.io", "v1"),
    ("apis", "iam.kubesphere.io", "v1beta1"),
    ("apis", "tenant.kubesphere.io", "v1beta1"),
    ("apis", "cluster.kubesphere.io", "v1alpha1"),
    ("apis", "apps", "v1"),
    ("apis", "storage.k8s.io", "v1"),
    ("apis", "apiextensions.k8s.io", "v1"),
    ("kapis", "iam.kubesphere.io", "v1beta1"),
    ("kapis", "tenant.kubesphere.io", "v1beta1"),
    ("kapis", "resources.kubesphere.io", "v1alpha3"),
    ("kapis", "search.orrery.io", "v1alpha1"),
    ("kapis", "cluster.kubesphere.io", "v1alpha1"),
    ("kapis", "application.kubesphere.io", "v2"),
    ("apis", "nope.example.com", "v1"),
    ("api", "", "v2"),
    // The fixture's extension: its APIService's group, its ReverseProxy's and its JSBundle's
    // path prefixes (the "version" is the extension's name).
    ("kapis", "hello.kubesphere.io", "v1alpha1"),
    ("proxy", "", "hello"),
    ("dist", "", "hello"),
];

/// Resources each API of [`APIS`] serves (or routes), by the same index.
fn own_resources(api: usize) -> &'static [&'static str] {
    match api {
        0 => &[
            "configmaps",
            "secrets",
            "namespaces",
            "pods",
            "nodes",
            "services",
            "serviceaccounts",
            "persistentvolumes",
            "events",
        ],
        1 => &[
            "rolebindings",
            "roles",
            "clusterrolebindings",
            "clusterroles",
        ],
        2 => &[
            "users",
            "globalrolebindings",
            "globalroles",
            "workspacerolebindings",
            "workspaceroles",
            "rolebindings",
            "roles",
            "clusterrolebindings",
            "clusterroles",
            "loginrecords",
            "roletemplates",
        ],
        3 => &["workspaces", "workspacetemplates"],
        4 => &["clusters", "labels"],
        5 => &["deployments", "replicasets"],
        6 => &["storageclasses"],
        7 => &["customresourcedefinitions"],
        8 => &[
            "users",
            "namespacemembers",
            "workspacemembers",
            "clustermembers",
            "roles",
            "workspaceroles",
            "clusterroles",
            "globalroles",
            "roletemplates",
        ],
        9 => &[
            "namespaces",
            "workspaces",
            "workspacetemplates",
            "clusters",
            "resourcequotas",
        ],
        10 => &[
            "secrets",
            "users",
            "configmaps",
            "nodes",
            "namespaces",
            "deployments",
            "roles",
        ],
        11 => &["resources"],
        12 => &["clusters"],
        13 => &["apps", "categories", "applications", "reviews", "repos"],
        16 => &["hellos", "greetings"],
        17 => &["status", "greetings"],
        18 => &["index.js", "assets"],
        _ => &["pods", "widgets"],
    }
}

/// Every (API, resource) pair of [`own_resources`].
fn pairs() -> Vec<(usize, &'static str)> {
    (0..APIS.len())
        .flat_map(|a| own_resources(a).iter().map(move |r| (a, *r)))
        .collect()
}

/// Clusters addressed: none (the host's native routes), the host by alias, the member, and a
/// cluster that does not exist.
pub const TARGETS: [Option<&str>; 4] = [None, Some("host"), Some("member"), Some("nowhere")];
/// Namespaces named, by their role for the cluster addressed: its project of workspace `a`,
/// its project of workspace `b`, the other cluster's project of `a`, the platform's namespace,
/// `default`, and one that does not exist.
pub const NAMESPACE_ROLES: usize = 6;

/// The namespace of a role for a cluster (`None`: the host's native routes).
pub fn namespace(role: usize, cluster: Option<&str>) -> &'static str {
    let member = cluster == Some("member");
    match role {
        0 if member => "a-mp",
        0 => "a-p",
        1 if member => "b-mp",
        1 => "b-p",
        2 if member => "a-p",
        2 => "a-mp",
        3 => "kubesphere-system",
        4 => "default",
        _ => "nowhere",
    }
}
/// Workspaces named.
pub const WORKSPACES: [&str; 3] = ["a", "b", "nowhere"];
/// Object names.
pub const NAMES: [&str; 9] = [
    "seed",
    "admin",
    "nsviewer",
    "a-p",
    "b-p",
    "a",
    "b",
    "kubesphere-system",
    "p1",
];
/// Subresources.
pub const SUBRESOURCES: [&str; 11] = [
    "status",
    "log",
    "exec",
    "attach",
    "portforward",
    "password",
    "scale",
    "finalize",
    "loginrecords",
    "kubeconfig",
    "bogus",
];
/// `watch` query values (Go's ParseBool reads the first two as true).
pub const WATCH_VALUES: [&str; 4] = ["true", "1", "false", "yes"];
/// Methods.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Upgrade header sets.
pub const UPGRADES: [&[(&str, &str)]; 3] = [
    &[],
    &[("upgrade", "x")],
    &[("connection", "Upgrade"), ("upgrade", "websocket")],
];

/// A distortion of the path's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distortion {
    /// None.
    None,
    /// Percent-encode one character (any, letters included), upper-case hex.
    Encode,
    /// Percent-encode one character, lower-case hex.
    EncodeLower,
    /// Percent-encode every character of a segment.
    EncodeSegment,
    /// Encode the `%` of an encoding again (`%2573`: a literal `%73`, not `s`).
    DoubleEncode,
    /// Insert a `.` segment.
    Dot,
    /// Insert `{seg}/..` (climbs back to the same path once resolved).
    DotDot,
    /// Insert `%2e%2e`.
    EncodedDotDot,
    /// Insert `%2e`.
    EncodedDot,
    /// Join two segments with `%2f`.
    EncodedSlash,
    /// Double one slash.
    DoubleSlash,
    /// Add a trailing slash.
    TrailingSlash,
    /// Upper-case a segment.
    Upper,
    /// Capitalise a segment.
    Capitalize,
    /// Append `%00` to a segment.
    Nul,
    /// Append an invalid UTF-8 byte (`%ff`) to a segment.
    BadUtf8,
}

const DISTORTIONS: [Distortion; 16] = [
    Distortion::None,
    Distortion::Encode,
    Distortion::EncodeLower,
    Distortion::EncodeSegment,
    Distortion::DoubleEncode,
    Distortion::Dot,
    Distortion::DotDot,
    Distortion::EncodedDotDot,
    Distortion::EncodedDot,
    Distortion::EncodedSlash,
    Distortion::DoubleSlash,
    Distortion::TrailingSlash,
    Distortion::Upper,
    Distortion::Capitalize,
    Distortion::Nul,
    Distortion::BadUtf8,
];

/// One generated request (indexes into the tables above), sent once per user.
#[derive(Debug, Clone)]
pub struct Case {
    /// Method.
    pub method: usize,
    /// Upgrade headers.
    pub upgrade: usize,
    /// Cluster prefix.
    pub target: usize,
    /// (API, resource) pair.
    pub pair: usize,
    /// The resource of another pair instead (a group that does not serve it).
    pub mismatch: Option<usize>,
    /// `watch/` path segment.
    pub watch_path: bool,
    /// `watch=` query.
    pub watch_query: Option<usize>,
    /// `workspaces/{ws}/`.
    pub workspace: Option<usize>,
    /// `namespaces/{ns}/` (a role of [`namespace`]).
    pub namespace: Option<usize>,
    /// Object name.
    pub name: Option<usize>,
    /// Subresource (with a name only): one of the resource's own (first `< 8`) or any.
    pub sub: Option<(usize, usize)>,
    /// Distortion, and where (segment and character, taken modulo).
    pub distortion: (usize, usize, usize),
    /// An observability route instead of the resource grammar (the cluster prefix, method,
    /// upgrade headers and distortion still apply).
    pub obs: Option<Obs>,
}

/// The generator.
pub fn cases() -> impl Strategy<Value = Case> {
    let n_pairs = pairs().len();
    let shape = (
        prop_oneof![4 => Just(0usize), 3 => Just(1usize), 3 => Just(2usize), 1 => Just(3usize)],
        0..n_pairs,
        proptest::option::weighted(0.1, 0..n_pairs),
        proptest::bool::weighted(0.15),
        proptest::option::weighted(0.2, 0..WATCH_VALUES.len()),
        proptest::option::weighted(0.25, 0..WORKSPACES.len()),
        proptest::option::weighted(0.55, 0..NAMESPACE_ROLES),
        proptest::option::weighted(0.5, 0..NAMES.len()),
        proptest::option::weighted(0.3, (0..10usize, 0..SUBRESOURCES.len())),
    );
    let how = (
        prop_oneof![4 => Just(0usize), 6 => 1..METHODS.len()],
        prop_oneof![6 => Just(0usize), 2 => Just(1usize), 2 => Just(2usize)],
        prop_oneof![3 => Just(0usize), 2 => 1..DISTORTIONS.len()],
        0..16usize,
        0..32usize,
        proptest::option::weighted(OBSERVABILITY_SHARE, observability::strategy()),
    );
    (shape, how).prop_map(
        |(
            (target, pair, mismatch, watch_path, watch_query, workspace, namespace, name, sub),
            (method, upgrade, d, seg, ch, obs),
        )| Case {
            method,
            upgrade,
            target,
            pair,
            mismatch,
            watch_path,
            watch_query,
            workspace,
            namespace,
            name,
            sub,
            distortion: (d, seg, ch),
            obs,
        },
    )
}

/// The share of generated requests that are observability routes.
pub const OBSERVABILITY_SHARE: f64 = 0.3;

fn encode_byte(b: u8, lower: bool) -> String {
    if lower {
        format!("%{b:02x}")
    } else {
        format!("%{b:02X}")
    }
}

fn encode_all(s: &str) -> String {
    s.bytes().map(|b| encode_byte(b, false)).collect()
}

impl Case {
    /// The API addressed.
    pub fn api(&self) -> usize {
        let p = pairs();
        p[self.pair % p.len()].0
    }

    /// The resource named.
    pub fn resource(&self) -> &'static str {
        let p = pairs();
        p[self.mismatch.unwrap_or(self.pair) % p.len()].1
    }

    /// The subresource named, if any.
    pub fn subresource(&self) -> Option<&'static str> {
        let (own, i) = self.sub?;
        let subs: &[&str] = match self.resource() {
            "pods" => &["exec", "attach", "portforward", "log", "status"],
            "users" => &["password", "loginrecords", "kubeconfig", "tokens"],
            "namespaces" => &["status", "finalize"],
            "deployments" | "replicasets" => &["scale", "status"],
            _ => &[],
        };
        if own < 8 && !subs.is_empty() {
            Some(subs[i % subs.len()])
        } else {
            Some(SUBRESOURCES[i % SUBRESOURCES.len()])
        }
    }

    /// The segments before distortion.
    pub fn segments(&self) -> Vec<String> {
        let mut s: Vec<String> = Vec::new();
        if let Some(c) = TARGETS[self.target] {
            s.extend(["clusters".to_string(), c.to_string()]);
        }
        if let Some(o) = &self.obs {
            s.extend(o.segments(TARGETS[self.target]));
            return s;
        }
        let (prefix, group, version) = APIS[self.api()];
        s.push(prefix.into());
        if !group.is_empty() {
            s.push(group.into());
        }
        s.push(version.into());
        if self.watch_path {
            s.push("watch".into());
        }
        if let Some(w) = self.workspace {
            s.extend(["workspaces".to_string(), WORKSPACES[w].to_string()]);
        }
        if let Some(n) = self.namespace {
            let ns = namespace(n, TARGETS[self.target]);
            s.extend(["namespaces".to_string(), ns.to_string()]);
        }
        s.push(self.resource().into());
        if let Some(n) = self.name {
            s.push(NAMES[n].into());
            if let Some(sub) = self.subresource() {
                s.push(sub.into());
            }
        }
        s
    }

    /// The raw path as sent.
    pub fn raw_path(&self) -> String {
        let mut segs = self.segments();
        let (d, seg, ch) = self.distortion;
        let i = seg % segs.len();
        match DISTORTIONS[d % DISTORTIONS.len()] {
            Distortion::None => {}
            Distortion::Encode | Distortion::EncodeLower => {
                let bytes = segs[i].as_bytes();
                let at = ch % bytes.len();
                let lower = DISTORTIONS[d % DISTORTIONS.len()] == Distortion::EncodeLower;
                segs[i] = format!(
                    "{}{}{}",
                    &segs[i][..at],
                    encode_byte(bytes[at], lower),
                    &segs[i][at + 1..]
                );
            }
            Distortion::EncodeSegment => segs[i] = encode_all(&segs[i]),
            Distortion::DoubleEncode => {
                let bytes = segs[i].as_bytes();
                let at = ch % bytes.len();
                segs[i] = format!(
                    "{}%25{:02X}{}",
                    &segs[i][..at],
                    bytes[at],
                    &segs[i][at + 1..]
                );
            }
            Distortion::Dot => segs.insert(i, ".".into()),
            Distortion::DotDot => {
                let again = segs[i].clone();
                segs.insert(i + 1, "..".into());
                segs.insert(i + 2, again);
            }
            Distortion::EncodedDotDot => segs.insert(i, "%2e%2e".into()),
            Distortion::EncodedDot => segs.insert(i, "%2E".into()),
            Distortion::EncodedSlash => {
                if i + 1 < segs.len() {
                    let next = segs.remove(i + 1);
                    segs[i] = format!("{}%2F{next}", segs[i]);
                } else {
                    segs[i] = format!("{}%2f", segs[i]);
                }
            }
            Distortion::DoubleSlash => segs.insert(i, String::new()),
            Distortion::TrailingSlash => segs.push(String::new()),
            Distortion::Upper => segs[i] = segs[i].to_ascii_uppercase(),
            Distortion::Capitalize => {
                let mut c = segs[i].chars();
                segs[i] = match c.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                };
            }
            Distortion::Nul => segs[i].push_str("%00"),
            Distortion::BadUtf8 => segs[i].push_str("%ff"),
        }
        format!("/{}", segs.join("/"))
    }

    /// Method (observability routes are read with GET unless the case writes).
    pub fn method(&self) -> &'static str {
        match &self.obs {
            Some(o) if !o.write => "GET",
            _ => METHODS[self.method],
        }
    }

    /// Whether the body of a successful answer is read and judged (not a watch's: it would
    /// not end).
    pub fn reads_body(&self) -> bool {
        (self.obs.is_some() && self.method() == "GET" && self.watch_query.is_none())
            || self.extension()
    }

    /// Whether it names the fixture's extension's routes (whose backend answers at once,
    /// watches included, so its answers are read and judged).
    pub fn extension(&self) -> bool {
        let (_, group, version) = APIS[self.api()];
        self.obs.is_none() && (version == "hello" || group == "hello.kubesphere.io")
    }

    /// Whether it writes.
    pub fn is_write(&self) -> bool {
        self.method() != "GET"
    }

    /// Query pairs: the `watch` flag; writes are dry runs.
    pub fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        if let Some(o) = &self.obs {
            q = o.query(TARGETS[self.target]);
        }
        if let Some(w) = self.watch_query {
            q.push(("watch".to_string(), WATCH_VALUES[w].to_string()));
        }
        if self.is_write() {
            q.push(("dryRun".to_string(), "All".to_string()));
        }
        q
    }

    /// The upgrade headers sent.
    pub fn headers(&self) -> &'static [(&'static str, &'static str)] {
        UPGRADES[self.upgrade]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Case {
        Case {
            method: 0,
            upgrade: 0,
            target: 0,
            pair: 0,
            mismatch: None,
            watch_path: false,
            watch_query: None,
            workspace: None,
            namespace: Some(0),
            name: Some(0),
            sub: None,
            distortion: (0, 0, 0),
            obs: None,
        }
    }

    #[test]
    fn renders_the_grammar_and_its_distortions() {
        let c = plain();
        assert_eq!(c.raw_path(), "/api/v1/namespaces/a-p/configmaps/seed");
        let d = |d: usize, seg: usize, ch: usize| {
            Case {
                distortion: (d, seg, ch),
                ..plain()
            }
            .raw_path()
        };
        assert_eq!(d(1, 4, 0), "/api/v1/namespaces/a-p/%63onfigmaps/seed");
        assert_eq!(d(2, 0, 0), "/%61pi/v1/namespaces/a-p/configmaps/seed");
        assert_eq!(d(4, 5, 1), "/api/v1/namespaces/a-p/configmaps/s%2565ed");
        assert_eq!(d(6, 1, 0), "/api/v1/../v1/namespaces/a-p/configmaps/seed");
        assert_eq!(d(9, 2, 0), "/api/v1/namespaces%2Fa-p/configmaps/seed");
        assert_eq!(d(11, 0, 0), "/api/v1/namespaces/a-p/configmaps/seed/");
        assert_eq!(d(13, 4, 0), "/api/v1/namespaces/a-p/Configmaps/seed");
        let kapis_members = pairs()
            .iter()
            .position(|(a, r)| APIS[*a].0 == "kapis" && *r == "workspacemembers")
            .expect("pair");
        let c = Case {
            target: 2,
            pair: kapis_members,
            workspace: Some(0),
            namespace: None,
            name: None,
            ..plain()
        };
        assert_eq!(
            c.raw_path(),
            "/clusters/member/kapis/iam.kubesphere.io/v1beta1/workspaces/a/workspacemembers"
        );
        // The extension's routes, in the same grammar.
        let pair = |prefix: &str, resource: &str| {
            pairs()
                .iter()
                .position(|(a, r)| APIS[*a].0 == prefix && *r == resource)
                .expect("pair")
        };
        let c = Case {
            pair: pair("proxy", "status"),
            namespace: None,
            ..plain()
        };
        assert_eq!(c.raw_path(), "/proxy/hello/status/seed");
        assert!(c.extension() && c.reads_body());
        let c = Case {
            pair: pair("kapis", "hellos"),
            ..plain()
        };
        assert_eq!(
            c.raw_path(),
            "/kapis/hello.kubesphere.io/v1alpha1/namespaces/a-p/hellos/seed"
        );
        assert!(c.extension());
        let c = Case {
            pair: pair("dist", "index.js"),
            namespace: None,
            name: None,
            ..plain()
        };
        assert_eq!(c.raw_path(), "/dist/hello/index.js");
        assert!(!plain().extension());
    }

    #[test]
    fn renders_the_observability_routes() {
        let obs = |route: usize, ns: usize, params: usize| Obs {
            route,
            ns,
            ws: 1,
            pick: 0,
            params,
            wrong_version: false,
            range: false,
            write: false,
        };
        let c = Case {
            target: 2,
            obs: Some(obs(9, 1, 2)),
            ..plain()
        };
        assert_eq!(
            c.raw_path(),
            "/clusters/member/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/b-mp/targets/query"
        );
        assert_eq!(
            c.query(),
            [(
                "expr".to_string(),
                r#"kube_pod_info{namespace="b-mp"}"#.to_string()
            )]
        );
        let c = Case {
            obs: Some(obs(17, 0, 1)),
            method: 1,
            ..plain()
        };
        assert_eq!(
            c.raw_path(),
            "/kapis/tenant.kubesphere.io/v1alpha2/workspaces/b/auditing/events"
        );
        assert_eq!(c.method(), "GET", "observability routes are read");
        assert_eq!(
            c.query(),
            [("workspace_filter".to_string(), "b".to_string())]
        );
        let c = Case {
            obs: Some(obs(19, 0, 3)),
            ..plain()
        };
        assert_eq!(
            c.raw_path(),
            "/kapis/tenant.kubesphere.io/v1alpha2/namespaces/a-p/workloads/deployments/web/logs"
        );
        assert_eq!(c.query(), [("namespace".to_string(), "b-p".to_string())]);
    }
}
