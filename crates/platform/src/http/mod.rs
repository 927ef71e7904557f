//! The platform's HTTP API: axum router and the authn → request scope → authz layers.

mod apps;
mod clusters;
mod config;
mod console;
pub(crate) mod error;
mod events;
pub mod fairness;
pub mod groups;
mod idp;
pub mod login;
mod logs;
mod members;
mod oauth;
mod oidc_provider;
pub mod openapi;
mod proxy;
mod quotas;
pub mod readiness;
mod resources;
mod reviews;
mod roles;
mod search;
mod secrets;
mod session;
mod shape;
mod sso;
mod tenant;
mod users;
mod watchmux;
mod writeguard;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kube::Client;
use serde_json::{Value, json};

pub use error::{ApiError, ApiResult};

use crate::authz::scope::{RequestInfo, Scope};
use crate::authz::{Access, Authorizer, UserInfo, groups_of};
use crate::cache::{Cache, Caches, key_of};
use crate::kinds::Kind;
use crate::kubeapi;
use crate::password::HashCost;
use crate::tokens::Tokens;

/// Settings the handlers need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Failed logins within `lockout_window` that lock a user.
    pub lockout_threshold: usize,
    /// Window over which failed logins count.
    pub lockout_window: Duration,
    /// How long a locked user stays locked.
    pub lockout_duration: Duration,
    /// Whether a user may hold several login sessions.
    pub multiple_login: bool,
    /// argon2 cost for new hashes.
    pub hash_cost: HashCost,
    /// OAuth clients as (id, secret).
    pub clients: Vec<(String, String)>,
    /// URL clients reach the platform at (kubeconfig `server`).
    pub public_url: String,
    /// The registry extensions pull their images from (`global.imageRegistry`; empty: none).
    pub image_registry: String,
    /// The CA (PEM) that signs the platform's HTTPS certificate, for kubeconfigs and the
    /// admission webhooks the platform registers.
    pub ca_pem: Option<String>,
    /// The secret part of the admission webhooks' URL (`quotas::admission`).
    pub admission_key: String,
    /// Proxies whose `X-Forwarded-For` names the client (see [`login`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// An argon2 hash of the configured cost that unknown users' passwords are verified
    /// against, so that they take as long as known ones.
    pub dummy_hash: String,
    /// The version this replica reports (`/version`'s `platform`).
    pub version: String,
}

/// Everything a handler can reach.
pub struct AppState {
    /// Host cluster client (the platform's own credentials).
    pub client: Client,
    /// Watch-fed caches.
    pub caches: Arc<Caches>,
    /// The authorizer.
    pub authz: Authorizer,
    /// Token issuing and checking.
    pub tokens: Tokens,
    /// The per-address rate limit of password logins.
    pub login_limiter: login::RateLimiter,
    /// Per-user concurrency limits with a queue each.
    pub fairness: fairness::Fairness,
    /// The connected clusters (host included).
    pub clusters: crate::clusters::Members,
    /// The host cluster's discovery (request resolution).
    pub discovery: Arc<crate::discovery::ClusterDiscovery>,
    /// Settings.
    pub settings: Settings,
    /// The OpenAPI documents served through the platform.
    pub openapi: openapi::Docs,
    /// The keys ID tokens are signed with (Orrery as an OpenID provider).
    pub openid_keys: crate::openid::SigningKeys,
    /// Monitoring: the in-process stores and the query entry points.
    pub monitoring: Arc<crate::monitoring::Monitoring>,
    /// API auditing: the event queue and the query window.
    pub audit: Arc<crate::audit::Auditor>,
    /// The platform's own Prometheus metrics (`/metrics`).
    pub metrics: Arc<crate::metrics::PlatformMetrics>,
    /// One sync per App Store repository at a time.
    pub repo_syncs: crate::appstore::repos::SyncLocks,
    /// Extension routes' upstream clients and kept states.
    pub extensions: crate::extensions::routing::Upstreams,
    /// `/readyz`'s last look at the host cluster.
    pub readiness: readiness::Readiness,
}

/// Shared state.
pub type Shared = Arc<AppState>;

/// How the authorizer let a request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The caller's roles allow it.
    Full,
    /// Only as far as it concerns the caller's own user.
    SelfService,
    /// A list the handler narrows to what the caller may see.
    Filtered,
    /// Open to every authenticated caller.
    Public,
}

/// The authenticated caller and what the request is about.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub user: UserInfo,
    /// What.
    pub info: RequestInfo,
    /// How it was allowed.
    pub grant: Grant,
}

const IAM: &str = "/kapis/iam.kubesphere.io/v1beta1";
const TENANT: &str = "/kapis/tenant.kubesphere.io/v1beta1";
const TENANT_V1ALPHA2: &str = "/kapis/tenant.kubesphere.io/v1alpha2";

/// Builds the router.
pub fn router(state: Shared) -> Router {
    let protected = Router::new()
        .merge(user_routes())
        .merge(role_routes())
        .merge(member_routes())
        .merge(tenant_routes())
        .merge(cluster_routes())
        .merge(crate::metrics::routes())
        .merge(crate::monitoring::routes::routes())
        .merge(crate::audit::routes())
        .merge(crate::alerting::api::routes())
        .merge(events::routes())
        .route(
            "/kapis/application.kubesphere.io/v2/{*rest}",
            axum::routing::any(apps::serve),
        )
        .route(
            "/kapis/package.kubesphere.io/v1alpha1/extensionversions/{name}/files",
            get(crate::extensions::files::serve),
        )
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_index))
        .route("/openapi/v3/{*rest}", get(openapi::v3_document))
        .fallback(extension_or_forward)
        .layer(from_fn_with_state(state.clone(), authorize))
        .layer(from_fn_with_state(state.clone(), fairness::limit))
        .layer(from_fn_with_state(state.clone(), authenticate));
    let app = Router::new()
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/logout", get(oauth::logout).post(oauth::logout))
        .route("/oauth/authorize", get(sso::authorize))
        .route(
            "/.well-known/openid-configuration",
            get(oidc_provider::discovery),
        )
        .route("/oauth/keys", get(oidc_provider::keys))
        .route(
            "/oauth/userinfo",
            get(oidc_provider::userinfo).post(oidc_provider::userinfo),
        )
        .route("/oauth/callback/{idp}", get(sso::callback))
        .route(
            "/oauth/first-login",
            get(sso::first_login_info).post(sso::first_login),
        )
        .route("/healthz", get(health))
        .route("/livez", get(health))
        .route("/readyz", get(readiness::readyz))
        .route("/version", get(version))
        .route("/kapis/version", get(config::version))
        .route(
            "/kapis/config.kubesphere.io/v1alpha2/configs/oauth",
            get(config::oauth),
        )
        .route(
            "/kapis/config.kubesphere.io/v1alpha2/configs/theme",
            get(config::theme),
        )
        .route("/", get(console::root))
        .route("/console", get(console::bare))
        .route("/console/", get(console::index))
        .route(
            "/console/session",
            get(session::current)
                .post(session::login)
                .delete(session::logout),
        )
        .route("/console/session/refresh", post(session::refresh))
        .route("/console/watch", get(watchmux::upgrade))
        .route(
            &format!("{}/{{key}}/{{cluster}}", crate::quotas::ADMISSION_PREFIX),
            post(crate::quotas::admission::review),
        )
        .route("/console/{*path}", get(console::file))
        .route(
            crate::clusters::tunnel::protocol::PATH,
            get(crate::clusters::tunnel::server::accept),
        )
        .route(
            crate::clusters::tunnel::peers::RELAY_PATH,
            get(crate::clusters::tunnel::peers::accept),
        )
        .merge(protected)
        .with_state(state.clone());
    // The watch multiplexer sends each watch through this same router (authn, authz, proxy).
    let inner = watchmux::Inner(app.clone());
    app.layer(axum::Extension(inner))
        .layer(axum::middleware::from_fn(catch_panic))
        .layer(from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(from_fn_with_state(state, crate::audit::layer))
}

/// Users, their passwords, tokens, login records and kubeconfigs, and reviews.
fn user_routes() -> Router<Shared> {
    let iam = IAM;
    Router::new()
        .route(&format!("{iam}/identityproviders/test"), post(idp::test))
        .route(
            &format!("{iam}/users"),
            get(users::list).post(users::create),
        )
        .route(
            &format!("{iam}/users/{{u}}"),
            get(users::get)
                .put(users::update)
                .patch(users::update)
                .delete(users::delete),
        )
        .route(
            &format!("{iam}/users/{{u}}/password"),
            axum::routing::put(users::password),
        )
        .route(
            &format!("{iam}/users/{{u}}/loginrecords"),
            get(users::login_records),
        )
        .route(
            &format!("{iam}/signingkey/rotate"),
            axum::routing::post(users::rotate_signing_key),
        )
        .route(
            &format!("{iam}/idtokenkey/rotate"),
            axum::routing::post(oidc_provider::rotate),
        )
        .route(
            &format!("{iam}/users/{{u}}/loginlocks"),
            axum::routing::delete(users::clear_login_locks),
        )
        .route(&format!("{iam}/users/{{u}}/tokens"), get(users::tokens))
        .route(
            &format!("{iam}/users/{{u}}/tokens/{{id}}"),
            axum::routing::delete(users::revoke_token),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha2/users/{u}/kubeconfig",
            get(users::kubeconfig),
        )
        .route(
            &format!("{iam}/subjectaccessreviews"),
            post(reviews::subject_access_review),
        )
        .route(
            &format!("{iam}/users/{{u}}/roletemplates"),
            get(users::role_templates),
        )
        .route(
            "/kapis/config.kubesphere.io/v1alpha2/configs/configz",
            get(config::configz),
        )
        .route(
            "/kapis/config.kubesphere.io/v1alpha2/platformconfigs/theme",
            get(config::theme).put(config::set_theme),
        )
}

/// Roles at the four levels, and role templates.
fn role_routes() -> Router<Shared> {
    let iam = IAM;
    Router::new()
        .route(&format!("{iam}/roletemplates"), get(roles::list_templates))
        .route(
            &format!("{iam}/workspaces/{{ws}}/roletemplates"),
            get(roles::list_workspace_templates),
        )
        .route(
            &format!("{iam}/namespaces/{{ns}}/roletemplates"),
            get(roles::list_namespace_templates),
        )
        .route(
            &format!("{iam}/globalroles"),
            get(roles::list_global).post(roles::create_global),
        )
        .route(
            &format!("{iam}/globalroles/{{r}}"),
            get(roles::get_global)
                .put(roles::update_global)
                .delete(roles::delete_global),
        )
        .route(
            &format!("{iam}/clusterroles"),
            get(roles::list_cluster).post(roles::create_cluster),
        )
        .route(
            &format!("{iam}/clusterroles/{{r}}"),
            get(roles::get_cluster)
                .put(roles::update_cluster)
                .delete(roles::delete_cluster),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/workspaceroles"),
            get(roles::list_workspace).post(roles::create_workspace),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/workspaceroles/{{r}}"),
            get(roles::get_workspace)
                .put(roles::update_workspace)
                .delete(roles::delete_workspace),
        )
        .route(
            &format!("{iam}/namespaces/{{ns}}/roles"),
            get(roles::list_namespace).post(roles::create_namespace),
        )
        .route(
            &format!("{iam}/namespaces/{{ns}}/roles/{{r}}"),
            get(roles::get_namespace)
                .put(roles::update_namespace)
                .delete(roles::delete_namespace),
        )
}

/// Members of the cluster, of workspaces and of projects; a workspace's groups.
fn member_routes() -> Router<Shared> {
    let iam = IAM;
    Router::new()
        .route(
            &format!("{iam}/workspaces/{{ws}}/groups"),
            get(groups::list).post(groups::create),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/groups/{{g}}"),
            get(groups::get)
                .put(groups::update)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/groupbindings"),
            get(groups::list_bindings).post(groups::add_bindings),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/groupbindings/{{b}}"),
            axum::routing::delete(groups::delete_binding),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/workspacerolebindings"),
            get(groups::list_role_bindings).post(groups::add_role_bindings),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/workspacerolebindings/{{b}}"),
            axum::routing::delete(groups::delete_role_binding),
        )
        .route(
            &format!("{iam}/clustermembers"),
            get(members::list_cluster).post(members::add_cluster),
        )
        .route(
            &format!("{iam}/clustermembers/{{m}}"),
            get(members::get_cluster)
                .put(members::update_cluster)
                .delete(members::remove_cluster),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/workspacemembers"),
            get(members::list_workspace).post(members::add_workspace),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/workspacemembers/{{m}}/namespaces"),
            get(members::member_namespaces),
        )
        .route(
            &format!("{iam}/workspaces/{{ws}}/workspacemembers/{{m}}"),
            get(members::get_workspace)
                .put(members::update_workspace)
                .delete(members::remove_workspace),
        )
        .route(
            &format!("{iam}/namespaces/{{ns}}/namespacemembers"),
            get(members::list_namespace).post(members::add_namespace),
        )
        .route(
            &format!("{iam}/namespaces/{{ns}}/namespacemembers/{{m}}"),
            get(members::get_namespace)
                .put(members::update_namespace)
                .delete(members::remove_namespace),
        )
}

/// Workspace templates, workspaces and their projects and clusters.
fn tenant_routes() -> Router<Shared> {
    let tenant = TENANT;
    Router::new()
        .route(
            &format!("{tenant}/workspacetemplates"),
            get(tenant::list_templates).post(tenant::create_template),
        )
        .route(
            &format!("{tenant}/workspacetemplates/{{ws}}"),
            get(tenant::get_template)
                .put(tenant::update_template)
                .patch(tenant::patch_template)
                .delete(tenant::delete_template),
        )
        .route(
            &format!("{tenant}/workspaces"),
            get(tenant::list_workspaces),
        )
        .route(
            &format!("{tenant}/workspaces/{{ws}}"),
            get(tenant::get_workspace),
        )
        .route(
            &format!("{tenant}/workspaces/{{ws}}/clusters"),
            get(tenant::list_clusters),
        )
        .route(
            &format!("{tenant}/workspaces/{{ws}}/namespaces"),
            get(tenant::list_projects).post(tenant::create_project),
        )
        .route(
            &format!("{tenant}/workspaces/{{ws}}/namespaces/{{ns}}"),
            get(tenant::get_project).delete(tenant::delete_project),
        )
        .merge(quota_routes(TENANT))
        .merge(quota_routes(TENANT_V1ALPHA2))
}

/// A workspace's quotas in the host (KubeSphere 3 served them at `v1alpha2`, 4 at `v1beta1`).
fn quota_routes(tenant: &str) -> Router<Shared> {
    Router::new()
        .route(
            &format!("{tenant}/workspaces/{{ws}}/resourcequotas"),
            get(quotas::collection).post(quotas::collection),
        )
        .route(
            &format!("{tenant}/workspaces/{{ws}}/resourcequotas/{{name}}"),
            get(quotas::item)
                .put(quotas::item)
                .patch(quotas::item)
                .delete(quotas::item),
        )
}

/// Clusters (join, validation, kubeconfigs, the per-cluster proxy), secrets and search.
fn cluster_routes() -> Router<Shared> {
    Router::new()
        .route(
            "/kapis/cluster.kubesphere.io/v1alpha1/clusters/validation",
            post(clusters::validate),
        )
        .route(
            "/kapis/cluster.kubesphere.io/v1alpha1/clusters/{c}/kubeconfig",
            axum::routing::put(clusters::put_kubeconfig),
        )
        .route(
            "/kapis/cluster.kubesphere.io/v1alpha1/clusters/{c}/agent/deployment",
            get(clusters::agent_deployment),
        )
        .route(
            "/apis/cluster.kubesphere.io/v1alpha1/clusters",
            post(clusters::join).fallback(proxy::forward),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{ns}/secrets",
            get(secrets::list),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/secrets",
            get(secrets::list_all),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/{resources}",
            get(resources::serve),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/{resources}/{name}",
            get(resources::serve),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{ns}",
            get(resources::serve),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{ns}/{resources}",
            get(resources::serve),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{ns}/{resources}/{name}",
            get(resources::serve),
        )
        .route(
            "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{ns}/secrets/{name}",
            get(secrets::get),
        )
        .route("/clusters/{c}/{*rest}", axum::routing::any(clusters::proxy))
        .route(
            "/kapis/search.orrery.io/v1alpha1/resources",
            get(search::search),
        )
}

/// A safety net: a bug that panics while serving one request answers it with a 500 Status
/// instead of dropping the connection. Bad input never gets here: it is refused with a 4xx
/// before anything indexes into it.
async fn catch_panic(req: Request, next: Next) -> Response {
    use futures::FutureExt;
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!(%method, %path, "request handler panicked");
            ApiError::new(
                500,
                "InternalError",
                "an internal error occurred while serving the request",
            )
            .into_response()
        }
    }
}

async fn health() -> &'static str {
    "ok"
}

/// `/version`: the host cluster's version (kubectl picks its own version from it) plus the
/// platform's under `platform`.
async fn version(State(state): State<Shared>) -> axum::Json<Value> {
    let req = http::Request::get("/version").body(Vec::new());
    let host = match req {
        Ok(r) => tokio::time::timeout(Duration::from_secs(5), state.client.request::<Value>(r))
            .await
            .ok()
            .and_then(Result::ok),
        Err(_) => None,
    };
    let mut v =
        host.unwrap_or_else(|| json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0"}));
    v["platform"] = json!({"gitVersion": format!("v{}", state.settings.version)});
    axum::Json(v)
}

/// Reads a user from the cache, falling back to the host cluster (a user created a moment ago).
pub async fn load_user(
    state: &AppState,
    name: &str,
) -> Result<Option<Value>, crate::error::PlatformError> {
    if let Some(e) = state.caches.users.get(name) {
        return Ok(Some(e.obj.clone()));
    }
    kubeapi::get(&state.client, Kind::User, None, name).await
}

async fn authenticate(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let mut header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if header.is_none() {
        // The console's session cookie; an explicit Authorization header wins over it.
        match session::token_from_cookie(req.method(), req.headers()) {
            // A page of another origin cannot open a stream (exec…) with the user's cookie.
            Ok(Some(_))
                if proxy::is_upgrade(req.headers()) && !watchmux::same_origin(req.headers()) =>
            {
                return error::forbidden(
                    "a cookie-authenticated upgrade must come from the console's own origin",
                )
                .into_response();
            }
            Ok(t) => header = t.map(|t| format!("Bearer {t}")),
            Err(e) => return e.into_response(),
        }
    }
    let user = match header {
        None => UserInfo::anonymous(),
        Some(h) => match identify(&state, &h, basic_origin(&state, &req, &h)).await {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        },
    };
    crate::audit::note_user(req.extensions(), &user);
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// Where a request presenting Basic credentials comes from (None for other schemes).
fn basic_origin(state: &AppState, req: &Request, header: &str) -> Option<login::Origin> {
    header.starts_with("Basic ").then(|| {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0)
            .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        login::Origin::of(peer, req.headers(), &state.settings.trusted_proxies)
    })
}

async fn identify(
    state: &AppState,
    header: &str,
    origin: Option<login::Origin>,
) -> ApiResult<UserInfo> {
    if let Some(b) = header.strip_prefix("Basic ") {
        let raw = B64
            .decode(b.trim())
            .map_err(|_| error::unauthorized("malformed basic credentials"))?;
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (u, p) = raw
            .split_once(':')
            .ok_or_else(|| error::unauthorized("malformed basic credentials"))?;
        // The same protection as every other login: records, per-address locks.
        let origin = origin.unwrap_or_else(|| login::Origin {
            ip: "unknown".into(),
            user_agent: String::new(),
        });
        let user = match login::check_password(state, u, p, &origin, login::Via::Basic).await {
            Ok(user) => user,
            Err(login::Refusal::Locked) => {
                return Err(ApiError::new(
                    429,
                    "TooManyRequests",
                    "too many failed login attempts, try again later",
                ));
            }
            Err(login::Refusal::Api(e)) => return Err(e.into()),
            Err(_) => return Err(error::unauthorized("incorrect username or password")),
        };
        return Ok(UserInfo {
            name: u.to_string(),
            groups: groups_of(&user),
        });
    }
    let Some(token) = header.strip_prefix("Bearer ") else {
        return Err(error::unauthorized("unsupported authorization scheme"));
    };
    let claims = state
        .tokens
        .authenticate(token.trim())
        .await
        .map_err(|e| error::unauthorized(e.to_string()))?;
    let name = claims.sub;
    let user = load_user(state, &name)
        .await?
        .ok_or_else(|| error::unauthorized("user no longer exists"))?;
    if user["status"]["state"].as_str() == Some("Disabled") {
        return Err(error::unauthorized("user is disabled"));
    }
    Ok(UserInfo {
        name,
        groups: groups_of(&user),
    })
}

/// Lists a handler narrows itself rather than refusing outright.
fn is_filtered_list(state: &AppState, user: &UserInfo, info: &RequestInfo) -> bool {
    // Audit events: the handler narrows them to the workspaces the caller may read them in.
    if !user.is_anonymous() && crate::audit::is_query(info) {
        return true;
    }
    if !user.is_anonymous()
        && info.verb == "list"
        && info.api_group == "search.orrery.io"
        && info.resource == "resources"
    {
        return true;
    }
    // Events across clusters: the handler narrows them to the namespaces the caller may read.
    if !user.is_anonymous() && info.verb == "list" && info.path == events::PATH {
        return true;
    }
    if user.is_anonymous()
        || info.verb != "list"
        || info.api_group != "tenant.kubesphere.io"
        || info.resource != "workspaces" && info.resource != "namespaces"
    {
        return false;
    }
    match info.scope {
        Scope::Global => info.resource == "workspaces" && info.api_prefix == "kapis",
        Scope::Workspace => {
            info.resource == "namespaces"
                && (state
                    .authz
                    .member_workspaces(user)
                    .contains(&info.workspace)
                    || state.authz.member_namespaces(user).iter().any(|ns| {
                        state.authz.workspace_of(ns).as_deref() == Some(info.workspace.as_str())
                    }))
        }
        _ => false,
    }
}

async fn authorize(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let user = req
        .extensions()
        .get::<UserInfo>()
        .cloned()
        .unwrap_or_else(UserInfo::anonymous);
    if user.is_anonymous() {
        return error::unauthorized("authentication required").into_response();
    }
    let raw = req.uri().path().to_string();
    let path = match crate::authz::resolve::segments(&raw) {
        Ok(segs) => crate::authz::resolve::canonical_path(&segs),
        Err(_) => return error::no_route().into_response(),
    };
    let (target, info_path) = match clusters::split_cluster_path(&path) {
        Some((name, rest)) => match clusters::ready_member(&state, name) {
            Ok(member) => (Some(member), rest.to_string()),
            Err(e) => return e.into_response(),
        },
        None => (None, path.clone()),
    };
    let discovery = target.as_ref().map_or(&state.discovery, |m| &m.discovery);
    let query = req.uri().query().unwrap_or_default().to_string();
    // An extension's APIService group is no resource of the cluster's: resolved as
    // KubeSphere's request info, authorized as any `/kapis` resource.
    let resolved = if target.is_none()
        && crate::extensions::routing::api_service_for(&state, &info_path).is_some()
    {
        crate::authz::resolve::resolve(req.method().as_str(), &info_path, &query, None)
            .map(|r| r.info)
            .map_err(|_| error::no_route())
    } else {
        resolve_request(discovery, req.method().as_str(), &info_path, &query).await
    };
    let info = match resolved {
        Ok(info) => info,
        Err(e) => return e.into_response(),
    };
    let authz = target.as_ref().map_or(&state.authz, |m| &m.authz);
    crate::audit::note_request(
        req.extensions(),
        &info,
        authz,
        target.as_ref().map(|m| m.name.as_str()),
    );
    let decided_as = crate::authz::resolve::decided_as(&info);
    let decision = authz.authorize(&user, decided_as.as_ref().unwrap_or(&info));
    let grant = match decision.access {
        Some(Access::Granted) => Grant::Full,
        Some(Access::SelfService) => Grant::SelfService,
        Some(Access::Public) => Grant::Public,
        None if target.is_none() && is_filtered_list(&state, &user, &info) => Grant::Filtered,
        None => {
            tracing::debug!(user = %user.name, verb = %info.verb, path = %info.path, reason = %decision.reason, "denied");
            return error::forbidden(forbidden_message(&user, &info)).into_response();
        }
    };
    // Streams into a pod (exec, attach, port-forward) also need `create`, whatever the method
    // (Kubernetes 1.35 asks the same of WebSocket upgrades, which arrive as GET).
    if info.api_group.is_empty()
        && info.resource == "pods"
        && matches!(info.subresource.as_str(), "exec" | "attach" | "portforward")
        && info.verb != "create"
    {
        let mut create = info.clone();
        create.verb = "create".into();
        if !authz.authorize(&user, &create).allowed() {
            return error::forbidden(forbidden_message(&user, &create)).into_response();
        }
    }
    let caller = Caller { user, info, grant };
    let host = target
        .as_ref()
        .is_none_or(|m| Arc::ptr_eq(&m.caches, &state.caches));
    if host && let Some(denied) = proxy::guard_platform_secrets(&state, &caller) {
        return denied;
    }
    if let Some(m) = target {
        req.extensions_mut().insert(clusters::Target(m));
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The protected router's fallback: an extension route (APIService, ReverseProxy, JSBundle) of
/// the host, else the native proxy.
async fn extension_or_forward(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    target: Option<axum::Extension<clusters::Target>>,
    req: Request,
) -> Response {
    let req = if target.is_none() {
        match crate::extensions::routing::route(&state, &caller, req).await {
            Ok(resp) => return resp,
            Err(req) => req,
        }
    } else {
        req
    };
    proxy::forward(State(state), axum::Extension(caller), target, req).await
}

/// Resolves a request against the target cluster's discovery (see [`crate::authz::resolve`]):
/// non-canonical paths, resources the cluster does not serve and cluster-scoped resources under
/// a namespace path are 404, before anything is authorized or forwarded.
async fn resolve_request(
    discovery: &crate::discovery::ClusterDiscovery,
    method: &str,
    path: &str,
    query: &str,
) -> ApiResult<RequestInfo> {
    use crate::authz::resolve::{Unresolved, resolve};
    let not_found = error::no_route;
    let unavailable = |e: String| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("the cluster's discovery is unavailable: {e}"),
        )
    };
    let first = resolve(method, path, query, None).map_err(|_| not_found())?;
    if !first.info.is_resource_request {
        return Ok(first.info);
    }
    let index = if first.info.api_prefix == "kapis" {
        if crate::authz::resolve::PLATFORM_KAPIS_GROUPS.contains(&first.info.api_group.as_str())
            && !crate::authz::resolve::is_generic(&first.info)
        {
            return Ok(first.info);
        }
        // KubeSphere's generic and dynamic APIs name the cluster's own resources.
        let index = discovery.index().await.map_err(unavailable)?;
        if !crate::authz::resolve::is_generic(&first.info)
            && !crate::authz::resolve::is_dynamic(&first.info, &index)
        {
            let fresh = discovery.refresh().await.map_err(unavailable)?;
            if !crate::authz::resolve::is_dynamic(&first.info, &fresh) {
                return Ok(first.info);
            }
            fresh
        } else {
            index
        }
    } else {
        discovery.index().await.map_err(unavailable)?
    };
    match resolve(method, path, query, Some(&index)) {
        Ok(r) => Ok(r.info),
        Err(Unresolved::NotFound(_)) => Err(not_found()),
        Err(Unresolved::UnknownResource { .. }) => {
            let index = discovery.refresh().await.map_err(unavailable)?;
            resolve(method, path, query, Some(&index))
                .map(|r| r.info)
                .map_err(|_| not_found())
        }
    }
}

/// kube-apiserver's wording for a denied request.
pub fn forbidden_message(user: &UserInfo, info: &RequestInfo) -> String {
    if !info.is_resource_request {
        return format!(
            "forbidden: User \"{}\" cannot {} path \"{}\"",
            user.name, info.verb, info.path
        );
    }
    let res = if info.subresource.is_empty() {
        info.resource.clone()
    } else {
        format!("{}/{}", info.resource, info.subresource)
    };
    let named = if info.name.is_empty() {
        res.clone()
    } else {
        format!("{res} \"{}\"", info.name)
    };
    let mut msg = format!(
        "{named} is forbidden: User \"{}\" cannot {} resource \"{res}\" in API group \"{}\"",
        user.name, info.verb, info.api_group
    );
    match info.scope {
        Scope::Namespace => msg.push_str(&format!(" in the namespace \"{}\"", info.namespace)),
        Scope::Workspace => msg.push_str(&format!(" in the workspace \"{}\"", info.workspace)),
        Scope::Cluster => msg.push_str(" at the cluster scope"),
        Scope::Global => msg.push_str(" at the platform scope"),
    }
    msg
}

/// Waits until `cache` reflects a write (so this replica reads its own writes).
pub async fn settle(cache: &Cache, written: &Value) {
    cache
        .wait_for_version(
            &key_of(written),
            written["metadata"]["resourceVersion"].as_str(),
        )
        .await;
}

/// Waits until `cache` no longer holds `key`.
pub async fn settle_gone(cache: &Cache, key: &str) {
    cache
        .wait_for(Duration::from_secs(5), |c| c.get(key).is_none())
        .await;
}

/// Parses a JSON request body.
pub fn parse_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))
}

/// Checks a name is a DNS-1123 subdomain.
pub fn check_name(what: &str, name: &str) -> ApiResult<()> {
    let errs = apimachinery::validation::is_dns1123_subdomain(name);
    if name.is_empty() {
        return Err(error::invalid(format!("{what} name is required")));
    }
    if let Some(e) = errs.first() {
        return Err(error::invalid(format!(
            "{what} name {name:?} is invalid: {e}"
        )));
    }
    Ok(())
}
