//! `GET /v1/jobs/{id}/events`: a job's state changes as server-sent events. The stream is
//! driven by the store (re-read on every [`AppState::job_changed`] and every
//! [`super::ApiConfig::poll_interval`]), so it sees changes made by other scheduler
//! processes too, and it ends after the job's terminal state, or after
//! [`super::ApiConfig::max_wait`] like a long-poll (a graceful shutdown waits for open
//! streams; clients reconnect).

use std::convert::Infallible;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::auth::visible_job;
use super::jobs::job_id;
use super::{ApiError, AppState, Caller, ErrorBody, Tenant};
use crate::job::{Job, JobId, JobState};
use crate::wire::JobView;

/// Follow a job: one `state` event (data: the job as `GET /v1/jobs/{id}` returns it) now
/// and on each later state or phase change; the stream ends after `done`, `failed` or
/// `cancelled`, or after the server's longest wait (300 s by default; reconnect to go on).
/// Comments keep the connection alive in between. A store failure ends the stream with an
/// `error` event (`{"error": {"code", "reason"}}`).
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/events",
    tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `event: state` with the job (JSON) per state change, until a terminal state or the server's longest wait (reconnect then)", content_type = "text/event-stream", body = String),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The key's role may not read jobs (worker keys)", body = ErrorBody),
        (status = 404, description = "No such job, or another tenant's", body = ErrorBody)
    )
)]
pub async fn job_events(
    Tenant(caller): Tenant,
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = job_id(id)?;
    // Read once before answering, so that a hidden or missing job is a 404, not a stream.
    let job = visible_job(&state, &caller, id).await?;
    let deadline = tokio::time::Instant::now() + state.config.max_wait;
    let follow = Follow {
        deadline,
        state,
        caller,
        id,
        next: Some(job),
        last: None,
        ended: false,
    };
    let events = futures_util::stream::unfold(follow, |mut follow| async move {
        let event = follow.next_event().await?;
        Some((Ok(event), follow))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Where a stream stands: the job read but not yet looked at, and the last state sent.
struct Follow {
    deadline: tokio::time::Instant,
    state: AppState,
    caller: Caller,
    id: JobId,
    next: Option<Job>,
    last: Option<JobState>,
    ended: bool,
}

impl Follow {
    /// The next event, waiting for a change as long as it takes; `None` once ended.
    async fn next_event(&mut self) -> Option<Event> {
        while !self.ended {
            // Registered before the read, so a change between the read and the wait wakes us.
            let changed = self.state.changes.notified();
            let job = match self.next.take() {
                Some(job) => job,
                None => match visible_job(&self.state, &self.caller, self.id).await {
                    Ok(job) => job,
                    Err(e) => {
                        self.ended = true;
                        return Some(error_event(&e));
                    }
                },
            };
            if self.last != Some(job.state) {
                self.last = Some(job.state);
                self.ended = job.state.is_terminal();
                return Some(state_event(job));
            }
            let now = tokio::time::Instant::now();
            if now >= self.deadline {
                break;
            }
            let nap = self.state.config.poll_interval.min(self.deadline - now);
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
        None
    }
}

fn state_event(job: Job) -> Event {
    let view = JobView::from(job);
    Event::default()
        .event("state")
        .json_data(&view)
        .unwrap_or_else(|e| error_event(&ApiError::internal(format!("cannot encode the job: {e}"))))
}

fn error_event(error: &ApiError) -> Event {
    tracing::warn!(code = error.code, reason = %error.reason, "job event stream ended");
    let body = serde_json::json!({"error": {"code": error.code, "reason": error.reason}});
    Event::default().event("error").data(body.to_string())
}
