//! Turns a resolved [`Riglet`] into the graph of stacks to deploy, asking each backend for its
//! plans. Pure: no AWS call happens here, so `rig render` and every check before `rig up` use it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rig_core::names::{self, RigletNames};
use rig_core::{
    Backend, Compute, Database, EnvRequest, EnvStackNames, Foundation, Issue, Pipeline,
    PipelineRequest, PluginError, Role, SecretRequirement, StackPlan,
};

use crate::builtin::{CodePipeline, StandardFoundation};
use crate::config::Riglet;
use crate::ownership::{self, Expected};
use crate::plugin::{HostError, PluginHost};

/// The backends a riglet uses, built in or loaded.
#[derive(Clone)]
pub struct Backends {
    pub foundation: Arc<dyn Foundation>,
    pub compute: Arc<dyn Compute>,
    pub database: Option<Arc<dyn Database>>,
    pub pipeline: Arc<dyn Pipeline>,
}

impl Backends {
    /// Loads the riglet's compute and database backends through the plugin host.
    pub fn load(riglet: &Riglet, host: &PluginHost) -> Result<Backends, HostError> {
        let compute = host.compute(&riglet.compute.id)?;
        let database = match &riglet.database {
            Some(d) => Some(host.database(&d.id)?),
            None => None,
        };
        Ok(Backends {
            foundation: Arc::new(StandardFoundation),
            compute,
            database,
            pipeline: Arc::new(CodePipeline),
        })
    }
}

/// Why the riglet could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{} has invalid settings for the {role} backend `{id}`:\n{}", config, issues.iter().map(|(place, i)| format!("  - [{place}] {i}")).collect::<Vec<_>>().join("\n"))]
    Settings {
        config: String,
        role: Role,
        id: String,
        /// (table, issue)
        issues: Vec<(String, Issue)>,
    },
    #[error("the {role} backend `{id}` could not plan environment `{env}`: {source}")]
    Backend {
        role: Role,
        id: String,
        env: String,
        #[source]
        source: PluginError,
    },
    #[error("the {role} backend `{id}` produced an invalid plan: {problem}")]
    BadPlan {
        role: Role,
        id: String,
        problem: String,
    },
    #[error(transparent)]
    Name(#[from] names::NameError),
}

/// One stack of the riglet, with where its template is uploaded.
#[derive(Debug, Clone)]
pub struct PlannedStack {
    /// The environment it belongs to (`None` for riglet-wide stacks such as pipelines).
    pub env: Option<String>,
    /// Backend id that produced it.
    pub backend: String,
    /// Stack-kind suffix (`foundation`, `compute-ecs`, `db-aurora`, ...).
    pub suffix: String,
    /// The bucket its template is uploaded to.
    pub template_bucket: String,
    /// Its plan; `plan.tags` carry the ownership tags (see [`crate::ownership`]).
    pub plan: StackPlan,
}

impl PlannedStack {
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
    /// No `--env` narrowed the plan: it is the whole riglet, pipelines included.
    pub whole: bool,
}

/// Role of the riglet-wide parameters (domain, certificate, key pair, e-mail).
pub const PARAMETER_ROLE: Role = Role::Foundation;

impl RigletPlan {
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

fn check_settings(
    riglet: &Riglet,
    role: Role,
    backend: &dyn Backend,
    choice: &crate::config::BackendChoice,
) -> Result<(), PlanError> {
    let mut issues = Vec::new();
    for env in &riglet.environments {
        let settings = choice.settings.get(&env.name).cloned().unwrap_or_default();
        for i in backend.validate(&settings) {
            let place = format!(
                "{}.{} or environments.{}.{}.{}",
                role_table(role),
                choice.id,
                env.name,
                role_table(role),
                choice.id
            );
            if !issues.iter().any(|(_, j): &(String, Issue)| *j == i) {
                issues.push((place, i));
            }
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Settings {
            config: riglet.config_path.display().to_string(),
            role,
            id: choice.id.clone(),
            issues,
        })
    }
}

fn role_table(role: Role) -> &'static str {
    match role {
        Role::Database => "database",
        other => other.as_str(),
    }
}

/// Plans every stack of the riglet.
pub fn plan(riglet: &Riglet, backends: &Backends) -> Result<RigletPlan, PlanError> {
    let names = &riglet.names;
    check_settings(
        riglet,
        Role::Compute,
        backends.compute.as_ref(),
        &riglet.compute,
    )?;
    if let (Some(db), Some(choice)) = (&backends.database, &riglet.database) {
        check_settings(riglet, Role::Database, db.as_ref(), choice)?;
    }
    let compute_manifest = backends.compute.manifest();
    let db_manifest = backends.database.as_ref().map(|d| d.manifest());
    for m in std::iter::once(&compute_manifest).chain(db_manifest.as_ref()) {
        names::validate_segment("stack suffix", &m.stack_suffix).map_err(|e| {
            PlanError::BadPlan {
                role: m.role,
                id: m.id.clone(),
                problem: e.to_string(),
            }
        })?;
    }

    let mut stacks = Vec::new();
    let mut buckets: BTreeMap<String, PlannedBucket> = BTreeMap::new();
    for env in &riglet.environments {
        let stack_names = EnvStackNames {
            foundation: names.foundation_stack(&env.name),
            compute: Some(names.env_stack(&env.name, &compute_manifest.stack_suffix)),
            database: db_manifest
                .as_ref()
                .map(|m| names.env_stack(&env.name, &m.stack_suffix)),
        };
        let tags: BTreeMap<String, String> = [
            ("Owner", riglet.info.owner.clone()),
            ("Project", riglet.info.project.clone()),
            ("Environment", env.name.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let request = |stack_name: &str, settings| EnvRequest {
            riglet: riglet.info.clone(),
            environment: env.clone(),
            stacks: stack_names.clone(),
            stack_name: stack_name.to_string(),
            settings,
            tags: tags.clone(),
        };
        let mut add =
            |role: Role, id: &str, suffix: &str, result: Result<Vec<StackPlan>, PluginError>| {
                let plans = result.map_err(|source| PlanError::Backend {
                    role,
                    id: id.to_string(),
                    env: env.name.clone(),
                    source,
                })?;
                let bucket = names.bucket(suffix, Some(&env.name));
                names::validate_bucket_name(&bucket)?;
                buckets.insert(
                    bucket.clone(),
                    PlannedBucket {
                        name: bucket.clone(),
                        env: Some(env.name.clone()),
                        role,
                    },
                );
                for plan in plans {
                    stacks.push(PlannedStack {
                        env: Some(env.name.clone()),
                        backend: id.to_string(),
                        suffix: suffix.to_string(),
                        template_bucket: bucket.clone(),
                        plan,
                    });
                }
                Ok::<(), PlanError>(())
            };
        let f = backends.foundation.manifest();
        add(
            Role::Foundation,
            &f.id,
            &f.stack_suffix,
            backends
                .foundation
                .plan_foundation(&request(&stack_names.foundation, Default::default())),
        )?;
        let settings = riglet
            .compute
            .settings
            .get(&env.name)
            .cloned()
            .unwrap_or_default();
        add(
            Role::Compute,
            &compute_manifest.id,
            &compute_manifest.stack_suffix,
            backends.compute.plan_compute(&request(
                stack_names.compute.as_deref().unwrap_or_default(),
                settings,
            )),
        )?;
        if let (Some(db), Some(m), Some(choice)) =
            (&backends.database, &db_manifest, &riglet.database)
        {
            let settings = choice.settings.get(&env.name).cloned().unwrap_or_default();
            add(
                Role::Database,
                &m.id,
                &m.stack_suffix,
                db.plan_database(&request(
                    stack_names.database.as_deref().unwrap_or_default(),
                    settings,
                )),
            )?;
        }
    }

    // Pipelines: one stack per repository and branch, after the environments they deploy to.
    if !riglet.pipelines.is_empty() {
        let p = backends.pipeline.manifest();
        let build_bucket = names.bucket("build", None);
        names::validate_bucket_name(&build_bucket)?;
        buckets.insert(
            build_bucket.clone(),
            PlannedBucket {
                name: build_bucket.clone(),
                env: None,
                role: Role::Pipeline,
            },
        );
        let environments: Vec<(String, EnvStackNames)> = riglet
            .environments
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    EnvStackNames {
                        foundation: names.foundation_stack(&e.name),
                        compute: Some(names.env_stack(&e.name, &compute_manifest.stack_suffix)),
                        database: db_manifest
                            .as_ref()
                            .map(|m| names.env_stack(&e.name, &m.stack_suffix)),
                    },
                )
            })
            .collect();
        for spec in &riglet.pipelines {
            let mut issues: Vec<(String, Issue)> = Vec::new();
            for i in backends.pipeline.validate(&spec.settings) {
                issues.push((format!("pipelines: {}@{}", spec.repository, spec.branch), i));
            }
            if !issues.is_empty() {
                return Err(PlanError::Settings {
                    config: riglet.config_path.display().to_string(),
                    role: Role::Pipeline,
                    id: p.id.clone(),
                    issues,
                });
            }
            let req = PipelineRequest {
                riglet: riglet.info.clone(),
                stack_name: names.pipeline_stack(&spec.repository, &spec.branch),
                repository: spec.repository.clone(),
                branch: spec.branch.clone(),
                branch_safe: names::safe_branch(&spec.branch),
                environments: environments.clone(),
                settings: spec.settings.clone(),
                tags: [
                    ("Owner", riglet.info.owner.clone()),
                    ("Project", riglet.info.project.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            };
            let plans =
                backends
                    .pipeline
                    .plan_pipeline(&req)
                    .map_err(|source| PlanError::Backend {
                        role: Role::Pipeline,
                        id: p.id.clone(),
                        env: "(all)".into(),
                        source,
                    })?;
            for plan in plans {
                stacks.push(PlannedStack {
                    env: None,
                    backend: p.id.clone(),
                    suffix: p.stack_suffix.clone(),
                    template_bucket: build_bucket.clone(),
                    plan,
                });
            }
        }
    }

    // Check what the backends returned.
    let known: BTreeSet<String> = stacks.iter().map(|s| s.plan.name.clone()).collect();
    if known.len() != stacks.len() {
        return Err(PlanError::BadPlan {
            role: Role::Compute,
            id: compute_manifest.id.clone(),
            problem: "two stacks share a name".into(),
        });
    }
    let mut secrets: Vec<PlannedSecret> = Vec::new();
    for s in &mut stacks {
        // Ownership tags are set here, whatever the backend returned, so a backend can neither
        // forget nor forge them.
        let mut tags = s.expected(names).tags();
        tags.insert(ownership::BACKEND.to_string(), s.backend.clone());
        tags.insert(
            ownership::TEMPLATE_BUCKET.to_string(),
            s.template_bucket.clone(),
        );
        if !s.plan.before_delete.is_empty() {
            tags.insert(
                ownership::BEFORE_DELETE.to_string(),
                ownership::format_pairs(&s.plan.before_delete),
            );
        }
        s.plan.tags.extend(tags);
    }
    for s in &stacks {
        let bad = |problem: String| PlanError::BadPlan {
            role: s.plan.role,
            id: s.backend.clone(),
            problem,
        };
        names::validate_stack_name(&s.plan.name).map_err(|e| bad(e.to_string()))?;
        for d in &s.plan.depends_on {
            if !known.contains(d) {
                return Err(bad(format!(
                    "stack `{}` depends on unknown stack `{d}`",
                    s.plan.name
                )));
            }
        }
        if s.plan.template_body.trim().is_empty() {
            return Err(bad(format!(
                "stack `{}` has an empty template",
                s.plan.name
            )));
        }
        for sec in &s.plan.secrets {
            names::validate_ssm_path(&sec.ssm_path).map_err(|e| bad(e.to_string()))?;
            if !secrets
                .iter()
                .any(|x| x.requirement.ssm_path == sec.ssm_path)
            {
                secrets.push(PlannedSecret {
                    requirement: sec.clone(),
                    env: s.env.clone(),
                    role: s.plan.role,
                });
            }
        }
    }
    if has_cycle(&stacks) {
        return Err(PlanError::BadPlan {
            role: Role::Compute,
            id: compute_manifest.id,
            problem: "the stacks' dependencies form a cycle".into(),
        });
    }

    let prefix = names.ssm_prefix();
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

    Ok(RigletPlan {
        names: names.clone(),
        stacks,
        buckets: buckets.into_values().collect(),
        parameters,
        secrets,
        environments: riglet.env_names(),
        whole: riglet.whole,
    })
}

fn has_cycle(stacks: &[PlannedStack]) -> bool {
    // Kahn's algorithm over the depends_on edges.
    let mut indeg: BTreeMap<&str, usize> =
        stacks.iter().map(|s| (s.plan.name.as_str(), 0)).collect();
    for s in stacks {
        *indeg.get_mut(s.plan.name.as_str()).expect("known") = s.plan.depends_on.len();
    }
    let mut ready: Vec<&str> = indeg
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut done = 0;
    while let Some(n) = ready.pop() {
        done += 1;
        for s in stacks
            .iter()
            .filter(|s| s.plan.depends_on.iter().any(|d| d == n))
        {
            let d = indeg.get_mut(s.plan.name.as_str()).expect("known");
            *d -= 1;
            if *d == 0 {
                ready.push(s.plan.name.as_str());
            }
        }
    }
    done != stacks.len()
}
