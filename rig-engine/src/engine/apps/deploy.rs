//! `rig app deploy` and `rig app scale`: one app stack changed through a change set, then the
//! ECS rollout watched until it is truthfully done.
//!
//! Done means: the deployment this change created is the service's PRIMARY one, COMPLETED, with
//! the task definition the stack now names and every desired task running. A circuit-breaker
//! FAILED state, or a PRIMARY that went back to the previous task definition (ECS rolled back),
//! is a failure even when CloudFormation says UPDATE_COMPLETE. ECS is watched while
//! CloudFormation works, so a crashing image fails as soon as the circuit breaker trips, not
//! after CloudFormation's own wait; stopped tasks' reasons, unhealthy targets and the service's
//! events stream to the user meanwhile.

use std::time::{Duration, Instant};

use rig_core::Role;
use serde::Serialize;

use crate::cloud::apps::ServiceView;
use crate::cloud::cfn::{Backoff, StackError, StackState};
use crate::engine::apps::watch::Watcher;
use crate::engine::apps::{AppError, ImageChoice};
use crate::engine::converge::Work;
use crate::engine::record::Record;
use crate::engine::rollout::Verdict;
use crate::engine::{Engine, EngineError, Outcome};
use crate::planner::{PlannedStack, RigletPlan};
use crate::secrets::Prompt;

/// What to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppOperation {
    /// Create or update the stack to run this image (`REGISTRY/REPOSITORY:TAG`).
    Deploy { image: String },
    /// Change the live stack's task count, CPU units or memory (MiB), nothing else.
    Scale {
        tasks: Option<u32>,
        cpu: Option<u32>,
        memory: Option<u32>,
    },
}

/// One `rig app deploy` or `rig app scale`.
#[derive(Debug, Clone)]
pub struct AppDeployRequest {
    pub env: String,
    /// The app's name (or `name@branch`).
    pub app: String,
    pub operation: AppOperation,
    /// How long to wait for the ECS rollout after CloudFormation is done.
    pub rollout_timeout: Duration,
}

/// What a deploy or scale did.
#[derive(Debug, Clone, Serialize)]
pub struct AppDeployReport {
    pub stack: String,
    pub env: String,
    pub app: String,
    pub outcome: Outcome,
    pub image: String,
    /// The task definition the service runs now.
    pub task_definition: String,
    /// The ECS deployment that completed (`ecs-svc/...`).
    pub deployment: String,
    pub running: i32,
    pub desired: i32,
    pub seconds: f64,
    pub urls: Vec<String>,
}

/// Checks an image reference before any AWS call: `[REGISTRY/]REPOSITORY(:TAG|@DIGEST)`, at
/// most 255 characters (the ECS container definition's `image` limit,
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_image>).
pub fn check_image(image: &str) -> Result<(), AppError> {
    let bad = |problem: &str| AppError::BadImage {
        image: image.to_string(),
        problem: problem.to_string(),
    };
    if image.is_empty() {
        return Err(bad("it is empty"));
    }
    if image.len() > 255 {
        return Err(bad("it is longer than 255 characters"));
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains white space"));
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if !(last.contains(':') || last.contains("@sha256:")) {
        return Err(bad(
            "it has no tag or digest (rig never deploys an implicit `latest`)",
        ));
    }
    if last.starts_with(':') || last.starts_with('@') || last.ends_with(':') {
        return Err(bad("its repository or tag is empty"));
    }
    Ok(())
}

impl Engine {
    /// Deploys an image to, or scales, one app stack and waits for its rollout. `plan` is the
    /// unsettled plan. Errors: the app is not configured, its environment is not up, the stack
    /// is another riglet's, a secret cannot be had, the change set fails, or the rollout fails
    /// ([`AppError::RolloutFailed`], with the reason ECS gave).
    pub async fn deploy_app(
        &self,
        plan: &RigletPlan,
        req: &AppDeployRequest,
        prompt: Option<&dyn Prompt>,
    ) -> Result<AppDeployReport, EngineError> {
        let t0 = Instant::now();
        let stack = app_stack(plan, &req.env, &req.app)?.plan.name.clone();
        let choice = match &req.operation {
            AppOperation::Deploy { image } => {
                check_image(image)?;
                Some(ImageChoice {
                    stack: stack.clone(),
                    image: image.clone(),
                })
            }
            AppOperation::Scale { .. } => None,
        };
        let (settled, record) = self.settle_with_record(plan, choice.as_ref()).await?;
        let Some(planned) = settled.stack(&stack).cloned() else {
            return Err(AppError::NotDeployed {
                stack,
                env: req.env.clone(),
                app: req.app.clone(),
            }
            .into());
        };
        if let Some(f) = record.foreign.iter().find(|f| f.name == stack) {
            return Err(EngineError::NotOwned(vec![f.clone()]));
        }
        for dep in &planned.plan.depends_on {
            let state = record.state(dep);
            if !state.is_some_and(|s| s.status.settled() && !s.failed_create()) {
                return Err(AppError::EnvironmentNotUp {
                    stack: stack.clone(),
                    env: req.env.clone(),
                    missing: dep.clone(),
                    status: state.map(|s| s.status.to_string()),
                }
                .into());
            }
        }
        self.app_secrets(&settled, &planned, &record, prompt)
            .await?;

        let cluster = settled
            .stacks
            .iter()
            .find(|s| s.plan.role == Role::Compute && s.env == planned.env)
            .and_then(|s| record.state(&s.plan.name))
            .and_then(|s| s.output("ClusterName"))
            .map(str::to_string);
        let live = record.state(&stack).cloned();
        let mut watcher = Watcher::new(self, &stack, cluster, live.as_ref());
        watcher.before().await?;
        let previous_image = live
            .as_ref()
            .and_then(|l| l.parameter("ContainerImage"))
            .map(str::to_string);
        self.note_resets(&planned, live.as_ref());
        let express = settled.express(&planned);
        let done = self
            .roll_out(&planned, express, live, req, &mut watcher)
            .await;
        let (after, outcome, view, deployment, task_definition) = match done {
            Ok(d) => d,
            Err(EngineError::App(AppError::RolloutFailed {
                stack,
                reason,
                rolled_back_to,
                hint,
            })) => {
                let (rolled_back_to, hint) = match (rolled_back_to, previous_image) {
                    (Some(td), Some(prev))
                        if matches!(req.operation, AppOperation::Deploy { .. }) =>
                    {
                        let served = self.served(&td).await;
                        match self.restore_image(&stack, &prev).await {
                            Some(restored) => (Some(served), format!("{restored}; {hint}")),
                            None => (Some(served), hint),
                        }
                    }
                    (td, _) => (td, hint),
                };
                return Err(AppError::RolloutFailed {
                    stack,
                    reason,
                    rolled_back_to,
                    hint,
                }
                .into());
            }
            Err(e) => return Err(e),
        };
        let urls = ["ApplicationUrl", "PreferredApplicationUrl"]
            .iter()
            .filter_map(|k| after.output(k).map(str::to_string))
            .collect();
        Ok(AppDeployReport {
            stack,
            env: req.env.clone(),
            app: req.app.clone(),
            outcome,
            image: after
                .parameter("ContainerImage")
                .unwrap_or_default()
                .to_string(),
            task_definition,
            deployment,
            running: view.running,
            desired: view.desired,
            seconds: t0.elapsed().as_secs_f64(),
            urls,
        })
    }

    /// The stack change, then the rollout: the stack as it is after, what happened to it, the
    /// service, and the deployment and task definition that completed.
    async fn roll_out(
        &self,
        planned: &PlannedStack,
        express: bool,
        live: Option<StackState>,
        req: &AppDeployRequest,
        watcher: &mut Watcher<'_>,
    ) -> Result<(StackState, Outcome, ServiceView, String, String), EngineError> {
        let stack = planned.plan.name.clone();
        let outcome = self
            .change(planned, express, live, &req.operation, watcher)
            .await?;
        let after = self.stacks().describe(&stack).await?;
        let after = after.ok_or_else(|| StackError::Failed {
            stack: stack.clone(),
            status: "DELETED".into(),
            reasons: vec!["the stack disappeared while rig waited for it".into()],
            resources: vec![],
        })?;
        if let Some(td) = after.output("TaskDefinitionArn") {
            watcher.watch.expect(td.to_string());
        }
        watcher.adopt_outputs(&after);
        let (view, deployment, task_definition) = watcher.until_done(req.rollout_timeout).await?;
        Ok((after, outcome, view, deployment, task_definition))
    }

    /// The app stack's secrets: verified as this riglet's when they exist, asked for when not.
    async fn app_secrets(
        &self,
        settled: &RigletPlan,
        planned: &PlannedStack,
        record: &Record,
        prompt: Option<&dyn Prompt>,
    ) -> Result<(), EngineError> {
        let mut only = settled.clone();
        only.stacks = vec![planned.clone()];
        only.parameters.clear();
        only.secrets.retain(|s| {
            planned
                .plan
                .secrets
                .iter()
                .any(|r| r.ssm_path == s.requirement.ssm_path)
        });
        let (mut refused, mut notes) = (Vec::new(), Vec::new());
        let store = self
            .survey_store(&only, record, &mut refused, &mut notes)
            .await?;
        if !refused.is_empty() {
            return Err(EngineError::NotOwned(refused));
        }
        for (name, tags) in &store.untagged {
            self.clients.tag_parameter(name, tags).await?;
        }
        self.store_secrets(&only, &store.values, prompt).await?;
        Ok(())
    }

    /// Runs the stack change while watching ECS for a failed rollout; returns what happened to
    /// the stack.
    async fn change(
        &self,
        planned: &PlannedStack,
        express: bool,
        live: Option<StackState>,
        op: &AppOperation,
        watcher: &mut Watcher<'_>,
    ) -> Result<Outcome, EngineError> {
        let mut ctx = self.ctx();
        ctx.express = express;
        let s = planned.clone();
        let scale: Vec<(String, String)> = match op {
            AppOperation::Deploy { .. } => vec![],
            AppOperation::Scale { tasks, cpu, memory } => [
                ("TaskDesiredCount", tasks),
                ("ContainerCpu", cpu),
                ("ContainerMemory", memory),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
            .collect(),
        };
        let mut task = tokio::spawn(async move {
            match (scale.is_empty(), live) {
                (false, Some(state)) => ctx
                    .stacks()
                    .set_parameters(&state, &scale)
                    .await
                    .map(|()| Outcome::Updated)
                    .map_err(|e| e.to_string()),
                (_, live) => {
                    let r = ctx
                        .deploy_one(s, Work::Converge, live, Instant::now())
                        .await;
                    match r.error {
                        Some(e) => Err(e),
                        None => Ok(r.outcome),
                    }
                }
            }
        });
        let mut poll = Backoff {
            timeout: Duration::MAX,
            ..self.options.backoff
        }
        .poll(&planned.plan.name);
        loop {
            tokio::select! {
                done = &mut task => {
                    let done = done.map_err(|e| StackError::Failed {
                        stack: planned.plan.name.clone(),
                        status: "UNKNOWN".into(),
                        reasons: vec![format!("the deploy task ended abnormally: {e}")],
                        resources: vec![],
                    })?;
                    return match done {
                        Ok(o) => Ok(o),
                        Err(e) => {
                            // Say what ECS saw before reporting the stack's failure.
                            let _ = watcher.look().await;
                            Err(StackError::Failed {
                                stack: planned.plan.name.clone(),
                                status: "FAILED".into(),
                                reasons: vec![e],
                                resources: vec![],
                            }
                            .into())
                        }
                    };
                }
                r = poll.next() => {
                    r?;
                    if let Some(Verdict::Failed { reason, rolled_back_to }) = watcher.look().await? {
                        task.abort();
                        return Err(watcher.failure(reason, rolled_back_to, true).into());
                    }
                }
            }
        }
    }
}

/// The app stack of `app` (its name, or `name@branch`) in `env`.
pub(crate) fn app_stack<'p>(
    plan: &'p RigletPlan,
    env: &str,
    app: &str,
) -> Result<&'p PlannedStack, AppError> {
    let in_env = || {
        plan.stacks
            .iter()
            .filter(move |s| s.env.as_deref() == Some(env))
            .filter_map(|s| s.app.as_ref().map(|a| (s, a)))
    };
    in_env()
        .find(|(_, a)| a.key == app)
        .or_else(|| in_env().find(|(_, a)| a.name == app && !a.key.contains('@')))
        .map(|(s, _)| s)
        .ok_or_else(|| AppError::Unknown {
            app: app.to_string(),
            env: env.to_string(),
            available: in_env().map(|(_, a)| a.key.clone()).collect(),
        })
}
