//! Turns a resolved [`Riglet`] into the graph of stacks to deploy, asking each backend for its
//! plans. Pure: no AWS call happens here, so `rig render` and every check before `rig up` use it.
//!
//! The riglet is first cut into *units* (`units`): one backend asked about one scope — an
//! environment's foundation, compute or database, or one pipeline for the whole riglet. Each
//! unit carries what differs between kinds (its request, its template bucket, the settings
//! table its errors name), so one loop plans, checks and records every unit alike (`checks`);
//! `output` holds what planning produces.

pub mod apps;
pub mod bastion;
mod checks;
pub mod notifications;
mod output;
mod units;

use std::collections::BTreeMap;
use std::sync::Arc;

use rig_core::names::{self, RigletNames};
use rig_core::{Compute, Database, Foundation, Issue, Pipeline, PluginError, Role, StackPlan};

use crate::builtin::{CodePipeline, StandardFoundation};
use crate::config::Riglet;
use crate::ownership;
use crate::plugin::{HostError, PluginHost};

pub use output::{
    PipelineTarget, PlannedBucket, PlannedSecret, PlannedStack, PlannedUpload, RigletPlan,
    PARAMETER_ROLE,
};

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
    ///
    /// Errors: a plugin path given by hand that is missing or not a plugin, a backend not
    /// found or not loadable, or a settings table in rig.toml for a backend not on the search
    /// path ([`HostError::UnknownSettingsTable`]: a misspelled table would otherwise be ignored).
    pub fn load(riglet: &Riglet, host: &PluginHost) -> Result<Backends, HostError> {
        host.check_given()?;
        let compute = host.compute(&riglet.compute.id)?;
        check_settings_tables(riglet, host)?;
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

/// Refuses a settings table for a backend that is neither selected nor on the search path.
fn check_settings_tables(riglet: &Riglet, host: &PluginHost) -> Result<(), HostError> {
    for role in [Role::Compute, Role::Database] {
        let selected = match role {
            Role::Compute => Some(riglet.compute.id.as_str()),
            _ => riglet.database.as_ref().map(|d| d.id.as_str()),
        };
        let others: Vec<_> = riglet
            .settings_tables
            .iter()
            .filter(|t| t.role == role && Some(t.id.as_str()) != selected)
            .collect();
        if others.is_empty() {
            continue;
        }
        let known = host.known_ids(role);
        if let Some(t) = others.into_iter().find(|t| !known.contains(&t.id)) {
            return Err(HostError::UnknownSettingsTable {
                table: t.table.clone(),
                role,
                id: t.id.clone(),
                known,
            });
        }
    }
    Ok(())
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
    /// A parameter value the stack's own template refuses (CloudFormation would, at
    /// CreateChangeSet).
    #[error(transparent)]
    Parameter(Box<BadParameter>),
}

/// A parameter value its stack's template refuses.
#[derive(Debug, thiserror::Error)]
#[error("stack `{stack}`: parameter `{parameter}` = `{value}` {problem}{}\n  hint: the value comes from rig.toml (or the {role} backend's settings); change it there", description.as_ref().map(|d| format!(" (the template wants {d})")).unwrap_or_default())]
pub struct BadParameter {
    pub stack: String,
    pub role: Role,
    pub parameter: String,
    pub value: String,
    /// Which constraint it breaks.
    pub problem: String,
    /// The template's `ConstraintDescription`.
    pub description: Option<String>,
}

/// Plans every stack of the riglet.
pub fn plan(riglet: &Riglet, backends: &Backends) -> Result<RigletPlan, PlanError> {
    let names = &riglet.names;
    let units = units::units(riglet, backends);
    checks::settings(riglet, &units)?;
    checks::manifests(&units)?;

    let mut stacks = Vec::new();
    let mut buckets: BTreeMap<String, PlannedBucket> = BTreeMap::new();
    for unit in &units {
        let plans = unit.plan()?;
        let bucket = PlannedBucket {
            name: names.bucket(&unit.bucket_kind, unit.scope.env()),
            env: unit.scope.env().map(str::to_string),
            role: unit.role,
        };
        names::validate_bucket_name(&bucket.name)?;
        for plan in plans {
            stacks.push(record(unit, &bucket, plan, names));
        }
        buckets.insert(bucket.name.clone(), bucket);
    }

    let apps = apps::app_stacks(riglet, &stacks)?;
    stacks.extend(apps);
    stacks.extend(notifications::notifications_stack(riglet, &stacks)?);

    // A problem of the whole graph is put on the compute backend, which every riglet has.
    let compute = backends.compute.manifest();
    let secrets = checks::stacks(&stacks, (Role::Compute, &compute.id))?;
    Ok(RigletPlan {
        names: names.clone(),
        domain: riglet.info.domain.clone(),
        stacks,
        buckets: buckets.into_values().collect(),
        parameters: output::parameters(riglet)?,
        secrets,
        environments: riglet.env_names(),
        express: riglet.express.clone(),
        whole: riglet.whole,
        pipelines: riglet
            .pipelines
            .iter()
            .filter_map(|p| {
                Some(PipelineTarget {
                    stack: names.pipeline_stack(&p.repository, &p.branch),
                    app: p.app.clone()?,
                    app_stacks: units::pipeline_app(riglet, p)?
                        .deploys
                        .into_iter()
                        .map(|d| (d.environment, d.stack_name))
                        .collect(),
                })
            })
            .collect(),
    })
}

/// One stack a unit's backend planned, with its template bucket and its ownership tags, which
/// are set here, whatever the backend returned, so a backend can neither forget nor forge them.
fn record(
    unit: &units::Unit,
    bucket: &PlannedBucket,
    plan: StackPlan,
    names: &RigletNames,
) -> PlannedStack {
    let mut stack = PlannedStack {
        env: bucket.env.clone(),
        backend: unit.manifest.id.clone(),
        suffix: unit.manifest.stack_suffix.clone(),
        template_bucket: bucket.name.clone(),
        app: None,
        uploads: vec![],
        plan,
    };
    let mut tags = stack.expected(names).tags();
    tags.insert(ownership::BACKEND.to_string(), stack.backend.clone());
    tags.insert(
        ownership::TEMPLATE_BUCKET.to_string(),
        stack.template_bucket.clone(),
    );
    if !stack.plan.before_delete.is_empty() {
        tags.insert(
            ownership::BEFORE_DELETE.to_string(),
            ownership::format_pairs(&stack.plan.before_delete),
        );
    }
    stack.plan.tags.extend(tags);
    stack
}

#[cfg(test)]
mod bastion_tests;
#[cfg(test)]
mod tests;
