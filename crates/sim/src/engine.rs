//! Wiring: reflector stores fed by watches, the wake-ups they cause, and the loop every
//! controller runs (a full pass over its store whenever something it watches changes, or when a
//! timer it asked for fires; bursts are coalesced, nothing polls).

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod, Service};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::events::Recorder;
use crate::{SimConfig, SimError, controllers, kubelet, nodes, scheduler};

/// What every controller shares: the client, the clock and the watch-fed stores.
pub(crate) struct Ctx {
    pub client: Client,
    pub config: SimConfig,
    pub clock: SimClock,
    pub events: Recorder,
    pub pods: Store<Pod>,
    pub nodes: Store<Node>,
    pub replicasets: Store<ReplicaSet>,
    pub deployments: Store<Deployment>,
    pub statefulsets: Store<StatefulSet>,
    pub daemonsets: Store<DaemonSet>,
    pub jobs: Store<Job>,
    pub cronjobs: Store<CronJob>,
    pub services: Store<Service>,
    pub pvcs: Store<PersistentVolumeClaim>,
    pub pvs: Store<PersistentVolume>,
    /// HorizontalPodAutoscalers as JSON (each is stored at the version it was written in).
    pub hpas: Store<DynamicObject>,
}

/// A controller: one pass reconciles everything it owns and says when it next needs to run.
pub(crate) trait Reconcile: Send + 'static {
    /// Name for logs.
    const NAME: &'static str;
    /// Reconciles everything once; returns when a timer should wake it next.
    fn pass(&mut self, ctx: &Arc<Ctx>) -> impl Future<Output = Option<Instant>> + Send;
}

/// Wake-ups, one per controller.
#[derive(Default)]
struct Kicks {
    scheduler: Arc<Notify>,
    kubelet: Arc<Notify>,
    replicaset: Arc<Notify>,
    deployment: Arc<Notify>,
    statefulset: Arc<Notify>,
    daemonset: Arc<Notify>,
    job: Arc<Notify>,
    cronjob: Arc<Notify>,
    endpoints: Arc<Notify>,
    volumes: Arc<Notify>,
    hpa: Arc<Notify>,
}

fn reflect<K>(api: Api<K>, kicks: Vec<Arc<Notify>>, shutdown: CancellationToken) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    follow(
        stream,
        K::kind(&Default::default()).into_owned(),
        kicks,
        shutdown,
    );
    reader
}

/// Like [`reflect`], for objects read as JSON (`DynamicObject`s of one resource).
fn reflect_dynamic(
    api: Api<DynamicObject>,
    ar: ApiResource,
    kicks: Vec<Arc<Notify>>,
    shutdown: CancellationToken,
) -> Store<DynamicObject> {
    let kind = ar.kind.clone();
    let writer = reflector::store::Writer::new(ar);
    let reader = writer.as_reader();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    follow(stream, kind, kicks, shutdown);
    reader
}

/// Drives a reflector's watch stream until shutdown, waking the `kicks` controllers on every
/// event; a failed watch is logged (naming `kind`) and retried by the stream's backoff.
fn follow<T: Send>(
    stream: impl futures::Stream<Item = Result<T, watcher::Error>> + Send + 'static,
    kind: String,
    kicks: Vec<Arc<Notify>>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                ev = stream.next() => match ev {
                    Some(Ok(_)) => kicks.iter().for_each(|k| k.notify_one()),
                    Some(Err(e)) => tracing::warn!(error = %e, %kind, "sim watch failed; retrying"),
                    None => break,
                },
            }
        }
    });
}

/// How long a controller waits after a wake-up for more events before its pass.
const COALESCE: Duration = Duration::from_millis(15);

/// The longest a controller waits to coalesce events after a long pass.
const MAX_COALESCE: Duration = Duration::from_millis(500);

fn spawn_loop<R: Reconcile>(
    mut r: R,
    ctx: Arc<Ctx>,
    kick: Arc<Notify>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            let started = Instant::now();
            let next = r.pass(&ctx).await;
            // A pass over a large store is O(objects): waiting twice as long as it took before
            // the next one bounds each controller's share of the CPU while events pour in.
            let coalesce = (started.elapsed() * 2).clamp(COALESCE, MAX_COALESCE);
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            let wake = next.map(tokio::time::Instant::from_std).unwrap_or(far);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = kick.notified() => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(coalesce) => {}
            }
        }
        tracing::debug!(controller = R::NAME, "sim controller stopped");
    });
}

/// Starts the simulation: nodes, the default StorageClass, the watch-fed stores, then every
/// controller's loop; returns when `shutdown` fires.
pub(crate) async fn run(
    client: Client,
    config: SimConfig,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    let seed = config.seed.unwrap_or(0);
    nodes::ensure_nodes(&client, &config, seed).await?;
    controllers::volumes::ensure_default_storage_class(&client).await?;
    let k = Kicks::default();
    let ctx = Arc::new(Ctx::new(client, config, &k, &shutdown));
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        _ = ctx.wait_until_ready() => {}
    }
    spawn_controllers(&ctx, &k, &shutdown);
    nodes::heartbeats(ctx.clone(), shutdown.clone()).await;
    Ok(())
}

impl Ctx {
    /// The stores, each fed by a watch and waking the controllers that read it.
    fn new(client: Client, config: SimConfig, k: &Kicks, s: &CancellationToken) -> Ctx {
        Ctx {
            events: Recorder::spawn(client.clone(), s.clone()),
            pods: reflect::<Pod>(
                Api::all(client.clone()),
                vec![
                    k.scheduler.clone(),
                    k.kubelet.clone(),
                    k.replicaset.clone(),
                    k.statefulset.clone(),
                    k.daemonset.clone(),
                    k.job.clone(),
                    k.endpoints.clone(),
                ],
                s.clone(),
            ),
            nodes: reflect::<Node>(
                Api::all(client.clone()),
                vec![k.scheduler.clone(), k.kubelet.clone(), k.daemonset.clone()],
                s.clone(),
            ),
            replicasets: reflect::<ReplicaSet>(
                Api::all(client.clone()),
                vec![k.replicaset.clone(), k.deployment.clone()],
                s.clone(),
            ),
            deployments: reflect::<Deployment>(
                Api::all(client.clone()),
                vec![k.deployment.clone()],
                s.clone(),
            ),
            statefulsets: reflect::<StatefulSet>(
                Api::all(client.clone()),
                vec![k.statefulset.clone()],
                s.clone(),
            ),
            daemonsets: reflect::<DaemonSet>(
                Api::all(client.clone()),
                vec![k.daemonset.clone()],
                s.clone(),
            ),
            jobs: reflect::<Job>(
                Api::all(client.clone()),
                vec![k.job.clone(), k.cronjob.clone()],
                s.clone(),
            ),
            cronjobs: reflect::<CronJob>(
                Api::all(client.clone()),
                vec![k.cronjob.clone()],
                s.clone(),
            ),
            services: reflect::<Service>(
                Api::all(client.clone()),
                vec![k.endpoints.clone()],
                s.clone(),
            ),
            pvcs: reflect::<PersistentVolumeClaim>(
                Api::all(client.clone()),
                vec![
                    k.volumes.clone(),
                    k.scheduler.clone(),
                    k.statefulset.clone(),
                ],
                s.clone(),
            ),
            pvs: reflect::<PersistentVolume>(
                Api::all(client.clone()),
                vec![k.volumes.clone()],
                s.clone(),
            ),
            hpas: {
                let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
                    "autoscaling",
                    "v2",
                    "HorizontalPodAutoscaler",
                ));
                reflect_dynamic(
                    Api::all_with(client.clone(), &ar),
                    ar,
                    vec![k.hpa.clone()],
                    s.clone(),
                )
            },
            clock: SimClock::new(config.time_scale),
            client,
            config,
        }
    }

    /// Waits until every store has its first full list.
    async fn wait_until_ready(&self) {
        let _ = tokio::join!(
            self.pods.wait_until_ready(),
            self.nodes.wait_until_ready(),
            self.replicasets.wait_until_ready(),
            self.deployments.wait_until_ready(),
            self.statefulsets.wait_until_ready(),
            self.daemonsets.wait_until_ready(),
            self.jobs.wait_until_ready(),
            self.cronjobs.wait_until_ready(),
            self.services.wait_until_ready(),
            self.pvcs.wait_until_ready(),
            self.pvs.wait_until_ready(),
        );
    }
}

/// Starts every controller's loop.
fn spawn_controllers(ctx: &Arc<Ctx>, k: &Kicks, s: &CancellationToken) {
    use controllers::{cronjob, daemonset, deployment, endpoints, job, replicaset};
    use controllers::{statefulset, volumes};
    let c = || ctx.clone();
    spawn_loop(
        scheduler::Scheduler::default(),
        c(),
        k.scheduler.clone(),
        s.clone(),
    );
    spawn_loop(
        kubelet::Kubelet::default(),
        c(),
        k.kubelet.clone(),
        s.clone(),
    );
    spawn_loop(
        replicaset::ReplicaSets::default(),
        c(),
        k.replicaset.clone(),
        s.clone(),
    );
    spawn_loop(
        deployment::Deployments::default(),
        c(),
        k.deployment.clone(),
        s.clone(),
    );
    spawn_loop(
        statefulset::StatefulSets::default(),
        c(),
        k.statefulset.clone(),
        s.clone(),
    );
    spawn_loop(
        daemonset::DaemonSets::default(),
        c(),
        k.daemonset.clone(),
        s.clone(),
    );
    spawn_loop(job::Jobs::default(), c(), k.job.clone(), s.clone());
    spawn_loop(
        cronjob::CronJobs::default(),
        c(),
        k.cronjob.clone(),
        s.clone(),
    );
    spawn_loop(
        endpoints::Endpoints::default(),
        c(),
        k.endpoints.clone(),
        s.clone(),
    );
    spawn_loop(
        volumes::Volumes::default(),
        c(),
        k.volumes.clone(),
        s.clone(),
    );
    spawn_loop(
        controllers::hpa::Hpas::default(),
        c(),
        k.hpa.clone(),
        s.clone(),
    );
}

/// The earliest time any object in a pass asked to be looked at again (a controller's
/// requeue-after, as kube-runtime's `Action::requeue`).
#[derive(Default)]
pub(crate) struct NextWake(Option<Instant>);

impl NextWake {
    /// Asks for a pass at `at` (or earlier, if another object asked for earlier).
    pub fn at(&mut self, at: Instant) {
        self.0 = Some(self.0.map_or(at, |n| n.min(at)));
    }

    /// Asks for a pass at `at`, if there is one.
    pub fn at_opt(&mut self, at: Option<Instant>) {
        if let Some(at) = at {
            self.at(at);
        }
    }

    /// Asks for a pass after `d`.
    pub fn after(&mut self, d: Duration) {
        self.at(Instant::now() + d);
    }

    /// The earliest time asked for.
    pub fn get(&self) -> Option<Instant> {
        self.0
    }
}

/// The order objects were created in, as first seen by one controller: the resourceVersion it
/// first saw each object at (which is its creation revision when the controller was running).
/// Sorting by it keeps decisions independent of how watch events were batched.
#[derive(Default)]
pub(crate) struct CreationOrder {
    first_seen: std::collections::HashMap<String, (u64, String)>,
}

impl CreationOrder {
    /// The sort key of an object: (first-seen revision, namespace/name).
    pub fn key<K: Resource>(&mut self, obj: &K) -> (u64, String) {
        let meta = obj.meta();
        let uid = meta.uid.clone().unwrap_or_default();
        self.first_seen
            .entry(uid)
            .or_insert_with(|| {
                let rv = meta
                    .resource_version
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX);
                (
                    rv,
                    format!(
                        "{}/{}",
                        meta.namespace.as_deref().unwrap_or(""),
                        meta.name.as_deref().unwrap_or("")
                    ),
                )
            })
            .clone()
    }

    /// Forgets objects whose uid is not in `live`.
    pub fn retain(&mut self, live: &std::collections::HashSet<String>) {
        self.first_seen.retain(|uid, _| live.contains(uid));
    }
}
