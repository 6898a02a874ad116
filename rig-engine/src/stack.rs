//! One CloudFormation stack: describe, change sets, waiting with event streaming, delete.
//!
//! Every create and update goes through a change set. An empty change set — in any of the
//! shapes AWS (and stand-ins) produce — means "unchanged" and is deleted.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{
    Capability as CfnCapability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter,
    Replacement, StackStatus, Tag,
};

use crate::aws::{aws_err, AwsError, Clients};
use crate::report::Reporter;

/// The state of a stack as rig needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    pub name: String,
    pub status: String,
    pub reason: Option<String>,
    pub outputs: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    pub termination_protection: bool,
}

impl StackState {
    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// A create or update that has not finished.
    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS") && self.status != "REVIEW_IN_PROGRESS"
    }
    /// A stack whose creation failed and that can only be deleted.
    pub fn failed_create(&self) -> bool {
        matches!(
            self.status.as_str(),
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED"
        )
    }
}

/// What a change set would do to one resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceChange {
    /// `add`, `modify`, `replace`, `remove`, `conditional-replace`, ...
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct StackInput<'a> {
    pub name: &'a str,
    /// Either an uploaded template URL or the body itself.
    pub template: TemplateSource<'a>,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum TemplateSource<'a> {
    Url(String),
    Body(&'a str),
}

/// Result of preparing a change set.
#[derive(Debug)]
pub enum Prepared {
    /// Nothing to do; the change set (if any) was deleted.
    Unchanged,
    /// A change set ready to execute.
    Ready {
        change_set: String,
        kind: ChangeKind,
        changes: Vec<ResourceChange>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
}

/// Errors of stack operations.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("stack {stack} failed ({status}){}", format_reasons(reasons))]
    Failed {
        stack: String,
        status: String,
        reasons: Vec<String>,
    },
    #[error("change set for stack {stack} failed: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error("timed out after {0:?} waiting for stack {1}; it is still changing in AWS — run the command again to resume waiting")]
    Timeout(Duration, String),
}

fn format_reasons(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(
            "; the events that explain it:\n{}",
            reasons
                .iter()
                .map(|r| format!("    {r}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }
}

/// Polling policy: start fast (local stand-ins answer in milliseconds), back off to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
            timeout: Duration::from_secs(90 * 60),
        }
    }
}

impl Backoff {
    fn next(&self, d: Duration) -> Duration {
        (d * 3 / 2).min(self.max)
    }
}

/// Operations on stacks, with the clients and the reporter.
pub struct Stacks<'a> {
    pub clients: &'a Clients,
    pub reporter: &'a dyn Reporter,
    pub backoff: Backoff,
}

fn is_missing(e: &AwsError) -> bool {
    e.code() == Some("ValidationError") && e.message().contains("does not exist")
}

fn no_changes(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("didn't contain changes")
        || r.contains("did not contain changes")
        || r.contains("no updates are to be performed")
}

impl Stacks<'_> {
    fn ep(&self) -> Option<&str> {
        self.clients.endpoint_url.as_deref()
    }

    /// Describes a stack; `None` if it does not exist.
    pub async fn describe(&self, name: &str) -> Result<Option<StackState>, AwsError> {
        let r = self
            .clients
            .cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await;
        let out = match r {
            Ok(o) => o,
            Err(e) => {
                let e = aws_err("DescribeStacks", self.ep(), e);
                return if is_missing(&e) { Ok(None) } else { Err(e) };
            }
        };
        let Some(s) = out.stacks().first() else {
            return Ok(None);
        };
        let status = s
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if status == "DELETE_COMPLETE" {
            return Ok(None);
        }
        Ok(Some(StackState {
            name: name.to_string(),
            status,
            reason: s.stack_status_reason().map(str::to_string),
            outputs: s
                .outputs()
                .iter()
                .map(|o| {
                    (
                        o.output_key().unwrap_or_default().to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            parameters: s
                .parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_key().unwrap_or_default().to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            termination_protection: s.enable_termination_protection().unwrap_or(false),
        }))
    }

    /// Creates a change set for `input` and waits until it is ready; an empty one is deleted.
    pub async fn prepare(
        &self,
        input: &StackInput<'_>,
        existing: Option<&StackState>,
    ) -> Result<Prepared, StackError> {
        let kind = match existing {
            None => ChangeKind::Create,
            Some(s) if s.status == "REVIEW_IN_PROGRESS" => ChangeKind::Create,
            Some(_) => ChangeKind::Update,
        };
        if let Some(s) = existing.filter(|s| s.status == "REVIEW_IN_PROGRESS") {
            // Left behind by an interrupted run or a `rig plan`: drop its stale change sets.
            self.delete_change_sets(&s.name).await?;
        }
        let cs_name = format!(
            "rig-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default()
        );
        let mut req = self
            .clients
            .cfn
            .create_change_set()
            .stack_name(input.name)
            .change_set_name(&cs_name)
            .change_set_type(match kind {
                ChangeKind::Create => ChangeSetType::Create,
                ChangeKind::Update => ChangeSetType::Update,
            })
            .description("rig");
        req = match &input.template {
            TemplateSource::Url(u) => req.template_url(u),
            TemplateSource::Body(b) => req.template_body(*b),
        };
        for (k, v) in &input.parameters {
            req = req.parameters(
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build(),
            );
        }
        for (k, v) in &input.tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        for c in &input.capabilities {
            req = req.capabilities(CfnCapability::from(c.as_str()));
        }
        if let Err(e) = req.send().await {
            let e = aws_err("CreateChangeSet", self.ep(), e);
            if no_changes(&e.message()) {
                return Ok(Prepared::Unchanged);
            }
            return Err(e.into());
        }
        // Wait for the change set.
        let start = Instant::now();
        let mut delay = self.backoff.initial;
        loop {
            let d = self
                .clients
                .cfn
                .describe_change_set()
                .stack_name(input.name)
                .change_set_name(&cs_name)
                .send()
                .await
                .map_err(|e| aws_err("DescribeChangeSet", self.ep(), e))?;
            match d.status() {
                Some(ChangeSetStatus::CreateComplete) => {
                    let mut changes = Vec::new();
                    collect_changes(d.changes(), &mut changes);
                    let mut token = d.next_token().map(str::to_string);
                    while let Some(t) = token {
                        let more = self
                            .clients
                            .cfn
                            .describe_change_set()
                            .stack_name(input.name)
                            .change_set_name(&cs_name)
                            .next_token(t)
                            .send()
                            .await
                            .map_err(|e| aws_err("DescribeChangeSet", self.ep(), e))?;
                        collect_changes(more.changes(), &mut changes);
                        token = more.next_token().map(str::to_string);
                    }
                    if changes.is_empty() && kind == ChangeKind::Update {
                        self.delete_change_set(input.name, &cs_name).await?;
                        return Ok(Prepared::Unchanged);
                    }
                    return Ok(Prepared::Ready {
                        change_set: cs_name,
                        kind,
                        changes,
                    });
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = d.status_reason().unwrap_or("no reason given").to_string();
                    self.delete_change_set(input.name, &cs_name).await?;
                    if no_changes(&reason) {
                        return Ok(Prepared::Unchanged);
                    }
                    if kind == ChangeKind::Create {
                        self.delete_review_stack(input.name).await?;
                    }
                    return Err(StackError::ChangeSetFailed {
                        stack: input.name.to_string(),
                        reason,
                    });
                }
                _ => {}
            }
            if start.elapsed() > self.backoff.timeout {
                return Err(StackError::Timeout(
                    self.backoff.timeout,
                    input.name.to_string(),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = self.backoff.next(delay);
        }
    }

    /// Deletes a stack that only exists in REVIEW_IN_PROGRESS (a never-executed create).
    pub async fn delete_review_stack(&self, name: &str) -> Result<(), AwsError> {
        if let Some(s) = self.describe(name).await? {
            if s.status == "REVIEW_IN_PROGRESS" {
                self.clients
                    .cfn
                    .delete_stack()
                    .stack_name(name)
                    .send()
                    .await
                    .map_err(|e| aws_err("DeleteStack", self.ep(), e))?;
            }
        }
        Ok(())
    }

    pub async fn delete_change_set(&self, stack: &str, cs: &str) -> Result<(), AwsError> {
        self.clients
            .cfn
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(cs)
            .send()
            .await
            .map_err(|e| aws_err("DeleteChangeSet", self.ep(), e))?;
        Ok(())
    }

    async fn delete_change_sets(&self, stack: &str) -> Result<(), AwsError> {
        let out = self
            .clients
            .cfn
            .list_change_sets()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws_err("ListChangeSets", self.ep(), e))?;
        for s in out.summaries() {
            if let Some(n) = s.change_set_name() {
                self.delete_change_set(stack, n).await?;
            }
        }
        Ok(())
    }

    /// Executes a prepared change set and waits for the stack, streaming its events.
    pub async fn execute(&self, stack: &str, change_set: &str) -> Result<StackState, StackError> {
        let since = self.latest_event_ids(stack).await?;
        self.clients
            .cfn
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| aws_err("ExecuteChangeSet", self.ep(), e))?;
        self.wait(stack, since).await
    }

    /// Event ids already present, so only new ones stream.
    pub async fn latest_event_ids(&self, stack: &str) -> Result<HashSet<String>, AwsError> {
        match self
            .clients
            .cfn
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(o) => Ok(o
                .stack_events()
                .iter()
                .filter_map(|e| e.event_id().map(str::to_string))
                .collect()),
            Err(e) => {
                let e = aws_err("DescribeStackEvents", self.ep(), e);
                if is_missing(&e) {
                    Ok(HashSet::new())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Waits until the stack is no longer in progress, streaming new events to the reporter.
    /// Returns the final state, or an error with the events that explain a failure.
    pub async fn wait(
        &self,
        stack: &str,
        mut seen: HashSet<String>,
    ) -> Result<StackState, StackError> {
        let start = Instant::now();
        let mut delay = self.backoff.initial;
        let mut failures: Vec<String> = Vec::new();
        loop {
            let state = self.describe(stack).await?;
            self.stream_events(stack, &mut seen, &mut failures).await?;
            match state {
                None => {
                    return Ok(StackState {
                        name: stack.to_string(),
                        status: "DELETE_COMPLETE".into(),
                        reason: None,
                        outputs: vec![],
                        parameters: vec![],
                        termination_protection: false,
                    })
                }
                // Right after ExecuteChangeSet a new stack may still read REVIEW_IN_PROGRESS.
                Some(s)
                    if s.status == "REVIEW_IN_PROGRESS"
                        && start.elapsed() < Duration::from_secs(30) => {}
                Some(s) if !s.in_progress() => {
                    let ok = matches!(
                        s.status.as_str(),
                        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
                    );
                    if ok {
                        return Ok(s);
                    }
                    if failures.is_empty() {
                        failures.extend(s.reason.clone());
                    }
                    return Err(StackError::Failed {
                        stack: stack.to_string(),
                        status: s.status,
                        reasons: failures,
                    });
                }
                Some(_) => {}
            }
            if start.elapsed() > self.backoff.timeout {
                return Err(StackError::Timeout(self.backoff.timeout, stack.to_string()));
            }
            tokio::time::sleep(delay).await;
            delay = self.backoff.next(delay);
        }
    }

    async fn stream_events(
        &self,
        stack: &str,
        seen: &mut HashSet<String>,
        failures: &mut Vec<String>,
    ) -> Result<(), AwsError> {
        let out = match self
            .clients
            .cfn
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = aws_err("DescribeStackEvents", self.ep(), e);
                return if is_missing(&e) { Ok(()) } else { Err(e) };
            }
        };
        // Newest first: print the unseen ones oldest first.
        let fresh: Vec<_> = out
            .stack_events()
            .iter()
            .filter(|e| e.event_id().is_some_and(|id| !seen.contains(id)))
            .collect();
        for e in fresh.iter().rev() {
            seen.insert(e.event_id().unwrap_or_default().to_string());
            let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
            let reason = e.resource_status_reason().unwrap_or_default();
            let line = format!(
                "{:<28} {:<44} {}{}",
                status,
                e.resource_type().unwrap_or_default(),
                e.logical_resource_id().unwrap_or_default(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {reason}")
                }
            );
            self.reporter.event(stack, &line);
            if status.ends_with("_FAILED") && !reason.is_empty() {
                failures.push(format!(
                    "{} {}: {}",
                    e.logical_resource_id().unwrap_or_default(),
                    status,
                    reason
                ));
            }
        }
        Ok(())
    }

    /// Deletes a stack and waits for it to be gone.
    pub async fn delete(&self, stack: &str) -> Result<(), StackError> {
        let since = self.latest_event_ids(stack).await?;
        self.clients
            .cfn
            .delete_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws_err("DeleteStack", self.ep(), e))?;
        let start = Instant::now();
        let mut delay = self.backoff.initial;
        let mut seen = since;
        let mut failures = Vec::new();
        loop {
            let state = self.describe(stack).await?;
            self.stream_events(stack, &mut seen, &mut failures).await?;
            match state {
                None => return Ok(()),
                Some(s) if s.status == "DELETE_FAILED" => {
                    if failures.is_empty() {
                        failures.extend(s.reason.clone());
                    }
                    return Err(StackError::Failed {
                        stack: stack.into(),
                        status: s.status,
                        reasons: failures,
                    });
                }
                _ => {}
            }
            if start.elapsed() > self.backoff.timeout {
                return Err(StackError::Timeout(self.backoff.timeout, stack.to_string()));
            }
            tokio::time::sleep(delay).await;
            delay = self.backoff.next(delay);
        }
    }

    /// Turns termination protection on or off.
    pub async fn set_protection(&self, stack: &str, on: bool) -> Result<(), AwsError> {
        self.clients
            .cfn
            .update_termination_protection()
            .stack_name(stack)
            .enable_termination_protection(on)
            .send()
            .await
            .map_err(|e| aws_err("UpdateTerminationProtection", self.ep(), e))?;
        Ok(())
    }

    /// Names of the live stacks (not deleted) whose names start with `prefix`.
    pub async fn list_with_prefix(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .clients
                .cfn
                .list_stacks()
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| aws_err("ListStacks", self.ep(), e))?;
            for s in out.stack_summaries() {
                let live = s
                    .stack_status()
                    .is_some_and(|st| *st != StackStatus::DeleteComplete);
                if let Some(n) = s.stack_name() {
                    if live && n.starts_with(prefix) && !names.iter().any(|x| x == n) {
                        names.push(n.to_string());
                    }
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        names.sort();
        Ok(names)
    }
}

fn collect_changes(
    changes: &[aws_sdk_cloudformation::types::Change],
    out: &mut Vec<ResourceChange>,
) {
    for c in changes {
        let Some(rc) = c.resource_change() else {
            continue;
        };
        let action = match (rc.action(), rc.replacement()) {
            (Some(ChangeAction::Add), _) => "add",
            (Some(ChangeAction::Remove), _) => "remove",
            (Some(ChangeAction::Modify), Some(Replacement::True)) => "replace",
            (Some(ChangeAction::Modify), Some(Replacement::Conditional)) => "conditional-replace",
            (Some(ChangeAction::Modify), _) => "modify",
            (Some(ChangeAction::Import), _) => "import",
            (Some(ChangeAction::Dynamic), _) => "dynamic",
            _ => "change",
        };
        out.push(ResourceChange {
            action: action.to_string(),
            logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: rc.resource_type().unwrap_or_default().to_string(),
        });
    }
}
