//! `rig.toml`: the riglet configuration, and its resolution with command-line overrides.
//!
//! Every problem is reported with the key it concerns and the file it is in; an unknown key,
//! a bad value or a missing field is an error, never silently ignored. Secrets are never in
//! this file (see [`crate::secrets`]).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rig_core::names::{self, RigletNames};
use rig_core::{EnvironmentSpec, NetworkCidrs, RigletInfo, Settings};
use serde::Deserialize;

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
    /// Per-repository deployment pipelines (`[[pipelines]]`).
    #[serde(default)]
    pub pipelines: Vec<PipelineToml>,
}

/// `[[pipelines]]`: one repository and branch, plus the pipeline backend's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineToml {
    /// GitHub repository name (lowercase; part of stack and ECR names).
    pub repository: String,
    /// Branch to build (default `main`); `/` is made safe in names.
    #[serde(default)]
    pub branch: Option<String>,
    /// The pipeline backend's settings (`github_owner`, `connection_arn`, ...).
    #[serde(flatten)]
    pub settings: toml::Table,
}

/// A pipeline of the riglet.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    pub repository: String,
    pub branch: String,
    pub settings: Settings,
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
    /// Per-backend compute settings for this environment: `[environments.E.compute.<id>]`.
    #[serde(default)]
    pub compute: IndexMap<String, toml::Table>,
    /// Per-backend database settings for this environment: `[environments.E.database.<id>]`.
    #[serde(default)]
    pub database: IndexMap<String, toml::Table>,
}

/// Everything wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}\n  hint: create it (see rig.example.toml) or pass --config PATH")]
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

/// A backend selected for a role, with its settings per environment.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendChoice {
    pub id: String,
    /// Environment name → the backend's table overlaid with the environment's table.
    pub settings: IndexMap<String, Settings>,
}

/// The configuration resolved: names checked, defaults applied, overrides applied.
#[derive(Debug, Clone)]
pub struct Riglet {
    pub names: RigletNames,
    pub info: RigletInfo,
    pub environments: Vec<EnvironmentSpec>,
    pub compute: BackendChoice,
    pub database: Option<BackendChoice>,
    /// Explicit plugin files (absolute).
    pub plugin_paths: Vec<PathBuf>,
    /// Pipelines; empty when `--env` selects part of the riglet (pipelines span environments).
    pub pipelines: Vec<PipelineSpec>,
    /// No `--env` narrowed it: the whole riglet (every environment and the pipelines).
    pub whole: bool,
    /// The folder holding the config file (the project folder; `.rig/plugins` lives there).
    pub project_dir: PathBuf,
    pub config_path: PathBuf,
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

/// The seed's three environments and their networks.
pub const DEFAULT_ENVIRONMENTS: [(&str, &str); 3] = [
    ("integration", "10.1.0.0/16"),
    ("staging", "10.2.0.0/16"),
    ("production", "10.3.0.0/16"),
];

/// Reads and resolves `path`.
pub fn load(path: &Path, ov: &Overrides) -> Result<Riglet, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = parse(path, &text)?;
    resolve(path, parsed, ov)
}

/// Parses the text of a `rig.toml`.
pub fn parse(path: &Path, text: &str) -> Result<RigToml, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

fn is_region(r: &str) -> bool {
    // e.g. us-east-1, eu-central-2, ap-southeast-4, us-gov-west-1, cn-north-1
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// A parsed IPv4 CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a CIDR block like 10.1.0.0/16"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("`{a}` in `{s}` is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("`/{p}` in `{s}` is not a prefix length 0–32"))?;
        let c = Cidr { addr, prefix };
        if u32::from(addr) & !c.mask() != 0 {
            return Err(format!(
                "`{s}` has host bits set; did you mean {}/{prefix}?",
                Ipv4Addr::from(u32::from(addr) & c.mask())
            ));
        }
        Ok(c)
    }
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && (u32::from(other.addr) & self.mask()) == u32::from(self.addr)
    }
    fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }
}

fn subnet_of(vpc: &Cidr, third_octet: u8) -> String {
    let o = vpc.addr.octets();
    format!("{}.{}.{}.0/24", o[0], o[1], third_octet)
}

fn default_region() -> String {
    "us-east-1".to_string()
}

/// Applies defaults and overrides and checks everything that can be checked without AWS.
pub fn resolve(path: &Path, t: RigToml, ov: &Overrides) -> Result<Riglet, ConfigError> {
    let mut problems: Vec<String> = Vec::new();
    let mut check = |r: Result<(), names::NameError>, key: &str| {
        if let Err(e) = r {
            problems.push(format!("`{key}`: {e}"));
        }
    };
    check(names::validate_segment("owner", &t.owner), "owner");
    check(names::validate_segment("project", &t.project), "project");
    let region = ov
        .region
        .clone()
        .or(t.region.clone())
        .unwrap_or_else(default_region);
    if !is_region(&region) {
        problems.push(format!(
            "`region`: `{region}` is not an AWS region name like us-east-1"
        ));
    }
    if t.domain.is_empty() || !t.domain.contains('.') || t.domain.contains(['/', ' ', ':']) {
        problems.push(format!(
            "`domain`: `{}` is not a DNS domain like example.com",
            t.domain
        ));
    }
    let cert = t.domain_cert.trim();
    let domain_cert_arn = if cert.starts_with("arn:") {
        if !cert.contains(":acm:") || !cert.contains(":certificate/") {
            problems.push(format!(
                "`domain_cert`: `{cert}` is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
            ));
        }
        cert.to_string()
    } else if is_uuid(cert) {
        // The account id is filled in by the engine once it knows the caller's account.
        format!("arn:aws:acm:{region}:{ACCOUNT_PLACEHOLDER}:certificate/{cert}")
    } else {
        problems.push(format!(
            "`domain_cert`: `{cert}` is neither an ACM certificate ARN nor a certificate id (a UUID)"
        ));
        String::new()
    };
    if let Some(k) = &t.key_name {
        if k.is_empty() || k.len() > 255 || !k.is_ascii() {
            problems.push(
                "`key_name`: must be 1–255 ASCII characters; remove it to use no key pair".into(),
            );
        }
    }
    if let Some(e) = &t.email {
        let ok = e
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'))
            && !e.contains(' ');
        if !ok {
            problems.push(format!(
                "`email`: `{e}` is not an e-mail address; remove it for no subscription"
            ));
        }
    }

    // Environments.
    let env_tables: IndexMap<String, EnvToml> = match &t.environments {
        Some(m) if m.is_empty() => {
            problems.push("`environments`: at least one environment is needed; remove the table for the default three".into());
            IndexMap::new()
        }
        Some(m) => m.clone(),
        None => DEFAULT_ENVIRONMENTS
            .iter()
            .map(|(n, _)| (n.to_string(), EnvToml::default()))
            .collect(),
    };
    let mut envs = Vec::new();
    let mut vpcs: Vec<(String, Cidr)> = Vec::new();
    for (name, et) in &env_tables {
        let key = format!("environments.{name}");
        if let Err(e) = names::validate_segment("environment", name) {
            problems.push(format!("`{key}`: {e}"));
            continue;
        }
        let default_cidr = DEFAULT_ENVIRONMENTS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.to_string());
        let Some(cidr_s) = et.cidr.clone().or(default_cidr) else {
            problems.push(format!(
                "`{key}.cidr`: missing; environment `{name}` needs a VPC CIDR such as \"10.4.0.0/16\" (only integration, staging and production have defaults)"
            ));
            continue;
        };
        let vpc = match Cidr::parse(&cidr_s) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("`{key}.cidr`: {e}"));
                continue;
            }
        };
        if !(16..=24).contains(&vpc.prefix) {
            problems.push(format!(
                "`{key}.cidr`: `{cidr_s}` must be between /16 and /24 (AWS VPC limits)"
            ));
            continue;
        }
        if let Some((other, _)) = vpcs.iter().find(|(_, c)| c.overlaps(&vpc)) {
            tracing::debug!(env = %name, other = %other, "VPC CIDRs overlap (allowed: the VPCs are not peered)");
        }
        vpcs.push((name.clone(), vpc));
        let derive = |given: &Option<[String; 2]>, a: u8, b: u8| -> [String; 2] {
            given
                .clone()
                .unwrap_or_else(|| [subnet_of(&vpc, a), subnet_of(&vpc, b)])
        };
        if vpc.prefix != 16
            && (et.public_subnets.is_none()
                || et.private_subnets.is_none()
                || et.database_subnets.is_none())
        {
            problems.push(format!(
                "`{key}`: with a VPC smaller than /16 give `public_subnets`, `private_subnets` and `database_subnets` explicitly"
            ));
            continue;
        }
        let cidrs = NetworkCidrs {
            vpc: cidr_s.clone(),
            public: derive(&et.public_subnets, 1, 2),
            private: derive(&et.private_subnets, 11, 12),
            database: derive(&et.database_subnets, 100, 110),
        };
        let mut seen: Vec<(String, Cidr)> = Vec::new();
        for (field, list) in [
            ("public_subnets", &cidrs.public),
            ("private_subnets", &cidrs.private),
            ("database_subnets", &cidrs.database),
        ] {
            for s in list.iter() {
                match Cidr::parse(s) {
                    Err(e) => problems.push(format!("`{key}.{field}`: {e}")),
                    Ok(c) if !vpc.contains(&c) => problems.push(format!(
                        "`{key}.{field}`: `{s}` is not inside the VPC CIDR `{cidr_s}`"
                    )),
                    Ok(c) => {
                        if let Some((f2, _)) = seen.iter().find(|(_, o)| o.overlaps(&c)) {
                            problems.push(format!(
                                "`{key}.{field}`: `{s}` overlaps a subnet in `{f2}`"
                            ));
                        }
                        seen.push((field.to_string(), c));
                    }
                }
            }
        }
        envs.push(EnvironmentSpec {
            name: name.clone(),
            cidrs,
            production: et.production.unwrap_or(name == "production"),
        });
    }

    // Environment selection.
    for e in &ov.environments {
        if !env_tables.contains_key(e) {
            problems.push(format!(
                "`--env {e}`: no such environment; the config has: {}",
                env_tables.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if !ov.environments.is_empty() {
        envs.retain(|e| ov.environments.contains(&e.name));
    }

    // Backends.
    let compute = resolve_backend(
        "compute",
        Some(&t.compute),
        ov.compute.as_deref(),
        &env_tables,
        |e| &e.compute,
        &mut problems,
    );
    let database = resolve_backend(
        "database",
        t.database.as_ref(),
        ov.database.as_deref(),
        &env_tables,
        |e| &e.database,
        &mut problems,
    );
    let compute = match compute {
        Some(c) => c,
        None => {
            if problems.is_empty() {
                problems.push(
                    "`compute.backend`: a compute backend is required (ecs-ec2 or fargate)".into(),
                );
            }
            BackendChoice {
                id: String::new(),
                settings: IndexMap::new(),
            }
        }
    };

    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let plugin_paths = t
        .plugins
        .paths
        .iter()
        .map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                dir.join(p)
            }
        })
        .collect();

    let mut pipelines = Vec::new();
    for (i, p) in t.pipelines.iter().enumerate() {
        let key = format!("pipelines[{i}]");
        if let Err(e) = names::validate_segment("repository", &p.repository) {
            problems.push(format!("`{key}.repository`: {e}"));
        }
        let branch = p.branch.clone().unwrap_or_else(|| "main".into());
        if names::safe_branch(&branch).is_empty() {
            problems.push(format!("`{key}.branch`: `{branch}` has no letter or digit"));
        }
        if pipelines.iter().any(|q: &PipelineSpec| {
            q.repository == p.repository
                && names::safe_branch(&q.branch) == names::safe_branch(&branch)
        }) {
            problems.push(format!("`{key}`: {}@{branch} is configured twice (or two branches make the same safe name)", p.repository));
        }
        pipelines.push(PipelineSpec {
            repository: p.repository.clone(),
            branch,
            settings: toml_to_settings(&p.settings),
        });
    }
    if !pipelines.is_empty() {
        for need in ["integration", "staging", "production"] {
            if !env_tables.contains_key(need) {
                problems.push(format!(
                    "`pipelines`: pipelines deploy to integration, staging and production, and `environments.{need}` is missing"
                ));
            }
        }
    }
    if !ov.environments.is_empty() {
        pipelines.clear();
    }

    let names = RigletNames::new(&t.owner, &t.project, &region);
    if problems.is_empty() {
        // Every name the riglet will use must be valid before any AWS call.
        for env in &envs {
            // Names of the built-in foundation; backends' own names are checked by the planner
            // (and by the backend itself) for the backends actually selected.
            for n in [names.foundation_stack(&env.name)] {
                if let Err(e) = names::validate_stack_name(&n) {
                    problems.push(format!(
                        "`owner`/`project`/`environments.{}`: {e}",
                        env.name
                    ));
                }
            }
            for kind in ["foundation", "app"] {
                if let Err(e) = names::validate_bucket_name(&names.bucket(kind, Some(&env.name))) {
                    problems.push(format!(
                        "`owner`/`project`/`region`/`environments.{}`: {e}",
                        env.name
                    ));
                }
            }
            if let Err(e) = names::validate_ssm_path(&format!(
                "{}/db/DB_MASTER_PASSWORD",
                names.ssm_env_prefix(&env.name)
            )) {
                problems.push(format!("`owner`/`project`: {e}"));
            }
        }
    }
    if !problems.is_empty() {
        problems.dedup();
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        });
    }
    let info = RigletInfo {
        owner: t.owner.clone(),
        project: t.project.clone(),
        region: region.clone(),
        domain: t.domain.clone(),
        domain_cert_arn,
        key_name: t.key_name.clone(),
        email: t.email.clone(),
        ssm_prefix: names.ssm_prefix(),
    };
    Ok(Riglet {
        names,
        info,
        environments: envs,
        compute,
        database,
        plugin_paths,
        pipelines,
        whole: ov.environments.is_empty(),
        project_dir: dir,
        config_path: path.to_path_buf(),
    })
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn toml_to_settings(t: &toml::Table) -> Settings {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => Settings::new(),
    }
}

fn resolve_backend(
    role: &str,
    table: Option<&BackendToml>,
    flag: Option<&str>,
    envs: &IndexMap<String, EnvToml>,
    env_part: impl Fn(&EnvToml) -> &IndexMap<String, toml::Table>,
    problems: &mut Vec<String>,
) -> Option<BackendChoice> {
    let id = flag
        .map(str::to_string)
        .or_else(|| table.map(|t| t.backend.clone()))?;
    if id == "none" {
        if role == "compute" {
            problems.push(
                "`compute.backend`: compute cannot be `none`; choose ecs-ec2 or fargate".into(),
            );
        }
        return None;
    }
    if let Err(e) = names::validate_segment("backend id", &id) {
        problems.push(format!("`{role}.backend`: {e}"));
        return None;
    }
    let mut base = Settings::new();
    if let Some(t) = table {
        for (k, v) in &t.tables {
            match v {
                toml::Value::Table(tab) => {
                    if *k == id {
                        base = toml_to_settings(tab);
                    }
                }
                _ => problems.push(format!(
                    "`{role}.{k}`: backend settings go in the backend's own table, e.g. `[{role}.{}]` with `{k} = ...` inside",
                    t.backend
                )),
            }
        }
    }
    let mut settings = IndexMap::new();
    for (env, et) in envs {
        let mut s = base.clone();
        for (k, tab) in env_part(et) {
            if *k == id {
                for (kk, vv) in toml_to_settings(tab) {
                    s.insert(kk, vv);
                }
            }
        }
        settings.insert(env.clone(), s);
    }
    Some(BackendChoice { id, settings })
}

#[cfg(test)]
mod tests;
