//! The file as written: its serde types, reading and parsing it (parse errors carry the line and
//! column), and the paths in it that are relative to it.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rig_core::Settings;
use serde::Deserialize;

use super::{AppToml, ConfigError, PipelineToml};

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigToml {
    /// Owner of the riglet (a team or person); the first part of every name.
    pub owner: String,
    /// Project name; the second part of every name.
    pub project: String,
    /// AWS region. `--region` overrides it.
    #[serde(default)]
    pub region: Option<String>,
    /// Public domain, e.g. `example.com`.
    pub domain: String,
    /// ACM certificate for the domain: an ARN, or the certificate id (a UUID) in the riglet's
    /// region and account.
    pub domain_cert: String,
    /// EC2 key pair for SSH to hosts (optional).
    #[serde(default)]
    pub key_name: Option<String>,
    /// E-mail subscribed to the operations topic (optional).
    #[serde(default)]
    pub email: Option<String>,
    /// Route 53 public hosted zone of `domain` (optional; looked up by name otherwise).
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    /// Environments in deployment order. Default: integration, staging, production.
    #[serde(default)]
    pub environments: Option<IndexMap<String, EnvToml>>,
    /// The compute backend and its settings.
    pub compute: BackendToml,
    /// The database backend and its settings (optional; `backend = "none"` for none).
    #[serde(default)]
    pub database: Option<BackendToml>,
    /// Where to find plugins, besides the standard places.
    #[serde(default)]
    pub plugins: PluginsToml,
    /// Applications (`[[apps]]`), deployed to every environment.
    #[serde(default)]
    pub apps: Vec<AppToml>,
    /// Per-repository deployment pipelines (`[[pipelines]]`).
    #[serde(default)]
    pub pipelines: Vec<PipelineToml>,
    /// Build notifications of the pipelines (`[notifications]`).
    #[serde(default)]
    pub notifications: NotificationsToml,
}

/// `[notifications]`: who hears about the pipelines' releases.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsToml {
    /// E-mail subscribed to the build topic (default: `email`).
    #[serde(default)]
    pub email: Option<String>,
    /// Post release failures and staging/production deploys to Slack: rig asks once for the
    /// incoming-webhook URL (or reads `RIG_SECRET_slack_webhook_url`) and keeps it as an SSM
    /// SecureString.
    #[serde(default)]
    pub slack: bool,
}

/// `[compute]` / `[database]`: `backend = "<id>"` plus one settings table per backend id.
#[derive(Debug, Clone, Deserialize)]
pub struct BackendToml {
    pub backend: String,
    #[serde(flatten)]
    pub tables: IndexMap<String, toml::Value>,
}

/// `[plugins]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsToml {
    /// Plugin library files loaded before any search (relative to the config file).
    #[serde(default)]
    pub paths: Vec<PathBuf>,
}

/// CloudFormation's deployment mode for an environment's stacks (`DeploymentConfig.Mode` of
/// CreateChangeSet, AWS CloudFormation API Reference, "DeploymentConfig").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentMode {
    /// A stack operation completes once every resource is ready to serve traffic.
    #[default]
    Standard,
    /// A stack operation completes once the resource configuration is applied; resources keep
    /// becoming ready in the background (AWS: up to four times faster). rig then waits for the
    /// stack's own health probes before the stacks that depend on it start.
    Express,
}

/// `[environments.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvToml {
    /// The VPC CIDR (a /16). Subnets default to the seed's layout inside it.
    #[serde(default)]
    pub cidr: Option<String>,
    #[serde(default)]
    pub public_subnets: Option<[String; 2]>,
    #[serde(default)]
    pub private_subnets: Option<[String; 2]>,
    #[serde(default)]
    pub database_subnets: Option<[String; 2]>,
    /// Production-grade defaults (replicas, retention, protection). Default: name is `production`.
    #[serde(default)]
    pub production: Option<bool>,
    /// How CloudFormation deploys this environment's stacks. Default: `standard`.
    #[serde(default)]
    pub deployment_mode: DeploymentMode,
    /// Per-backend compute settings for this environment: `[environments.E.compute.<id>]` (a
    /// value that is not a table is reported by the loader).
    #[serde(default)]
    pub compute: IndexMap<String, toml::Value>,
    /// Per-backend database settings for this environment: `[environments.E.database.<id>]`.
    #[serde(default)]
    pub database: IndexMap<String, toml::Value>,
}

/// Reads the text of the file at `path`.
pub(super) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses the text of a `rig.toml`.
pub fn parse(path: &Path, text: &str) -> Result<RigToml, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

/// A TOML table as backend settings (JSON).
pub(super) fn toml_to_settings(t: &toml::Table) -> Settings {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => Settings::new(),
    }
}

/// The folder holding the config file (`.` for a bare file name).
pub(super) fn project_dir(path: &Path) -> PathBuf {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

/// `[plugins] paths`, relative ones taken from `dir`.
pub(super) fn plugin_paths(plugins: &PluginsToml, dir: &Path) -> Vec<PathBuf> {
    plugins
        .paths
        .iter()
        .map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                dir.join(p)
            }
        })
        .collect()
}
