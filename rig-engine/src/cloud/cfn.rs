//! One CloudFormation stack: describe, change sets, waiting with event streaming, delete.
//!
//! Every create and update goes through a change set. An empty change set — in any of the
//! shapes AWS (and stand-ins) produce — means "unchanged" and is deleted.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{
    Capability as CfnCapability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter,
    Replacement, Tag,
};

use crate::cloud::{aws_err, AwsError, Clients};
use crate::events::{Event, EventSink};

/// The state of a stack as rig needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    pub name: String,
    /// The stack id (ARN): still answers after the stack is deleted.
    pub id: String,
    pub status: String,
    pub reason: Option<String>,
    pub outputs: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    pub termination_protection: bool,
    /// The stack's tags (what ownership is verified against).
    pub tags: BTreeMap<String, String>,
    /// The capabilities it was deployed with (`CAPABILITY_NAMED_IAM`, ...).
    pub capabilities: Vec<String>,
    /// SSM-typed parameters (`AWS::SSM::Parameter::Value<...>`): key → the value CloudFormation
    /// resolved at the last deploy (the parameter's value is the SSM parameter's name).
    pub resolved: BTreeMap<String, String>,
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
    /// A stack whose deletion failed (a `rig down` that did not finish).
    pub fn delete_failed(&self) -> bool {
        self.status == "DELETE_FAILED"
    }
    /// A stack whose creation failed and that can only be deleted.
    pub fn failed_create(&self) -> bool {
        matches!(
            self.status.as_str(),
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED"
        )
    }
}

/// A resource's notable event: its create, update or delete failed (`*_FAILED`), or its
/// deletion was skipped because the template retains it (`DELETE_SKIPPED`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceEvent {
    pub logical_id: String,
    pub resource_type: String,
    /// The physical id (bucket name, repository name, ...), when the event carries one.
    pub physical_id: Option<String>,
    pub status: String,
    pub reason: String,
}

/// One resource of a live stack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackResource {
    pub resource_type: String,
    pub logical_id: String,
    pub physical_id: String,
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
        /// The resources whose operation failed, from the stack's events.
        resources: Vec<ResourceEvent>,
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

/// Operations on stacks, with the clients and where their events go.
pub struct Stacks<'a> {
    pub clients: &'a Clients,
    pub events: &'a dyn EventSink,
    pub backoff: Backoff,
}

fn is_missing(e: &AwsError) -> bool {
    e.code() == Some("ValidationError") && e.message().contains("does not exist")
}

/// A change set name unique enough for one stack: `rig-<milliseconds since the epoch>`.
fn chrono_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
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
        Ok(state_of(s).filter(|s| s.status != "DELETE_COMPLETE"))
    }

    /// Every live stack in the account and region (DescribeStacks without a name, paginated),
    /// with its tags: what ownership is decided from. Deleted stacks are left out.
    pub async fn list_all(&self) -> Result<Vec<StackState>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .clients
                .cfn
                .describe_stacks()
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| aws_err("DescribeStacks", self.ep(), e))?;
            all.extend(
                out.stacks()
                    .iter()
                    .filter_map(state_of)
                    .filter(|s| s.status != "DELETE_COMPLETE"),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
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
        let cs_name = format!("rig-{}", chrono_millis());
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
        self.await_change_set(input.name, &cs_name, kind).await
    }

    /// Waits until a change set is ready. An empty one (any of AWS's shapes) is deleted and
    /// answers `Unchanged`; a failed one is deleted (with its never-executed stack, for a create).
    async fn await_change_set(
        &self,
        stack: &str,
        cs_name: &str,
        kind: ChangeKind,
    ) -> Result<Prepared, StackError> {
        let start = Instant::now();
        let mut delay = self.backoff.initial;
        loop {
            let d = self
                .clients
                .cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(cs_name)
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
                            .stack_name(stack)
                            .change_set_name(cs_name)
                            .next_token(t)
                            .send()
                            .await
                            .map_err(|e| aws_err("DescribeChangeSet", self.ep(), e))?;
                        collect_changes(more.changes(), &mut changes);
                        token = more.next_token().map(str::to_string);
                    }
                    if changes.is_empty() && kind == ChangeKind::Update {
                        self.delete_change_set(stack, cs_name).await?;
                        return Ok(Prepared::Unchanged);
                    }
                    return Ok(Prepared::Ready {
                        change_set: cs_name.to_string(),
                        kind,
                        changes,
                    });
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = d.status_reason().unwrap_or("no reason given").to_string();
                    self.delete_change_set(stack, cs_name).await?;
                    if no_changes(&reason) {
                        return Ok(Prepared::Unchanged);
                    }
                    if kind == ChangeKind::Create {
                        self.delete_review_stack(stack).await?;
                    }
                    return Err(StackError::ChangeSetFailed {
                        stack: stack.to_string(),
                        reason,
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

    /// Waits until the stack is no longer in progress, streaming new events.
    /// Returns the final state, or an error with the events that explain a failure.
    pub async fn wait(
        &self,
        stack: &str,
        mut seen: HashSet<String>,
    ) -> Result<StackState, StackError> {
        let start = Instant::now();
        let mut delay = self.backoff.initial;
        let mut failures: Vec<ResourceEvent> = Vec::new();
        loop {
            let state = self.describe(stack).await?;
            self.stream_events(stack, stack, &mut seen, &mut failures)
                .await?;
            match state {
                None => {
                    return Ok(StackState {
                        name: stack.to_string(),
                        id: String::new(),
                        status: "DELETE_COMPLETE".into(),
                        reason: None,
                        outputs: vec![],
                        parameters: vec![],
                        termination_protection: false,
                        tags: BTreeMap::new(),
                        capabilities: vec![],
                        resolved: BTreeMap::new(),
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
                    return Err(failed(s, failures));
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

    /// Streams the stack's new events; `key` is its name, or its id once it may be deleted.
    async fn stream_events(
        &self,
        stack: &str,
        key: &str,
        seen: &mut HashSet<String>,
        failures: &mut Vec<ResourceEvent>,
    ) -> Result<(), AwsError> {
        let out = match self
            .clients
            .cfn
            .describe_stack_events()
            .stack_name(key)
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
            self.events.emit(Event::Resource {
                stack: stack.to_string(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: e.resource_type().unwrap_or_default().to_string(),
                status: status.to_string(),
                reason: (!reason.is_empty()).then(|| reason.to_string()),
            });
            let logical_id = e.logical_resource_id().unwrap_or_default();
            // The stack's own line (its logical id is its name) only repeats its resources'.
            let notable =
                (status.ends_with("_FAILED") && !reason.is_empty()) || status == "DELETE_SKIPPED";
            if notable && logical_id != stack {
                failures.push(ResourceEvent {
                    logical_id: logical_id.to_string(),
                    resource_type: e.resource_type().unwrap_or_default().to_string(),
                    physical_id: e
                        .physical_resource_id()
                        .filter(|p| !p.is_empty())
                        .map(str::to_string),
                    status: status.to_string(),
                    reason: reason.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Deletes a stack and waits for it to be gone.
    pub async fn delete(&self, stack: &str) -> Result<(), StackError> {
        self.delete_retaining(stack, &[]).await.map(|_| ())
    }

    /// Deletes a stack, keeping the named resources (`RetainResources`, which AWS accepts only
    /// for a stack in DELETE_FAILED), and waits for it to be gone. Returns the resources whose
    /// deletion was skipped (retained by the template's `DeletionPolicy` or by `retain`).
    pub async fn delete_retaining(
        &self,
        stack: &str,
        retain: &[String],
    ) -> Result<Vec<ResourceEvent>, StackError> {
        let since = self.latest_event_ids(stack).await?;
        // Events are read by id: by name they are gone with the stack.
        let key = match self.describe(stack).await? {
            Some(s) if !s.id.is_empty() => s.id,
            _ => stack.to_string(),
        };
        self.clients
            .cfn
            .delete_stack()
            .stack_name(stack)
            .set_retain_resources((!retain.is_empty()).then(|| retain.to_vec()))
            .send()
            .await
            .map_err(|e| aws_err("DeleteStack", self.ep(), e))?;
        let start = Instant::now();
        let mut delay = self.backoff.initial;
        let mut seen = since;
        let mut failures = Vec::new();
        loop {
            let state = self.describe(stack).await?;
            self.stream_events(stack, &key, &mut seen, &mut failures)
                .await?;
            match state {
                None => {
                    failures.retain(|r| r.status == "DELETE_SKIPPED");
                    return Ok(failures);
                }
                Some(s) if s.status == "DELETE_FAILED" => return Err(failed(s, failures)),
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

    /// The template body a stack was last deployed with (GetTemplate, original stage).
    pub async fn template(&self, stack: &str) -> Result<String, AwsError> {
        let out = self
            .clients
            .cfn
            .get_template()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws_err("GetTemplate", self.ep(), e))?;
        Ok(out.template_body().unwrap_or_default().to_string())
    }

    /// The resources of a stack (ListStackResources, paginated): (type, logical id, physical id).
    pub async fn resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = match self
                .clients
                .cfn
                .list_stack_resources()
                .stack_name(stack)
                .set_next_token(token.clone())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    let e = aws_err("ListStackResources", self.ep(), e);
                    return if is_missing(&e) { Ok(out) } else { Err(e) };
                }
            };
            for r in page.stack_resource_summaries() {
                out.push(StackResource {
                    resource_type: r.resource_type().unwrap_or_default().to_string(),
                    logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                    physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Changes some parameters of a live stack, keeping its deployed template and every other
    /// parameter (`UsePreviousTemplate`, `UsePreviousValue`), through a change set; waits for it.
    /// Used to switch a backend's own guard (e.g. deletion protection) off before deleting.
    pub async fn set_parameters(
        &self,
        state: &StackState,
        changed: &[(String, String)],
    ) -> Result<(), StackError> {
        let cs_name = format!("rig-{}", chrono_millis());
        let mut req = self
            .clients
            .cfn
            .create_change_set()
            .stack_name(&state.name)
            .change_set_name(&cs_name)
            .change_set_type(ChangeSetType::Update)
            .use_previous_template(true)
            .description("rig");
        for (k, _) in &state.parameters {
            let p = match changed.iter().find(|(c, _)| c == k) {
                Some((_, v)) => Parameter::builder().parameter_key(k).parameter_value(v),
                None => Parameter::builder()
                    .parameter_key(k)
                    .use_previous_value(true),
            };
            req = req.parameters(p.build());
        }
        for (k, v) in &state.tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        for c in &state.capabilities {
            req = req.capabilities(CfnCapability::from(c.as_str()));
        }
        req.send()
            .await
            .map_err(|e| aws_err("CreateChangeSet", self.ep(), e))?;
        match self
            .await_change_set(&state.name, &cs_name, ChangeKind::Update)
            .await?
        {
            Prepared::Unchanged => Ok(()),
            Prepared::Ready { change_set, .. } => {
                self.execute(&state.name, &change_set).await?;
                Ok(())
            }
        }
    }
}

/// The error for a stack that ended in a failed state, with the resources that explain it.
fn failed(s: StackState, mut resources: Vec<ResourceEvent>) -> StackError {
    resources.retain(|r| r.status != "DELETE_SKIPPED");
    let mut reasons: Vec<String> = resources
        .iter()
        .map(|r| format!("{} {}: {}", r.logical_id, r.status, r.reason))
        .collect();
    if reasons.is_empty() {
        reasons.extend(s.reason.clone());
    }
    StackError::Failed {
        stack: s.name,
        status: s.status,
        reasons,
        resources,
    }
}

/// A described stack as rig needs it (`None` without a name).
fn state_of(s: &aws_sdk_cloudformation::types::Stack) -> Option<StackState> {
    Some(StackState {
        name: s.stack_name()?.to_string(),
        id: s.stack_id().unwrap_or_default().to_string(),
        status: s
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
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
        tags: s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
        capabilities: s
            .capabilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        resolved: s
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.resolved_value()?.to_string(),
                ))
            })
            .collect(),
    })
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
