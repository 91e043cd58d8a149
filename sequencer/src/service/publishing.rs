//! The publisher task: closed blocks go to the object store in order. While the store is
//! down or refuses writes, it retries with exponential backoff (the blocks wait in the
//! database, whose cursor says which are published) and says so in the log and metrics.

use std::sync::Arc;
use std::time::Duration;

use starfarm_common::backoff::Backoff;

use super::sequencer::Sequencer;
use crate::store::META_PUBLISH_CURSOR;

/// Pause between publishing rounds while the store works.
const POLL: Duration = Duration::from_millis(200);
/// First and longest pause after a failed round.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_CAP: Duration = Duration::from_secs(8);

impl Sequencer {
    /// Publishes closed blocks to the object store in order, resuming from the stored cursor.
    pub(super) async fn run_publisher(self: Arc<Self>) {
        let Some(publisher) = &self.publisher else {
            return;
        };
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_CAP);
        loop {
            let before = self.publish_cursor();
            let result = publisher.publish_pending(&self.store).await;
            self.observe_publishing(before);
            let pause = match result {
                Ok(_) => {
                    let failures = backoff.succeeded();
                    if failures > 0 {
                        tracing::warn!(failures, "publishing blocks resumed");
                    }
                    POLL
                }
                Err(e) => {
                    self.metrics.publish_failures.inc();
                    let pause = backoff.failed();
                    tracing::warn!("publishing blocks: {e} (will retry in {pause:?})");
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {},
                _ = self.stopped() => return,
            }
        }
    }

    /// The next block to publish (0 when the cursor cannot be read).
    fn publish_cursor(&self) -> u64 {
        self.store
            .meta(META_PUBLISH_CURSOR)
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// Counts the blocks published since the cursor stood at `before`, and those waiting.
    fn observe_publishing(&self, before: u64) {
        let after = self.publish_cursor();
        self.metrics
            .published_blocks
            .inc_by(after.saturating_sub(before));
        let closed = self.metrics.latest_block.get() + 1;
        self.metrics
            .unpublished_blocks
            .set((closed - after as i64).max(0));
    }
}
