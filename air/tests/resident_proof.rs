//! A whole Cairo proof on the resident backend, through the emulated device: the resident copy
//! of stwo-cairo's `prove_cairo_with_precompute` (witness generation on `SimdBackend`, one
//! upload of each trace, everything after on the device, the constraints through the
//! generated CUDA) proves fibonacci with the Test profile byte for byte as the prover's
//! `SimdBackend` flow, and cairo-air's verifier accepts it. Skipped, with a message, without a
//! C++ compiler. Then a device fault injected halfway through the same proof's launches ends in
//! the CPU proof of the job (the same bytes), counted as a fallback.
//!
//! Memory: the two proofs are made one after the other, the first one's precompute dropped
//! before the second starts; the device's copy of the preprocessed trace is interpolated on
//! the device from one upload of its evaluations, with twiddles sized to the preprocessed
//! trace's largest column (as the prover's precompute), not to stwo-cairo's maximum.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cairo_air::cairo_components::CairoComponents;
use cairo_air::relations::CommonLookupElements;
use cairo_air::verifier::{verify_cairo_ex, INTERACTION_POW_BITS};
use cairo_air::{CairoProof, CairoProofForRustVerifier};
use starfarm_air::resident::{device_components, AirKernels};
use starfarm_kernels::emulated_device::EmulatedDevice;
use starfarm_kernels::resident::{
    op_counts, proof_fallbacks, prove_with_fallback, DeviceColumn, EmulatedBackend, Op,
    ResidentDevice,
};
use starfarm_kernels::KernelError;
use starfarm_prover::artifact::ProofCodec;
use starfarm_prover::prover::{parameters, precompute};
use starfarm_prover::{CairoProgram, Execution, Felt, ProgramInput, SecurityProfile};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::utils::MaybeOwned;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::Column;
use stwo::prover::mempool::BaseColumnPool;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::{prove_ex, CommitmentSchemeProver, CommitmentTreeProver, ComponentProver};
use stwo_cairo_common::preprocessed_columns::preprocessed_trace::PreProcessedTraceVariant;
use stwo_cairo_prover::utils::cairo_provers;
use stwo_cairo_prover::witness::cairo::create_cairo_claim_generator;
use stwo_cairo_prover::witness::preprocessed_trace::gen_trace;

type B = EmulatedBackend;

/// The proof as the prover's artifacts hold it (`ProofCodec`: bincode of the verifier's form).
fn encode(proof: CairoProof<Blake2sMerkleHasher>) -> Vec<u8> {
    ProofCodec::encode(&CairoProofForRustVerifier::from(proof)).expect("encodes")
}

fn upload(
    columns: Vec<CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>>,
) -> Vec<CircleEvaluation<B, BaseField, BitReversedOrder>> {
    columns
        .into_iter()
        .map(|c| {
            let values = DeviceColumn::from_host(&c.values.to_cpu()).expect("uploads");
            CircleEvaluation::new(c.domain, values)
        })
        .collect()
}

/// stwo-cairo's `prove_cairo_with_precompute` (1.3.0) with the preprocessed tree built on the
/// device and `DeviceComponent`s for the components.
fn prove_resident(
    device: &EmulatedDevice,
    execution: &Execution,
    profile: SecurityProfile,
    variant: PreProcessedTraceVariant,
) -> CairoProof<Blake2sMerkleHasher> {
    let air = starfarm_air::extract().expect("extracts");
    let kernels = AirKernels::load(device, &air).expect("the generated CUDA compiles");
    let params = parameters(profile, variant);
    let config = params.pcs_config;
    let log_blowup = config.fri_config.log_blowup_factor;

    let twiddles = B::precompute_twiddles(
        CanonicCoset::new(variant.max_log_trace_size() + log_blowup)
            .circle_domain()
            .half_coset,
    );
    let preprocessed = Arc::new(variant.to_preprocessed_trace());
    let polys = B::interpolate_columns(upload(gen_trace(preprocessed.clone())), &twiddles);
    let pool = BaseColumnPool::<B>::new();
    let tree = CommitmentTreeProver::<B, Blake2sMerkleChannel>::new(
        polys,
        log_blowup,
        &twiddles,
        true,
        config.lifting_log_size,
        &pool,
    );

    let channel = &mut Blake2sChannel::default();
    channel.mix_felts(&[params.channel_salt.into()]);
    config.mix_into(channel);
    let mut scheme = CommitmentSchemeProver::<B, Blake2sMerkleChannel>::with_memory_pool(
        config, &twiddles, &pool,
    );
    if params.store_polynomials_coefficients {
        scheme.set_store_polynomials_coefficients();
    }
    scheme.commit_tree(MaybeOwned::Owned(tree), channel);

    let input = execution.adapt().expect("adapts");
    let generator = create_cairo_claim_generator(input, preprocessed.clone());
    let (trace, claim, interaction_generator) = generator.write_trace();
    claim.mix_into::<Blake2sMerkleChannel>(channel);
    let mut builder = scheme.tree_builder();
    builder.extend_evals(upload(trace));
    builder.commit(channel);

    let interaction_pow = B::grind(channel, INTERACTION_POW_BITS);
    channel.mix_u64(interaction_pow);
    let elements = CommonLookupElements::draw(channel);
    let (interaction, interaction_claim) = interaction_generator.write_interaction_trace(&elements);
    interaction_claim.mix_into(channel);
    let mut builder = scheme.tree_builder();
    builder.extend_evals(upload(interaction));
    builder.commit(channel);

    let components =
        CairoComponents::new(&claim, &elements, &interaction_claim, &preprocessed.ids());
    let instances = starfarm_air::extract::instances(&air, &components).expect("instances");
    let provers = cairo_provers(&components);
    let relations = [starfarm_air::replay::lookup(
        &elements,
        air.relations[0].size as usize,
    )];
    let ids: Vec<String> = preprocessed.ids().into_iter().map(|id| id.id).collect();
    let on_device = device_components(&air, &kernels, &instances, &provers, &relations, &ids)
        .expect("device components");
    let refs: Vec<&dyn ComponentProver<B>> = on_device
        .iter()
        .map(|c| c as &dyn ComponentProver<B>)
        .collect();
    let proof = prove_ex::<B, Blake2sMerkleChannel>(
        &refs,
        channel,
        scheme,
        params.include_all_preprocessed_columns,
    )
    .expect("proves");
    CairoProof {
        claim,
        interaction_pow,
        interaction_claim,
        extended_stark_proof: proof,
        channel_salt: params.channel_salt,
        preprocessed_trace_variant: variant,
    }
}

#[test]
fn a_cairo_proof_on_the_resident_backend_is_the_simd_proof_byte_for_byte() {
    let device = match EmulatedDevice::instance() {
        Ok(d) => d,
        Err(KernelError::NoDevice { reason, .. }) => {
            eprintln!("SKIPPED: the resident Cairo proof needs the emulated device: {reason}");
            return;
        }
        Err(e) => panic!("emulated device: {e}"),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = CairoProgram::from_file(&root.join("examples/fibonacci.json")).expect("loads");
    let input = ProgramInput::new(vec![Felt::from(100u64)]);
    let execution =
        starfarm_prover::execute(&program, &input, Default::default()).expect("executes");
    let profile = SecurityProfile::Test;
    let variant = starfarm_prover::choose_variant(&execution).expect("a variant");

    let started = Instant::now();
    let prove_simd = || {
        let warm = precompute::<Blake2sMerkleChannel>(variant, profile);
        let proof = warm
            .prove(
                execution.adapt().expect("adapts"),
                parameters(profile, variant),
            )
            .expect("SimdBackend proves");
        encode(proof)
    };
    let simd_bytes = prove_simd();
    eprintln!("SimdBackend proof in {:?}", started.elapsed());

    let before = op_counts();
    let launches = device.launches();
    let started = Instant::now();
    let resident = prove_resident(device, &execution, profile, variant);
    eprintln!(
        "resident proof (emulated device) in {:?}",
        started.elapsed()
    );
    let launches = device.launches() - launches;
    let resident_bytes = encode(resident.clone());
    assert!(
        resident_bytes == simd_bytes,
        "the resident proof equals SimdBackend's byte for byte ({} and {} bytes)",
        resident_bytes.len(),
        simd_bytes.len()
    );
    let quotients = |counts: &[(Op, starfarm_kernels::resident::OpCount)]| {
        counts
            .iter()
            .find(|(op, _)| *op == Op::ComponentQuotients)
            .map(|(_, c)| *c)
            .expect("counted")
    };
    let (now, was) = (quotients(&op_counts()), quotients(&before));
    assert!(now.device > was.device, "constraints ran on the device");
    assert_eq!(now.host, was.host, "no component fell back to the host");
    let ran: Vec<String> = op_counts()
        .iter()
        .zip(&before)
        .map(|((op, c), (_, b))| (op, c.device - b.device, c.host - b.host))
        .filter(|(_, d, h)| d + h > 0)
        .map(|(op, d, h)| format!("{op:?} {d}/{h}"))
        .collect();
    eprintln!(
        "{launches} launches; operations on the device/host: {}",
        ran.join(", ")
    );
    verify_cairo_ex::<Blake2sMerkleChannel>(resident.into(), false)
        .expect("cairo-air's verifier accepts it");

    // A device fault halfway through the launches: the job is proven on the CPU instead,
    // counted, and the proof is the same bytes (no partial device proof comes out).
    let fallbacks = proof_fallbacks();
    device.inject_fault_after(launches / 2);
    let (bytes, fault) = prove_with_fallback(
        || encode(prove_resident(device, &execution, profile, variant)),
        prove_simd,
    );
    assert!(
        fault.is_some(),
        "the injected fault interrupted the device proof"
    );
    assert_eq!(proof_fallbacks(), fallbacks + 1, "the fallback is counted");
    assert!(
        bytes == simd_bytes,
        "the CPU proof of the job is the same bytes"
    );
}
