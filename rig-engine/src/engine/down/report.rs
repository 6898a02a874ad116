//! What a teardown shows before it starts, and what it did.

use serde::Serialize;

use super::{Holding, Teardown};
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

impl Teardown {
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty() && self.buckets.is_empty() && self.parameters.is_empty()
    }

    /// The listing shown before asking: one line per stack, bucket, repository and parameter.
    pub fn listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.stacks {
            let mut what = vec![s.status.clone(), s.role.clone()];
            if let Some(e) = &s.env {
                what.push(format!("environment {e}"));
            }
            if s.orphan {
                what.push("orphan: not in what the configuration and flags select".into());
            }
            if s.adopted {
                what.push("untagged, adopted".into());
            }
            out.push(format!("stack     {} ({})", s.name, what.join(", ")));
            for (what, unit, list) in [
                ("bucket    ", "object", &s.buckets),
                ("repository", "image", &s.repositories),
            ] {
                for h in list {
                    let fate = if h.retained {
                        "kept with its contents: the template retains it"
                    } else {
                        "emptied and deleted with the stack"
                    };
                    out.push(format!(
                        "  {what} {} ({}; {fate})",
                        h.name,
                        count(h.count, unit)
                    ));
                }
            }
            if let Some(before) = &s.before_delete {
                out.push(format!(
                    "  first sets {before} (what its backend asks before deletion)"
                ));
            }
        }
        for b in &self.buckets {
            out.push(format!(
                "bucket    {} ({})",
                b.name,
                count(b.count, "object")
            ));
        }
        for p in &self.parameters {
            out.push(format!(
                "parameter {}{}",
                p.name,
                if p.secure { " (SecureString)" } else { "" }
            ));
        }
        out
    }
}

/// `1 object`, `3 objects`.
fn count(n: usize, unit: &str) -> String {
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
