//! Pipelines: the template zips their deploy stages read, and `rig pipeline status | release |
//! approve | reject`.

pub mod artifacts;

use crate::cloud::pipeline::{ActionRun, ChangeSetView, ExecutionSummary};
use crate::engine::{Engine, EngineError};
use crate::planner::{PipelineTarget, RigletPlan};

/// The stage of `templates/pipeline.yaml` that holds the production change set, its manual
/// approval and its execution, and the names of those actions.
pub const PRODUCTION_STAGE: &str = "Deploy-Production";
pub const APPROVAL_ACTION: &str = "ApproveChangeSet";

/// Why a pipeline command cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(
        "rig.toml has no [[pipelines]]\n  hint: add one (see rig.example.toml) and run `rig up`"
    )]
    None,
    #[error("{}\n  hint: name one with --app: {}", if given.is_some() { format!("no pipeline deploys app `{}`", given.as_deref().unwrap_or_default()) } else { "the riglet has several pipelines".to_string() }, known.join(", "))]
    Which {
        given: Option<String>,
        known: Vec<String>,
    },
    #[error("pipeline {pipeline} does not exist\n  hint: run `rig up` to create it")]
    NotCreated { pipeline: String },
    #[error("pipeline {pipeline} has no approval waiting{}\n  hint: `rig pipeline status --app {app}` shows where the latest release is", production.as_ref().map(|p| format!(" (the production stage is {p})")).unwrap_or_default())]
    NoApproval {
        pipeline: String,
        app: String,
        production: Option<String>,
    },
}

/// One stage of one execution: its actions folded together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageRun {
    pub stage: String,
    /// `Failed` if an action failed, else `InProgress` if one is running, else the last
    /// action's status.
    pub status: String,
    /// The action that failed, else the one running, else the last one (`ApproveChangeSet`
    /// while the production approval waits).
    pub action: Option<String>,
    /// From the first action's start to the last action's last update, in milliseconds.
    pub duration_ms: Option<i64>,
    /// The failed action's error, or the last action's summary.
    pub detail: Option<String>,
}

/// An execution with its stages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExecutionStatus {
    #[serde(flatten)]
    pub execution: ExecutionSummary,
    pub stages: Vec<StageRun>,
}

/// `rig pipeline status`: a pipeline's latest executions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PipelineStatus {
    pub pipeline: String,
    pub app: String,
    pub executions: Vec<ExecutionStatus>,
}

/// What `rig pipeline approve|reject` shows before it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    pub pipeline: String,
    pub app: String,
    pub execution_id: Option<String>,
    pub token: String,
    /// The production app stack and its change set (`None`: not found).
    pub stack: String,
    pub change_set: Option<ChangeSetView>,
    /// The image production runs now (`None`: the stack does not exist yet).
    pub current_image: Option<String>,
}

/// The pipeline of `app` (an app's name or key), or the only one.
pub fn pipeline_for<'a>(
    plan: &'a RigletPlan,
    app: Option<&str>,
) -> Result<&'a PipelineTarget, PipelineError> {
    if plan.pipelines.is_empty() {
        return Err(PipelineError::None);
    }
    let known = || plan.pipelines.iter().map(|p| p.app.clone()).collect();
    match app {
        None if plan.pipelines.len() == 1 => Ok(&plan.pipelines[0]),
        None => Err(PipelineError::Which {
            given: None,
            known: known(),
        }),
        Some(a) => {
            let found: Vec<&PipelineTarget> = plan
                .pipelines
                .iter()
                .filter(|p| p.app == a || p.app.split('@').next() == Some(a))
                .collect();
            match found.as_slice() {
                [one] => Ok(one),
                _ => Err(PipelineError::Which {
                    given: Some(a.to_string()),
                    known: known(),
                }),
            }
        }
    }
}

/// Folds one execution's action runs into its stages, in the order they started.
pub fn stages(runs: &[ActionRun]) -> Vec<StageRun> {
    let mut order: Vec<&str> = Vec::new();
    for r in runs {
        if !order.contains(&r.stage.as_str()) {
            order.push(&r.stage);
        }
    }
    order
        .into_iter()
        .map(|stage| {
            let of: Vec<&ActionRun> = runs.iter().filter(|r| r.stage == stage).collect();
            let failed = of.iter().find(|r| r.status == "Failed");
            let running = of.iter().find(|r| r.status == "InProgress");
            let status = if failed.is_some() {
                "Failed".to_string()
            } else if running.is_some() {
                "InProgress".to_string()
            } else {
                of.last().map(|r| r.status.clone()).unwrap_or_default()
            };
            let start = of.iter().filter_map(|r| r.started_ms).min();
            let end = of.iter().filter_map(|r| r.updated_ms).max();
            StageRun {
                stage: stage.to_string(),
                status,
                action: failed.or(running).or(of.last()).map(|r| r.action.clone()),
                duration_ms: start.zip(end).map(|(a, b)| (b - a).max(0)),
                detail: failed
                    .and_then(|r| r.error.clone().or_else(|| r.summary.clone()))
                    .or_else(|| of.last().and_then(|r| r.summary.clone())),
            }
        })
        .collect()
}

impl Engine {
    /// The latest `max` executions of the pipeline of `app`, with each stage's state and time.
    pub async fn pipeline_status(
        &self,
        plan: &RigletPlan,
        app: Option<&str>,
        max: i32,
    ) -> Result<PipelineStatus, EngineError> {
        let target = pipeline_for(plan, app)?;
        let Some(found) = self.clients.pipeline_executions(&target.stack, max).await? else {
            return Err(PipelineError::NotCreated {
                pipeline: target.stack.clone(),
            }
            .into());
        };
        let mut executions = Vec::new();
        for e in found {
            let runs = self.clients.action_runs(&target.stack, &e.id).await?;
            executions.push(ExecutionStatus {
                stages: stages(&runs),
                execution: e,
            });
        }
        Ok(PipelineStatus {
            pipeline: target.stack.clone(),
            app: target.app.clone(),
            executions,
        })
    }

    /// Starts a release of the pipeline of `app` (of `commit` when given); returns the pipeline
    /// and the execution id.
    pub async fn pipeline_release(
        &self,
        plan: &RigletPlan,
        app: Option<&str>,
        commit: Option<&str>,
    ) -> Result<(String, String), EngineError> {
        let target = pipeline_for(plan, app)?;
        match self.clients.start_pipeline(&target.stack, commit).await {
            Ok(id) => Ok((target.stack.clone(), id)),
            Err(e) if e.code() == Some("PipelineNotFoundException") => {
                Err(PipelineError::NotCreated {
                    pipeline: target.stack.clone(),
                }
                .into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The production approval the pipeline of `app` waits for, with the change set it is
    /// about. Errors: no such pipeline, or no approval waiting.
    pub async fn pending_approval(
        &self,
        plan: &RigletPlan,
        app: Option<&str>,
    ) -> Result<PendingApproval, EngineError> {
        let target = pipeline_for(plan, app)?;
        let stack = target
            .app_stacks
            .iter()
            .find(|(e, _)| e == "production")
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let Some(wait) = self
            .clients
            .waiting_approval(&target.stack, PRODUCTION_STAGE, APPROVAL_ACTION)
            .await?
        else {
            let latest = self.pipeline_status(plan, app, 1).await?;
            let production = latest.executions.first().and_then(|e| {
                e.stages
                    .iter()
                    .find(|s| s.stage == PRODUCTION_STAGE)
                    .map(|s| s.status.clone())
            });
            return Err(PipelineError::NoApproval {
                pipeline: target.stack.clone(),
                app: target.app.clone(),
                production,
            }
            .into());
        };
        let change_set = self.clients.change_set_view(&stack, &stack).await?;
        let current_image = self
            .stacks()
            .describe(&stack)
            .await?
            .and_then(|s| s.parameter("ContainerImage").map(str::to_string));
        Ok(PendingApproval {
            pipeline: target.stack.clone(),
            app: target.app.clone(),
            execution_id: wait.execution_id,
            token: wait.token,
            stack,
            change_set,
            current_image,
        })
    }

    /// Answers the approval `pending` was read for.
    pub async fn answer_approval(
        &self,
        pending: &PendingApproval,
        approve: bool,
        comment: &str,
    ) -> Result<(), EngineError> {
        self.clients
            .answer_approval(
                &pending.pipeline,
                PRODUCTION_STAGE,
                APPROVAL_ACTION,
                &pending.token,
                approve,
                comment,
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
