//! Waiting for a stack (with its events streamed as they come) and deleting one.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::{is_missing, ResourceEvent, StackError, StackState, StackStatus, Stacks};
use crate::cloud::aws_err;
use crate::cloud::AwsError;
use crate::events::Event;

impl Stacks<'_> {
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
        let mut poll = self.backoff.poll(stack);
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
                        status: StackStatus::DeleteComplete,
                        reason: None,
                        outputs: vec![],
                        parameters: vec![],
                        termination_protection: false,
                        tags: BTreeMap::new(),
                        capabilities: vec![],
                        resolved: BTreeMap::new(),
                        nested: false,
                    })
                }
                // Right after ExecuteChangeSet a new stack may still read REVIEW_IN_PROGRESS.
                Some(s)
                    if s.status == StackStatus::ReviewInProgress
                        && poll.elapsed() < Duration::from_secs(30) => {}
                Some(s) if !s.in_progress() => {
                    if s.status.settled() {
                        return Ok(s);
                    }
                    return Err(failed(s, failures));
                }
                Some(_) => {}
            }
            poll.next().await?;
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
        let mut poll = self.backoff.poll(stack);
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
                Some(s) if s.status == StackStatus::DeleteFailed => {
                    return Err(failed(s, failures))
                }
                _ => {}
            }
            poll.next().await?;
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
        status: s.status.to_string(),
        reasons,
        resources,
    }
}
