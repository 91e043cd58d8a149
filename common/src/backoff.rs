//! Exponential backoff for loops that retry a dependency (object store, L1, disk) until it
//! heals: the pause doubles after each failure up to a cap, and a success resets it. A
//! dependency that is down is not hammered, and one that heals is used again within `cap`.

use std::time::Duration;

/// The pause before the next attempt, and how many attempts failed in a row.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    next: Duration,
    failures: u32,
}

impl Backoff {
    /// Pauses `base`, `2 × base`, … up to `cap` after consecutive failures.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            next: base,
            failures: 0,
        }
    }

    /// Records a failure; the pause to take before retrying.
    pub fn failed(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.cap);
        self.failures += 1;
        pause
    }

    /// Records a success; how many attempts had failed before it (0: none).
    pub fn succeeded(&mut self) -> u32 {
        self.next = self.base;
        std::mem::take(&mut self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets_on_success() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(100), ms(500));
        let pauses: Vec<_> = (0..5).map(|_| backoff.failed()).collect();
        assert_eq!(pauses, [ms(100), ms(200), ms(400), ms(500), ms(500)]);
        assert_eq!(backoff.succeeded(), 5);
        assert_eq!(backoff.failed(), ms(100));
        assert_eq!(backoff.succeeded(), 1);
        assert_eq!(backoff.succeeded(), 0);
    }
}
