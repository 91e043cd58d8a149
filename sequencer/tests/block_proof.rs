//! Proves a 16-transfer block on a 1000-account state with the block program and checks the
//! verified artifact's header against native execution. A test binary of its own: the
//! prover holds GiBs. The program uses no ec_op (signatures are batched in plain Cairo), so
//! a range this short (~240k steps, below 2^19) proves on the `CanonicalSmall` preprocessed
//! trace; with ec_op (input layout 1) it needed `CanonicalWithoutPedersen` and more than 6 GiB.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use starfarm_prover::artifact::PreProcessedTraceVariant;
use starfarm_prover::{verify, CairoProgram, ProgramInput, Prover, SecurityProfile};
use starfarm_sequencer::block::{block_hash, tx_commitment};
use starfarm_sequencer::execute::apply;
use starfarm_sequencer::program_input::{BlockOutput, BlockProverInput};
use starfarm_sequencer::state::{global_root, AccountState};
use starfarm_sequencer::testing::Rng;
use starfarm_sequencer::trie::{MemoryNodes, Trie};
use starfarm_sequencer::tx::{account_class_hash, KeyPair, Transaction};
use starfarm_sequencer::Felt;

#[test]
fn a_16_transfer_block_proves_on_the_small_trace_and_verifies() {
    const TRANSFERS: usize = 16;
    let mut rng = Rng(42);
    let keys: Vec<KeyPair> = (0..1000)
        .map(|_| KeyPair::from_private(Felt::from(rng.next()) * Felt::from(u64::MAX) + Felt::ONE))
        .collect();
    let mut states = BTreeMap::new();
    let mut trie = Trie::empty(MemoryNodes::new());
    let updates: Vec<(Felt, Felt)> = keys
        .iter()
        .map(|k| {
            let state = AccountState {
                class_hash: account_class_hash(),
                public_key: k.public_key,
                balance: 1_000_000,
                nonce: 1,
            };
            states.insert(k.address(), state);
            (k.address(), state.leaf())
        })
        .collect();
    trie.update(&updates).expect("genesis");
    let previous_root = trie.root();

    let txs: Vec<Transaction> = (0..TRANSFERS)
        .map(|i| {
            let to = keys[100 + (rng.next() % 900) as usize].address();
            Transaction::transfer(&keys[i], 1, to, 1 + u128::from(rng.next() % 1000))
        })
        .collect();
    let input = BlockProverInput::build(
        &trie,
        &states,
        7,
        Felt::from(99u8),
        1_700_000_000,
        txs.clone(),
    )
    .expect("prover input");

    // Native block.
    let mut touched = Vec::new();
    for tx in &txs {
        apply(&mut states, tx).expect("valid");
        touched.extend(starfarm_sequencer::execute::touched(tx));
    }
    let updates: Vec<(Felt, Felt)> = touched.iter().map(|a| (*a, states[a].leaf())).collect();
    trie.update(&updates).expect("native update");
    let state_root = global_root(trie.root());
    let commitment = tx_commitment(Felt::ZERO, txs.iter().map(Transaction::hash));
    let hash = block_hash(
        7,
        Felt::from(99u8),
        1_700_000_000,
        state_root,
        TRANSFERS as u64,
        commitment,
    );

    let range = input.range(0, TRANSFERS as u64).expect("range");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cairo/block.json");
    let program = CairoProgram::from_file(&path).expect("block.json loads");
    let mut prover = Prover::new(SecurityProfile::Test);
    let started = Instant::now();
    let artifact = prover
        .prove(
            &program,
            &ProgramInput::new(range.to_felts()),
            &mut |phase| eprintln!("{:>6.1} s: {phase}", started.elapsed().as_secs_f64()),
        )
        .expect("proves");
    eprintln!(
        "proved {} steps in {:.1} s; timings {:?}; builtins {:?}",
        artifact.header.steps,
        started.elapsed().as_secs_f64(),
        artifact.header.timings_ms,
        artifact.header.builtins
    );
    let verified = verify(&artifact, 0).expect("verifies");
    assert_eq!(
        artifact.header.preprocessed_trace,
        PreProcessedTraceVariant::CanonicalSmall
    );
    let output = BlockOutput::from_felts(&verified.output).expect("output parses");
    assert_eq!(output, range.expected_output());
    assert_eq!(output.previous_state_root, global_root(previous_root));
    assert_eq!(output.new_state_root, state_root);
    assert_eq!(output.block_hash, hash);
}
