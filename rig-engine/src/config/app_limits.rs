//! The AWS limits an app is checked against before any AWS call: ECS task sizes, CloudWatch Logs
//! retention periods, the health-check grace period, every name an app composes (stack, log
//! group, task definition family, host name, IAM path, alarm, SSM parameters) and the Route 53
//! hosted zone id.

use rig_core::names::{self, RigletNames};
use rig_core::EnvironmentSpec;

use super::apps::AppSpec;

/// CloudWatch Logs' retention periods, in days (`RetentionInDays` of `PutRetentionPolicy` and
/// `AWS::Logs::LogGroup`):
/// <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html>.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The longest health-check grace period rig accepts, in seconds (2 hours). ECS allows
/// 0–2147483647 (`healthCheckGracePeriodSeconds` of `CreateService`,
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html>), but a
/// grace period that long would hide a failing deployment.
pub const MAX_GRACE_PERIOD: u32 = 7200;

/// The Fargate task sizes: the memory values (MiB) valid with a CPU value, per
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size>:
/// 256 → 512, 1024, 2048; 512 → 1024–4096 by 1024; 1024 → 2048–8192 by 1024;
/// 2048 → 4096–16384 by 1024; 4096 → 8192–30720 by 1024; 8192 → 16384–61440 by 4096;
/// 16384 → 32768–122880 by 8192. `None`: not a Fargate CPU value.
pub fn fargate_memory(cpu: u32) -> Option<Vec<u32>> {
    let (lo, hi, step) = match cpu {
        256 => return Some(vec![512, 1024, 2048]),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => return None,
    };
    Some((lo..=hi).step_by(step).collect())
}

/// The CPU values of the Fargate table.
const FARGATE_CPU: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// Task CPU and memory: from the Fargate table unless the compute backend is `ecs-ec2`, where
/// the task-level limits are 128–10240 CPU units and at least 128 MiB
/// (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_size>).
/// Problems name `` `<key>.cpu` `` and `` `<key>.memory` ``; returns the values as `u32` (0 when
/// negative or too large, which is reported).
pub fn check_task_size(
    key: &str,
    cpu: i64,
    memory: i64,
    compute: &str,
    problems: &mut Vec<String>,
) -> (u32, u32) {
    let as_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
    if compute == "ecs-ec2" {
        if !(128..=10240).contains(&cpu) {
            problems.push(format!(
                "`{key}.cpu`: {cpu} is not a task CPU value on ecs-ec2; use 128–10240 CPU units (1024 = 1 vCPU)"
            ));
        }
        if !(128..=i64::from(u32::MAX)).contains(&memory) {
            problems.push(format!(
                "`{key}.memory`: {memory} MiB is too little for a task; use at least 128"
            ));
        }
        return (as_u32(cpu), as_u32(memory));
    }
    match fargate_memory(as_u32(cpu)) {
        None => problems.push(format!(
            "`{key}.cpu`: {cpu} is not a Fargate task CPU value; use one of {}",
            list(&FARGATE_CPU)
        )),
        Some(valid) if !valid.iter().any(|m| i64::from(*m) == memory) => {
            problems.push(format!(
                "`{key}.memory`: {memory} MiB is not a Fargate task size with cpu {cpu}; use one of {} (or another cpu)",
                list(&valid)
            ))
        }
        Some(_) => {}
    }
    (as_u32(cpu), as_u32(memory))
}

fn list(values: &[u32]) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Route 53 hosted zone id: uppercase letters and digits, at most 32 characters, with an
/// optional `/hostedzone/` prefix (stripped).
pub(super) fn hosted_zone_id(written: Option<&str>, problems: &mut Vec<String>) -> Option<String> {
    let w = written?;
    let id = w.strip_prefix("/hostedzone/").unwrap_or(w);
    let ok = (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !ok {
        problems.push(format!(
            "`hosted_zone_id`: `{w}` is not a Route 53 hosted zone id (uppercase letters and digits, like Z0123456789ABCDEFGHIJ); \
             remove it and rig looks up the public zone of `domain`"
        ));
    }
    Some(id.to_string())
}

/// A name an app composes, its service's length limit, and what to shorten to fit it.
struct Limit {
    what: &'static str,
    name: String,
    max: usize,
    fix: String,
}

/// Every name each app will have in each environment, within its service's limits:
/// - the stack `<owner>-<project>-<env>-app-<app>[-<branchsafe>]`: CloudFormation, 128
///   (<https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html>);
/// - the log group (the stack name): CloudWatch Logs, 512
///   (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html>);
/// - the task definition family (the stack name): ECS, 255
///   (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html>);
/// - the host label `<owner>-<env>-<app>[-<branchsafe>]`: a DNS label, 63, and the host name
///   `<label>.<domain>` (and `<subdomain>.<domain>`), 253
///   (<https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html>);
/// - the IAM path `/<owner>/<project>/app/<app>/[<branchsafe>/]`: IAM, 512
///   (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html>);
/// - the alarm and metric `<stack>-errors`: CloudWatch, 255
///   (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html>);
/// - the secrets' SSM parameters `/<owner>/<project>/env/<env>/app/<app>/<NAME>`
///   ([`names::validate_ssm_path`]).
///
/// Apps whose name is not a name segment are left out (that is reported on its own).
pub(super) fn check_app_names(
    names: &RigletNames,
    domain: &str,
    envs: &[EnvironmentSpec],
    apps: &[AppSpec],
    problems: &mut Vec<String>,
) {
    for (i, app) in apps.iter().enumerate() {
        if names::validate_segment("app name", &app.name).is_err() {
            continue;
        }
        let key = format!("apps[{i}]");
        let branch = app.branch.as_deref();
        let app_part = if branch.is_some() {
            "the app name or the branch"
        } else {
            "the app name"
        };
        let shorten = |others: &str| format!("shorten {app_part} (or {others})");
        let iam = names.app_iam_path(&app.name, branch);
        if iam.len() > 512 {
            problems.push(format!(
                "`{key}`: the IAM path `{iam}` has {} characters, at most 512 are allowed; {}",
                iam.len(),
                shorten("the owner or project name")
            ));
        }
        for env in envs {
            let at = format!("`{key}` ({}) in environment {}", app.key(), env.name);
            let stack = names.app_stack(&env.name, &app.name, branch);
            let in_stack = shorten("the owner, project or environment name");
            if let Err(e) = names::validate_stack_name(&stack) {
                problems.push(format!("{at}: {e}; {in_stack}"));
            }
            let label = names.app_host_label(&env.name, &app.name, branch);
            let limit = |what, name: String, max, fix: &String| Limit {
                what,
                name,
                max,
                fix: fix.clone(),
            };
            let mut limits = vec![
                limit("the log group", stack.clone(), 512, &in_stack),
                limit("the task definition family", stack.clone(), 255, &in_stack),
                limit("the error alarm", format!("{stack}-errors"), 255, &in_stack),
                limit(
                    "the host label (a DNS label)",
                    label.clone(),
                    63,
                    &shorten("the owner or environment name"),
                ),
                limit(
                    "the host name",
                    format!("{label}.{domain}"),
                    253,
                    &shorten("the owner or environment name, or the domain"),
                ),
            ];
            if let (true, Some(sub)) = (env.production, &app.subdomain) {
                let fix = "shorten the subdomain (or the domain)".to_string();
                limits.push(limit(
                    "the preferred host name",
                    format!("{sub}.{domain}"),
                    253,
                    &fix,
                ));
            }
            for l in limits {
                if l.name.len() > l.max {
                    problems.push(format!(
                        "{at}: {} `{}` has {} characters, at most {} are allowed; {}",
                        l.what,
                        l.name,
                        l.name.len(),
                        l.max,
                        l.fix
                    ));
                }
            }
            let ns = names.app_ssm_namespace(&env.name, &app.name);
            for s in &app.secrets {
                if let Err(e) = names::validate_ssm_path(&format!("{ns}/{s}")) {
                    problems.push(format!("{at}: secret {s}: {e}"));
                }
            }
        }
    }
}
