//! Settlement against anvil with real block-program outputs: a sequencer runs in-process,
//! its published prover inputs give each range's output natively (`RangeInput::
//! expected_output`, no proofs: the attested registry trusts its signer), and the client
//! deploys, registers facts and settles them. Covers the chain of roots, blocks split into
//! ranges, a withdrawal consumed on L1, a bridge deposit consumed by settlement, and the
//! refusals (unregistered fact, broken chain, tampered output, replay, unknown signer).
//!
//! Needs anvil: `STARFARM_ANVIL=<path>` (scripts/anvil.sh prints it; scripts/test.sh sets
//! it). Without it the tests are skipped loudly, unless `STARFARM_REQUIRE_ANVIL=1` (CI).

// Helpers outside `#[test]` functions unwrap too (clippy's allow-unwrap-in-tests does not reach them).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::providers::Provider;
use starfarm_l1::anvil::{Anvil, DEV_KEYS};
use starfarm_l1::fact::{address_to_felt, fact, felt_to_u256, output_words};
use starfarm_l1::settled_log::{SettledLog, StateUpdate};
use starfarm_l1::settlement::{
    AttestedSettlement, BlockRanges, ProvenRanges, SettleError, Settler, Step,
};
use starfarm_l1::watch::{L1Deposit, L2Sink, Seen, Watcher, DEPOSIT_SELECTOR};
use starfarm_l1::{attest, L1Client, L1State, MessageToL2, PrivateKeySigner, B256, U256};
use starfarm_sequencer::block::BlockHeader;
use starfarm_sequencer::chain::{BlockId, ChainReader, TxSubmitter};
use starfarm_sequencer::l1_sink::{SequencerSink, SinkError};
use starfarm_sequencer::program_input::with_prover_inputs;
use starfarm_sequencer::program_input::BlockProverInput;
use starfarm_sequencer::publish::Publisher;
use starfarm_sequencer::service::{Sequencer, SequencerConfig};
use starfarm_sequencer::state::global_root;
use starfarm_sequencer::testing::runtime;
use starfarm_sequencer::tx::{Deposit, KeyPair, Transaction};
use starfarm_sequencer::Felt;

const OPERATOR_KEY: &str = DEV_KEYS[0];
const USER_KEY: &str = DEV_KEYS[1];
/// Any constant: the attested registry does not look at programs.
const PROGRAM_HASH: &str = "0x5ea1ed";
const BITS: u32 = 96;

fn anvil() -> Option<Anvil> {
    Anvil::for_tests()
}

fn prover_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap()
}

fn program_hash() -> Felt {
    Felt::from_hex_unchecked(PROGRAM_HASH)
}

/// A sequencer publishing blocks with their prover inputs into a temporary folder.
struct Chain {
    seq: Arc<Sequencer>,
    publisher: Publisher,
    _dir: tempfile::TempDir,
}

impl Chain {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        let publisher =
            with_prover_inputs(Publisher::from_location(objects.to_str().unwrap()).unwrap());
        let mut config = SequencerConfig::new(dir.path().join("sequencer"));
        config.block_time = Duration::from_secs(3600);
        let seq = Sequencer::start(config, Some(publisher.clone())).unwrap();
        Chain {
            seq,
            publisher,
            _dir: dir,
        }
    }

    /// Admits the deposit an L1 `LogMessageToL2` announced (what the L1 watcher will do).
    async fn deposit(&self, message: &MessageToL2) {
        let amount = u128::try_from(felt_to_u256(&message.payload[0])).unwrap();
        let deposit = Deposit {
            l1_sender: message.from_felt(),
            recipient: message.to_address,
            amount,
            l1_nonce: message.nonce,
        };
        self.seq
            .submit_deposit(Transaction::Deposit(deposit))
            .await
            .unwrap();
    }

    async fn submit(&self, tx: Transaction) {
        self.seq.submit(tx).await.unwrap();
    }

    /// Closes the block and returns its header and published prover input.
    async fn close(&self) -> (BlockHeader, BlockProverInput) {
        let header = self.seq.close_block().await.unwrap().expect("a block");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(manifest) = self.publisher.manifest(header.number).await.unwrap() {
                let object = manifest.prover_input.as_ref().unwrap();
                let bytes = self.publisher.get_object(object).await.unwrap();
                return (header, serde_json::from_slice(&bytes).unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "block {} not published",
                header.number
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The block-program output of transactions `start..end` of a block.
fn range_output(input: &BlockProverInput, start: u64, end: u64) -> Vec<Felt> {
    input
        .range(start, end)
        .unwrap()
        .expected_output()
        .to_felts()
}

/// anvil, contracts deployed by the operator (prover key registered), a user wallet on the
/// same deployment, and a sequencer.
struct Setup {
    operator: L1Client,
    user: L1Client,
    chain: Chain,
    _anvil: Anvil,
}

impl Setup {
    async fn start(anvil: Anvil) -> Self {
        let mut operator = L1Client::connect(&anvil.url, OPERATOR_KEY).await.unwrap();
        let empty_root = global_root(Felt::ZERO);
        let deployment = operator
            .deploy(program_hash(), empty_root, &[prover_key().address()])
            .await
            .unwrap();
        let user = L1Client::connect(&anvil.url, USER_KEY)
            .await
            .unwrap()
            .attach(deployment);
        Setup {
            operator,
            user,
            chain: Chain::start(),
            _anvil: anvil,
        }
    }

    /// Block 0: a bridge deposit for alice, her deployment and two transfers to bob; its
    /// outputs as two ranges (0..2, 2..4).
    async fn block0(&self, alice: &KeyPair, bob: &KeyPair) -> (BlockHeader, Vec<Vec<Felt>>) {
        let (_, message) = self
            .user
            .deposit(alice.address(), U256::from(1_000u32))
            .await
            .unwrap();
        self.chain.deposit(&message).await;
        self.chain.submit(Transaction::deploy_account(alice)).await;
        for nonce in 1..=2 {
            let tx = Transaction::transfer(alice, nonce, bob.address(), 10);
            self.chain.submit(tx).await;
        }
        let (header, input) = self.chain.close().await;
        assert_eq!(header.tx_count, 4);
        let ranges = vec![range_output(&input, 0, 2), range_output(&input, 2, 4)];
        (header, ranges)
    }

    /// Registers the output's fact (signed by the prover key) and settles it; returns the
    /// gas of both.
    async fn settle(&self, output: &[Felt]) -> (u64, u64) {
        let key = prover_key();
        let settled = self
            .operator
            .settle_attested(&key, program_hash(), output, BITS);
        let (registered, updated) = settled.await.unwrap();
        (registered.gas_used, updated.gas_used)
    }

    /// Registers the output's fact, signed by the prover key; returns the gas.
    async fn register(&self, output: &[Felt]) -> u64 {
        let (key, fact) = (prover_key(), fact(program_hash(), output));
        let registered = self.operator.register_fact(&key, fact, BITS).await;
        registered.unwrap().gas_used
    }

    /// Asserts that `update_state(output)` reverts with `reason`.
    async fn refused(&self, output: &[Felt], reason: &str) {
        let err = self.operator.update_state(output).await.unwrap_err();
        assert_eq!(err.revert_reason(), Some(reason), "{err}");
    }
}

fn settled(header: &BlockHeader) -> L1State {
    L1State {
        state_root: header.state_root,
        next_block_number: header.number + 1,
        block_hash: header.block_hash,
        tx_index: 0,
        tx_commitment: Felt::ZERO,
    }
}

fn keys() -> (KeyPair, KeyPair) {
    (
        KeyPair::from_private(Felt::from(501u32)),
        KeyPair::from_private(Felt::from(502u32)),
    )
}

/// Gas, on the process's stderr (shown without --nocapture too).
fn report(what: &str, output: &[Felt], (register_gas, update_gas): (u64, u64)) {
    let _ = writeln!(
        std::io::stderr(),
        "gas: {what} ({} felts): registerFact {register_gas}, updateState {update_gas}",
        output.len()
    );
}

/// Three blocks (the first in two ranges) settle in order; L1 follows the sequencer's roots
/// and hashes; a withdrawal is consumable once its block is settled, a bridge deposit is
/// consumed when the block that includes it settles.
#[test]
fn settles_blocks_ranges_and_messages() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let started = Instant::now();
        let s = Setup::start(anvil).await;
        let (alice, bob) = keys();
        let before = s.operator.state().await.unwrap();
        assert_eq!(before.state_root, global_root(Felt::ZERO));
        assert_eq!(before.last_block(), None);
        cross_check_hashes(&s).await;

        // Block 0 in two ranges.
        let (header0, ranges0) = s.block0(&alice, &bob).await;
        report(
            "block 0 range 0..2",
            &ranges0[0],
            s.settle(&ranges0[0]).await,
        );
        let mid = s.operator.state().await.unwrap();
        assert_eq!(mid.state_root, ranges0[0][1]);
        assert_eq!((mid.next_block_number, mid.tx_index), (0, 2));
        assert_eq!(mid.tx_commitment, ranges0[0][10]);
        // A block is settled (LogStateUpdate) only once its last range is.
        let log = SettledLog::new(s.operator.clone(), 0, 0);
        assert_eq!(log.refresh().await.unwrap(), None);
        report(
            "block 0 range 2..4",
            &ranges0[1],
            s.settle(&ranges0[1]).await,
        );
        assert_eq!(s.operator.state().await.unwrap(), settled(&header0));

        // Block 1: a withdrawal to the user's L1 address, then a transfer.
        let user_felt = address_to_felt(s.user.address());
        s.chain
            .submit(Transaction::withdraw(&alice, 3, user_felt, 100))
            .await;
        s.chain
            .submit(Transaction::transfer(&alice, 4, bob.address(), 5))
            .await;
        let (header1, input1) = s.chain.close().await;
        let output1 = range_output(&input1, 0, header1.tx_count);
        let payload = [Felt::from(100u32)];
        let early = s.user.consume_withdrawal(alice.address(), 100).await;
        assert_eq!(
            early.unwrap_err().revert_reason(),
            Some("INVALID_MESSAGE_TO_CONSUME")
        );
        report("block 1 (withdrawal)", &output1, s.settle(&output1).await);
        assert_eq!(s.operator.state().await.unwrap(), settled(&header1));
        assert_eq!(log.refresh().await.unwrap(), Some(1));
        for header in [&header0, &header1] {
            let update = StateUpdate {
                block_number: header.number,
                global_root: header.state_root,
                block_hash: header.block_hash,
            };
            assert_eq!(log.get(header.number).await.unwrap(), Some(update));
        }
        assert_eq!(log.get(2).await.unwrap(), None);
        let pending = s
            .user
            .pending_messages_to_l1(alice.address(), s.user.address(), &payload);
        assert_eq!(pending.await.unwrap(), 1);
        let consumed = s
            .user
            .consume_withdrawal(alice.address(), 100)
            .await
            .unwrap();
        eprintln!("gas: consumeMessageFromL2 {}", consumed.gas_used);
        let again = s.user.consume_withdrawal(alice.address(), 100).await;
        assert_eq!(
            again.unwrap_err().revert_reason(),
            Some("INVALID_MESSAGE_TO_CONSUME")
        );

        // Block 2: a bridge deposit for bob, consumed on L1 when block 2 settles.
        let (deposit, message) = s
            .user
            .deposit(bob.address(), U256::from(500u32))
            .await
            .unwrap();
        eprintln!("gas: bridge deposit {}", deposit.gas_used);
        assert_eq!(
            message.from_address,
            s.operator.deployment().unwrap().bridge
        );
        assert_eq!(message.to_address, bob.address());
        assert_eq!(
            message.selector,
            Felt::from_hex_unchecked("0x6465706f736974")
        );
        assert_eq!(message.payload, vec![Felt::from(500u32)]);
        assert_eq!(message.nonce, 1);
        assert!(s
            .user
            .is_message_to_l2_pending(message.hash())
            .await
            .unwrap());
        s.chain.deposit(&message).await;
        let (header2, input2) = s.chain.close().await;
        let output2 = range_output(&input2, 0, header2.tx_count);
        report("block 2 (deposit)", &output2, s.settle(&output2).await);
        assert_eq!(s.operator.state().await.unwrap(), settled(&header2));
        assert!(!s
            .user
            .is_message_to_l2_pending(message.hash())
            .await
            .unwrap());
        s.chain.seq.shutdown().await;
        eprintln!(
            "settled 3 blocks in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    });
}

/// The Rust fact and EIP-712 digest equal the contracts' own views.
async fn cross_check_hashes(s: &Setup) {
    let deployment = s.operator.deployment().unwrap();
    let provider = s.operator.provider();
    let output = [Felt::from(7u8), Felt::MAX];
    let core = starfarm_l1::contracts::StarfarmCore::new(deployment.core, provider);
    let on_chain = core.outputFact(output_words(&output)).call().await.unwrap();
    assert_eq!(on_chain, fact(program_hash(), &output));
    let registry = starfarm_l1::contracts::AttestedFactRegistry::new(deployment.registry, provider);
    let f = B256::repeat_byte(0xfa);
    let on_chain = registry.attestationDigest(f, BITS).call().await.unwrap();
    let chain_id = s.operator.chain_id();
    assert_eq!(
        on_chain,
        attest::digest(chain_id, deployment.registry, f, BITS)
    );
}

#[test]
fn refuses_unregistered_fact() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let (alice, bob) = keys();
        let (_, ranges) = s.block0(&alice, &bob).await;
        s.refused(&ranges[0], "FACT_NOT_REGISTERED").await;
        s.chain.seq.shutdown().await;
    });
}

/// A range that does not continue where settlement stands: skipping the first range, or
/// starting from another root.
#[test]
fn refuses_broken_chain() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let (alice, bob) = keys();
        let (_, ranges) = s.block0(&alice, &bob).await;
        s.register(&ranges[1]).await;
        s.refused(&ranges[1], "INVALID_TX_START").await;
        let mut other_root = ranges[0].clone();
        other_root[0] = Felt::from(12345u32);
        s.register(&other_root).await;
        s.refused(&other_root, "INVALID_PREVIOUS_ROOT").await;
        s.chain.seq.shutdown().await;
    });
}

/// One felt changed after the fact was registered: the fact no longer matches.
#[test]
fn refuses_tampered_output() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let (alice, bob) = keys();
        let (_, ranges) = s.block0(&alice, &bob).await;
        s.register(&ranges[0]).await;
        let mut tampered = ranges[0].clone();
        tampered[1] += Felt::ONE; // the new root
        s.refused(&tampered, "FACT_NOT_REGISTERED").await;
        s.operator.update_state(&ranges[0]).await.unwrap();
        s.chain.seq.shutdown().await;
    });
}

/// A settled range, and a settled block, cannot be settled again.
#[test]
fn refuses_replay() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let (alice, bob) = keys();
        let (header, ranges) = s.block0(&alice, &bob).await;
        s.settle(&ranges[0]).await;
        s.refused(&ranges[0], "RANGE_ALREADY_SETTLED").await;
        s.settle(&ranges[1]).await;
        s.refused(&ranges[1], "BLOCK_ALREADY_SETTLED").await;
        s.refused(&ranges[0], "BLOCK_ALREADY_SETTLED").await;
        assert_eq!(s.operator.state().await.unwrap(), settled(&header));
        s.chain.seq.shutdown().await;
    });
}

/// `registerFact` refuses a key the owner did not register, and bits below the floor.
#[test]
fn refuses_unknown_signer() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let rogue = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x43)).unwrap();
        let f = fact(program_hash(), &[Felt::ONE]);
        let err = s.operator.register_fact(&rogue, f, BITS).await.unwrap_err();
        assert_eq!(err.revert_reason(), Some("UNKNOWN_SIGNER"), "{err}");
        let key = prover_key();
        let err = s.operator.register_fact(&key, f, 80).await.unwrap_err();
        assert_eq!(err.revert_reason(), Some("SECURITY_BITS_TOO_LOW"), "{err}");
        assert!(!s.operator.is_fact_valid(f).await.unwrap());
        s.operator.register_fact(&key, f, BITS).await.unwrap();
        assert!(s.operator.is_fact_valid(f).await.unwrap());
        s.chain.seq.shutdown().await;
    });
}

/// Proven ranges kept in memory, per block (the farm's proven blocks, in production).
#[derive(Default)]
struct Proven(Mutex<HashMap<u64, BlockRanges>>);

impl Proven {
    fn insert(&self, block: u64, outputs: Vec<Vec<Felt>>) {
        self.insert_at(block, outputs, BITS);
    }

    fn insert_at(&self, block: u64, outputs: Vec<Vec<Felt>>, security_bits: u32) {
        let ranges = BlockRanges {
            artifacts: Vec::new(),
            outputs,
            security_bits,
            proof_cost_usd: 0.0,
        };
        self.0.lock().unwrap().insert(block, ranges);
    }
}

impl ProvenRanges for Proven {
    type Error = std::convert::Infallible;

    async fn ranges(&self, number: u64) -> Result<Option<BlockRanges>, Self::Error> {
        Ok(self.0.lock().unwrap().get(&number).cloned())
    }

    async fn proven_from(&self, from: u64) -> Result<u64, Self::Error> {
        let proven = self.0.lock().unwrap();
        Ok(proven.keys().filter(|&&b| b >= from).count() as u64)
    }
}

impl Setup {
    fn settler(&self) -> Settler<AttestedSettlement> {
        let client = AttestedSettlement::new(self.operator.clone(), prover_key());
        Settler::new(client, program_hash())
    }

    /// Calls an anvil-only RPC method.
    async fn anvil_rpc(&self, method: &'static str, params: serde_json::Value) {
        let provider = self.operator.provider();
        let _: serde_json::Value = provider.raw_request(method.into(), params).await.unwrap();
    }

    /// Transactions of the operator sent so far (its mined nonce).
    async fn operator_nonce(&self) -> u64 {
        let provider = self.operator.provider();
        let address = self.operator.address();
        provider.get_transaction_count(address).await.unwrap()
    }

    /// The ranges settled so far (`LogRangeSettled`), as (block, tx_start, tx_end).
    async fn settled_ranges(&self) -> Vec<(u64, u64, u64)> {
        let core = starfarm_l1::contracts::StarfarmCore::new(
            self.operator.deployment().unwrap().core,
            self.operator.provider().clone(),
        );
        let events = core
            .LogRangeSettled_filter()
            .from_block(0)
            .query()
            .await
            .unwrap();
        let word = |w: U256| u64::try_from(w).unwrap();
        events
            .into_iter()
            .map(|(e, _)| (word(e.blockNumber), word(e.txStart), word(e.txEnd)))
            .collect()
    }
}

#[test]
fn the_settler_settles_proven_ranges_in_order_once_and_stops_on_a_broken_chain() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let (alice, bob) = keys();
        let settler = s.settler();
        let proven = Proven::default();
        assert_eq!(settler.step(&proven).await.unwrap(), Step::Waiting { block: 0 });
        assert_eq!(settler.metrics.last_settled.get(), -1);

        let (header0, ranges0) = s.block0(&alice, &bob).await;
        proven.insert(0, ranges0);
        assert_eq!(settler.catch_up(&proven).await.unwrap(), 2, "both ranges of block 0");
        assert_eq!(s.operator.state().await.unwrap(), settled(&header0));
        let m = &settler.metrics;
        assert_eq!(m.last_settled.get(), 0);
        for call in ["registerFact", "updateState"] {
            assert_eq!(m.submissions.with_label_values(&[call, "mined"]).get(), 2);
            assert!(m.gas_used.with_label_values(&[call]).get() > 40_000);
        }
        // Progress lives on L1: another settler (a restart) finds nothing left to do.
        let restarted = s.settler();
        assert_eq!(restarted.catch_up(&proven).await.unwrap(), 0);
        assert_eq!(restarted.metrics.pending_blocks.get(), 0);

        s.chain
            .submit(Transaction::transfer(&alice, 3, bob.address(), 5))
            .await;
        let (header1, input1) = s.chain.close().await;
        proven.insert(1, vec![range_output(&input1, 0, 1)]);
        let step = restarted.step(&proven).await.unwrap();
        assert!(
            matches!(step, Step::Settled { block: 1, tx_start: 0, tx_end: 1, gas: (g, _) } if g > 0),
            "{step:?}"
        );
        assert_eq!(s.operator.state().await.unwrap(), settled(&header1));

        // A block proven below the registry's floor stops the line until the owner lowers
        // the floor (the devnet's test profile: 18 bits).
        s.chain
            .submit(Transaction::transfer(&alice, 4, bob.address(), 5))
            .await;
        let (header2, input2) = s.chain.close().await;
        proven.insert_at(2, vec![range_output(&input2, 0, 1)], 18);
        let err = restarted.step(&proven).await.unwrap_err();
        assert_eq!(err.to_string(), "registerFact reverted: SECURITY_BITS_TOO_LOW");
        assert!(err.stops_the_line());
        s.operator.set_min_security_bits(18).await.unwrap();
        restarted.step(&proven).await.unwrap();
        assert_eq!(s.operator.state().await.unwrap(), settled(&header2));

        // A proven range that does not continue L1's root stops the line; nothing is sent.
        s.chain
            .submit(Transaction::transfer(&alice, 5, bob.address(), 5))
            .await;
        let (_, input3) = s.chain.close().await;
        let mut broken = range_output(&input3, 0, 1);
        broken[0] += Felt::ONE;
        proven.insert(3, vec![broken]);
        let err = restarted.step(&proven).await.unwrap_err();
        assert!(matches!(err, SettleError::RootMismatch { block: 3, .. }), "{err}");
        assert!(err.stops_the_line());
        assert_eq!(restarted.metrics.pending_blocks.get(), 1);
        assert_eq!(s.operator.state().await.unwrap(), settled(&header2));
        s.chain.seq.shutdown().await;
    });
}

/// L2 as the watcher drives it (the sequencer's own sink: it admits deposits, a repeated
/// one is known already, and learns which blocks L1 settled), counting the deliveries.
struct RecordingSink {
    sink: SequencerSink,
    deposits: Mutex<Vec<L1Deposit>>,
}

impl L2Sink for RecordingSink {
    type Error = SinkError;

    async fn settled(&self, number: u64) -> Result<(), SinkError> {
        self.sink.settled(number).await
    }

    async fn deposit(&self, deposit: L1Deposit) -> Result<(), SinkError> {
        self.deposits.lock().unwrap().push(deposit.clone());
        self.sink.deposit(deposit).await
    }
}

#[test]
fn the_watcher_admits_bridge_deposits_once_and_reports_settled_blocks() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let (alice, _) = keys();
        let sink = RecordingSink {
            sink: SequencerSink(s.chain.seq.clone()),
            deposits: Mutex::new(Vec::new()),
        };
        let mut watcher = Watcher::new(s.operator.clone(), 0, 0);
        s.user
            .deposit(alice.address(), U256::from(1_000u32))
            .await
            .unwrap();
        // A "deposit" sent to the core directly, not through the bridge: no value behind it.
        let core = starfarm_l1::contracts::StarfarmCore::new(
            s.user.deployment().unwrap().core,
            s.user.provider().clone(),
        );
        let forged = core.sendMessageToL2(
            felt_to_u256(&alice.address()),
            felt_to_u256(&DEPOSIT_SELECTOR),
            vec![U256::from(1_000_000u32)],
        );
        forged.send().await.unwrap().get_receipt().await.unwrap();

        let seen = watcher.poll(&sink).await.unwrap();
        assert_eq!(
            seen,
            Seen {
                settled: None,
                deposits: 1,
                ignored: 1
            }
        );
        // A restarted watcher reads the same events again: the sequencer admits the deposit once.
        let mut restarted = Watcher::new(s.operator.clone(), 0, 0);
        assert_eq!(restarted.poll(&sink).await.unwrap().deposits, 1);
        assert_eq!(sink.deposits.lock().unwrap().len(), 2, "delivered twice");
        let (header, input) = s.chain.close().await;
        assert_eq!(header.tx_count, 1, "admitted once");
        let account = s.chain.seq.account(alice.address(), BlockId::Latest);
        assert_eq!(
            account.unwrap().map(|a| a.balance),
            Some(1_000),
            "the deposit reached L2"
        );
        assert_eq!(watcher.poll(&sink).await.unwrap(), Seen::default());

        s.settle(&range_output(&input, 0, 1)).await;
        let seen = watcher.poll(&sink).await.unwrap();
        assert_eq!(seen.settled, Some(0));
        assert_eq!(s.chain.seq.l1_accepted_number().unwrap(), Some(0));
        s.chain.seq.shutdown().await;
    });
}

/// The settler killed while its `updateState` waits to be mined (anvil not mining): the
/// restarted one waits for that transaction instead of sending the range again, then goes
/// on. Every range settles once, and no transaction is wasted.
#[test]
fn a_settler_killed_mid_submission_settles_each_range_once_after_restart() {
    let Some(anvil) = anvil() else { return };
    runtime().block_on(async {
        let s = Setup::start(anvil).await;
        let (alice, bob) = keys();
        let (header0, ranges0) = s.block0(&alice, &bob).await;
        let proven = Proven::default();
        proven.insert(0, ranges0);
        let sent_before = s.operator_nonce().await;

        s.anvil_rpc("evm_setAutomine", serde_json::json!([false]))
            .await;
        {
            let settler = s.settler();
            let step = settler.step(&proven);
            tokio::pin!(step);
            // Mine the fact registration by hand, then stop at the update in flight.
            let mut mined = 0;
            loop {
                tokio::select! {
                    done = &mut step => panic!("the step finished without mining: {done:?}"),
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
                if s.operator.in_flight().await.unwrap() == 0 {
                    continue;
                }
                if mined == 1 {
                    break;
                }
                s.anvil_rpc("evm_mine", serde_json::json!([])).await;
                mined += 1;
            }
        } // the settler "crashes" here: its step is dropped with updateState unmined

        let restarted = s.settler();
        let step = restarted.step(&proven).await.unwrap();
        assert_eq!(step, Step::InFlight { transactions: 1 });
        s.anvil_rpc("evm_setAutomine", serde_json::json!([true]))
            .await;
        s.anvil_rpc("evm_mine", serde_json::json!([])).await;
        assert_eq!(
            restarted.catch_up(&proven).await.unwrap(),
            1,
            "only range 2..4 was left"
        );
        assert_eq!(s.operator.state().await.unwrap(), settled(&header0));
        assert_eq!(s.settled_ranges().await, vec![(0, 0, 2), (0, 2, 4)]);
        assert_eq!(
            s.operator_nonce().await - sent_before,
            4,
            "2 facts + 2 updates, nothing wasted"
        );
        s.chain.seq.shutdown().await;
    });
}
