//! The worker's side of `/v1/workers/*` and `/v1/blobs/*`: typed calls, the server's JSON
//! errors as [`ClientError`], a stale lease as [`ClientError::Fenced`].

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::job::{ContentHash, Phase};
use crate::wire::{
    ClaimRequest, ClaimResponse, CompleteParams, FailRequest, HeartbeatRequest, JobView, LeaseView,
    PhaseRequest, ReleaseRequest,
};

/// Why a call to the scheduler did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The lease is no longer current: another worker owns the job now, or it was cancelled.
    #[error("{call}: the lease is no longer current (fenced): {reason}")]
    Fenced { call: &'static str, reason: String },
    /// The scheduler answered with an error.
    #[error("{call}: HTTP {status} `{code}`: {reason}")]
    Api {
        call: &'static str,
        status: u16,
        code: String,
        reason: String,
    },
    /// The scheduler could not be reached or its answer could not be read.
    #[error("{call}: {source}")]
    Transport {
        call: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// A blob whose bytes do not hash to its name.
    #[error("blob {0}: its bytes do not match their SHA-256 name")]
    CorruptBlob(ContentHash),
}

impl ClientError {
    /// Worth trying again: the scheduler was unreachable or answered 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// The longest any call but a claim may take (a claim: its long-poll plus [`CLAIM_MARGIN`]).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A hand-in uploads the artifact and waits for the scheduler to verify it again.
const COMPLETE_TIMEOUT: Duration = Duration::from_secs(180);

/// How much longer than its long-poll a claim may take before it is given up.
const CLAIM_MARGIN: Duration = Duration::from_secs(15);

/// An HTTP client of one scheduler, authenticated with a worker (API) key.
#[derive(Clone)]
pub struct SchedulerClient {
    http: reqwest::Client,
    base: String,
    key: String,
    /// Sent with every hand-in for the job's estimated cost; 0: not reported.
    price_per_hour_usd: f64,
}

impl SchedulerClient {
    pub fn new(base_url: &str, key: &str) -> Result<Self, ClientError> {
        // Every call is bounded: a scheduler behind a partition never answers, and a worker
        // stuck on one call could neither retry nor stop.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|source| ClientError::Transport {
                call: "client",
                source,
            })?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            price_per_hour_usd: 0.0,
        })
    }

    /// Reports this price per machine-hour (USD) with each hand-in (0: none).
    pub fn with_price_per_hour(mut self, usd: f64) -> Self {
        self.price_per_hour_usd = usd;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A job that fits, waiting up to `wait` for one; `None` when none came.
    pub async fn claim(
        &self,
        request: &ClaimRequest,
        wait: Duration,
    ) -> Result<Option<ClaimResponse>, ClientError> {
        let call = "claim";
        let response = self
            .http
            .post(self.url("/v1/workers/claim"))
            .bearer_auth(&self.key)
            .timeout(wait + CLAIM_MARGIN)
            .json(request)
            .send()
            .await
            .map_err(|source| ClientError::Transport { call, source })?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        parse(call, response).await.map(Some)
    }

    pub async fn heartbeat(&self, lease: &LeaseView) -> Result<LeaseView, ClientError> {
        let body = HeartbeatRequest {
            lease: lease.clone(),
        };
        self.post_json("heartbeat", "/v1/workers/heartbeat", &body)
            .await
    }

    pub async fn phase(&self, lease: &LeaseView, phase: Phase) -> Result<JobView, ClientError> {
        let body = PhaseRequest {
            lease: lease.clone(),
            phase,
        };
        self.post_json("phase", "/v1/workers/phase", &body).await
    }

    /// Hands in a verified artifact; the scheduler verifies it again before the job is done.
    /// `task_index`: the artifact proves a batch and this job is that task.
    pub async fn complete(
        &self,
        lease: &LeaseView,
        backend: &str,
        task_index: Option<u32>,
        artifact: Vec<u8>,
    ) -> Result<JobView, ClientError> {
        let call = "complete";
        let query = CompleteParams {
            job_id: lease.job_id,
            fencing_token: lease.fencing_token,
            backend: Some(backend.to_owned()),
            task_index,
            price_per_hour_usd: (self.price_per_hour_usd > 0.0).then_some(self.price_per_hour_usd),
        };
        let response = self
            .http
            .post(self.url("/v1/workers/complete"))
            .bearer_auth(&self.key)
            .query(&query)
            .timeout(COMPLETE_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(artifact)
            .send()
            .await
            .map_err(|source| ClientError::Transport { call, source })?;
        parse(call, response).await
    }

    pub async fn fail(
        &self,
        lease: &LeaseView,
        reason: &str,
        retryable: bool,
    ) -> Result<JobView, ClientError> {
        let body = FailRequest {
            lease: lease.clone(),
            reason: reason.to_owned(),
            retryable,
        };
        self.post_json("fail", "/v1/workers/fail", &body).await
    }

    pub async fn release(&self, lease: &LeaseView, reason: &str) -> Result<JobView, ClientError> {
        let body = ReleaseRequest {
            lease: lease.clone(),
            reason: reason.to_owned(),
        };
        self.post_json("release", "/v1/workers/release", &body)
            .await
    }

    /// A stored program, input or artifact, checked against its name.
    pub async fn blob(&self, hash: &ContentHash) -> Result<Vec<u8>, ClientError> {
        let call = "blob";
        let response = self
            .http
            .get(self.url(&format!("/v1/blobs/{hash}")))
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|source| ClientError::Transport { call, source })?;
        let response = check(call, response).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport { call, source })?;
        if ContentHash::of(&bytes) != *hash {
            return Err(ClientError::CorruptBlob(hash.clone()));
        }
        Ok(bytes.to_vec())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .map_err(|source| ClientError::Transport { call, source })?;
        parse(call, response).await
    }
}

async fn parse<T: DeserializeOwned>(
    call: &'static str,
    response: reqwest::Response,
) -> Result<T, ClientError> {
    check(call, response)
        .await?
        .json()
        .await
        .map_err(|source| ClientError::Transport { call, source })
}

/// The response if it succeeded; otherwise the server's `{"error": {code, reason}}`.
async fn check(
    call: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
    let reason = body["error"]["reason"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.to_string());
    if code == "fenced" {
        return Err(ClientError::Fenced { call, reason });
    }
    Err(ClientError::Api {
        call,
        status: status.as_u16(),
        code,
        reason,
    })
}
