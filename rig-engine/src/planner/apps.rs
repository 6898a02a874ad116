//! Application stacks: one per `[[apps]]` entry and environment, from rig's own
//! `templates/app.yaml` (the seed's `cloudformation/app`).
//!
//! The planner fills in everything `rig.toml` decides. Three parameters depend on what is live
//! and are left empty here ([`DEFERRED`]): the image the stack runs, its listener-rule
//! priorities (kept stable across runs) and the public hosted zone (unless `hosted_zone_id` is
//! configured). The engine settles them before any change (`engine::apps`); an app stack that
//! does not exist and is given no image is never created by `rig up`.
//!
//! The template is rendered per app: its container environment variables and secrets are
//! inserted at the `# rig:environment` and `# rig:secrets` markers. Secrets are SSM SecureString
//! parameters under the app's namespace, referenced by ARN (ECS resolves them when a task
//! starts); their values never reach the template.

use rig_core::names::RigletNames;
use rig_core::{Capability, EnvironmentSpec, Role, SecretRequirement, StackPlan};

use super::{PlanError, PlannedStack};
use crate::config::{AppSpec, Riglet};
use crate::ownership;

/// rig's application template.
pub const APP_TEMPLATE: &str = include_str!("../../../templates/app.yaml");

/// The `rig:backend` of app stacks (rig plans them itself; no plugin does).
pub const APP_BACKEND: &str = "app";

/// Parameters the engine settles from what is live (see the module docs).
pub const DEFERRED: &[&str] = &[
    "ContainerImage",
    "ListenerRulePriority",
    "PreferredListenerRulePriority",
    "HostedZoneId",
];

/// The offset of the production preferred-name rule's priority from the app's own.
pub use crate::priorities::PREFERRED_OFFSET;

/// Output keys `app.yaml` promises.
pub const OUTPUTS: &[&str] = &[
    "ApplicationUrl",
    "ClusterName",
    "ServiceName",
    "ServiceArn",
    "TaskDefinitionArn",
    "TargetGroupArn",
    "LogGroupName",
    "ContainerImage",
];

/// The key of the zip a pipeline's S3 source action reads in the app bucket:
/// `templates/<app stack>.zip`, holding `app.yaml` and `config.json`.
pub fn pipeline_template_key(app_stack: &str) -> String {
    format!("templates/{app_stack}.zip")
}

/// What the engine needs to settle an app stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSlot {
    /// [`AppSpec::key`]: the app's name, with `@branch` for a branch copy.
    pub key: String,
    /// The app's name.
    pub name: String,
    /// The listener-rule priority given in `rig.toml`, if any.
    pub fixed_priority: Option<u32>,
    /// The host name of its own listener rule and DNS record.
    pub host: String,
    /// Production's `<subdomain>.<domain>`, if it has one.
    pub preferred_host: Option<String>,
}

/// The app stacks of every planned environment, after the environment's stacks.
pub(super) fn app_stacks(
    riglet: &Riglet,
    env_stacks: &[PlannedStack],
) -> Result<Vec<PlannedStack>, PlanError> {
    let mut out = Vec::new();
    if riglet.apps.is_empty() {
        return Ok(out);
    }
    for env in &riglet.environments {
        let of_role = |role: Role| {
            env_stacks
                .iter()
                .find(|s| s.plan.role == role && s.env.as_deref() == Some(env.name.as_str()))
        };
        let (Some(foundation), Some(compute)) = (of_role(Role::Foundation), of_role(Role::Compute))
        else {
            continue;
        };
        let launch_type = launch_type(compute)?;
        let mut deps = vec![foundation.plan.name.clone(), compute.plan.name.clone()];
        deps.extend(of_role(Role::Database).map(|d| d.plan.name.clone()));
        for app in &riglet.apps {
            let ctx = Ctx {
                riglet,
                env,
                app,
                foundation: &foundation.plan.name,
                compute: &compute.plan.name,
                launch_type: &launch_type,
            };
            out.push(ctx.stack(deps.clone())?);
        }
    }
    Ok(out)
}

/// The launch type a compute stack offers: the literal value of its template's `LaunchType`
/// output (`FARGATE` or `EC2`).
fn launch_type(compute: &PlannedStack) -> Result<String, PlanError> {
    match crate::template::literal_output(&compute.plan.template_body, "LaunchType").as_deref() {
        Some(t @ ("FARGATE" | "EC2")) => Ok(t.to_string()),
        other => Err(PlanError::BadPlan {
            role: Role::Compute,
            id: compute.backend.clone(),
            problem: format!(
                "applications need the compute template to output `LaunchType` as the literal FARGATE or EC2 (found {})",
                other.unwrap_or("none")
            ),
        }),
    }
}

struct Ctx<'a> {
    riglet: &'a Riglet,
    env: &'a EnvironmentSpec,
    app: &'a AppSpec,
    foundation: &'a str,
    compute: &'a str,
    launch_type: &'a str,
}

impl Ctx<'_> {
    fn names(&self) -> &RigletNames {
        &self.riglet.names
    }

    fn stack(&self, depends_on: Vec<String>) -> Result<PlannedStack, PlanError> {
        let (r, env, app) = (self.riglet, self.env, self.app);
        let names = self.names();
        let branch = app.branch.as_deref();
        let name = names.app_stack(&env.name, &app.name, branch);
        let host = format!(
            "{}.{}",
            names.app_host_label(&env.name, &app.name, branch),
            r.info.domain
        );
        let preferred_host = match (&app.subdomain, branch) {
            (Some(sub), None) if env.production => Some(format!("{sub}.{}", r.info.domain)),
            _ => None,
        };
        let namespace = names.app_ssm_namespace(&env.name, &app.name);
        let autoscaling = app.autoscaling.as_ref();
        let desired = app.desired_count.get(&env.name).copied().unwrap_or(1);
        let parameters = [
            ("Environment", env.name.clone()),
            ("AppName", app.name.clone()),
            ("FoundationStackName", self.foundation.to_string()),
            ("ComputeStackName", self.compute.to_string()),
            ("LaunchType", self.launch_type.to_string()),
            ("ContainerImage", String::new()),
            ("ContainerPort", app.port.to_string()),
            ("ContainerCpu", app.cpu.to_string()),
            ("ContainerMemory", app.memory.to_string()),
            ("TaskDesiredCount", desired.to_string()),
            ("HealthCheckPath", app.health_check_path.clone()),
            (
                "HealthCheckGracePeriodSeconds",
                app.health_check_grace_period.to_string(),
            ),
            (
                "ListenerRulePriority",
                app.priority.map(|p| p.to_string()).unwrap_or_default(),
            ),
            (
                "PreferredListenerRulePriority",
                app.priority
                    .map(|p| (p + PREFERRED_OFFSET).to_string())
                    .unwrap_or_default(),
            ),
            ("HostName", host.clone()),
            (
                "PreferredHostName",
                preferred_host.clone().unwrap_or_default(),
            ),
            ("HostedZoneId", r.hosted_zone_id.clone().unwrap_or_default()),
            ("SsmEnvironmentNamespace", namespace.clone()),
            ("IamPath", names.app_iam_path(&app.name, branch)),
            ("LogRetentionInDays", app.log_retention_days.to_string()),
            ("ErrorAlarm", (env.name != "integration").to_string()),
            (
                "AutoScalingMinCapacity",
                autoscaling.map_or(1, |a| a.min).to_string(),
            ),
            (
                "AutoScalingMaxCapacity",
                autoscaling.map_or(0, |a| a.max).to_string(),
            ),
            (
                "AutoScalingCpuTarget",
                autoscaling.map_or(60, |a| a.cpu_target).to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let secrets = app
            .secrets
            .iter()
            .map(|s| SecretRequirement {
                name: s.clone(),
                ssm_path: format!("{namespace}/{s}"),
                // The prompt adds the environment.
                description: format!("secret {s} of app {}", app.key()),
                min_length: 1,
                forbidden_chars: String::new(),
                max_length: None,
            })
            .collect();
        let plan = StackPlan {
            name: name.clone(),
            role: Role::Application,
            template_file: format!("{name}.yaml"),
            template_body: render(app)?,
            parameters,
            tags: Default::default(),
            capabilities: vec![Capability::CapabilityIam],
            depends_on,
            outputs: OUTPUTS.iter().map(|s| s.to_string()).collect(),
            probes: vec![],
            secrets,
            before_delete: Default::default(),
        };
        let mut stack = PlannedStack {
            env: Some(env.name.clone()),
            backend: APP_BACKEND.into(),
            suffix: "app".into(),
            // The foundation's app bucket (`AppBucket`): the environment's, made by its stack,
            // so it is not one of the template buckets rig creates and deletes itself.
            template_bucket: names.bucket("app", Some(&env.name)),
            app: Some(AppSlot {
                key: app.key(),
                name: app.name.clone(),
                fixed_priority: app.priority,
                host,
                preferred_host,
            }),
            uploads: vec![],
            plan,
        };
        let mut tags = stack.expected(names).tags();
        tags.insert(ownership::BACKEND.to_string(), APP_BACKEND.into());
        tags.extend([
            ("Owner".to_string(), r.info.owner.clone()),
            ("Project".to_string(), r.info.project.clone()),
            ("Environment".to_string(), env.name.clone()),
        ]);
        stack.plan.tags = tags;
        Ok(stack)
    }
}

/// `app.yaml` with the app's environment variables and secrets inserted at its markers.
fn render(app: &AppSpec) -> Result<String, PlanError> {
    let bad = |problem: &str| PlanError::BadPlan {
        role: Role::Application,
        id: APP_BACKEND.into(),
        problem: problem.to_string(),
    };
    let mut out = String::with_capacity(APP_TEMPLATE.len() + 512);
    let (mut env_seen, mut secrets_seen) = (false, false);
    for line in APP_TEMPLATE.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed == "# rig:environment" {
            env_seen = true;
            for (k, v) in &app.environment {
                out.push_str(&format!(
                    "{indent}- Name: {k}\n{indent}  Value: {}\n",
                    quote(v)
                ));
            }
            if !app.environment.is_empty() {
                continue;
            }
        } else if trimmed == "# rig:secrets" {
            secrets_seen = true;
            if !app.secrets.is_empty() {
                out.push_str(&format!("{indent}Secrets:\n"));
                for s in &app.secrets {
                    out.push_str(&format!(
                        "{indent}  - Name: {s}\n{indent}    ValueFrom: !Sub 'arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{SsmEnvironmentNamespace}}/{s}'\n"
                    ));
                }
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if !(env_seen && secrets_seen) {
        return Err(bad(
            "app.yaml lacks its `# rig:environment` or `# rig:secrets` marker",
        ));
    }
    Ok(out)
}

/// A YAML scalar holding exactly `v` (a JSON string is a valid double-quoted YAML scalar).
fn quote(v: &str) -> String {
    serde_json::Value::String(v.to_string()).to_string()
}
