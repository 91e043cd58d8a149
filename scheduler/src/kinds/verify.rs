//! [`verify_for_job`]: the one acceptance check of a proof artifact for a job, whoever
//! accepts it (the API's `complete`, the block aggregator). The proof must verify under the
//! job's profile; then the job's kind handler judges what it proves ([`Claims`]).

use serde_json::{json, Value};
use starfarm_prover::artifact::ArtifactHeader;
use starfarm_prover::{batch, CairoProgram, Felt, ProofArtifact, SecurityProfile, Verified};

use super::{handler, JobTerms};

/// Why an artifact is not accepted for a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The artifact is malformed, does not verify, or proves something else than the job
    /// asks.
    #[error("{0}")]
    Invalid(String),
    /// The job's own record cannot be read (profile, payload): no artifact could pass.
    #[error("{0}")]
    Internal(String),
}

fn invalid(reason: impl Into<String>) -> Refusal {
    Refusal::Invalid(reason.into())
}

/// What the artifact is said to prove about the job.
#[derive(Debug, Clone, Copy)]
pub enum Proves<'a> {
    /// The job's program alone.
    Alone,
    /// The batch program (`starfarm_prover::batch`), whose task `index` is the job; `program`
    /// is the job's program, whose code the task must have run.
    Task {
        index: u32,
        program: &'a CairoProgram,
    },
}

/// What a verified artifact proves about one job: the program that ran and its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The job's Cairo program hash.
    pub program_hash: Felt,
    /// The job's program output (for a batch task: that task's output).
    pub output: Vec<Felt>,
    /// Set when the job is a task of a batch proof.
    pub batch: Option<BatchClaims>,
}

/// Where in a batch proof a job's claims come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchClaims {
    /// The batch program's hash (what the proof itself proves).
    pub program_hash: Felt,
    pub task_index: u32,
    pub task_hash: Felt,
    /// Tasks in the batch.
    pub tasks: usize,
}

/// An artifact accepted for a job.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub header: ArtifactHeader,
    pub verified: Verified,
    pub claims: Claims,
}

/// Parses `artifact`, verifies it under `job`'s profile and checks with the job's kind
/// handler that it proves what the job asks (CPU work: call it off the async threads).
pub fn verify_for_job(
    job: JobTerms<'_>,
    artifact: &[u8],
    proves: Proves<'_>,
) -> Result<Accepted, Refusal> {
    let profile: SecurityProfile = job
        .profile
        .parse()
        .map_err(|e: String| Refusal::Internal(format!("job {}: {e}", job.id)))?;
    let artifact = ProofArtifact::from_bytes(artifact)
        .map_err(|e| invalid(format!("not a proof artifact: {e}")))?;
    if artifact.header.profile != profile {
        return Err(invalid(format!(
            "the artifact was proven with profile {}, the job asks for {profile}",
            artifact.header.profile
        )));
    }
    let verified = starfarm_prover::verify(&artifact, profile.security_bits())
        .map_err(|e| invalid(format!("the artifact does not verify: {e}")))?;
    let claims = check_claims(job, verified.program_hash, &verified.output, proves)?;
    Ok(Accepted {
        header: artifact.header,
        verified,
        claims,
    })
}

/// Checks what a proof (verified already) of `program_hash` with `output` proves about
/// `job`: reads the job's task when it is a batch proof, then asks the kind's handler.
pub fn check_claims(
    job: JobTerms<'_>,
    program_hash: Felt,
    output: &[Felt],
    proves: Proves<'_>,
) -> Result<Claims, Refusal> {
    let claims = match proves {
        Proves::Alone => Claims {
            program_hash,
            output: output.to_vec(),
            batch: None,
        },
        Proves::Task { index, program } => task_claims(job, program_hash, output, index, program)?,
    };
    handler(job.kind).check(job, &claims)?;
    Ok(claims)
}

/// The claims of task `index` of a batch proof: it must prove the batch program, have that
/// task, and the task must have run `program`'s code (by task hash).
fn task_claims(
    job: JobTerms<'_>,
    program_hash: Felt,
    output: &[Felt],
    index: u32,
    program: &CairoProgram,
) -> Result<Claims, Refusal> {
    if !handler(job.kind).batches() {
        return Err(invalid(format!(
            "a task index was given but {} jobs are not proven in batches",
            job.kind.as_str()
        )));
    }
    let batch_hash = batch::batch_program()
        .map_err(|e| Refusal::Internal(e.to_string()))?
        .hash();
    if program_hash != batch_hash {
        return Err(invalid(format!(
            "a task index was given but the artifact proves {program_hash:#x}, not the batch program {batch_hash:#x}"
        )));
    }
    let tasks = batch::parse_batch_output(output)
        .map_err(|e| invalid(format!("not a batch output: {e}")))?;
    let task = tasks.get(index as usize).ok_or_else(|| {
        invalid(format!(
            "the batch has {} tasks, no task {index}",
            tasks.len()
        ))
    })?;
    if batch::task_hash(program) != task.task_hash {
        return Err(invalid(format!(
            "task {index} of the batch ran other code than job {}'s program",
            job.id
        )));
    }
    Ok(Claims {
        program_hash: program.hash(),
        output: task.output.clone(),
        batch: Some(BatchClaims {
            program_hash: batch_hash,
            task_index: index,
            task_hash: task.task_hash,
            tasks: tasks.len(),
        }),
    })
}

impl Accepted {
    /// What the job records as its result: what was proven, and how (profile, prover,
    /// backend, timings) from the artifact's header.
    pub fn result(&self, job: JobTerms<'_>) -> Value {
        let header = &self.header;
        let claims = &self.claims;
        let hex =
            |felts: &[Felt]| -> Vec<String> { felts.iter().map(|f| format!("{f:#x}")).collect() };
        let mut result = json!({
            "program_hash": format!("{:#x}", claims.program_hash),
            "output": hex(&claims.output),
            "security_bits": self.verified.security_bits,
            "profile": header.profile.name(),
            "steps": header.steps,
            "prover": header.prover,
            "backend": header.backend,
            "gpu": header.gpu,
            "timings_ms": serde_json::to_value(header.timings_ms).unwrap_or(Value::Null),
        });
        match &claims.batch {
            None => result["fact"] = json!(self.verified.fact),
            Some(batch) => {
                result["batch"] = json!({
                    "program_hash": format!("{:#x}", batch.program_hash),
                    "task_index": batch.task_index,
                    "task_hash": format!("{:#x}", batch.task_hash),
                    "tasks": batch.tasks,
                    "fact": self.verified.fact,
                });
                // The header counts the whole batch's steps; the job's own are in its payload.
                if let Some(steps) = handler(job.kind).batch_steps(job.payload) {
                    result["steps"] = json!(steps);
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobId, JobKind};
    use crate::kinds::{output_sha256, AggregatePayload, CairoProofPayload, ChunkPayload};
    use std::sync::OnceLock;

    /// A Fibonacci program (the repository's example) and one real Test-profile proof of it
    /// on input 5, made once for every test here.
    struct Fixture {
        program: CairoProgram,
        artifact: Vec<u8>,
        output: Vec<Felt>,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/fibonacci.json");
            let bytes = std::fs::read(path).expect("examples/fibonacci.json");
            let program = CairoProgram::from_json(&bytes, "fibonacci").expect("a program");
            let input = starfarm_prover::ProgramInput::new(vec![Felt::from(5u64)]);
            let mut prover = starfarm_prover::Prover::new(SecurityProfile::Test);
            let artifact = prover
                .prove(&program, &input, &mut |_| {})
                .expect("a proof");
            let output = artifact.header.output.clone();
            let artifact = artifact.to_bytes().expect("encodes");
            Fixture {
                program,
                artifact,
                output,
            }
        })
    }

    fn terms<'a>(kind: JobKind, profile: &'a str, payload: &'a Value) -> JobTerms<'a> {
        JobTerms {
            id: JobId(1),
            kind,
            profile,
            payload,
        }
    }

    fn json(payload: impl serde::Serialize) -> Value {
        serde_json::to_value(payload).expect("a payload encodes")
    }

    fn cairo_payload(program_hash: Felt, output_sha256: Option<String>) -> Value {
        json(CairoProofPayload {
            cairo_program_hash: format!("{program_hash:#x}"),
            steps: 100,
            output_sha256,
        })
    }

    fn chunk_payload(program_hash: Felt, expected_output: Vec<Felt>) -> Value {
        json(ChunkPayload {
            cairo_program_hash: format!("{program_hash:#x}"),
            block_number: 0,
            block_hash: Felt::ZERO,
            chunk_index: 0,
            chunk_count: 1,
            tx_start: 0,
            tx_end: 0,
            estimated_steps: 100,
            expected_output,
        })
    }

    fn refusal(result: Result<Accepted, Refusal>) -> String {
        match result {
            Err(Refusal::Invalid(reason)) => reason,
            other => panic!("expected an invalid artifact, got {other:?}"),
        }
    }

    /// Why the fixture's artifact is refused for a Test-profile job of `kind` with `payload`.
    fn refused(kind: JobKind, payload: &Value, proves: Proves<'_>) -> String {
        let job = terms(kind, "test", payload);
        refusal(verify_for_job(job, &fixture().artifact, proves))
    }

    /// Asserts that each `(payload, proves, reason)` is refused for a job of `kind`, with a
    /// reason that contains `reason`.
    fn assert_refused(kind: JobKind, cases: &[(Value, Proves<'_>, &str)]) {
        for (payload, proves, expected) in cases {
            let reason = refused(kind, payload, *proves);
            assert!(reason.contains(expected), "{reason}");
        }
    }

    /// The fixture's proof handed in as task 0 of a batch.
    fn as_task() -> Proves<'static> {
        Proves::Task {
            index: 0,
            program: &fixture().program,
        }
    }

    #[test]
    fn refusals_common_to_every_kind() {
        let f = fixture();
        let payload = cairo_payload(f.program.hash(), None);
        let job = terms(JobKind::CairoProof, "test", &payload);
        let reason = refusal(verify_for_job(job, b"garbage", Proves::Alone));
        assert!(reason.contains("not a proof artifact"), "{reason}");
        let other_profile = terms(JobKind::CairoProof, "production", &payload);
        let reason = refusal(verify_for_job(other_profile, &f.artifact, Proves::Alone));
        assert!(reason.contains("profile test"), "{reason}");
        let mut tampered = f.artifact.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(verify_for_job(job, &tampered, Proves::Alone).is_err());
        let unknown = terms(JobKind::CairoProof, "no-such-profile", &payload);
        assert!(matches!(
            verify_for_job(unknown, &f.artifact, Proves::Alone),
            Err(Refusal::Internal(_))
        ));
    }

    #[test]
    fn cairo_proof_accepts_its_program_with_its_output_only() {
        let f = fixture();
        let kind = JobKind::CairoProof;
        let sha = Some(output_sha256(&f.output));
        let good = cairo_payload(f.program.hash(), sha.clone());
        let job = terms(kind, "test", &good);
        let accepted = verify_for_job(job, &f.artifact, Proves::Alone).expect("accepted");
        assert_eq!(accepted.claims.output, f.output);
        let result = accepted.result(job);
        assert_eq!(result["program_hash"], format!("{:#x}", f.program.hash()));
        assert_eq!(result["profile"], "test");

        let other_program = cairo_payload(Felt::from(7u64), sha);
        let other_output = cairo_payload(f.program.hash(), Some(output_sha256(&[])));
        assert_refused(
            kind,
            &[
                (other_program, Proves::Alone, "the job's program is 0x7"),
                (other_output, Proves::Alone, "on its input"),
                // Not a batch proof: a task index is refused.
                (good, as_task(), "not the batch program"),
            ],
        );
    }

    #[test]
    fn block_chunk_accepts_its_expected_output_only_and_never_a_batch() {
        let f = fixture();
        let kind = JobKind::BlockChunk;
        let good = chunk_payload(f.program.hash(), f.output.clone());
        let job = terms(kind, "test", &good);
        assert!(verify_for_job(job, &f.artifact, Proves::Alone).is_ok());

        let mut other_output = f.output.clone();
        other_output[1] += Felt::ONE;
        let longer = [f.output.clone(), vec![Felt::ONE]].concat();
        let program = f.program.hash();
        assert_refused(
            kind,
            &[
                (
                    chunk_payload(program, other_output),
                    Proves::Alone,
                    "wrong output: output felt 1",
                ),
                (chunk_payload(program, longer), Proves::Alone, "is nothing"),
                (
                    chunk_payload(Felt::from(7u64), f.output.clone()),
                    Proves::Alone,
                    "the job's program is 0x7",
                ),
                (good, as_task(), "not proven in batches"),
            ],
        );
    }

    #[test]
    fn block_aggregate_accepts_no_artifact() {
        let f = fixture();
        let payload = json(AggregatePayload {
            block_number: 0,
            block_hash: Felt::ZERO,
            parent_hash: Felt::ZERO,
            tx_count: 0,
            previous_state_root: Felt::ZERO,
            new_state_root: Felt::ZERO,
            cairo_program_hash: format!("{:#x}", f.program.hash()),
            chunk_jobs: vec![],
        });
        let reason = refused(JobKind::BlockAggregate, &payload, Proves::Alone);
        assert!(reason.contains("aggregator"), "{reason}");
    }
}
