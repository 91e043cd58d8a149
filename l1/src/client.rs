//! [`L1Client`]: one wallet on one Ethereum node, talking to one deployment of the
//! contracts. Every write waits for its receipt and returns its gas ([`TxOutcome`]); a revert
//! becomes [`L1Error::Reverted`] with the contract's reason; transient RPC errors (rate
//! limits, unavailable, connection trouble) are retried a few times.

use std::future::IntoFuture;
use std::time::Duration;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, TxHash, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::{RpcError, TransportError, TransportErrorKind};
use starknet_types_core::felt::Felt;

use crate::attest;
use crate::contracts::{AttestedFactRegistry, StarfarmBridge, StarfarmCore};
use crate::error::L1Error;
use crate::fact::{address_to_felt, felt_to_u256, output_words, u256_to_felt};

/// Attempts of a call whose failure is transient.
const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(250);
/// Receipt polling (anvil mines at once; a real chain takes a block or more).
const RECEIPT_POLL: Duration = Duration::from_millis(50);
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest wait for one RPC answer: a node that accepted the connection and went silent (a
/// partition, a hung node) fails the call, which is then retried, instead of hanging the
/// settlement line or the watcher forever.
const RPC_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Addresses of one deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deployment {
    pub registry: Address,
    pub core: Address,
    pub bridge: Address,
}

/// The settled state as `StarfarmCore` holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1State {
    /// Global root after the last settled range.
    pub state_root: Felt,
    /// The block the next range belongs to (one past the last fully settled block).
    pub next_block_number: u64,
    /// Hash of the last fully settled block (0 before the first).
    pub block_hash: Felt,
    /// Transactions of block `next_block_number` settled so far (0: none in progress).
    pub tx_index: u64,
    /// tx_commitment after them (0 when none).
    pub tx_commitment: Felt,
}

impl L1State {
    /// The last fully settled block, if any.
    pub fn last_block(&self) -> Option<u64> {
        self.next_block_number.checked_sub(1)
    }
}

/// A mined transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    pub tx_hash: TxHash,
    pub gas_used: u64,
    pub block_number: Option<u64>,
}

/// An L1→L2 message, as `LogMessageToL2` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageToL2 {
    pub from_address: Address,
    pub to_address: Felt,
    pub selector: Felt,
    pub payload: Vec<Felt>,
    pub nonce: u64,
    pub fee: U256,
}

impl MessageToL2 {
    /// `from` as L2 sees it (the deposit transaction's `l1_sender`).
    pub fn from_felt(&self) -> Felt {
        address_to_felt(self.from_address)
    }

    /// Its key in `l1ToL2Messages`.
    pub fn hash(&self) -> B256 {
        crate::fact::l1_to_l2_message_hash(
            self.from_address,
            self.to_address,
            self.nonce,
            self.selector,
            &self.payload,
        )
    }
}

/// A wallet on an Ethereum node, with (once deployed or attached) the contracts' addresses.
#[derive(Clone)]
pub struct L1Client {
    provider: DynProvider,
    address: Address,
    chain_id: u64,
    deployment: Option<Deployment>,
    /// Blocks a receipt must be buried under (1: mined is enough).
    confirmations: u64,
}

impl L1Client {
    /// Connects to `rpc_url` (http or https) with the wallet of `private_key` (hex).
    pub async fn connect(rpc_url: &str, private_key: &str) -> Result<Self, L1Error> {
        // reqwest is built with rustls but no crypto provider: use ring's (the workspace's).
        // An error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url: reqwest::Url = rpc_url.parse().map_err(|e| L1Error::Url {
            url: rpc_url.to_string(),
            message: format!("{e}"),
        })?;
        let http = reqwest::Client::builder()
            .timeout(RPC_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| L1Error::Url {
                url: rpc_url.to_string(),
                message: format!("cannot build its HTTP client: {e}"),
            })?;
        let signer: PrivateKeySigner = private_key
            .trim()
            .parse()
            .map_err(|e| L1Error::Key(format!("{e}")))?;
        let address = signer.address();
        // Nonces come from the node for every transaction: a cached nonce manager keeps the
        // nonce of a call that reverted at estimation, and every later transaction waits
        // behind the gap. So one client sends one transaction at a time.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(EthereumWallet::from(signer))
            .connect_reqwest(http, url)
            .erased();
        let chain_id = retry("eth_chainId", || provider.get_chain_id()).await?;
        Ok(Self {
            provider,
            address,
            chain_id,
            deployment: None,
            confirmations: 1,
        })
    }

    /// Every write waits until its block has `confirmations` blocks on top of it, itself
    /// included (1, the default: mined; 0 counts as 1).
    pub fn with_confirmations(mut self, confirmations: u64) -> Self {
        self.confirmations = confirmations.max(1);
        self
    }

    /// Transactions this wallet sent that are not mined yet (its pending nonce minus its
    /// latest one): a settler restarted after a crash waits for them instead of sending a
    /// range twice.
    pub async fn in_flight(&self) -> Result<u64, L1Error> {
        let p = &self.provider;
        let latest = retry("eth_getTransactionCount", || {
            p.get_transaction_count(self.address).latest()
        })
        .await?;
        let pending = retry("eth_getTransactionCount", || {
            p.get_transaction_count(self.address).pending()
        })
        .await?;
        Ok(pending.saturating_sub(latest))
    }

    /// Uses an existing deployment.
    pub fn attach(mut self, deployment: Deployment) -> Self {
        self.deployment = Some(deployment);
        self
    }

    pub fn address(&self) -> Address {
        self.address
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    pub fn deployment(&self) -> Result<Deployment, L1Error> {
        self.deployment.ok_or(L1Error::NotDeployed)
    }

    /// Deploys registry (owned by this wallet, with `signers` registered), core (accepting
    /// `program_hash`'s output, starting at `initial_state_root`: the global root before block
    /// 0) and bridge, and attaches to them.
    pub async fn deploy(
        &mut self,
        program_hash: Felt,
        initial_state_root: Felt,
        signers: &[Address],
    ) -> Result<Deployment, L1Error> {
        let registry = AttestedFactRegistry::deploy_builder(&self.provider, self.address);
        let registry = deployed("deploy AttestedFactRegistry", self, &registry).await?;
        let deployment = self
            .deploy_with_registry(program_hash, initial_state_root, registry)
            .await?;
        let registry_contract = AttestedFactRegistry::new(registry, self.provider.clone());
        for signer in signers {
            transact("addSigner", self, &registry_contract.addSigner(*signer)).await?;
        }
        Ok(deployment)
    }

    /// Deploys core (accepting `program_hash`'s output from `initial_state_root`) and bridge
    /// over an existing fact registry, e.g. `starfarm-verifier`'s `StwoFactRegistry` (which
    /// registers a fact only by verifying its proof), and attaches to them.
    pub async fn deploy_with_registry(
        &mut self,
        program_hash: Felt,
        initial_state_root: Felt,
        registry: Address,
    ) -> Result<Deployment, L1Error> {
        let p = &self.provider;
        let core = StarfarmCore::deploy_builder(
            p,
            felt_to_u256(&program_hash),
            registry,
            felt_to_u256(&initial_state_root),
        );
        let core = deployed("deploy StarfarmCore", self, &core).await?;
        let bridge = StarfarmBridge::deploy_builder(p, core);
        let bridge = deployed("deploy StarfarmBridge", self, &bridge).await?;
        let deployment = Deployment {
            registry,
            core,
            bridge,
        };
        self.deployment = Some(deployment);
        Ok(deployment)
    }

    /// Registers `fact` at `security_bits` with an attestation signed by `signer` (which must
    /// be a registered prover key). This wallet only pays for the transaction.
    pub async fn register_fact(
        &self,
        signer: &PrivateKeySigner,
        fact: B256,
        security_bits: u32,
    ) -> Result<TxOutcome, L1Error> {
        let registry = self.deployment()?.registry;
        let signature = attest::sign(signer, self.chain_id, registry, fact, security_bits)?;
        self.register_signed_fact(fact, security_bits, signature)
            .await
    }

    /// Settles one range without a proof: registers the fact of `output` (under
    /// `program_hash`) attested by `signer` at `security_bits`, then `updateState`. For tests
    /// and the devnet, where a registered key vouches for the output. Both transactions.
    pub async fn settle_attested(
        &self,
        signer: &PrivateKeySigner,
        program_hash: Felt,
        output: &[Felt],
        security_bits: u32,
    ) -> Result<(TxOutcome, TxOutcome), L1Error> {
        let fact = crate::fact::fact(program_hash, output);
        let registered = self.register_fact(signer, fact, security_bits).await?;
        Ok((registered, self.update_state(output).await?))
    }

    /// Registers `fact` with a ready attestation.
    pub async fn register_signed_fact(
        &self,
        fact: B256,
        security_bits: u32,
        signature: Bytes,
    ) -> Result<TxOutcome, L1Error> {
        let registry =
            AttestedFactRegistry::new(self.deployment()?.registry, self.provider.clone());
        let call = registry.registerFact(fact, security_bits, signature);
        transact("registerFact", self, &call).await
    }

    /// Sets the registry's security floor (owner only). Facts below it are refused, and
    /// raising it invalidates those registered below.
    pub async fn set_min_security_bits(&self, bits: u32) -> Result<TxOutcome, L1Error> {
        let registry =
            AttestedFactRegistry::new(self.deployment()?.registry, self.provider.clone());
        transact(
            "setMinSecurityBits",
            self,
            &registry.setMinSecurityBits(bits),
        )
        .await
    }

    /// The code deployed at `address` (empty: no contract).
    pub async fn code_at(&self, address: Address) -> Result<Bytes, L1Error> {
        retry("eth_getCode", || self.provider.get_code_at(address)).await
    }

    /// The ETH (wei) `address` holds.
    pub async fn balance_of(&self, address: Address) -> Result<U256, L1Error> {
        retry("eth_getBalance", || self.provider.get_balance(address)).await
    }

    /// L1's latest block number.
    pub async fn block_number(&self) -> Result<u64, L1Error> {
        retry("eth_blockNumber", || self.provider.get_block_number()).await
    }

    /// Whether the registry holds `fact` (at or above its floor).
    pub async fn is_fact_valid(&self, fact: B256) -> Result<bool, L1Error> {
        let registry =
            AttestedFactRegistry::new(self.deployment()?.registry, self.provider.clone());
        let call = registry.isValid(fact);
        retry("isValid", || call.call()).await
    }

    /// Settles one range of a block from its block-program output.
    pub async fn update_state(&self, output: &[Felt]) -> Result<TxOutcome, L1Error> {
        let core = StarfarmCore::new(self.deployment()?.core, self.provider.clone());
        let call = core.updateState(output_words(output));
        transact("updateState", self, &call).await
    }

    /// The settled state.
    pub async fn state(&self) -> Result<L1State, L1Error> {
        let core = StarfarmCore::new(self.deployment()?.core, self.provider.clone());
        let (root, next, hash, index, commitment) = (
            core.stateRoot(),
            core.nextBlockNumber(),
            core.stateBlockHash(),
            core.txIndex(),
            core.txCommitment(),
        );
        Ok(L1State {
            state_root: u256_to_felt(retry("stateRoot", || root.call()).await?),
            next_block_number: to_u64(retry("nextBlockNumber", || next.call()).await?)?,
            block_hash: u256_to_felt(retry("stateBlockHash", || hash.call()).await?),
            tx_index: to_u64(retry("txIndex", || index.call()).await?)?,
            tx_commitment: u256_to_felt(retry("txCommitment", || commitment.call()).await?),
        })
    }

    /// Deposits `wei` for `l2_recipient` through the bridge; returns the L1→L2 message the
    /// core emitted (its `from` is the bridge), which the sequencer turns into a DEPOSIT.
    pub async fn deposit(
        &self,
        l2_recipient: Felt,
        wei: U256,
    ) -> Result<(TxOutcome, MessageToL2), L1Error> {
        let deployment = self.deployment()?;
        let bridge = StarfarmBridge::new(deployment.bridge, self.provider.clone());
        let call = bridge.deposit(felt_to_u256(&l2_recipient)).value(wei);
        let (outcome, receipt) = transact_receipt("deposit", self, &call).await?;
        let message = message_to_l2(&receipt, deployment.core)?;
        Ok((outcome, message))
    }

    /// Consumes, as its recipient (this wallet), the L2→L1 message `from_l2 → self` with
    /// `payload` (a withdrawal: `[amount]`).
    pub async fn consume_message_from_l2(
        &self,
        from_l2: Felt,
        payload: &[Felt],
    ) -> Result<TxOutcome, L1Error> {
        let core = StarfarmCore::new(self.deployment()?.core, self.provider.clone());
        let call = core.consumeMessageFromL2(felt_to_u256(&from_l2), output_words(payload));
        transact("consumeMessageFromL2", self, &call).await
    }

    /// Consumes a withdrawal of `amount` by L2 account `l2_sender` to this wallet.
    pub async fn consume_withdrawal(
        &self,
        l2_sender: Felt,
        amount: u128,
    ) -> Result<TxOutcome, L1Error> {
        self.consume_message_from_l2(l2_sender, &[Felt::from(amount)])
            .await
    }

    /// How many `from_l2 → to_l1` messages with `payload` wait to be consumed.
    pub async fn pending_messages_to_l1(
        &self,
        from_l2: Felt,
        to_l1: Address,
        payload: &[Felt],
    ) -> Result<u64, L1Error> {
        let core = StarfarmCore::new(self.deployment()?.core, self.provider.clone());
        let hash = crate::fact::l2_to_l1_message_hash(from_l2, to_l1, payload);
        let call = core.l2ToL1Messages(hash);
        to_u64(retry("l2ToL1Messages", || call.call()).await?)
    }

    /// Whether an L1→L2 message is still waiting to be consumed by a settled block.
    pub async fn is_message_to_l2_pending(&self, message_hash: B256) -> Result<bool, L1Error> {
        let core = StarfarmCore::new(self.deployment()?.core, self.provider.clone());
        let call = core.l1ToL2Messages(message_hash);
        Ok(!retry("l1ToL2Messages", || call.call()).await?.is_zero())
    }
}

fn to_u64(word: U256) -> Result<u64, L1Error> {
    u64::try_from(word).map_err(|_| L1Error::Range(format!("{word} does not fit 64 bits")))
}

/// The `LogMessageToL2` the core emitted in `receipt`.
fn message_to_l2(receipt: &TransactionReceipt, core: Address) -> Result<MessageToL2, L1Error> {
    let event = receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == core)
        .find_map(|log| log.log_decode::<StarfarmCore::LogMessageToL2>().ok())
        .ok_or(L1Error::Receipt {
            call: "deposit",
            what: "a LogMessageToL2 event from the core",
        })?;
    MessageToL2::from_event(event.inner.data)
}

impl MessageToL2 {
    pub(crate) fn from_event(event: StarfarmCore::LogMessageToL2) -> Result<Self, L1Error> {
        Ok(MessageToL2 {
            from_address: event.fromAddress,
            to_address: u256_to_felt(event.toAddress),
            selector: u256_to_felt(event.selector),
            payload: event.payload.into_iter().map(u256_to_felt).collect(),
            nonce: to_u64(event.nonce)?,
            fee: event.fee,
        })
    }
}

/// Sends a contract creation and returns the new contract's address.
async fn deployed<D: CallDecoder + Clone>(
    call_name: &'static str,
    client: &L1Client,
    call: &CallBuilder<&DynProvider, D>,
) -> Result<Address, L1Error> {
    let (_, receipt) = transact_receipt(call_name, client, call).await?;
    receipt.contract_address.ok_or(L1Error::Receipt {
        call: call_name,
        what: "a contract address",
    })
}

pub(crate) async fn transact<D: CallDecoder + Clone>(
    call_name: &'static str,
    client: &L1Client,
    call: &CallBuilder<&DynProvider, D>,
) -> Result<TxOutcome, L1Error> {
    Ok(transact_receipt(call_name, client, call).await?.0)
}

/// Pre-flights `call` with `eth_call` (a revert surfaces with its reason and costs nothing),
/// sends it, then waits for its receipt and the client's confirmations; a failed status is
/// an error. The nonce is fixed before sending, so a send retried after a transient error
/// can never become a second transaction.
async fn transact_receipt<D: CallDecoder + Clone>(
    call_name: &'static str,
    client: &L1Client,
    call: &CallBuilder<&DynProvider, D>,
) -> Result<(TxOutcome, TransactionReceipt), L1Error> {
    retry(call_name, || call.call_raw()).await?;
    let p = &client.provider;
    let nonce = retry("eth_getTransactionCount", || {
        p.get_transaction_count(client.address).pending()
    })
    .await?;
    let call = call.clone().nonce(nonce);
    let pending = retry(call_name, || call.send()).await?;
    let tx_hash = *pending.tx_hash();
    let receipt = wait_receipt(call_name, client, tx_hash).await?;
    if !receipt.status() {
        return Err(L1Error::Failed {
            call: call_name,
            tx: tx_hash.to_string(),
        });
    }
    let outcome = TxOutcome {
        tx_hash,
        gas_used: receipt.gas_used,
        block_number: receipt.block_number,
    };
    tracing::debug!(call = call_name, %tx_hash, gas = receipt.gas_used, "mined");
    Ok((outcome, receipt))
}

/// The receipt of `tx_hash` once its block has the client's confirmations.
async fn wait_receipt(
    call_name: &'static str,
    client: &L1Client,
    tx_hash: TxHash,
) -> Result<TransactionReceipt, L1Error> {
    let provider = &client.provider;
    let deadline = tokio::time::Instant::now() + RECEIPT_TIMEOUT;
    loop {
        let receipt = retry(call_name, || provider.get_transaction_receipt(tx_hash)).await?;
        if let Some(receipt) = receipt {
            let mined = receipt.block_number.unwrap_or(u64::MAX);
            let head = client.block_number().await?;
            if head.saturating_add(1) >= mined.saturating_add(client.confirmations) {
                return Ok(receipt);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(L1Error::Receipt {
                call: call_name,
                what: "enough confirmations before the timeout",
            });
        }
        tokio::time::sleep(RECEIPT_POLL).await;
    }
}

/// Errors the retry loop understands.
pub(crate) trait RpcFailure: std::fmt::Display {
    fn transport(&self) -> Option<&TransportError>;
    fn revert_data(&self) -> Option<Bytes>;
}

impl RpcFailure for alloy::contract::Error {
    fn transport(&self) -> Option<&TransportError> {
        match self {
            Self::TransportError(e) => Some(e),
            _ => None,
        }
    }

    fn revert_data(&self) -> Option<Bytes> {
        self.as_revert_data()
    }
}

impl RpcFailure for TransportError {
    fn transport(&self) -> Option<&TransportError> {
        Some(self)
    }

    fn revert_data(&self) -> Option<Bytes> {
        self.as_error_resp().and_then(|e| e.as_revert_data())
    }
}

/// Rate limits, unavailability and connection trouble (not reverts, not bad requests).
fn is_transient(error: &TransportError) -> bool {
    match error {
        RpcError::Transport(kind) => {
            kind.is_retry_err()
                || matches!(
                    kind,
                    TransportErrorKind::Custom(_) | TransportErrorKind::BackendGone
                )
        }
        RpcError::ErrorResp(payload) => payload.is_retry_err(),
        _ => false,
    }
}

/// Runs `f` up to [`ATTEMPTS`] times while it fails transiently; maps the last error.
pub(crate) async fn retry<T, E, F, Fut>(call_name: &'static str, mut f: F) -> Result<T, L1Error>
where
    E: RpcFailure,
    F: FnMut() -> Fut,
    Fut: IntoFuture<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match f().await {
            Ok(value) => return Ok(value),
            Err(e) if attempt < ATTEMPTS && e.transport().is_some_and(is_transient) => {
                tracing::warn!(call = call_name, attempt, error = %e, "transient L1 RPC error, retrying");
                tokio::time::sleep(BACKOFF * attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(map_error(call_name, &e)),
        }
    }
}

fn map_error(call: &'static str, error: &impl RpcFailure) -> L1Error {
    match error.revert_data() {
        Some(data) => L1Error::Reverted {
            call,
            reason: revert_reason(&data),
        },
        None => L1Error::Rpc {
            call,
            message: error.to_string(),
        },
    }
}

/// `require`'s message (`Error(string)`), else alloy's description (panics, custom errors),
/// else the raw data.
fn revert_reason(data: &[u8]) -> String {
    use alloy::sol_types::{Revert, SolError};
    match Revert::abi_decode(data) {
        Ok(revert) => revert.reason,
        Err(_) => alloy::sol_types::decode_revert_reason(data)
            .unwrap_or_else(|| format!("undecoded revert data {}", Bytes::copy_from_slice(data))),
    }
}
