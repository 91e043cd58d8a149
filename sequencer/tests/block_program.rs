//! The Cairo block program (`sequencer/cairo/block.json`, run with cairo-vm in proof mode)
//! against native execution, on random blocks: every range's output must equal
//! `RangeInput::expected_output()`, whose roots, commitments and block hash must equal those
//! a plain native replay of the block computes here, and tampered inputs must make the
//! program fail. `cargo test -p starfarm-sequencer --test block_program -- --nocapture`
//! prints the Cairo steps per transaction kind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use num_bigint::BigInt;
use starfarm_prover::prover::choose_variant;
use starfarm_prover::{execute, CairoProgram, ExecutionLimits, ProgramInput};
use starfarm_sequencer::batch_ecdsa::{BatchInput, Bound, Multipliers};
use starfarm_sequencer::block::{block_hash, tx_commitment};
use starfarm_sequencer::ecdsa::EC_ORDER;
use starfarm_sequencer::execute::{apply, touched, ExecutionStatus, Receipt};
use starfarm_sequencer::program_input::{
    shared_steps, BlockOutput, BlockProverInput, Outcome, ProgramInputError, ProofStep, RangeInput,
    SharedStep,
};
use starfarm_sequencer::service::estimated_steps;
use starfarm_sequencer::state::{global_root, AccountState};
use starfarm_sequencer::testing::Rng;
use starfarm_sequencer::trie::{MemoryNodes, Node, Trie};
use starfarm_sequencer::tx::{account_class_hash, Deposit, KeyPair, Signature, Transaction};
use starfarm_sequencer::Felt;

fn program() -> &'static CairoProgram {
    static PROGRAM: OnceLock<CairoProgram> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cairo/block.json");
        CairoProgram::from_file(&path)
            .expect("sequencer/cairo/block.json loads (scripts/compile-cairo.sh)")
    })
}

/// Runs the program on a range: its parsed output and its steps, or cairo-vm's error.
fn run(range: &RangeInput) -> Result<(BlockOutput, u64), String> {
    run_felts(range.to_felts())
}

/// Runs the program on input felts; the run must not use ec_op (signatures are batched).
fn run_felts(felts: Vec<Felt>) -> Result<(BlockOutput, u64), String> {
    let input = ProgramInput::new(felts);
    let execution =
        execute(program(), &input, ExecutionLimits::default()).map_err(|e| e.to_string())?;
    assert!(
        !execution.uses("ec_op"),
        "the block program must not use the ec_op builtin"
    );
    let output = BlockOutput::from_felts(&execution.output).map_err(|e| e.to_string())?;
    Ok((output, execution.steps))
}

/// Runs a range and checks its output against native execution; returns the steps.
fn check_range(range: &RangeInput) -> u64 {
    let (output, steps) = run(range).expect("the block program runs");
    assert_eq!(
        output,
        range.expected_output(),
        "Cairo output differs from native execution"
    );
    steps
}

/// A chain held natively: the full contracts trie and every account's state.
struct Chain {
    trie: Trie<MemoryNodes>,
    states: BTreeMap<Felt, AccountState>,
    number: u64,
    parent_hash: Felt,
    timestamp: u64,
}

/// A block as a plain native replay computes it (independently of `program_input`).
struct NativeBlock {
    input: BlockProverInput,
    receipts: Vec<Receipt>,
    previous_state_root: Felt,
    state_root: Felt,
    tx_commitment: Felt,
    block_hash: Felt,
}

impl Chain {
    fn new() -> Self {
        Self {
            trie: Trie::empty(MemoryNodes::new()),
            states: BTreeMap::new(),
            number: 0,
            parent_hash: Felt::ZERO,
            timestamp: 1_700_000_000,
        }
    }

    /// A chain whose state holds `n` deployed accounts with random balances and nonces.
    fn with_accounts(rng: &mut Rng, n: usize) -> (Self, Vec<KeyPair>) {
        let mut chain = Self::new();
        let keys: Vec<KeyPair> = (0..n).map(|_| rng.keys()).collect();
        let mut updates = Vec::new();
        for k in &keys {
            let state = AccountState {
                class_hash: account_class_hash(),
                public_key: k.public_key,
                balance: 1_000_000 + u128::from(rng.next() % 1_000_000),
                nonce: 1 + rng.next() % 5,
            };
            chain.states.insert(k.address(), state);
            updates.push((k.address(), state.leaf()));
        }
        chain.trie.update(&updates).expect("genesis state");
        (chain, keys)
    }

    fn nonce(&self, keys: &KeyPair) -> u64 {
        self.states.get(&keys.address()).map_or(0, |s| s.nonce)
    }

    /// Executes a block natively and returns its prover input and results.
    fn block(&mut self, transactions: Vec<Transaction>) -> NativeBlock {
        let input = BlockProverInput::build(
            &self.trie,
            &self.states,
            self.number,
            self.parent_hash,
            self.timestamp,
            transactions.clone(),
        )
        .expect("the prover input builds");
        let previous_state_root = global_root(self.trie.root());
        let mut receipts = Vec::new();
        let mut updated = Vec::new();
        for tx in &transactions {
            receipts.push(apply(&mut self.states, tx).expect("valid transaction"));
            updated.extend(touched(tx));
        }
        let updates: Vec<(Felt, Felt)> = updated
            .iter()
            .map(|a| (*a, self.states.get(a).copied().unwrap_or_default().leaf()))
            .collect();
        self.trie.update(&updates).expect("native update");
        let state_root = global_root(self.trie.root());
        let commitment = tx_commitment(Felt::ZERO, transactions.iter().map(Transaction::hash));
        let hash = block_hash(
            self.number,
            self.parent_hash,
            self.timestamp,
            state_root,
            transactions.len() as u64,
            commitment,
        );
        self.number += 1;
        self.parent_hash = hash;
        self.timestamp += 2;
        NativeBlock {
            input,
            receipts,
            previous_state_root,
            state_root,
            tx_commitment: commitment,
            block_hash: hash,
        }
    }
}

/// Proves a whole block as one range; checks native agreement. Returns the range and steps.
fn check_block(block: &NativeBlock) -> (RangeInput, u64) {
    let range = block.input.range(0, block.input.tx_count()).expect("range");
    let expected = range.expected_output();
    assert_eq!(expected.previous_state_root, block.previous_state_root);
    assert_eq!(expected.new_state_root, block.state_root);
    assert_eq!(expected.tx_commitment_end, block.tx_commitment);
    assert_eq!(expected.block_hash, block.block_hash);
    assert_eq!(range.receipts, block.receipts);
    let steps = check_range(&range);
    (range, steps)
}

fn statuses(block: &NativeBlock) -> Vec<ExecutionStatus> {
    block.receipts.iter().map(|r| r.execution_status).collect()
}

fn deposit(rng: &mut Rng, recipient: Felt, amount: u128) -> Transaction {
    Transaction::Deposit(Deposit {
        l1_sender: rng.l1_address(),
        recipient,
        amount,
        l1_nonce: rng.next() % 1000,
    })
}

#[test]
fn empty_blocks() {
    let mut chain = Chain::new();
    let (range, _) = check_block(&chain.block(vec![]));
    assert!(range.accounts.is_empty());
    let mut rng = Rng(1);
    let (mut chain, _) = Chain::with_accounts(&mut rng, 20);
    let block = chain.block(vec![]);
    let (_, steps) = check_block(&block);
    eprintln!("empty block: {steps} steps");
}

#[test]
fn deploys_into_an_empty_state_then_more() {
    let mut rng = Rng(2);
    let mut chain = Chain::new();
    let keys: Vec<KeyPair> = (0..6).map(|_| rng.keys()).collect();
    // The first leaf goes into the empty trie; the others split edges.
    let block = chain.block(keys.iter().map(Transaction::deploy_account).collect());
    assert!(statuses(&block)
        .iter()
        .all(|s| *s == ExecutionStatus::Succeeded));
    check_block(&block);
    let more: Vec<KeyPair> = (0..5).map(|_| rng.keys()).collect();
    let block = chain.block(more.iter().map(Transaction::deploy_account).collect());
    check_block(&block);
    assert_eq!(chain.states.len(), 11);
}

#[test]
fn transfers_among_existing_accounts() {
    let mut rng = Rng(3);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 200);
    let mut nonces: BTreeMap<Felt, u64> = BTreeMap::new();
    let mut txs = Vec::new();
    for _ in 0..40 {
        // A small set of senders so that accounts are touched several times.
        let from = &keys[rng.below(10)];
        let to = keys[rng.below(keys.len())].address();
        let nonce = nonces
            .entry(from.address())
            .or_insert_with(|| chain.nonce(from));
        txs.push(Transaction::transfer(
            from,
            *nonce,
            to,
            1 + u128::from(rng.next() % 50_000),
        ));
        *nonce += 1;
    }
    let block = chain.block(txs);
    assert!(statuses(&block)
        .iter()
        .all(|s| *s == ExecutionStatus::Succeeded));
    check_block(&block);
}

#[test]
fn transfer_to_a_new_address_self_transfer_and_insufficient_balance() {
    let mut rng = Rng(4);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 50);
    let (a, b) = (&keys[0], &keys[1]);
    let fresh = rng.address();
    let other_fresh = rng.address();
    let balance = chain.states[&a.address()].balance;
    let n = chain.nonce(a);
    let txs = vec![
        // A new leaf with class 0.
        Transaction::transfer(a, n, fresh, 1000),
        // To oneself: only the nonce changes; then one beyond the balance (reverted).
        Transaction::transfer(a, n + 1, a.address(), 10),
        Transaction::transfer(a, n + 2, a.address(), balance + 1),
        // More than the balance: reverted, the recipient (a new address) stays absent.
        Transaction::transfer(a, n + 3, other_fresh, balance),
        // Exactly the balance: succeeds.
        Transaction::transfer(
            b,
            chain.nonce(b),
            a.address(),
            chain.states[&b.address()].balance,
        ),
    ];
    let block = chain.block(txs);
    use ExecutionStatus::*;
    assert_eq!(
        statuses(&block),
        vec![Succeeded, Succeeded, Reverted, Reverted, Succeeded]
    );
    let (range, _) = check_block(&block);
    let outcomes: Vec<Outcome> = range.transactions.iter().map(|t| t.outcome).collect();
    assert_eq!(outcomes[2], Outcome::InsufficientBalance);
    assert_eq!(outcomes[3], Outcome::InsufficientBalance);
    assert_eq!(chain.states[&fresh].class_hash, Felt::ZERO);
    assert!(chain.states.get(&other_fresh).is_none_or(|s| s.is_empty()));
    // The untouched-but-listed absent account kept its absence proof.
    assert!(range.accounts.iter().any(|e| e.address == other_fresh));
}

#[test]
fn deposit_to_an_undeployed_address_then_deploy() {
    let mut rng = Rng(5);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 30);
    let newcomer = rng.keys();
    let late = rng.keys();
    // Same block: deposit, deploy, transfer out of the deposit.
    let block = chain.block(vec![
        deposit(&mut rng, newcomer.address(), 5000),
        deposit(&mut rng, late.address(), 700),
        Transaction::deploy_account(&newcomer),
        Transaction::transfer(&newcomer, 1, keys[3].address(), 1200),
    ]);
    assert!(statuses(&block)
        .iter()
        .all(|s| *s == ExecutionStatus::Succeeded));
    let (range, _) = check_block(&block);
    assert_eq!(range.expected_output().messages_to_l2.len(), 2);
    assert_eq!(chain.states[&newcomer.address()].balance, 3800);
    // Next block: the other one deploys over its earlier deposit.
    let block = chain.block(vec![Transaction::deploy_account(&late)]);
    check_block(&block);
    assert_eq!(chain.states[&late.address()].balance, 700);
    assert_eq!(chain.states[&late.address()].nonce, 1);
}

#[test]
fn withdrawals_send_messages() {
    let mut rng = Rng(6);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 40);
    let (a, b) = (&keys[5], &keys[6]);
    let recipient = rng.l1_address();
    let balance = chain.states[&b.address()].balance;
    let block = chain.block(vec![
        Transaction::withdraw(a, chain.nonce(a), recipient, 777),
        Transaction::withdraw(b, chain.nonce(b), recipient, balance + 1),
        Transaction::withdraw(a, chain.nonce(a) + 1, rng.l1_address(), 1),
        deposit(&mut rng, a.address(), 3),
    ]);
    use ExecutionStatus::*;
    assert_eq!(
        statuses(&block),
        vec![Succeeded, Reverted, Succeeded, Succeeded]
    );
    let (range, _) = check_block(&block);
    let output = range.expected_output();
    assert_eq!(output.messages_to_l1.len(), 2);
    assert_eq!(output.messages_to_l1[0].from_address, a.address());
    assert_eq!(output.messages_to_l1[0].to_address, recipient);
    assert_eq!(output.messages_to_l1[0].payload, vec![Felt::from(777u32)]);
}

#[test]
fn balance_overflow_reverts() {
    let mut rng = Rng(7);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 20);
    let rich = rng.address();
    let block = chain.block(vec![deposit(&mut rng, rich, u128::MAX - 5)]);
    check_block(&block);
    let a = &keys[0];
    let block = chain.block(vec![
        // Would reach 2^128: reverted, but the message is consumed.
        deposit(&mut rng, rich, 6),
        deposit(&mut rng, rich, 5),
        Transaction::transfer(a, chain.nonce(a), rich, 1),
        Transaction::transfer(a, chain.nonce(a) + 1, keys[1].address(), 1),
    ]);
    use ExecutionStatus::*;
    assert_eq!(
        statuses(&block),
        vec![Reverted, Succeeded, Reverted, Succeeded]
    );
    let (range, _) = check_block(&block);
    assert_eq!(range.transactions[0].outcome, Outcome::BalanceOverflow);
    assert_eq!(range.transactions[2].outcome, Outcome::BalanceOverflow);
    assert_eq!(range.expected_output().messages_to_l2.len(), 2);
    assert_eq!(chain.states[&rich].balance, u128::MAX);
}

/// Addresses sharing long prefixes: edges in the middle of paths, absent keys leaving edges
/// after many common bits, splits right above a leaf.
#[test]
fn clustered_addresses_exercise_trie_shapes() {
    let mut rng = Rng(12);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 8);
    let base = Felt::from(rng.next()) * Felt::from(2u8).pow(180u32) + Felt::from(rng.next());
    let near = |bit: u32| base + Felt::from(2u8).pow(bit);
    let first: Vec<Transaction> = [0u32, 1, 60, 127, 128, 200, 240]
        .iter()
        .map(|b| deposit(&mut rng, near(*b), 10))
        .collect();
    check_block(&chain.block(first));
    let mut second: Vec<Transaction> = [2u32, 3, 61, 129, 201, 241, 248]
        .iter()
        .map(|b| deposit(&mut rng, near(*b), 20))
        .collect();
    second.push(deposit(&mut rng, base, 5));
    second.push(deposit(&mut rng, near(0), 1));
    check_block(&chain.block(second));
    let a = &keys[0];
    let third = vec![
        Transaction::transfer(a, chain.nonce(a), near(126), 3),
        Transaction::transfer(a, chain.nonce(a) + 1, near(1) + Felt::ONE, 4),
        Transaction::transfer(a, chain.nonce(a) + 2, near(60), 5),
    ];
    let (range, _) = check_block(&chain.block(third));
    let leaves = range
        .proofs
        .iter()
        .flat_map(|p| p.steps.iter())
        .filter(|s| matches!(s, ProofStep::EdgeLeaves { common, .. } if *common > 0))
        .count();
    assert!(
        leaves > 0,
        "some absent key should leave an edge after common bits"
    );
}

/// A random mixed block over `keys`.
fn mixed_block(rng: &mut Rng, chain: &Chain, keys: &[KeyPair], n: usize) -> Vec<Transaction> {
    let mut nonces: BTreeMap<Felt, u64> = BTreeMap::new();
    let mut txs = Vec::new();
    for _ in 0..n {
        let from = &keys[rng.below(keys.len())];
        let nonce = nonces
            .entry(from.address())
            .or_insert_with(|| chain.nonce(from));
        match rng.below(10) {
            0 => {
                let to = keys[rng.below(keys.len())].address();
                let amount = 1 + u128::from(rng.next() % 9999);
                txs.push(deposit(rng, to, amount));
            }
            1 => txs.push(Transaction::deploy_account(&rng.keys())),
            2 => {
                txs.push(Transaction::withdraw(
                    from,
                    *nonce,
                    rng.l1_address(),
                    u128::from(rng.next() % 3_000_000),
                ));
                *nonce += 1;
            }
            3 => {
                txs.push(Transaction::transfer(
                    from,
                    *nonce,
                    rng.address(),
                    u128::from(rng.next() % 10_000),
                ));
                *nonce += 1;
            }
            _ => {
                let to = keys[rng.below(keys.len())].address();
                txs.push(Transaction::transfer(
                    from,
                    *nonce,
                    to,
                    u128::from(rng.next() % 3_000_000),
                ));
                *nonce += 1;
            }
        }
    }
    txs
}

#[test]
fn ranges_of_a_block_chain() {
    let mut rng = Rng(8);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 100);
    let txs = mixed_block(&mut rng, &chain, &keys[..12], 30);
    let block = chain.block(txs);
    assert!(
        statuses(&block).contains(&ExecutionStatus::Reverted),
        "the mix should revert some"
    );
    let bounds = [0u64, 7, 7, 19, 30];
    let mut previous: Option<BlockOutput> = None;
    for pair in bounds.windows(2) {
        let range = block.input.range(pair[0], pair[1]).expect("range");
        check_range(&range);
        let output = range.expected_output();
        match &previous {
            None => {
                assert_eq!(output.previous_state_root, block.previous_state_root);
                assert_eq!(output.tx_commitment_start, Felt::ZERO);
            }
            Some(p) => {
                assert_eq!(output.previous_state_root, p.new_state_root);
                assert_eq!(output.tx_commitment_start, p.tx_commitment_end);
                assert_eq!(p.block_hash, Felt::ZERO);
            }
        }
        previous = Some(output);
    }
    let last = previous.expect("ranges");
    assert_eq!(last.new_state_root, block.state_root);
    assert_eq!(last.block_hash, block.block_hash);
    assert_eq!(last.tx_commitment_end, block.tx_commitment);
    // The whole block in one range agrees too.
    check_block(&block);
    // And the next block starts from it.
    let txs = mixed_block(&mut rng, &chain, &keys[..12], 10);
    let next = chain.block(txs);
    let (range, _) = check_block(&next);
    assert_eq!(range.expected_output().parent_hash, block.block_hash);
    assert_eq!(
        range.expected_output().previous_state_root,
        block.state_root
    );
}

#[test]
fn prover_input_round_trips_as_json() {
    let mut rng = Rng(9);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 30);
    let txs = mixed_block(&mut rng, &chain, &keys, 12);
    let block = chain.block(txs);
    let json = serde_json::to_string(&block.input).expect("serializes");
    let back: BlockProverInput = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, block.input);
    let range = back.range(2, 9).expect("range");
    let json = serde_json::to_string(&range).expect("serializes");
    let again: RangeInput = serde_json::from_str(&json).expect("parses");
    assert_eq!(again, range);
    assert!(matches!(
        back.range(5, 13),
        Err(ProgramInputError::Range { .. })
    ));
}

#[test]
fn tampered_inputs_fail() {
    let mut rng = Rng(10);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 60);
    let (a, b, c) = (&keys[0], &keys[1], &keys[2]);
    let mut bad_signature = Transaction::transfer(a, chain.nonce(a), b.address(), 10);
    if let Transaction::Transfer(t) = &mut bad_signature {
        t.signature.s += Felt::ONE;
    }
    // Three accounts present (updated by the shared pass), two new ones (inserted).
    let (new_1, new_2) = (rng.keys().address(), rng.keys().address());
    let block = chain.block(vec![
        Transaction::transfer(a, chain.nonce(a), b.address(), 10),
        deposit(&mut rng, c.address(), 5),
        deposit(&mut rng, c.address(), 6),
        deposit(&mut rng, new_1, 7),
        deposit(&mut rng, new_2, 8),
    ]);
    let honest = block.input.range(0, 5).expect("range");
    check_range(&honest);
    assert_eq!(honest.insertions.len(), 2);
    let fails = |range: &RangeInput, what: &str| {
        let result = run(range);
        assert!(result.is_err(), "{what}: the program accepted it");
        if let Err(e) = &result {
            eprintln!("{what}: {}", e.lines().next().unwrap_or_default());
        }
    };

    // A bad signature (native replay does not check signatures; the program does).
    let mut input = block.input.clone();
    input.transactions[0] = bad_signature;
    fails(&input.range(0, 5).expect("range"), "bad signature");

    // A wrong sibling on the shared paths.
    let mut range = honest.clone();
    let sibling = range
        .shared
        .iter_mut()
        .find_map(|step| match step {
            SharedStep::Left { right: h } | SharedStep::Right { left: h } => Some(h),
            _ => None,
        })
        .expect("a binary node with one side untouched");
    *sibling += Felt::ONE;
    fails(&range, "wrong sibling on the shared paths");

    // A wrong edge path on the shared paths (the keys rebuilt from it are wrong too).
    let mut range = honest.clone();
    match range
        .shared
        .iter_mut()
        .find(|step| matches!(step, SharedStep::Edge { .. }))
    {
        Some(SharedStep::Edge { path, .. }) => *path += Felt::ONE,
        _ => panic!("the shared paths hold an edge"),
    }
    fails(&range, "wrong edge on the shared paths");

    // A wrong node in an insertion's proof.
    let mut range = honest.clone();
    match &mut range.insertions[0][0] {
        ProofStep::Binary { left, right, bit } => {
            if *bit {
                *left += Felt::ONE;
            } else {
                *right += Felt::ONE;
            }
        }
        ProofStep::Edge { path, .. } | ProofStep::EdgeLeaves { path, .. } => *path += Felt::ONE,
    }
    fails(&range, "wrong node in an insertion's proof");

    // A present account left out of the shared pass: the records of the union of the other
    // two accounts' paths (real nodes, matching the start root), as a prover claiming that
    // account's subtree unchanged would give.
    let trie = Trie::new(
        MemoryNodes::from_nodes(block.input.multiproof.iter().copied()),
        honest.previous_contracts_root,
    );
    let present: Vec<Felt> = honest
        .accounts
        .iter()
        .filter(|e| e.state.leaf() != Felt::ZERO)
        .map(|e| e.address)
        .collect();
    assert_eq!(present.len(), 3);
    for omitted in 0..present.len() {
        let mut kept = present.clone();
        kept.remove(omitted);
        let proofs: Vec<Vec<Node>> = kept
            .iter()
            .map(|&k| trie.proof(k).expect("proof"))
            .collect();
        let mut range = honest.clone();
        range.shared = shared_steps(&kept, &proofs).expect("union of real paths");
        fails(&range, "a present account omitted from the shared pass");
    }

    // A present account listed twice (the shared pass would then visit its leaf once).
    let mut range = honest.clone();
    range.accounts.insert(1, range.accounts[1]);
    range.proofs.insert(1, range.proofs[1].clone());
    fails(&range, "an account listed twice");

    // A start state that is not the one in the trie.
    let mut range = honest.clone();
    range.accounts[1].state.balance += 1;
    fails(&range, "wrong start balance");

    // A wrong outcome: a successful transfer claimed reverted.
    let mut range = honest.clone();
    range.transactions[0].outcome = Outcome::InsufficientBalance;
    fails(&range, "wrong outcome");

    // Both deposits credited from the same version of the recipient (a lost update).
    let mut range = honest.clone();
    range.transactions[2].previous_versions = range.transactions[1].previous_versions.clone();
    fails(&range, "version consumed twice");

    // A final version that is not the end of the account's chain.
    let mut range = honest.clone();
    let slot = range
        .accounts
        .iter()
        .position(|e| e.address == c.address())
        .expect("listed");
    range.proofs[slot].final_version = slot as u64;
    fails(&range, "stale final version");

    // The two insertions' proofs swapped.
    let mut range = honest.clone();
    range.insertions.swap(0, 1);
    fails(&range, "insertion proofs swapped");

    // A present account claimed absent (its start state zeroed).
    let mut range = honest.clone();
    range.accounts[0].state = AccountState::default();
    fails(&range, "present account claimed absent");

    // Natively, a multiproof that misses nodes or states that do not match are refused.
    let mut input = block.input.clone();
    input
        .multiproof
        .retain(|n| !matches!(n, Node::Binary { .. }));
    assert!(input.range(0, 5).is_err());
    let mut input = block.input.clone();
    input.accounts.remove(0);
    assert!(matches!(
        input.range(0, 5),
        Err(ProgramInputError::MissingAccount { .. })
    ));
    let mut input = block.input.clone();
    input.accounts[0].state.nonce += 1;
    assert!(matches!(
        input.range(0, 5),
        Err(ProgramInputError::StateMismatch(_))
    ));
}

/// A block of `n` signed transactions (transfers, a withdrawal, a deploy) on 40 accounts.
fn signed_block(seed: u64, n: usize) -> (Chain, NativeBlock) {
    let mut rng = Rng(seed);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 40);
    let mut txs: Vec<Transaction> = (0..n - 2)
        .map(|i| {
            let from = &keys[i];
            Transaction::transfer(from, chain.nonce(from), keys[20 + i % 20].address(), 7)
        })
        .collect();
    let w = &keys[n];
    txs.push(Transaction::withdraw(
        w,
        chain.nonce(w),
        rng.l1_address(),
        3,
    ));
    txs.push(Transaction::deploy_account(&rng.keys()));
    let block = chain.block(txs);
    (chain, block)
}

/// Fails unless the program refuses the range because of a check.
fn assert_refused(felts: Vec<Felt>, what: &str) {
    match run_felts(felts) {
        Ok((_, steps)) => panic!("{what}: the program accepted it ({steps} steps)"),
        Err(e) => assert!(
            starfarm_sequencer::testing::refused_by_a_check(&e),
            "{what}: failed for another reason than a check: {e}"
        ),
    }
}

/// The acceptance of issue 19: a range with exactly one forged or malleated signature, at any
/// position, fails. Native replay does not check signatures, so the range still builds; the
/// batch then holds one bad record. Malleated: (r, n − s), a valid ECDSA signature of the same
/// hash that admission would have stored as (r, s) (low-s rule, docs/sequencer.md,
/// "Malleability").
#[test]
fn one_forged_or_malleated_signature_at_any_position_fails() {
    let n = 6;
    let (_, block) = signed_block(20, n);
    check_block(&block);
    for position in [0, 3, n - 2, n - 1] {
        let forge = |change: &dyn Fn(&mut Signature)| {
            let mut input = block.input.clone();
            match &mut input.transactions[position] {
                Transaction::Transfer(t) => change(&mut t.signature),
                Transaction::Withdraw(t) => change(&mut t.signature),
                Transaction::DeployAccount(t) => change(&mut t.signature),
                Transaction::Deposit(_) => unreachable!("all signed"),
            }
            input
                .range(0, n as u64)
                .expect("native replay ignores signatures")
        };
        let forged = forge(&|s| s.s += Felt::ONE);
        assert_refused(forged.to_felts(), &format!("s + 1 at {position}"));
        let malleated = forge(&|s| s.s = EC_ORDER - s.s);
        let sig = malleated.signatures()[position];
        assert!(
            starknet_crypto::verify(&sig.public_key, &sig.hash, &sig.r, &sig.s).unwrap_or(false),
            "(r, n - s) is a valid ECDSA signature"
        );
        assert!(malleated.batch().equation_holds());
        assert_refused(malleated.to_felts(), &format!("(r, n - s) at {position}"));
    }
}

/// The batch coefficients are drawn by the program from a Poseidon transcript (the range's
/// start root and commitments, then each signature's r, s, v and y parities);
/// the input holds only digits of the products they give. A prover who picks them (0 for the
/// forged signature, which cancels it from the equation) has hints whose equation holds
/// natively, and the program still refuses them: the digits are not those of its products.
#[test]
fn coefficients_chosen_by_the_prover_cannot_pass_a_forged_range() {
    let n = 5;
    let (_, block) = signed_block(21, n);
    let position = 2;
    let mut input = block.input.clone();
    if let Transaction::Transfer(t) = &mut input.transactions[position] {
        t.signature.s += Felt::ONE;
    }
    let range = input.range(0, n as u64).expect("range");
    let honest = range.batch();
    assert!(!honest.equation_holds(), "the forged range's batch fails");
    let crafted = starfarm_sequencer::testing::with_zero_coefficient_at(&honest, position);
    assert!(
        crafted.equation_holds(),
        "with coefficient 0 it holds natively"
    );
    let mut felts = range.to_felts();
    let hints = honest.hint_felts();
    assert_eq!(
        felts[felts.len() - hints.len()..],
        hints[..],
        "the input ends with the hints"
    );
    felts.truncate(felts.len() - hints.len());
    felts.extend(crafted.hint_felts());
    assert_refused(felts, "coefficients chosen by the prover");
}

/// The block program's transcript starts from the range's start root and commitments
/// (docs/sequencer.md, "A transcript of what is not bound yet"): hints drawn from any other
/// start — here the test program's, the hash of the records — are refused, though every
/// signature is valid and the hints are an honest prover's in all else.
#[test]
fn hints_drawn_from_another_transcript_start_are_refused() {
    let n = 4;
    let (_, block) = signed_block(24, n);
    let (range, _) = check_block(&block);
    let honest = range.batch();
    let other = BatchInput::unchecked(&range.signatures(), Bound::Records);
    assert!(
        other.equation_holds(),
        "valid signatures: any coefficients work natively"
    );
    assert_ne!(other.coefficients(), honest.coefficients());
    let mut felts = range.to_felts();
    let hints = honest.hint_felts();
    assert_eq!(felts[felts.len() - hints.len()..], hints[..]);
    felts.truncate(felts.len() - hints.len());
    felts.extend(other.hint_felts());
    assert_refused(
        felts,
        "a transcript that does not start from the range's root and commitments",
    );
}

/// Half-length multipliers (docs/sequencer.md, "Half-length scalars"): with v = 0 (and so
/// μ = w = 0, which satisfy the identities mod n) a forged signature would drop out of the
/// batch equation; the block program refuses v = 0, as the library does
/// (`sequencer/tests/batch_ecdsa.rs` has the other tampered multipliers).
#[test]
fn a_zero_multiplier_cannot_hide_a_forged_signature_in_a_range() {
    let n = 5;
    let (_, block) = signed_block(23, n);
    let position = 1;
    let mut input = block.input.clone();
    if let Transaction::Transfer(t) = &mut input.transactions[position] {
        t.signature.s += Felt::ONE;
    }
    let range = input.range(0, n as u64).expect("range");
    let honest = range.batch();
    assert!(!honest.equation_holds(), "the forged range's batch fails");
    let sig = range.signatures()[position];
    let mut crafted = honest.clone();
    crafted.set_multipliers(
        position,
        Multipliers::with(BigInt::default(), BigInt::default(), sig.hash, sig.r, sig.s),
    );
    assert!(crafted.equation_holds(), "with v = 0 it holds natively");
    let mut felts = range.to_felts();
    let hints = honest.hint_felts();
    assert_eq!(felts[felts.len() - hints.len()..], hints[..]);
    felts.truncate(felts.len() - hints.len());
    felts.extend(crafted.hint_felts());
    assert_refused(felts, "v = 0 for a forged signature");
}

/// Without ec_op a short range proves on the small preprocessed trace.
#[test]
fn a_signed_range_chooses_the_small_preprocessed_trace() {
    let (_, block) = signed_block(22, 4);
    let (range, _) = check_block(&block);
    let input = ProgramInput::new(range.to_felts());
    let execution = execute(program(), &input, ExecutionLimits::default()).expect("runs");
    let variant = choose_variant(&execution).expect("a variant fits");
    assert_eq!(format!("{variant:?}"), "CanonicalSmall");
}

/// Steps per transaction on a state of 1000 accounts: 100 transfers, and 100 of each other
/// kind, against an empty block; each below the sequencer's estimate (`estimated_steps`),
/// which sizes blocks and the farm's chunks.
#[test]
fn steps_per_transaction_on_1000_accounts() {
    let mut rng = Rng(11);
    let (mut chain, keys) = Chain::with_accounts(&mut rng, 1000);
    let (_, empty) = check_block(&chain.block(vec![]));

    let mut nonces: BTreeMap<Felt, u64> = BTreeMap::new();
    let mut txs = Vec::new();
    for i in 0..100 {
        let from = &keys[i];
        let to = keys[100 + rng.below(900)].address();
        let nonce = nonces
            .entry(from.address())
            .or_insert_with(|| chain.nonce(from));
        txs.push(Transaction::transfer(
            from,
            *nonce,
            to,
            1 + u128::from(rng.next() % 1000),
        ));
        *nonce += 1;
    }
    let transfer_estimate = estimated_steps(&txs[0]);
    let block = chain.block(txs);
    let (range, steps) = check_block(&block);
    let per_transfer = (steps - empty) / 100;
    eprintln!(
        "100 transfers, 1000 accounts ({} touched): {steps} steps, {per_transfer} per transfer (empty block: {empty})",
        range.accounts.len()
    );
    // ~1k to execute a transfer and update its two accounts, ~4.5k for its share of the
    // batched signature check (docs/sequencer.md, "Where a signature's steps go"); the
    // sequencer's estimate, which sizes blocks and chunks, must stay above it.
    assert!(
        per_transfer <= transfer_estimate,
        "{per_transfer} steps per transfer"
    );

    let txs: Vec<Transaction> = (0..100)
        .map(|_| Transaction::deploy_account(&rng.keys()))
        .collect();
    let estimate = estimated_steps(&txs[0]);
    let (_, steps) = check_block(&chain.block(txs));
    let per_deploy = (steps - empty) / 100;
    eprintln!("100 deploys (new leaves): {per_deploy} per deploy");
    assert!(per_deploy <= estimate, "{per_deploy} steps per deploy");

    let txs: Vec<Transaction> = (0..100)
        .map(|i| {
            Transaction::withdraw(
                &keys[200 + i],
                chain.nonce(&keys[200 + i]),
                rng.l1_address(),
                5,
            )
        })
        .collect();
    let estimate = estimated_steps(&txs[0]);
    let (_, steps) = check_block(&chain.block(txs));
    let per_withdrawal = (steps - empty) / 100;
    eprintln!("100 withdrawals: {per_withdrawal} per withdrawal");
    assert!(
        per_withdrawal <= estimate,
        "{per_withdrawal} steps per withdrawal"
    );

    let txs: Vec<Transaction> = (0..100)
        .map(|i| deposit(&mut rng, keys[300 + i].address(), 5))
        .collect();
    let estimate = estimated_steps(&txs[0]);
    let (_, steps) = check_block(&chain.block(txs));
    let per_deposit = (steps - empty) / 100;
    eprintln!("100 deposits: {per_deposit} per deposit");
    assert!(per_deposit <= estimate, "{per_deposit} steps per deposit");
}
