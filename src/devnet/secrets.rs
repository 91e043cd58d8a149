//! The devnet's keys, made once and kept in `<data>/devnet.json` (mode 0600) so that a
//! restart, and the user's clients, keep using them. Local use only.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Secrets {
    /// The scheduler's API key (submissions and workers).
    pub api_key: String,
    /// The sequencer's admin token.
    pub admin_token: String,
    /// The prover key that attests facts to the L1 registry.
    pub attest_key: String,
    /// The scheduler's webhook signing key (absent from key files made before webhooks:
    /// added on the next start).
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

pub fn load_or_create(path: &Path) -> Result<Secrets> {
    if path.exists() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut secrets: Secrets = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a devnet key file", path.display()))?;
        if secrets.webhook_secret.is_none() {
            // The file keeps its mode (0600): only its contents are replaced.
            secrets.webhook_secret = Some(random_hex(32)?);
            let json = serde_json::to_vec_pretty(&secrets)?;
            std::fs::write(path, json).with_context(|| format!("updating {}", path.display()))?;
        }
        return Ok(secrets);
    }
    let secrets = Secrets {
        api_key: format!("devnet-{}", random_hex(16)?),
        admin_token: random_hex(16)?,
        attest_key: format!("0x{}", random_hex(32)?),
        webhook_secret: Some(random_hex(32)?),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    serde_json::to_writer_pretty(file, &secrets)?;
    Ok(secrets)
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
