//! The domain model that crosses the plugin boundary as JSON.
//!
//! Every type here is part of protocol 1.x: fields may be added (with `#[serde(default)]`),
//! never removed or renamed within a major.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protocol::Role;

/// A backend's settings: the `[compute]` / `[database]` table of `rig.toml` (without `backend`),
/// overlaid with the environment's own table, as a JSON object.
pub type Settings = serde_json::Map<String, serde_json::Value>;

/// What identifies a riglet and what every stack of it may need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RigletInfo {
    pub owner: String,
    pub project: String,
    pub region: String,
    /// Public domain, e.g. `example.com`.
    pub domain: String,
    /// ACM certificate ARN for the domain (rig expands a bare certificate id to an ARN).
    pub domain_cert_arn: String,
    /// EC2 key pair for SSH to hosts; `None` means no key (use SSM Session Manager).
    #[serde(default)]
    pub key_name: Option<String>,
    /// Operations notification e-mail; `None` means no subscription.
    #[serde(default)]
    pub email: Option<String>,
    /// SSM namespace of the riglet, `/<owner>/<project>`.
    pub ssm_prefix: String,
}

/// The network of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCidrs {
    pub vpc: String,
    /// Public subnets in AZ A and B.
    pub public: [String; 2],
    /// Private (application) subnets in AZ A and B.
    pub private: [String; 2],
    /// Database subnets in AZ A and B.
    pub database: [String; 2],
}

/// One environment of the riglet (integration, staging, production, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSpec {
    pub name: String,
    pub cidrs: NetworkCidrs,
    /// Production-grade defaults (replicas, sizes, retention) apply.
    pub production: bool,
}

/// The stack names of one environment, fixed by the host's naming rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvStackNames {
    pub foundation: String,
    #[serde(default)]
    pub compute: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
}

/// Input of `plan` for the foundation, compute and database roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvRequest {
    pub riglet: RigletInfo,
    pub environment: EnvironmentSpec,
    pub stacks: EnvStackNames,
    /// The stack this plan is for (one of `stacks`).
    pub stack_name: String,
    /// The backend's settings for this environment.
    #[serde(default)]
    pub settings: Settings,
    /// Tags every stack of this environment carries (Owner, Project, Environment).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Input of `plan` for the pipeline role: one repository and branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRequest {
    pub riglet: RigletInfo,
    pub stack_name: String,
    pub repository: String,
    /// The branch as given (may contain `/`).
    pub branch: String,
    /// The branch made safe for names (see [`crate::names::safe_branch`]).
    pub branch_safe: String,
    /// Environments the pipeline deploys to, in order, with their foundation/compute stacks.
    pub environments: Vec<(String, EnvStackNames)>,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The app the pipeline deploys (from `[[apps]]`); `None` from hosts older than protocol
    /// 1.1, which had no apps.
    #[serde(default)]
    pub app: Option<PipelineApp>,
}

/// The app a pipeline deploys, and where rig keeps its template in each environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineApp {
    /// The app's name in `[[apps]]`.
    pub name: String,
    /// IAM path of the app's roles, `/<owner>/<project>/app/<name>/[<branchsafe>/]`.
    pub iam_path: String,
    /// One per environment the pipeline deploys to, in release order.
    pub deploys: Vec<AppDeploy>,
}

/// The app stack a pipeline deploys in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDeploy {
    pub environment: String,
    /// `<owner>-<project>-<env>-app-<app>[-<branchsafe>]`.
    pub stack_name: String,
    /// The environment's app bucket (versioned; the foundation's `AppBucket`).
    pub template_bucket: String,
    /// Key of the zip rig writes there: `app.yaml` (the rendered app template) and
    /// `config.json` (a CloudFormation template configuration file: `Parameters`, `Tags`).
    pub template_object: String,
}

/// IAM acknowledgements a stack needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Capability {
    CapabilityIam,
    CapabilityNamedIam,
    CapabilityAutoExpand,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::CapabilityIam => "CAPABILITY_IAM",
            Capability::CapabilityNamedIam => "CAPABILITY_NAMED_IAM",
            Capability::CapabilityAutoExpand => "CAPABILITY_AUTO_EXPAND",
        }
    }
}

/// ECS capacity a compute backend provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum EcsCapacity {
    /// EC2 container instances; ready when at least `min_instances` are registered and ACTIVE.
    Ec2 { min_instances: u32 },
    /// Fargate capacity providers.
    Fargate,
}

/// What "ready" means for a stack, beyond CloudFormation's own status. The host runs these
/// through the service APIs (ECS, RDS, EC2) for `rig status` and after `rig up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "probe")]
pub enum HealthProbe {
    /// The ECS cluster named by stack output `cluster_output` is ACTIVE with the given capacity.
    EcsCluster {
        cluster_output: String,
        capacity: EcsCapacity,
    },
    /// The ECS service named by output `service_output` in the cluster named by `cluster_output`
    /// has running = desired.
    EcsService {
        cluster_output: String,
        service_output: String,
    },
    /// The RDS cluster whose identifier is stack output `cluster_output` is `available` and has
    /// `members` instances.
    RdsCluster {
        cluster_output: String,
        members: u32,
    },
    /// The EC2 instance whose id is stack output `instance_output` is `running`.
    Ec2Instance { instance_output: String },
}

/// A secret the stack's template references (as a dynamic reference or managed secret).
/// The host makes sure it exists as an SSM SecureString before deploying; its value never
/// passes through a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretRequirement {
    /// Upper-case name, e.g. `DB_MASTER_PASSWORD`; the host reads `RIG_SECRET_<NAME>` when it
    /// cannot prompt.
    pub name: String,
    /// Full SSM parameter path, e.g. `/acme/shop/env/production/db/DB_MASTER_PASSWORD`.
    pub ssm_path: String,
    /// Shown when asking for it.
    pub description: String,
    /// Minimum length the value must have.
    #[serde(default)]
    pub min_length: usize,
    /// Characters the value must not contain.
    #[serde(default)]
    pub forbidden_chars: String,
    /// Maximum length the value may have, in characters (`None`: no limit), e.g. 41 for an
    /// Aurora MySQL master password (RDS `CreateDBCluster`, `MasterUserPassword`). Since
    /// protocol 1.0; a plugin that leaves it out gets no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
}

/// One CloudFormation stack to deploy, fully described. Plugins return these; the host
/// deploys them through change sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackPlan {
    pub name: String,
    pub role: Role,
    /// File name of the template, e.g. `fargate.yaml` (used for rendering and upload keys).
    pub template_file: String,
    pub template_body: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Names of stacks that must be deployed first (their exports are imported).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Output keys the stack promises.
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default)]
    pub probes: Vec<HealthProbe>,
    #[serde(default)]
    pub secrets: Vec<SecretRequirement>,
    /// Protocol 1.1: parameters to set (through a change set that keeps the deployed template)
    /// before the stack is deleted, e.g. `DeletionProtection = "false"` for a database whose
    /// template guards it. Empty: delete as it is. A 1.0 host ignores it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub before_delete: BTreeMap<String, String>,
}

/// A problem with a backend's settings, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The offending key (`cluster_size`), or empty for the table as a whole.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Issue {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}
