//! HorizontalPodAutoscaler, as kube-controller-manager's `horizontal.go` reconciles one: the
//! target through its `scale` subresource (any kind that has one), its metrics against the pods
//! the scale's selector picks (`measure`), the recommendation normalized (`calc`), the new scale
//! written, and the status, conditions and events kube writes.
//!
//! Each HPA is synced every 15 simulated seconds (kube's `--horizontal-pod-autoscaler-sync-period`)
//! and at once when it is created or its spec changes (kube waits a sync period for those too);
//! a pass with no HPAs does nothing. Windows and periods (stabilization, policies, the CPU
//! initialization period, the metrics window) are simulated seconds.
//! HPAs are watched, read and written at `autoscaling/v2` (the API server converts objects
//! written at v1, as kube-apiserver does).

mod calc;
mod measure;
mod spec;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apimachinery::selector::LabelSelector;
use chrono::{DateTime, Utc};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use self::calc::{Cond, History, Timings};
use self::measure::{PodsView, Proposal};
use self::spec::{HpaSpec, TargetRef};
use crate::clock::{SimClock, chrono_duration};
use crate::engine::{Ctx, NextWake, Reconcile};
use crate::events::Involved;
use crate::patch::merge_diff;

const COMPONENT: &str = "horizontal-pod-autoscaler";
/// kube's `--horizontal-pod-autoscaler-sync-period` (simulated).
const SYNC_PERIOD: Duration = Duration::from_secs(15);
/// How long a discovered scale target mapping is trusted.
const MAPPING_TTL: Duration = Duration::from_secs(60);

/// What the controller remembers of one HPA between syncs.
struct Tracked {
    uid: String,
    generation: i64,
    next: Instant,
    history: History,
}

/// HPA controller state.
#[derive(Default)]
pub(crate) struct Hpas {
    tracked: HashMap<String, Tracked>,
    selectors: Selectors,
    mappings: HashMap<(String, String), (ApiResource, Instant)>,
}

/// The `ApiResource` of HPAs at `autoscaling/v2`.
fn hpa_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
    ))
}

impl Reconcile for Hpas {
    const NAME: &'static str = "horizontalpodautoscaler";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let hpas = ctx.hpas.state();
        if hpas.is_empty() {
            self.tracked.clear();
            return None;
        }
        let now = Instant::now();
        let live: HashSet<String> = hpas.iter().map(|h| key(h)).collect();
        self.tracked.retain(|k, _| live.contains(k));
        self.selectors.retain(|k, _| live.contains(k));
        let mut wake = NextWake::default();
        let mut due = Vec::new();
        for h in &hpas {
            if h.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let uid = h.uid().unwrap_or_default();
            let generation = h.metadata.generation.unwrap_or(0);
            let t = self.tracked.entry(key(h)).or_insert_with(|| Tracked {
                uid: uid.clone(),
                generation,
                next: now,
                history: History::default(),
            });
            if t.uid != uid {
                // Deleted and created again under the same name: start afresh.
                t.history = History::default();
            }
            if t.uid != uid || t.generation != generation {
                (t.uid, t.generation, t.next) = (uid, generation, now);
            }
            if t.next <= now {
                due.push(h.clone());
            } else {
                wake.at(t.next);
            }
        }
        if due.is_empty() {
            return wake.get();
        }
        // The pods of the namespaces with an HPA due, each namespace's listed once.
        let namespaces: HashSet<String> = due.iter().filter_map(|h| h.namespace()).collect();
        let mut by_namespace: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        for p in ctx.pods.state() {
            if let Some(ns) = p
                .metadata
                .namespace
                .as_ref()
                .filter(|ns| namespaces.contains(*ns))
            {
                by_namespace.entry(ns.clone()).or_default().push(p);
            }
        }
        for h in due {
            let Some(t) = self.tracked.get_mut(&key(&h)) else {
                continue;
            };
            t.next = Instant::now() + ctx.clock.real(SYNC_PERIOD);
            wake.at(t.next);
            let mut history = std::mem::take(&mut t.history);
            let pods = h
                .namespace()
                .and_then(|ns| by_namespace.get(&ns))
                .map_or(&[][..], Vec::as_slice);
            self.reconcile(ctx, &h, pods, &mut history).await;
            if let Some(t) = self.tracked.get_mut(&key(&h)) {
                t.history = history;
            }
        }
        wake.get()
    }
}

fn key(h: &DynamicObject) -> String {
    format!("{}/{}", h.namespace().unwrap_or_default(), h.name_any())
}

/// One sync's view of an HPA: what it is, the status being built, and how to report.
struct Sync<'a> {
    ctx: &'a Ctx,
    obj: Value,
    spec: HpaSpec,
    status: Value,
    now: DateTime<Utc>,
}

impl Sync<'_> {
    fn namespace(&self) -> &str {
        self.obj["metadata"]["namespace"].as_str().unwrap_or("")
    }

    fn involved(&self) -> Involved {
        let meta = &self.obj["metadata"];
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        Involved {
            api_version: text(&self.obj["apiVersion"]),
            kind: "HorizontalPodAutoscaler".into(),
            namespace: meta["namespace"].as_str().map(str::to_string),
            name: text(&meta["name"]),
            uid: text(&meta["uid"]),
            field_path: None,
        }
    }

    fn warn(&self, reason: &str, message: String) {
        self.ctx
            .events
            .warning(COMPONENT, self.involved(), reason, message);
    }

    /// `setCondition`: replaces the condition of that type, keeping its transition time when
    /// its status is unchanged; appends a new one.
    fn set_condition(&mut self, kind: &str, c: &Cond) {
        let status = if c.status { "True" } else { "False" };
        let now = self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if !self.status["conditions"].is_array() {
            self.status["conditions"] = json!([]);
        }
        let list = self.status["conditions"].as_array_mut().expect("array");
        let fresh = json!({"type": kind, "status": status, "lastTransitionTime": now, "reason": c.reason, "message": c.message});
        match list.iter_mut().find(|x| x["type"] == kind) {
            Some(existing) => {
                let at = if existing["status"] == status {
                    existing["lastTransitionTime"].clone()
                } else {
                    json!(now)
                };
                *existing = fresh;
                existing["lastTransitionTime"] = at;
            }
            None => list.push(fresh),
        }
    }

    fn cond(&mut self, kind: &str, status: bool, reason: &'static str, message: String) {
        self.set_condition(
            kind,
            &Cond {
                status,
                reason,
                message,
            },
        );
    }

    /// `setCurrentReplicasAndMetricsInStatus`.
    fn set_current(&mut self, current: i32, metrics: &[Value]) {
        self.status["currentReplicas"] = json!(current);
        if metrics.is_empty() {
            remove(&mut self.status, "currentMetrics");
        } else {
            self.status["currentMetrics"] = json!(metrics);
        }
    }
}

fn remove(v: &mut Value, key: &str) {
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
}

/// What `computeReplicasForMetrics` found.
struct Computed {
    replicas: i32,
    metric: String,
    statuses: Vec<Value>,
}

impl Hpas {
    /// `reconcileAutoscaler`.
    async fn reconcile(
        &mut self,
        ctx: &Ctx,
        hpa: &DynamicObject,
        pods: &[Arc<Pod>],
        history: &mut History,
    ) {
        let obj = serde_json::to_value(hpa).unwrap_or(Value::Null);
        let status = if obj["status"].is_object() {
            obj["status"].clone()
        } else {
            json!({})
        };
        let mut s = Sync {
            ctx,
            spec: HpaSpec::parse(&obj),
            obj,
            status,
            now: Utc::now(),
        };
        let Some((api, scale)) = self.get_scale(&mut s).await else {
            write_status(&s).await;
            return;
        };
        s.cond(
            "AbleToScale",
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale".into(),
        );
        let current = scale.spec.as_ref().and_then(|x| x.replicas).unwrap_or(0);
        history.init(current, s.now);
        let clock = ctx.clock.clone();
        let sec = move |n: i64| sim_seconds(&clock, n);
        let Some(d) = decide(&mut s, &scale, pods, history, &sec, &mut self.selectors) else {
            write_status(&s).await;
            return;
        };
        let mut desired = current;
        if d.rescale {
            if rescale(&mut s, &api, scale, d.replicas, d.reason)
                .await
                .is_err()
            {
                s.set_current(current, &d.statuses);
                write_status(&s).await;
                return;
            }
            history.record_scale(s.spec.behavior.as_ref(), current, d.replicas, s.now, &sec);
            desired = d.replicas;
            s.status["lastScaleTime"] =
                json!(s.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        // setStatus.
        s.set_current(current, &d.statuses);
        s.status["desiredReplicas"] = json!(desired);
        write_status(&s).await;
    }

    /// The target's scale (and the API it is reached through), or the FailedGetScale
    /// condition and event.
    async fn get_scale(&mut self, s: &mut Sync<'_>) -> Option<(Api<DynamicObject>, Scale)> {
        let target = s.spec.target.clone();
        let result = match self.resolve(s.ctx, &target).await {
            Ok(ar) => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(s.ctx.client.clone(), s.namespace(), &ar);
                api.get_scale(&target.name)
                    .await
                    .map(|scale| (api, scale))
                    .map_err(message)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(found) => Some(found),
            Err(e) => {
                s.warn("FailedGetScale", e.clone());
                s.cond(
                    "AbleToScale",
                    false,
                    "FailedGetScale",
                    format!("the HPA controller was unable to get the target's current scale: {e}"),
                );
                None
            }
        }
    }

    /// The resource a `scaleTargetRef` names: the workload kinds directly, others (custom
    /// resources with a scale subresource) by discovery, remembered for a minute.
    async fn resolve(&mut self, ctx: &Ctx, t: &TargetRef) -> Result<ApiResource, String> {
        let (group, version) = match t.api_version.split_once('/') {
            Some((g, v)) if !v.contains('/') => (g, v),
            None => ("", t.api_version.as_str()),
            _ => return Err(format!("unexpected GroupVersion string: {}", t.api_version)),
        };
        let plural = match (group, t.kind.as_str()) {
            ("apps", "Deployment") => Some("deployments"),
            ("apps", "StatefulSet") => Some("statefulsets"),
            ("apps", "ReplicaSet") => Some("replicasets"),
            ("", "ReplicationController") => Some("replicationcontrollers"),
            _ => None,
        };
        let gvk = GroupVersionKind::gvk(group, version, &t.kind);
        if let Some(plural) = plural {
            return Ok(ApiResource::from_gvk_with_plural(&gvk, plural));
        }
        let k = (t.api_version.clone(), t.kind.clone());
        if let Some((ar, at)) = self.mappings.get(&k)
            && at.elapsed() < MAPPING_TTL
        {
            return Ok(ar.clone());
        }
        match kube::discovery::pinned_kind(&ctx.client, &gvk).await {
            Ok((ar, _)) => {
                self.mappings.insert(k, (ar.clone(), Instant::now()));
                Ok(ar)
            }
            Err(_) => Err(format!(
                "no matches for kind \"{}\" in version \"{}\"",
                t.kind, t.api_version
            )),
        }
    }
}

/// A number of simulated seconds as a real duration.
fn sim_seconds(clock: &SimClock, n: i64) -> chrono::Duration {
    // At most a year: windows and periods are validated to an hour, older objects may not be.
    let n = n.clamp(0, 365 * 24 * 3600) as u64;
    chrono_duration(clock.real(Duration::from_secs(n)))
}

/// The message of a failed request (the Status message for API errors).
fn message(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message,
        e => e.to_string(),
    }
}

/// What a sync decided: the replicas, why, whether to write them, the metrics' statuses.
struct Decision {
    replicas: i32,
    reason: String,
    rescale: bool,
    statuses: Vec<Value>,
}

/// The middle of `reconcileAutoscaler`: scaling disabled at zero, the min/max bounds, or the
/// metrics' proposal normalized. `None` when the metrics could not be computed (status set,
/// FailedComputeMetricsReplicas recorded).
fn decide(
    s: &mut Sync<'_>,
    scale: &Scale,
    pods: &[Arc<Pod>],
    history: &mut History,
    sec: &dyn Fn(i64) -> chrono::Duration,
    selectors: &mut Selectors,
) -> Option<Decision> {
    let current = scale.spec.as_ref().and_then(|x| x.replicas).unwrap_or(0);
    let (min, max) = (s.spec.min_replicas, s.spec.max_replicas);
    let bound = |replicas, reason: &str| Decision {
        replicas,
        reason: reason.into(),
        rescale: true,
        statuses: Vec::new(),
    };
    if current == 0 && min != 0 {
        s.cond(
            "ScalingActive",
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".into(),
        );
        return Some(Decision {
            replicas: 0,
            reason: String::new(),
            rescale: false,
            statuses: Vec::new(),
        });
    }
    if current > max {
        return Some(bound(
            max,
            "Current number of replicas above Spec.MaxReplicas",
        ));
    }
    if current < min {
        return Some(bound(
            min,
            "Current number of replicas below Spec.MinReplicas",
        ));
    }
    let computed = match compute_metrics(s, scale, pods, selectors) {
        Ok(c) => c,
        Err((statuses, error)) => {
            s.set_current(current, &statuses);
            s.warn("FailedComputeMetricsReplicas", error);
            return None;
        }
    };
    let desired = computed.replicas.max(0);
    let reason = match desired.cmp(&current) {
        std::cmp::Ordering::Greater => format!("{} above target", computed.metric),
        std::cmp::Ordering::Less => "All metrics below target".to_string(),
        std::cmp::Ordering::Equal => String::new(),
    };
    let n = history.normalize(
        s.spec.behavior.as_ref(),
        current,
        desired,
        min,
        max,
        s.now,
        sec,
    );
    s.set_condition("AbleToScale", &n.able_to_scale);
    s.set_condition("ScalingLimited", &n.scaling_limited);
    Some(Decision {
        replicas: n.replicas,
        reason,
        rescale: n.replicas != current,
        statuses: computed.statuses,
    })
}

/// The selectors HPAs last used (kube's `hpaSelectors`): namespace/name → (namespace, selector).
type Selectors = HashMap<String, (String, LabelSelector)>;

/// `validateAndParseSelector`: the scale's selector, refused (event, ScalingActive False) when
/// missing, invalid, or when the pods it selects are also selected by another HPA.
fn target_selector(
    s: &mut Sync<'_>,
    scale: &Scale,
    pods: &[Arc<Pod>],
    selectors: &mut Selectors,
) -> Result<LabelSelector, String> {
    let text = scale
        .status
        .as_ref()
        .and_then(|x| x.selector.clone())
        .unwrap_or_default();
    if text.is_empty() {
        s.warn("SelectorRequired", "selector is required".into());
        let msg = "the HPA target's scale is missing a selector";
        s.cond("ScalingActive", false, "InvalidSelector", msg.into());
        return Err("selector is required".into());
    }
    let selector = LabelSelector::parse(&text).map_err(|e| {
        let msg =
            format!("couldn't convert selector into a corresponding internal selector object: {e}");
        s.warn("InvalidSelector", msg.clone());
        s.cond("ScalingActive", false, "InvalidSelector", msg.clone());
        msg
    })?;
    let ns = s.namespace().to_string();
    let key = format!("{ns}/{}", s.obj["metadata"]["name"].as_str().unwrap_or(""));
    selectors.insert(key, (ns.clone(), selector.clone()));
    let mut controlling = std::collections::BTreeSet::new();
    for pod in pods.iter().filter(|p| selector.matches(p.labels())) {
        for (k, (other_ns, other)) in selectors.iter() {
            if *other_ns == ns && other.matches(pod.labels()) {
                controlling.insert(k.as_str());
            }
        }
    }
    if controlling.len() > 1 {
        let names: Vec<&str> = controlling.into_iter().collect();
        let msg = format!(
            "pods by selector {text} are controlled by multiple HPAs: [{}]",
            names.join(" ")
        );
        s.warn("AmbiguousSelector", msg.clone());
        s.cond("ScalingActive", false, "AmbiguousSelector", msg.clone());
        return Err(msg);
    }
    Ok(selector)
}

/// `computeReplicasForMetrics`: the largest proposal of the metrics that could be computed,
/// ScalingActive set; or, when all failed (or some failed and the rest would scale down), the
/// first failure's condition and the error.
fn compute_metrics(
    s: &mut Sync<'_>,
    scale: &Scale,
    pods: &[Arc<Pod>],
    selectors: &mut Selectors,
) -> Result<Computed, (Vec<Value>, String)> {
    let selector = target_selector(s, scale, pods, selectors).map_err(|e| (Vec::new(), e))?;
    let clock = &s.ctx.clock;
    let real = |secs: u64| chrono_duration(clock.real(Duration::from_secs(secs)));
    let timings = Timings {
        cpu_initialization: real(300),
        initial_readiness_delay: real(30),
        metric_window: real(15),
    };
    let view = PodsView::select(pods, s.namespace(), &selector, s.now, timings);
    let current = scale.spec.as_ref().and_then(|x| x.replicas).unwrap_or(0);
    let metrics = s.spec.metrics.clone();
    let mut statuses = vec![json!({"type": ""}); metrics.len()];
    let mut best: Option<(i32, String)> = None;
    let mut failures = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        match measure::metric(m, current, &view) {
            Ok(Proposal {
                replicas,
                name,
                status,
            }) => {
                statuses[i] = status;
                if best.as_ref().is_none_or(|(r, _)| *r == 0 || replicas > *r) {
                    best = Some((replicas, name));
                }
            }
            Err(f) => {
                s.warn(f.event.0, f.event.1.clone());
                failures.push(f);
            }
        }
    }
    let (replicas, metric) = best.unwrap_or((0, String::new()));
    if let Some(first) = failures.first()
        && (failures.len() >= metrics.len() || replicas < current)
    {
        s.set_condition("ScalingActive", &first.condition);
        let error = format!(
            "invalid metrics ({} invalid out of {}), first error is: {}",
            failures.len(),
            metrics.len(),
            first.error
        );
        return Err((statuses, error));
    }
    s.cond(
        "ScalingActive",
        true,
        "ValidMetricFound",
        format!("the HPA was able to successfully calculate a replica count from {metric}"),
    );
    Ok(Computed {
        replicas,
        metric,
        statuses,
    })
}

/// Writes the new scale; records SuccessfulRescale or FailedRescale as kube does.
async fn rescale(
    s: &mut Sync<'_>,
    api: &Api<DynamicObject>,
    mut scale: Scale,
    desired: i32,
    reason: String,
) -> Result<(), ()> {
    let name = s.spec.target.name.clone();
    scale.spec.get_or_insert_with(Default::default).replicas = Some(desired);
    match api
        .replace_scale(&name, &PostParams::default(), &scale)
        .await
    {
        Ok(_) => {
            s.cond(
                "AbleToScale",
                true,
                "SucceededRescale",
                format!("the HPA controller was able to update the target scale to {desired}"),
            );
            s.ctx.events.normal(
                COMPONENT,
                s.involved(),
                "SuccessfulRescale",
                format!("New size: {desired}; reason: {reason}"),
            );
            Ok(())
        }
        Err(e) => {
            let e = message(e);
            s.warn(
                "FailedRescale",
                format!("New size: {desired}; reason: {reason}; error: {e}"),
            );
            s.cond(
                "AbleToScale",
                false,
                "FailedUpdateScale",
                format!("the HPA controller was unable to update the target scale: {e}"),
            );
            Err(())
        }
    }
}

/// `updateStatusIfNeeded`: writes the status if it changed.
async fn write_status(s: &Sync<'_>) {
    let mut desired = s.status.clone();
    desired["observedGeneration"] = s.obj["metadata"]["generation"].clone();
    let current = if s.obj["status"].is_object() {
        s.obj["status"].clone()
    } else {
        json!({})
    };
    let Some(diff) = merge_diff(&current, &desired) else {
        return;
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(s.ctx.client.clone(), s.namespace(), &hpa_resource());
    let name = s.obj["metadata"]["name"].as_str().unwrap_or("");
    if let Err(e) = api
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": diff})),
        )
        .await
    {
        tracing::debug!(error = %e, name, "HPA status not written");
    }
}
