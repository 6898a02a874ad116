//! What `rig app deploy` says and repairs around a rollout: live values it puts back to
//! `rig.toml`'s, the image a rolled-back service serves, and the stack returned to that image.

use std::time::Duration;

use crate::cloud::cfn::StackState;
use crate::engine::apps::watch::Watcher;
use crate::engine::Engine;
use crate::planner::PlannedStack;

/// How long the rollout of a stack returned to its previous image may take.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

impl Engine {
    /// Says which live values this change puts back to `rig.toml`'s (a `rig app scale` undone).
    pub(super) fn note_resets(&self, planned: &PlannedStack, live: Option<&StackState>) {
        let Some(live) = live else { return };
        for key in ["TaskDesiredCount", "ContainerCpu", "ContainerMemory"] {
            let (Some(now), Some(to)) = (live.parameter(key), planned.plan.parameters.get(key))
            else {
                continue;
            };
            if now != to {
                self.events.note(format!(
                    "{}: {key} {now} → {to} (rig.toml's value; change rig.toml to keep another)",
                    planned.plan.name
                ));
            }
        }
    }

    /// `IMAGE (task definition FAMILY:REVISION)` of a task definition ARN (the ARN alone if it
    /// cannot be read).
    pub(super) async fn served(&self, task_definition: &str) -> String {
        let short = task_definition
            .rsplit('/')
            .next()
            .unwrap_or(task_definition);
        match self.clients.task_definition(task_definition).await {
            Ok(td) if !td.images.is_empty() => {
                format!("{} (task definition {short})", td.images.join(", "))
            }
            _ => task_definition.to_string(),
        }
    }

    /// After ECS rolled a failed image back, puts the stack's `ContainerImage` back to `previous`
    /// when CloudFormation has not (the stack says UPDATE_COMPLETE with the failed image), so the
    /// stack says what serves and `rig up` keeps it. Returns what was done, for the hint (`None`:
    /// CloudFormation is rolling the stack back itself, which the hint already says).
    pub(super) async fn restore_image(&self, stack: &str, previous: &str) -> Option<String> {
        let state = match self.stacks().describe(stack).await {
            Ok(Some(s)) => s,
            _ => return Some(format!("look at {stack} with `rig status`")),
        };
        if state.in_progress() {
            return None;
        }
        if state.parameter("ContainerImage") == Some(previous) {
            return Some(format!("the stack is back on {previous}"));
        }
        self.events.note(format!(
            "{stack}: returning the stack to {previous}, the image ECS serves"
        ));
        let mut watcher = Watcher::new(self, stack, None, Some(&state));
        if watcher.before().await.is_err() {
            return Some(format!("deploy {previous} again with `rig app deploy`"));
        }
        let changed = self
            .stacks()
            .set_parameters(
                &state,
                &[("ContainerImage".to_string(), previous.to_string())],
            )
            .await;
        if let Err(e) = changed {
            return Some(format!("the stack still names the failed image ({e}); deploy {previous} again with `rig app deploy`"));
        }
        if let Ok(Some(after)) = self.stacks().describe(stack).await {
            if let Some(td) = after.output("TaskDefinitionArn") {
                watcher.watch.expect(td.to_string());
            }
            watcher.adopt_outputs(&after);
        }
        Some(match watcher.until_done(RESTORE_TIMEOUT).await {
            Ok(_) => format!("rig returned the stack to {previous}, so `rig up` keeps serving it"),
            Err(e) => format!(
                "rig returned the stack to {previous}, but its rollout did not complete ({e})"
            ),
        })
    }
}
