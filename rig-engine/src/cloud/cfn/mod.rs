//! CloudFormation: describing stacks, change sets (`changeset`), waiting with event streaming and
//! deleting (`waiter`).
//!
//! Every create and update goes through a change set. An empty change set — in any of the
//! shapes AWS (and stand-ins) produce — means "unchanged" and is deleted.

mod changeset;
mod poll;
mod state;
mod status;
mod waiter;

pub use poll::Backoff;
use state::state_of;
pub use state::StackState;
pub use status::StackStatus;

use std::time::Duration;

use crate::cloud::{aws_err, AwsError, Clients};
use crate::events::EventSink;
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

/// What a change set does to a resource (serialised kebab-case: `add`, `modify`, `replace`,
/// `conditional-replace`, `remove`, `import`, `dynamic`, `change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeAction {
    Add,
    Modify,
    /// A modification that replaces the resource (`Replacement: True`).
    Replace,
    /// A modification that may replace it (`Replacement: Conditional`).
    ConditionalReplace,
    Remove,
    Import,
    Dynamic,
    /// Anything CloudFormation adds later.
    Change,
}

impl ChangeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Add => "add",
            ChangeAction::Modify => "modify",
            ChangeAction::Replace => "replace",
            ChangeAction::ConditionalReplace => "conditional-replace",
            ChangeAction::Remove => "remove",
            ChangeAction::Import => "import",
            ChangeAction::Dynamic => "dynamic",
            ChangeAction::Change => "change",
        }
    }
}

/// What a change set would do to one resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceChange {
    pub action: ChangeAction,
    pub logical_id: String,
    pub resource_type: String,
    /// For a modification: each property (or attribute) that changes, as the change set's
    /// `Details` say (empty for an add or a remove).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub properties: Vec<PropertyChange>,
}

/// One changed property of a resource: an entry of a change set's `ResourceChange.Details`
/// (the API reference's `ResourceChangeDetail` and `ResourceTargetDefinition`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PropertyChange {
    /// `Properties` (then `name` is the property), `Metadata`, `Tags`, ...
    pub attribute: String,
    /// The property's name, e.g. `ServerlessV2ScalingConfiguration`.
    pub name: Option<String>,
    /// The JSON path of the changed value inside the property, e.g.
    /// `/Properties/ServerlessV2ScalingConfiguration/MaxCapacity`, when AWS gives it.
    pub path: Option<String>,
    /// Whether changing it replaces the resource: `Never`, `Conditionally` or `Always`.
    pub requires_recreation: Option<String>,
    /// What causes the change: `DirectModification`, `ParameterReference`,
    /// `ResourceReference`, `ResourceAttribute`, `Automatic`.
    pub change_source: Option<String>,
    /// The parameter or resource that causes it (for `ParameterReference`, the parameter's key).
    pub causing_entity: Option<String>,
    /// The value before and after, as JSON text, when the change set includes property values.
    pub before: Option<String>,
    pub after: Option<String>,
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
    /// Deploy in CloudFormation's express mode (`DeploymentConfig.Mode = EXPRESS` on the
    /// change set); otherwise the standard mode.
    pub express: bool,
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

/// Operations on stacks, with the clients and where their events go.
pub struct Stacks<'a> {
    pub clients: &'a Clients,
    pub events: &'a dyn EventSink,
    pub backoff: Backoff,
}

pub(crate) fn is_missing(e: &AwsError) -> bool {
    e.code() == Some("ValidationError") && e.message().contains("does not exist")
}

/// A change set name unique enough for one stack: `rig-<milliseconds since the epoch>`.
pub(crate) fn chrono_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

pub(crate) fn no_changes(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("didn't contain changes")
        || r.contains("did not contain changes")
        || r.contains("no updates are to be performed")
}

impl Stacks<'_> {
    pub(crate) fn ep(&self) -> Option<&str> {
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
        Ok(state_of(s).filter(|s| s.status != StackStatus::DeleteComplete))
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
                    .filter(|s| s.status != StackStatus::DeleteComplete),
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
}
