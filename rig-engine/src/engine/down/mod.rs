//! Teardown: `rig down` and `rig up --prune`.
//!
//! A teardown is planned first ([`Engine::teardown_plan`]) and only then carried out
//! ([`Engine::teardown`]), so the user sees every stack, bucket (with its object count) and
//! parameter that will go before anything is deleted. What is selected:
//! - stacks: the plan's stacks that exist, by exact name, and the riglet's live stacks the plan no
//!   longer has (orphans), by exact tags; every one verified as this riglet's (see
//!   [`crate::ownership`]); one that is not refuses the whole teardown before anything is deleted;
//! - template buckets: the plan's, by exact name, and those named by an orphan's
//!   `rig:template-bucket` tag, verified by their tags, deleted once no stack using them is left;
//! - a stack's own buckets and ECR repositories (its resources, by physical id) are emptied only
//!   when CloudFormation reports that it cannot delete them because they are not empty, so a
//!   resource the template retains (`DeletionPolicy: Retain`, e.g. CouchDB's backups) is never
//!   emptied;
//! - parameters: the plan's, by exact name, and those tagged for the riglet (and environment);
//!   SecureStrings only with `--purge-secrets`.
//!
//! Order comes from the dependency graph: the plan's edges, and for orphans the order of roles
//! (bastions, applications, pipelines, compute and database, foundation), so an environment's
//! bastion (never planned) goes before the rest of its environment. A stack is deleted once
//! every stack that depends on it is gone; a failure leaves what it depends on, and says so.

mod report;
mod run;

pub use report::{DownReport, FailedStack, LeftStack};

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::engine::record::{adoption_note, Record};
use crate::engine::{Engine, EngineError};
use crate::ownership::{self, Expected, NotOwned, Verdict};
use crate::planner::RigletPlan;

/// What to tear down.
#[derive(Debug, Clone, Default)]
pub struct TeardownOptions {
    /// Also delete the riglet's SecureString parameters (secrets) within the scope.
    pub purge_secrets: bool,
    /// Only the orphans (`rig up --prune`): the planned stacks, their buckets and every
    /// parameter stay.
    pub orphans_only: bool,
    /// Only this stack, chosen by exact name (`rig app delete`): no bucket or parameter goes.
    pub only: Option<String>,
}

/// A bucket or ECR repository and how many objects (versions) or images it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// Its logical id in the stack that owns it (empty for template buckets).
    pub logical_id: String,
    pub name: String,
    pub count: usize,
    /// Its stack's deployed template retains it (`DeletionPolicy: Retain`): it outlives the
    /// stack with everything in it.
    pub retained: bool,
}

/// A stack that will be deleted.
#[derive(Debug, Clone, Serialize)]
pub struct DoomedStack {
    pub name: String,
    pub env: Option<String>,
    pub role: String,
    pub status: String,
    /// Live, but not in the configuration any more.
    pub orphan: bool,
    /// Made by an earlier rig without tags; adopted on its exact name.
    pub adopted: bool,
    /// The stacks (of this teardown) it depends on: deleted after it.
    pub depends_on: Vec<String>,
    /// Its own buckets (emptied only if CloudFormation cannot delete them otherwise).
    pub buckets: Vec<Holding>,
    /// Its own ECR repositories (the same).
    pub repositories: Vec<Holding>,
    /// Parameters its backend asks to change before deletion (`rig:before-delete`), as
    /// `Key=value` pairs.
    pub before_delete: Option<String>,
    #[serde(skip)]
    template_bucket: Option<String>,
}

/// A parameter that will be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoomedParameter {
    pub name: String,
    pub secure: bool,
}

/// Everything a teardown deletes, shown before it starts.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Teardown {
    pub stacks: Vec<DoomedStack>,
    /// Template buckets rig created, emptied and deleted after the stacks using them.
    pub buckets: Vec<Holding>,
    pub parameters: Vec<DoomedParameter>,
    /// Secrets within the scope that stay (no `--purge-secrets`).
    pub secrets_kept: Vec<String>,
    /// Adoptions of untagged resources made by an earlier rig.
    pub notes: Vec<String>,
}

impl Engine {
    /// Decides what a teardown deletes, verifying that each of it is this riglet's; deletes
    /// nothing. Errors: a stack, bucket or parameter with an expected name but other tags
    /// ([`EngineError::NotOwned`]), termination protection ([`EngineError::Protected`]), AWS.
    pub async fn teardown_plan(
        &self,
        plan: &RigletPlan,
        opts: TeardownOptions,
    ) -> Result<Teardown, EngineError> {
        let st = self.stacks();
        let record = Record::survey(plan, st.list_all().await?);
        let names = &plan.names;
        let mut refused: Vec<NotOwned> = record.foreign.clone();
        let mut t = Teardown::default();
        let chosen: Vec<_> = record
            .stacks
            .iter()
            .filter(|s| match &opts.only {
                Some(only) => s.name() == only,
                None => !opts.orphans_only || s.orphan,
            })
            .collect();
        let protected: Vec<String> = chosen
            .iter()
            .filter(|s| s.state.termination_protection)
            .map(|s| s.name().to_string())
            .collect();
        if !protected.is_empty() {
            return Err(EngineError::Protected(protected));
        }
        let chosen_names: BTreeSet<&str> = chosen.iter().map(|s| s.name()).collect();
        for s in &chosen {
            if s.adopted {
                t.notes.push(adoption_note("stack", s.name(), &s.role));
            }
            let mut depends_on: BTreeSet<String> = plan
                .stack(s.name())
                .map(|p| p.plan.depends_on.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|d| chosen_names.contains(d.as_str()))
                .collect();
            for b in &chosen {
                let same_scope = s.env.is_none() || s.env == b.env;
                if b.name() != s.name()
                    && same_scope
                    && ownership::role_rank(&b.role) < ownership::role_rank(&s.role)
                {
                    depends_on.insert(b.name().to_string());
                }
            }
            let mut doomed = DoomedStack {
                name: s.name().to_string(),
                env: s.env.clone(),
                role: s.role.clone(),
                status: s.state.status.to_string(),
                orphan: s.orphan,
                adopted: s.adopted,
                depends_on: depends_on.into_iter().collect(),
                buckets: vec![],
                repositories: vec![],
                before_delete: s.state.tags.get(ownership::BEFORE_DELETE).cloned(),
                template_bucket: s.template_bucket.clone(),
            };
            let resources = st.resources(s.name()).await?;
            let kept = if resources.iter().any(|r| {
                matches!(
                    r.resource_type.as_str(),
                    "AWS::S3::Bucket" | "AWS::ECR::Repository"
                )
            }) {
                crate::template::retained(&st.template(s.name()).await?)
            } else {
                Default::default()
            };
            for r in resources {
                if r.physical_id.is_empty() {
                    continue;
                }
                let (list, count) = match r.resource_type.as_str() {
                    "AWS::S3::Bucket" => (
                        &mut doomed.buckets,
                        self.clients.count_objects(&r.physical_id).await?,
                    ),
                    "AWS::ECR::Repository" => (
                        &mut doomed.repositories,
                        self.clients.count_images(&r.physical_id).await?,
                    ),
                    _ => continue,
                };
                list.push(Holding {
                    retained: kept.contains(&r.logical_id),
                    logical_id: r.logical_id,
                    name: r.physical_id,
                    count,
                });
            }
            t.stacks.push(doomed);
        }

        // Template buckets: the plan's, and those the chosen stacks name; kept while a stack
        // that stays uses one.
        let mut buckets: BTreeMap<String, Expected> = BTreeMap::new();
        if !opts.orphans_only && opts.only.is_none() {
            for b in &plan.buckets {
                buckets.insert(b.name.clone(), b.expected(names));
            }
        }
        for s in &t.stacks {
            if let Some(b) = &s.template_bucket {
                buckets
                    .entry(b.clone())
                    .or_insert_with(|| Expected::new(names, s.env.as_deref(), &s.role));
            }
        }
        let staying: BTreeSet<&str> = record
            .stacks
            .iter()
            .filter(|s| !chosen_names.contains(s.name()))
            .filter_map(|s| s.template_bucket.as_deref())
            .chain(
                plan.stacks
                    .iter()
                    .filter(|_| opts.orphans_only || opts.only.is_some())
                    .map(|s| s.template_bucket.as_str()),
            )
            .collect();
        for (bucket, expected) in buckets {
            if staying.contains(bucket.as_str()) {
                continue;
            }
            let Some(tags) = self.clients.bucket_tags(&bucket).await? else {
                continue;
            };
            match expected.check(&tags) {
                Verdict::Foreign => {
                    refused.push(NotOwned {
                        kind: "bucket".into(),
                        name: bucket,
                        expected,
                        found: tags,
                    });
                    continue;
                }
                Verdict::Legacy => {
                    t.notes
                        .push(adoption_note("bucket", &bucket, &expected.role));
                }
                Verdict::Owned => {}
            }
            let count = self.clients.count_objects(&bucket).await?;
            t.buckets.push(Holding {
                retained: false,
                logical_id: String::new(),
                name: bucket,
                count,
            });
        }

        if !opts.orphans_only && opts.only.is_none() {
            self.doomed_parameters(plan, opts, &mut t, &mut refused)
                .await?;
        }
        if !refused.is_empty() {
            return Err(EngineError::NotOwned(refused));
        }
        Ok(t)
    }

    /// The parameters a teardown of `plan`'s scope deletes: the plan's (by exact name, verified
    /// by their tags) and those tagged for the riglet within the scope.
    async fn doomed_parameters(
        &self,
        plan: &RigletPlan,
        opts: TeardownOptions,
        t: &mut Teardown,
        refused: &mut Vec<NotOwned>,
    ) -> Result<(), EngineError> {
        let names = &plan.names;
        // (secure, expected owner) of each parameter by exact name.
        let mut by_name: BTreeMap<String, (bool, Expected)> = BTreeMap::new();
        for s in &plan.secrets {
            by_name.insert(s.requirement.ssm_path.clone(), (true, s.expected(names)));
        }
        if plan.whole {
            for p in plan
                .parameters
                .keys()
                .cloned()
                .chain(plan.legacy_parameters())
            {
                by_name.insert(p, (false, plan.parameter_owner()));
            }
        }
        let mut tagged: BTreeMap<String, bool> = BTreeMap::new();
        let scopes: Vec<Option<&str>> = if plan.whole {
            vec![None]
        } else {
            plan.environments.iter().map(|e| Some(e.as_str())).collect()
        };
        for scope in scopes {
            tagged.extend(
                self.clients
                    .tagged_parameters(&names.owner, &names.project, scope)
                    .await?,
            );
        }
        let untagged: Vec<String> = by_name
            .keys()
            .filter(|n| !tagged.contains_key(*n))
            .cloned()
            .collect();
        let existing = self.clients.parameter_values(&untagged).await?;
        let mut chosen: BTreeMap<String, bool> = tagged;
        for name in existing.keys() {
            let (secure, expected) = by_name[name].clone();
            let tags = self.clients.parameter_tags(name).await?;
            match expected.check(&tags) {
                Verdict::Foreign => {
                    refused.push(NotOwned {
                        kind: "parameter".into(),
                        name: name.clone(),
                        expected,
                        found: tags,
                    });
                    continue;
                }
                Verdict::Legacy => t
                    .notes
                    .push(adoption_note("parameter", name, &expected.role)),
                Verdict::Owned => {}
            }
            chosen.insert(name.clone(), secure);
        }
        for (name, secure) in chosen {
            if secure && !opts.purge_secrets {
                t.secrets_kept.push(name);
            } else {
                t.parameters.push(DoomedParameter { name, secure });
            }
        }
        Ok(())
    }
}
