//! Units of planning: one backend asked about one scope. Everything that differs between kinds
//! of unit (the request type, the template bucket, the settings table errors name) is decided
//! here, when the units are built, so the planner's loop treats every unit alike.

use std::collections::BTreeMap;
use std::sync::Arc;

use rig_core::{
    AppDeploy, Compute, Database, EnvRequest, EnvStackNames, EnvironmentSpec, Foundation, Issue,
    Manifest, Pipeline, PipelineApp, PipelineRequest, PluginError, Role, Settings, StackPlan,
};

use super::{Backends, PlanError};
use crate::config::{PipelineSpec, Riglet};

/// The kind of the bucket holding the pipelines' templates (and their build artifacts).
const PIPELINE_BUCKET_KIND: &str = "build";

/// What a unit's stacks belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    /// The whole riglet: a pipeline (one unit per `[[pipelines]]` entry).
    Riglet,
    /// One environment: its foundation, compute, database.
    Environment(String),
    // Per-application stacks will add `Application { env, app }`.
}

impl Scope {
    /// The environment its stacks, template bucket and secrets are owned by (`None`:
    /// riglet-wide).
    pub(super) fn env(&self) -> Option<&str> {
        match self {
            Scope::Riglet => None,
            Scope::Environment(e) => Some(e),
        }
    }

    /// How a backend's failure names it.
    fn label(&self) -> &str {
        self.env().unwrap_or("(all)")
    }
}

/// Where a unit's settings come from, as the settings errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SettingsSource {
    /// The backend id the errors name (the one `rig.toml` chose).
    pub id: String,
    /// The table, e.g. `compute.fargate` or `pipelines: api@main`. Units of one role, backend
    /// and table report their issues together, each issue once.
    pub table: String,
    /// Where this unit's settings are written, e.g. `compute.fargate or
    /// environments.staging.compute.fargate`.
    pub place: String,
}

impl SettingsSource {
    /// A backend's table overlaid by the environment's.
    fn environment(role: Role, id: &str, env: &str) -> SettingsSource {
        let table = format!("{}.{id}", role_table(role));
        SettingsSource {
            id: id.to_string(),
            place: format!("{table} or environments.{env}.{table}"),
            table,
        }
    }

    /// One `[[pipelines]]` entry.
    fn pipeline(id: &str, spec: &PipelineSpec) -> SettingsSource {
        let table = format!("pipelines: {}@{}", spec.repository, spec.branch);
        SettingsSource {
            id: id.to_string(),
            place: table.clone(),
            table,
        }
    }
}

fn role_table(role: Role) -> &'static str {
    match role {
        Role::Database => "database",
        other => other.as_str(),
    }
}

/// A backend with the request it is asked: the request type follows the backend's role.
enum Ask {
    Foundation(Arc<dyn Foundation>, EnvRequest),
    Compute(Arc<dyn Compute>, EnvRequest),
    Database(Arc<dyn Database>, EnvRequest),
    Pipeline(Arc<dyn Pipeline>, PipelineRequest),
}

/// One backend asked for the stacks of one scope.
pub(super) struct Unit {
    pub role: Role,
    pub scope: Scope,
    /// The backend's manifest: its id and stack suffix.
    pub manifest: Manifest,
    /// Its templates go to `rig-<owner>-<project>-<region>-<kind>[-<env>]`.
    pub bucket_kind: String,
    pub settings: SettingsSource,
    ask: Ask,
}

impl Unit {
    /// The backend's verdict on the unit's settings.
    pub(super) fn validate(&self) -> Vec<Issue> {
        match &self.ask {
            Ask::Foundation(b, r) => b.validate(&r.settings),
            Ask::Compute(b, r) => b.validate(&r.settings),
            Ask::Database(b, r) => b.validate(&r.settings),
            Ask::Pipeline(b, r) => b.validate(&r.settings),
        }
    }

    /// The backend's plans for the unit.
    pub(super) fn plan(&self) -> Result<Vec<StackPlan>, PlanError> {
        let answer: Result<Vec<StackPlan>, PluginError> = match &self.ask {
            Ask::Foundation(b, r) => b.plan_foundation(r),
            Ask::Compute(b, r) => b.plan_compute(r),
            Ask::Database(b, r) => b.plan_database(r),
            Ask::Pipeline(b, r) => b.plan_pipeline(r),
        };
        answer.map_err(|source| PlanError::Backend {
            role: self.role,
            id: self.manifest.id.clone(),
            env: self.scope.label().to_string(),
            source,
        })
    }
}

/// The riglet's units in deployment order: per environment its foundation, compute and
/// database (when one is selected), then one unit per pipeline.
pub(super) fn units(riglet: &Riglet, backends: &Backends) -> Vec<Unit> {
    let names = &riglet.names;
    let foundation = backends.foundation.manifest();
    let compute = backends.compute.manifest();
    let database = match (&backends.database, &riglet.database) {
        (Some(b), Some(choice)) => Some((b, choice, b.manifest())),
        _ => None,
    };
    let stack_names = |env: &str| EnvStackNames {
        foundation: names.foundation_stack(env),
        compute: Some(names.env_stack(env, &compute.stack_suffix)),
        database: database
            .as_ref()
            .map(|(_, _, m)| names.env_stack(env, &m.stack_suffix)),
    };

    let mut units = Vec::new();
    for env in &riglet.environments {
        let stacks = stack_names(&env.name);
        let request = |stack_name: &str, settings| EnvRequest {
            riglet: riglet.info.clone(),
            environment: env.clone(),
            stacks: stacks.clone(),
            stack_name: stack_name.to_string(),
            settings,
            tags: tags(riglet, Some(env)),
        };
        let unit = |role: Role, manifest: &Manifest, config_id: &str, ask: Ask| Unit {
            role,
            scope: Scope::Environment(env.name.clone()),
            manifest: manifest.clone(),
            bucket_kind: manifest.stack_suffix.clone(),
            settings: SettingsSource::environment(role, config_id, &env.name),
            ask,
        };
        let f = request(&stacks.foundation, Settings::default());
        units.push(unit(
            Role::Foundation,
            &foundation,
            &foundation.id,
            Ask::Foundation(backends.foundation.clone(), f),
        ));
        let settings = riglet.compute.settings.get(&env.name).cloned();
        let c = request(
            stacks.compute.as_deref().unwrap_or_default(),
            settings.unwrap_or_default(),
        );
        units.push(unit(
            Role::Compute,
            &compute,
            &riglet.compute.id,
            Ask::Compute(backends.compute.clone(), c),
        ));
        if let Some((backend, choice, manifest)) = &database {
            let settings = choice.settings.get(&env.name).cloned();
            let d = request(
                stacks.database.as_deref().unwrap_or_default(),
                settings.unwrap_or_default(),
            );
            units.push(unit(
                Role::Database,
                manifest,
                &choice.id,
                Ask::Database(Arc::clone(backend), d),
            ));
        }
    }

    // Pipelines: one stack per repository and branch, after the environments they deploy to.
    if !riglet.pipelines.is_empty() {
        let pipeline = backends.pipeline.manifest();
        let environments: Vec<(String, EnvStackNames)> = riglet
            .environments
            .iter()
            .map(|e| (e.name.clone(), stack_names(&e.name)))
            .collect();
        for spec in &riglet.pipelines {
            let request = PipelineRequest {
                riglet: riglet.info.clone(),
                stack_name: names.pipeline_stack(&spec.repository, &spec.branch),
                repository: spec.repository.clone(),
                branch: spec.branch.clone(),
                branch_safe: rig_core::names::safe_branch(&spec.branch),
                environments: environments.clone(),
                settings: spec.settings.clone(),
                tags: tags(riglet, None),
                app: pipeline_app(riglet, spec),
            };
            units.push(Unit {
                role: Role::Pipeline,
                scope: Scope::Riglet,
                bucket_kind: PIPELINE_BUCKET_KIND.to_string(),
                settings: SettingsSource::pipeline(&pipeline.id, spec),
                manifest: pipeline.clone(),
                ask: Ask::Pipeline(backends.pipeline.clone(), request),
            });
        }
    }
    units
}

/// The app a pipeline deploys, with its stack and template zip in every environment.
pub(super) fn pipeline_app(riglet: &Riglet, spec: &PipelineSpec) -> Option<PipelineApp> {
    let app = riglet
        .apps
        .iter()
        .find(|a| spec.app.as_deref() == Some(a.key().as_str()))?;
    let names = &riglet.names;
    let branch = app.branch.as_deref();
    Some(PipelineApp {
        name: app.name.clone(),
        iam_path: names.app_iam_path(&app.name, branch),
        deploys: riglet
            .environments
            .iter()
            .map(|e| {
                let stack_name = names.app_stack(&e.name, &app.name, branch);
                AppDeploy {
                    environment: e.name.clone(),
                    template_bucket: names.bucket("app", Some(&e.name)),
                    template_object: super::apps::pipeline_template_key(&stack_name),
                    stack_name,
                }
            })
            .collect(),
    })
}

/// The tags a backend is asked to put on what it plans (`Owner`, `Project`, `Environment`).
fn tags(riglet: &Riglet, env: Option<&EnvironmentSpec>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        ("Owner".to_string(), riglet.info.owner.clone()),
        ("Project".to_string(), riglet.info.project.clone()),
    ]);
    if let Some(e) = env {
        tags.insert("Environment".to_string(), e.name.clone());
    }
    tags
}
