//! One stack's state machine: wait for an earlier run, refuse what cannot be updated, replace
//! a failed create (with consent), prepare a change set, execute it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cloud::cfn::{
    ChangeKind, Prepared, ResourceChange, StackError, StackInput, StackState, StackStatus, Stacks,
    TemplateSource,
};
use crate::cloud::store::Touch;
use crate::cloud::Clients;
use crate::engine::status::probe;
use crate::engine::{env_flag, EngineError, EngineOptions, Outcome, StackReport};
use crate::events::{Event, EventSink, Phase};
use crate::planner::PlannedStack;

/// What a deploy task owns.
pub(crate) struct Ctx {
    pub(crate) clients: Clients,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) options: EngineOptions,
    pub(crate) in_flight: Arc<Mutex<BTreeMap<String, String>>>,
    /// Set when this task uploaded its template.
    pub(crate) uploaded: std::sync::atomic::AtomicBool,
    /// The stack deploys in CloudFormation's express mode ([`RigletPlan::express`]).
    pub(crate) express: bool,
}

pub(crate) fn stack_input<'a>(
    s: &'a PlannedStack,
    template: TemplateSource<'a>,
    express: bool,
) -> StackInput<'a> {
    StackInput {
        name: &s.plan.name,
        template,
        express,
        parameters: s
            .plan
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        tags: s
            .plan
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        capabilities: s
            .plan
            .capabilities
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    }
}

impl Ctx {
    pub(crate) fn stacks(&self) -> Stacks<'_> {
        Stacks {
            clients: &self.clients,
            events: self.events.as_ref(),
            backoff: self.options.backoff,
        }
    }

    fn mark(&self, stack: &str, phase: Option<Phase>) {
        let mut m = self.in_flight.lock().expect("lock");
        match phase {
            Some(p) => {
                m.insert(stack.to_string(), p.as_str().to_string());
                self.events.emit(Event::StackPhase {
                    stack: stack.to_string(),
                    phase: p,
                });
            }
            None => {
                m.remove(stack);
            }
        }
    }

    /// Writes the objects the stack reads (a pipeline's template zips), each only if changed.
    async fn upload_objects(&self, s: &PlannedStack) -> Result<(), EngineError> {
        for u in &s.uploads {
            let touch = self
                .clients
                .put_object_if_changed(&u.bucket, &u.key, &u.body)
                .await?;
            tracing::debug!(bucket = %u.bucket, key = %u.key, ?touch, "pipeline template zip");
        }
        Ok(())
    }

    /// Converges one stack (or, when assessed unchanged, reports it so at once).
    pub(crate) async fn deploy_one(
        &self,
        s: PlannedStack,
        work: Work,
        live: Option<StackState>,
        t0: Instant,
    ) -> StackReport {
        let started_ms = t0.elapsed().as_millis();
        let name = s.plan.name.clone();
        let result = match self.upload_objects(&s).await {
            Err(e) => Err(e),
            Ok(()) => match work {
                Work::Unchanged => Ok((Outcome::Unchanged, vec![])),
                Work::Converge => {
                    self.events.emit(Event::StackStarted {
                        stack: name.clone(),
                    });
                    self.try_deploy(&s, live).await
                }
            },
        };
        self.mark(&name, None);
        let finished_ms = t0.elapsed().as_millis();
        let uploaded = self.uploaded.load(std::sync::atomic::Ordering::SeqCst);
        let (outcome, changes, error) = match result {
            Ok((o, c)) => (o, c, None),
            Err(e) => (Outcome::Failed, vec![], Some(e.to_string())),
        };
        self.events.emit(Event::StackDone {
            stack: name.clone(),
            outcome,
            error: error.clone(),
        });
        StackReport {
            name,
            env: s.env.clone(),
            outcome,
            changes,
            error,
            started_ms,
            finished_ms,
            template_uploaded: uploaded,
        }
    }

    async fn try_deploy(
        &self,
        s: &PlannedStack,
        live: Option<StackState>,
    ) -> Result<(Outcome, Vec<ResourceChange>), EngineError> {
        let st = self.stacks();
        let name = s.plan.name.as_str();
        let mut state = live;
        if state.as_ref().is_some_and(|x| x.in_progress()) {
            self.mark(name, Some(Phase::WaitingForEarlierRun));
            let seen = st.latest_event_ids(name).await?;
            // Whatever it ends in, we continue from there.
            let _ = st.wait(name, seen).await;
            state = st.describe(name).await?;
        }
        if let Some(x) = state.as_ref().filter(|x| x.delete_failed()) {
            return Err(StackError::Failed {
                stack: name.to_string(),
                status: x.status.to_string(),
                reasons: vec![
                    "a `rig down` did not finish deleting it, so it cannot be updated".into(),
                    format!(
                        "run `rig down{}` first: it retries the deletion and says what blocks it; then `rig up` creates it again",
                        env_flag(s.env.as_deref())
                    ),
                ],
                resources: vec![],
            }
            .into());
        }
        if let Some(x) = state.as_ref().filter(|x| x.failed_create()) {
            if !self.options.replace_failed {
                let reason = x.reason.clone().unwrap_or_default();
                return Err(StackError::Failed {
                    stack: name.to_string(),
                    status: x.status.to_string(),
                    reasons: vec![
                        format!(
                            "its creation failed earlier{}",
                            if reason.is_empty() {
                                String::new()
                            } else {
                                format!(": {reason}")
                            }
                        ),
                        "run `rig up --replace-failed` to delete and re-create it".into(),
                    ],
                    resources: vec![],
                }
                .into());
            }
            self.mark(name, Some(Phase::DeletingFailedStack));
            st.delete(name).await?;
            state = None;
        }
        if let Some(x) = state
            .as_ref()
            .filter(|x| x.status == StackStatus::UpdateRollbackFailed)
        {
            return Err(StackError::Failed {
                stack: name.to_string(),
                status: x.status.to_string(),
                reasons: vec!["continue the rollback (aws cloudformation continue-update-rollback), then run `rig up` again".into()],
                resources: vec![],
            }
            .into());
        }
        // Refusals come first: nothing is uploaded for a stack that cannot be changed.
        let (url, touch) = self
            .clients
            .upload_template(
                &s.template_bucket,
                &s.plan.template_file,
                &s.plan.template_body,
            )
            .await?;
        if touch == Touch::Created {
            self.uploaded
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.mark(name, Some(Phase::PreparingChangeSet));
        let input = stack_input(s, TemplateSource::Url(url), self.express);
        match st.prepare(&input, state.as_ref()).await? {
            Prepared::Unchanged => Ok((Outcome::Unchanged, vec![])),
            Prepared::Ready {
                change_set,
                kind,
                changes,
            } => {
                let (phase, outcome) = match kind {
                    ChangeKind::Create => (Phase::Creating, Outcome::Created),
                    ChangeKind::Update => (Phase::Updating, Outcome::Updated),
                };
                self.mark(name, Some(phase));
                let state = st.execute(name, &change_set).await?;
                if self.express {
                    self.await_ready(s, &state).await?;
                }
                Ok((outcome, changes))
            }
        }
    }

    /// Express mode: CloudFormation reported the stack done once its configuration was
    /// applied, so its resources may still be starting. Polls the stack's own health probes
    /// (an RDS cluster `available`, an ECS cluster's container instances registered, ...) until
    /// all pass, so what depends on the stack starts only once it is really ready.
    ///
    /// Errors: [`StackError::Timeout`] once the engine's wait timeout has passed.
    async fn await_ready(&self, s: &PlannedStack, state: &StackState) -> Result<(), EngineError> {
        if s.plan.probes.is_empty() {
            return Ok(());
        }
        self.mark(&s.plan.name, Some(Phase::AwaitingReadiness));
        let mut poll = self.options.backoff.poll(&s.plan.name);
        loop {
            let mut waiting = Vec::new();
            for p in &s.plan.probes {
                let r = probe(&self.clients, p, state).await;
                if !r.healthy {
                    waiting.push(format!("{}: {}", r.what, r.detail));
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            tracing::debug!(stack = %s.plan.name, ?waiting, "not ready yet");
            poll.next().await?;
        }
    }
}

/// What `up` found a stack needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// Deployed exactly as planned: nothing to do.
    Unchanged,
    /// Wait, replace, refuse, or go through a change set.
    Converge,
}

#[cfg(test)]
mod tests {
    //! States the local emulator cannot produce, checked without AWS: each is refused before
    //! any call (the engine's call counter stays at zero; the endpoint is unreachable anyway).
    use super::*;
    use crate::cloud::cfn::{Backoff, StackStatus};
    use crate::events::Collect;
    use rig_core::Role;

    fn ctx() -> Ctx {
        Ctx {
            clients: Clients::offline(),
            events: Arc::new(Collect::default()),
            options: EngineOptions {
                backoff: Backoff::default(),
                ..Default::default()
            },
            in_flight: Default::default(),
            uploaded: Default::default(),
            express: false,
        }
    }

    fn planned() -> PlannedStack {
        PlannedStack::for_test(
            "acme-shop-staging-compute-ecs",
            Some("staging"),
            Role::Compute,
            &[],
        )
    }

    fn live(status: StackStatus) -> StackState {
        StackState {
            reason: Some("The following resource(s) failed to update: [Service].".into()),
            ..StackState::for_test("acme-shop-staging-compute-ecs", status, Default::default())
        }
    }

    fn refusal(status: StackStatus) -> (String, usize) {
        let ctx = ctx();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(ctx.try_deploy(&planned(), Some(live(status))))
            .expect_err("the stack must be refused");
        (err.to_string(), ctx.clients.calls.snapshot().total())
    }

    #[test]
    fn an_update_whose_rollback_failed_is_refused_with_the_way_out() {
        let (msg, calls) = refusal(StackStatus::UpdateRollbackFailed);
        assert!(msg.contains("UPDATE_ROLLBACK_FAILED"), "{msg}");
        assert!(msg.contains("continue-update-rollback"), "{msg}");
        assert_eq!(calls, 0, "no AWS call for a refused stack");
    }

    #[test]
    fn a_stack_a_down_left_half_deleted_is_refused_pointing_at_down() {
        let (msg, calls) = refusal(StackStatus::DeleteFailed);
        assert!(msg.contains("DELETE_FAILED"), "{msg}");
        assert!(msg.contains("run `rig down --env staging` first"), "{msg}");
        assert!(!msg.contains("resumes"), "{msg}");
        assert_eq!(calls, 0);
    }

    #[test]
    fn a_failed_create_is_replaced_only_with_consent() {
        for status in [
            StackStatus::RollbackComplete,
            StackStatus::RollbackFailed,
            StackStatus::CreateFailed,
        ] {
            let (msg, calls) = refusal(status.clone());
            assert!(msg.contains(status.as_str()), "{msg}");
            assert!(msg.contains("rig up --replace-failed"), "{msg}");
            assert!(msg.contains("failed to update: [Service]"), "{msg}");
            assert_eq!(calls, 0);
        }
    }
}
