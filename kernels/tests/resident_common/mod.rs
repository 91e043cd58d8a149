//! A small AIR proven end to end by the resident-backend tests: a wide Fibonacci (each row
//! `x_{i+2} = x_i² + x_{i+1}²` over `N_COLS` columns), written with Stwo's constraint
//! framework, proven with Stwo's own `prove` on any backend through the Blake2s channel.
#![allow(dead_code)]

pub mod checks;

use num_traits::Zero;
use stwo::core::air::Component;
use stwo::core::channel::Blake2sChannel;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::fields::FieldExpOps;
use stwo::core::fri::FriConfig;
use stwo::core::pcs::{CommitmentSchemeVerifier, PcsConfig};
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::proof::StarkProof;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::core::verifier::verify;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{BackendForChannel, Col};
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::{prove, CommitmentSchemeProver, ComponentProver};
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, TraceLocationAllocator,
};

pub const N_COLS: usize = 12;

#[derive(Clone)]
pub struct WideFibonacci {
    pub log_n_rows: u32,
}

impl FrameworkEval for WideFibonacci {
    fn log_size(&self) -> u32 {
        self.log_n_rows
    }
    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_n_rows + 1
    }
    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let mut a = eval.next_trace_mask();
        let mut b = eval.next_trace_mask();
        for _ in 2..N_COLS {
            let c = eval.next_trace_mask();
            eval.add_constraint(c.clone() - (a.square() + b.clone().square()));
            a = b;
            b = c;
        }
        eval
    }
}

pub fn component(log_n_rows: u32) -> FrameworkComponent<WideFibonacci> {
    components(&[log_n_rows]).remove(0)
}

/// One component per size, their columns one after the other in the trace tree.
pub fn components(log_sizes: &[u32]) -> Vec<FrameworkComponent<WideFibonacci>> {
    let allocator = &mut TraceLocationAllocator::default();
    log_sizes
        .iter()
        .map(|&log_n_rows| {
            FrameworkComponent::new(allocator, WideFibonacci { log_n_rows }, SecureField::zero())
        })
        .collect()
}

/// The trace on backend `B`: row `r` starts from `(1, r)`.
pub fn trace<B: PolyOps>(log_n_rows: u32) -> Vec<CircleEvaluation<B, BaseField, BitReversedOrder>> {
    let n = 1usize << log_n_rows;
    let mut cols: Vec<Vec<BaseField>> = (0..N_COLS).map(|_| Vec::with_capacity(n)).collect();
    for r in 0..n {
        let mut a = BaseField::from(1u32);
        let mut b = BaseField::from(r as u32);
        cols[0].push(a);
        cols[1].push(b);
        for col in cols.iter_mut().skip(2) {
            let c = a.square() + b.square();
            col.push(c);
            a = b;
            b = c;
        }
    }
    let domain = CanonicCoset::new(log_n_rows).circle_domain();
    cols.into_iter()
        .map(|c| CircleEvaluation::new(domain, c.into_iter().collect::<Col<B, BaseField>>()))
        .collect()
}

pub fn config() -> PcsConfig {
    PcsConfig {
        pow_bits: 8,
        // Blowup 2^1, 12 queries, folding 2 layers per step (multi-pass device folds).
        fri_config: FriConfig::new(0, 1, 12, 2),
        lifting_log_size: None,
    }
}

/// Proves the AIR of `2^log_n_rows` rows on backend `B` with components `components` (the
/// AIR's component, as `B`'s component prover).
pub fn prove_on<B: BackendForChannel<Blake2sMerkleChannel>>(
    log_n_rows: u32,
    components: &[&dyn ComponentProver<B>],
) -> StarkProof<Blake2sMerkleHasher> {
    prove_sizes_on(&[log_n_rows], components)
}

/// Proves one wide-Fibonacci component per size of `log_sizes` (see [`components`]).
pub fn prove_sizes_on<B: BackendForChannel<Blake2sMerkleChannel>>(
    log_sizes: &[u32],
    components: &[&dyn ComponentProver<B>],
) -> StarkProof<Blake2sMerkleHasher> {
    let config = config();
    let max = log_sizes.iter().copied().max().unwrap_or(1);
    let twiddles = B::precompute_twiddles(
        CanonicCoset::new(max + 1 + config.fri_config.log_blowup_factor)
            .circle_domain()
            .half_coset,
    );
    let channel = &mut Blake2sChannel::default();
    config.mix_into(channel);
    let mut scheme = CommitmentSchemeProver::<B, Blake2sMerkleChannel>::new(config, &twiddles);
    let mut tree = scheme.tree_builder();
    tree.extend_evals(vec![]);
    tree.commit(channel);
    let mut tree = scheme.tree_builder();
    tree.extend_evals(
        log_sizes
            .iter()
            .flat_map(|&log| trace::<B>(log))
            .collect::<Vec<_>>(),
    );
    tree.commit(channel);
    prove::<B, Blake2sMerkleChannel>(components, channel, scheme).expect("the AIR proves")
}

pub fn simd_proof(log_n_rows: u32) -> StarkProof<Blake2sMerkleHasher> {
    simd_proof_sizes(&[log_n_rows])
}

pub fn simd_proof_sizes(log_sizes: &[u32]) -> StarkProof<Blake2sMerkleHasher> {
    let components = components(log_sizes);
    let provers: Vec<&dyn ComponentProver<SimdBackend>> = components
        .iter()
        .map(|c| c as &dyn ComponentProver<SimdBackend>)
        .collect();
    prove_sizes_on::<SimdBackend>(log_sizes, &provers)
}

/// Stwo's verifier, as for any Blake2s proof of this AIR.
pub fn verify_proof(log_n_rows: u32, proof: StarkProof<Blake2sMerkleHasher>) {
    verify_proof_sizes(&[log_n_rows], proof)
}

pub fn verify_proof_sizes(log_sizes: &[u32], proof: StarkProof<Blake2sMerkleHasher>) {
    let components = components(log_sizes);
    let refs: Vec<&dyn Component> = components.iter().map(|c| c as &dyn Component).collect();
    let channel = &mut Blake2sChannel::default();
    let config = config();
    config.mix_into(channel);
    let mut verifier = CommitmentSchemeVerifier::<Blake2sMerkleChannel>::new(config);
    let sizes: Vec<u32> = components
        .iter()
        .flat_map(|c| c.trace_log_degree_bounds()[1].clone())
        .collect();
    verifier.commit(proof.0.commitments[0], &[], channel);
    verifier.commit(proof.0.commitments[1], &sizes, channel);
    verify(&refs, channel, &mut verifier, proof).expect("Stwo's verifier accepts");
}

pub fn bytes(proof: &StarkProof<Blake2sMerkleHasher>) -> Vec<u8> {
    serde_json::to_vec(proof).expect("a proof serialises")
}
