//! `plan`: what `up` would change, through real change sets that are deleted afterwards.

use std::collections::BTreeMap;

use crate::cloud::cfn::{Prepared, ResourceChange, TemplateSource};
use crate::engine::converge::{stack_input, Work};
use crate::engine::{env_flag, orphan_note, Engine, EngineError, PlanReport, StackPlanReport};
use crate::planner::RigletPlan;

impl Engine {
    /// Shows what `up` would change, through change sets that are deleted afterwards, and the
    /// riglet's orphans. Errors with [`EngineError::NotOwned`] where `up` would refuse.
    pub async fn plan(&self, plan: &RigletPlan) -> Result<PlanReport, EngineError> {
        let mut report = PlanReport::default();
        let record = self.record(plan).await?;
        let mut refused = record.foreign.clone();
        let mut notes = record.adoption_notes();
        let store = self
            .survey_store(plan, &record, &mut refused, &mut notes)
            .await?;
        // `plan` checks every existing bucket (`up` only those it writes to).
        let all: BTreeMap<String, Work> = plan
            .stacks
            .iter()
            .map(|s| (s.plan.name.clone(), Work::Converge))
            .collect();
        let buckets = self
            .survey_buckets(plan, &all, &mut refused, &mut notes)
            .await?;
        if !refused.is_empty() {
            return Err(EngineError::NotOwned(refused));
        }
        for n in &notes {
            self.events.note(n.clone());
        }
        for s in &plan.secrets {
            if !store.values.contains_key(&s.requirement.ssm_path) {
                report.secrets_to_store.push(s.requirement.ssm_path.clone());
            }
        }
        for (name, value) in &plan.parameters {
            if store.values.get(name) != Some(value) {
                report.parameters_to_write.push(name.clone());
            }
        }
        for (b, current) in &buckets {
            if current.is_none() {
                report.buckets_to_create.push(b.name.clone());
            }
        }
        let st = self.stacks();
        for s in &plan.stacks {
            let name = s.plan.name.as_str();
            let state = record.state(name).cloned();
            let input = stack_input(s, TemplateSource::Body(&s.plan.template_body));
            let line = |action: &str, changes: Vec<ResourceChange>, note: Option<String>| {
                StackPlanReport {
                    name: name.to_string(),
                    env: s.env.clone(),
                    action: action.to_string(),
                    changes,
                    note,
                }
            };
            let entry = match &state {
                Some(x) if x.in_progress() => line(
                    "wait",
                    vec![],
                    Some(format!("{} — rig up waits for it first", x.status)),
                ),
                Some(x) if x.delete_failed() => line(
                    "blocked",
                    vec![],
                    Some(format!(
                        "DELETE_FAILED: a `rig down` did not finish; run `rig down{}` to finish it first",
                        env_flag(s.env.as_deref())
                    )),
                ),
                Some(x) if x.failed_create() => line(
                    "replace",
                    template_resources(&s.plan.template_body),
                    Some(format!("{}: needs `rig up --replace-failed`", x.status)),
                ),
                Some(x) if x.status != "REVIEW_IN_PROGRESS" => {
                    match st.prepare(&input, state.as_ref()).await? {
                        Prepared::Unchanged => line("unchanged", vec![], None),
                        Prepared::Ready {
                            change_set,
                            changes,
                            ..
                        } => {
                            st.delete_change_set(name, &change_set).await?;
                            line("update", changes, None)
                        }
                    }
                }
                _ => {
                    let missing_deps: Vec<String> = s
                        .plan
                        .depends_on
                        .iter()
                        .filter(|d| {
                            record
                                .state(d)
                                .is_none_or(|x| x.status == "REVIEW_IN_PROGRESS")
                        })
                        .cloned()
                        .collect();
                    let secrets_missing = s
                        .plan
                        .secrets
                        .iter()
                        .any(|x| report.secrets_to_store.contains(&x.ssm_path));
                    if missing_deps.is_empty() && !secrets_missing {
                        match st.prepare(&input, state.as_ref()).await? {
                            Prepared::Unchanged => line("unchanged", vec![], None),
                            Prepared::Ready {
                                change_set,
                                changes,
                                ..
                            } => {
                                st.delete_change_set(name, &change_set).await?;
                                st.delete_review_stack(name).await?;
                                line("create", changes, None)
                            }
                        }
                    } else {
                        let why = if missing_deps.is_empty() {
                            "its secrets are not stored yet".to_string()
                        } else {
                            format!("{} not created yet", missing_deps.join(", "))
                        };
                        line(
                            "create",
                            template_resources(&s.plan.template_body),
                            Some(format!("from the template: {why}")),
                        )
                    }
                }
            };
            report.stacks.push(entry);
        }
        for o in self.orphan_reports(&record).await? {
            report.stacks.push(StackPlanReport {
                note: Some(orphan_note(&o)),
                name: o.name,
                env: o.env,
                action: "orphan".into(),
                changes: vec![],
            });
        }
        Ok(report)
    }
}

/// The resources a template declares, as "add" changes (for stacks that cannot have a change
/// set yet). Reads the top-level `Resources:` block of a YAML template.
pub fn template_resources(body: &str) -> Vec<ResourceChange> {
    let mut out = Vec::new();
    let mut in_resources = false;
    let mut current: Option<String> = None;
    for line in body.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            in_resources = line.trim_end() == "Resources:";
            current = None;
            continue;
        }
        if !in_resources {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 2 && t.ends_with(':') && !t.starts_with('#') {
            current = Some(t.trim_end_matches(':').to_string());
        } else if let (Some(id), Some(ty)) = (&current, t.strip_prefix("Type:")) {
            if indent == 4 {
                out.push(ResourceChange {
                    action: "add".into(),
                    logical_id: id.clone(),
                    resource_type: ty.trim().trim_matches(['\'', '"']).to_string(),
                });
                current = None;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_read_from_the_template() {
        let t = "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  X:\n    Type: String\nResources:\n  # comment\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: !Ref X\n  Igw:\n    Type: 'AWS::EC2::InternetGateway'\nOutputs:\n  VpcId:\n    Value: !Ref Vpc\n";
        let r = template_resources(t);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].logical_id, "Vpc");
        assert_eq!(r[1].resource_type, "AWS::EC2::InternetGateway");
    }
}
