//! The JSON-RPC server against an in-memory chain: starknet-rs's typed `JsonRpcClient` reads
//! every method (no deserialisation errors, expected values), and raw HTTP covers the error
//! paths, batches, admin authentication and the body limit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use starfarm_sequencer::block::{
    block_hash, tx_commitment, AccountDiff, Block, BlockHeader, StateDiff, BLOCK_FORMAT_VERSION,
};
use starfarm_sequencer::chain::{
    AdmissionError, BlockId, BoxFuture, ChainReader, PreConfirmed, ReadError, TxRecord, TxStatus,
    TxSubmitter,
};
use starfarm_sequencer::execute::{apply, deposit_selector, touched, Receipt};
use starfarm_sequencer::hash::short_string;
use starfarm_sequencer::rpc::{router, RpcConfig};
use starfarm_sequencer::state::{global_root, AccountState};
use starfarm_sequencer::trie::{MemoryNodes, Trie};
use starfarm_sequencer::tx::{account_class_hash, chain_id, Deposit, KeyPair, Transaction};
use starfarm_sequencer::Felt;
use starknet_core::types as sn;
use starknet_core::types::requests::{BlockNumberRequest, GetNonceRequest};
use starknet_providers::jsonrpc::HttpTransport;
use starknet_providers::{
    JsonRpcClient, Provider, ProviderError, ProviderRequestData, ProviderResponseData, Url,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Accounts = BTreeMap<Felt, AccountState>;

const ADMIN_TOKEN: &str = "test-admin-token";
const BODY_LIMIT: usize = 64 * 1024;
const T0: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------
// Fixture: a chain of two closed blocks (every kind of transaction, one reverted), a
// pre-confirmed block and a received transaction. Block 0 is accepted on L1.
// ---------------------------------------------------------------------------------------

struct Fixture {
    alice: KeyPair,
    bob: KeyPair,
    l1_alice: Felt,
    l1_bob: Felt,
    deposit: Transaction,
    deploy_alice: Transaction,
    transfer: Transaction,
    withdraw: Transaction,
    reverted: Transaction,
    deploy_bob: Transaction,
    pre_transfer: Transaction,
    received: Transaction,
}

impl Fixture {
    fn new() -> Self {
        let alice = KeyPair::from_private(Felt::from(0x1234_5678u64));
        let bob = KeyPair::from_private(Felt::from(0x9abc_def0u64));
        let l1_alice = felt("0xc3511006C04EF1d78af4C8E0e74Ec18A6E64Ff9e");
        let l1_bob = felt("0x00000000219ab540356cbb839cbe05303d7705fa");
        let deposit = Transaction::Deposit(Deposit {
            l1_sender: l1_alice,
            recipient: alice.address(),
            amount: 1000,
            l1_nonce: 7,
        });
        Fixture {
            deposit,
            deploy_alice: Transaction::deploy_account(&alice),
            transfer: Transaction::transfer(&alice, 1, bob.address(), 300),
            withdraw: Transaction::withdraw(&alice, 2, l1_bob, 100),
            reverted: Transaction::transfer(&alice, 3, bob.address(), 1_000_000),
            deploy_bob: Transaction::deploy_account(&bob),
            pre_transfer: Transaction::transfer(&bob, 1, alice.address(), 50),
            received: Transaction::transfer(&bob, 2, alice.address(), 1),
            alice,
            bob,
            l1_alice,
            l1_bob,
        }
    }

    fn blocks(&self) -> [Vec<Transaction>; 2] {
        [
            vec![self.deposit.clone(), self.deploy_alice.clone()],
            vec![
                self.transfer.clone(),
                self.withdraw.clone(),
                self.reverted.clone(),
                self.deploy_bob.clone(),
            ],
        ]
    }
}

fn felt(hex: &str) -> Felt {
    Felt::from_hex(hex).expect("valid hex")
}

/// The in-memory chain behind the fake reader.
#[derive(Default)]
struct Chain {
    blocks: Vec<Block>,
    /// State after each block.
    snapshots: Vec<Accounts>,
    pre: PreConfirmed,
    pre_state: Accounts,
    records: HashMap<Felt, TxRecord>,
    l1_accepted: Option<u64>,
}

/// Executes `txs` over `accounts`: receipts and the diff of the touched accounts.
fn execute(accounts: &mut Accounts, txs: &[Transaction]) -> (Vec<Receipt>, Vec<AccountDiff>) {
    let addresses: BTreeSet<Felt> = txs.iter().flat_map(touched).collect();
    let before: Accounts = addresses
        .iter()
        .map(|a| (*a, accounts.get(a).copied().unwrap_or_default()))
        .collect();
    let receipts = txs
        .iter()
        .map(|tx| apply(accounts, tx).expect("valid transaction"))
        .collect();
    let diffs = addresses
        .into_iter()
        .map(|address| AccountDiff {
            address,
            before: before.get(&address).copied().unwrap_or_default(),
            after: accounts.get(&address).copied().unwrap_or_default(),
        })
        .filter(|d| d.before != d.after)
        .collect();
    (receipts, diffs)
}

impl Chain {
    fn build(fx: &Fixture) -> Self {
        let mut chain = Chain {
            l1_accepted: Some(0),
            ..Chain::default()
        };
        let mut accounts = Accounts::new();
        let mut trie = Trie::empty(MemoryNodes::new());
        for (number, txs) in fx.blocks().into_iter().enumerate() {
            chain.close(&mut accounts, &mut trie, number as u64, txs);
        }
        let (receipts, _) = execute(&mut accounts, std::slice::from_ref(&fx.pre_transfer));
        chain.pre = PreConfirmed {
            number: 2,
            parent_hash: chain.blocks[1].header.block_hash,
            timestamp: T0 + 20,
            transactions: vec![fx.pre_transfer.clone()],
            receipts: receipts.clone(),
        };
        chain.pre_state = accounts;
        chain.record(
            &fx.pre_transfer,
            TxStatus::PreConfirmed,
            receipts.first().cloned(),
            None,
        );
        chain.record(&fx.received, TxStatus::Received, None, None);
        chain
    }

    fn close(
        &mut self,
        accounts: &mut Accounts,
        trie: &mut Trie<MemoryNodes>,
        number: u64,
        txs: Vec<Transaction>,
    ) {
        let (receipts, diffs) = execute(accounts, &txs);
        let leaves: Vec<(Felt, Felt)> = diffs.iter().map(|d| (d.address, d.after.leaf())).collect();
        let contracts_root = trie.update(&leaves).expect("trie update");
        let state_root = global_root(contracts_root);
        let parent_hash = self
            .blocks
            .last()
            .map_or(Felt::ZERO, |b| b.header.block_hash);
        let commitment = tx_commitment(Felt::ZERO, receipts.iter().map(|r| r.transaction_hash));
        let timestamp = T0 + 10 * number;
        let tx_count = txs.len() as u64;
        let header = BlockHeader {
            number,
            parent_hash,
            timestamp,
            state_root,
            contracts_root,
            tx_count,
            tx_commitment: commitment,
            block_hash: block_hash(
                number,
                parent_hash,
                timestamp,
                state_root,
                tx_count,
                commitment,
            ),
        };
        let status = if self.l1_accepted.is_some_and(|l1| number <= l1) {
            TxStatus::AcceptedOnL1
        } else {
            TxStatus::AcceptedOnL2
        };
        for (tx, receipt) in txs.iter().zip(&receipts) {
            self.record(
                tx,
                status,
                Some(receipt.clone()),
                Some((number, header.block_hash)),
            );
        }
        self.blocks.push(Block {
            format_version: BLOCK_FORMAT_VERSION,
            header,
            transactions: txs,
            receipts,
            state_diff: StateDiff { accounts: diffs },
        });
        self.snapshots.push(accounts.clone());
    }

    fn record(
        &mut self,
        tx: &Transaction,
        status: TxStatus,
        receipt: Option<Receipt>,
        block: Option<(u64, Felt)>,
    ) {
        let record = TxRecord {
            transaction: tx.clone(),
            status,
            receipt,
            block,
        };
        self.records.insert(tx.hash(), record);
    }

    fn index(&self, id: BlockId) -> Option<usize> {
        match id {
            BlockId::Latest => self.blocks.len().checked_sub(1),
            BlockId::PreConfirmed => None,
            BlockId::Number(n) => usize::try_from(n).ok().filter(|n| *n < self.blocks.len()),
            BlockId::Hash(h) => self.blocks.iter().position(|b| b.header.block_hash == h),
        }
    }
}

struct FakeReader(Chain);

impl ChainReader for FakeReader {
    fn latest_header(&self) -> Result<Option<BlockHeader>, ReadError> {
        Ok(self.0.blocks.last().map(|b| b.header.clone()))
    }

    fn block(&self, id: BlockId) -> Result<Option<Block>, ReadError> {
        Ok(self.0.index(id).and_then(|i| self.0.blocks.get(i)).cloned())
    }

    fn pre_confirmed(&self) -> Result<PreConfirmed, ReadError> {
        Ok(self.0.pre.clone())
    }

    fn transaction(&self, hash: Felt) -> Result<Option<TxRecord>, ReadError> {
        Ok(self.0.records.get(&hash).cloned())
    }

    fn account(&self, address: Felt, id: BlockId) -> Result<Option<AccountState>, ReadError> {
        let empty = Accounts::new();
        let state = match id {
            BlockId::PreConfirmed => Some(&self.0.pre_state),
            BlockId::Latest if self.0.blocks.is_empty() => Some(&empty),
            _ => self.0.index(id).and_then(|i| self.0.snapshots.get(i)),
        };
        Ok(state.map(|s| s.get(&address).copied().unwrap_or_default()))
    }

    fn l1_accepted_number(&self) -> Result<Option<u64>, ReadError> {
        Ok(self.0.l1_accepted)
    }
}

/// Admits anything well formed once; refuses deposits outside `submit_deposit`, transfers
/// of more than 10^9 (balance) and nonce 99 (too old).
#[derive(Default)]
struct FakeSubmitter {
    known: Mutex<HashSet<Felt>>,
    closed: Mutex<Option<BlockHeader>>,
}

impl FakeSubmitter {
    fn admit(&self, tx: Transaction) -> Result<Felt, AdmissionError> {
        tx.check_format()?;
        if let Transaction::Transfer(t) = &tx {
            if t.nonce == 99 {
                return Err(AdmissionError::NonceTooOld {
                    expected: 2,
                    got: 99,
                });
            }
            if t.amount > 1_000_000_000 {
                return Err(AdmissionError::Balance {
                    balance: 250,
                    amount: t.amount,
                });
            }
        }
        let hash = tx.hash();
        let mut known = self
            .known
            .lock()
            .map_err(|e| AdmissionError::Storage(e.to_string()))?;
        if !known.insert(hash) {
            return Err(AdmissionError::Duplicate(hash));
        }
        Ok(hash)
    }
}

impl TxSubmitter for FakeSubmitter {
    fn submit(&self, tx: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>> {
        Box::pin(async move {
            if matches!(tx, Transaction::Deposit(_)) {
                return Err(AdmissionError::DepositNotAllowed);
            }
            self.admit(tx)
        })
    }

    fn submit_deposit(&self, tx: Transaction) -> BoxFuture<'_, Result<Felt, AdmissionError>> {
        Box::pin(async move {
            if !matches!(tx, Transaction::Deposit(_)) {
                return Err(AdmissionError::DepositNotAllowed);
            }
            self.admit(tx)
        })
    }

    fn close_block(&self) -> BoxFuture<'_, Result<Option<BlockHeader>, AdmissionError>> {
        Box::pin(async move {
            let closed = self
                .closed
                .lock()
                .map_err(|e| AdmissionError::Storage(e.to_string()))?;
            Ok(closed.clone())
        })
    }
}

struct Server {
    addr: SocketAddr,
    fx: Fixture,
    chain: Arc<FakeReader>,
}

impl Server {
    async fn start() -> Self {
        let fx = Fixture::new();
        let chain = Chain::build(&fx);
        let submitter = FakeSubmitter::default();
        *submitter.closed.lock().expect("lock") = chain.blocks.last().map(|b| b.header.clone());
        Self::start_with(fx, chain, submitter).await
    }

    async fn start_with(fx: Fixture, chain: Chain, submitter: FakeSubmitter) -> Self {
        let reader = Arc::new(FakeReader(chain));
        let config = RpcConfig {
            admin_token: Some(ADMIN_TOKEN.to_string()),
            max_body_bytes: BODY_LIMIT,
            ..RpcConfig::default()
        };
        let app = router(reader.clone(), Arc::new(submitter), config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            addr,
            fx,
            chain: reader,
        }
    }

    fn client(&self, path: &str) -> JsonRpcClient<HttpTransport> {
        let url = Url::parse(&format!("http://{}{path}", self.addr)).expect("url");
        JsonRpcClient::new(HttpTransport::new(url))
    }

    fn block(&self, number: usize) -> &Block {
        &self.chain.0.blocks[number]
    }

    fn hashes(&self, number: usize) -> Vec<Felt> {
        self.block(number)
            .transactions
            .iter()
            .map(Transaction::hash)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// (a) The typed starknet-rs client.
// ---------------------------------------------------------------------------------------

fn starknet_error(result: Result<impl std::fmt::Debug, ProviderError>) -> sn::StarknetError {
    match result {
        Err(ProviderError::StarknetError(e)) => e,
        other => panic!("expected a Starknet error, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_chain_info() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    assert_eq!(client.spec_version().await.expect("specVersion"), "0.9.0");
    assert_eq!(client.chain_id().await.expect("chainId"), chain_id());
    assert_eq!(client.block_number().await.expect("blockNumber"), 1);
    let latest = client
        .block_hash_and_number()
        .await
        .expect("blockHashAndNumber");
    assert_eq!(latest.block_number, 1);
    assert_eq!(latest.block_hash, server.block(1).header.block_hash);
    assert_eq!(
        client.syncing().await.expect("syncing"),
        sn::SyncStatusType::NotSyncing
    );
    // The other paths serve the same methods.
    for path in ["/", "/rpc/v0_9"] {
        assert_eq!(
            server
                .client(path)
                .block_number()
                .await
                .expect("blockNumber"),
            1
        );
    }
}

#[tokio::test]
async fn typed_blocks_with_tx_hashes() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let header1 = &server.block(1).header;
    for id in [
        sn::BlockId::Number(1),
        sn::BlockId::Tag(sn::BlockTag::Latest),
        sn::BlockId::Hash(header1.block_hash),
    ] {
        let block = client
            .get_block_with_tx_hashes(id)
            .await
            .expect("getBlockWithTxHashes");
        let sn::MaybePreConfirmedBlockWithTxHashes::Block(block) = block else {
            panic!("expected a closed block for {id:?}");
        };
        assert_eq!(block.status, sn::BlockStatus::AcceptedOnL2);
        assert_eq!(block.block_number, 1);
        assert_eq!(block.block_hash, header1.block_hash);
        assert_eq!(block.parent_hash, server.block(0).header.block_hash);
        assert_eq!(block.new_root, header1.state_root);
        assert_eq!(block.timestamp, T0 + 10);
        assert_eq!(block.transactions, server.hashes(1));
    }
    let l1 = client
        .get_block_with_tx_hashes(sn::BlockId::Tag(sn::BlockTag::L1Accepted))
        .await;
    let Ok(sn::MaybePreConfirmedBlockWithTxHashes::Block(l1)) = l1 else {
        panic!("expected block 0 for l1_accepted: {l1:?}");
    };
    assert_eq!(
        (l1.block_number, l1.status),
        (0, sn::BlockStatus::AcceptedOnL1)
    );
    assert_eq!(l1.transactions, server.hashes(0));

    let pre = client
        .get_block_with_tx_hashes(sn::BlockId::Tag(sn::BlockTag::PreConfirmed))
        .await;
    let Ok(sn::MaybePreConfirmedBlockWithTxHashes::PreConfirmedBlock(pre)) = pre else {
        panic!("expected the pre-confirmed block: {pre:?}");
    };
    assert_eq!(pre.block_number, 2);
    assert_eq!(pre.timestamp, T0 + 20);
    assert_eq!(pre.transactions, vec![server.fx.pre_transfer.hash()]);
}

#[tokio::test]
async fn typed_blocks_with_txs() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let fx = &server.fx;
    let block0 = client
        .get_block_with_txs(sn::BlockId::Number(0))
        .await
        .expect("block 0");
    let sn::MaybePreConfirmedBlockWithTxs::Block(block0) = block0 else {
        panic!("closed block")
    };
    let [deposit, deploy] = block0.transactions.as_slice() else {
        panic!("two transactions")
    };
    check_l1_handler(fx, deposit);
    check_deploy_account(fx, deploy);

    let block1 = client
        .get_block_with_txs(sn::BlockId::Number(1))
        .await
        .expect("block 1");
    let sn::MaybePreConfirmedBlockWithTxs::Block(block1) = block1 else {
        panic!("closed block")
    };
    let [transfer, withdraw, reverted, _] = block1.transactions.as_slice() else {
        panic!("four transactions")
    };
    let calldata = |name: &str, to: Felt, amount: u64| vec![short_string(name), to, amount.into()];
    check_invoke(
        transfer,
        fx.transfer.hash(),
        fx.alice.address(),
        1,
        calldata("transfer", fx.bob.address(), 300),
    );
    check_invoke(
        withdraw,
        fx.withdraw.hash(),
        fx.alice.address(),
        2,
        calldata("withdraw", fx.l1_bob, 100),
    );
    check_invoke(
        reverted,
        fx.reverted.hash(),
        fx.alice.address(),
        3,
        calldata("transfer", fx.bob.address(), 1_000_000),
    );

    let pre = client
        .get_block_with_txs(sn::BlockId::Tag(sn::BlockTag::PreConfirmed))
        .await;
    let Ok(sn::MaybePreConfirmedBlockWithTxs::PreConfirmedBlock(pre)) = pre else {
        panic!("pre-confirmed block: {pre:?}")
    };
    assert_eq!(pre.transactions.len(), 1);
    assert_eq!(
        *pre.transactions[0].transaction_hash(),
        fx.pre_transfer.hash()
    );

    let receipts = client
        .get_block_with_receipts(sn::BlockId::Number(1))
        .await
        .expect("receipts");
    let sn::MaybePreConfirmedBlockWithReceipts::Block(receipts) = receipts else {
        panic!("closed")
    };
    let statuses: Vec<_> = receipts
        .transactions
        .iter()
        .map(|t| t.receipt.execution_result().status())
        .collect();
    use sn::TransactionExecutionStatus::{Reverted, Succeeded};
    assert_eq!(statuses, [Succeeded, Succeeded, Reverted, Succeeded]);

    let count = client
        .get_block_transaction_count(sn::BlockId::Number(1))
        .await
        .expect("count");
    assert_eq!(count, 4);
    let second = client
        .get_transaction_by_block_id_and_index(sn::BlockId::Number(1), 1)
        .await
        .expect("by index");
    assert_eq!(*second.transaction_hash(), fx.withdraw.hash());
    let beyond = client
        .get_transaction_by_block_id_and_index(sn::BlockId::Number(1), 4)
        .await;
    assert_eq!(
        starknet_error(beyond),
        sn::StarknetError::InvalidTransactionIndex
    );
}

fn check_l1_handler(fx: &Fixture, tx: &sn::Transaction) {
    let sn::Transaction::L1Handler(tx) = tx else {
        panic!("L1_HANDLER expected: {tx:?}")
    };
    assert_eq!(tx.transaction_hash, fx.deposit.hash());
    assert_eq!(tx.contract_address, fx.alice.address());
    assert_eq!(tx.entry_point_selector, deposit_selector());
    assert_eq!(tx.calldata, vec![fx.l1_alice, Felt::from(1000u64)]);
    assert_eq!(tx.nonce, 7);
}

fn check_deploy_account(fx: &Fixture, tx: &sn::Transaction) {
    let sn::Transaction::DeployAccount(sn::DeployAccountTransaction::V3(tx)) = tx else {
        panic!("DEPLOY_ACCOUNT v3 expected: {tx:?}")
    };
    let Transaction::DeployAccount(ours) = &fx.deploy_alice else {
        panic!("deploy")
    };
    assert_eq!(tx.transaction_hash, fx.deploy_alice.hash());
    assert_eq!(tx.contract_address_salt, fx.alice.public_key);
    assert_eq!(tx.constructor_calldata, vec![fx.alice.public_key]);
    assert_eq!(tx.class_hash, account_class_hash());
    assert_eq!(tx.signature, vec![ours.signature.r, ours.signature.s]);
    assert_eq!(tx.nonce, Felt::ZERO);
}

fn check_invoke(tx: &sn::Transaction, hash: Felt, sender: Felt, nonce: u64, calldata: Vec<Felt>) {
    let sn::Transaction::Invoke(sn::InvokeTransaction::V3(tx)) = tx else {
        panic!("INVOKE v3 expected: {tx:?}")
    };
    assert_eq!(tx.transaction_hash, hash);
    assert_eq!(tx.sender_address, sender);
    assert_eq!(tx.nonce, Felt::from(nonce));
    assert_eq!(tx.calldata, calldata);
    assert_eq!(tx.signature.len(), 2);
}

#[tokio::test]
async fn typed_state_updates() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let (alice, bob) = (server.fx.alice, server.fx.bob);
    let entry = |key: u64, value: Felt| sn::StorageEntry {
        key: key.into(),
        value,
    };

    let update0 = client
        .get_state_update(sn::BlockId::Number(0))
        .await
        .expect("state update 0");
    let sn::MaybePreConfirmedStateUpdate::Update(update0) = update0 else {
        panic!("closed")
    };
    assert_eq!(update0.block_hash, server.block(0).header.block_hash);
    assert_eq!(update0.old_root, global_root(Felt::ZERO));
    assert_eq!(update0.new_root, server.block(0).header.state_root);
    let diff = &update0.state_diff;
    assert_eq!(diff.storage_diffs.len(), 1);
    assert_eq!(diff.storage_diffs[0].address, alice.address());
    assert_eq!(
        diff.storage_diffs[0].storage_entries,
        vec![entry(0, alice.public_key), entry(1, Felt::from(1000u64))]
    );
    let deployed = sn::DeployedContractItem {
        address: alice.address(),
        class_hash: account_class_hash(),
    };
    assert_eq!(diff.deployed_contracts, vec![deployed]);
    let nonce = sn::NonceUpdate {
        contract_address: alice.address(),
        nonce: Felt::ONE,
    };
    assert_eq!(diff.nonces, vec![nonce]);

    let update1 = client
        .get_state_update(sn::BlockId::Number(1))
        .await
        .expect("state update 1");
    let sn::MaybePreConfirmedStateUpdate::Update(update1) = update1 else {
        panic!("closed")
    };
    assert_eq!(update1.old_root, server.block(0).header.state_root);
    assert_eq!(update1.new_root, server.block(1).header.state_root);
    let diffs: BTreeMap<Felt, Vec<sn::StorageEntry>> = update1
        .state_diff
        .storage_diffs
        .iter()
        .map(|d| (d.address, d.storage_entries.clone()))
        .collect();
    assert_eq!(diffs[&alice.address()], vec![entry(1, Felt::from(600u64))]);
    assert_eq!(
        diffs[&bob.address()],
        vec![entry(0, bob.public_key), entry(1, Felt::from(300u64))]
    );
    let deployed: Vec<Felt> = update1
        .state_diff
        .deployed_contracts
        .iter()
        .map(|d| d.address)
        .collect();
    assert_eq!(deployed, vec![bob.address()]);
    let nonces: BTreeMap<Felt, Felt> = update1
        .state_diff
        .nonces
        .iter()
        .map(|n| (n.contract_address, n.nonce))
        .collect();
    assert_eq!(nonces[&alice.address()], Felt::from(4u64));
    assert_eq!(nonces[&bob.address()], Felt::ONE);

    let pre = client
        .get_state_update(sn::BlockId::Tag(sn::BlockTag::PreConfirmed))
        .await;
    let Ok(sn::MaybePreConfirmedStateUpdate::PreConfirmedUpdate(pre)) = pre else {
        panic!("pre-confirmed update: {pre:?}")
    };
    assert_eq!(pre.old_root, server.block(1).header.state_root);
    let balances: BTreeMap<Felt, Vec<sn::StorageEntry>> = pre
        .state_diff
        .storage_diffs
        .iter()
        .map(|d| (d.address, d.storage_entries.clone()))
        .collect();
    assert_eq!(
        balances[&alice.address()],
        vec![entry(1, Felt::from(650u64))]
    );
    assert_eq!(balances[&bob.address()], vec![entry(1, Felt::from(250u64))]);
}

#[tokio::test]
async fn typed_transaction_statuses() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let fx = &server.fx;
    use sn::ExecutionResult::Succeeded;
    use sn::TransactionStatus as S;
    let status = |tx: &Transaction| client.get_transaction_status(tx.hash());
    assert_eq!(
        status(&fx.deposit).await.expect("deposit"),
        S::AcceptedOnL1(Succeeded)
    );
    assert_eq!(
        status(&fx.deploy_alice).await.expect("deploy"),
        S::AcceptedOnL1(Succeeded)
    );
    assert_eq!(
        status(&fx.transfer).await.expect("transfer"),
        S::AcceptedOnL2(Succeeded)
    );
    assert_eq!(
        status(&fx.pre_transfer).await.expect("pre"),
        S::PreConfirmed(Succeeded)
    );
    assert_eq!(status(&fx.received).await.expect("received"), S::Received);
    let S::AcceptedOnL2(sn::ExecutionResult::Reverted { reason }) =
        status(&fx.reverted).await.expect("reverted")
    else {
        panic!("reverted transaction")
    };
    assert!(reason.contains("insufficient balance"), "{reason}");

    let by_hash = client
        .get_transaction_by_hash(fx.withdraw.hash())
        .await
        .expect("byHash");
    check_invoke(
        &by_hash,
        fx.withdraw.hash(),
        fx.alice.address(),
        2,
        vec![short_string("withdraw"), fx.l1_bob, Felt::from(100u64)],
    );
    let received = client
        .get_transaction_by_hash(fx.received.hash())
        .await
        .expect("received");
    assert_eq!(*received.transaction_hash(), fx.received.hash());
    let deposit = client
        .get_transaction_by_hash(fx.deposit.hash())
        .await
        .expect("deposit");
    check_l1_handler(fx, &deposit);
}

#[tokio::test]
async fn typed_receipts() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let fx = &server.fx;
    let receipt = |tx: &Transaction| client.get_transaction_receipt(tx.hash());
    let in_block = |n: usize| sn::ReceiptBlock::Block {
        block_hash: server.block(n).header.block_hash,
        block_number: n as u64,
    };

    let withdraw = receipt(&fx.withdraw).await.expect("withdraw receipt");
    assert_eq!(withdraw.block, in_block(1));
    let sn::TransactionReceipt::Invoke(r) = &withdraw.receipt else {
        panic!("invoke receipt")
    };
    assert_eq!(r.transaction_hash, fx.withdraw.hash());
    assert_eq!(r.execution_result, sn::ExecutionResult::Succeeded);
    assert_eq!(
        r.finality_status,
        sn::TransactionFinalityStatus::AcceptedOnL2
    );
    let message = sn::MsgToL1 {
        from_address: fx.alice.address(),
        to_address: fx.l1_bob,
        payload: vec![Felt::from(100u64)],
    };
    assert_eq!(r.messages_sent, vec![message]);
    assert_eq!(r.actual_fee.amount, Felt::ZERO);
    assert_eq!(r.actual_fee.unit, sn::PriceUnit::Fri);

    let reverted = receipt(&fx.reverted).await.expect("reverted receipt");
    let sn::ExecutionResult::Reverted { reason } = reverted.receipt.execution_result() else {
        panic!("reverted")
    };
    assert!(reason.contains("insufficient balance"), "{reason}");

    let deposit = receipt(&fx.deposit).await.expect("deposit receipt");
    assert_eq!(deposit.block, in_block(0));
    let sn::TransactionReceipt::L1Handler(r) = &deposit.receipt else {
        panic!("L1 handler")
    };
    assert_eq!(
        r.finality_status,
        sn::TransactionFinalityStatus::AcceptedOnL1
    );
    let expected = sn::MsgToL2 {
        from_address: sn::EthAddress::from_felt(&fx.l1_alice).expect("L1 address"),
        to_address: fx.alice.address(),
        selector: deposit_selector(),
        payload: vec![Felt::from(1000u64)],
        nonce: 7,
    };
    assert_eq!(r.message_hash, expected.hash());

    let deploy = receipt(&fx.deploy_bob).await.expect("deploy receipt");
    let sn::TransactionReceipt::DeployAccount(r) = &deploy.receipt else {
        panic!("deploy")
    };
    assert_eq!(r.contract_address, fx.bob.address());

    let pre = receipt(&fx.pre_transfer)
        .await
        .expect("pre-confirmed receipt");
    assert_eq!(
        pre.block,
        sn::ReceiptBlock::PreConfirmed { block_number: 2 }
    );
    assert_eq!(
        *pre.receipt.finality_status(),
        sn::TransactionFinalityStatus::PreConfirmed
    );

    let received = receipt(&fx.received).await;
    assert_eq!(
        starknet_error(received),
        sn::StarknetError::TransactionHashNotFound
    );
}

#[tokio::test]
async fn typed_accounts() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let (alice, bob) = (server.fx.alice, server.fx.bob);
    let latest = sn::BlockId::Tag(sn::BlockTag::Latest);
    let pre = sn::BlockId::Tag(sn::BlockTag::PreConfirmed);
    let block0 = sn::BlockId::Number(0);

    assert_eq!(
        client
            .get_nonce(latest, alice.address())
            .await
            .expect("nonce"),
        Felt::from(4u64)
    );
    assert_eq!(
        client
            .get_nonce(block0, alice.address())
            .await
            .expect("nonce"),
        Felt::ONE
    );
    assert_eq!(
        client.get_nonce(pre, bob.address()).await.expect("nonce"),
        Felt::TWO
    );
    let l1 = sn::BlockId::Tag(sn::BlockTag::L1Accepted);
    assert_eq!(
        client.get_nonce(l1, alice.address()).await.expect("nonce"),
        Felt::ONE
    );

    let storage = |address: Felt, key: u64, id| client.get_storage_at(address, Felt::from(key), id);
    assert_eq!(
        storage(alice.address(), 1, latest).await.expect("balance"),
        Felt::from(600u64)
    );
    assert_eq!(
        storage(alice.address(), 0, latest).await.expect("key"),
        alice.public_key
    );
    assert_eq!(
        storage(bob.address(), 1, pre).await.expect("balance"),
        Felt::from(250u64)
    );
    assert_eq!(
        storage(alice.address(), 5, latest)
            .await
            .expect("other slot"),
        Felt::ZERO
    );

    let class = client
        .get_class_hash_at(latest, alice.address())
        .await
        .expect("class hash");
    assert_eq!(class, account_class_hash());
    let missing = client.get_class_hash_at(block0, bob.address()).await;
    assert_eq!(starknet_error(missing), sn::StarknetError::ContractNotFound);
    let missing = client.get_nonce(block0, bob.address()).await;
    assert_eq!(starknet_error(missing), sn::StarknetError::ContractNotFound);
}

#[tokio::test]
async fn typed_errors() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let unknown = client
        .get_block_with_tx_hashes(sn::BlockId::Number(99))
        .await;
    assert_eq!(starknet_error(unknown), sn::StarknetError::BlockNotFound);
    let unknown = client
        .get_state_update(sn::BlockId::Hash(Felt::from(12345u64)))
        .await;
    assert_eq!(starknet_error(unknown), sn::StarknetError::BlockNotFound);
    let unknown = client
        .get_nonce(sn::BlockId::Number(7), server.fx.alice.address())
        .await;
    assert_eq!(starknet_error(unknown), sn::StarknetError::BlockNotFound);
    let unknown = client.get_transaction_receipt(Felt::from(42u64)).await;
    assert_eq!(
        starknet_error(unknown),
        sn::StarknetError::TransactionHashNotFound
    );
    let unknown = client.get_transaction_status(Felt::from(42u64)).await;
    assert_eq!(
        starknet_error(unknown),
        sn::StarknetError::TransactionHashNotFound
    );

    // An empty chain: no blocks yet.
    let empty = Chain {
        pre: PreConfirmed {
            timestamp: T0,
            ..PreConfirmed::default()
        },
        ..Chain::default()
    };
    let server = Server::start_with(Fixture::new(), empty, FakeSubmitter::default()).await;
    let client = server.client("/");
    assert_eq!(
        starknet_error(client.block_number().await),
        sn::StarknetError::NoBlocks
    );
    assert_eq!(
        starknet_error(client.block_hash_and_number().await),
        sn::StarknetError::NoBlocks
    );
    let latest = client
        .get_block_with_tx_hashes(sn::BlockId::Tag(sn::BlockTag::Latest))
        .await;
    assert_eq!(starknet_error(latest), sn::StarknetError::BlockNotFound);
    let l1 = client
        .get_block_with_txs(sn::BlockId::Tag(sn::BlockTag::L1Accepted))
        .await;
    assert_eq!(starknet_error(l1), sn::StarknetError::BlockNotFound);
    let pre = client
        .get_state_update(sn::BlockId::Tag(sn::BlockTag::PreConfirmed))
        .await;
    let Ok(sn::MaybePreConfirmedStateUpdate::PreConfirmedUpdate(pre)) = pre else {
        panic!("pre-confirmed update: {pre:?}")
    };
    assert_eq!(pre.old_root, global_root(Felt::ZERO));
}

#[tokio::test]
async fn typed_batch() {
    let server = Server::start().await;
    let client = server.client("/rpc");
    let alice = server.fx.alice.address();
    let requests = [
        ProviderRequestData::BlockNumber(BlockNumberRequest),
        ProviderRequestData::GetNonce(GetNonceRequest {
            block_id: sn::BlockId::Tag(sn::BlockTag::Latest),
            contract_address: alice,
        }),
    ];
    let responses = client.batch_requests(requests).await.expect("batch");
    match responses.as_slice() {
        [ProviderResponseData::BlockNumber(1), ProviderResponseData::GetNonce(nonce)] => {
            assert_eq!(*nonce, Felt::from(4u64));
        }
        other => panic!("unexpected batch answer {other:?}"),
    }
}

#[test]
fn message_hash_matches_starknet_core() {
    let fx = Fixture::new();
    for payload_len in [0usize, 1, 3, 20] {
        let payload: Vec<Felt> = (0..payload_len)
            .map(|i| Felt::from(i as u64 * 7919))
            .collect();
        let ours = starfarm_sequencer::execute::MessageToL2 {
            from_address: fx.l1_alice,
            to_address: fx.alice.address(),
            nonce: 775_628,
            selector: deposit_selector(),
            payload: payload.clone(),
        };
        let theirs = sn::MsgToL2 {
            from_address: sn::EthAddress::from_felt(&fx.l1_alice).expect("L1 address"),
            to_address: fx.alice.address(),
            selector: deposit_selector(),
            payload,
            nonce: 775_628,
        };
        assert_eq!(ours.hash(), *theirs.hash().as_bytes());
    }
}

// ---------------------------------------------------------------------------------------
// (b) Raw HTTP: error paths, batches, admin methods, body limit.
// ---------------------------------------------------------------------------------------

/// One HTTP/1.1 POST to `/rpc` over a fresh connection: status and body.
async fn post(addr: SocketAddr, body: &[u8], headers: &[(&str, String)]) -> (u16, String) {
    post_to(addr, "/rpc", body, headers).await
}

/// [`post`] to `path`.
async fn post_to(
    addr: SocketAddr,
    path: &str,
    body: &[u8],
    headers: &[(&str, String)],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nConnection: close\r\n"
    );
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read response");
    let text = String::from_utf8(response).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_string())
}

async fn rpc(server: &Server, request: &Value) -> Value {
    rpc_with(server, request, &[]).await
}

async fn rpc_with(server: &Server, request: &Value, headers: &[(&str, String)]) -> Value {
    let (status, body) = post(server.addr, request.to_string().as_bytes(), headers).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON answer")
}

fn call(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
}

/// The error of an answer: code and the reason (`data`).
fn error_of(answer: &Value) -> (i64, String) {
    let error = &answer["error"];
    let code = error["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("error expected: {answer}"));
    let reason = error["data"].as_str().unwrap_or_default().to_string();
    assert!(!reason.is_empty(), "error without a reason: {answer}");
    (code, reason)
}

fn bearer(token: &str) -> [(&'static str, String); 1] {
    [("Authorization", format!("Bearer {token}"))]
}

#[tokio::test]
async fn raw_parse_and_request_errors() {
    let server = Server::start().await;
    let (status, body) = post(
        server.addr,
        b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\":",
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(error_of(&answer).0, -32700);
    assert_eq!(answer["id"], Value::Null);

    for bad in [
        json!(42),
        json!({ "jsonrpc": "1.0", "id": 1, "method": "x" }),
        json!({ "jsonrpc": "2.0", "id": 3, "method": 5 }),
        json!({ "jsonrpc": "2.0", "id": [1], "method": "starknet_chainId" }),
    ] {
        let answer = rpc(&server, &bad).await;
        assert_eq!(error_of(&answer).0, -32600, "{bad}");
    }
    let answer = rpc(&server, &json!({ "jsonrpc": "2.0", "id": 3, "method": 5 })).await;
    assert_eq!(answer["id"], 3);

    let answer = rpc(&server, &call("starknet_noSuchMethod", json!([]))).await;
    let (code, reason) = error_of(&answer);
    assert_eq!(code, -32601);
    assert!(reason.contains("starknet_noSuchMethod"), "{reason}");

    let answer = rpc(
        &server,
        &json!({ "jsonrpc": "2.0", "id": "abc", "method": "starknet_chainId" }),
    )
    .await;
    assert_eq!(answer["id"], "abc");
    assert_eq!(answer["result"], json!(format!("{:#x}", chain_id())));
}

#[tokio::test]
async fn raw_invalid_params_name_the_param() {
    let server = Server::start().await;
    let cases = [
        (
            call("starknet_getBlockWithTxHashes", json!(["newest"])),
            "block_id",
        ),
        (call("starknet_getBlockWithTxHashes", json!([])), "block_id"),
        (
            call(
                "starknet_getBlockWithTxHashes",
                json!({ "block_id": { "block_number": -1 } }),
            ),
            "block_number",
        ),
        (
            call(
                "starknet_getNonce",
                json!({ "block_id": "latest", "contract_address": "0xzz" }),
            ),
            "contract_address",
        ),
        (
            call(
                "starknet_getNonce",
                json!({ "block_id": "latest", "address": "0x1" }),
            ),
            "address",
        ),
        (
            call(
                "starknet_getStorageAt",
                json!(["0x1", format!("0x{}", "f".repeat(64)), "latest"]),
            ),
            "key",
        ),
        (
            call("starknet_getTransactionStatus", json!([true])),
            "transaction_hash",
        ),
        (call("starknet_blockNumber", json!([1])), "at most 0"),
        (
            call("starknet_chainId", json!("latest")),
            "array or an object",
        ),
        (
            call(
                "starfarm_addTransaction",
                json!({ "transaction": { "type": "MINT" } }),
            ),
            "transaction",
        ),
    ];
    for (request, needle) in cases {
        let answer = rpc(&server, &request).await;
        let (code, reason) = error_of(&answer);
        assert_eq!(code, -32602, "{request}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle) && reason.contains(needle),
            "{request}: {answer}"
        );
    }
}

#[tokio::test]
async fn raw_starknet_errors() {
    let server = Server::start().await;
    let answer = rpc(
        &server,
        &call("starknet_getBlockWithTxs", json!([{ "block_number": 50 }])),
    )
    .await;
    let (code, reason) = error_of(&answer);
    assert_eq!(
        (code, answer["error"]["message"].as_str()),
        (24, Some("Block not found"))
    );
    assert!(reason.contains("50"), "{reason}");

    let answer = rpc(
        &server,
        &call(
            "starknet_getTransactionByHash",
            json!({ "transaction_hash": "0x1234" }),
        ),
    )
    .await;
    let (code, reason) = error_of(&answer);
    assert_eq!(
        (code, answer["error"]["message"].as_str()),
        (29, Some("Transaction hash not found"))
    );
    assert!(reason.contains("0x1234"), "{reason}");

    let answer = rpc(
        &server,
        &call("starknet_getClassHashAt", json!(["latest", "0x777"])),
    )
    .await;
    assert_eq!(error_of(&answer).0, 20);

    let alice = server.fx.alice.address();
    let answer = rpc(
        &server,
        &call("starfarm_getAccount", json!([format!("{alice:#x}")])),
    )
    .await;
    assert_eq!(answer["result"]["balance"], "0x258");
    assert_eq!(answer["result"]["nonce"], "0x4");
    let answer = rpc(
        &server,
        &call(
            "starfarm_getAccount",
            json!({ "address": "0x5", "block_id": { "block_number": 0 } }),
        ),
    )
    .await;
    assert_eq!(answer["result"]["balance"], "0x0");
}

#[tokio::test]
async fn raw_add_transaction() {
    let server = Server::start().await;
    let fx = &server.fx;
    let tx = Transaction::transfer(&fx.bob, 2, fx.alice.address(), 5);
    let request = call("starfarm_addTransaction", json!({ "transaction": tx }));
    let answer = rpc(&server, &request).await;
    assert_eq!(
        answer["result"]["transaction_hash"],
        json!(format!("{:#x}", tx.hash()))
    );

    let (code, reason) = error_of(&rpc(&server, &request).await);
    assert_eq!(code, 59);
    assert!(reason.contains("already known"), "{reason}");

    let old = Transaction::transfer(&fx.bob, 99, fx.alice.address(), 5);
    let (code, reason) =
        error_of(&rpc(&server, &call("starfarm_addTransaction", json!([old]))).await);
    assert_eq!(code, 52);
    assert!(reason.contains("nonce"), "{reason}");

    let rich = Transaction::transfer(&fx.bob, 3, fx.alice.address(), 5_000_000_000);
    let (code, _) = error_of(&rpc(&server, &call("starfarm_addTransaction", json!([rich]))).await);
    assert_eq!(code, 54);

    let zero = Transaction::transfer(&fx.bob, 4, fx.alice.address(), 0);
    let (code, reason) =
        error_of(&rpc(&server, &call("starfarm_addTransaction", json!([zero]))).await);
    assert_eq!(code, 55);
    assert!(reason.contains("amount"), "{reason}");

    let deposit = call("starfarm_addTransaction", json!([fx.deposit]));
    let (code, reason) = error_of(&rpc(&server, &deposit).await);
    assert_eq!(code, 55);
    assert!(reason.contains("L1"), "{reason}");
}

#[tokio::test]
async fn raw_admin_methods_need_the_token() {
    let server = Server::start().await;
    let deposit = Deposit {
        l1_sender: server.fx.l1_bob,
        recipient: server.fx.bob.address(),
        amount: 9,
        l1_nonce: 8,
    };
    let request = call("starfarm_adminDeposit", json!({ "deposit": deposit }));
    for headers in [
        vec![],
        bearer("wrong").to_vec(),
        vec![("Authorization", ADMIN_TOKEN.to_string())],
    ] {
        let (code, reason) = error_of(&rpc_with(&server, &request, &headers).await);
        assert_eq!(code, -32001, "{headers:?}");
        assert!(reason.contains("starfarm_adminDeposit"), "{reason}");
    }
    let answer = rpc_with(&server, &request, &bearer(ADMIN_TOKEN)).await;
    let hash = Transaction::Deposit(deposit).hash();
    assert_eq!(
        answer["result"]["transaction_hash"],
        json!(format!("{hash:#x}"))
    );

    let close = call("starfarm_closeBlock", json!([]));
    assert_eq!(error_of(&rpc(&server, &close).await).0, -32001);
    let answer = rpc_with(&server, &close, &bearer(ADMIN_TOKEN)).await;
    assert_eq!(
        answer["result"]["block_hash"],
        json!(format!("{:#x}", server.block(1).header.block_hash))
    );
}

#[tokio::test]
async fn raw_body_limit() {
    let server = Server::start().await;
    let padding = "x".repeat(BODY_LIMIT + 10);
    let body =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "starknet_chainId", "padding": padding });
    let (status, text) = post(server.addr, body.to_string().as_bytes(), &[]).await;
    assert_eq!(status, 413);
    let answer: Value = serde_json::from_str(&text).expect("JSON error body");
    let (code, reason) = error_of(&answer);
    assert_eq!(code, -32600);
    assert!(reason.contains(&BODY_LIMIT.to_string()), "{reason}");

    // A declared length far above the limit is refused before any body is sent.
    let headers = [("Content-Length", (100 * BODY_LIMIT).to_string())];
    let (status, text) = post(server.addr, b"", &headers).await;
    assert_eq!(status, 413, "{text}");

    // The server still answers afterwards.
    let answer = rpc(&server, &call("starknet_blockNumber", json!([]))).await;
    assert_eq!(answer["result"], 1);
}

#[tokio::test]
async fn raw_batches_and_notifications() {
    let server = Server::start().await;
    let batch = json!([
        call("starknet_blockNumber", json!([])),
        { "jsonrpc": "2.0", "method": "starknet_chainId" },
        { "jsonrpc": "2.0", "id": 2, "method": "starknet_nope" },
        17,
        { "jsonrpc": "2.0", "id": 3, "method": "starknet_getBlockTransactionCount", "params": { "block_id": "pre_confirmed" } },
    ]);
    let answer = rpc(&server, &batch).await;
    let answers = answer.as_array().expect("batch answer");
    assert_eq!(answers.len(), 4, "{answer}");
    assert_eq!(
        (answers[0]["id"].clone(), answers[0]["result"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(error_of(&answers[1]).0, -32601);
    assert_eq!(answers[2]["id"], Value::Null);
    assert_eq!(error_of(&answers[2]).0, -32600);
    assert_eq!(
        (answers[3]["id"].clone(), answers[3]["result"].clone()),
        (json!(3), json!(1))
    );

    let (code, _) = error_of(&rpc(&server, &json!([])).await);
    assert_eq!(code, -32600);

    let notifications = json!([{ "jsonrpc": "2.0", "method": "starknet_chainId" }]);
    let (status, body) = post(server.addr, notifications.to_string().as_bytes(), &[]).await;
    assert_eq!((status, body.as_str()), (204, ""));
}

#[tokio::test]
async fn raw_hostile_inputs_get_answers() {
    let server = Server::start().await;
    let long_hex = format!("0x{}", "f".repeat(70));
    let huge_decimal = "9".repeat(200);
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<Vec<u8>> = vec![
        b"\xff\xfe\x00garbage".to_vec(),
        nested.into_bytes(),
        br#"{"jsonrpc":"2.0","id":1,"method":"starknet_getBlockWithTxs","params":[{"block_number":1e400}]}"#.to_vec(),
        call("starknet_getBlockWithTxs", json!([{ "block_number": 1, "block_hash": "0x1" }])).to_string().into_bytes(),
        call("starknet_getNonce", json!(["latest", long_hex])).to_string().into_bytes(),
        call("starknet_getNonce", json!(["latest", huge_decimal])).to_string().into_bytes(),
        call("starknet_getNonce", json!(["latest", "-5"])).to_string().into_bytes(),
        call("starknet_getTransactionByBlockIdAndIndex", json!(["latest", u64::MAX])).to_string().into_bytes(),
        call(
            "starfarm_addTransaction",
            json!([{ "type": "TRANSFER", "sender": long_hex, "nonce": "0x1", "recipient": "0x2",
                     "amount": huge_decimal, "signature": { "r": "0x1", "s": "0x2" } }]),
        )
        .to_string()
        .into_bytes(),
        call("starfarm_addTransaction", json!([{ "type": "DEPLOY_ACCOUNT", "public_key": "", "signature": {} }]))
            .to_string()
            .into_bytes(),
    ];
    for body in bodies {
        let (status, text) = post(server.addr, &body, &[]).await;
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).expect("JSON answer");
        let (code, _) = error_of(&answer);
        assert!([-32700, -32600, -32602, 27].contains(&code), "{answer}");
    }
}

/// `starknet_getEvents` refuses what it cannot serve with the spec's codes, naming the field.
#[tokio::test]
async fn raw_get_events_errors() {
    let server = Server::start().await;
    let events = |filter: Value| call("starknet_getEvents", json!({ "filter": filter }));
    let cases = [
        (json!({ "chunk_size": 5000 }), 31, "5000"),
        (
            json!({ "chunk_size": 10, "keys": vec![json!([]); 17] }),
            34,
            "17",
        ),
        (
            json!({ "chunk_size": 10, "continuation_token": "not-a-token" }),
            -32602,
            "continuation_token",
        ),
        (
            json!({ "chunk_size": 10, "continuation_token": "999-0", "to_block": "latest" }),
            33,
            "999",
        ),
        (
            json!({ "chunk_size": 10, "from_block": { "block_number": 50 } }),
            24,
            "50",
        ),
        (
            json!({ "chunk_size": 10, "adress": "0x1" }),
            -32602,
            "adress",
        ),
        (
            json!({ "chunk_size": 10, "keys": [["0xzz"]] }),
            -32602,
            "keys[0]",
        ),
        (json!({}), -32602, "chunk_size"),
    ];
    for (filter, code, needle) in cases {
        let answer = rpc(&server, &events(filter.clone())).await;
        let (got, reason) = error_of(&answer);
        assert_eq!(got, code, "{filter}: {answer}");
        assert!(reason.contains(needle), "{filter}: {reason}");
    }
    // A valid filter over the fixture's chain finds events, in block order.
    let answer = rpc(&server, &events(json!({ "chunk_size": 1000 }))).await;
    let found = answer["result"]["events"].as_array().expect("events");
    assert!(!found.is_empty(), "{answer}");
    let numbers: Vec<u64> = found
        .iter()
        .map(|e| e["block_number"].as_u64().expect("block_number"))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{numbers:?}");
}

/// One call on `path`: the answer.
async fn rpc_at(server: &Server, path: &str, request: &Value) -> Value {
    let (status, body) = post_to(server.addr, path, request.to_string().as_bytes(), &[]).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON answer")
}

/// `/`, `/rpc` and `/rpc/v0_9` answer RPC 0.9.0, `/rpc/v0_10` 0.10.0, from the same chain:
/// 0.10 adds the event's indices and the header's counts and commitments, takes lists of
/// addresses and `response_flags`; 0.9 refuses those.
#[tokio::test]
async fn raw_rpc_0_9_and_0_10_side_by_side() {
    let server = Server::start().await;
    for (path, version) in [
        ("/", "0.9.0"),
        ("/rpc", "0.9.0"),
        ("/rpc/v0_9", "0.9.0"),
        ("/rpc/v0_10", "0.10.0"),
    ] {
        let answer = rpc_at(&server, path, &call("starknet_specVersion", json!([]))).await;
        assert_eq!(answer["result"], version, "{path}: {answer}");
    }

    let events = call(
        "starknet_getEvents",
        json!({ "filter": { "chunk_size": 1000 } }),
    );
    let old = rpc_at(&server, "/rpc/v0_9", &events).await;
    let new = rpc_at(&server, "/rpc/v0_10", &events).await;
    let (old, new) = (&old["result"]["events"], &new["result"]["events"]);
    let (old, new) = (
        old.as_array().expect("events"),
        new.as_array().expect("events"),
    );
    assert!(!new.is_empty());
    assert_eq!(old.len(), new.len());
    for (o, n) in old.iter().zip(new) {
        assert!(
            o.get("transaction_index").is_none() && o.get("event_index").is_none(),
            "{o}"
        );
        let mut stripped = n.clone();
        let object = stripped.as_object_mut().expect("object");
        let tx_index = object
            .remove("transaction_index")
            .expect("transaction_index");
        object.remove("event_index").expect("event_index");
        assert_eq!(&stripped, o, "the rest is the same");
        // The index points at the transaction that emitted the event.
        let block = server.block(n["block_number"].as_u64().expect("number") as usize);
        let index = tx_index.as_u64().expect("index") as usize;
        let hash = block.receipts[index].transaction_hash;
        assert_eq!(n["transaction_hash"], format!("{hash:#x}"), "{n}");
    }
    // Events of one transaction are numbered from 0 in order.
    let mut last: Option<(u64, u64, u64)> = None;
    for n in new {
        let at = |f: &str| n[f].as_u64().expect(f);
        let here = (
            at("block_number"),
            at("transaction_index"),
            at("event_index"),
        );
        match last {
            Some((b, t, e)) if (b, t) == (here.0, here.1) => assert_eq!(here.2, e + 1, "{n}"),
            _ => assert_eq!(here.2, 0, "{n}"),
        }
        last = Some(here);
    }

    // Several emitters: 0.10 only.
    let emitter = new[0]["from_address"].clone();
    let filter = json!({ "filter": { "chunk_size": 1000, "address": [emitter, "0x1234"] } });
    let by_list = rpc_at(
        &server,
        "/rpc/v0_10",
        &call("starknet_getEvents", filter.clone()),
    )
    .await;
    let listed = by_list["result"]["events"].as_array().expect("events");
    assert!(!listed.is_empty() && listed.iter().all(|e| e["from_address"] == emitter));
    let refused = rpc_at(&server, "/rpc/v0_9", &call("starknet_getEvents", filter)).await;
    let (code, reason) = error_of(&refused);
    assert_eq!(code, -32602);
    assert!(
        reason.contains("address") && reason.contains("0.10"),
        "{reason}"
    );

    // Header counts and commitments: 0.10 only.
    let block = call(
        "starknet_getBlockWithTxHashes",
        json!([{ "block_number": 1 }]),
    );
    let old = rpc_at(&server, "/rpc/v0_9", &block).await["result"].clone();
    let new = rpc_at(&server, "/rpc/v0_10", &block).await["result"].clone();
    let added = [
        "event_commitment",
        "transaction_commitment",
        "receipt_commitment",
        "state_diff_commitment",
        "event_count",
        "transaction_count",
        "state_diff_length",
    ];
    for field in added {
        assert!(old.get(field).is_none(), "{field} in 0.9: {old}");
        assert!(new.get(field).is_some(), "{field} missing in 0.10: {new}");
    }
    let fixture_block = server.block(1);
    assert_eq!(new["transaction_count"], fixture_block.transactions.len());
    assert_eq!(new["event_count"], events_in_block(&server, 1).await);
    assert!(new["state_diff_length"].as_u64().expect("length") > 0);
    assert_eq!(new["event_commitment"], "0x0");

    // response_flags: 0.10 accepts INCLUDE_PROOF_FACTS (nothing to add here), 0.9 refuses.
    let flagged = call(
        "starknet_getBlockWithTxHashes",
        json!([{ "block_number": 1 }, ["INCLUDE_PROOF_FACTS"]]),
    );
    let answer = rpc_at(&server, "/rpc/v0_10", &flagged).await;
    assert_eq!(answer["result"], new, "{answer}");
    let (code, _) = error_of(&rpc_at(&server, "/rpc/v0_9", &flagged).await);
    assert_eq!(code, -32602);
    let unknown = call(
        "starknet_getBlockWithTxHashes",
        json!([{ "block_number": 1 }, ["SOMETHING"]]),
    );
    let (code, reason) = error_of(&rpc_at(&server, "/rpc/v0_10", &unknown).await);
    assert_eq!(code, -32602);
    assert!(reason.contains("response_flags"), "{reason}");

    // getStateUpdate: 0.10 keeps only the contracts asked for.
    let update = |extra: Value| {
        let mut params = vec![json!({ "block_number": 1 })];
        params.extend(extra.as_array().cloned().unwrap_or_default());
        call("starknet_getStateUpdate", Value::Array(params))
    };
    let full = rpc_at(&server, "/rpc/v0_10", &update(json!([]))).await["result"].clone();
    let nonces = full["state_diff"]["nonces"]
        .as_array()
        .expect("nonces")
        .clone();
    assert!(nonces.len() > 1, "{full}");
    let one = nonces[0]["contract_address"].clone();
    let only = rpc_at(&server, "/rpc/v0_10", &update(json!([[one.clone()]]))).await;
    let kept = only["result"]["state_diff"]["nonces"]
        .as_array()
        .expect("nonces")
        .clone();
    assert_eq!(kept, vec![nonces[0].clone()], "{only}");
    let (code, _) = error_of(&rpc_at(&server, "/rpc/v0_9", &update(json!([[one]]))).await);
    assert_eq!(code, -32602);

    // getStorageAt's INCLUDE_LAST_UPDATE_BLOCK is not indexed here: refused, saying so.
    let flagged = call(
        "starknet_getStorageAt",
        json!(["0x1", "0x1", "latest", ["INCLUDE_LAST_UPDATE_BLOCK"]]),
    );
    let (code, reason) = error_of(&rpc_at(&server, "/rpc/v0_10", &flagged).await);
    assert_eq!(code, -32602);
    assert!(reason.contains("INCLUDE_LAST_UPDATE_BLOCK"), "{reason}");
}

/// How many events block `number` has, by the 0.10 path.
async fn events_in_block(server: &Server, number: u64) -> usize {
    let filter = json!({ "filter": {
        "chunk_size": 1000,
        "from_block": { "block_number": number },
        "to_block": { "block_number": number },
    }});
    let answer = rpc_at(server, "/rpc/v0_10", &call("starknet_getEvents", filter)).await;
    answer["result"]["events"].as_array().expect("events").len()
}
