//! `rig app status` and `rig app logs`: what the apps' services, deployments and targets look
//! like, and what their tasks print.

use std::time::Duration;

use serde::Serialize;

use crate::cloud::apps::LogLine;
use crate::engine::apps::deploy::app_stack;
use crate::engine::{Engine, EngineError};
use crate::planner::RigletPlan;

/// One app stack as it is live.
#[derive(Debug, Clone, Serialize)]
pub struct AppStatus {
    pub stack: String,
    pub env: String,
    pub app: String,
    /// The stack's status; `None` when it is not deployed.
    pub stack_status: Option<String>,
    pub image: Option<String>,
    pub urls: Vec<String>,
    /// The task definition the service runs (its PRIMARY deployment's).
    pub task_definition: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<DeploymentStatus>,
    pub targets: Vec<TargetStatus>,
}

/// One ECS deployment of a service.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentStatus {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed: i32,
}

/// One target of an app's target group.
#[derive(Debug, Clone, Serialize)]
pub struct TargetStatus {
    pub id: String,
    pub port: Option<i32>,
    /// healthy, unhealthy, initial, draining, unused, unavailable.
    pub state: String,
    pub reason: Option<String>,
    pub description: Option<String>,
}

impl Engine {
    /// The apps of `plan` (narrowed to `env` and `app` when given) as they are live: tasks
    /// running / desired / pending, deployments and their rollout state, target health, URLs.
    pub async fn app_status(
        &self,
        plan: &RigletPlan,
        env: Option<&str>,
        app: Option<&str>,
    ) -> Result<Vec<AppStatus>, EngineError> {
        let chosen: Vec<_> = match (env, app) {
            (Some(e), Some(a)) => vec![app_stack(plan, e, a)?],
            _ => plan
                .stacks
                .iter()
                .filter(|s| s.app.is_some())
                .filter(|s| env.is_none_or(|e| s.env.as_deref() == Some(e)))
                .filter(|s| {
                    app.is_none_or(|a| s.app.as_ref().is_some_and(|x| x.key == a || x.name == a))
                })
                .collect(),
        };
        let record = self.record(plan).await?;
        let mut out = Vec::new();
        for s in chosen {
            let slot = s.app.as_ref().expect("app stacks only");
            let mut status = AppStatus {
                stack: s.plan.name.clone(),
                env: s.env.clone().unwrap_or_default(),
                app: slot.key.clone(),
                stack_status: None,
                image: None,
                urls: vec![],
                task_definition: None,
                desired: 0,
                running: 0,
                pending: 0,
                deployments: vec![],
                targets: vec![],
            };
            if let Some(live) = record.state(&s.plan.name) {
                status.stack_status = Some(live.status.to_string());
                status.image = live.parameter("ContainerImage").map(str::to_string);
                status.urls = ["ApplicationUrl", "PreferredApplicationUrl"]
                    .iter()
                    .filter_map(|k| live.output(k).map(str::to_string))
                    .collect();
                if let (Some(c), Some(svc)) = (
                    live.output("ClusterName"),
                    live.output("ServiceArn")
                        .or_else(|| live.output("ServiceName")),
                ) {
                    if let Some(v) = self.clients.describe_service(c, svc).await? {
                        status.task_definition = Some(v.task_definition.clone());
                        status.desired = v.desired;
                        status.running = v.running;
                        status.pending = v.pending;
                        status.deployments = v
                            .deployments
                            .into_iter()
                            .map(|d| DeploymentStatus {
                                id: d.id,
                                status: d.status,
                                rollout_state: d.rollout_state,
                                rollout_reason: d.rollout_reason,
                                task_definition: d.task_definition,
                                desired: d.desired,
                                running: d.running,
                                pending: d.pending,
                                failed: d.failed,
                            })
                            .collect();
                    }
                }
                if let Some(tg) = live.output("TargetGroupArn") {
                    status.targets = self
                        .clients
                        .target_health(tg)
                        .await?
                        .into_iter()
                        .map(|t| TargetStatus {
                            id: t.id,
                            port: t.port,
                            state: t.state,
                            reason: t.reason,
                            description: t.description,
                        })
                        .collect();
                }
            }
            out.push(status);
        }
        Ok(out)
    }

    /// Hands `each` the log lines of one app's tasks from `since` ago, oldest first; with
    /// `follow`, keeps looking every two seconds until `each` returns false. Errors: the app is
    /// not configured or not deployed, AWS (a missing log group names the group).
    pub async fn app_logs(
        &self,
        plan: &RigletPlan,
        env: &str,
        app: &str,
        since: Duration,
        follow: bool,
        each: &mut (dyn FnMut(&LogLine) -> bool + Send),
    ) -> Result<(), EngineError> {
        let s = app_stack(plan, env, app)?;
        let record = self.record(plan).await?;
        let Some(live) = record.state(&s.plan.name) else {
            return Err(super::AppError::NotDeployed {
                stack: s.plan.name.clone(),
                env: env.to_string(),
                app: app.to_string(),
            }
            .into());
        };
        let group = live
            .output("LogGroupName")
            .unwrap_or(&s.plan.name)
            .to_string();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let mut start = now_ms - since.as_millis() as i64;
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let mut token = None;
            let mut newest = start;
            loop {
                let (lines, next) = self.clients.log_page(&group, start, token).await?;
                for l in lines {
                    newest = newest.max(l.timestamp_ms);
                    if seen.insert(l.event_id.clone()) && !each(&l) {
                        return Ok(());
                    }
                }
                token = next;
                if token.is_none() {
                    break;
                }
            }
            if !follow {
                return Ok(());
            }
            start = newest;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}
