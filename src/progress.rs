//! Progress display for long work: a spinner on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use starfarm_prover::Phase;

/// A spinner with the elapsed time and a message.
pub fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(150));
    bar
}

pub struct PhaseProgress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl PhaseProgress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(spinner);
        Self {
            bar,
            started: Instant::now(),
        }
    }

    pub fn phase(&mut self, phase: Phase) {
        match &self.bar {
            Some(bar) => bar.set_message(phase.to_string()),
            None => eprintln!("[{:>7.1}s] {phase}", self.started.elapsed().as_secs_f64()),
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
