//! The one polling loop: backoff from `initial` to `max`, a timeout.

use std::time::{Duration, Instant};

use super::StackError;

/// Polling policy: start fast (local stand-ins answer in milliseconds), back off to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
            timeout: Duration::from_secs(90 * 60),
        }
    }
}

impl Backoff {
    /// Starts polling `stack`.
    pub(crate) fn poll(&self, stack: &str) -> Poll {
        Poll {
            backoff: *self,
            stack: stack.to_string(),
            start: Instant::now(),
            delay: self.initial,
        }
    }
}

/// The one polling loop of rig: call [`Poll::next`] between two looks at a stack. It sleeps,
/// growing the pause by half each time up to `max`, and fails with [`StackError::Timeout`] once
/// `timeout` has passed.
pub(crate) struct Poll {
    backoff: Backoff,
    stack: String,
    start: Instant,
    delay: Duration,
}

impl Poll {
    pub(crate) async fn next(&mut self) -> Result<(), StackError> {
        if self.start.elapsed() > self.backoff.timeout {
            return Err(StackError::Timeout(
                self.backoff.timeout,
                self.stack.clone(),
            ));
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 3 / 2).min(self.backoff.max);
        Ok(())
    }

    /// Time since polling began.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}
