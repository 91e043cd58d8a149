//! `starfarm tx …`: keys, signed transactions and statuses against a running sequencer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use starfarm_sequencer::client::Client;
use starfarm_sequencer::tx::{Deposit, KeyPair, Transaction};
use starfarm_sequencer::Felt;

#[derive(clap::Args)]
pub struct TxArgs {
    /// The sequencer's JSON-RPC URL.
    #[arg(
        long,
        global = true,
        env = "STARFARM_RPC",
        default_value = "http://127.0.0.1:9545"
    )]
    rpc: String,
    #[command(subcommand)]
    command: TxCommand,
}

#[derive(clap::Subcommand)]
enum TxCommand {
    /// Create a STARK key pair and write it (unencrypted) to a key file.
    Keygen {
        /// Where to write the key file (refuses to overwrite).
        #[arg(long, default_value = "account.key.json")]
        out: PathBuf,
    },
    /// Deploy the account of a key file.
    DeployAccount(Signed),
    /// Send native tokens to an L2 address.
    Transfer {
        #[command(flatten)]
        signed: Signed,
        /// Recipient L2 address (0x-hex).
        #[arg(long)]
        to: Felt,
        /// Amount (decimal or 0x-hex).
        #[arg(long)]
        amount: String,
    },
    /// Withdraw native tokens to an L1 address (an L2→L1 message).
    Withdraw {
        #[command(flatten)]
        signed: Signed,
        /// Recipient Ethereum address (0x-hex, 20 bytes).
        #[arg(long)]
        l1_recipient: Felt,
        #[arg(long)]
        amount: String,
    },
    /// Inject a deposit (an L1→L2 message) through the admin method.
    Deposit {
        #[arg(long)]
        to: Felt,
        #[arg(long)]
        amount: String,
        /// The L1 sender (0x-hex Ethereum address).
        #[arg(long, default_value = "0x0")]
        l1_sender: Felt,
        /// The L1 message nonce (must be unique).
        #[arg(long)]
        l1_nonce: u64,
        #[arg(long, env = "STARFARM_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: String,
    },
    /// Show (or wait for) a transaction's status.
    Status {
        hash: Felt,
        /// Wait until this finality status: ACCEPTED_ON_L2, ACCEPTED_ON_L1, ...
        #[arg(long)]
        wait: Option<String>,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    /// Show an account's state (key, balance, nonce).
    Account { address: Felt },
}

#[derive(clap::Args)]
struct Signed {
    /// Key file written by `starfarm tx keygen`.
    #[arg(long, default_value = "account.key.json")]
    key: PathBuf,
    /// Nonce to use (default: the account's next nonce, asked from the sequencer).
    #[arg(long)]
    nonce: Option<u64>,
    /// Wait until the transaction is in a closed block.
    #[arg(long)]
    wait: bool,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    private_key: Felt,
    public_key: Felt,
    address: Felt,
}

pub fn run(args: TxArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(dispatch(args))
}

fn amount(text: &str) -> Result<u128> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.with_context(|| format!("amount {text:?} is not a number below 2^128"))
}

fn load_key(path: &Path) -> Result<KeyPair> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    let file: KeyFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a starfarm key file", path.display()))?;
    let keys = KeyPair::from_private(file.private_key);
    if keys.public_key != file.public_key {
        bail!(
            "{}: the public key does not match the private key",
            path.display()
        );
    }
    Ok(keys)
}

async fn dispatch(args: TxArgs) -> Result<()> {
    let client = Client::new(args.rpc.clone());
    match args.command {
        TxCommand::Keygen { out } => keygen(&out),
        TxCommand::DeployAccount(signed) => {
            let keys = load_key(&signed.key)?;
            send(&client, &Transaction::deploy_account(&keys), signed.wait).await
        }
        TxCommand::Transfer {
            signed,
            to,
            amount: a,
        } => {
            let a = amount(&a)?;
            send_signed(&client, &signed, |k, n| Transaction::transfer(k, n, to, a)).await
        }
        TxCommand::Withdraw {
            signed,
            l1_recipient,
            amount: a,
        } => {
            let a = amount(&a)?;
            send_signed(&client, &signed, |k, n| {
                Transaction::withdraw(k, n, l1_recipient, a)
            })
            .await
        }
        TxCommand::Deposit {
            to,
            amount: a,
            l1_sender,
            l1_nonce,
            admin_token,
        } => {
            let deposit = Deposit {
                l1_sender,
                recipient: to,
                amount: amount(&a)?,
                l1_nonce,
            };
            let hash = client
                .with_admin_token(admin_token)
                .admin_deposit(&deposit)
                .await?;
            println!("{hash:#x}");
            Ok(())
        }
        TxCommand::Status {
            hash,
            wait,
            timeout_secs,
        } => {
            let status = match wait {
                Some(target) => {
                    client
                        .wait_for(hash, &target, Duration::from_secs(timeout_secs))
                        .await?
                }
                None => client.status(hash).await?,
            };
            let execution = status.execution_status.unwrap_or_else(|| "-".into());
            println!("{} {execution}", status.finality_status);
            if let Some(reason) = status.failure_reason {
                println!("reason: {reason}");
            }
            Ok(())
        }
        TxCommand::Account { address } => {
            let account = client
                .account(address, serde_json::json!("pre_confirmed"))
                .await?;
            println!("{}", serde_json::to_string_pretty(&account)?);
            Ok(())
        }
    }
}

/// A fresh key pair from the system's randomness.
pub fn random_keys() -> Result<KeyPair> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    bytes[0] &= 0x03; // below 2^250 < the curve order
    Ok(KeyPair::from_private(Felt::from_bytes_be(&bytes)))
}

fn keygen(out: &Path) -> Result<()> {
    let keys = random_keys()?;
    let file = KeyFile {
        private_key: keys.private_key,
        public_key: keys.public_key,
        address: keys.address(),
    };
    let json = serde_json::to_string_pretty(&file)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(out)
        .with_context(|| format!("cannot create {} (it must not exist yet)", out.display()))?;
    std::io::Write::write_all(&mut f, json.as_bytes())?;
    println!(
        "address {:#x}\npublic key {:#x}\nkey file {} (keep it secret)",
        file.address,
        file.public_key,
        out.display()
    );
    Ok(())
}

/// Signs with the key file's key at the right nonce, sends, and optionally waits.
async fn send_signed(
    client: &Client,
    signed: &Signed,
    build: impl FnOnce(&KeyPair, u64) -> Transaction,
) -> Result<()> {
    let keys = load_key(&signed.key)?;
    let nonce = next_nonce(client, &keys, signed.nonce).await?;
    send(client, &build(&keys, nonce), signed.wait).await
}

async fn next_nonce(client: &Client, keys: &KeyPair, given: Option<u64>) -> Result<u64> {
    match given {
        Some(n) => Ok(n),
        None => Ok(client.nonce(keys.address()).await?),
    }
}

async fn send(client: &Client, tx: &Transaction, wait: bool) -> Result<()> {
    let hash = client.add_transaction(tx).await?;
    println!("{hash:#x}");
    if wait {
        let status = client
            .wait_for(hash, "ACCEPTED_ON_L2", Duration::from_secs(300))
            .await?;
        println!(
            "{} {}",
            status.finality_status,
            status.execution_status.unwrap_or_default()
        );
    }
    Ok(())
}
