//! Watching one app's ECS service while it rolls out: its deployments (judged by
//! [`crate::engine::rollout`]), its events, its stopped tasks' reasons and its targets' health,
//! each streamed once.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cloud::apps::ServiceView;
use crate::cloud::cfn::{Backoff, StackState};
use crate::engine::apps::AppError;
use crate::engine::rollout::{Verdict, Watch};
use crate::engine::{Engine, EngineError};

/// Watches one app's ECS service: its rollout, events, stopped tasks and target health.
pub(crate) struct Watcher<'e> {
    engine: &'e Engine,
    stack: String,
    cluster: Option<String>,
    service: Option<String>,
    target_group: Option<String>,
    pub(crate) watch: Watch,
    seen_tasks: BTreeSet<String>,
    seen_targets: BTreeSet<String>,
}

impl<'e> Watcher<'e> {
    pub(crate) fn new(
        engine: &'e Engine,
        stack: &str,
        cluster: Option<String>,
        live: Option<&StackState>,
    ) -> Self {
        let mut w = Watcher {
            engine,
            stack: stack.to_string(),
            cluster,
            service: None,
            target_group: None,
            watch: Watch::new(None),
            seen_tasks: BTreeSet::new(),
            seen_targets: BTreeSet::new(),
        };
        if let Some(l) = live {
            w.adopt_outputs(l);
        }
        w
    }

    /// The app stack watched.
    pub(crate) fn stack(&self) -> &str {
        &self.stack
    }

    pub(crate) fn adopt_outputs(&mut self, st: &StackState) {
        if let Some(c) = st.output("ClusterName") {
            self.cluster = Some(c.to_string());
        }
        if let Some(s) = st.output("ServiceArn").or_else(|| st.output("ServiceName")) {
            self.service = Some(s.to_string());
        }
        if let Some(t) = st.output("TargetGroupArn") {
            self.target_group = Some(t.to_string());
        }
    }

    /// Records what the service looks like before the change (its deployments, its stopped
    /// tasks and events so far), so only what the change brings is judged and shown.
    pub(crate) async fn before(&mut self) -> Result<(), EngineError> {
        let Some(view) = self.service_view().await? else {
            return Ok(());
        };
        self.watch = Watch::new(Some(&view));
        self.watch.new_events(&view);
        let c = self.engine.clients.clone();
        if let Some(cluster) = &self.cluster {
            for t in c.stopped_tasks(cluster, &view.name).await? {
                self.seen_tasks.insert(t.arn);
            }
        }
        Ok(())
    }

    pub(crate) async fn service_view(&mut self) -> Result<Option<ServiceView>, EngineError> {
        if self.service.is_none() || self.target_group.is_none() {
            // While the stack is being created its outputs are not there yet.
            let resources = self.engine.stacks().resources(&self.stack).await;
            for r in resources.unwrap_or_default() {
                match r.logical_id.as_str() {
                    "Service" if !r.physical_id.is_empty() => {
                        self.service = Some(r.physical_id.clone())
                    }
                    "TargetGroup" if !r.physical_id.is_empty() => {
                        self.target_group = Some(r.physical_id.clone())
                    }
                    _ => {}
                }
            }
        }
        let (Some(cluster), Some(service)) = (&self.cluster, &self.service) else {
            return Ok(None);
        };
        Ok(self
            .engine
            .clients
            .describe_service(cluster, service)
            .await?)
    }

    /// One look: streams what is new, and judges the rollout.
    pub(crate) async fn look(&mut self) -> Result<Option<Verdict>, EngineError> {
        let Some(view) = self.service_view().await? else {
            return Ok(None);
        };
        let ev = self.engine.events.clone();
        for e in self.watch.new_events(&view) {
            ev.note(format!("{}: {e}", self.stack));
        }
        let c = self.engine.clients.clone();
        if let Some(cluster) = &self.cluster {
            for t in c.stopped_tasks(cluster, &view.name).await? {
                if !self.seen_tasks.insert(t.arn.clone()) {
                    continue;
                }
                let containers: Vec<String> = t
                    .containers
                    .iter()
                    .map(|k| {
                        format!(
                            "container {} exit code {}{}",
                            k.name,
                            k.exit_code.map_or("-".into(), |c| c.to_string()),
                            k.reason
                                .as_ref()
                                .map(|r| format!(" ({r})"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                ev.note(format!(
                    "{}: task {} stopped: {}{}",
                    self.stack,
                    t.arn.rsplit('/').next().unwrap_or(&t.arn),
                    t.stopped_reason.as_deref().unwrap_or("no reason given"),
                    if containers.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", containers.join(", "))
                    }
                ));
            }
        }
        if let Some(tg) = &self.target_group {
            for t in c.target_health(tg).await? {
                if t.state == "healthy" || t.state == "initial" {
                    continue;
                }
                let key = format!("{}:{:?}:{}", t.id, t.port, t.state);
                if self.seen_targets.insert(key) {
                    ev.note(format!(
                        "{}: target {}{} is {}: {}{}",
                        self.stack,
                        t.id,
                        t.port.map(|p| format!(":{p}")).unwrap_or_default(),
                        t.state,
                        t.reason.as_deref().unwrap_or("-"),
                        t.description
                            .as_ref()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    ));
                }
            }
        }
        Ok(Some(self.watch.judge(&view)))
    }

    /// Polls until the rollout completes or fails, or `timeout` passes.
    pub(crate) async fn until_done(
        &mut self,
        timeout: Duration,
    ) -> Result<(ServiceView, String, String), EngineError> {
        let mut poll = Backoff {
            timeout,
            ..self.engine.options.backoff
        }
        .poll(&self.stack);
        let mut last_note = String::new();
        loop {
            match self.look().await? {
                Some(Verdict::Completed {
                    deployment,
                    task_definition,
                }) => {
                    let view = self.service_view().await?.ok_or_else(|| self.gone())?;
                    return Ok((view, deployment, task_definition));
                }
                Some(Verdict::Failed {
                    reason,
                    rolled_back_to,
                }) => return Err(self.failure(reason, rolled_back_to, false).into()),
                Some(Verdict::Waiting { note }) if note != last_note => {
                    self.engine.events.note(format!("{}: {note}", self.stack));
                    last_note = note;
                }
                Some(Verdict::Waiting { .. }) => {}
                None => return Err(self.gone().into()),
            }
            if poll.next().await.is_err() {
                return Err(AppError::RolloutFailed {
                    stack: self.stack.clone(),
                    reason: format!(
                        "the ECS deployment did not complete within {} s",
                        timeout.as_secs()
                    ),
                    rolled_back_to: None,
                    hint: "`rig app status` shows its tasks and targets; wait and look again, or deploy another image".into(),
                }
                .into());
            }
        }
    }

    fn gone(&self) -> AppError {
        AppError::RolloutFailed {
            stack: self.stack.clone(),
            reason: "its ECS service cannot be found".into(),
            rolled_back_to: None,
            hint: format!(
                "look at the stack: `rig status` and the events of {}",
                self.stack
            ),
        }
    }

    pub(crate) fn failure(
        &self,
        reason: String,
        rolled_back_to: Option<String>,
        early: bool,
    ) -> AppError {
        let hint = if early {
            "CloudFormation is rolling the stack back on its own; fix the image and run `rig app deploy` again (`rig app logs` shows what the tasks printed)"
        } else {
            "fix the image and run `rig app deploy` again (`rig app logs` shows what the tasks printed)"
        };
        AppError::RolloutFailed {
            stack: self.stack.clone(),
            reason,
            rolled_back_to,
            hint: hint.to_string(),
        }
    }
}
