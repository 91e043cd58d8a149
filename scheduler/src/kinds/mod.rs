//! Job kinds and their owners: one [`KindHandler`] per [`JobKind`], one module per kind, in
//! the manner of Madara orchestrator's one `JobHandlerTrait` impl per job type.
//!
//! | kind | module | payload | proven by | artifact accepted when |
//! | --- | --- | --- | --- | --- |
//! | `cairo_proof` | [`cairo_proof`] | [`CairoProofPayload`] | workers, alone or batched | it proves the submitted program with the output it gives on its input |
//! | `block_chunk` | [`block_chunk`] | [`ChunkPayload`] | workers, alone | it proves the block program with the chunk's expected output |
//! | `block_aggregate` | [`block_aggregate`] | [`AggregatePayload`] | the scheduler's aggregator | never: no artifact is handed in |
//!
//! Whoever accepts an artifact for a job (the API's `complete`, the block aggregator) calls
//! [`verify_for_job`]: it verifies the proof under the job's profile and asks the kind's
//! handler whether what it proves ([`Claims`]) is what the job asks for. The worker, whose
//! prover verified the proof already, runs the same [`check_claims`] before it uploads
//! one, so that a proof the scheduler would refuse never leaves the machine. Every other
//! kind-specific decision (which kinds a worker proves, which it may batch, what a payload
//! holds) is asked of [`handler`] or a payload's [`KindPayload`] impl, never matched on
//! [`JobKind`] elsewhere.

pub mod block_aggregate;
pub mod block_chunk;
pub mod cairo_proof;
mod verify;

pub use block_aggregate::{AggregatePayload, AGGREGATOR_BACKEND};
pub use block_chunk::ChunkPayload;
pub use cairo_proof::{output_sha256, CairoProofPayload};
pub use verify::{check_claims, verify_for_job, Accepted, BatchClaims, Claims, Proves, Refusal};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use starfarm_prover::Felt;

use crate::job::{ContentHash, Job, JobId, JobKind, JobSpec};
use crate::wire::JobView;

/// What one kind of job means to the farm.
pub trait KindHandler: Send + Sync {
    fn kind(&self) -> JobKind;

    /// Proving workers take jobs of this kind; otherwise the scheduler runs them itself.
    fn proven_by_workers(&self) -> bool;

    /// Jobs of this kind may be proven as tasks of one batch proof
    /// (`starfarm_prover::batch`).
    fn batches(&self) -> bool {
        false
    }

    /// The Cairo steps of a job of this kind, when it [`batches`](Self::batches) and its
    /// payload says: how a worker decides that the job is small enough to share a proof.
    fn batch_steps(&self, _payload: &Value) -> Option<u64> {
        None
    }

    /// Whether `claims` (what a verified artifact proves) are what `job` asks for.
    fn check(&self, job: JobTerms<'_>, claims: &Claims) -> Result<(), Refusal>;
}

/// The handler of `kind`.
pub fn handler(kind: JobKind) -> &'static dyn KindHandler {
    match kind {
        JobKind::CairoProof => &cairo_proof::CairoProof,
        JobKind::BlockChunk => &block_chunk::BlockChunk,
        JobKind::BlockAggregate => &block_aggregate::BlockAggregate,
    }
}

/// The kinds proving workers take (what a worker claims when it names none).
pub fn proven_by_workers() -> Vec<JobKind> {
    JobKind::ALL
        .into_iter()
        .filter(|&k| handler(k).proven_by_workers())
        .collect()
}

/// The kinds whose jobs may share a batch proof.
pub fn batched_kinds() -> Vec<JobKind> {
    JobKind::ALL
        .into_iter()
        .filter(|&k| handler(k).batches())
        .collect()
}

/// What the checks read of a job: built from a stored [`Job`] or from the [`JobView`] a
/// worker claimed.
#[derive(Debug, Clone, Copy)]
pub struct JobTerms<'a> {
    pub id: JobId,
    pub kind: JobKind,
    /// Security profile name, e.g. `production`.
    pub profile: &'a str,
    pub payload: &'a Value,
}

impl<'a> From<&'a Job> for JobTerms<'a> {
    fn from(job: &'a Job) -> Self {
        Self {
            id: job.id,
            kind: job.spec.kind,
            profile: &job.spec.profile,
            payload: &job.spec.payload,
        }
    }
}

impl<'a> From<&'a JobView> for JobTerms<'a> {
    fn from(job: &'a JobView) -> Self {
        Self {
            id: JobId(job.id),
            kind: job.kind,
            profile: &job.profile,
            payload: &job.payload,
        }
    }
}

/// A kind's typed payload, stored as JSON in [`JobSpec::payload`].
pub trait KindPayload: Serialize + DeserializeOwned {
    const KIND: JobKind;

    /// The payload of `job`; refused when the job is of another kind or its payload does
    /// not parse (the scheduler's own record is at fault: [`Refusal::Internal`]).
    fn of(job: JobTerms<'_>) -> Result<Self, Refusal> {
        if job.kind != Self::KIND {
            return Err(Refusal::Internal(format!(
                "job {} is a {} job, not {}",
                job.id,
                job.kind.as_str(),
                Self::KIND.as_str()
            )));
        }
        serde_json::from_value(job.payload.clone()).map_err(|e| {
            Refusal::Internal(format!(
                "job {}: malformed {} payload: {e}",
                job.id,
                Self::KIND.as_str()
            ))
        })
    }

    /// A job spec of this kind carrying this payload (defaults as [`JobSpec::new`]).
    fn spec(
        &self,
        program_hash: ContentHash,
        input_hash: ContentHash,
        profile: impl Into<String>,
    ) -> JobSpec {
        let mut spec = JobSpec::new(Self::KIND, program_hash, input_hash, profile);
        // Plain structs of numbers, strings and felts: serializing them cannot fail.
        spec.payload = serde_json::to_value(self).unwrap_or(Value::Null);
        spec
    }
}

/// Refuses an artifact that proves another program than `expected` (`{:#x}`).
fn check_program(expected: &str, proven: Felt) -> Result<(), Refusal> {
    let proven = format!("{proven:#x}");
    if proven == expected {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "the artifact proves program {proven}, the job's program is {expected}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_handler() {
        for kind in JobKind::ALL {
            assert_eq!(handler(kind).kind(), kind);
        }
        assert_eq!(
            proven_by_workers(),
            [JobKind::CairoProof, JobKind::BlockChunk]
        );
        assert_eq!(batched_kinds(), [JobKind::CairoProof]);
    }

    #[test]
    fn a_payload_is_read_only_from_a_job_of_its_kind() {
        let payload = CairoProofPayload {
            cairo_program_hash: "0x1".into(),
            steps: 10,
            output_sha256: None,
        };
        let spec = payload.spec(ContentHash::of(b"p"), ContentHash::of(b"i"), "test");
        assert_eq!(spec.kind, JobKind::CairoProof);
        let terms = |kind, payload| JobTerms {
            id: JobId(7),
            kind,
            profile: "test",
            payload,
        };
        let read = CairoProofPayload::of(terms(JobKind::CairoProof, &spec.payload));
        assert_eq!(read.ok(), Some(payload));
        let other = CairoProofPayload::of(terms(JobKind::BlockChunk, &spec.payload));
        assert!(matches!(other, Err(Refusal::Internal(r)) if r.contains("is a block_chunk job")));
        let malformed = CairoProofPayload::of(terms(JobKind::CairoProof, &Value::Null));
        assert!(matches!(malformed, Err(Refusal::Internal(r)) if r.contains("malformed")));
    }
}
