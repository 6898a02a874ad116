//! The live view of the engine's events on stderr.
//!
//! On a terminal: one line per stack, updated in place (status, elapsed time, latest event;
//! for an app stack its rollout notes), with notes printed above; the lines are cleared at the
//! end, where the command prints its summary table on stdout. Otherwise (a pipe, a log file,
//! `TERM=dumb`): plain lines, each prefixed with the seconds since the start. `-q` leaves out
//! CloudFormation's resource events; `NO_COLOR` turns colour off. Each event is shown once.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rig_engine::engine::Outcome;
use rig_engine::events::{Event, EventSink};

/// Whether colour may be used on stderr (`NO_COLOR` unset and stderr a terminal).
pub fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Applies `NO_COLOR` to every styled output (indicatif's and tables' styles use `console`).
pub fn apply_no_color() {
    if !colour() {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

/// The event as a plain line, `[  12.3s] ...`, or `None` when `quiet` leaves it out.
pub fn plain_line(elapsed: Duration, event: &Event, quiet: bool) -> Option<String> {
    if quiet && event.is_resource() {
        return None;
    }
    Some(format!(
        "[{:>6.1}s] {}",
        elapsed.as_secs_f64(),
        event.line()
    ))
}

static LIVE: OnceLock<Arc<Live>> = OnceLock::new();

/// The run's one live view (created on first use).
pub fn sink(quiet: bool) -> Arc<Live> {
    LIVE.get_or_init(|| Arc::new(Live::new(quiet))).clone()
}

/// Clears the live view's lines, if there is one, before a summary is printed.
pub fn finish() {
    if let Some(l) = LIVE.get() {
        l.finish();
    }
}

/// Renders the engine's events; see the module docs.
pub struct Live {
    start: Instant,
    quiet: bool,
    view: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    stacks: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Live {
    /// A terminal view when stderr is a terminal that can redraw, plain lines otherwise.
    pub fn new(quiet: bool) -> Live {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let view = (std::io::stderr().is_terminal() && !dumb).then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)),
            stacks: Mutex::new(BTreeMap::new()),
        });
        Live {
            start: Instant::now(),
            quiet,
            view,
        }
    }

    /// Clears the in-place lines (the command's summary follows on stdout).
    pub fn finish(&self) {
        if let Some(v) = &self.view {
            for bar in v.stacks.lock().expect("lock").values() {
                bar.finish_and_clear();
            }
            let _ = v.multi.clear();
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.cyan} {prefix:<50} {elapsed:>4} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn done_style(ok: bool) -> ProgressStyle {
    let t = if ok {
        "{prefix:.green} {wide_msg}"
    } else {
        "{prefix:.red.bold} {wide_msg}"
    };
    ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Bars {
    fn bar(&self, stack: &str) -> ProgressBar {
        let mut stacks = self.stacks.lock().expect("lock");
        stacks
            .entry(stack.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(style());
                bar.set_prefix(stack.to_string());
                bar.enable_steady_tick(Duration::from_millis(125));
                bar
            })
            .clone()
    }

    /// The stack a note is about (`"<stack>: ..."`), if it has a line.
    fn note_stack(&self, message: &str) -> Option<(ProgressBar, String)> {
        let (stack, rest) = message.split_once(": ")?;
        let bar = self.stacks.lock().expect("lock").get(stack)?.clone();
        Some((bar, rest.to_string()))
    }

    fn show(&self, event: &Event, quiet: bool) {
        match event {
            Event::StackQueued { stack } => self.bar(stack).set_message("queued"),
            Event::StackStarted { stack } => {
                let bar = self.bar(stack);
                bar.reset_elapsed();
                bar.set_message("started");
            }
            Event::StackPhase { stack, phase } => self.bar(stack).set_message(phase.as_str()),
            Event::Resource {
                stack,
                logical_id,
                status,
                reason,
                ..
            } => {
                if !quiet {
                    self.bar(stack).set_message(format!(
                        "{status} {logical_id}{}",
                        reason
                            .as_deref()
                            .filter(|r| !r.is_empty())
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ));
                }
            }
            Event::StackDone {
                stack,
                outcome,
                error,
            } => {
                let bar = self.bar(stack);
                let ok = *outcome != Outcome::Failed;
                bar.set_style(done_style(ok));
                bar.set_prefix(format!("{} {stack}", if ok { "✓" } else { "✗" }));
                let secs = bar.elapsed().as_secs_f64();
                bar.finish_with_message(match error {
                    Some(e) => format!(
                        "{} after {secs:.0}s: {}",
                        outcome.as_str(),
                        e.lines().next().unwrap_or_default()
                    ),
                    None => format!("{} in {secs:.0}s", outcome.as_str()),
                });
            }
            Event::StackSkipped { stack, because } => {
                let bar = self.bar(stack);
                bar.set_style(done_style(false));
                bar.set_prefix(format!("- {stack}"));
                bar.finish_with_message(format!("skipped: {because}"));
            }
            Event::Note { message } => match self.note_stack(message) {
                // An app stack's rollout: running / desired, stopped tasks' reasons. The
                // latest is on its line; stopped tasks are kept above too.
                Some((bar, rest)) if !bar.is_finished() => {
                    if rest.starts_with("task ") || rest.contains(" is unhealthy") {
                        let _ = self.multi.println(message);
                    }
                    bar.set_message(rest);
                }
                _ => {
                    let _ = self.multi.println(message);
                }
            },
        }
    }
}

impl EventSink for Live {
    fn emit(&self, event: Event) {
        match &self.view {
            Some(v) => v.show(&event, self.quiet),
            None => {
                if let Some(l) = plain_line(self.start.elapsed(), &event, self.quiet) {
                    eprintln!("{l}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rig_engine::events::Phase;

    /// What a small `rig up` shows without a terminal, as a snapshot.
    #[test]
    fn plain_lines_of_a_run() {
        let s = "acme-shop-integration-foundation";
        let events = [
            Event::StackQueued { stack: s.into() },
            Event::StackStarted { stack: s.into() },
            Event::StackPhase {
                stack: s.into(),
                phase: Phase::PreparingChangeSet,
            },
            Event::StackPhase {
                stack: s.into(),
                phase: Phase::Creating,
            },
            Event::Resource {
                stack: s.into(),
                logical_id: "VPC".into(),
                resource_type: "AWS::EC2::VPC".into(),
                status: "CREATE_COMPLETE".into(),
                reason: None,
            },
            Event::Note {
                message: "created bucket rig-acme-shop-us-east-1-templates-integration".into(),
            },
            Event::StackDone {
                stack: s.into(),
                outcome: Outcome::Created,
                error: None,
            },
            Event::StackSkipped {
                stack: "acme-shop-integration-compute-ecs".into(),
                because: "acme-shop-integration-foundation failed".into(),
            },
        ];
        let lines = |quiet| {
            events
                .iter()
                .enumerate()
                .filter_map(|(i, e)| plain_line(Duration::from_millis(1500 * i as u64), e, quiet))
                .collect::<Vec<_>>()
                .join("\n")
        };
        insta::assert_snapshot!("plain_lines", lines(false));
        let quiet = lines(true);
        assert!(!quiet.contains("CREATE_COMPLETE"), "{quiet}");
        assert_eq!(quiet.lines().count(), events.len() - 1);
    }
}
