//! What commands report: outcomes and actions as serialisable enums, not strings.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::cloud::cfn::{ChangeAction, ResourceChange};
use crate::engine::record::OrphanReport;

/// What happened to one stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Failed,
    /// Not attempted because a stack it depends on failed.
    Skipped,
    /// Deleted (`down`).
    Deleted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Deleted => "deleted",
        }
    }
}

/// One stack's result of `up`.
#[derive(Debug, Clone, Serialize)]
pub struct StackReport {
    pub name: String,
    pub env: Option<String>,
    pub outcome: Outcome,
    pub changes: Vec<ResourceChange>,
    pub error: Option<String>,
    /// Milliseconds since the start of the run.
    pub started_ms: u128,
    pub finished_ms: u128,
    /// Its template was new and had to be uploaded.
    pub template_uploaded: bool,
}

/// The result of `up`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct UpReport {
    pub stacks: Vec<StackReport>,
    pub buckets_created: Vec<String>,
    pub parameters_written: Vec<String>,
    pub secrets_stored: Vec<String>,
    pub templates_uploaded: usize,
    /// Live stacks of the riglet the configuration no longer has (kept unless `--prune`).
    pub orphans: Vec<OrphanReport>,
}

impl UpReport {
    pub fn failed(&self) -> bool {
        self.stacks
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed | Outcome::Skipped))
    }
    pub fn changed(&self) -> bool {
        !self.buckets_created.is_empty()
            || !self.parameters_written.is_empty()
            || !self.secrets_stored.is_empty()
            || self
                .stacks
                .iter()
                .any(|s| matches!(s.outcome, Outcome::Created | Outcome::Updated))
    }
}

/// What `up` would do to a stack (serialised kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanAction {
    Create,
    Update,
    Unchanged,
    /// Its creation failed; `up --replace-failed` deletes and re-creates it.
    Replace,
    /// A change is in progress; `up` waits for it first.
    Wait,
    /// DELETE_FAILED: a `rig down` did not finish.
    Blocked,
    /// Live, not in the configuration any more: `rig up --prune` or `rig down` deletes it.
    Orphan,
}

impl PlanAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanAction::Create => "create",
            PlanAction::Update => "update",
            PlanAction::Unchanged => "unchanged",
            PlanAction::Replace => "replace",
            PlanAction::Wait => "wait",
            PlanAction::Blocked => "blocked",
            PlanAction::Orphan => "orphan",
        }
    }
}

/// One stack's line in `rig plan`.
#[derive(Debug, Clone, Serialize)]
pub struct StackPlanReport {
    pub name: String,
    pub env: Option<String>,
    pub action: PlanAction,
    pub changes: Vec<ResourceChange>,
    /// For an update: the stack parameters whose value changes.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub parameters: Vec<ParameterChange>,
    pub note: Option<String>,
}

/// A stack parameter whose value an update changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterChange {
    pub key: String,
    /// The live value (absent: the template adds the parameter).
    pub before: Option<String>,
    /// The planned value.
    pub after: String,
}

impl ParameterChange {
    /// The planned parameters whose value differs from the live stack's, by key. A parameter
    /// not given keeps its template default and is not compared; a `NoEcho` parameter
    /// (DescribeStacks shows `****`) is left out: its value cannot be compared or shown.
    pub fn between(
        live: &[(String, String)],
        planned: &[(String, String)],
    ) -> Vec<ParameterChange> {
        let live: BTreeMap<&str, &str> =
            live.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut out: Vec<ParameterChange> = planned
            .iter()
            .filter(|(k, v)| {
                let before = live.get(k.as_str());
                before != Some(&v.as_str()) && before != Some(&"****")
            })
            .map(|(k, v)| ParameterChange {
                key: k.clone(),
                before: live.get(k.as_str()).map(|b| b.to_string()),
                after: v.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

/// The totals of a plan's resource changes across all stacks (`rig plan`'s last line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanTotals {
    pub add: usize,
    pub modify: usize,
    /// Replacements, `Conditional` ones included.
    pub replace: usize,
    pub remove: usize,
}

/// The result of `plan`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PlanReport {
    pub stacks: Vec<StackPlanReport>,
    pub buckets_to_create: Vec<String>,
    /// Parameters that do not exist yet.
    pub parameters_to_create: Vec<String>,
    /// Parameters whose value changes.
    pub parameters_to_write: Vec<String>,
    pub secrets_to_store: Vec<String>,
}

impl PlanReport {
    /// The resource changes counted across all stacks.
    pub fn totals(&self) -> PlanTotals {
        let mut t = PlanTotals::default();
        for c in self.stacks.iter().flat_map(|s| &s.changes) {
            match c.action {
                ChangeAction::Add | ChangeAction::Import => t.add += 1,
                ChangeAction::Replace | ChangeAction::ConditionalReplace => t.replace += 1,
                ChangeAction::Remove => t.remove += 1,
                ChangeAction::Modify | ChangeAction::Dynamic | ChangeAction::Change => {
                    t.modify += 1
                }
            }
        }
        t
    }

    pub fn has_changes(&self) -> bool {
        !self.buckets_to_create.is_empty()
            || !self.parameters_to_create.is_empty()
            || !self.parameters_to_write.is_empty()
            || !self.secrets_to_store.is_empty()
            || self
                .stacks
                .iter()
                .any(|s| s.action != PlanAction::Unchanged)
    }
}

/// A health probe's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub what: String,
    pub healthy: bool,
    pub detail: String,
}

/// One stack in `rig status`.
#[derive(Debug, Clone, Serialize)]
pub struct StackStatusReport {
    pub name: String,
    pub env: Option<String>,
    /// `foundation`, `compute`, `database`, `pipeline` or `application`.
    pub role: String,
    /// `None`: the stack does not exist.
    pub status: Option<String>,
    pub termination_protection: bool,
    /// Live, but not in what the configuration and flags select (a backend switched, an
    /// environment removed).
    pub orphan: bool,
    /// A stack with this name exists but its tags say it is another's: the tags it has.
    pub not_owned: Option<String>,
    pub probes: Vec<ProbeResult>,
}

/// ` --env E` for a hint, or nothing for a riglet-wide stack.
pub fn env_flag(env: Option<&str>) -> String {
    env.map(|e| format!(" --env {e}")).unwrap_or_default()
}

/// What `plan` and `up` say of an orphan.
pub fn orphan_note(o: &OrphanReport) -> String {
    // What holds data first, then the rest; at most eight named.
    const STATEFUL: [&str; 6] = [
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::S3::Bucket",
        "AWS::EC2::Volume",
        "AWS::ECR::Repository",
        "AWS::EC2::Instance",
    ];
    let mut holds: Vec<&String> = o.holds.iter().collect();
    holds.sort_by_key(|h| !STATEFUL.iter().any(|t| h.starts_with(t)));
    let shown: Vec<&str> = holds.iter().take(8).map(|h| h.as_str()).collect();
    let mut note = format!(
        "live, but not in what the configuration and flags select ({} stack{}{}); it holds {} resource{}{}{}",
        o.role,
        o.backend
            .as_ref()
            .map(|b| format!(" of backend {b}"))
            .unwrap_or_default(),
        o.env
            .as_ref()
            .map(|e| format!(", environment {e}"))
            .unwrap_or_default(),
        o.holds.len(),
        if o.holds.len() == 1 { "" } else { "s" },
        if shown.is_empty() {
            String::new()
        } else {
            format!(": {}", shown.join(", "))
        },
        if o.holds.len() > shown.len() {
            format!(" and {} more", o.holds.len() - shown.len())
        } else {
            String::new()
        }
    );
    if o.role == "database" {
        note.push_str("; its data stays in this stack until it is pruned");
    }
    let flag = match o.role.as_str() {
        "database" => Some("--db"),
        "compute" => Some("--compute"),
        _ => None,
    };
    if let (Some(flag), Some(b)) = (flag, &o.backend) {
        note.push_str(&format!(
            "; to keep using it, select it again (`{flag} {b}`, or in rig.toml)"
        ));
    }
    note.push_str(
        "; `rig up --prune` with the same configuration and flags deletes it, after listing it and asking",
    );
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameter_changes_are_the_planned_values_that_differ() {
        let live = kv(&[
            ("MaxCapacity", "4"),
            ("MinCapacity", "0.5"),
            ("Password", "****"),
            ("Defaulted", "x"),
        ]);
        let planned = kv(&[
            ("MinCapacity", "0.5"),
            ("MaxCapacity", "16"),
            ("Password", "p"),
            ("New", "1"),
        ]);
        let got = ParameterChange::between(&live, &planned);
        assert_eq!(
            got,
            vec![
                ParameterChange {
                    key: "MaxCapacity".into(),
                    before: Some("4".into()),
                    after: "16".into()
                },
                ParameterChange {
                    key: "New".into(),
                    before: None,
                    after: "1".into()
                },
            ]
        );
    }
}
