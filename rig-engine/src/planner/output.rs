//! What planning produces: the stacks, buckets, parameters and secrets of the riglet, each with
//! the owner it must have.

use std::collections::{BTreeMap, BTreeSet};

use rig_core::names::{self, RigletNames};
use rig_core::{Role, SecretRequirement, StackPlan};

use super::PlanError;
use crate::config::Riglet;
use crate::ownership::Expected;

/// One stack of the riglet, with where its template is uploaded.
#[derive(Debug, Clone)]
pub struct PlannedStack {
    /// The environment it belongs to (`None` for riglet-wide stacks such as pipelines).
    pub env: Option<String>,
    /// Backend id that produced it.
    pub backend: String,
    /// Stack-kind suffix (`foundation`, `compute-ecs`, `db-aurora`, ...).
    pub suffix: String,
    /// The bucket its template is uploaded to (for an app stack, its environment's app bucket,
    /// which the foundation stack owns).
    pub template_bucket: String,
    /// For an application's stack, what the engine settles against what is live.
    pub app: Option<super::apps::AppSlot>,
    /// Objects written before the stack is converged (a pipeline's template zips; filled in when
    /// the plan is settled).
    pub uploads: Vec<PlannedUpload>,
    /// Its plan; `plan.tags` carry the ownership tags (see [`crate::ownership`]).
    pub plan: StackPlan,
}

impl PlannedStack {
    /// A minimal stack for unit tests: `name` of `role` in `env`, depending on `deps`, with an
    /// empty template.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str, env: Option<&str>, role: Role, deps: &[&str]) -> Self {
        PlannedStack {
            env: env.map(str::to_string),
            backend: "test".into(),
            suffix: "x".into(),
            template_bucket: "bucket".into(),
            app: None,
            uploads: vec![],
            plan: StackPlan {
                name: name.into(),
                role,
                template_file: "t.yaml".into(),
                template_body: "Resources: {}".into(),
                parameters: Default::default(),
                tags: Default::default(),
                capabilities: vec![],
                depends_on: deps.iter().map(|d| d.to_string()).collect(),
                outputs: vec![],
                probes: vec![],
                secrets: vec![],
                before_delete: Default::default(),
            },
        }
    }

    /// Who the live stack must belong to.
    pub fn expected(&self, names: &RigletNames) -> Expected {
        Expected::new(names, self.env.as_deref(), self.plan.role.as_str())
    }
}

/// A bucket rig creates itself (a template bucket), with what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedBucket {
    pub name: String,
    pub env: Option<String>,
    /// The role of the stacks whose templates it holds.
    pub role: Role,
}

impl PlannedBucket {
    pub fn expected(&self, names: &RigletNames) -> Expected {
        Expected::new(names, self.env.as_deref(), self.role.as_str())
    }
}

/// A secret the stacks reference, with the environment and role of the first stack needing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSecret {
    pub requirement: SecretRequirement,
    pub env: Option<String>,
    pub role: Role,
}

impl PlannedSecret {
    pub fn expected(&self, names: &RigletNames) -> Expected {
        Expected::new(names, self.env.as_deref(), self.role.as_str())
    }
}

/// Everything `rig up` deploys, in dependency order.
#[derive(Debug, Clone)]
pub struct RigletPlan {
    pub names: RigletNames,
    /// The public domain the applications are served under.
    pub domain: String,
    pub stacks: Vec<PlannedStack>,
    /// Buckets rig creates before any stack (template buckets).
    pub buckets: Vec<PlannedBucket>,
    /// Plain (non-secret) SSM parameters rig keeps for the riglet (role `foundation`, no
    /// environment).
    pub parameters: BTreeMap<String, String>,
    /// Secrets the stacks reference, in first-needed order.
    pub secrets: Vec<PlannedSecret>,
    /// The environments planned (all of the config's, or those `--env` selected).
    pub environments: Vec<String>,
    /// The planned environments whose stacks deploy in CloudFormation's express mode.
    pub express: BTreeSet<String>,
    /// No `--env` narrowed the plan: it is the whole riglet, pipelines included.
    pub whole: bool,
    /// Each pipeline stack and the app stacks it deploys, in release order.
    pub pipelines: Vec<PipelineTarget>,
}

/// A pipeline stack and the app stacks its deploy stages create and update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineTarget {
    pub stack: String,
    /// The app's key ([`crate::config::AppSpec::key`]).
    pub app: String,
    /// (environment, app stack), in release order.
    pub app_stacks: Vec<(String, String)>,
}

/// An object rig writes before a stack is converged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpload {
    pub bucket: String,
    pub key: String,
    pub body: Vec<u8>,
}

/// Role of the riglet-wide parameters (domain, certificate, key pair, e-mail).
pub const PARAMETER_ROLE: Role = Role::Foundation;

impl RigletPlan {
    /// A plan with nothing in it, of riglet `a`/`b` in us-east-1, for unit tests.
    #[cfg(test)]
    pub(crate) fn empty_for_test() -> Self {
        RigletPlan {
            names: RigletNames::new("a", "b", "us-east-1"),
            domain: "example.com".into(),
            stacks: vec![],
            buckets: vec![],
            parameters: Default::default(),
            secrets: vec![],
            environments: vec![],
            express: Default::default(),
            whole: true,
            pipelines: vec![],
        }
    }

    /// Whether `stack` deploys in CloudFormation's express mode: it belongs to an environment
    /// with `deployment_mode = "express"`.
    pub fn express(&self, stack: &PlannedStack) -> bool {
        stack.env.as_ref().is_some_and(|e| self.express.contains(e))
    }

    pub fn stack(&self, name: &str) -> Option<&PlannedStack> {
        self.stacks.iter().find(|s| s.plan.name == name)
    }

    /// Whether a live resource of environment `env` (`None`: riglet-wide) is within what this
    /// plan covers.
    pub fn covers(&self, env: Option<&str>) -> bool {
        self.whole || env.is_some_and(|e| self.environments.iter().any(|x| x == e))
    }

    /// Who the riglet-wide parameters must belong to.
    pub fn parameter_owner(&self) -> Expected {
        Expected::new(&self.names, None, PARAMETER_ROLE.as_str())
    }

    /// SSM parameters earlier versions of rig kept, removed by a whole teardown when they are
    /// this riglet's (exact names).
    pub fn legacy_parameters(&self) -> Vec<String> {
        let p = self.names.ssm_prefix();
        vec![format!("{p}/compute/BACKEND"), format!("{p}/db/BACKEND")]
    }
}

/// The riglet-wide SSM parameters (domain, certificate, key pair, e-mail), their names checked.
pub(super) fn parameters(riglet: &Riglet) -> Result<BTreeMap<String, String>, PlanError> {
    let prefix = riglet.names.ssm_prefix();
    let mut parameters = BTreeMap::new();
    parameters.insert(format!("{prefix}/DOMAIN"), riglet.info.domain.clone());
    parameters.insert(
        format!("{prefix}/DOMAIN_CERT"),
        riglet.info.domain_cert_arn.clone(),
    );
    if let Some(k) = &riglet.info.key_name {
        parameters.insert(format!("{prefix}/KEY_NAME"), k.clone());
    }
    if let Some(e) = &riglet.info.email {
        parameters.insert(format!("{prefix}/EMAIL_ADDRESS"), e.clone());
    }
    for p in parameters.keys() {
        names::validate_ssm_path(p)?;
    }
    Ok(parameters)
}
