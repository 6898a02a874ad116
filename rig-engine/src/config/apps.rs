//! `[[apps]]`: the riglet's applications, one ECS service per app and environment behind the
//! environment's load balancer. Every value is checked here before any AWS call; the AWS limits
//! they are checked against (task sizes, retention periods, the names an app composes) are in
//! `app_limits`, and the values given per environment or to the container are read in
//! `app_values`. Apps stay when `--env` narrows the riglet: they are deployed per environment.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use rig_core::names;
use serde::Deserialize;

use super::app_limits::{check_task_size, LOG_RETENTION_DAYS, MAX_GRACE_PERIOD};
use super::app_values::{check_secrets, desired_counts, environment, is_dns_label};
use super::EnvToml;

/// The most tasks rig runs for one app in one environment (and the autoscaling ceiling).
pub const MAX_TASKS: u32 = 1000;

/// `[[apps]]` as written. Numbers are read as plain integers and range-checked when resolved,
/// so a bad value is reported with its key and the valid range.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppToml {
    /// A name segment; part of stack, host, log group and IAM names.
    pub name: String,
    /// A second copy of the app per branch (names get `-<branchsafe>`).
    #[serde(default)]
    pub branch: Option<String>,
    /// Container port, 1–65535.
    pub port: i64,
    /// Task CPU units (default 256 = 0.25 vCPU).
    #[serde(default)]
    pub cpu: Option<i64>,
    /// Task memory, MiB (default 512).
    #[serde(default)]
    pub memory: Option<i64>,
    /// Tasks: one number for every environment, or a table per environment.
    #[serde(default)]
    pub desired_count: Option<toml::Value>,
    #[serde(default)]
    pub health_check_path: Option<String>,
    #[serde(default)]
    pub health_check_grace_period: Option<i64>,
    /// Production also answers on `<subdomain>.<domain>`.
    #[serde(default)]
    pub subdomain: Option<String>,
    /// Listener-rule priority, 1–25000 (allocated by rig when absent).
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub log_retention_days: Option<i64>,
    /// Container environment variables (strings, numbers and booleans).
    #[serde(default)]
    pub environment: IndexMap<String, toml::Value>,
    /// Names of SecureString parameters in the app's SSM namespace, given to the container.
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub autoscaling: Option<AutoScalingToml>,
}

/// `[apps.autoscaling]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoScalingToml {
    #[serde(default)]
    pub min: Option<i64>,
    pub max: i64,
    #[serde(default)]
    pub cpu_target: Option<i64>,
}

/// An application of the riglet, checked, with its defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    pub name: String,
    pub branch: Option<String>,
    pub port: u16,
    pub cpu: u32,
    pub memory: u32,
    /// Desired tasks per environment name; every environment of the riglet has an entry.
    pub desired_count: BTreeMap<String, u32>,
    pub health_check_path: String,
    pub health_check_grace_period: u32,
    pub subdomain: Option<String>,
    /// The listener-rule priority given by hand; `None`: rig allocates one.
    pub priority: Option<u32>,
    pub log_retention_days: u32,
    pub environment: IndexMap<String, String>,
    pub secrets: Vec<String>,
    pub autoscaling: Option<AutoScaling>,
}

/// Target tracking on the service's average CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoScaling {
    pub min: u32,
    pub max: u32,
    pub cpu_target: u32,
}

impl AppSpec {
    /// `api`, or `api@feature/x` for an app with a branch: unique among the riglet's apps.
    pub fn key(&self) -> String {
        match &self.branch {
            Some(b) => format!("{}@{b}", self.name),
            None => self.name.clone(),
        }
    }

    /// The branch made safe for names (`feature/X` → `feature-x`), if the app has one.
    pub fn branch_safe(&self) -> Option<String> {
        self.branch.as_deref().map(names::safe_branch)
    }
}

/// The apps, checked. Every written entry gives one spec (with defaults in place of bad values)
/// so that the problems of all of them are reported together.
pub(super) fn resolve(
    written: &[AppToml],
    env_tables: &IndexMap<String, EnvToml>,
    compute: &str,
    problems: &mut Vec<String>,
) -> Vec<AppSpec> {
    let mut apps: Vec<AppSpec> = Vec::new();
    for (i, a) in written.iter().enumerate() {
        let key = format!("apps[{i}]");
        let app = resolve_one(&key, a, env_tables, compute, problems);
        if let Some(j) = apps
            .iter()
            .position(|o| o.name == app.name && o.branch_safe() == app.branch_safe())
        {
            problems.push(format!(
                "`{key}`: app {} is configured twice, also as `apps[{j}]` ({}); \
                 one name (and branch, made safe) is one stack: rename or remove one",
                app.key(),
                apps[j].key()
            ));
        }
        if let Some(sub) = app.subdomain.as_ref().filter(|_| app.branch.is_none()) {
            let other = apps
                .iter()
                .position(|o| o.branch.is_none() && o.subdomain.as_ref() == Some(sub));
            if let Some(j) = other {
                problems.push(format!(
                    "`{key}.subdomain`: {sub} is already the subdomain of app {} (`apps[{j}]`); \
                     one host name serves one app: pick another",
                    apps[j].key()
                ));
            }
        }
        if let Some(p) = app.priority {
            if let Some(j) = apps.iter().position(|o| o.priority == Some(p)) {
                problems.push(format!(
                    "`{key}.priority`: {p} is already the priority of app {} (`apps[{j}]`); \
                     pick another or leave it out and rig allocates one",
                    apps[j].key()
                ));
            }
        }
        apps.push(app);
    }
    apps
}

/// An integer key's valid range, and how the problem is worded: `` `<key>.<field>`: <value> is
/// not <what>; use <lo>–<hi><hint> ``.
struct Range {
    field: &'static str,
    lo: i64,
    hi: i64,
    what: &'static str,
    hint: &'static str,
}

const PORT: Range = Range {
    field: "port",
    lo: 1,
    hi: 65535,
    what: "a port",
    hint: "",
};
const GRACE: Range = Range {
    field: "health_check_grace_period",
    lo: 0,
    hi: MAX_GRACE_PERIOD as i64,
    what: "a grace period rig accepts",
    hint: " seconds (ECS itself allows up to 2147483647, which would hide a failing deploy)",
};
const PRIORITY: Range = Range {
    field: "priority",
    lo: 1,
    hi: 25_000,
    what: "a listener-rule priority for an app",
    hint: " (25001–50000 are the production preferred-name rules, the priority + 25000), \
           or leave it out and rig allocates one",
};
const SCALE_MIN: Range = Range {
    field: "autoscaling.min",
    lo: 1,
    hi: MAX_TASKS as i64,
    what: "a task count",
    hint: "",
};
const SCALE_MAX: Range = Range {
    field: "autoscaling.max",
    ..SCALE_MIN
};
const CPU_TARGET: Range = Range {
    field: "autoscaling.cpu_target",
    lo: 10,
    hi: 90,
    what: "a CPU target",
    hint: " (percent)",
};

/// `v` when within `r`, else `None` and a problem.
fn ranged(key: &str, r: &Range, v: i64, problems: &mut Vec<String>) -> Option<u32> {
    if (r.lo..=r.hi).contains(&v) {
        u32::try_from(v).ok()
    } else {
        let Range {
            field,
            lo,
            hi,
            what,
            hint,
        } = r;
        problems.push(format!(
            "`{key}.{field}`: {v} is not {what}; use {lo}–{hi}{hint}"
        ));
        None
    }
}

/// One entry, its keys checked in the order they are documented.
fn resolve_one(
    key: &str,
    a: &AppToml,
    env_tables: &IndexMap<String, EnvToml>,
    compute: &str,
    problems: &mut Vec<String>,
) -> AppSpec {
    if let Err(e) = names::validate_segment("app name", &a.name) {
        problems.push(format!("`{key}.name`: {e}"));
    }
    if let Some(b) = &a.branch {
        if let Err(e) = super::names::check_branch(&format!("{key}.branch"), b) {
            problems.push(e);
        } else if names::safe_branch(b).is_empty() {
            problems.push(format!(
                "`{key}.branch`: `{b}` has no letter or digit; give the branch's real name or remove `branch`"
            ));
        }
    }
    let port = ranged(key, &PORT, a.port, problems).unwrap_or(80) as u16;
    let (cpu, memory) = check_task_size(
        key,
        a.cpu.unwrap_or(256),
        a.memory.unwrap_or(512),
        compute,
        problems,
    );
    let desired_count = desired_counts(key, a.desired_count.as_ref(), env_tables, problems);
    let health_check_path = a.health_check_path.clone().unwrap_or_else(|| "/".into());
    if !health_check_path.starts_with('/')
        || health_check_path.len() > 1024
        || health_check_path.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        problems.push(format!(
            "`{key}.health_check_path`: `{health_check_path}` is not a URL path; \
             give one starting with `/`, without spaces, at most 1024 characters, like \"/health\""
        ));
    }
    let grace = a.health_check_grace_period.unwrap_or(60);
    let grace = ranged(key, &GRACE, grace, problems).unwrap_or(60);
    if let Some(s) = &a.subdomain {
        if !is_dns_label(s) {
            problems.push(format!(
                "`{key}.subdomain`: `{s}` is not a DNS label; use 1–63 lowercase letters, \
                 digits and `-`, not starting or ending with `-`, like \"api\""
            ));
        }
    }
    let priority = a.priority.and_then(|p| ranged(key, &PRIORITY, p, problems));
    let log_retention_days = a.log_retention_days.unwrap_or(60);
    if !LOG_RETENTION_DAYS
        .iter()
        .any(|d| i64::from(*d) == log_retention_days)
    {
        problems.push(format!(
            "`{key}.log_retention_days`: {log_retention_days} is not a CloudWatch Logs retention; use one of {}",
            LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", ")
        ));
    }
    let environment = environment(key, &a.environment, problems);
    check_secrets(key, &a.secrets, &environment, problems);
    let autoscaling = a.autoscaling.as_ref().map(|s| {
        let min = ranged(key, &SCALE_MIN, s.min.unwrap_or(1), problems);
        let max = ranged(key, &SCALE_MAX, s.max, problems);
        let cpu_target = ranged(key, &CPU_TARGET, s.cpu_target.unwrap_or(60), problems);
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                problems.push(format!(
                    "`{key}.autoscaling`: min {min} is more than max {max}; make min ≤ max"
                ));
            }
        }
        AutoScaling {
            min: min.unwrap_or(1),
            max: max.unwrap_or(1),
            cpu_target: cpu_target.unwrap_or(60),
        }
    });
    if let Some(a) = autoscaling.filter(|a| a.min <= a.max) {
        for (env, n) in &desired_count {
            if *n < a.min || *n > a.max {
                problems.push(format!(
                    "`{key}.desired_count`: {n} in {env} is outside autoscaling's {}–{}; \
                     give a count in that range (or widen min / max)",
                    a.min, a.max
                ));
            }
        }
    }
    AppSpec {
        name: a.name.clone(),
        branch: a.branch.clone(),
        port,
        cpu,
        memory,
        desired_count,
        health_check_path,
        health_check_grace_period: grace,
        subdomain: a.subdomain.clone(),
        priority,
        log_retention_days: u32::try_from(log_retention_days).unwrap_or(0),
        environment,
        secrets: a.secrets.clone(),
        autoscaling,
    }
}
