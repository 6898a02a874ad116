//! The riglet's build notifications: one stack `<owner>-<project>-notifications` from
//! `templates/notifications.yaml` when the riglet has pipelines. It holds the build topic
//! (`<owner>-<project>-build`, e-mail subscription from `[notifications]`), EventBridge rules on
//! exactly the riglet's pipelines and, with `slack = true`, the function that posts to Slack.
//!
//! The Slack webhook URL is a secret: rig keeps it as an SSM SecureString
//! ([`SLACK_SECRET`] at `/<owner>/<project>/build/slack-webhook-url`); the template gets only
//! the parameter's name, and the function reads the value when it runs.

use rig_core::{Capability, Role, SecretRequirement, StackPlan};

use super::{PlanError, PlannedStack};
use crate::config::Riglet;
use crate::ownership;

/// rig's notifications template.
pub const NOTIFICATIONS_TEMPLATE: &str = include_str!("../../../templates/notifications.yaml");

/// The `rig:backend` of the notifications stack (rig plans it itself).
pub const NOTIFICATIONS_BACKEND: &str = "notifications";

/// The name of the Slack webhook secret (`RIG_SECRET_slack_webhook_url` supplies it).
pub const SLACK_SECRET: &str = "slack_webhook_url";

/// Output keys `notifications.yaml` promises.
pub const OUTPUTS: &[&str] = &["BuildTopicArn", "BuildTopicName"];

/// The notifications stack, or none when the plan has no pipelines.
pub(super) fn notifications_stack(
    riglet: &Riglet,
    stacks: &[PlannedStack],
) -> Result<Option<PlannedStack>, PlanError> {
    let pipelines: Vec<&str> = stacks
        .iter()
        .filter(|s| s.plan.role == Role::Pipeline)
        .map(|s| s.plan.name.as_str())
        .collect();
    if pipelines.is_empty() {
        return Ok(None);
    }
    let names = &riglet.names;
    let name = format!("{}-notifications", names.prefix());
    rig_core::names::validate_stack_name(&name)?;
    let slack_path = format!("{}/build/slack-webhook-url", names.ssm_prefix());
    let n = &riglet.notifications;
    let parameters = [
        ("Owner", riglet.info.owner.clone()),
        ("Project", riglet.info.project.clone()),
        ("PipelineNames", pipelines.join(",")),
        ("EmailAddress", n.email.clone().unwrap_or_default()),
        (
            "SlackWebhookParameter",
            if n.slack {
                slack_path.clone()
            } else {
                String::new()
            },
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let secrets = if n.slack {
        vec![SecretRequirement {
            name: SLACK_SECRET.into(),
            ssm_path: slack_path,
            description: "Slack incoming-webhook URL for build notifications (https://hooks.slack.com/services/...)".into(),
            min_length: 20,
            forbidden_chars: " ".into(),
            max_length: None,
        }]
    } else {
        vec![]
    };
    let mut stack = PlannedStack {
        env: None,
        backend: NOTIFICATIONS_BACKEND.into(),
        suffix: "notifications".into(),
        template_bucket: names.bucket("build", None),
        app: None,
        uploads: vec![],
        plan: StackPlan {
            name: name.clone(),
            role: Role::Pipeline,
            template_file: "notifications.yaml".into(),
            template_body: NOTIFICATIONS_TEMPLATE.to_string(),
            parameters,
            tags: Default::default(),
            capabilities: vec![Capability::CapabilityIam],
            depends_on: vec![],
            outputs: OUTPUTS.iter().map(|s| s.to_string()).collect(),
            probes: vec![],
            secrets,
            before_delete: Default::default(),
        },
    };
    let mut tags = stack.expected(names).tags();
    tags.insert(ownership::BACKEND.to_string(), NOTIFICATIONS_BACKEND.into());
    tags.insert(
        ownership::TEMPLATE_BUCKET.to_string(),
        stack.template_bucket.clone(),
    );
    tags.extend([
        ("Owner".to_string(), riglet.info.owner.clone()),
        ("Project".to_string(), riglet.info.project.clone()),
    ]);
    stack.plan.tags = tags;
    Ok(Some(stack))
}
