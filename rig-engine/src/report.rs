//! Progress reporting. The engine tells a [`Reporter`] what happens; the CLI decides how it
//! looks. Progress goes to stderr, never stdout (stdout is for data).

/// Receives progress from the engine. Implementations must be cheap and thread-safe.
pub trait Reporter: Send + Sync {
    /// A stack event line while waiting on `stack`.
    fn event(&self, stack: &str, line: &str);
    /// A step of the engine (`creating bucket ...`, `stack X: unchanged`).
    fn step(&self, msg: &str);
}

/// Writes progress to stderr.
#[derive(Debug, Default)]
pub struct StderrReporter {
    /// Print stack events too (not only steps).
    pub events: bool,
}

impl Reporter for StderrReporter {
    fn event(&self, stack: &str, line: &str) {
        if self.events {
            eprintln!("  [{stack}] {line}");
        }
    }
    fn step(&self, msg: &str) {
        eprintln!("{msg}");
    }
}
