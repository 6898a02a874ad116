//! The engine's progress as typed events. The engine emits [`Event`]s into an [`EventSink`];
//! the CLI decides how they look (plain timestamped lines today). Events are `Serialize`, so a
//! live view, a log file or a test can listen to them without parsing text.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::engine::reports::Outcome;

/// What a stack is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Waiting for a change an earlier run left in progress.
    WaitingForEarlierRun,
    /// Deleting a stack whose creation failed, to create it again (`--replace-failed`).
    DeletingFailedStack,
    /// Creating and reading a change set.
    PreparingChangeSet,
    Creating,
    Updating,
    /// Express mode: CloudFormation is done; waiting for the stack's health probes to pass
    /// before the stacks that depend on it start.
    AwaitingReadiness,
    /// Changing the parameters a backend needs changed before its stack is deleted.
    PreparingDelete,
    Deleting,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::WaitingForEarlierRun => "waiting for an earlier run's change",
            Phase::DeletingFailedStack => "deleting the failed stack to re-create it",
            Phase::PreparingChangeSet => "preparing change set",
            Phase::Creating => "creating",
            Phase::Updating => "updating",
            Phase::AwaitingReadiness => "waiting for its resources to be ready (express mode)",
            Phase::PreparingDelete => "preparing to delete",
            Phase::Deleting => "deleting",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A stack waits for its dependencies (or a free slot).
    StackQueued { stack: String },
    /// A stack's work began.
    StackStarted { stack: String },
    /// A stack entered a phase.
    StackPhase { stack: String, phase: Phase },
    /// A resource event of a stack being changed (CloudFormation's stack events).
    Resource {
        stack: String,
        logical_id: String,
        resource_type: String,
        status: String,
        reason: Option<String>,
    },
    /// A stack's work ended.
    StackDone {
        stack: String,
        outcome: Outcome,
        error: Option<String>,
    },
    /// A stack was not attempted.
    StackSkipped { stack: String, because: String },
    /// Something done outside stacks (a bucket created, a secret stored, an adoption).
    Note { message: String },
}

impl Event {
    /// A resource event, for `rig -q` to leave out.
    pub fn is_resource(&self) -> bool {
        matches!(self, Event::Resource { .. })
    }

    /// The event as one plain line (no timestamp).
    pub fn line(&self) -> String {
        match self {
            Event::StackQueued { stack } => format!("{stack}: queued"),
            Event::StackStarted { stack } => format!("{stack}: started"),
            Event::StackPhase { stack, phase } => format!("{stack}: {}", phase.as_str()),
            Event::Resource {
                stack,
                logical_id,
                resource_type,
                status,
                reason,
            } => format!(
                "  [{stack}] {status:<28} {resource_type:<44} {logical_id}{}",
                reason
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default()
            ),
            Event::StackDone {
                stack,
                outcome,
                error,
            } => match error {
                Some(e) => format!("{stack}: {}: {e}", outcome.as_str().to_uppercase()),
                None => format!("{stack}: {}", outcome.as_str()),
            },
            Event::StackSkipped { stack, because } => format!("{stack}: skipped: {because}"),
            Event::Note { message } => message.clone(),
        }
    }
}

/// Receives the engine's events. Implementations must be cheap and thread-safe.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);

    /// Emits a [`Event::Note`].
    fn note(&self, message: String) {
        self.emit(Event::Note { message });
    }
}

/// Writes each event to stderr as a plain line, prefixed with the seconds since the start.
#[derive(Debug)]
pub struct PlainLines {
    start: Instant,
    /// Print resource events too.
    pub resources: bool,
}

impl PlainLines {
    pub fn new(resources: bool) -> PlainLines {
        PlainLines {
            start: Instant::now(),
            resources,
        }
    }
}

impl EventSink for PlainLines {
    fn emit(&self, event: Event) {
        if event.is_resource() && !self.resources {
            return;
        }
        eprintln!(
            "[{:>6.1}s] {}",
            self.start.elapsed().as_secs_f64(),
            event.line()
        );
    }
}

/// Keeps every event (for tests and callers that render afterwards).
#[derive(Debug, Default)]
pub struct Collect(pub Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, event: Event) {
        self.0.lock().expect("lock").push(event);
    }
}

/// Drops every event.
#[derive(Debug, Default)]
pub struct Discard;

impl EventSink for Discard {
    fn emit(&self, _: Event) {}
}
