//! A real Prometheus of the test's own (Debian's `prometheus` 2.42 daemon, or
//! `$STARFARM_PROMETHEUS`): infra/prometheus's config with the test's targets, its alert
//! rules loaded, a short scrape interval, storage in a temporary folder and a free loopback
//! port; stopped by its PID when dropped. Also reads the panel queries of the generated
//! Grafana dashboards (infra/grafana/dashboards), so that tests can run each of them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const INFRA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/infra");

/// How often the test's Prometheus scrapes and evaluates its rules.
pub const SCRAPE_INTERVAL: &str = "2s";

pub struct Prometheus {
    child: Child,
    pub url: String,
    log: PathBuf,
    /// When it started: the start of range queries.
    pub started: std::time::SystemTime,
}

impl Prometheus {
    /// Starts Prometheus in `dir`, scraping the sequencer and the scheduler at these URLs
    /// (`http://host:port`). `None`, after saying so, when no `prometheus` is installed; a
    /// failure instead when `STARFARM_REQUIRE_PROMETHEUS=1` (as in CI, where
    /// infra/get-tools.sh installs it).
    pub fn start(dir: &Path, sequencer: &str, scheduler: &str) -> Option<Self> {
        let binary = std::env::var_os("STARFARM_PROMETHEUS")
            .map_or_else(|| PathBuf::from("prometheus"), PathBuf::from);
        let listen = format!("127.0.0.1:{}", super::free_port());
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_for(sequencer, scheduler, &listen)).expect("written");
        let log = dir.join("prometheus.log");
        let spawned = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log file"))
            .spawn();
        let required = std::env::var("STARFARM_REQUIRE_PROMETHEUS").as_deref() == Ok("1");
        match spawned {
            Ok(child) => Some(Self {
                child,
                url: format!("http://{listen}"),
                log,
                started: std::time::SystemTime::now(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                eprintln!(
                    "*** SKIPPED the Prometheus checks: no `{}` (apt install prometheus, or \
                     infra/get-tools.sh; STARFARM_REQUIRE_PROMETHEUS=1 makes this a failure)",
                    binary.display()
                );
                None
            }
            Err(e) => panic!("starting {}: {e}", binary.display()),
        }
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until it answers `/-/ready` and has scraped every target once, successfully
    /// (fails if it exits first). Ready is not enough: Prometheus applies its targets on a
    /// 5 s tick after start, so a short burst of load right after `/-/ready` can come and go
    /// before the first scrape, and every rate over it is then 0 (seen in CI).
    pub async fn scraping(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("prometheus exited ({status}):\n{}", self.log_tail());
            }
            if self.every_target_up().await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not scraping every target:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Whether it answers and its targets are all known and scraped with health `up`.
    async fn every_target_up(&self) -> bool {
        let url = format!("{}/api/v1/targets", self.url);
        let Ok(response) = reqwest::get(url).await else {
            return false;
        };
        let Ok(body) = response.json::<Value>().await else {
            return false;
        };
        let targets = body["data"]["activeTargets"].as_array().cloned();
        let targets = targets.unwrap_or_default();
        // The config's three jobs: the sequencer, the scheduler and Prometheus itself.
        targets.len() == 3 && targets.iter().all(|t| t["health"] == "up")
    }

    /// The `data` of a successful answer of its HTTP API at `path`.
    pub async fn api(&self, path: &str, query: &[(&str, String)]) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .query(query)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}\n{}", self.log_tail()));
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON answer");
        assert!(
            status.is_success() && body["status"] == "success",
            "{path} {query:?}: {status} {body}"
        );
        body["data"].clone()
    }

    /// `expr` over the time since it started, one point per scrape interval: every finite
    /// value of every series.
    pub async fn finite_values(&self, expr: &str) -> Vec<f64> {
        let seconds = |t: std::time::SystemTime| {
            let since = t.duration_since(std::time::UNIX_EPOCH).expect("after 1970");
            format!("{:.3}", since.as_secs_f64())
        };
        let query = [
            ("query", expr.to_owned()),
            ("start", seconds(self.started)),
            ("end", seconds(std::time::SystemTime::now())),
            ("step", SCRAPE_INTERVAL.to_owned()),
        ];
        let data = self.api("/api/v1/query_range", &query).await;
        let series = data["result"].as_array().cloned().unwrap_or_default();
        series
            .iter()
            .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
            .filter_map(|point| point[1].as_str().and_then(|v| v.parse::<f64>().ok()))
            .filter(|v| v.is_finite())
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// infra/prometheus/prometheus.yml with the test's addresses (instead of the compose
/// file's), the rule file's path in the repository (instead of the container's) and a
/// short scrape interval.
fn config_for(sequencer: &str, scheduler: &str, listen: &str) -> String {
    let path = format!("{INFRA}/prometheus/prometheus.yml");
    let config = std::fs::read_to_string(&path).expect("infra/prometheus/prometheus.yml");
    let host = |url: &str| {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest).to_owned()
    };
    let swaps = [
        ("sequencer:9545", host(sequencer)),
        ("scheduler:8080", host(scheduler)),
        ("localhost:9090", listen.to_owned()),
        (
            "/etc/prometheus/alerts.yml",
            format!("{INFRA}/prometheus/alerts.yml"),
        ),
        (
            "scrape_interval: 15s",
            format!("scrape_interval: {SCRAPE_INTERVAL}"),
        ),
        (
            "evaluation_interval: 15s",
            format!("evaluation_interval: {SCRAPE_INTERVAL}"),
        ),
    ];
    swaps.iter().fold(config, |config, (from, to)| {
        assert!(
            config.contains(from),
            "{path} no longer has {from:?}: update tests/support/prometheus.rs"
        );
        config.replace(from, to)
    })
}

/// One query of a dashboard panel.
pub struct PanelQuery {
    /// `dashboard file / panel title`.
    pub panel: String,
    pub expr: String,
}

/// Every panel query of the generated dashboards, with Grafana's variables replaced:
/// interval variables by fixed windows, template variables by `.*` (their "All").
pub fn dashboard_queries() -> Vec<PanelQuery> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(format!("{INFRA}/grafana/dashboards"))
        .expect("infra/grafana/dashboards")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut queries = Vec::new();
    for path in files {
        let board: Value = serde_json::from_slice(&std::fs::read(&path).expect("dashboard"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().expect("a file").to_string_lossy();
        let variables: Vec<String> = board["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(str::to_owned))
            .collect();
        panel_queries(&board["panels"], &name, &variables, &mut queries);
    }
    queries
}

fn panel_queries(panels: &Value, board: &str, variables: &[String], out: &mut Vec<PanelQuery>) {
    for panel in panels.as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(PanelQuery {
                    panel: format!("{board} / {title}"),
                    expr: substitute(expr, variables),
                });
            }
        }
        panel_queries(&panel["panels"], board, variables, out);
    }
}

fn substitute(expr: &str, variables: &[String]) -> String {
    let mut expr = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", SCRAPE_INTERVAL)
        .replace("$__range", "1h");
    for name in variables {
        expr = expr
            .replace(&format!("${{{name}}}"), ".*")
            .replace(&format!("${name}"), ".*");
    }
    assert!(
        !expr.contains('$'),
        "a Grafana variable tests/support/prometheus.rs does not replace: {expr}"
    );
    expr
}
