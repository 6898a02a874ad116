//! What a teardown did.

use serde::Serialize;

use super::Holding;
use crate::cloud::cfn::ResourceEvent;

/// A stack that could not be deleted.
#[derive(Debug, Clone, Serialize)]
pub struct FailedStack {
    pub name: String,
    pub env: Option<String>,
    pub error: String,
    /// The resources that failed to delete, with CloudFormation's reasons.
    pub resources: Vec<ResourceEvent>,
}

/// A stack not attempted, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LeftStack {
    pub name: String,
    pub because: String,
}

/// What a teardown did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DownReport {
    pub stacks_deleted: Vec<String>,
    pub stacks_failed: Vec<FailedStack>,
    pub stacks_left: Vec<LeftStack>,
    /// Stack-owned buckets and repositories emptied because they blocked their stack's deletion.
    pub emptied: Vec<Holding>,
    /// Resources of deleted stacks that their template retains (`DeletionPolicy: Retain`, such
    /// as CouchDB's backup bucket) or that `--retain` kept: they outlive the riglet.
    pub retained: Vec<ResourceEvent>,
    pub buckets_deleted: Vec<String>,
    /// Template buckets kept because a stack using them is still there.
    pub buckets_left: Vec<String>,
    pub parameters_deleted: Vec<String>,
    /// Parameters kept because the teardown did not finish.
    pub parameters_left: Vec<String>,
    pub errors: Vec<String>,
}

impl DownReport {
    /// Everything selected is gone.
    pub fn finished(&self) -> bool {
        self.stacks_failed.is_empty() && self.stacks_left.is_empty() && self.errors.is_empty()
    }
}
