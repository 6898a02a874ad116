//! Change sets: every create and update goes through one. An empty change set — in any of the
//! shapes AWS (and stand-ins) produce — means "unchanged" and is deleted.

use aws_sdk_cloudformation::types::{
    Capability as CfnCapability, ChangeAction as Cfn, ChangeSetStatus, ChangeSetType,
    DeploymentConfig, DeploymentConfigMode, Parameter, Replacement, Tag,
};

use super::{
    chrono_millis, no_changes, ChangeAction, ChangeKind, Prepared, PropertyChange, ResourceChange,
    StackError, StackInput, StackState, StackStatus, Stacks, TemplateSource,
};
use crate::cloud::{aws_err, AwsError};

impl Stacks<'_> {
    pub async fn prepare(
        &self,
        input: &StackInput<'_>,
        existing: Option<&StackState>,
    ) -> Result<Prepared, StackError> {
        let kind = match existing {
            None => ChangeKind::Create,
            Some(s) if s.status == StackStatus::ReviewInProgress => ChangeKind::Create,
            Some(_) => ChangeKind::Update,
        };
        if let Some(s) = existing.filter(|s| s.status == StackStatus::ReviewInProgress) {
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
        if input.express {
            req = req.deployment_config(
                DeploymentConfig::builder()
                    .mode(DeploymentConfigMode::Express)
                    .build(),
            );
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
        let mut poll = self.backoff.poll(stack);
        loop {
            let d = self
                .clients
                .cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(cs_name)
                .include_property_values(true)
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
                            .include_property_values(true)
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
            poll.next().await?;
        }
    }

    /// Deletes a stack that only exists in REVIEW_IN_PROGRESS (a never-executed create).
    pub async fn delete_review_stack(&self, name: &str) -> Result<(), AwsError> {
        if let Some(s) = self.describe(name).await? {
            if s.status == StackStatus::ReviewInProgress {
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

fn collect_changes(
    changes: &[aws_sdk_cloudformation::types::Change],
    out: &mut Vec<ResourceChange>,
) {
    for c in changes {
        let Some(rc) = c.resource_change() else {
            continue;
        };
        let action = match (rc.action(), rc.replacement()) {
            (Some(Cfn::Add), _) => ChangeAction::Add,
            (Some(Cfn::Remove), _) => ChangeAction::Remove,
            (Some(Cfn::Modify), Some(Replacement::True)) => ChangeAction::Replace,
            (Some(Cfn::Modify), Some(Replacement::Conditional)) => ChangeAction::ConditionalReplace,
            (Some(Cfn::Modify), _) => ChangeAction::Modify,
            (Some(Cfn::Import), _) => ChangeAction::Import,
            (Some(Cfn::Dynamic), _) => ChangeAction::Dynamic,
            _ => ChangeAction::Change,
        };
        let properties = rc
            .details()
            .iter()
            .map(|d| {
                let t = d.target();
                let text = |v: Option<&str>| v.map(str::to_string);
                PropertyChange {
                    attribute: t
                        .and_then(|t| t.attribute())
                        .map(|a| a.as_str().to_string())
                        .unwrap_or_default(),
                    name: text(t.and_then(|t| t.name())),
                    path: text(t.and_then(|t| t.path())),
                    requires_recreation: t
                        .and_then(|t| t.requires_recreation())
                        .map(|r| r.as_str().to_string()),
                    change_source: d.change_source().map(|c| c.as_str().to_string()),
                    causing_entity: text(d.causing_entity()),
                    before: text(t.and_then(|t| t.before_value())),
                    after: text(t.and_then(|t| t.after_value())),
                }
            })
            .collect();
        out.push(ResourceChange {
            action,
            logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: rc.resource_type().unwrap_or_default().to_string(),
            properties,
        });
    }
}
