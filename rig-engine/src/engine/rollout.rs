//! Judging an ECS rollout from what the service says, not from what the stack says: a stack can
//! be `UPDATE_COMPLETE` while the deployment circuit breaker rolled the service back to the
//! previous task definition. Pure: the caller polls DescribeServices and hands each
//! [`ServiceView`] to [`Watch::judge`].

use std::collections::BTreeSet;

use crate::cloud::apps::{DeploymentView, ServiceView};

/// What was there before an update, and what the update should end with.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// Deployment ids before the update: any other deployment was created by it.
    before: BTreeSet<String>,
    /// The task definition of the PRIMARY deployment before the update.
    before_task_definition: Option<String>,
    /// The stack's task definition after the update, when known.
    expected_task_definition: Option<String>,
    /// Service events already shown (the ones from before the update count as shown).
    seen_events: BTreeSet<String>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not finished; `note` says what ECS is doing
    /// (`deployment ecs-svc/123: 1 of 2 running, 1 pending (IN_PROGRESS)`).
    Waiting { note: String },
    /// The PRIMARY deployment `deployment` runs `task_definition` (an ARN) on every desired task.
    Completed {
        deployment: String,
        task_definition: String,
    },
    /// A deployment of this update failed (`reason`: ECS's rollout reason, or what differs);
    /// `rolled_back_to` is the task definition the service went back to, if it did.
    Failed {
        reason: String,
        rolled_back_to: Option<String>,
    },
}

const PRIMARY: &str = "PRIMARY";
const COMPLETED: &str = "COMPLETED";
const FAILED: &str = "FAILED";

impl Watch {
    /// A watch of an update of the service `before` (`None`: the update creates the service,
    /// so every deployment is new).
    pub fn new(before: Option<&ServiceView>) -> Watch {
        let Some(b) = before else {
            return Watch::default();
        };
        Watch {
            before: b.deployments.iter().map(|d| d.id.clone()).collect(),
            before_task_definition: primary(b).map(|d| d.task_definition.clone()),
            expected_task_definition: None,
            seen_events: b.events.iter().map(event_key).collect(),
        }
    }

    /// The task definition (ARN) the update must end with: the stack's, read once the stack
    /// update has reached the service. A COMPLETED PRIMARY with another one is a rollback.
    pub fn expect(&mut self, task_definition: String) {
        self.expected_task_definition = Some(task_definition);
    }

    /// Where the rollout stands in `now`. Failed: a deployment created by the update has
    /// rollout state FAILED (circuit breaker), or the PRIMARY deployment is COMPLETED with a
    /// task definition other than the expected one. Completed: the PRIMARY is COMPLETED, runs
    /// the expected task definition (when known) on as many tasks as it wants, and is either
    /// new or runs the task definition of before (a change that needed no new deployment, such
    /// as the desired count). Waiting otherwise. Judge only once the update has reached the
    /// service (its stack resource updated): before, an unchanged service looks finished.
    pub fn judge(&self, now: &ServiceView) -> Verdict {
        let primary = primary(now);
        let failed = now
            .deployments
            .iter()
            .find(|d| self.is_new(d) && d.rollout_state.as_deref() == Some(FAILED));
        if let Some(f) = failed {
            return Verdict::Failed {
                reason: f
                    .rollout_reason
                    .clone()
                    .unwrap_or_else(|| format!("deployment {} failed", f.id)),
                rolled_back_to: primary
                    .filter(|p| p.id != f.id)
                    .map(|p| p.task_definition.clone()),
            };
        }
        let Some(p) = primary else {
            return Verdict::Waiting {
                note: format!("service {}: no PRIMARY deployment yet", now.name),
            };
        };
        let completed = p.rollout_state.as_deref() == Some(COMPLETED);
        if let Some(expected) = &self.expected_task_definition {
            if completed && p.task_definition != *expected {
                return Verdict::Failed {
                    reason: format!(
                        "the service's PRIMARY deployment {} runs {}, not the stack's {expected}: \
                         ECS rolled the deployment back",
                        p.id, p.task_definition
                    ),
                    rolled_back_to: Some(p.task_definition.clone()),
                };
            }
        }
        let unchanged = self.before_task_definition.as_deref() == Some(&p.task_definition);
        if completed && p.running == p.desired && (self.is_new(p) || unchanged) {
            return Verdict::Completed {
                deployment: p.id.clone(),
                task_definition: p.task_definition.clone(),
            };
        }
        Verdict::Waiting { note: note(p) }
    }

    /// The messages of the service events not returned before (by event id), oldest first;
    /// events from before the update are never returned.
    pub fn new_events(&mut self, now: &ServiceView) -> Vec<String> {
        // ECS lists events newest first.
        now.events
            .iter()
            .rev()
            .filter(|e| self.seen_events.insert(event_key(e)))
            .map(|e| e.message.clone())
            .collect()
    }

    fn is_new(&self, d: &DeploymentView) -> bool {
        !self.before.contains(&d.id)
    }
}

fn primary(s: &ServiceView) -> Option<&DeploymentView> {
    s.deployments.iter().find(|d| d.status == PRIMARY)
}

/// What identifies an event: its id (its message when ECS gave none).
fn event_key(e: &crate::cloud::apps::ServiceEvent) -> String {
    if e.id.is_empty() {
        e.message.clone()
    } else {
        e.id.clone()
    }
}

/// `deployment ecs-svc/123: 1 of 2 running, 1 pending, 3 failed (IN_PROGRESS)`.
fn note(d: &DeploymentView) -> String {
    let failed = if d.failed > 0 {
        format!(", {} failed", d.failed)
    } else {
        String::new()
    };
    format!(
        "deployment {}: {} of {} running, {} pending{failed} ({})",
        d.id,
        d.running,
        d.desired,
        d.pending,
        d.rollout_state.as_deref().unwrap_or("no rollout state")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::apps::ServiceEvent;

    const OLD_TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:1";
    const NEW_TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:2";

    fn deployment(id: &str, status: &str, td: &str, state: &str, running: i32) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: Some(state.into()),
            rollout_reason: None,
            desired: 2,
            running,
            pending: 2 - running,
            failed: 0,
            created_epoch_s: Some(1_700_000_000.0),
        }
    }

    fn event(id: &str, message: &str) -> ServiceEvent {
        ServiceEvent {
            id: id.into(),
            created_epoch_s: None,
            message: message.into(),
        }
    }

    fn service(deployments: Vec<DeploymentView>, events: Vec<ServiceEvent>) -> ServiceView {
        ServiceView {
            arn: "arn:aws:ecs:us-east-1:123456789012:service/c/api".into(),
            name: "api".into(),
            cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/c".into(),
            status: "ACTIVE".into(),
            launch_type: Some("FARGATE".into()),
            task_definition: OLD_TD.into(),
            desired: 2,
            running: deployments.iter().map(|d| d.running).sum(),
            pending: deployments.iter().map(|d| d.pending).sum(),
            deployments,
            events,
        }
    }

    /// The service before the update: deployment `ecs-svc/1` on `OLD_TD`, steady.
    fn before() -> ServiceView {
        service(
            vec![deployment("ecs-svc/1", PRIMARY, OLD_TD, COMPLETED, 2)],
            vec![event("e1", "(service api) has reached a steady state.")],
        )
    }

    fn watch() -> Watch {
        let mut w = Watch::new(Some(&before()));
        w.expect(NEW_TD.into());
        w
    }

    #[test]
    fn a_new_deployment_that_completes_is_completed() {
        let now = service(
            vec![
                deployment("ecs-svc/2", PRIMARY, NEW_TD, COMPLETED, 2),
                deployment("ecs-svc/1", "INACTIVE", OLD_TD, COMPLETED, 0),
            ],
            vec![],
        );
        let want = Verdict::Completed {
            deployment: "ecs-svc/2".into(),
            task_definition: NEW_TD.into(),
        };
        assert_eq!(watch().judge(&now), want);
        // Without the stack's task definition, the new deployment alone decides.
        assert_eq!(Watch::new(Some(&before())).judge(&now), want);
        // A created service: every deployment is new.
        assert_eq!(Watch::new(None).judge(&now), want);
    }

    #[test]
    fn a_new_deployment_still_rolling_is_waiting() {
        let now = service(
            vec![
                deployment("ecs-svc/2", PRIMARY, NEW_TD, "IN_PROGRESS", 1),
                deployment("ecs-svc/1", "ACTIVE", OLD_TD, COMPLETED, 2),
            ],
            vec![],
        );
        let note = "deployment ecs-svc/2: 1 of 2 running, 1 pending (IN_PROGRESS)".to_string();
        assert_eq!(watch().judge(&now), Verdict::Waiting { note });
        // Not yet updated: the old deployment is still the only one.
        let waiting = watch().judge(&service(
            vec![deployment("ecs-svc/1", PRIMARY, OLD_TD, "IN_PROGRESS", 2)],
            vec![],
        ));
        assert!(matches!(waiting, Verdict::Waiting { .. }), "{waiting:?}");
        // A service created a moment ago may have no deployment yet.
        assert_eq!(
            Watch::new(None).judge(&service(vec![], vec![])),
            Verdict::Waiting {
                note: "service api: no PRIMARY deployment yet".into()
            }
        );
        // COMPLETED but short of tasks is not done.
        let mut short = deployment("ecs-svc/2", PRIMARY, NEW_TD, COMPLETED, 1);
        short.failed = 3;
        let note = "deployment ecs-svc/2: 1 of 2 running, 1 pending, 3 failed (COMPLETED)";
        assert_eq!(
            watch().judge(&service(vec![short], vec![])),
            Verdict::Waiting { note: note.into() }
        );
    }

    #[test]
    fn a_circuit_breaker_failure_is_failed_with_what_the_service_went_back_to() {
        let reason = "ECS deployment circuit breaker: tasks failed to start.";
        let mut failed = deployment("ecs-svc/2", "ACTIVE", NEW_TD, FAILED, 0);
        failed.rollout_reason = Some(reason.into());
        let now = service(
            vec![
                deployment("ecs-svc/1", PRIMARY, OLD_TD, "IN_PROGRESS", 2),
                failed.clone(),
            ],
            vec![],
        );
        let want = Verdict::Failed {
            reason: reason.into(),
            rolled_back_to: Some(OLD_TD.into()),
        };
        assert_eq!(watch().judge(&now), want);
        assert_eq!(Watch::new(Some(&before())).judge(&now), want);
        // Failed while still PRIMARY (no rollback yet): nothing to name.
        failed.status = PRIMARY.into();
        assert_eq!(
            watch().judge(&service(vec![failed], vec![])),
            Verdict::Failed {
                reason: reason.into(),
                rolled_back_to: None,
            }
        );
        // A failure from before the update is not this update's.
        let mut old = deployment("ecs-svc/0", "ACTIVE", OLD_TD, FAILED, 0);
        old.rollout_reason = Some("old".into());
        let mut w = Watch::new(Some(&service(
            vec![
                deployment("ecs-svc/1", PRIMARY, OLD_TD, COMPLETED, 2),
                old.clone(),
            ],
            vec![],
        )));
        w.expect(NEW_TD.into());
        let now = service(
            vec![deployment("ecs-svc/2", PRIMARY, NEW_TD, COMPLETED, 2), old],
            vec![],
        );
        assert!(matches!(w.judge(&now), Verdict::Completed { .. }));
    }

    #[test]
    fn a_completed_primary_on_another_task_definition_is_a_rollback() {
        // The stack says UPDATE_COMPLETE with NEW_TD; the service runs OLD_TD again and the
        // failed deployment is gone from the list.
        let now = service(
            vec![deployment("ecs-svc/1", PRIMARY, OLD_TD, COMPLETED, 2)],
            vec![],
        );
        match watch().judge(&now) {
            Verdict::Failed {
                reason,
                rolled_back_to,
            } => {
                assert_eq!(rolled_back_to.as_deref(), Some(OLD_TD));
                assert!(
                    reason.contains(NEW_TD) && reason.contains("rolled"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        // The same through a new rollback deployment.
        let now = service(
            vec![deployment("ecs-svc/3", PRIMARY, OLD_TD, COMPLETED, 2)],
            vec![],
        );
        assert!(matches!(watch().judge(&now), Verdict::Failed { .. }));
    }

    #[test]
    fn a_scale_only_change_completes_on_the_same_deployment() {
        let mut w = Watch::new(Some(&before()));
        w.expect(OLD_TD.into());
        let mut scaling = deployment("ecs-svc/1", PRIMARY, OLD_TD, COMPLETED, 2);
        scaling.desired = 3;
        scaling.pending = 1;
        let note = "deployment ecs-svc/1: 2 of 3 running, 1 pending (COMPLETED)".to_string();
        assert_eq!(
            w.judge(&service(vec![scaling.clone()], vec![])),
            Verdict::Waiting { note }
        );
        scaling.running = 3;
        scaling.pending = 0;
        let want = Verdict::Completed {
            deployment: "ecs-svc/1".into(),
            task_definition: OLD_TD.into(),
        };
        assert_eq!(w.judge(&service(vec![scaling.clone()], vec![])), want);
        // Without the stack's task definition: the one of before.
        assert_eq!(
            Watch::new(Some(&before())).judge(&service(vec![scaling], vec![])),
            want
        );
    }

    #[test]
    fn events_are_returned_once_oldest_first_and_never_those_of_before() {
        let mut w = watch();
        let steady = event("e1", "(service api) has reached a steady state.");
        let started = event("e2", "(service api) has started 1 tasks: (task a).");
        let now = service(vec![], vec![started.clone(), steady.clone()]);
        assert_eq!(w.new_events(&now), [started.message.as_str()]);
        assert!(w.new_events(&now).is_empty());
        let healthy = event(
            "e3",
            "(service api) registered 1 targets in (target-group tg)",
        );
        let now = service(vec![], vec![healthy.clone(), started, steady]);
        assert_eq!(w.new_events(&now), [healthy.message]);
    }
}
