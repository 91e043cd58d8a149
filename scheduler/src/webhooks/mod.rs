//! Webhooks: a job submitted with a `callback_url` is POSTed, as `GET /v1/jobs/{id}` shows
//! it, to that URL once it is done, failed or cancelled.
//!
//! Delivery is driven by the store ([`JobStore::claim_webhooks`]): nothing is lost when a
//! scheduler restarts, and schedulers sharing a Postgres store each claim different
//! deliveries (`SKIP LOCKED`), one attempt at a time. A 2xx answer delivers; anything else
//! (another status, a redirect, a timeout, a refused address) is retried with exponential
//! backoff ([`starfarm_common::backoff::Backoff`]) until the last attempt, which marks the
//! delivery failed. Every attempt of one job carries the same `Idempotency-Key`, so a
//! receiver that answered too late to count dedupes the retry.
//!
//! Each body is signed ([`signature`]); addresses are checked before each POST
//! ([`target`]).

pub mod signature;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, USER_AGENT};
use starfarm_common::backoff::Backoff;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::api::Metrics;
use crate::job::Job;
use crate::store::{JobStore, StoreError, WebhookOutcome};
use crate::wire::JobView;

/// Header naming the delivery, the same on every attempt: receivers dedupe on it.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Header with the attempt's number (1 for the first).
pub const ATTEMPT_HEADER: &str = "starfarm-delivery-attempt";

/// Settings of webhook delivery (`starfarm scheduler --webhook-*`).
#[derive(Clone)]
pub struct WebhookConfig {
    /// HMAC-SHA256 key of the `Starfarm-Signature` header.
    pub secret: Vec<u8>,
    /// Call loopback, private and link-local addresses too (devnets, tests).
    pub allow_private: bool,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Pause after the first failed attempt; doubles after each further one.
    pub retry_base: Duration,
    /// Longest pause between attempts.
    pub retry_max: Duration,
    /// Longest wait for one POST's answer.
    pub timeout: Duration,
    /// How often the store is asked for due deliveries (a job finishing in this process
    /// wakes the deliverer at once).
    pub poll_interval: Duration,
    /// Deliveries claimed, and POSTed concurrently, at a time.
    pub batch: u32,
}

impl WebhookConfig {
    /// 8 attempts over about an hour (pauses of 30 s, 1, 2, 4, 8, 16 and 30 min), 10 s per
    /// POST, public addresses only.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
            allow_private: false,
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            batch: 16,
        }
    }

    /// How long a claimed attempt is hidden from other schedulers: its POST's timeout, the
    /// address check and a margin. A scheduler that dies mid-attempt is taken over after it.
    fn hold(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("secret", &"<hidden>")
            .field("allow_private", &self.allow_private)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base", &self.retry_base)
            .field("retry_max", &self.retry_max)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why the deliverer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Claims due deliveries from the store and POSTs them.
#[derive(Clone)]
pub struct Deliverer {
    store: Arc<dyn JobStore>,
    config: Arc<WebhookConfig>,
    metrics: Arc<Metrics>,
    /// Used when private addresses are allowed; otherwise each POST gets a client pinned to
    /// the addresses just checked.
    client: reqwest::Client,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn JobStore>,
        config: Arc<WebhookConfig>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, WebhookError> {
        let client = client(&config).build()?;
        Ok(Self {
            store,
            config,
            metrics,
            client,
        })
    }

    /// Delivers until aborted: the due deliveries every poll interval, or at once when
    /// `changes` is notified.
    pub fn spawn(self, changes: Arc<Notify>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let changed = changes.notified();
                match self.deliver_due().await {
                    // A full batch: more may be due.
                    Ok(n) if n >= self.config.batch as usize => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
                }
                tokio::select! {
                    _ = changed => {}
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        })
    }

    /// Claims the deliveries due now and makes one attempt at each, concurrently; returns
    /// how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let jobs = self
            .store
            .claim_webhooks(self.config.batch, self.config.hold())
            .await?;
        let count = jobs.len();
        let mut attempts = JoinSet::new();
        for job in jobs {
            let this = self.clone();
            attempts.spawn(async move { this.attempt(job).await });
        }
        while let Some(done) = attempts.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "a webhook attempt panicked");
            }
        }
        Ok(count)
    }

    /// One attempt at `job`'s webhook, its outcome recorded in the store and counted.
    async fn attempt(&self, job: Job) {
        let (id, attempt) = (job.id, job.webhook.as_ref().map_or(0, |w| w.attempts));
        let outcome = match self.post(job).await {
            Ok(()) => WebhookOutcome::Delivered,
            Err(error) if attempt >= self.config.max_attempts => WebhookOutcome::GaveUp { error },
            Err(error) => WebhookOutcome::Retry {
                after: self.pause_after(attempt),
                error,
            },
        };
        let result = match &outcome {
            WebhookOutcome::Delivered => "delivered",
            WebhookOutcome::Retry { .. } => "retried",
            WebhookOutcome::GaveUp { .. } => "failed",
        };
        match self.store.record_webhook(id, attempt, &outcome).await {
            Ok(true) => {
                self.metrics
                    .webhook_deliveries
                    .with_label_values(&[result])
                    .inc();
                match &outcome {
                    WebhookOutcome::Delivered => {
                        tracing::info!(job = %id, attempt, "webhook delivered")
                    }
                    WebhookOutcome::Retry { error, .. } | WebhookOutcome::GaveUp { error } => {
                        tracing::warn!(job = %id, attempt, %error, result, "webhook attempt failed")
                    }
                }
            }
            Ok(false) => {
                tracing::warn!(job = %id, attempt, "webhook attempt outlived its hold: another scheduler took it over")
            }
            Err(e) => {
                tracing::warn!(job = %id, attempt, error = %e, "recording a webhook attempt failed: it is retried after its hold")
            }
        }
    }

    /// The pause after failed attempt number `attempt` (1 for the first).
    fn pause_after(&self, attempt: u32) -> Duration {
        let mut backoff = Backoff::new(self.config.retry_base, self.config.retry_max);
        (0..attempt.max(1))
            .map(|_| backoff.failed())
            .last()
            .unwrap_or(self.config.retry_base)
    }

    /// POSTs the job; `Err` says why the attempt failed.
    async fn post(&self, job: Job) -> Result<(), String> {
        let url = job
            .spec
            .callback_url
            .clone()
            .ok_or("the job has no callback_url")?;
        let target = target::check(&url, self.config.allow_private)
            .await
            .map_err(|e| format!("callback_url refused: {e}"))?;
        let client = match (target.addrs.is_empty(), target.url.host_str()) {
            (false, Some(host)) => client(&self.config)
                .resolve_to_addrs(host, &target.addrs)
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?,
            _ => self.client.clone(),
        };
        let headers = headers(&job)?;
        let body = serde_json::to_vec(&JobView::from(job))
            .map_err(|e| format!("cannot encode the job: {e}"))?;
        let signed = signed(&self.config.secret, headers, &body)?;
        let response = client
            .post(target.url)
            .headers(signed)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST failed: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
}

/// The client every POST uses: no redirects (a redirect could lead to a private address;
/// it counts as a failed attempt), the configured timeout.
fn client(config: &WebhookConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
}

/// The headers of every attempt at `job`, signature aside.
fn headers(job: &Job) -> Result<HeaderMap, String> {
    let attempt = job.webhook.as_ref().map_or(0, |w| w.attempts);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static("starfarm-webhook"));
    let value = |s: String| HeaderValue::from_str(&s).map_err(|e| e.to_string());
    headers.insert(IDEMPOTENCY_HEADER, value(delivery_id(job))?);
    headers.insert(ATTEMPT_HEADER, value(attempt.to_string())?);
    Ok(headers)
}

/// Adds the signature of `body`, made now.
fn signed(secret: &[u8], mut headers: HeaderMap, body: &[u8]) -> Result<HeaderMap, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let now = i64::try_from(now).map_err(|e| e.to_string())?;
    let value =
        HeaderValue::from_str(&signature::sign(secret, now, body)).map_err(|e| e.to_string())?;
    headers.insert(signature::HEADER, value);
    Ok(headers)
}

/// The id of `job`'s delivery: one per job (a job finishes once).
pub fn delivery_id(job: &Job) -> String {
    format!("starfarm-job-{}-{}", job.id, job.created_at_ms)
}
