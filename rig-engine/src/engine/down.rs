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
//! (applications, pipelines, compute and database, foundation). A stack is deleted once every
//! stack that depends on it is gone; a failure leaves what it depends on, and says so.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cloud::cfn::{ResourceEvent, StackError, Stacks};
use crate::engine::record::{adoption_note, Record};
use crate::engine::{Engine, EngineError};
use crate::events::{Event, Phase};
use crate::ownership::{self, Expected, NotOwned, Verdict};
use crate::planner::RigletPlan;

/// What to tear down.
#[derive(Debug, Clone, Copy, Default)]
pub struct TeardownOptions {
    /// Also delete the riglet's SecureString parameters (secrets) within the scope.
    pub purge_secrets: bool,
    /// Only the orphans (`rig up --prune`): the planned stacks, their buckets and every
    /// parameter stay.
    pub orphans_only: bool,
}

/// A bucket or ECR repository and how many objects (versions) or images it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// Its logical id in the stack that owns it (empty for template buckets).
    pub logical_id: String,
    pub name: String,
    pub count: usize,
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

impl Teardown {
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty() && self.buckets.is_empty() && self.parameters.is_empty()
    }

    /// The listing shown before asking: one line per stack, bucket, repository and parameter.
    pub fn listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.stacks {
            let mut what = vec![s.status.clone(), s.role.clone()];
            if let Some(e) = &s.env {
                what.push(format!("environment {e}"));
            }
            if s.orphan {
                what.push("not in the configuration any more".into());
            }
            if s.adopted {
                what.push("untagged, adopted".into());
            }
            out.push(format!("stack     {} ({})", s.name, what.join(", ")));
            for b in &s.buckets {
                out.push(format!(
                    "  bucket     {} ({} objects; emptied only if {} deletes it)",
                    b.name, b.count, s.name
                ));
            }
            for r in &s.repositories {
                out.push(format!(
                    "  repository {} ({} images; emptied only if {} deletes it)",
                    r.name, r.count, s.name
                ));
            }
        }
        for b in &self.buckets {
            out.push(format!("bucket    {} ({} objects)", b.name, b.count));
        }
        for p in &self.parameters {
            out.push(format!(
                "parameter {}{}",
                p.name,
                if p.secure { " (SecureString)" } else { "" }
            ));
        }
        out
    }
}

/// A stack that could not be deleted.
#[derive(Debug, Clone, Serialize)]
pub struct FailedStack {
    pub name: String,
    pub env: Option<String>,
    pub error: String,
    /// The resources that failed to delete, with CloudFormation's reasons.
    pub resources: Vec<ResourceEvent>,
}

/// A stack not attempted, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LeftStack {
    pub name: String,
    pub because: String,
}

/// What a teardown did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DownReport {
    pub stacks_deleted: Vec<String>,
    pub stacks_failed: Vec<FailedStack>,
    pub stacks_left: Vec<LeftStack>,
    /// Stack-owned buckets and repositories emptied because they blocked their stack's deletion.
    pub emptied: Vec<Holding>,
    /// Resources of deleted stacks that their template retains (`DeletionPolicy: Retain`, such
    /// as CouchDB's backup bucket) or that `--retain` kept: they outlive the riglet.
    pub retained: Vec<ResourceEvent>,
    pub buckets_deleted: Vec<String>,
    /// Template buckets kept because a stack using them is still there.
    pub buckets_left: Vec<String>,
    pub parameters_deleted: Vec<String>,
    /// Parameters kept because the teardown did not finish.
    pub parameters_left: Vec<String>,
    pub errors: Vec<String>,
}

impl DownReport {
    /// Everything selected is gone.
    pub fn finished(&self) -> bool {
        self.stacks_failed.is_empty() && self.stacks_left.is_empty() && self.errors.is_empty()
    }
}

/// Whether CloudFormation's reason says a bucket or repository is not empty.
fn not_empty(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("not empty") || r.contains("notempty") || r.contains("still contains images")
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
            .filter(|s| !opts.orphans_only || s.orphan)
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
                status: s.state.status.clone(),
                orphan: s.orphan,
                adopted: s.adopted,
                depends_on: depends_on.into_iter().collect(),
                buckets: vec![],
                repositories: vec![],
                template_bucket: s.template_bucket.clone(),
            };
            for r in st.resources(s.name()).await? {
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
        if !opts.orphans_only {
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
                    .filter(|_| opts.orphans_only)
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
                logical_id: String::new(),
                name: bucket,
                count,
            });
        }

        if !opts.orphans_only {
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

    /// Carries out a teardown: stacks in reverse dependency order (concurrently where the graph
    /// allows), then the template buckets no remaining stack uses, then, if every stack went,
    /// the parameters. `retain` names resources (`stack` → logical ids) to keep when retrying a
    /// stack in DELETE_FAILED.
    pub async fn teardown(
        &self,
        t: &Teardown,
        retain: &BTreeMap<String, Vec<String>>,
    ) -> DownReport {
        let mut report = DownReport::default();
        let sem = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut pending: Vec<&DoomedStack> = t.stacks.iter().collect();
        let mut deleted: BTreeSet<String> = BTreeSet::new();
        let mut not_deleted: BTreeSet<String> = BTreeSet::new();
        let mut running = JoinSet::new();
        loop {
            let mut i = 0;
            while i < pending.len() {
                let s = pending[i];
                let dependents: Vec<&str> = t
                    .stacks
                    .iter()
                    .filter(|d| d.depends_on.contains(&s.name))
                    .map(|d| d.name.as_str())
                    .collect();
                if let Some(bad) = dependents.iter().find(|d| not_deleted.contains(**d)) {
                    self.events.note(format!(
                        "{}: left in place, because {bad} (which depends on it) was not deleted",
                        s.name
                    ));
                    report.stacks_left.push(LeftStack {
                        name: s.name.clone(),
                        because: format!("{bad}, which depends on it, was not deleted"),
                    });
                    not_deleted.insert(s.name.clone());
                    pending.remove(i);
                    continue;
                }
                if dependents.iter().all(|d| deleted.contains(*d)) {
                    let s = pending.remove(i).clone();
                    let ctx = self.ctx();
                    let sem = sem.clone();
                    let keep = retain.get(&s.name).cloned().unwrap_or_default();
                    running.spawn(async move {
                        let _permit = sem.acquire_owned().await.expect("semaphore open");
                        let mut emptied = Vec::new();
                        let r = delete_one(&ctx.stacks(), &s, &keep, &mut emptied).await;
                        (s, r, emptied)
                    });
                    continue;
                }
                i += 1;
            }
            match running.join_next().await {
                Some(Ok((s, r, emptied))) => {
                    report.emptied.extend(emptied);
                    match r {
                        Ok(retained) => {
                            for k in &retained {
                                self.events.note(format!(
                                    "{}: kept {} {} ({})",
                                    s.name,
                                    k.resource_type,
                                    k.physical_id.as_deref().unwrap_or(&k.logical_id),
                                    "its template or --retain keeps it"
                                ));
                            }
                            report.retained.extend(retained);
                            self.events.note(format!("{}: deleted", s.name));
                            deleted.insert(s.name.clone());
                            report.stacks_deleted.push(s.name);
                        }
                        Err(e) => {
                            self.events.note(format!("{}: FAILED to delete", s.name));
                            let resources = match &e {
                                StackError::Failed { resources, .. } => resources.clone(),
                                _ => vec![],
                            };
                            not_deleted.insert(s.name.clone());
                            report.stacks_failed.push(FailedStack {
                                name: s.name,
                                env: s.env,
                                error: e.to_string(),
                                resources,
                            });
                        }
                    }
                }
                Some(Err(e)) => report
                    .errors
                    .push(format!("a delete task ended abnormally: {e}")),
                None => break,
            }
        }
        report.stacks_deleted.sort();
        for b in &t.buckets {
            let users_left = t.stacks.iter().any(|s| {
                s.template_bucket.as_deref() == Some(&b.name) && not_deleted.contains(&s.name)
            });
            if users_left {
                report.buckets_left.push(b.name.clone());
                continue;
            }
            match self.clients.delete_bucket(&b.name).await {
                Ok(_) => {
                    self.events.note(format!("deleted bucket {}", b.name));
                    report.buckets_deleted.push(b.name.clone());
                }
                Err(e) => report.errors.push(format!("bucket {}: {e}", b.name)),
            }
        }
        let params: Vec<String> = t.parameters.iter().map(|p| p.name.clone()).collect();
        if report.finished() {
            for p in params {
                match self.clients.delete_parameter(&p).await {
                    Ok(()) => report.parameters_deleted.push(p),
                    Err(e) => report.errors.push(format!("parameter {p}: {e}")),
                }
            }
        } else {
            report.parameters_left = params;
        }
        report
    }
}

/// Deletes one stack: waits for a change in progress, switches a backend's deletion protection
/// off, deletes (keeping `retain` if it is DELETE_FAILED), and empties one of its own buckets or
/// repositories only when CloudFormation reports that it blocks the deletion, then retries.
async fn delete_one(
    st: &Stacks<'_>,
    s: &DoomedStack,
    retain: &[String],
    emptied: &mut Vec<Holding>,
) -> Result<Vec<ResourceEvent>, StackError> {
    let name = s.name.as_str();
    let Some(mut state) = st.describe(name).await? else {
        return Ok(vec![]);
    };
    if state.in_progress() {
        st.events.note(format!(
            "{name}: {} (left by an earlier run); waiting for it",
            state.status
        ));
        let seen = st.latest_event_ids(name).await?;
        let _ = st.wait(name, seen).await;
        match st.describe(name).await? {
            Some(x) => state = x,
            None => return Ok(vec![]),
        }
    }
    // What the backend said must change first (kept on the stack as a tag).
    let before: Vec<(String, String)> = state
        .tags
        .get(ownership::BEFORE_DELETE)
        .map(|t| ownership::parse_pairs(t))
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| state.parameter(k).is_some_and(|now| now != v))
        .collect();
    if !before.is_empty() && !state.delete_failed() {
        st.events.emit(Event::StackPhase {
            stack: name.to_string(),
            phase: Phase::PreparingDelete,
        });
        st.set_parameters(&state, &before).await?;
    }
    let keep: Vec<String> = if state.delete_failed() {
        retain.to_vec()
    } else {
        vec![]
    };
    st.events.note(format!(
        "{name}: deleting{}",
        if state.delete_failed() {
            " (retrying: its last deletion failed)"
        } else {
            ""
        }
    ));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let e = match st.delete_retaining(name, &keep).await {
            Ok(retained) => return Ok(retained),
            Err(e) => e,
        };
        let StackError::Failed { resources, .. } = &e else {
            return Err(e);
        };
        let mut progress = false;
        if attempts < 3 {
            for r in resources.iter().filter(|r| not_empty(&r.reason)) {
                let holding = s
                    .buckets
                    .iter()
                    .chain(&s.repositories)
                    .find(|h| h.logical_id == r.logical_id);
                let Some(h) = holding else { continue };
                let count = if r.resource_type == "AWS::ECR::Repository" {
                    st.clients.empty_repository(&h.name).await?
                } else {
                    st.clients.purge_bucket(&h.name).await?
                };
                st.events.note(format!(
                    "{name}: emptied {} ({count} removed) so that CloudFormation can delete it",
                    h.name
                ));
                emptied.push(Holding {
                    logical_id: h.logical_id.clone(),
                    name: h.name.clone(),
                    count,
                });
                progress = true;
            }
        }
        if !progress {
            return Err(e);
        }
    }
}
