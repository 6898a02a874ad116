//! ECS: a service with its deployments and events, the tasks it stopped, and task definitions.
//! Source: DescribeServices, ListTasks + DescribeTasks, DescribeTaskDefinition.

use aws_sdk_ecs::types::{Deployment, DesiredStatus, Task};

use super::epoch_s;
use crate::cloud::{aws_err, AwsError, Clients};

/// An ECS service as DescribeServices reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceView {
    pub arn: String,
    pub name: String,
    /// The cluster's ARN (the cluster asked for when ECS gives none).
    pub cluster: String,
    /// `ACTIVE`, `DRAINING` (being deleted) or `INACTIVE` (deleted).
    pub status: String,
    /// `FARGATE`, `EC2` or `EXTERNAL`; none when the service uses a capacity provider strategy.
    pub launch_type: Option<String>,
    /// The ARN of the task definition of the PRIMARY deployment.
    pub task_definition: String,
    /// Task counts of the whole service (every deployment).
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// In ECS's order (the PRIMARY first).
    pub deployments: Vec<DeploymentView>,
    /// The service's last events (ECS keeps 100), newest first.
    pub events: Vec<ServiceEvent>,
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeploymentView {
    /// `ecs-svc/<digits>`.
    pub id: String,
    /// `PRIMARY` (the newest), `ACTIVE` (older, still running tasks) or `INACTIVE`.
    pub status: String,
    /// The task definition's ARN.
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED` (circuit breaker); none for deployments made
    /// before ECS reported it.
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    /// Task counts of this deployment.
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// Tasks of this deployment that failed to start (what the circuit breaker counts).
    pub failed: i32,
    pub created_epoch_s: Option<f64>,
}

/// One entry of a service's event log (`(service x) has reached a steady state.`, ...).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceEvent {
    pub id: String,
    pub created_epoch_s: Option<f64>,
    pub message: String,
}

/// A task the service stopped, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoppedTask {
    pub arn: String,
    /// The ARN of the task definition it ran.
    pub task_definition: String,
    /// ECS's words: `Essential container in task exited`, `Task failed ELB health checks in
    /// (target-group ...)`, `CannotPullContainerError: ...`, ...
    pub stopped_reason: Option<String>,
    /// `TaskFailedToStart`, `EssentialContainerExited`, `UserInitiated`, `ServiceSchedulerInitiated`,
    /// `SpotInterruption`, `TerminationNotice`.
    pub stop_code: Option<String>,
    pub containers: Vec<ContainerExit>,
    pub stopped_epoch_s: Option<f64>,
}

/// How one container of a stopped task ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ContainerExit {
    pub name: String,
    /// None when the container never ran (its image could not be pulled, ...).
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// A task definition revision.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskDefinitionView {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    /// CPU units (`256` = 0.25 vCPU), as registered.
    pub cpu: Option<String>,
    /// MiB, as registered.
    pub memory: Option<String>,
    /// `awsvpc`, `bridge`, `host` or `none`.
    pub network_mode: Option<String>,
    /// The launch types ECS validated it for (`FARGATE`, `EC2`, ...); its
    /// `requiresCompatibilities` when ECS reports none.
    pub compatibilities: Vec<String>,
    /// The image of each container, in the definition's order.
    pub images: Vec<String>,
}

/// Whether an ECS error says the cluster or the service does not exist.
fn is_absent(e: &AwsError) -> bool {
    matches!(
        e.code(),
        Some("ClusterNotFoundException" | "ServiceNotFoundException")
    )
}

impl Clients {
    /// The service `service` (name or ARN) of `cluster` (name or ARN), with its deployments and
    /// last events; `None` when the cluster or the service does not exist (a deleted service
    /// that ECS still reports comes back with status `INACTIVE`). One DescribeServices.
    pub async fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceView>, AwsError> {
        const OP: &str = "DescribeServices";
        let out = match self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = aws_err(OP, self.ep(), e);
                return if is_absent(&e) { Ok(None) } else { Err(e) };
            }
        };
        if let Some(s) = out.services().first() {
            return Ok(Some(service_view(s, cluster)));
        }
        match out.failures().first() {
            Some(f) if f.reason() != Some("MISSING") => Err(AwsError::Service {
                op: OP.into(),
                code: f.reason().map(str::to_string),
                request_id: None,
                message: format!(
                    "service {service} of cluster {cluster}: {}{}",
                    f.reason().unwrap_or("failure"),
                    f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            }),
            _ => Ok(None),
        }
    }

    /// The tasks of `service` that ECS stopped and still remembers (about an hour), newest
    /// first; empty when the cluster or the service does not exist. ListTasks (desiredStatus
    /// STOPPED, every page), then DescribeTasks per 100 tasks.
    pub async fn stopped_tasks(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Vec<StoppedTask>, AwsError> {
        let mut arns: Vec<String> = Vec::new();
        let mut token = None;
        loop {
            let page = match self
                .ecs
                .list_tasks()
                .cluster(cluster)
                .service_name(service)
                .desired_status(DesiredStatus::Stopped)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    let e = aws_err("ListTasks", self.ep(), e);
                    return if is_absent(&e) {
                        Ok(Vec::new())
                    } else {
                        Err(e)
                    };
                }
            };
            arns.extend(page.task_arns().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut tasks = Vec::new();
        for chunk in arns.chunks(100) {
            let out = self
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_err("DescribeTasks", self.ep(), e))?;
            tasks.extend(out.tasks().iter().map(stopped_task));
        }
        // Newest first; a task without a stop time (None sorts before any time) last.
        tasks.sort_by(|a, b| {
            b.stopped_epoch_s
                .partial_cmp(&a.stopped_epoch_s)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(tasks)
    }

    /// The task definition `arn` (an ARN or `family:revision`). One DescribeTaskDefinition;
    /// an unknown one is an error (`ClientException`).
    pub async fn task_definition(&self, arn: &str) -> Result<TaskDefinitionView, AwsError> {
        const OP: &str = "DescribeTaskDefinition";
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| aws_err(OP, self.ep(), e))?;
        let td = out.task_definition().ok_or_else(|| AwsError::Service {
            op: OP.into(),
            code: None,
            request_id: None,
            message: format!("no task definition in the answer for {arn}"),
        })?;
        let mut compatibilities: Vec<String> = td
            .compatibilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        if compatibilities.is_empty() {
            compatibilities = td
                .requires_compatibilities()
                .iter()
                .map(|c| c.as_str().to_string())
                .collect();
        }
        Ok(TaskDefinitionView {
            arn: td.task_definition_arn().unwrap_or(arn).to_string(),
            family: td.family().unwrap_or_default().to_string(),
            revision: td.revision(),
            cpu: td.cpu().map(str::to_string),
            memory: td.memory().map(str::to_string),
            network_mode: td.network_mode().map(|m| m.as_str().to_string()),
            compatibilities,
            images: td
                .container_definitions()
                .iter()
                .filter_map(|c| c.image().map(str::to_string))
                .collect(),
        })
    }
}

fn service_view(s: &aws_sdk_ecs::types::Service, cluster: &str) -> ServiceView {
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    ServiceView {
        arn: text(s.service_arn()),
        name: text(s.service_name()),
        cluster: s.cluster_arn().unwrap_or(cluster).to_string(),
        status: text(s.status()),
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        task_definition: text(s.task_definition()),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments: s.deployments().iter().map(deployment_view).collect(),
        events: s
            .events()
            .iter()
            .map(|e| ServiceEvent {
                id: text(e.id()),
                created_epoch_s: epoch_s(e.created_at()),
                message: text(e.message()),
            })
            .collect(),
    }
}

fn deployment_view(d: &Deployment) -> DeploymentView {
    DeploymentView {
        id: d.id().unwrap_or_default().to_string(),
        status: d.status().unwrap_or_default().to_string(),
        task_definition: d.task_definition().unwrap_or_default().to_string(),
        rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
        rollout_reason: d.rollout_state_reason().map(str::to_string),
        desired: d.desired_count(),
        running: d.running_count(),
        pending: d.pending_count(),
        failed: d.failed_tasks(),
        created_epoch_s: epoch_s(d.created_at()),
    }
}

fn stopped_task(t: &Task) -> StoppedTask {
    StoppedTask {
        arn: t.task_arn().unwrap_or_default().to_string(),
        task_definition: t.task_definition_arn().unwrap_or_default().to_string(),
        stopped_reason: t.stopped_reason().map(str::to_string),
        stop_code: t.stop_code().map(|c| c.as_str().to_string()),
        containers: t
            .containers()
            .iter()
            .map(|c| ContainerExit {
                name: c.name().unwrap_or_default().to_string(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_string),
            })
            .collect(),
        stopped_epoch_s: epoch_s(t.stopped_at()),
    }
}
