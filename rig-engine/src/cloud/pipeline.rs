//! CodePipeline: a pipeline's executions and their actions, starting one, and answering its
//! manual approval; plus the production change set the approval is about.

use aws_sdk_cloudformation::types::Replacement;
use aws_sdk_codepipeline::types::{
    ActionExecutionFilter, ApprovalResult, ApprovalStatus, SourceRevisionOverride,
    SourceRevisionType,
};

use crate::cloud::{aws_err, AwsError, Clients};

/// One execution of a pipeline (ListPipelineExecutions), newest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExecutionSummary {
    pub id: String,
    /// `InProgress`, `Succeeded`, `Failed`, `Stopped`, `Superseded`, ...
    pub status: String,
    pub status_summary: Option<String>,
    /// Epoch milliseconds.
    pub started_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    /// The source action's revision (the commit) and its summary.
    pub commit: Option<String>,
    pub commit_summary: Option<String>,
}

/// One action of one execution (ListActionExecutions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRun {
    pub stage: String,
    pub action: String,
    /// `InProgress`, `Succeeded`, `Failed`, `Abandoned`.
    pub status: String,
    pub started_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    pub summary: Option<String>,
    /// The error's code and message when it failed.
    pub error: Option<String>,
}

/// A manual approval waiting for an answer (GetPipelineState).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingApproval {
    pub execution_id: Option<String>,
    pub token: String,
}

/// A change set's state and what it would change (DescribeChangeSet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetView {
    pub status: String,
    pub status_reason: Option<String>,
    /// (action, logical id, resource type, replacement `True`/`False`/`Conditional`)
    pub changes: Vec<(String, String, String, Option<String>)>,
    pub parameters: Vec<(String, String)>,
}

fn millis(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.and_then(|d| d.to_millis().ok())
}

impl Clients {
    /// The latest `max` executions of `pipeline`, newest first; `None` if there is no such
    /// pipeline.
    pub async fn pipeline_executions(
        &self,
        pipeline: &str,
        max: i32,
    ) -> Result<Option<Vec<ExecutionSummary>>, AwsError> {
        let out = match self
            .codepipeline
            .list_pipeline_executions()
            .pipeline_name(pipeline)
            .max_results(max)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = aws_err("ListPipelineExecutions", self.ep(), e);
                return if e.code() == Some("PipelineNotFoundException") {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        Ok(Some(
            out.pipeline_execution_summaries()
                .iter()
                .map(|s| {
                    let source = s.source_revisions().first();
                    ExecutionSummary {
                        id: s.pipeline_execution_id().unwrap_or_default().to_string(),
                        status: s
                            .status()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                        status_summary: s.status_summary().map(str::to_string),
                        started_ms: millis(s.start_time()),
                        updated_ms: millis(s.last_update_time()),
                        commit: source.and_then(|r| r.revision_id()).map(str::to_string),
                        commit_summary: source
                            .and_then(|r| r.revision_summary())
                            .map(str::to_string),
                    }
                })
                .collect(),
        ))
    }

    /// The actions one execution ran, in the order they started.
    pub async fn action_runs(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Vec<ActionRun>, AwsError> {
        let mut runs = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .codepipeline
                .list_action_executions()
                .pipeline_name(pipeline)
                .filter(
                    ActionExecutionFilter::builder()
                        .pipeline_execution_id(execution_id)
                        .build(),
                )
                .set_next_token(next.clone())
                .send()
                .await
                .map_err(|e| aws_err("ListActionExecutions", self.ep(), e))?;
            for d in out.action_execution_details() {
                let result = d.output().and_then(|o| o.execution_result());
                runs.push(ActionRun {
                    stage: d.stage_name().unwrap_or_default().to_string(),
                    action: d.action_name().unwrap_or_default().to_string(),
                    status: d
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    started_ms: millis(d.start_time()),
                    updated_ms: millis(d.last_update_time()),
                    summary: result
                        .and_then(|r| r.external_execution_summary())
                        .map(str::to_string),
                    error: result.and_then(|r| r.error_details()).map(|e| {
                        format!(
                            "{}: {}",
                            e.code().unwrap_or("Error"),
                            e.message().unwrap_or_default()
                        )
                    }),
                });
            }
            next = out.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        runs.sort_by_key(|r| r.started_ms);
        Ok(runs)
    }

    /// Starts an execution (of `commit` when given, else the branch's latest); returns its id.
    pub async fn start_pipeline(
        &self,
        pipeline: &str,
        commit: Option<&str>,
    ) -> Result<String, AwsError> {
        let mut req = self.codepipeline.start_pipeline_execution().name(pipeline);
        if let Some(c) = commit {
            req = req.source_revisions(
                SourceRevisionOverride::builder()
                    .action_name("Source")
                    .revision_type(SourceRevisionType::CommitId)
                    .revision_value(c)
                    .build()
                    .map_err(|e| crate::cloud::store::build_err("StartPipelineExecution", e))?,
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_err("StartPipelineExecution", self.ep(), e))?;
        Ok(out.pipeline_execution_id().unwrap_or_default().to_string())
    }

    /// The approval `stage`/`action` of `pipeline` if it is waiting for an answer.
    pub async fn waiting_approval(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
    ) -> Result<Option<WaitingApproval>, AwsError> {
        let out = self
            .codepipeline
            .get_pipeline_state()
            .name(pipeline)
            .send()
            .await
            .map_err(|e| aws_err("GetPipelineState", self.ep(), e))?;
        let Some(st) = out
            .stage_states()
            .iter()
            .find(|s| s.stage_name() == Some(stage))
        else {
            return Ok(None);
        };
        let execution_id = st
            .latest_execution()
            .map(|e| e.pipeline_execution_id().to_string());
        Ok(st
            .action_states()
            .iter()
            .find(|a| a.action_name() == Some(action))
            .and_then(|a| a.latest_execution())
            .filter(|e| e.status().map(|s| s.as_str()) == Some("InProgress"))
            .and_then(|e| e.token())
            .map(|t| WaitingApproval {
                execution_id,
                token: t.to_string(),
            }))
    }

    /// Answers a waiting manual approval.
    pub async fn answer_approval(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        token: &str,
        approve: bool,
        summary: &str,
    ) -> Result<(), AwsError> {
        let result = ApprovalResult::builder()
            .summary(summary)
            .status(if approve {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            })
            .build()
            .map_err(|e| crate::cloud::store::build_err("PutApprovalResult", e))?;
        self.codepipeline
            .put_approval_result()
            .pipeline_name(pipeline)
            .stage_name(stage)
            .action_name(action)
            .token(token)
            .result(result)
            .send()
            .await
            .map_err(|e| aws_err("PutApprovalResult", self.ep(), e))?;
        Ok(())
    }

    /// The change set `name` of `stack`, or `None` if there is none.
    pub async fn change_set_view(
        &self,
        stack: &str,
        name: &str,
    ) -> Result<Option<ChangeSetView>, AwsError> {
        let out = match self
            .cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = aws_err("DescribeChangeSet", self.ep(), e);
                return if matches!(e.code(), Some("ChangeSetNotFound" | "ValidationError")) {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        let changes = out
            .changes()
            .iter()
            .filter_map(|c| c.resource_change())
            .map(|r| {
                (
                    r.action()
                        .map(|a| a.as_str().to_string())
                        .unwrap_or_default(),
                    r.logical_resource_id().unwrap_or_default().to_string(),
                    r.resource_type().unwrap_or_default().to_string(),
                    r.replacement().map(Replacement::as_str).map(str::to_string),
                )
            })
            .collect();
        Ok(Some(ChangeSetView {
            status: out
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_reason: out.status_reason().map(str::to_string),
            changes,
            parameters: out
                .parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_key().unwrap_or_default().to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        }))
    }
}
