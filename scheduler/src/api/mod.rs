//! The scheduler's REST API (axum), documented by the OpenAPI document it serves at
//! `/openapi.json` (utoipa).
//!
//! # Routes
//! | route | what |
//! | --- | --- |
//! | `POST /v1/jobs` | submit a compiled program + input + profile; 201 new job, 200 existing |
//! | `GET /v1/jobs?state=&kind=&limit=&before=` | list jobs, newest first, with a cursor |
//! | `GET /v1/jobs/{id}` | one job |
//! | `POST /v1/jobs/{id}/cancel` | cancel a queued or active job |
//! | `GET /v1/jobs/{id}/wait?timeout_secs=` | long-poll until the job is done, failed or cancelled |
//! | `GET /v1/jobs/{id}/events` | server-sent events: the job at each state change, until terminal ([`events`]) |
//! | `GET /v1/jobs/{id}/artifact` | the proof artifact of a done job (409 otherwise) |
//! | (outbound) `POST <callback_url>` | the finished job, signed, to the URL it was submitted with ([`crate::webhooks`]) |
//! | `POST /v1/workers/claim` | a worker leases a job that fits it (long-poll; 204 when none) |
//! | `POST /v1/workers/heartbeat` | extend a lease (409 `fenced` when stale) |
//! | `POST /v1/workers/phase` | report proving / verifying |
//! | `POST /v1/workers/complete?job_id=&fencing_token=` | hand in a proof artifact, verified here ([`complete`], [`crate::kinds::verify_for_job`]) |
//! | `POST /v1/workers/fail` | give a job back after an error (retryable or not) |
//! | `POST /v1/workers/release` | hand a job back untouched (shutdown; attempt not counted) |
//! | `GET /v1/blobs/{sha256}` | a stored program, input or artifact |
//! | `GET /openapi.json` | this API's OpenAPI 3.1 document |
//! | `GET /metrics` | Prometheus metrics |
//! | `GET /health` | liveness |
//!
//! # Tenants
//! Every `/v1` route needs `Authorization: Bearer <API key>` ([`auth`]): a stored key
//! (`starfarm keys add`, looked up on every request: a revoked key gets 401 at once) or one
//! of [`ApiConfig::api_keys`] (the `--api-key` flag: admin, in memory). Each key has a role:
//! - `submit`: `/v1/jobs` for its own jobs, and `/v1/blobs` for their program, input and
//!   artifact. Another tenant's job or blob answers 404, as if it did not exist.
//!   Submissions are idempotent per tenant: two tenants submitting the same program get
//!   two jobs (each proven on its own).
//! - `worker`: `/v1/workers/*`, and `/v1/blobs` for the program and input of the jobs it
//!   holds; 403 on `/v1/jobs`.
//! - `admin`: everything, every tenant's jobs and blobs and the farm's own (block) jobs. An
//!   admin key may run workers too: the devnet's single key does.
//!
//! A submission over its key's quota ([`quota`]: live jobs, submissions per minute, stored
//! bytes; per key, else [`ApiConfig::default_quota`]) gets 429 with `Retry-After`, checked
//! before anything is stored. At equal priority, claims alternate between tenants (fair
//! queueing, see [`crate::store`]). `/metrics` counts submissions and live jobs per tenant.
//!
//! Every error is JSON: `{"error": {"code": "...", "reason": "..."}}`
//! ([`ErrorBody`]). Request bodies above [`ApiConfig::max_body_bytes`] get 413.
//!
//! Request and response bodies are [`crate::wire`]'s, shared with the worker's client.
//! One module per resource: [`jobs`] (`/v1/jobs`), [`workers`] (leases: claim, heartbeat,
//! phase, fail, release), [`complete`] (hand-in), [`blobs`] (`/v1/blobs`).
//!
//! # Adding routes
//! Routes are registered once, in [`api_router`], from handlers annotated with
//! `#[utoipa::path]`: the router and the document come from the same list, so the document
//! covers every route. A new resource is a new module whose handlers take the same
//! [`AppState`], added there with `.routes(routes!(...))`; its bodies go in [`crate::wire`].

pub mod auth;
pub mod blobs;
pub mod complete;
mod error;
pub mod events;
pub mod jobs;
pub mod metrics;
pub mod quota;
pub mod workers;

pub use auth::{AnyKey, Caller, Tenant, WorkerKey};
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use metrics::Metrics;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Extension, Router};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::blobs::BlobStore;
use crate::store::{JobStore, Quota, StoreError};
use crate::webhooks::{Deliverer, WebhookConfig, WebhookError};

/// The name of the bearer-key security scheme in the OpenAPI document.
pub const SECURITY_SCHEME: &str = "api_key";

/// The `--api-key` admin keys, kept as SHA-256 digests (a lookup by digest does not leak a key's bytes
/// through timing, and the process holds no key in the clear).
#[derive(Clone, Default)]
pub struct ApiKeys(HashSet<[u8; 32]>);

impl ApiKeys {
    /// Empty keys are ignored.
    pub fn new<K: AsRef<str>>(keys: impl IntoIterator<Item = K>) -> Self {
        Self(
            keys.into_iter()
                .map(|k| k.as_ref().trim().to_owned())
                .filter(|k| !k.is_empty())
                .map(|k| Sha256::digest(k.as_bytes()).into())
                .collect(),
        )
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0
            .contains(&<[u8; 32]>::from(Sha256::digest(key.as_bytes())))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.0.len())
    }
}

/// Settings of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Admin keys accepted beside the stored ones (the `--api-key` flag).
    pub api_keys: ApiKeys,
    /// Limits of stored keys that set none of their own (all unlimited by default).
    pub default_quota: Quota,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Longest long-poll of `/v1/jobs/{id}/wait`.
    pub max_wait: Duration,
    /// Long-poll wait when the client gives no timeout.
    pub default_wait: Duration,
    /// How often a long-poll re-reads the store (other processes change jobs too).
    pub poll_interval: Duration,
    /// Attempts given to each submitted job.
    pub max_attempts: u32,
    /// Webhook delivery; `None` (no `--webhook-secret`): submissions with a `callback_url`
    /// are refused.
    pub webhooks: Option<Arc<WebhookConfig>>,
}

impl ApiConfig {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;

    pub fn new(api_keys: ApiKeys) -> Self {
        Self {
            api_keys,
            default_quota: Quota::default(),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_wait: Duration::from_secs(300),
            default_wait: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            max_attempts: 3,
            webhooks: None,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn JobStore>,
    pub blobs: BlobStore,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
    /// Woken whenever this process changes a job, so that long-polls and event streams
    /// answer at once (they also re-read the store every [`ApiConfig::poll_interval`]).
    pub changes: Arc<Notify>,
}

impl AppState {
    pub fn new(store: Arc<dyn JobStore>, blobs: BlobStore, config: ApiConfig) -> Self {
        Self {
            store,
            blobs,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            changes: Arc::new(Notify::new()),
        }
    }

    /// Tells long-polls that a job changed.
    pub fn job_changed(&self) {
        self.changes.notify_waiters();
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "starfarm scheduler",
        description = "Submit Cairo programs to the starfarm proving farm, follow their jobs and \
                       download verified proof artifacts. Each API key has a role: `submit` \
                       (its own jobs and their blobs; another tenant's job answers 404), \
                       `worker` (the `/v1/workers` routes and the blobs of the jobs it holds) \
                       or `admin` (everything). A wrong role gets 403; an unknown or revoked \
                       key 401; a submission over the key's quota 429 with `Retry-After`. \
                       Errors are JSON: \
                       `{\"error\": {\"code\": \"...\", \"reason\": \"...\"}}`."
    ),
    modifiers(&BearerKey),
    tags(
        (name = "jobs", description = "Proving jobs (submit and admin keys; a tenant sees its own jobs only)"),
        (name = "workers", description = "Worker leases (worker and admin keys) and blobs"),
        (name = "service", description = "Document, metrics and health")
    )
)]
struct ApiDoc;

struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route, with its documentation: the single list the router and the document are
/// built from.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(jobs::submit_job, jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::wait_job))
        .routes(routes!(events::job_events))
        .routes(routes!(jobs::get_artifact))
        .routes(routes!(workers::claim))
        .routes(routes!(workers::heartbeat))
        .routes(routes!(workers::set_phase))
        .routes(routes!(complete::complete))
        .routes(routes!(workers::fail))
        .routes(routes!(workers::release))
        .routes(routes!(blobs::get_blob))
        .routes(routes!(openapi_json))
        .routes(routes!(metrics))
        .routes(routes!(health))
}

/// The OpenAPI document of [`router`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (router, document) = api_router().split_for_parts();
    let document = Arc::new(document);
    router
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(document))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::map_response_with_state(
            state.clone(),
            count_unavailable,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Takes back expired leases every `every` (what a scheduler process runs beside the API),
/// counting them in `state`'s metrics.
pub fn spawn_lease_sweeper(state: &AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    let store = Arc::clone(&state.store);
    let metrics = Arc::clone(&state.metrics);
    let changes = Arc::clone(&state.changes);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store.expire_leases().await {
                Ok(0) => {}
                Ok(n) => {
                    metrics.lease_expiries.inc_by(n);
                    changes.notify_waiters(); // the jobs are claimable again
                    tracing::info!(expired = n, "took back expired leases");
                }
                Err(e) => {
                    if matches!(e, StoreError::Unavailable(_)) {
                        metrics
                            .store_unavailable
                            .with_label_values(&["lease_sweep"])
                            .inc();
                    }
                    tracing::warn!(error = %e, "lease sweep failed")
                }
            }
        }
    })
}

/// Delivers webhooks (what a scheduler process runs beside the API when
/// [`ApiConfig::webhooks`] is set), counting them in `state`'s metrics.
pub fn spawn_deliverer(
    state: &AppState,
) -> Result<Option<tokio::task::JoinHandle<()>>, WebhookError> {
    let Some(config) = &state.config.webhooks else {
        return Ok(None);
    };
    let deliverer = Deliverer::new(
        Arc::clone(&state.store),
        Arc::clone(config),
        Arc::clone(&state.metrics),
    )?;
    Ok(Some(deliverer.spawn(Arc::clone(&state.changes))))
}

/// Counts the requests refused because the job store's database could not be reached.
async fn count_unavailable(State(state): State<AppState>, response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        state
            .metrics
            .store_unavailable
            .with_label_values(&["request"])
            .inc();
    }
    response
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}", uri.path()),
    )
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json"))
)]
async fn openapi_json(
    Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Result<Response, ApiError> {
    let json = document
        .to_json()
        .map_err(|e| ApiError::internal(format!("cannot render the document: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// Prometheus metrics: `starfarm_jobs{state}`, `starfarm_queue_depth`, and what this process
/// served.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String),
        (status = 500, description = "The job store could not be read", body = ErrorBody)
    )
)]
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.metrics.refresh(state.store.as_ref()).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response())
}

/// Liveness: `ok` while the process serves.
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses((status = 200, description = "The process is up", content_type = "text/plain", body = String))
)]
async fn health() -> &'static str {
    "ok"
}
