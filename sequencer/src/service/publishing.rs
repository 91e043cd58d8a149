//! The publisher task: closed blocks go to the object store in order.

use std::sync::Arc;
use std::time::Duration;

use super::sequencer::Sequencer;

impl Sequencer {
    /// Publishes closed blocks to the object store in order, resuming from the stored cursor.
    pub(super) async fn run_publisher(self: Arc<Self>) {
        let Some(publisher) = &self.publisher else {
            return;
        };
        loop {
            let pause = match publisher.publish_pending(&self.store).await {
                Ok(_) => Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!("publishing blocks: {e} (will retry)");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {},
                _ = self.stopped() => return,
            }
        }
    }
}
