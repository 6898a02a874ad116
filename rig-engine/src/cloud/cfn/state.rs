//! A stack's state as rig needs to know it, read from DescribeStacks.

use std::collections::BTreeMap;

use super::StackStatus;

/// The state of a stack as rig needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    pub name: String,
    /// The stack id (ARN): still answers after the stack is deleted.
    pub id: String,
    pub status: StackStatus,
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
    /// A nested stack (it has a parent): managed through its parent, never on its own. It
    /// carries its parent's tags.
    pub nested: bool,
}

impl StackState {
    /// A live stack for unit tests: `name` in `status`, with `tags`, nothing else.
    #[cfg(test)]
    pub(crate) fn for_test(
        name: &str,
        status: StackStatus,
        tags: BTreeMap<String, String>,
    ) -> Self {
        StackState {
            name: name.into(),
            id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
            status,
            reason: None,
            outputs: vec![],
            parameters: vec![],
            termination_protection: false,
            tags,
            capabilities: vec![],
            resolved: Default::default(),
            nested: false,
        }
    }

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
        self.status.in_progress()
    }
    /// A stack whose deletion failed (a `rig down` that did not finish).
    pub fn delete_failed(&self) -> bool {
        self.status == StackStatus::DeleteFailed
    }
    /// A stack whose creation failed and that can only be deleted.
    pub fn failed_create(&self) -> bool {
        self.status.failed_create()
    }
}

/// A described stack as rig needs it (`None` without a name).
pub(super) fn state_of(s: &aws_sdk_cloudformation::types::Stack) -> Option<StackState> {
    Some(StackState {
        name: s.stack_name()?.to_string(),
        id: s.stack_id().unwrap_or_default().to_string(),
        status: StackStatus::parse(s.stack_status().map(|s| s.as_str()).unwrap_or_default()),
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
        nested: s.parent_id().is_some_and(|p| !p.is_empty()),
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
