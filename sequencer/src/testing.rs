//! Deterministic test data for the tests and benchmarks of the workspace: a seeded generator
//! (SplitMix64), so a failing case reproduces from its seed.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use starknet_types_core::felt::Felt;

use crate::batch_ecdsa::{BatchInput, SignedHash};
use crate::block::BlockHeader;
use crate::chain::{AdmissionError, TxSubmitter};
use crate::rpc::RpcConfig;
use crate::service::{Sequencer, SequencerConfig};
use crate::tx::{Deposit, KeyPair, Transaction};

/// A sequencer keeping its state in `dir`, with an hour-long block time (blocks close when the
/// test says), and its endpoint (JSON-RPC over HTTP and WebSocket) on a free loopback port.
pub async fn serve_sequencer(dir: &Path) -> (Arc<Sequencer>, SocketAddr) {
    let mut config = SequencerConfig::new(dir.to_path_buf());
    config.block_time = Duration::from_secs(3600);
    let seq = Sequencer::start(config, None).expect("the sequencer starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let app = crate::endpoint::app(Arc::clone(&seq), RpcConfig::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (seq, addr)
}

/// A two-thread runtime for tests that drive async code from `#[test]` functions.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// Opens `key`'s account on `seq`: an L1 deposit of `amount` (from `l1_sender`, nonce
/// `l1_nonce`) and the account's deployment. Returns both transaction hashes.
pub async fn open_account(
    seq: &dyn TxSubmitter,
    key: &KeyPair,
    amount: u128,
    l1_sender: Felt,
    l1_nonce: u64,
) -> Result<(Felt, Felt), AdmissionError> {
    let deposit = Deposit {
        l1_sender,
        recipient: key.address(),
        amount,
        l1_nonce,
    };
    let deposit = seq.submit_deposit(Transaction::Deposit(deposit)).await?;
    let deploy = seq.submit(Transaction::deploy_account(key)).await?;
    Ok((deposit, deploy))
}

/// Where the endpoint tests start: Alice (key 11) with an account holding 1,000, opened in
/// block 0 (closed, its header returned), and Bob (key 12) without one.
pub async fn alice_and_bob(seq: &dyn TxSubmitter) -> (KeyPair, KeyPair, BlockHeader) {
    let (alice, bob) = (
        KeyPair::from_private(Felt::from(11u32)),
        KeyPair::from_private(Felt::from(12u32)),
    );
    open_account(seq, &alice, 1_000, Felt::from(0xe7u32), 5)
        .await
        .expect("Alice's account opens");
    let block0 = seq
        .close_block()
        .await
        .expect("block 0 closes")
        .expect("block 0 holds Alice's account");
    (alice, bob, block0)
}

/// SplitMix64: dependency-free, seeded randomness (not for keys that protect anything).
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)] // an endless stream: Iterator would add nothing
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    pub fn bytes(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        out
    }

    /// A felt of about 128 bits.
    pub fn felt(&mut self) -> Felt {
        Felt::from(self.next()) + Felt::from(self.next()) * Felt::from(u64::MAX)
    }

    /// Uniform below 2^251: a valid hash, signature part, trie key or private key.
    pub fn felt_below_2_251(&mut self) -> Felt {
        let mut b = self.bytes();
        b[0] &= 0x07;
        Felt::from_bytes_be(&b)
    }

    /// Any 256 bits, reduced into the field.
    pub fn any_felt(&mut self) -> Felt {
        Felt::from_bytes_be(&self.bytes())
    }

    /// A key pair (private keys below 2^128, far below the curve order).
    pub fn keys(&mut self) -> KeyPair {
        let private = Felt::from(self.next()) * Felt::from(u64::MAX) + Felt::from(self.next());
        KeyPair::from_private(private + Felt::ONE)
    }

    /// A fresh key's signature of a random hash below 2^251.
    pub fn signed_hash(&mut self) -> SignedHash {
        let keys = self.keys();
        let hash = self.felt_below_2_251();
        let sig = keys.sign(hash);
        SignedHash {
            hash,
            public_key: keys.public_key,
            r: sig.r,
            s: sig.s,
        }
    }

    /// The address of a fresh key (an account nobody deployed).
    pub fn address(&mut self) -> Felt {
        self.keys().address()
    }

    /// A non-zero 64-bit L1 address.
    pub fn l1_address(&mut self) -> Felt {
        Felt::from(self.next()) + Felt::ONE
    }
}

/// Whether cairo-vm's error `message` says one of the program's checks refused its input: a
/// failed equation, or the hint of the library's `assert_le_felt` refusing to find a witness
/// for s ≤ (n − 1)/2 (its constraints would refuse any other). Anything else (a missing hint,
/// a wrong input length) is a failure for another reason.
pub fn refused_by_a_check(message: &str) -> bool {
    message.contains("An ASSERT_EQ instruction failed")
        || message.contains("assert")
        || message.contains("is not less or equal to")
        // A range-checked value out of range (limbs, carries, digits of the batch's hints).
        || message.contains("Range-check validation failed")
}

/// `batch` with the coefficient at `position` set to 0 by the prover instead of drawn from the
/// transcript: with it a forged signature there drops out of the batch equation, which is why
/// the program draws the coefficients itself (issue 19's "coefficients chosen by the prover").
pub fn with_zero_coefficient_at(batch: &BatchInput, position: usize) -> BatchInput {
    let mut chosen = batch.coefficients().to_vec();
    chosen[position] = Felt::ZERO;
    batch
        .clone()
        .with_coefficients(chosen)
        .expect("one coefficient per signature")
}
