//! `plan`: what `up` would change, through real change sets that are deleted afterwards.

use crate::cloud::cfn::{
    ChangeKind, Prepared, ResourceChange, StackInput, StackState, StackStatus, Stacks,
    TemplateSource,
};
use crate::engine::converge::stack_input;
use crate::engine::up::Survey;
use crate::engine::{
    env_flag, orphan_note, ChangeAction, Engine, EngineError, ParameterChange, PlanAction,
    PlanReport, StackPlanReport,
};
use crate::planner::RigletPlan;

impl Engine {
    /// Shows what `up` would change, through change sets that are deleted afterwards, and the
    /// riglet's orphans. Errors with [`EngineError::NotOwned`] where `up` would refuse.
    pub async fn plan(&self, plan: &RigletPlan) -> Result<PlanReport, EngineError> {
        let mut report = PlanReport::default();
        // `plan` verifies every existing bucket (`up` only those it writes to).
        let Survey {
            record,
            store,
            buckets,
            ..
        } = self.survey(plan, false).await?;
        for s in &plan.secrets {
            if !store.values.contains_key(&s.requirement.ssm_path) {
                report.secrets_to_store.push(s.requirement.ssm_path.clone());
            }
        }
        for (name, value) in &plan.parameters {
            match store.values.get(name) {
                None => report.parameters_to_create.push(name.clone()),
                Some(v) if v != value => report.parameters_to_write.push(name.clone()),
                Some(_) => {}
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
            let input = stack_input(
                s,
                TemplateSource::Body(&s.plan.template_body),
                plan.express(s),
            );
            let line = |action: PlanAction, changes: Vec<ResourceChange>, note: Option<String>| {
                StackPlanReport {
                    name: name.to_string(),
                    env: s.env.clone(),
                    parameters: match (&state, action) {
                        (Some(live), PlanAction::Update) => {
                            ParameterChange::between(&live.parameters, &input.parameters)
                        }
                        _ => vec![],
                    },
                    action,
                    changes,
                    note,
                }
            };
            let entry = match &state {
                Some(x) if x.in_progress() => line(
                    PlanAction::Wait,
                    vec![],
                    Some(format!("{} — rig up waits for it first", x.status)),
                ),
                Some(x) if x.delete_failed() => line(
                    PlanAction::Blocked,
                    vec![],
                    Some(format!(
                        "DELETE_FAILED: a `rig down` did not finish; run `rig down{}` to finish it first",
                        env_flag(s.env.as_deref())
                    )),
                ),
                Some(x) if x.failed_create() => {
                    let (changes, note) = from_template(
                        &s.plan.template_body,
                        format!("{}: needs `rig up --replace-failed`", x.status),
                    );
                    line(PlanAction::Replace, changes, note)
                }
                Some(x) if x.status != StackStatus::ReviewInProgress => {
                    let (action, changes) = preview(&st, &input, state.as_ref()).await?;
                    line(action, changes, None)
                }
                _ => {
                    let missing_deps: Vec<String> = s
                        .plan
                        .depends_on
                        .iter()
                        .filter(|d| {
                            record
                                .state(d)
                                .is_none_or(|x| x.status == StackStatus::ReviewInProgress)
                        })
                        .cloned()
                        .collect();
                    let secrets_missing = s
                        .plan
                        .secrets
                        .iter()
                        .any(|x| report.secrets_to_store.contains(&x.ssm_path));
                    if missing_deps.is_empty() && !secrets_missing {
                        let (action, changes) = preview(&st, &input, state.as_ref()).await?;
                        line(action, changes, None)
                    } else {
                        let why = if missing_deps.is_empty() {
                            "its secrets are not stored yet".to_string()
                        } else {
                            format!("{} not created yet", missing_deps.join(", "))
                        };
                        let (changes, note) = from_template(
                            &s.plan.template_body,
                            format!("from the template: {why}"),
                        );
                        line(PlanAction::Create, changes, note)
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
                action: PlanAction::Orphan,
                changes: vec![],
                parameters: vec![],
            });
        }
        Ok(report)
    }
}

/// For a stack shown from its template: the resources it declares, and `note` (with why they
/// could not be listed, if the template could not be read).
fn from_template(body: &str, note: String) -> (Vec<ResourceChange>, Option<String>) {
    match template_resources(body) {
        Ok(changes) => (changes, Some(note)),
        Err(why) => (
            vec![],
            Some(format!("{note} (its resources could not be listed: {why})")),
        ),
    }
}

/// What a real change set says `up` would do to a stack; the change set (and, for a create,
/// the stack it left in REVIEW_IN_PROGRESS) is deleted afterwards.
async fn preview(
    st: &Stacks<'_>,
    input: &StackInput<'_>,
    state: Option<&StackState>,
) -> Result<(PlanAction, Vec<ResourceChange>), EngineError> {
    Ok(match st.prepare(input, state).await? {
        Prepared::Unchanged => (PlanAction::Unchanged, vec![]),
        Prepared::Ready {
            change_set,
            kind,
            changes,
        } => {
            st.delete_change_set(input.name, &change_set).await?;
            match kind {
                ChangeKind::Update => (PlanAction::Update, changes),
                ChangeKind::Create => {
                    st.delete_review_stack(input.name).await?;
                    (PlanAction::Create, changes)
                }
            }
        }
    })
}

/// The resources a template declares, as "add" changes in template order, for stacks that
/// cannot have a change set yet (see [`crate::template::declared`]).
pub fn template_resources(body: &str) -> Result<Vec<ResourceChange>, String> {
    Ok(crate::template::declared(body)?
        .into_iter()
        .map(|d| ResourceChange {
            action: ChangeAction::Add,
            logical_id: d.logical_id,
            resource_type: d.resource_type,
            properties: vec![],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_and_types(r: &[ResourceChange]) -> Vec<(&str, &str)> {
        r.iter()
            .map(|c| (c.logical_id.as_str(), c.resource_type.as_str()))
            .collect()
    }

    #[test]
    fn resources_are_read_from_the_template() {
        let t = "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  X:\n    Type: String\nResources:\n  # comment\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: !Ref X\n  Igw:\n    Type: 'AWS::EC2::InternetGateway'\nOutputs:\n  VpcId:\n    Value: !Ref Vpc\n";
        let r = template_resources(t).expect("the template reads");
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].logical_id, "Vpc");
        assert_eq!(r[1].resource_type, "AWS::EC2::InternetGateway");
        assert!(r.iter().all(|c| c.action == ChangeAction::Add), "{r:?}");
    }

    #[test]
    fn a_real_template_lists_its_resources_in_order() {
        let r = template_resources(include_str!("../../../templates/foundation.yaml"))
            .expect("foundation.yaml reads");
        let got = ids_and_types(&r);
        assert_eq!(
            got[..2],
            [
                ("VPC", "AWS::EC2::VPC"),
                ("InternetGateway", "AWS::EC2::InternetGateway")
            ],
            "{got:?}"
        );
        for known in [
            ("AppSecurityGroup", "AWS::EC2::SecurityGroup"),
            ("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer"),
            ("AppBucket", "AWS::S3::Bucket"),
        ] {
            assert!(got.contains(&known), "{known:?} missing from {got:?}");
        }
        // Parameters (which also have a `Type`) are not resources.
        assert!(!got.iter().any(|(id, _)| *id == "Environment"), "{got:?}");
        assert!(got.iter().all(|(_, ty)| ty.starts_with("AWS::")), "{got:?}");
    }

    #[test]
    fn every_template_in_the_repository_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("templates/") {
            let path = entry.expect("templates/ entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let body = std::fs::read_to_string(&path).expect("template");
                let r = template_resources(&body).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                assert!(!r.is_empty(), "{path:?} lists no resources");
                seen += 1;
            }
        }
        assert!(seen > 0, "no templates in {dir:?}");
    }

    #[test]
    fn short_form_tags_in_flow_and_block_positions_are_read_past() {
        let t = r#"
Conditions:
  HasDomain: !Not [!Equals [!Ref Domain, '']]
Resources:
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !ImportValue {"Fn::Sub": "${Foundation}--VpcId"}
      AvailabilityZone: !Select [0, !GetAZs '']
      CidrBlock: !If [HasDomain, !GetAtt Vpc.CidrBlock, !Ref "AWS::NoValue"]
      Tags: [{Key: Name, Value: !Sub "${AWS::StackName}-subnet"}]
      Ipv6CidrBlock: !If
        - HasDomain
        - !Select
          - 0
          - !GetAtt Vpc.Ipv6CidrBlocks
        - !Ref AWS::NoValue
  Policy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyDocument: !Sub |
        {"Resource": "arn:${AWS::Partition}:s3:::${Bucket}/*"}
      Roles:
        - !Ref Role
        - !GetAtt [Role, Arn]
  Bucket: {Type: "AWS::S3::Bucket", Properties: {BucketName: !Sub "${AWS::AccountId}-b"}}
Outputs:
  Id: {Value: !Ref Subnet, Export: {Name: !Sub "${AWS::StackName}--Id"}}
"#;
        let r = template_resources(t).expect("tags are read past");
        assert_eq!(
            ids_and_types(&r),
            [
                ("Subnet", "AWS::EC2::Subnet"),
                ("Policy", "AWS::IAM::Policy"),
                ("Bucket", "AWS::S3::Bucket"),
            ]
        );
    }

    #[test]
    fn json_templates_are_read_too() {
        let t = "{\n\t\"AWSTemplateFormatVersion\": \"2010-09-09\",\n\t\"Resources\": {\n\t\t\"Queue\": {\"Type\": \"AWS::SQS::Queue\", \"Properties\": {\"QueueName\": {\"Fn::Sub\": \"${AWS::StackName}-q\\u00e9\"}}},\n\t\t\"Topic\": {\"Type\": \"AWS::SNS::Topic\"}\n\t}\n}\n";
        let r = template_resources(t).expect("JSON reads");
        assert_eq!(
            ids_and_types(&r),
            [("Queue", "AWS::SQS::Queue"), ("Topic", "AWS::SNS::Topic")]
        );
    }

    #[test]
    fn an_unreadable_template_lists_nothing_and_says_why() {
        let broken = "Resources:\n  A:\n    Type: [unclosed\n";
        let why = template_resources(broken).unwrap_err();
        assert!(why.starts_with("not valid YAML or JSON"), "{why}");
        let (changes, note) = from_template(broken, "from the template".into());
        assert!(changes.is_empty());
        assert!(note.is_some_and(|n| n.contains(&why)));
        assert!(template_resources("").is_err());
        assert!(template_resources("- a list\n").is_err());
        assert!(template_resources("Parameters: {}\n").is_err());
    }
}
