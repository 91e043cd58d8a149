//! The plan of a split verification: the transactions that verify one proof on chain, each
//! under EIP-7825's 2^24 gas, in the order `StwoFactRegistry.statements` lists them: the four
//! trees' Merkle statements, the PCS quotients by ranges of the queries, FRI, the
//! composition check at the out-of-domain point, the public memory's logup sum by ranges of
//! its entries (only for a claim with more than [`DEFAULT_ENTRIES_PER_RANGE`] entries: a
//! smaller one is summed inside `verifyProof`), then
//! `verifyProof`, which replays the transcript, requires every statement and registers the
//! fact. Each phase carries only its part of the proof (EIP-7623 prices calldata per byte):
//! a tree's opening, a range's rows with the trees' leaf hashes, FRI's decommitments.
//!
//! Made offline from the proof and stwo's transcript (queries, draws, the quotients at the
//! queries); `deploy` puts the contracts on a chain.

use alloy::primitives::{keccak256, Address, Bytes, FixedBytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::{SolCall, SolValue};
use starfarm_prover::artifact::{ProofArtifact, ProofCodec};
use starfarm_prover::channel::{ChannelKind, Keccak256MerkleHasher};
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::utils::prepare_preprocessed_query_positions;

use crate::calldata::{encode_with_transcript, EncodeError};
use crate::claim::{preprocessed_root, program_key, root_key, variant_index};
use crate::composition::{
    component_costs, composition_input, composition_ranges, deploy_composition,
    instance_components, range_calldata, CompositionDeployError, CompositionDraws,
    CompositionPlanError, COMPOSITION_GAS_MODEL, DEFAULT_COMPOSITION_RANGE_GAS,
};
use crate::contracts::{
    composition, fri, merkle, public_memory, quotients, registry, CairoClaim, ClaimLayout,
    StwoVerifier,
};
use crate::public_memory::{public_memory_sum, public_memory_words};
use crate::transcript::StwoTranscript;

/// Queries per quotient transaction at most: the `l1` profile's 35, one range for a
/// fibonacci-sized proof now that a range no longer repeats the per-proof part (the quotient
/// setup does it once). A wider proof gets fewer by [`quotient_queries_for_gas`].
pub const DEFAULT_QUERIES_PER_RANGE: usize = 35;

/// Gas a `QuotientStatement` range may reach by [`QUOTIENT_COLUMN_GAS`]: the model is a
/// per-column line fitted to two programs, so it stays ~2.8 M under EIP-7825's 2^24.
pub const QUOTIENT_RANGE_GAS: u64 = 14_000_000;

/// What a quotient range costs a column of the four trees, after the proof's quotient setup
/// (which pays the layout, the sampled values, their sums and each batch's constants once):
/// fixed (the sample table in calldata, ~32 bytes a sample, and its hash; the batches' points)
/// and per query (the row's dot product and its bytes). Fitted to receipts (docs/verifier.md,
/// "The quotient setup"): a block chunk at `l1-test`, ~2,460 columns, 8 queries 7.52 M (the
/// model: 10.0 M); fibonacci(100) at `l1`, 919 columns, 35 queries 13.22 M (the model:
/// 13.3 M; the per-query term is fibonacci's, whose few columns carry more of the per-batch
/// work). On
/// main, before the setup, a range paid (4,100, 360): ~9.3 M fixed for the chunk, so an `l1`
/// chunk took nine ranges of ~12 M.
pub const QUOTIENT_COLUMN_GAS: (u64, u64) = (1_000, 385);

/// How many queries a quotient range of a proof with `columns` columns holds within `gas`
/// (at least one: a range must make progress; the sender refuses one over the cap).
pub fn quotient_queries_for_gas(columns: usize, gas: u64) -> usize {
    let (fixed, per_query) = QUOTIENT_COLUMN_GAS;
    let columns = columns.max(1) as u64;
    let room = gas.saturating_sub(columns * fixed);
    ((room / (columns * per_query)) as usize).max(1)
}

/// The range size that splits `n` queries into as few ranges of at most `max` as can be, as
/// even as can be (35 at most 18: 18, 17; 8 at most 4: 4, 4; 8 at most 3: 3, 3, 2).
fn balanced_range(n: usize, max: usize) -> usize {
    let ranges = n.div_ceil(max.max(1)).max(1);
    n.div_ceil(ranges).max(1)
}

/// Gas a `PublicMemoryStatement` range is filled to (by [`PUBLIC_MEMORY_ENTRY_GAS`]): half of
/// EIP-7825's 2^24, so a range is well under the cap whatever the memory's growth.
pub const DEFAULT_PUBLIC_MEMORY_RANGE_GAS: u64 = 8_000_000;

/// What one public memory entry costs a `PublicMemoryStatement` transaction: execution (two
/// lookup denominators, their share of the batch inversion, the bounds checks) plus its 64
/// bytes of calldata. Measured: a range of 1,500 entries of a block chunk's claim took
/// 16,001,476 gas (15.4 M execution, 0.56 M calldata), ~10.7 k an entry
/// (docs/verifier.md); rounded up.
pub const PUBLIC_MEMORY_ENTRY_GAS: u64 = 10_700;

/// How many public memory entries a range filled to `gas` holds (at least one).
pub const fn entries_for_gas(gas: u64) -> usize {
    let n = gas / PUBLIC_MEMORY_ENTRY_GAS;
    if n == 0 {
        1
    } else {
        n as usize
    }
}

/// Public memory entries per `PublicMemoryStatement` (and the most summed inside
/// `verifyProof` instead): [`DEFAULT_PUBLIC_MEMORY_RANGE_GAS`] of entries, 747. A claim of up
/// to that many entries (the examples' few dozen) is summed inside `verifyProof` with no
/// transaction of its own.
pub const DEFAULT_ENTRIES_PER_RANGE: usize = entries_for_gas(DEFAULT_PUBLIC_MEMORY_RANGE_GAS);

/// Which statement a phase verifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhaseKind {
    /// Tree 0 (preprocessed), 1 (trace), 2 (interaction) or 3 (composition).
    Merkle {
        tree: usize,
    },
    /// The quotients' setup, once a proof: each sample batch's value constants kept under the
    /// proof's context (`QuotientStatement.setup`), which every range reads.
    QuotientSetup,
    /// The quotients at queries [from, to).
    Quotients {
        from: usize,
        to: usize,
    },
    Fri,
    /// The composition check at the out-of-domain point (`CompositionStatement`) over the
    /// component instances [from, to), from the accumulator the range before left.
    Composition {
        from: usize,
        to: usize,
    },
    /// `CairoClaim.registerProgramRoot`: the claim's program root kept (once per program), so
    /// the replay does not hash the program's limbs.
    ProgramRoot,
    /// The public memory's logup sum over entries [from, to) (`PublicMemoryStatement`).
    PublicMemory {
        from: usize,
        to: usize,
    },
}

impl std::fmt::Display for PhaseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Merkle { tree } => write!(f, "merkle[{tree}]"),
            Self::QuotientSetup => write!(f, "quotients[setup]"),
            Self::Quotients { from, to } => write!(f, "quotients[{from}..{to}]"),
            Self::Fri => write!(f, "fri"),
            Self::Composition { from, to } => write!(f, "composition[{from}..{to}]"),
            Self::ProgramRoot => write!(f, "program_root"),
            Self::PublicMemory { from, to } => write!(f, "public_memory[{from}..{to}]"),
        }
    }
}

/// One transaction of the plan: which contract it calls and its calldata.
#[derive(Clone, Debug)]
pub struct Phase {
    pub kind: PhaseKind,
    pub calldata: Bytes,
}

impl Phase {
    /// The contract this phase calls.
    pub fn target(&self, contracts: &VerifierContracts) -> Address {
        match self.kind {
            PhaseKind::Merkle { .. } => contracts.merkle,
            PhaseKind::QuotientSetup | PhaseKind::Quotients { .. } => contracts.quotients,
            PhaseKind::Fri => contracts.fri,
            PhaseKind::Composition { .. } => contracts.composition,
            PhaseKind::ProgramRoot => contracts.claim,
            PhaseKind::PublicMemory { .. } => contracts.public_memory,
        }
    }

    /// A short label for metrics: [`PhaseKind::label`].
    pub fn label(&self) -> &'static str {
        self.kind.label()
    }
}

impl PhaseKind {
    /// A short label for metrics: `merkle`, `quotients`, `fri`, `composition`,
    /// `program_root` or `public_memory`; what
    /// `starfarm_l1::verify::VerificationTx::new` maps to its sender's kinds (a new kind is
    /// one line there, in `STATEMENT_KINDS`).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Merkle { .. } => "merkle",
            Self::QuotientSetup | Self::Quotients { .. } => "quotients",
            Self::Fri => "fri",
            Self::Composition { .. } => "composition",
            Self::ProgramRoot => "program_root",
            Self::PublicMemory { .. } => "public_memory",
        }
    }
}

/// The verification of one proof as transactions.
#[derive(Clone, Debug)]
pub struct VerificationPlan {
    /// The statements, in `StwoFactRegistry.statements`' order.
    pub phases: Vec<Phase>,
    /// The proof without its openings: what `statements` and `verifyProof` replay.
    pub header: registry::StwoVerifier::Proof,
    pub parts: registry::StwoFactRegistry::Parts,
}

/// How a plan splits a proof's statements into transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanSizes {
    /// Queries per quotient transaction.
    pub queries_per_range: usize,
    /// Gas (by [`COMPOSITION_GAS_MODEL`]) a composition range is filled to.
    pub composition_gas: u64,
    /// Public memory entries per `PublicMemoryStatement` (none when the claim has no more
    /// entries than that: `verifyProof` sums them itself).
    pub entries_per_range: usize,
}

impl PlanSizes {
    /// `queries_per_range` queries a quotient transaction, the other sizes by default.
    pub fn with_queries(queries_per_range: usize) -> Self {
        Self {
            queries_per_range,
            composition_gas: DEFAULT_COMPOSITION_RANGE_GAS,
            entries_per_range: DEFAULT_ENTRIES_PER_RANGE,
        }
    }
}

impl Default for PlanSizes {
    fn default() -> Self {
        Self::with_queries(DEFAULT_QUERIES_PER_RANGE)
    }
}

impl VerificationPlan {
    /// The plan of a Keccak-channel artifact's proof.
    pub fn from_artifact(
        artifact: &ProofArtifact,
        queries_per_range: usize,
    ) -> Result<Self, EncodeError> {
        Self::from_artifact_sized(artifact, PlanSizes::with_queries(queries_per_range))
    }

    /// [`Self::from_artifact`] with every size chosen (smaller ranges, for tests).
    pub fn from_artifact_sized(
        artifact: &ProofArtifact,
        sizes: PlanSizes,
    ) -> Result<Self, EncodeError> {
        if artifact.header.channel != ChannelKind::Keccak {
            return Err(EncodeError::Channel(artifact.header.channel));
        }
        let proof = ProofCodec::decode::<Keccak256MerkleHasher>(&artifact.proof)
            .map_err(EncodeError::Decode)?;
        let (encoded, transcript) = encode_with_transcript(&proof)?;
        Self::new_sized(&encoded, &transcript, sizes)
    }

    /// The plan of an encoded proof, from stwo's transcript of it.
    pub fn new(
        proof: &StwoVerifier::Proof,
        transcript: &StwoTranscript,
        queries_per_range: usize,
    ) -> Result<Self, EncodeError> {
        Self::new_sized(
            proof,
            transcript,
            PlanSizes::with_queries(queries_per_range),
        )
    }

    /// [`Self::new`] with every size chosen.
    pub fn new_sized(
        proof: &StwoVerifier::Proof,
        transcript: &StwoTranscript,
        sizes: PlanSizes,
    ) -> Result<Self, EncodeError> {
        let PlanSizes {
            queries_per_range,
            composition_gas,
            entries_per_range,
        } = sizes;
        if queries_per_range == 0 || entries_per_range == 0 {
            return Err(EncodeError::Layout(
                "a range needs a query or an entry".into(),
            ));
        }
        let queries = &transcript.queries;
        let words = |xs: &[usize]| xs.iter().map(|q| U256::from(*q)).collect::<Vec<_>>();
        let lifting = proof.trees[3].logHeight;
        let pp = prepare_preprocessed_query_positions(queries, lifting, proof.trees[0].logHeight);
        let positions: [Vec<usize>; 4] =
            std::array::from_fn(|t| if t == 0 { pp.clone() } else { queries.clone() });

        // Each tree's leaves: a row per distinct consecutive position, hashed.
        let mut leaves: [Vec<B256>; 4] = Default::default();
        for (t, opening) in proof.trees.iter().enumerate() {
            let width = opening.rowBytes as usize;
            if width == 0 || opening.rows.len() % width != 0 {
                return Err(EncodeError::Layout(format!("tree {t}: rows not whole")));
            }
            leaves[t] = opening.rows.chunks(width).map(keccak256).collect();
        }
        let leaf_commitments: [B256; 4] = std::array::from_fn(|t| {
            keccak256(leaves[t].iter().flat_map(|h| h.0).collect::<Vec<_>>())
        });

        let mut phases = Vec::new();
        for (t, opening) in proof.trees.iter().enumerate() {
            let call = merkle::MerkleStatement::verifyCall {
                root: proof.commitments[t],
                positions: words(&positions[t]),
                opening: merkle::LiftedMerkle::Opening {
                    logHeight: opening.logHeight,
                    rowBytes: opening.rowBytes,
                    rows: opening.rows.clone(),
                    witness: opening.witness.clone(),
                },
            };
            phases.push(Phase {
                kind: PhaseKind::Merkle { tree: t },
                calldata: call.abi_encode().into(),
            });
        }

        // The preprocessed tree's leaf index of each query (repeated positions share one).
        let mut pp_leaf = Vec::with_capacity(pp.len());
        for (j, p) in pp.iter().enumerate() {
            let fresh = j == 0 || pp[j - 1] != *p;
            pp_leaf.push(pp_leaf.last().map_or(0, |l: &usize| l + usize::from(fresh)));
        }
        let packed = |f: &SecureField| {
            let [a, b, c, d] = f.to_m31_array().map(|m| U256::from(m.0));
            a | (b << 32) | (c << 64) | (d << 96)
        };
        let values: Vec<U256> = transcript.fri_answers.iter().map(packed).collect();
        if values.len() != queries.len() {
            return Err(EncodeError::Layout("a quotient per query".into()));
        }
        // The count asked for, or fewer where the proof is wide (a block chunk's ~2,460
        // columns): each range's gas by the model stays under the cap.
        let columns = proof.columns.iter().map(|c| c.len()).sum();
        let queries_per_range = balanced_range(
            queries.len(),
            queries_per_range.min(quotient_queries_for_gas(columns, QUOTIENT_RANGE_GAS)),
        );
        let draws = quotients::QuotientStatement::Draws {
            liftingLogSize: U256::from(lifting),
            logBlowup: U256::from(proof.config.logBlowupFactor),
            oodsX: packed(&transcript.oods_point.x),
            oodsY: packed(&transcript.oods_point.y),
            coeff: packed(&transcript.quotient_coeff),
        };
        // The setup: the layout and the sampled values, the trees' heights and widths.
        let setup = quotients::QuotientStatement::setupCall {
            d: draws.clone(),
            logHeights: std::array::from_fn(|t| proof.trees[t].logHeight),
            rowBytes: std::array::from_fn(|t| proof.trees[t].rowBytes),
            columns: proof.columns.clone(),
            sampledValues: proof.sampledValues.clone(),
        };
        phases.push(Phase {
            kind: PhaseKind::QuotientSetup,
            calldata: setup.abi_encode().into(),
        });
        let sampled_values_hash = keccak256(&proof.sampledValues);
        let columns_hash = keccak256(proof.columns.abi_encode());
        let table = quotient_table(
            &proof.columns,
            lifting,
            proof.config.logBlowupFactor,
            transcript.quotient_coeff,
        )?;
        let mut range_ends = Vec::new();
        let mut from = 0;
        while from < queries.len() {
            let to = (from + queries_per_range).min(queries.len());
            let trees = std::array::from_fn(|t| {
                let opening = &proof.trees[t];
                let width = opening.rowBytes as usize;
                let (first, last) = if t == 0 {
                    (pp_leaf[from], pp_leaf[to - 1] + 1)
                } else {
                    (from, to)
                };
                quotients::LiftedMerkle::Opening {
                    logHeight: opening.logHeight,
                    rowBytes: opening.rowBytes,
                    rows: opening.rows.slice(first * width..last * width),
                    witness: vec![],
                }
            });
            let call = quotients::QuotientStatement::verifyCall {
                q: quotients::QuotientStatement::Input {
                    liftingLogSize: draws.liftingLogSize,
                    logBlowup: draws.logBlowup,
                    oodsX: draws.oodsX,
                    oodsY: draws.oodsY,
                    coeff: draws.coeff,
                    queries: words(queries),
                    from: U256::from(from),
                    to: U256::from(to),
                },
                trees,
                leaves: leaves.clone(),
                columnsHash: columns_hash,
                sampledValuesHash: sampled_values_hash,
                table: table.clone(),
            };
            phases.push(Phase {
                kind: PhaseKind::Quotients { from, to },
                calldata: call.abi_encode().into(),
            });
            range_ends.push(U256::from(to));
            from = to;
        }

        let layers = proof
            .friLayers
            .iter()
            .map(|l| fri::CircleFri::Layer {
                values: l.values.clone(),
                witness: l.witness.clone(),
            })
            .collect();
        let call = fri::FriStatement::verifyCall {
            f: fri::FriStatement::Input {
                queries: words(queries),
                values: values.clone(),
                logSize: U256::from(lifting),
                alphas: transcript.fri_alphas.iter().map(packed).collect(),
                roots: proof.friCommitments.clone(),
                lastLayerPoly: proof.lastLayerPoly.clone(),
            },
            layers,
        };
        phases.push(Phase {
            kind: PhaseKind::Fri,
            calldata: call.abi_encode().into(),
        });

        let input = composition_input(
            &proof.claim,
            &proof.claimedSums,
            &proof.sampledValues,
            &proof.columns,
            CompositionDraws {
                lookup_z: packed(&transcript.lookup_z),
                lookup_alpha: packed(&transcript.lookup_alpha),
                coeff: packed(&transcript.composition_coeff),
                oods_x: packed(&transcript.oods_point.x),
                oods_y: packed(&transcript.oods_point.y),
                lifting_log_size: lifting,
                log_blowup: proof.config.logBlowupFactor,
            },
        );
        let composition_ends = composition_phases(&input, composition_gas, &mut phases)?;

        let (memory_ends, memory_sums) =
            public_memory_phases(proof, transcript, entries_per_range, &mut phases)?;

        Ok(Self {
            phases,
            header: header(proof)?,
            parts: registry::StwoFactRegistry::Parts {
                leafCommitments: leaf_commitments.map(|h| FixedBytes(h.0)),
                values,
                rangeEnds: range_ends,
                compositionEnds: composition_ends,
                memoryEnds: memory_ends,
                memorySums: memory_sums,
            },
        })
    }

    /// `statements(header, parts)`: which statements are on chain (an `eth_call`).
    pub fn statements_call(&self) -> registry::StwoFactRegistry::statementsCall {
        registry::StwoFactRegistry::statementsCall {
            header: self.header.clone(),
            parts: self.parts.clone(),
        }
    }

    /// The last transaction: `verifyProof`, registering the claim's fact.
    pub fn verify_proof_call(&self) -> registry::StwoFactRegistry::verifyProofCall {
        registry::StwoFactRegistry::verifyProofCall {
            header: self.header.clone(),
            parts: self.parts.clone(),
        }
    }

    /// The plan as plain data for a sender that does not know this crate's types
    /// (`starfarm_l1::verify::ProofVerification::from_plan_parts`): the registry, the
    /// `statements` and `verifyProof` calldata, and each phase's transaction.
    pub fn transactions(&self, contracts: &VerifierContracts) -> PlannedTransactions {
        PlannedTransactions {
            registry: contracts.registry,
            statements: self.statements_call().abi_encode().into(),
            phases: self
                .phases
                .iter()
                .map(|p| PlannedTransaction {
                    phase: p.kind.to_string(),
                    label: p.kind.label(),
                    to: p.target(contracts),
                    calldata: p.calldata.clone(),
                })
                .collect(),
            finish: self.verify_proof_call().abi_encode().into(),
        }
    }
}

/// A plan's transactions for one deployment, in plain data ([`VerificationPlan::transactions`]).
#[derive(Clone, Debug)]
pub struct PlannedTransactions {
    /// `StwoFactRegistry`.
    pub registry: Address,
    /// `statements(header, parts)`'s calldata.
    pub statements: Bytes,
    /// In `StwoFactRegistry.statements`' order.
    pub phases: Vec<PlannedTransaction>,
    /// `verifyProof(header, parts)`'s calldata.
    pub finish: Bytes,
}

impl PlannedTransactions {
    /// As a tuple of std and alloy types only: (registry, `statements` calldata, each phase
    /// as (display, label, target, calldata), `verifyProof` calldata), what
    /// `starfarm_l1::verify::ProofVerification::from_plan_parts` takes.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(
        self,
    ) -> (
        Address,
        Bytes,
        Vec<(String, &'static str, Address, Bytes)>,
        Bytes,
    ) {
        let phases = self
            .phases
            .into_iter()
            .map(|p| (p.phase, p.label, p.to, p.calldata))
            .collect();
        (self.registry, self.statements, phases, self.finish)
    }
}

/// One statement's transaction.
#[derive(Clone, Debug)]
pub struct PlannedTransaction {
    /// [`PhaseKind`]'s display: `merkle[1]`, `composition[0..19]`, ...
    pub phase: String,
    /// [`PhaseKind::label`].
    pub label: &'static str,
    pub to: Address,
    pub calldata: Bytes,
}

/// The composition's range transactions (instances by the gas model, each range filled to
/// `budget`), pushed on `phases`; their ends.
fn composition_phases(
    input: &composition::CompositionStatement::Input,
    budget: u64,
    phases: &mut Vec<Phase>,
) -> Result<Vec<U256>, EncodeError> {
    let plan_error = |e: CompositionPlanError| EncodeError::Layout(e.to_string());
    let instances = instance_components(&input.claim).map_err(plan_error)?;
    let costs = component_costs().map_err(plan_error)?;
    let n = instances.len();
    let (first, later) = (range_calldata(input, 0, n), range_calldata(input, 1, n));
    let (first, later) = (first.map_err(plan_error)?, later.map_err(plan_error)?);
    let ranges = composition_ranges(
        &instances,
        costs,
        &COMPOSITION_GAS_MODEL,
        (&first, &later),
        budget,
    )
    .map_err(plan_error)?;
    let mut ends = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        phases.push(Phase {
            kind: PhaseKind::Composition { from, to },
            calldata: range_calldata(input, from, to).map_err(plan_error)?.into(),
        });
        ends.push(U256::from(to));
    }
    Ok(ends)
}

/// The public memory's statements of `proof`'s claim, added to `phases`: its program's root
/// kept, then its entries by ranges of `per_range`; the ranges' ends and sums. None (empty)
/// when the claim has no more than `per_range` entries: `verifyProof` sums them itself.
fn public_memory_phases(
    proof: &StwoVerifier::Proof,
    transcript: &StwoTranscript,
    per_range: usize,
    phases: &mut Vec<Phase>,
) -> Result<(Vec<U256>, Vec<U256>), EncodeError> {
    let claim = CairoClaim::Claim::abi_decode(&proof.claim)
        .map_err(|e| EncodeError::Layout(format!("the claim's ABI: {e}")))?;
    let words = public_memory_words(&claim)?;
    let entries = words.len() / 2;
    let (mut ends, mut sums) = (Vec::new(), Vec::new());
    if entries <= per_range {
        return Ok((ends, sums));
    }
    let packed = |f: &SecureField| {
        let [a, b, c, d] = f.to_m31_array().map(|m| U256::from(m.0));
        a | (b << 32) | (c << 64) | (d << 96)
    };
    let call = CairoClaim::registerProgramRootCall {
        initialPc: U256::from(claim.publicData.state[0]),
        program: claim.publicData.program.clone(),
    };
    phases.push(Phase {
        kind: PhaseKind::ProgramRoot,
        calldata: call.abi_encode().into(),
    });
    let mut from = 0;
    while from < entries {
        let to = (from + per_range).min(entries);
        let range = &words[2 * from..2 * to];
        let sum = public_memory_sum(range, transcript.lookup_z, transcript.lookup_alpha)?;
        let call = public_memory::PublicMemoryStatement::verifyCall {
            words: range.to_vec(),
            z: packed(&transcript.lookup_z),
            alpha: packed(&transcript.lookup_alpha),
        };
        phases.push(Phase {
            kind: PhaseKind::PublicMemory { from, to },
            calldata: call.abi_encode().into(),
        });
        ends.push(U256::from(to));
        sums.push(packed(&sum));
        from = to;
    }
    Ok((ends, sums))
}

/// The proof without the parts only the statements read (rows, witnesses, FRI's layers), in
/// the registry binding's types (the same ABI).
/// The quotient sample table the setup hashes and each range gives (`PcsQuotients.tableOf`),
/// built as the contract builds it from the layout (`columns[t]`: a byte per column, its log
/// size in the low 5 bits, its sample count in bits 5-6) and the quotient coefficient α:
/// every sampled column in commitment order, at its place in its tree's row (columns ordered
/// by log size, stably), its samples in α-power order (two-sample columns: the periodicity
/// point, the previous row, the out-of-domain point); the sample points' batches in order of
/// first appearance. Words: the batch count n; per batch start | shift << 128; per sample, in
/// batch order, c0 | c2 << 32 | location << 64 | c1 << 128 | c3 << 160 (α^k's coordinates,
/// the location tree | position << 4).
fn quotient_table(
    columns: &[Bytes; 4],
    lifting: u32,
    log_blowup: u32,
    alpha: SecureField,
) -> Result<Vec<U256>, EncodeError> {
    let bad = |what: &str| EncodeError::Layout(format!("the quotient table: {what}"));
    if !(1..=31).contains(&lifting) || log_blowup >= lifting {
        return Err(bad("lifting log size or blowup out of range"));
    }
    let mask = (1u64 << lifting) - 1;
    let prev_shift = (mask + 1 - (1u64 << log_blowup)) & mask;
    // Every sampled column in α order: its code and location.
    let mut cols = Vec::new();
    for (t, codes) in columns.iter().enumerate() {
        let mut first = [0u64; 33];
        for &c in codes.iter() {
            first[(c & 31) as usize + 1] += 1;
        }
        for s in 1..33 {
            first[s] += first[s - 1];
        }
        for &c in codes.iter() {
            let at = &mut first[(c & 31) as usize];
            let position = *at;
            *at += 1;
            match c >> 5 {
                0 => {}
                1 | 2 => cols.push((c, t as u64 | (position << 4))),
                _ => return Err(bad("a column sampled at more than two points")),
            }
        }
    }
    // Each code's batches, the points in order of first appearance.
    let mut shifts: Vec<u64> = Vec::new();
    let mut batch_of = |shift: u64| match shifts.iter().position(|s| *s == shift) {
        Some(k) => k,
        None => {
            shifts.push(shift);
            shifts.len() - 1
        }
    };
    let mut code_batches: Vec<Option<Vec<usize>>> = vec![None; 256];
    let mut count = [0usize; 256];
    for &(c, _) in &cols {
        count[c as usize] += 1;
        if code_batches[c as usize].is_none() {
            code_batches[c as usize] = Some(if c >> 5 == 1 {
                vec![batch_of(0)]
            } else {
                let periodic = batch_of((1u64 << (c & 31)) & mask);
                let prev = batch_of(prev_shift);
                vec![periodic, prev, batch_of(0)]
            });
        }
    }
    let n = shifts.len();
    let mut start = vec![0usize; n + 1];
    for (c, ids) in code_batches.iter().enumerate() {
        for k in ids.iter().flatten() {
            start[k + 1] += count[c];
        }
    }
    for k in 0..n {
        start[k + 1] += start[k];
    }
    let mut samples = vec![U256::ZERO; start[n]];
    let mut next = start.clone();
    let mut power = SecureField::from(stwo::core::fields::m31::M31(1));
    let mut place = |k: usize, location: u64, power: SecureField| {
        let [c0, c1, c2, c3] = power.to_m31_array().map(|m| U256::from(m.0));
        samples[next[k]] =
            c0 | (c2 << 32) | (U256::from(location) << 64) | (c1 << 128) | (c3 << 160);
        next[k] += 1;
    };
    for &(c, location) in &cols {
        let ids = code_batches[c as usize]
            .as_ref()
            .ok_or_else(|| bad("a code without batches"))?;
        for (i, k) in ids.iter().enumerate() {
            if i > 0 {
                power *= alpha;
            }
            place(*k, location, power);
        }
        power *= alpha;
    }
    let mut table = Vec::with_capacity(1 + n + samples.len());
    table.push(U256::from(n));
    for k in 0..n {
        table.push(U256::from(start[k]) | (U256::from(shifts[k]) << 128));
    }
    table.extend(samples);
    Ok(table)
}

fn header(proof: &StwoVerifier::Proof) -> Result<registry::StwoVerifier::Proof, EncodeError> {
    let mut header = proof.clone();
    for tree in header.trees.iter_mut() {
        tree.rows = Bytes::new();
        tree.witness.clear();
    }
    header.friLayers.clear();
    registry::StwoVerifier::Proof::abi_decode(&header.abi_encode())
        .map_err(|e| EncodeError::Layout(format!("the header's ABI: {e}")))
}

/// The addresses of a deployed split verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifierContracts {
    /// `ClaimLayout` and `CairoClaim`: the claim's checks, layout and fact.
    pub layout: Address,
    pub claim: Address,
    /// `StwoVerifier`: the transcript's replay (and the one-call `verify`).
    pub transcript: Address,
    pub merkle: Address,
    pub quotients: Address,
    pub fri: Address,
    /// `CompositionStatement` (it holds the evaluator's and the programs' addresses).
    #[serde(default)]
    pub composition: Address,
    /// `PublicMemoryStatement`: the public memory's logup sum by ranges of entries.
    #[serde(default)]
    pub public_memory: Address,
    /// `StwoFactRegistry`: the `IFactRegistry` settlement asks.
    pub registry: Address,
}

/// What a deployment accepts: the programs whose facts may be registered (`program_key`,
/// cairo-lang's program hash), the preprocessed roots by (`root_key`, root), and the
/// security floor in bits.
#[derive(Clone, Debug, Default)]
pub struct Accepted {
    pub programs: Vec<(B256, B256)>,
    pub roots: Vec<(U256, B256)>,
    pub floor: u32,
}

impl Accepted {
    /// What a deployment needs to accept proofs like `artifacts` (Keccak channel): each one's
    /// program (its key from the claim's program section, its hash from the header) and the
    /// preprocessed root of its variant and blowup, computed as the prover commits it (not
    /// taken from the proof: seconds and up to a few GiB for the larger variants).
    pub fn for_artifacts(artifacts: &[ProofArtifact], floor: u32) -> Result<Self, EncodeError> {
        let mut accepted = Self {
            floor,
            ..Self::default()
        };
        for artifact in artifacts {
            if artifact.header.channel != ChannelKind::Keccak {
                return Err(EncodeError::Channel(artifact.header.channel));
            }
            let proof = ProofCodec::decode::<Keccak256MerkleHasher>(&artifact.proof)
                .map_err(EncodeError::Decode)?;
            let program = (
                program_key(&proof.claim),
                B256::from(artifact.header.program_hash.to_bytes_be()),
            );
            if !accepted.programs.contains(&program) {
                accepted.programs.push(program);
            }
            let variant = proof.preprocessed_trace_variant;
            let config = proof.stark_proof.config;
            let key = root_key(variant_index(variant), config.fri_config.log_blowup_factor);
            if !accepted.roots.iter().any(|(k, _)| *k == key) {
                accepted
                    .roots
                    .push((key, preprocessed_root(variant, &config)));
            }
        }
        Ok(accepted)
    }
}

/// Why deploying failed.
#[derive(Debug, thiserror::Error)]
#[error("deploying {contract}: {source}")]
pub struct DeployError {
    pub contract: &'static str,
    #[source]
    pub source: DeploySource,
}

/// What failed in a deployment.
#[derive(Debug, thiserror::Error)]
pub enum DeploySource {
    #[error(transparent)]
    Contract(#[from] alloy::contract::Error),
    #[error(transparent)]
    Composition(#[from] CompositionDeployError),
}

/// Deploys the eight contracts (and the composition check's evaluator and programs: 76 more
/// transactions, ~90 M gas) from `provider`'s wallet.
pub async fn deploy<P: Provider>(
    provider: &P,
    accepted: &Accepted,
) -> Result<VerifierContracts, DeployError> {
    let at = |contract| {
        move |source: alloy::contract::Error| DeployError {
            contract,
            source: source.into(),
        }
    };
    let layout = ClaimLayout::deploy_builder(provider)
        .deploy()
        .await
        .map_err(at("ClaimLayout"))?;
    let (keys, hashes) = accepted.programs.iter().copied().unzip();
    let (root_keys, roots) = accepted.roots.iter().copied().unzip();
    let claim = CairoClaim::deploy_builder(provider, layout, keys, hashes, root_keys, roots)
        .deploy()
        .await
        .map_err(at("CairoClaim"))?;
    let transcript = StwoVerifier::deploy_builder(provider, claim, U256::from(accepted.floor))
        .deploy()
        .await
        .map_err(at("StwoVerifier"))?;
    let merkle = merkle::MerkleStatement::deploy_builder(provider)
        .deploy()
        .await
        .map_err(at("MerkleStatement"))?;
    let quotients = quotients::QuotientStatement::deploy_builder(provider)
        .deploy()
        .await
        .map_err(at("QuotientStatement"))?;
    let fri = fri::FriStatement::deploy_builder(provider)
        .deploy()
        .await
        .map_err(at("FriStatement"))?;
    let composition = deploy_composition(provider)
        .await
        .map_err(|e| DeployError {
            contract: "CompositionStatement",
            source: e.into(),
        })?
        .statement;
    let public_memory = public_memory::PublicMemoryStatement::deploy_builder(provider)
        .deploy()
        .await
        .map_err(at("PublicMemoryStatement"))?;
    let registry = registry::StwoFactRegistry::deploy_builder(
        provider,
        transcript,
        merkle,
        quotients,
        fri,
        composition,
        public_memory,
    )
    .deploy()
    .await
    .map_err(at("StwoFactRegistry"))?;
    Ok(VerifierContracts {
        layout,
        claim,
        transcript,
        merkle,
        quotients,
        fri,
        composition,
        public_memory,
        registry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_proof_gets_fewer_queries_a_quotient_range() {
        // fibonacci(100), 919 columns: the `l1` profile's 35 queries in one range.
        assert!(quotient_queries_for_gas(919, QUOTIENT_RANGE_GAS) >= DEFAULT_QUERIES_PER_RANGE);
        // A block chunk, ~2,460 columns: 35 queries would be ~36 M by the model; 12 fit, so
        // the `l1` profile's 35 take three ranges (12, 12, 11) and `l1-test`'s 8 one.
        let chunk = quotient_queries_for_gas(2_460, QUOTIENT_RANGE_GAS);
        assert_eq!(chunk, 12);
        assert_eq!(balanced_range(35, chunk), 12);
        assert_eq!(balanced_range(8, chunk), 8);
        let (fixed, per_query) = QUOTIENT_COLUMN_GAS;
        assert!(2_460 * (fixed + chunk as u64 * per_query) <= QUOTIENT_RANGE_GAS);
        assert!(2_460 * (fixed + (chunk as u64 + 1) * per_query) > QUOTIENT_RANGE_GAS);
        // Wider than any budget: still one query a range (the sender refuses it if over).
        assert_eq!(quotient_queries_for_gas(100_000, QUOTIENT_RANGE_GAS), 1);
    }

    #[test]
    fn ranges_are_as_few_and_as_even_as_can_be() {
        assert_eq!(balanced_range(35, 18), 18);
        assert_eq!(balanced_range(8, 4), 4);
        assert_eq!(balanced_range(8, 3), 3);
        assert_eq!(balanced_range(35, 4), 4);
        assert_eq!(balanced_range(8, 18), 8);
        assert_eq!(balanced_range(1, 1), 1);
    }
}
