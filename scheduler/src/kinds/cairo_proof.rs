//! `cairo_proof`: one run of a Cairo program submitted through the API (`POST /v1/jobs`),
//! proven by a worker alone or as one task of a batch proof.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use starfarm_prover::Felt;

use super::{check_program, Claims, JobTerms, KindHandler, KindPayload, Refusal};
use crate::job::JobKind;

/// The payload of a `cairo_proof` job, computed at submission from a native run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CairoProofPayload {
    /// The program's Cairo hash (`{:#x}`): an artifact must prove this program.
    pub cairo_program_hash: String,
    /// Steps of the run (decides batching).
    pub steps: u64,
    /// [`output_sha256`] of what the program outputs on the job's input: an artifact must
    /// prove exactly this output. Absent in jobs submitted before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
}

impl KindPayload for CairoProofPayload {
    const KIND: JobKind = JobKind::CairoProof;
}

/// SHA-256 over the output felts, 32 big-endian bytes each: binds a job's proof to the output
/// its program gives on its input (a hint-fed input is not part of the proof).
pub fn output_sha256(output: &[Felt]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for felt in output {
        hasher.update(felt.to_bytes_be());
    }
    hex::encode(hasher.finalize())
}

/// The handler of `cairo_proof` jobs.
pub struct CairoProof;

impl KindHandler for CairoProof {
    fn kind(&self) -> JobKind {
        JobKind::CairoProof
    }

    fn proven_by_workers(&self) -> bool {
        true
    }

    fn batches(&self) -> bool {
        true
    }

    fn batch_steps(&self, payload: &Value) -> Option<u64> {
        serde_json::from_value::<CairoProofPayload>(payload.clone())
            .ok()
            .map(|p| p.steps)
    }

    /// The submitted program, with the output it gives on the submitted input.
    fn check(&self, job: JobTerms<'_>, claims: &Claims) -> Result<(), Refusal> {
        let payload = CairoProofPayload::of(job)?;
        check_program(&payload.cairo_program_hash, claims.program_hash)?;
        match payload.output_sha256 {
            Some(expected) if output_sha256(&claims.output) != expected => {
                Err(Refusal::Invalid(format!(
                    "the proven output ({} felts) is not what job {}'s program outputs on its input",
                    claims.output.len(),
                    job.id
                )))
            }
            _ => Ok(()),
        }
    }
}
