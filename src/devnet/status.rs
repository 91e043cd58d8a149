//! The devnet's live status line, from the sequencer's and scheduler's `/metrics`: blocks
//! produced, proven and settled, and the proving queue. A spinner line on a terminal; a
//! plain line whenever it changes otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::ProgressBar;

pub struct StatusLine {
    bar: Option<ProgressBar>,
    http: reqwest::Client,
    sequencer: String,
    scheduler: String,
    last: String,
}

impl StatusLine {
    pub fn new(sequencer: &str, scheduler: &str) -> Self {
        let bar = std::io::stdout()
            .is_terminal()
            .then(crate::progress::spinner);
        Self {
            bar,
            http: reqwest::Client::new(),
            sequencer: format!("{sequencer}/metrics"),
            scheduler: format!("{scheduler}/metrics"),
            last: String::new(),
        }
    }

    pub async fn refresh(&mut self) {
        let line = self.read().await;
        if line == self.last {
            return;
        }
        match &self.bar {
            Some(bar) => bar.set_message(line.clone()),
            None => println!("{line}"),
        }
        self.last = line;
    }

    /// Prints `text` above the status line.
    pub fn println(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    async fn read(&self) -> String {
        let (Some(l2), Some(farm)) = (
            self.scrape(&self.sequencer).await,
            self.scrape(&self.scheduler).await,
        ) else {
            return "status: a service does not answer /metrics".to_owned();
        };
        // Gauges of block numbers are -1 (or absent) before the first block.
        let count =
            |text: &str, name: &str| (sample(text, name).unwrap_or(-1.0) + 1.0).max(0.0) as u64;
        let produced = count(&l2, "starfarm_sequencer_latest_block");
        let settled = count(&farm, "starfarm_l1_last_settled_block");
        let pending = sample(&farm, "starfarm_l1_blocks_pending_settlement").unwrap_or(0.0) as u64;
        let queue = sample(&farm, "starfarm_queue_depth").unwrap_or(0.0) as u64;
        let stopped = sample(&farm, "starfarm_l1_settlement_stopped") == Some(1.0);
        format!(
            "blocks: {produced} produced, {} proven, {settled} settled on L1 · proving queue {queue}{}",
            settled + pending,
            if stopped { " · SETTLEMENT STOPPED (see logs/scheduler.log)" } else { "" }
        )
    }

    async fn scrape(&self, url: &str) -> Option<String> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        response.text().await.ok()
    }
}

/// The value of an unlabelled sample `name` in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
