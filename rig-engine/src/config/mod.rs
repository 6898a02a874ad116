//! `rig.toml`: the riglet configuration, and its resolution with command-line overrides.
//!
//! Every problem is reported with the key it concerns and the file it is in; an unknown key,
//! a bad value or a missing field is an error, never silently ignored. Secrets are never in
//! this file (see [`crate::secrets`]).
//!
//! By concern: `file` (the file's serde types, reading and parsing), `info` (region, domain,
//! certificate, key pair, e-mail), `environments` and `cidr` (networks, defaults, `--env`),
//! `backends` (backend choice and per-environment settings), `apps`, `app_values` and
//! `app_limits` (the applications, their per-environment and container values, and the AWS
//! limits they are checked against), `pipelines`, and `names` (the up-front name checks).
//! [`resolve`] calls each in turn and collects their problems. The check of each top-level
//! value is public (`check_owner`, `check_region`, `check_environment`, ...) and returns the
//! loader's own message, so `rig init` checks answers with exactly these rules.

mod app_limits;
mod app_values;
mod apps;
mod backends;
mod cidr;
mod environments;
mod file;
mod info;
mod names;
mod pipelines;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rig_core::names::RigletNames;
use rig_core::{EnvironmentSpec, RigletInfo};

pub use app_limits::{check_task_size, fargate_memory, LOG_RETENTION_DAYS, MAX_GRACE_PERIOD};
pub use app_values::RESERVED_ENVIRONMENT;
pub use apps::{AppSpec, AppToml, AutoScaling, AutoScalingToml, MAX_TASKS};
pub use backends::{check_backend_id, BackendChoice, SettingsTable};
pub use cidr::Cidr;
pub use environments::{check_environment, check_environment_name, DEFAULT_ENVIRONMENTS};
pub use file::{parse, BackendToml, DeploymentMode, EnvToml, PluginsToml, RigToml};
pub use info::{check_domain, check_domain_cert, check_email, check_key_name, check_region};
pub use names::{check_owner, check_project};
pub use pipelines::{PipelineSpec, PipelineToml};

/// Everything wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}\n  hint: create it with `rig init` (or from rig.example.toml), or pass --config PATH")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// Command-line choices that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub region: Option<String>,
    pub compute: Option<String>,
    /// `Some("none")` removes the database.
    pub database: Option<String>,
    /// Restrict to these environments (in the file's order). Empty: all.
    pub environments: Vec<String>,
}

/// The configuration resolved: names checked, defaults applied, overrides applied.
#[derive(Debug, Clone)]
pub struct Riglet {
    pub names: RigletNames,
    pub info: RigletInfo,
    pub environments: Vec<EnvironmentSpec>,
    /// The environments whose stacks deploy in CloudFormation's express mode
    /// (`deployment_mode = "express"`); every other one deploys in the standard mode.
    pub express: BTreeSet<String>,
    pub compute: BackendChoice,
    pub database: Option<BackendChoice>,
    /// Every backend settings table of the file, for the selected backends or not.
    pub settings_tables: Vec<SettingsTable>,
    /// Explicit plugin files (absolute).
    pub plugin_paths: Vec<PathBuf>,
    /// Applications; kept when `--env` selects part of the riglet (they are per environment).
    pub apps: Vec<AppSpec>,
    /// The Route 53 public hosted zone of the domain, when the file gives it (without the
    /// `/hostedzone/` prefix); otherwise looked up by the domain's name.
    pub hosted_zone_id: Option<String>,
    /// Pipelines; empty when `--env` selects part of the riglet (pipelines span environments).
    pub pipelines: Vec<PipelineSpec>,
    /// Build notifications (used when there are pipelines).
    pub notifications: Notifications,
    /// No `--env` narrowed it: the whole riglet (every environment and the pipelines).
    pub whole: bool,
    /// The folder holding the config file (the project folder; `.rig/plugins` lives there).
    pub project_dir: PathBuf,
    pub config_path: PathBuf,
}

/// Who hears about the pipelines' releases: the build topic's e-mail subscription and Slack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    pub email: Option<String>,
    pub slack: bool,
}

/// Stands for the AWS account id in a certificate ARN built from a bare certificate id;
/// [`Riglet::fill_account`] replaces it.
pub const ACCOUNT_PLACEHOLDER: &str = "{ACCOUNT}";

impl Riglet {
    /// Puts the caller's account id into values that need it (the certificate ARN).
    pub fn fill_account(&mut self, account: &str) {
        self.info.domain_cert_arn = self
            .info
            .domain_cert_arn
            .replace(ACCOUNT_PLACEHOLDER, account);
    }

    /// Names of the environments, in order.
    pub fn env_names(&self) -> Vec<String> {
        self.environments.iter().map(|e| e.name.clone()).collect()
    }
}

/// Reads and resolves `path`.
pub fn load(path: &Path, ov: &Overrides) -> Result<Riglet, ConfigError> {
    let text = file::read(path)?;
    let parsed = parse(path, &text)?;
    resolve(path, parsed, ov)
}

/// Applies defaults and overrides and checks everything that can be checked without AWS.
pub fn resolve(path: &Path, t: RigToml, ov: &Overrides) -> Result<Riglet, ConfigError> {
    let mut problems: Vec<String> = Vec::new();
    names::check_segments(&t, &mut problems);
    let checked = info::check(&t, ov, &mut problems);
    let env_tables = environments::tables(&t.environments, &mut problems);
    let envs = environments::resolve(&env_tables, ov, &mut problems);
    let (compute, database) = backends::resolve(&t, ov, &env_tables, &mut problems);
    let settings_tables = backends::settings_tables(&t, &env_tables, &mut problems);
    let dir = file::project_dir(path);
    let plugin_paths = file::plugin_paths(&t.plugins, &dir);
    let hosted_zone_id = app_limits::hosted_zone_id(t.hosted_zone_id.as_deref(), &mut problems);
    let apps = apps::resolve(&t.apps, &env_tables, &compute.id, &mut problems);
    let pipelines = pipelines::resolve(&t.pipelines, &env_tables, &apps, ov, &mut problems);
    if let Some(e) = &t.notifications.email {
        if !info::is_email(e) {
            problems.push(format!(
                "`notifications.email`: `{e}` is not an e-mail address; remove it to use `email`"
            ));
        }
    }
    let names = RigletNames::new(&t.owner, &t.project, &checked.region);
    if rig_core::names::validate_segment("owner", &t.owner).is_ok()
        && rig_core::names::validate_segment("project", &t.project).is_ok()
    {
        // Reported with the apps' other problems: they need only owner and project to be valid.
        app_limits::check_app_names(&names, &t.domain, &envs, &apps, &mut problems);
    }
    if problems.is_empty() {
        names::check_riglet_names(&names, &envs, &mut problems);
    }
    if !problems.is_empty() {
        problems.dedup();
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        });
    }
    let notifications = Notifications {
        email: t.notifications.email.or_else(|| t.email.clone()),
        slack: t.notifications.slack,
    };
    let info = RigletInfo {
        owner: t.owner,
        project: t.project,
        region: checked.region,
        domain: t.domain,
        domain_cert_arn: checked.domain_cert_arn,
        key_name: t.key_name,
        email: t.email,
        ssm_prefix: names.ssm_prefix(),
    };
    Ok(Riglet {
        names,
        info,
        express: env_tables
            .iter()
            .filter(|(name, t)| {
                t.deployment_mode == DeploymentMode::Express
                    && envs.iter().any(|e| &e.name == *name)
            })
            .map(|(name, _)| name.clone())
            .collect(),
        environments: envs,
        compute,
        database,
        settings_tables,
        plugin_paths,
        apps,
        hosted_zone_id,
        pipelines,
        notifications,
        whole: ov.environments.is_empty(),
        project_dir: dir,
        config_path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod apps_tests;
#[cfg(test)]
mod tests;
