//! The settlement line of the real-process tests: a sequencer that follows L1, a scheduler
//! that ingests, aggregates and settles (`--settle`), and a CPU worker proving block chunks
//! (Test profile, NOT secure; or `l1-test` for a verifying deployment), all talking to the Ethereum node at one RPC URL.

use std::path::Path;

use starfarm_l1::anvil::DEV_KEYS;
use starfarm_l1::Deployment;
use starfarm_sequencer::client::Client;

use super::{spawn_sequencer, url_in, Proc, ATTEST_KEY};

/// The scheduler's API key.
pub const API_KEY: &str = "settlement-test-key";

/// The line's processes (killed when dropped).
pub struct Line {
    pub sequencer: Proc,
    pub scheduler: Proc,
    pub scheduler_url: String,
    pub worker: Proc,
    pub l2: Client,
    /// The contracts of the deployment file the line follows.
    pub deployment: Deployment,
}

impl Line {
    /// Starts the line in `dir` on the deployment in `deployment_file` (as `starfarm l1
    /// deploy` wrote it), with L1 at `l1_rpc`: the scheduler settles (`--settle`), attesting
    /// facts with [`ATTEST_KEY`] (the TRUSTED attested registry), blocks proven with the test
    /// profile.
    pub async fn start(l1_rpc: &str, deployment_file: &Path, dir: &Path) -> Self {
        let deployment = deployment_file.to_str().expect("UTF-8 path");
        let settle = [
            "--settle",
            deployment,
            "--l1-rpc",
            l1_rpc,
            "--l1-key",
            DEV_KEYS[0],
            "--attest-key",
            ATTEST_KEY,
        ];
        Self::start_with(l1_rpc, deployment_file, dir, "test", &settle).await
    }

    /// The line of a verifying deployment: blocks proven with the `l1-test` profile (the
    /// Keccak channel, 20 bits, NOT secure); the scheduler does not settle (the test runs
    /// `starfarm l1 settle` itself) and no process is given an attesting key.
    pub async fn start_verifying(l1_rpc: &str, deployment_file: &Path, dir: &Path) -> Self {
        Self::start_with(l1_rpc, deployment_file, dir, "l1-test", &[]).await
    }

    async fn start_with(
        l1_rpc: &str,
        deployment_file: &Path,
        dir: &Path,
        block_profile: &str,
        settle: &[&str],
    ) -> Self {
        let path = |name: &str| dir.join(name).display().to_string();
        let deployment = deployment_file.to_str().expect("UTF-8 path");
        let follow = ["--l1-deployment", deployment, "--l1-rpc", l1_rpc];
        let (sequencer, url) =
            spawn_sequencer(&dir.join("sequencer"), &dir.join("objects"), 1500, &follow).await;
        let (data, objects) = (path("scheduler"), path("objects"));
        let mut args = vec![
            "scheduler",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &data,
            "--api-key",
            API_KEY,
            "--sequencer-store",
            &objects,
            "--block-profile",
            block_profile,
            "--lease-sweep-ms",
            "500",
        ];
        args.extend_from_slice(settle);
        let scheduler = Proc::spawn(&args);
        let scheduler_url = url_in(&scheduler.line_with("listening on http://").await);
        let worker = Proc::spawn(&[
            "worker",
            "--url",
            &scheduler_url,
            "--api-key",
            API_KEY,
            "--id",
            "cpu-0",
            "--memory-gib",
            "12",
        ]);
        let file = std::fs::read(deployment_file).expect("deployment file");
        let file: serde_json::Value = serde_json::from_slice(&file).expect("JSON");
        Line {
            sequencer,
            scheduler,
            scheduler_url,
            worker,
            l2: Client::new(url),
            deployment: serde_json::from_value(file).expect("addresses"),
        }
    }

    /// The sequencer's and the scheduler's output, for a failure report.
    pub fn output(&self) -> String {
        format!(
            "--- sequencer:\n{}\n--- scheduler:\n{}",
            self.sequencer.output(),
            self.scheduler.output()
        )
    }

    /// A sample of the scheduler's `/metrics` (`name{labels}` as written there).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        super::metric(&self.scheduler_url, series).await
    }

    /// The L2 balance of `address` (0 while it has no account).
    pub async fn balance(&self, address: starfarm_sequencer::Felt) -> u128 {
        match self.l2.account(address, serde_json::json!("latest")).await {
            Ok(account) => account.balance,
            Err(_) => 0,
        }
    }
}
