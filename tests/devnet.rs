//! `starfarm devnet` end to end, with real processes and its default profile, `l1-test`
//! (Keccak channel, 20 bits, NOT secure): a `starfarm load` of a few hundred transfers,
//! bridge deposits and a withdrawal reaches ACCEPTED_ON_L1 only through the verifier (each
//! range's chunk proof verified on chain by `StwoFactRegistry`, no key attesting anything); L1 holds the sequencer's state; the bridge holds exactly the L2 supply
//! plus what was withdrawn; every proof of every block verifies with `starfarm verify`;
//! every metric the dashboards plot is exported; a real Prometheus scraping the devnet (with
//! infra/prometheus's config and alert rules) has every target up, every rule healthy and
//! data for every dashboard panel's query, the cost per settled transaction included. And
//! a devnet killed with SIGKILL mid-run resumes from its data folder: the load completes,
//! no range is settled twice.
//!
//! Needs anvil (`STARFARM_ANVIL`, as l1/tests/settle.rs); skipped loudly without it. The
//! Prometheus part needs `prometheus` (apt; infra/get-tools.sh): skipped loudly without it
//! unless `STARFARM_REQUIRE_PROMETHEUS=1` (CI), which makes that a failure.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use starfarm_l1::contracts::StarfarmCore;
use starfarm_l1::{L1Client, U256};
use starfarm_sequencer::client::Client;
use starfarm_sequencer::testing::runtime;
use starfarm_sequencer::Felt;
use support::prometheus::{dashboard_queries, Prometheus};
use support::{free_port, Proc, PATIENCE};

mod support;

/// One devnet at a time: each runs a worker that may take 12 GiB.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What the devnet printed about itself.
struct Devnet {
    proc: Proc,
    sequencer: String,
    scheduler: String,
    l1_rpc: String,
    api_key: String,
    /// The arguments of the `starfarm load` line it suggests.
    load_args: Vec<String>,
}

impl Devnet {
    /// Starts `starfarm devnet` on `data` with the given addresses (port 0: any).
    async fn start(anvil: &Path, data: &Path, rpc: &str, listen: &str, l1_port: u16) -> Self {
        let data_arg = data.display().to_string();
        let anvil_arg = anvil.display().to_string();
        let port = l1_port.to_string();
        let proc = Proc::spawn(&[
            "devnet",
            "--data",
            &data_arg,
            "--anvil",
            &anvil_arg,
            "--rpc",
            rpc,
            "--listen",
            listen,
            "--l1-port",
            &port,
            "--workers",
            "1",
            "--worker-memory-gib",
            "12",
            "--block-time-ms",
            "1500",
            // The workers' price, for the dashboards' costs.
            "--price-per-hour",
            "2.5",
        ]);
        let line = proc.line_with("Load it: starfarm load").await;
        let load_args: Vec<String> = line
            .split_once("starfarm load ")
            .map(|(_, args)| args.split_whitespace().map(str::to_owned).collect())
            .expect("load arguments");
        let arg = |name: &str| {
            let at = load_args.iter().position(|a| a == name).expect(name);
            load_args[at + 1].clone()
        };
        Devnet {
            sequencer: arg("--rpc"),
            scheduler: arg("--scheduler"),
            l1_rpc: arg("--l1-rpc"),
            api_key: arg("--api-key"),
            load_args,
            proc,
        }
    }

    /// `starfarm load` against this devnet, with `extra` arguments, as a child process.
    fn load(&self, extra: &[&str]) -> Proc {
        let mut args: Vec<&str> = vec!["load"];
        args.extend(self.load_args.iter().map(String::as_str));
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--json", "--timeout-secs", "600"]);
        Proc::spawn(&args)
    }

    async fn metrics(&self, url: &str) -> String {
        let response = reqwest::get(format!("{url}/metrics"))
            .await
            .expect("metrics");
        response.text().await.expect("text")
    }

    async fn jobs(&self, query: &str) -> Vec<Value> {
        let http = reqwest::Client::new();
        let url = format!("{}/v1/jobs?{query}&limit=1000", self.scheduler);
        let page: Value = http
            .get(url)
            .bearer_auth(&self.api_key)
            .send()
            .await
            .expect("jobs")
            .json()
            .await
            .expect("JSON");
        page["jobs"].as_array().cloned().unwrap_or_default()
    }
}

/// The JSON summary `starfarm load --json` printed, once it exited successfully.
async fn summary(mut load: Proc) -> Value {
    let status = load.exited().await;
    let output = load.output();
    assert!(status.success(), "load failed:\n{output}");
    let start = output.find('{').expect("a JSON summary");
    serde_json::from_str(&output[start..]).unwrap_or_else(|e| panic!("{e}: {output}"))
}

/// L1 holds the sequencer's latest block (number, hash, root).
async fn assert_l1_matches_l2(devnet: &Devnet, l1: &L1Client) {
    support::assert_l1_matches_l2(&Client::new(devnet.sequencer.clone()), l1).await;
}

/// The ranges settled on L1 (`LogRangeSettled`), as (block, tx_start, tx_end).
async fn settled_ranges(l1: &L1Client) -> Vec<(u64, u64, u64)> {
    let core = StarfarmCore::new(
        l1.deployment().expect("attached").core,
        l1.provider().clone(),
    );
    let events = core
        .LogRangeSettled_filter()
        .from_block(0)
        .query()
        .await
        .expect("logs");
    let word = |w: U256| u64::try_from(w).expect("u64");
    events
        .into_iter()
        .map(|(e, _)| (word(e.blockNumber), word(e.txStart), word(e.txEnd)))
        .collect()
}

async fn attach(devnet: &Devnet, data: &Path) -> L1Client {
    let file: Value = serde_json::from_slice(
        &std::fs::read(data.join("l1-deployment.json")).expect("deployment file"),
    )
    .expect("JSON");
    let deployment = serde_json::from_value(file).expect("addresses");
    let read_only = format!("{:#x}", starfarm_l1::B256::repeat_byte(0x11));
    L1Client::connect(&devnet.l1_rpc, &read_only)
        .await
        .expect("L1")
        .attach(deployment)
}

fn starfarm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(args)
        .output()
        .expect("starfarm runs")
}

#[test]
fn the_devnet_proves_and_settles_a_load_of_transfers_deposits_and_a_withdrawal() {
    let Some(anvil) = starfarm_l1::anvil::Anvil::binary_for_tests() else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    runtime().block_on(async {
        let devnet = Devnet::start(&anvil, &data, "127.0.0.1:0", "127.0.0.1:0", 0).await;
        // Scraping before the load starts, so that rates and increases see the whole load.
        let mut prometheus = Prometheus::start(dir.path(), &devnet.sequencer, &devnet.scheduler);
        if let Some(prometheus) = prometheus.as_mut() {
            prometheus.scraping().await;
        }
        let load = devnet.load(&[
            "--accounts",
            "8",
            "--transfers",
            "300",
            "--withdrawals",
            "1",
            "--rate",
            "100",
        ]);
        let summary = summary(load).await;
        // 8 deposits, 8 deployments, 300 transfers, 1 withdrawal.
        assert_eq!(summary["transactions"], 317, "{summary}");
        assert_eq!(summary["withdrawals_taken_on_l1"], 1);
        assert_eq!(summary["balances_checked"], 8);
        assert!(!summary["to_proof_secs"].is_null(), "{summary}");
        eprintln!("load summary: {summary}");

        let l1 = attach(&devnet, &data).await;
        assert_l1_matches_l2(&devnet, &l1).await;
        // The bridge holds exactly what L2 holds plus what was withdrawn.
        let l2 = Client::new(devnet.sequencer.clone());
        let mut supply = 0u128;
        for account in summary["accounts"].as_array().expect("accounts") {
            let address = Felt::from_hex(account.as_str().expect("hex")).expect("felt");
            supply += l2
                .account(address, json!("latest"))
                .await
                .expect("account")
                .balance;
        }
        let bridge = l1.deployment().expect("attached").bridge;
        let locked = l1.balance_of(bridge).await.expect("balance");
        assert_eq!(
            locked,
            U256::from(supply + 1_000),
            "bridge vs L2 supply + withdrawn"
        );

        // Every proof of this run is a chunk of a block now settled: the settled blocks'
        // proving cost is the whole cost, each proof counted once, and the settled
        // transactions are the load's.
        let metrics = devnet.metrics(&devnet.scheduler).await;
        let sample = |series: &str| support::farm::metric(&metrics, series);
        let cost: f64 = ["cpu", "cuda", "wgpu"]
            .map(|b| sample(&format!("starfarm_proof_cost_usd_total{{backend=\"{b}\"}}")))
            .iter()
            .sum();
        let settled_cost = sample("starfarm_l1_settled_proof_cost_usd_total");
        assert!(
            cost > 0.0 && (settled_cost - cost).abs() <= 1e-9 * cost,
            "settled blocks' proofs cost {settled_cost} USD, all proofs {cost}"
        );
        assert_eq!(sample("starfarm_l1_settled_transactions_total"), 317.0);

        // Settled through the verifier: the registry is StwoFactRegistry at l1-test's floor
        // (the banner says NOT secure), each range's chunk proof verified on chain, and no
        // fact attested (the settler holds no key).
        let banner = devnet.proc.output();
        assert!(
            banner.contains("StwoFactRegistry") && banner.contains("floor 20 bits, NOT secure"),
            "{banner}"
        );
        let file: Value = serde_json::from_slice(
            &std::fs::read(data.join("l1-deployment.json")).expect("deployment file"),
        )
        .expect("JSON");
        assert_eq!(file["verifier"]["registry"], file["registry"], "{file}");
        assert_eq!(file["security_floor"], 20, "{file}");
        let proofs = sample("starfarm_l1_proof_verification_gas_count");
        let updates = sample(r#"starfarm_l1_submissions_total{call="updateState",result="mined"}"#);
        assert!(
            proofs >= updates && updates >= 1.0,
            "{proofs} proofs verified on chain for {updates} settlements"
        );
        assert_eq!(
            sample(r#"starfarm_l1_submissions_total{call="registerFact",result="mined"}"#),
            0.0,
            "no fact attested"
        );
        assert!(
            sample(r#"starfarm_l1_submissions_total{call="verification",result="mined"}"#)
                >= updates,
            "each settled range verified first"
        );

        // Every proof of every block verifies with `starfarm verify`.
        let chunks = devnet.jobs("kind=block_chunk&state=done").await;
        assert!(!chunks.is_empty());
        let http = reqwest::Client::new();
        for job in &chunks {
            let url = format!("{}/v1/jobs/{}/artifact", devnet.scheduler, job["id"]);
            let response = http.get(url).bearer_auth(&devnet.api_key).send().await;
            let bytes = response.expect("artifact").bytes().await.expect("bytes");
            let path = dir.path().join(format!("chunk-{}.proof", job["id"]));
            std::fs::write(&path, &bytes).expect("written");
            let verified = starfarm(&["verify", path.to_str().expect("UTF-8")]);
            assert!(
                verified.status.success(),
                "{}",
                String::from_utf8_lossy(&verified.stdout)
            );
        }

        // Every metric the dashboards and alerts use is exported (but the node's).
        let mut scraped = Vec::new();
        for (name, url) in [
            ("sequencer", &devnet.sequencer),
            ("scheduler", &devnet.scheduler),
        ] {
            let path = dir.path().join(format!("{name}.metrics"));
            std::fs::write(&path, devnet.metrics(url).await).expect("written");
            scraped.push(path);
        }
        let check = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/infra/check.sh"))
            .arg("--metrics")
            .args(&scraped)
            .args(["--allow-missing", NOT_IN_THE_DEVNET])
            .output()
            .expect("check.sh runs");
        assert!(
            check.status.success(),
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        if let Some(prometheus) = &prometheus {
            assert_prometheus_sees_the_devnet(prometheus).await;
        }
        drop(prometheus);
        drop(devnet);
    });
}

/// Panels that must show a cost above 0: the devnet's workers have a price.
const COSTS: &[&str] = &[
    "starfarm-prover.json / Cost per proof (1h, USD)",
    "starfarm-prover.json / Cost per settled transaction (1h, USD)",
    "starfarm-l1.json / Cost per settled transaction (USD, 1h window)",
];

/// Prometheus scrapes every target, has loaded every alert rule of infra/prometheus and
/// evaluates each without error, and has data for every dashboard panel's query.
async fn assert_prometheus_sees_the_devnet(prometheus: &Prometheus) {
    let targets = prometheus.api("/api/v1/targets", &[]).await;
    let mut health: Vec<(&str, &str)> = targets["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .map(|t| {
            let job = t["labels"]["job"].as_str().unwrap_or("?");
            (job, t["health"].as_str().unwrap_or("?"))
        })
        .collect();
    health.sort();
    let expected = ["prometheus", "starfarm-scheduler", "starfarm-sequencer"].map(|j| (j, "up"));
    assert_eq!(health, expected, "{targets}");

    let rules = prometheus.api("/api/v1/rules", &[]).await;
    let alerts = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/infra/prometheus/alerts.yml"
    ))
    .expect("alerts.yml");
    let defined = alerts.lines().filter(|l| l.contains("- alert:")).count();
    let loaded: Vec<&Value> = rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .collect();
    assert_eq!(loaded.len(), defined, "alert rules loaded: {rules}");
    let unhealthy: Vec<&&Value> = loaded.iter().filter(|r| r["health"] != "ok").collect();
    assert!(
        unhealthy.is_empty(),
        "rules not evaluated well: {unhealthy:?}"
    );
    let firing: Vec<&Value> = loaded
        .iter()
        .filter(|r| r["state"] == "firing")
        .map(|r| &r["name"])
        .collect();
    eprintln!("prometheus: alerts firing at the end of the run: {firing:?}");

    let queries = dashboard_queries();
    let mut without_data = Vec::new();
    for query in &queries {
        let values = prometheus.finite_values(&query.expr).await;
        let panel = query.panel.as_str();
        if values.is_empty() {
            without_data.push(format!("{panel}: {}", query.expr));
        } else if COSTS.contains(&panel) && !values.iter().any(|v| *v > 0.0) {
            without_data.push(format!("{panel}: never above 0 ({values:?})"));
        }
    }
    assert!(
        without_data.is_empty(),
        "dashboard queries without data in Prometheus (of {}):\n{}\n{}",
        queries.len(),
        without_data.join("\n"),
        prometheus.log_tail()
    );
    eprintln!(
        "prometheus: {} dashboard queries, every one with data; {} rules healthy",
        queries.len(),
        loaded.len()
    );
}

/// The node's families: the devnet runs no node, its /metrics are not scraped here. (Counters
/// of events a healthy run lacks are exported at 0 from the start, so none is missing.)
const NOT_IN_THE_DEVNET: &str = "starfarm_node_sync_failures_total";

#[test]
fn a_devnet_killed_mid_run_resumes_and_the_load_completes_with_nothing_settled_twice() {
    let Some(anvil) = starfarm_l1::anvil::Anvil::binary_for_tests() else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (rpc, listen, l1_port) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
        free_port(),
    );
    runtime().block_on(async {
        let mut devnet = Devnet::start(&anvil, &data, &rpc, &listen, l1_port).await;
        let load = devnet.load(&[
            "--accounts",
            "4",
            "--transfers",
            "120",
            "--withdrawals",
            "1",
            "--rate",
            "20",
        ]);
        // Kill it once transfers are flowing (the deposits' block and more are closed).
        let l2 = Client::new(devnet.sequencer.clone());
        let deadline = Instant::now() + PATIENCE;
        while l2.block_number().await.unwrap_or(0) < 2 {
            assert!(
                Instant::now() < deadline,
                "no blocks:\n{}",
                devnet.proc.output()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        devnet.proc.sigkill();
        // Its children die with it (anvil saving its chain first); wait for the ports.
        wait_free(l1_port, &rpc, &listen).await;

        let devnet = Devnet::start(&anvil, &data, &rpc, &listen, l1_port).await;
        let summary = summary(load).await;
        assert_eq!(summary["transactions"], 4 + 4 + 120 + 1, "{summary}");
        let l1 = attach(&devnet, &data).await;
        assert_l1_matches_l2(&devnet, &l1).await;
        let ranges = settled_ranges(&l1).await;
        let mut unique = ranges.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ranges.len(),
            "a range settled twice: {ranges:?}"
        );
        eprintln!("settled ranges after the restart: {ranges:?}");
    });
}

/// Waits until nothing listens on the devnet's ports.
async fn wait_free(l1_port: u16, rpc: &str, listen: &str) {
    let addresses: Vec<String> = vec![format!("127.0.0.1:{l1_port}"), rpc.into(), listen.into()];
    let deadline = Instant::now() + Duration::from_secs(60);
    while addresses
        .iter()
        .any(|a| std::net::TcpStream::connect(a.as_str()).is_ok())
    {
        assert!(
            Instant::now() < deadline,
            "the killed devnet's children still listen"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
