//! `starfarm load`: a load generator for a chain that settles on L1 (the devnet). It makes
//! accounts, funds them with bridge deposits on L1, deploys them, sends signed transfers at
//! a target rate and withdrawals to its L1 wallet, then waits until every transaction is
//! ACCEPTED_ON_L1, withdraws on L1, checks every balance, and reports throughput and the
//! time to L2, to proof and to L1 as percentiles.
//!
//! Calls that fail because a service is unreachable (a restart) are retried until
//! `--timeout-secs`; a transaction sent again after a restart is recognised (duplicate).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use serde_json::{json, Value};
use starfarm_l1::fact::address_to_felt;
use starfarm_l1::{L1Client, U256};
use starfarm_sequencer::client::{Client, ClientError};
use starfarm_sequencer::rpc::codes;
use starfarm_sequencer::tx::{Deposit, KeyPair, Transaction};
use starfarm_sequencer::Felt;

use crate::tx_cli::random_keys;

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The sequencer's JSON-RPC URL.
    #[arg(long, env = "STARFARM_RPC", default_value = "http://127.0.0.1:9545")]
    rpc: String,
    /// Ethereum JSON-RPC endpoint of the chain's L1 deployment.
    #[arg(long, env = "STARFARM_L1_RPC", default_value = "http://127.0.0.1:8545")]
    l1_rpc: String,
    /// The L1 wallet (hex private key) that deposits and receives the withdrawals.
    #[arg(long, env = "STARFARM_L1_KEY", hide_env_values = true)]
    l1_key: String,
    /// The deployment file (`starfarm l1 deploy` or the devnet wrote it).
    #[arg(long, default_value = "data/l1-deployment.json")]
    deployment: PathBuf,
    /// Accounts to create (each funded by one L1 deposit).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    accounts: u32,
    /// Transfers to send.
    #[arg(long, default_value_t = 200)]
    transfers: u64,
    /// Withdrawals to the L1 wallet.
    #[arg(long, default_value_t = 1)]
    withdrawals: u64,
    /// Target rate of transfers and withdrawals, per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// The scheduler's URL, to time proofs (the time to proof is omitted without it).
    #[arg(long)]
    scheduler: Option<String>,
    /// An API key of that scheduler.
    #[arg(long, env = "STARFARM_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Give up (exit status 1) when not everything is ACCEPTED_ON_L1 after this long.
    #[arg(long, default_value_t = 900)]
    timeout_secs: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Wei each account gets: enough for every transfer and withdrawal it may send.
const FUNDING: u128 = 1_000_000_000;
const WITHDRAWAL: u128 = 1_000;

/// One transaction followed from send to L1.
struct Tracked {
    hash: Felt,
    sent: SystemTime,
    l2: Option<SystemTime>,
    block: Option<u64>,
    l1: Option<SystemTime>,
}

pub fn run(args: LoadArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(load(args))
}

async fn load(args: LoadArgs) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let file = crate::l1_cli::read_deployment(&args.deployment)?;
    let l1 = L1Client::connect(&args.l1_rpc, &args.l1_key)
        .await?
        .attach(file.contracts);
    let l2 = Client::new(args.rpc.clone());
    let mut run = Run {
        l2,
        deadline,
        txs: Vec::new(),
        balances: HashMap::new(),
    };
    let accounts = (0..args.accounts)
        .map(|_| random_keys())
        .collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    let bar = progress_bar(args.json);

    bar.set_message(format!("depositing on L1 for {} accounts", accounts.len()));
    run.fund(&l1, &accounts).await?;
    bar.set_message("deploying the accounts");
    run.deploy(&accounts).await?;
    let withdrawals = run
        .send(&args, &accounts, address_to_felt(l1.address()), &bar)
        .await?;
    run.until_settled(&args, &bar).await?;
    bar.set_message("withdrawing on L1");
    for (from, amount) in &withdrawals {
        l1.consume_withdrawal(*from, *amount)
            .await
            .with_context(|| format!("withdrawing {amount} wei from {from:#x} on L1"))?;
    }
    run.check_balances().await?;
    bar.finish_and_clear();
    let proven = match (&args.scheduler, &args.api_key) {
        (Some(url), Some(key)) => Some(proven_at(url, key).await?),
        _ => None,
    };
    let summary = run.summary(
        &accounts,
        withdrawals.len(),
        proven.as_ref(),
        started.elapsed(),
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

struct Run {
    l2: Client,
    deadline: Instant,
    txs: Vec<Tracked>,
    /// What each account should hold at the end.
    balances: HashMap<Felt, u128>,
}

impl Run {
    /// One bridge deposit per account; waits until L2 has executed them all.
    async fn fund(&mut self, l1: &L1Client, accounts: &[KeyPair]) -> Result<()> {
        let bridge = address_to_felt(l1.deployment()?.bridge);
        for keys in accounts {
            let sent = SystemTime::now();
            let (_, message) = l1.deposit(keys.address(), U256::from(FUNDING)).await?;
            let deposit = Transaction::Deposit(Deposit {
                l1_sender: bridge,
                recipient: keys.address(),
                amount: FUNDING,
                l1_nonce: message.nonce,
            });
            self.track(deposit.hash(), sent);
            self.balances.insert(keys.address(), FUNDING);
        }
        let hashes: Vec<Felt> = self.txs.iter().map(|t| t.hash).collect();
        for hash in hashes {
            self.until_status(hash, "ACCEPTED_ON_L2").await?;
        }
        Ok(())
    }

    async fn deploy(&mut self, accounts: &[KeyPair]) -> Result<()> {
        for keys in accounts {
            self.submit(Transaction::deploy_account(keys)).await?;
        }
        Ok(())
    }

    /// Transfers and withdrawals at the target rate; the withdrawals, to take on L1.
    async fn send(
        &mut self,
        args: &LoadArgs,
        accounts: &[KeyPair],
        l1_recipient: Felt,
        bar: &ProgressBar,
    ) -> Result<Vec<(Felt, u128)>> {
        let total = args.transfers + args.withdrawals;
        let every = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
        let mut nonces = vec![1u64; accounts.len()];
        let mut withdrawals = Vec::new();
        let start = Instant::now();
        for i in 0..total {
            let at = start + every.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
            tokio::time::sleep_until(at.into()).await;
            let from = (i as usize) % accounts.len();
            let keys = &accounts[from];
            let tx = if i < args.transfers {
                let to =
                    accounts[(from + 1 + (i as usize / accounts.len())) % accounts.len()].address();
                let amount = u128::from(i % 10 + 1);
                if to != keys.address() {
                    self.moved(keys.address(), to, amount);
                }
                Transaction::transfer(keys, nonces[from], to, amount)
            } else {
                withdrawals.push((keys.address(), WITHDRAWAL));
                self.moved(keys.address(), Felt::ZERO, WITHDRAWAL);
                Transaction::withdraw(keys, nonces[from], l1_recipient, WITHDRAWAL)
            };
            nonces[from] += 1;
            self.submit(tx).await?;
            bar.set_message(format!("sent {}/{total} transactions", i + 1));
        }
        Ok(withdrawals)
    }

    fn moved(&mut self, from: Felt, to: Felt, amount: u128) {
        if let Some(balance) = self.balances.get_mut(&from) {
            *balance -= amount;
        }
        if let Some(balance) = self.balances.get_mut(&to) {
            *balance += amount;
        }
    }

    /// Admits `tx`, retrying while the sequencer is unreachable (a duplicate means an
    /// earlier try got through).
    async fn submit(&mut self, tx: Transaction) -> Result<()> {
        let sent = SystemTime::now();
        let hash = tx.hash();
        loop {
            match self.l2.add_transaction(&tx).await {
                Ok(_) => break,
                Err(ClientError::Rpc { code, .. }) if code == codes::DUPLICATE_TX => break,
                Err(e @ ClientError::Http { .. }) => self.pause(&e).await?,
                Err(e) => return Err(e).context(format!("sending transaction {hash:#x}")),
            }
        }
        self.track(hash, sent);
        Ok(())
    }

    fn track(&mut self, hash: Felt, sent: SystemTime) {
        self.txs.push(Tracked {
            hash,
            sent,
            l2: None,
            block: None,
            l1: None,
        });
    }

    /// Waits out an unreachable service, until the deadline.
    async fn pause(&self, error: &ClientError) -> Result<()> {
        if Instant::now() > self.deadline {
            bail!("gave up: {error}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(())
    }

    async fn status(&self, hash: Felt) -> Result<Option<String>> {
        loop {
            match self.l2.status(hash).await {
                Ok(status) => return Ok(Some(status.finality_status)),
                Err(ClientError::Rpc { code, .. }) if code == codes::TXN_HASH_NOT_FOUND => {
                    return Ok(None)
                }
                Err(e @ ClientError::Http { .. }) => self.pause(&e).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn until_status(&self, hash: Felt, wanted: &str) -> Result<()> {
        while self.status(hash).await?.as_deref().map(rank) < Some(rank(wanted)) {
            if Instant::now() > self.deadline {
                bail!("transaction {hash:#x} never reached {wanted}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Follows every transaction to ACCEPTED_ON_L1 (one status call per block once its
    /// block is known: a block reaches L1 as a whole).
    async fn until_settled(&mut self, args: &LoadArgs, bar: &ProgressBar) -> Result<()> {
        loop {
            let now = SystemTime::now();
            let mut settled_blocks: HashMap<u64, bool> = HashMap::new();
            for i in 0..self.txs.len() {
                if self.txs[i].l1.is_some() {
                    continue;
                }
                let hash = self.txs[i].hash;
                if let Some(block) = self.txs[i].block {
                    let settled = match settled_blocks.get(&block) {
                        Some(settled) => *settled,
                        None => {
                            let status = self.status(hash).await?;
                            let settled = status.as_deref() == Some("ACCEPTED_ON_L1");
                            settled_blocks.insert(block, settled);
                            settled
                        }
                    };
                    if settled {
                        self.txs[i].l1 = Some(now);
                    }
                    continue;
                }
                let status = self.status(hash).await?;
                if status.as_deref().map(rank) >= Some(rank("ACCEPTED_ON_L2")) {
                    self.txs[i].l2 = Some(now);
                    self.txs[i].block = Some(self.block_of(hash).await?);
                    if status.as_deref() == Some("ACCEPTED_ON_L1") {
                        self.txs[i].l1 = Some(now);
                    }
                }
            }
            let (n, on_l2, on_l1) = (
                self.txs.len(),
                self.txs.iter().filter(|t| t.l2.is_some()).count(),
                self.txs.iter().filter(|t| t.l1.is_some()).count(),
            );
            bar.set_message(format!("{n} transactions: {on_l2} on L2, {on_l1} on L1"));
            if on_l1 == n {
                return Ok(());
            }
            if Instant::now() > self.deadline {
                bail!(
                    "after {} s, {} of {n} transactions are not ACCEPTED_ON_L1 ({} not even on L2)",
                    args.timeout_secs,
                    n - on_l1,
                    n - on_l2
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn block_of(&self, hash: Felt) -> Result<u64> {
        let params = json!({ "transaction_hash": hash });
        loop {
            match self
                .l2
                .call::<Value>("starknet_getTransactionReceipt", params.clone())
                .await
            {
                Ok(receipt) => {
                    return receipt["block_number"]
                        .as_u64()
                        .with_context(|| format!("no block number in the receipt of {hash:#x}"))
                }
                Err(e @ ClientError::Http { .. }) => self.pause(&e).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Every account holds what the transactions sent should have left it.
    async fn check_balances(&self) -> Result<()> {
        for (address, expected) in &self.balances {
            let account = self.l2.account(*address, json!("latest")).await?;
            if account.balance != *expected {
                bail!(
                    "account {address:#x} holds {} wei, not the {expected} its transactions leave",
                    account.balance
                );
            }
        }
        Ok(())
    }

    fn summary(
        &self,
        accounts: &[KeyPair],
        withdrawals: usize,
        proven: Option<&BTreeMap<u64, SystemTime>>,
        took: Duration,
    ) -> Value {
        let since =
            |t: &Tracked, at: Option<SystemTime>| at.and_then(|at| at.duration_since(t.sent).ok());
        let to_l2: Vec<Duration> = self.txs.iter().filter_map(|t| since(t, t.l2)).collect();
        let to_l1: Vec<Duration> = self.txs.iter().filter_map(|t| since(t, t.l1)).collect();
        let to_proof = proven.map(|proven| {
            let at = |t: &Tracked| t.block.and_then(|b| proven.get(&b)).copied();
            let times: Vec<Duration> = self.txs.iter().filter_map(|t| since(t, at(t))).collect();
            percentiles(times)
        });
        let first = self.txs.iter().map(|t| t.sent).min();
        let last_l2 = self.txs.iter().filter_map(|t| t.l2).max();
        let window = first
            .zip(last_l2)
            .and_then(|(a, b)| b.duration_since(a).ok());
        let tps = window.map(|w| self.txs.len() as f64 / w.as_secs_f64().max(1e-3));
        json!({
            "transactions": self.txs.len(),
            "accounts": accounts.iter().map(|k| k.address()).collect::<Vec<_>>(),
            "withdrawals_taken_on_l1": withdrawals,
            "balances_checked": self.balances.len(),
            "throughput_tps_to_l2": tps,
            "to_l2_secs": percentiles(to_l2),
            "to_proof_secs": to_proof,
            "to_l1_secs": percentiles(to_l1),
            "took_secs": took.as_secs_f64(),
        })
    }
}

fn rank(status: &str) -> usize {
    [
        "RECEIVED",
        "PRE_CONFIRMED",
        "ACCEPTED_ON_L2",
        "ACCEPTED_ON_L1",
    ]
    .iter()
    .position(|s| *s == status)
    .unwrap_or(0)
}

fn percentiles(mut times: Vec<Duration>) -> Value {
    if times.is_empty() {
        return Value::Null;
    }
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() - 1) as f64 * q).round() as usize;
        (times[i].as_secs_f64() * 100.0).round() / 100.0
    };
    json!({ "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0) })
}

/// When each block was proven (its aggregate job finished), from the scheduler.
async fn proven_at(url: &str, api_key: &str) -> Result<BTreeMap<u64, SystemTime>> {
    let http = reqwest::Client::new();
    let mut proven = BTreeMap::new();
    let mut before: Option<i64> = None;
    loop {
        let mut request = http
            .get(format!("{url}/v1/jobs"))
            .bearer_auth(api_key)
            .query(&[
                ("kind", "block_aggregate"),
                ("state", "done"),
                ("limit", "1000"),
            ]);
        if let Some(before) = before {
            request = request.query(&[("before", before)]);
        }
        let page: Value = request.send().await?.error_for_status()?.json().await?;
        for job in page["jobs"].as_array().into_iter().flatten() {
            let block = job["result"]["block_number"].as_u64();
            let finished = job["finished_at_ms"].as_u64();
            if let (Some(block), Some(ms)) = (block, finished) {
                proven
                    .entry(block)
                    .or_insert(UNIX_EPOCH + Duration::from_millis(ms));
            }
        }
        match page["next"].as_i64() {
            Some(next) => before = Some(next),
            None => return Ok(proven),
        }
    }
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    crate::progress::spinner()
}

fn print_summary(s: &Value) {
    let line = |name: &str, v: &Value| match v.is_null() {
        true => println!("  {name:<10} n/a (pass --scheduler and --api-key)"),
        false => println!(
            "  {name:<10} p50 {} s, p90 {} s, p99 {} s, max {} s",
            v["p50"], v["p90"], v["p99"], v["max"]
        ),
    };
    println!(
        "{} transactions ACCEPTED_ON_L1 in {:.1} s; {} balances checked; {} withdrawals taken on L1",
        s["transactions"],
        s["took_secs"].as_f64().unwrap_or(0.0),
        s["balances_checked"],
        s["withdrawals_taken_on_l1"]
    );
    if let Some(tps) = s["throughput_tps_to_l2"].as_f64() {
        println!("  throughput {tps:.1} transactions/s to L2");
    }
    line("to L2", &s["to_l2_secs"]);
    line("to proof", &s["to_proof_secs"]);
    line("to L1", &s["to_l1_secs"]);
}
