//! The deploy engine: `up`, `plan`, `down`, `status`, `outputs`, `protect`.
//!
//! A riglet is a DAG of stacks ([`RigletPlan`]). `up` deploys independent stacks concurrently
//! (bounded); a failed stack stops what depends on it, not the rest. Re-running converges: an
//! unchanged stack costs one empty change set and no update; a stack left in progress by an
//! interrupted run is waited for; a failed create is replaced only with consent.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rig_core::{EcsCapacity, HealthProbe};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::{AwsError, Clients};
use crate::ownership::{NotOwned, Verdict};
use crate::planner::{PlannedStack, RigletPlan};
use crate::record::{adoption_note, LiveStack, OrphanReport, Record};
use crate::report::Reporter;
use crate::secrets::{self, Prompt, SecretError};
use crate::stack::{
    Backoff, Prepared, ResourceChange, StackError, StackInput, StackState, Stacks, TemplateSource,
};
use crate::store::Touch;

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Stacks deployed at the same time.
    pub concurrency: usize,
    pub backoff: Backoff,
    /// Delete and re-create stacks whose creation failed (ROLLBACK_COMPLETE).
    pub replace_failed: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            concurrency: 4,
            backoff: Backoff::default(),
            replace_failed: false,
        }
    }
}

/// Engine failures that stop a whole command.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("refusing to delete: termination protection is on for {}\n  hint: run `rig unprotect` first", .0.join(", "))]
    Protected(Vec<String>),
    #[error("refusing to act: {} resource(s) with the names this riglet uses are not this riglet's, and nothing was changed:\n{}\n  hint: rig only changes or deletes what carries this riglet's tags; give this riglet another owner or project, or remove or rename the other resource", .0.len(), .0.iter().map(|n| format!("  - {n}")).collect::<Vec<_>>().join("\n"))]
    NotOwned(Vec<NotOwned>),
}

/// What happened to one stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Failed,
    /// Not attempted because a stack it depends on failed.
    Skipped,
}

/// One stack's result of `up`.
#[derive(Debug, Clone, Serialize)]
pub struct StackReport {
    pub name: String,
    pub env: Option<String>,
    pub outcome: Outcome,
    pub changes: Vec<ResourceChange>,
    pub error: Option<String>,
    /// Milliseconds since the start of the run.
    pub started_ms: u128,
    pub finished_ms: u128,
    /// Its template was new and had to be uploaded.
    pub template_uploaded: bool,
}

/// The result of `up`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct UpReport {
    pub stacks: Vec<StackReport>,
    pub buckets_created: Vec<String>,
    pub parameters_written: Vec<String>,
    pub secrets_stored: Vec<String>,
    pub templates_uploaded: usize,
    /// Live stacks of the riglet the configuration no longer has (kept unless `--prune`).
    pub orphans: Vec<OrphanReport>,
}

impl UpReport {
    pub fn failed(&self) -> bool {
        self.stacks
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed | Outcome::Skipped))
    }
    pub fn changed(&self) -> bool {
        !self.buckets_created.is_empty()
            || !self.parameters_written.is_empty()
            || !self.secrets_stored.is_empty()
            || self
                .stacks
                .iter()
                .any(|s| matches!(s.outcome, Outcome::Created | Outcome::Updated))
    }
}

/// One stack's line in `rig plan`.
#[derive(Debug, Clone, Serialize)]
pub struct StackPlanReport {
    pub name: String,
    pub env: Option<String>,
    /// `create`, `update`, `unchanged`, `replace` (a failed stack), `wait` (in progress),
    /// `blocked` (DELETE_FAILED: a `rig down` did not finish), `orphan` (live, not in the
    /// configuration any more: `rig up --prune` or `rig down` deletes it).
    pub action: String,
    pub changes: Vec<ResourceChange>,
    pub note: Option<String>,
}

/// The result of `plan`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PlanReport {
    pub stacks: Vec<StackPlanReport>,
    pub buckets_to_create: Vec<String>,
    pub parameters_to_write: Vec<String>,
    pub secrets_to_store: Vec<String>,
}

impl PlanReport {
    pub fn has_changes(&self) -> bool {
        !self.buckets_to_create.is_empty()
            || !self.parameters_to_write.is_empty()
            || !self.secrets_to_store.is_empty()
            || self.stacks.iter().any(|s| s.action != "unchanged")
    }
}

/// A health probe's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub what: String,
    pub healthy: bool,
    pub detail: String,
}

/// One stack in `rig status`.
#[derive(Debug, Clone, Serialize)]
pub struct StackStatusReport {
    pub name: String,
    pub env: Option<String>,
    /// `None`: the stack does not exist.
    pub status: Option<String>,
    pub termination_protection: bool,
    /// Live, but not in the configuration any more (a backend switched, an environment removed).
    pub orphan: bool,
    pub probes: Vec<ProbeResult>,
}

/// The engine: clients, a reporter and options.
pub struct Engine {
    pub clients: Clients,
    pub reporter: Arc<dyn Reporter>,
    pub options: EngineOptions,
    in_flight: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Engine {
    pub fn new(clients: Clients, reporter: Arc<dyn Reporter>, options: EngineOptions) -> Engine {
        Engine {
            clients,
            reporter,
            options,
            in_flight: Default::default(),
        }
    }

    pub(crate) fn stacks(&self) -> Stacks<'_> {
        Stacks {
            clients: &self.clients,
            reporter: self.reporter.as_ref(),
            backoff: self.options.backoff,
        }
    }

    /// The riglet's record for `plan`: every live stack, sorted into planned, adopted, orphan
    /// and foreign (one paginated DescribeStacks).
    pub async fn record(&self, plan: &RigletPlan) -> Result<Record, EngineError> {
        Ok(Record::survey(plan, self.stacks().list_all().await?))
    }

    /// What each orphan holds (its resources), for `plan` and `up` to show.
    async fn orphan_reports(&self, record: &Record) -> Result<Vec<OrphanReport>, EngineError> {
        let mut out = Vec::new();
        for o in record.orphans() {
            out.push(self.orphan_report(o).await?);
        }
        Ok(out)
    }

    async fn orphan_report(&self, o: &LiveStack) -> Result<OrphanReport, EngineError> {
        let holds = self
            .stacks()
            .resources(o.name())
            .await?
            .into_iter()
            .map(|r| format!("{} {}", r.resource_type, r.logical_id))
            .collect();
        Ok(OrphanReport {
            name: o.name().to_string(),
            env: o.env.clone(),
            role: o.role.clone(),
            backend: o.backend.clone(),
            status: o.state.status.clone(),
            holds,
        })
    }

    /// Checks the plan's buckets and parameters against their tags before `up` or `plan`
    /// changes anything: refusals go to `refused`, adoptions to `notes`.
    async fn survey_store(
        &self,
        plan: &RigletPlan,
        refused: &mut Vec<NotOwned>,
        notes: &mut Vec<String>,
    ) -> Result<StoreSurvey, EngineError> {
        let names = &plan.names;
        let mut survey = StoreSurvey::default();
        for b in &plan.buckets {
            let tags = self.clients.bucket_tags(&b.name).await?;
            if let Some(t) = &tags {
                let expected = b.expected(names);
                match expected.check(t) {
                    Verdict::Owned => {}
                    Verdict::Legacy => notes.push(adoption_note("bucket", &b.name, &expected.role)),
                    Verdict::Foreign => refused.push(NotOwned {
                        kind: "bucket".into(),
                        name: b.name.clone(),
                        expected,
                        found: t.clone(),
                    }),
                }
            }
            survey.buckets.push(tags);
        }
        let wanted: Vec<String> = plan
            .parameters
            .keys()
            .cloned()
            .chain(plan.secrets.iter().map(|s| s.requirement.ssm_path.clone()))
            .collect();
        survey.values = self.clients.parameter_values(&wanted).await?;
        let tagged: BTreeMap<String, bool> = self
            .clients
            .tagged_parameters(&names.owner, &names.project, None)
            .await?
            .into_iter()
            .collect();
        for name in survey.values.keys() {
            if tagged.contains_key(name) {
                continue;
            }
            let expected = plan
                .secrets
                .iter()
                .find(|s| &s.requirement.ssm_path == name)
                .map(|s| s.expected(names))
                .unwrap_or_else(|| plan.parameter_owner());
            let tags = self.clients.parameter_tags(name).await?;
            match expected.check(&tags) {
                Verdict::Owned => {}
                Verdict::Legacy => {
                    notes.push(adoption_note("parameter", name, &expected.role));
                    survey.untagged.push((name.clone(), expected.tags()));
                }
                Verdict::Foreign => refused.push(NotOwned {
                    kind: "parameter".into(),
                    name: name.clone(),
                    expected,
                    found: tags,
                }),
            }
        }
        Ok(survey)
    }

    /// Stacks being changed right now (for the message after an interruption).
    pub fn in_flight(&self) -> Vec<String> {
        self.in_flight
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, v)| format!("{k} ({v})"))
            .collect()
    }

    /// Creates or updates the whole riglet.
    pub async fn up(
        &self,
        plan: &RigletPlan,
        prompt: Option<&dyn Prompt>,
    ) -> Result<UpReport, EngineError> {
        let mut report = UpReport::default();
        // Ownership first: anything with a planned name but another riglet's tags stops the run
        // before any change.
        let record = self.record(plan).await?;
        let mut refused = record.foreign.clone();
        let mut notes = record.adoption_notes();
        let store = self.survey_store(plan, &mut refused, &mut notes).await?;
        if !refused.is_empty() {
            return Err(EngineError::NotOwned(refused));
        }
        for n in &notes {
            self.reporter.step(n);
        }
        // Every missing secret is obtained (from RIG_SECRET_* or the prompt) before anything is
        // stored or created, so one that cannot be had changes nothing.
        let mut values = Vec::new();
        for s in &plan.secrets {
            if !store.values.contains_key(&s.requirement.ssm_path) {
                values.push((s, secrets::obtain(&s.requirement, prompt)?));
            }
        }
        for (s, value) in values {
            let path = &s.requirement.ssm_path;
            let tags = s.expected(&plan.names).tags();
            self.clients
                .put_parameter(path, &value, true, false, &tags)
                .await?;
            self.reporter.step(&format!(
                "stored secret {} as SecureString at {path}",
                s.requirement.name
            ));
            report.secrets_stored.push(path.clone());
        }
        let owner = plan.parameter_owner().tags();
        for (name, value) in &plan.parameters {
            let current = store.values.get(name);
            if current != Some(value) {
                self.clients
                    .put_parameter(name, value, false, current.is_some(), &owner)
                    .await?;
                self.reporter.step(&format!("parameter {name} = {value}"));
                report.parameters_written.push(name.clone());
            }
        }
        for (name, tags) in &store.untagged {
            self.clients.tag_parameter(name, tags).await?;
        }
        for (b, current) in plan.buckets.iter().zip(&store.buckets) {
            let tags = b.expected(&plan.names).tags();
            if self
                .clients
                .ensure_bucket(&b.name, &tags, current.as_ref())
                .await?
                == Touch::Created
            {
                self.reporter.step(&format!("created bucket {}", b.name));
                report.buckets_created.push(b.name.clone());
            }
        }
        report.orphans = self.orphan_reports(&record).await?;
        report.stacks = self.deploy_graph(plan).await;
        report.templates_uploaded = report.stacks.iter().filter(|s| s.template_uploaded).count();
        Ok(report)
    }

    async fn deploy_graph(&self, plan: &RigletPlan) -> Vec<StackReport> {
        let t0 = Instant::now();
        let sem = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut pending: Vec<PlannedStack> = plan.stacks.clone();
        let mut done: BTreeMap<String, StackReport> = BTreeMap::new();
        let mut running: JoinSet<StackReport> = JoinSet::new();
        let mut started: HashSet<String> = HashSet::new();
        loop {
            // Skip what depends on a failure; start what is ready.
            let mut i = 0;
            while i < pending.len() {
                let s = &pending[i];
                let failed_dep = s.plan.depends_on.iter().find(|d| {
                    done.get(*d)
                        .is_some_and(|r| matches!(r.outcome, Outcome::Failed | Outcome::Skipped))
                });
                if let Some(d) = failed_dep {
                    let now = t0.elapsed().as_millis();
                    self.reporter.step(&format!(
                        "{}: skipped because {d} did not deploy",
                        s.plan.name
                    ));
                    done.insert(
                        s.plan.name.clone(),
                        StackReport {
                            name: s.plan.name.clone(),
                            env: s.env.clone(),
                            outcome: Outcome::Skipped,
                            changes: vec![],
                            error: Some(format!("not attempted: {d} did not deploy")),
                            started_ms: now,
                            finished_ms: now,
                            template_uploaded: false,
                        },
                    );
                    pending.remove(i);
                    continue;
                }
                if s.plan.depends_on.iter().all(|d| done.contains_key(d))
                    && !started.contains(&s.plan.name)
                {
                    let s = pending.remove(i);
                    started.insert(s.plan.name.clone());
                    let ctx = self.ctx();
                    let sem = sem.clone();
                    running.spawn(async move {
                        let _permit = sem.acquire_owned().await.expect("semaphore open");
                        ctx.deploy_one(s, t0).await
                    });
                    continue;
                }
                i += 1;
            }
            match running.join_next().await {
                Some(Ok(r)) => {
                    done.insert(r.name.clone(), r);
                }
                Some(Err(e)) => {
                    tracing::error!("a deploy task ended abnormally: {e}");
                }
                None => break,
            }
        }
        // Report in plan order.
        plan.stacks
            .iter()
            .filter_map(|s| done.remove(&s.plan.name))
            .collect()
    }

    /// Shows what `up` would change, through change sets that are deleted afterwards, and the
    /// riglet's orphans. Errors with [`EngineError::NotOwned`] where `up` would refuse.
    pub async fn plan(&self, plan: &RigletPlan) -> Result<PlanReport, EngineError> {
        let mut report = PlanReport::default();
        let record = self.record(plan).await?;
        let mut refused = record.foreign.clone();
        let mut notes = record.adoption_notes();
        let store = self.survey_store(plan, &mut refused, &mut notes).await?;
        if !refused.is_empty() {
            return Err(EngineError::NotOwned(refused));
        }
        for n in &notes {
            self.reporter.step(n);
        }
        for s in &plan.secrets {
            if !store.values.contains_key(&s.requirement.ssm_path) {
                report.secrets_to_store.push(s.requirement.ssm_path.clone());
            }
        }
        for (name, value) in &plan.parameters {
            if store.values.get(name) != Some(value) {
                report.parameters_to_write.push(name.clone());
            }
        }
        for (b, current) in plan.buckets.iter().zip(&store.buckets) {
            if current.is_none() {
                report.buckets_to_create.push(b.name.clone());
            }
        }
        let st = self.stacks();
        for s in &plan.stacks {
            let name = s.plan.name.as_str();
            let state = record.state(name).cloned();
            let input = stack_input(s, TemplateSource::Body(&s.plan.template_body));
            let line = |action: &str, changes: Vec<ResourceChange>, note: Option<String>| {
                StackPlanReport {
                    name: name.to_string(),
                    env: s.env.clone(),
                    action: action.to_string(),
                    changes,
                    note,
                }
            };
            let entry = match &state {
                Some(x) if x.in_progress() => line(
                    "wait",
                    vec![],
                    Some(format!("{} — rig up waits for it first", x.status)),
                ),
                Some(x) if x.delete_failed() => line(
                    "blocked",
                    vec![],
                    Some(format!(
                        "DELETE_FAILED: a `rig down` did not finish; run `rig down{}` to finish it first",
                        env_flag(s.env.as_deref())
                    )),
                ),
                Some(x) if x.failed_create() => line(
                    "replace",
                    template_resources(&s.plan.template_body),
                    Some(format!("{}: needs `rig up --replace-failed`", x.status)),
                ),
                Some(x) if x.status != "REVIEW_IN_PROGRESS" => {
                    match st.prepare(&input, state.as_ref()).await? {
                        Prepared::Unchanged => line("unchanged", vec![], None),
                        Prepared::Ready {
                            change_set,
                            changes,
                            ..
                        } => {
                            st.delete_change_set(name, &change_set).await?;
                            line("update", changes, None)
                        }
                    }
                }
                _ => {
                    let missing_deps: Vec<String> = s
                        .plan
                        .depends_on
                        .iter()
                        .filter(|d| {
                            record
                                .state(d)
                                .is_none_or(|x| x.status == "REVIEW_IN_PROGRESS")
                        })
                        .cloned()
                        .collect();
                    let secrets_missing = s
                        .plan
                        .secrets
                        .iter()
                        .any(|x| report.secrets_to_store.contains(&x.ssm_path));
                    if missing_deps.is_empty() && !secrets_missing {
                        match st.prepare(&input, state.as_ref()).await? {
                            Prepared::Unchanged => line("unchanged", vec![], None),
                            Prepared::Ready {
                                change_set,
                                changes,
                                ..
                            } => {
                                st.delete_change_set(name, &change_set).await?;
                                st.delete_review_stack(name).await?;
                                line("create", changes, None)
                            }
                        }
                    } else {
                        let why = if missing_deps.is_empty() {
                            "its secrets are not stored yet".to_string()
                        } else {
                            format!("{} not created yet", missing_deps.join(", "))
                        };
                        line(
                            "create",
                            template_resources(&s.plan.template_body),
                            Some(format!("from the template: {why}")),
                        )
                    }
                }
            };
            report.stacks.push(entry);
        }
        for o in self.orphan_reports(&record).await? {
            report.stacks.push(StackPlanReport {
                note: Some(orphan_note(&o)),
                name: o.name,
                env: o.env,
                action: "orphan".into(),
                changes: vec![],
            });
        }
        Ok(report)
    }

    /// Turns termination protection on or off for every live stack of the riglet within the
    /// plan's scope (planned ones by exact name, orphans by exact tags), after checking that
    /// each is this riglet's.
    pub async fn protect(&self, plan: &RigletPlan, on: bool) -> Result<Vec<String>, EngineError> {
        let record = self.record(plan).await?;
        if !record.foreign.is_empty() {
            return Err(EngineError::NotOwned(record.foreign));
        }
        let st = self.stacks();
        let mut names = Vec::new();
        for s in &record.stacks {
            st.set_protection(s.name(), on).await?;
            names.push(s.name().to_string());
        }
        Ok(names)
    }

    pub(crate) fn ctx(&self) -> Ctx {
        Ctx {
            clients: self.clients.clone(),
            reporter: self.reporter.clone(),
            options: self.options.clone(),
            in_flight: self.in_flight.clone(),
            uploaded: Default::default(),
        }
    }

    /// Every planned stack's status and health, then the riglet's orphans, from the record.
    pub async fn status(&self, plan: &RigletPlan) -> Result<Vec<StackStatusReport>, EngineError> {
        let record = self.record(plan).await?;
        let mut out = Vec::new();
        for s in &plan.stacks {
            let state = record.state(&s.plan.name);
            let mut probes = Vec::new();
            if let Some(state) = state.filter(|x| !x.in_progress()) {
                for p in &s.plan.probes {
                    probes.push(self.probe(p, state).await);
                }
            }
            out.push(StackStatusReport {
                name: s.plan.name.clone(),
                env: s.env.clone(),
                status: state.map(|x| x.status.clone()),
                termination_protection: state.is_some_and(|x| x.termination_protection),
                orphan: false,
                probes,
            });
        }
        for o in record.orphans() {
            out.push(StackStatusReport {
                name: o.name().to_string(),
                env: o.env.clone(),
                status: Some(o.state.status.clone()),
                termination_protection: o.state.termination_protection,
                orphan: true,
                probes: vec![],
            });
        }
        Ok(out)
    }

    async fn probe(&self, p: &HealthProbe, state: &StackState) -> ProbeResult {
        let (kind, named_by) = match p {
            HealthProbe::EcsCluster { cluster_output, .. } => ("ECS cluster", cluster_output),
            HealthProbe::EcsService { service_output, .. } => ("ECS service", service_output),
            HealthProbe::RdsCluster { cluster_output, .. } => ("RDS cluster", cluster_output),
            HealthProbe::Ec2Instance { instance_output } => ("EC2 instance", instance_output),
        };
        let verdict = match p {
            HealthProbe::EcsCluster {
                cluster_output,
                capacity,
            } => {
                self.probe_ecs_cluster(state, cluster_output, capacity)
                    .await
            }
            HealthProbe::EcsService {
                cluster_output,
                service_output,
            } => {
                self.probe_ecs_service(state, cluster_output, service_output)
                    .await
            }
            HealthProbe::RdsCluster {
                cluster_output,
                members,
            } => {
                self.probe_rds_cluster(state, cluster_output, *members)
                    .await
            }
            HealthProbe::Ec2Instance { instance_output } => {
                self.probe_ec2_instance(state, instance_output).await
            }
        };
        let (healthy, detail) = verdict.unwrap_or_else(|detail| (false, detail));
        let what = match state.output(named_by) {
            Some(name) => format!("{kind} {name}"),
            None => kind.to_string(),
        };
        ProbeResult {
            what,
            healthy,
            detail,
        }
    }

    /// Probes answer `Ok((healthy, detail))`, or `Err(detail)` when they cannot tell.
    fn output<'s>(state: &'s StackState, key: &str) -> Result<&'s str, String> {
        state
            .output(key)
            .ok_or_else(|| format!("stack output {key} is missing"))
    }

    fn call_err<E, R>(&self, op: &str, e: aws_sdk_cloudformation::error::SdkError<E, R>) -> String
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + crate::aws::HttpStatus,
    {
        crate::aws::aws_err(op, self.clients.endpoint_url.as_deref(), e).to_string()
    }

    async fn probe_ecs_cluster(
        &self,
        state: &StackState,
        output: &str,
        capacity: &EcsCapacity,
    ) -> Result<(bool, String), String> {
        let name = Self::output(state, output)?;
        let out = self
            .clients
            .ecs
            .describe_clusters()
            .clusters(name)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeClusters", e))?;
        let c = out.clusters().first().ok_or("not found")?;
        let status = c.status().unwrap_or_default().to_string();
        Ok(match capacity {
            EcsCapacity::Ec2 { min_instances } => {
                let n = c.registered_container_instances_count();
                (
                    status == "ACTIVE" && n >= *min_instances as i32,
                    format!("{status}, {n} of {min_instances} container instances registered"),
                )
            }
            EcsCapacity::Fargate => {
                let cps = c.capacity_providers().join(", ");
                let cps = if cps.is_empty() {
                    "(default)".to_string()
                } else {
                    cps
                };
                (
                    status == "ACTIVE",
                    format!("{status}, Fargate capacity providers: {cps}"),
                )
            }
        })
    }

    async fn probe_ecs_service(
        &self,
        state: &StackState,
        cluster: &str,
        service: &str,
    ) -> Result<(bool, String), String> {
        let (cluster, service) = (Self::output(state, cluster)?, Self::output(state, service)?);
        let out = self
            .clients
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeServices", e))?;
        let s = out.services().first().ok_or("not found")?;
        Ok((
            s.running_count() == s.desired_count(),
            format!(
                "{} of {} tasks running",
                s.running_count(),
                s.desired_count()
            ),
        ))
    }

    async fn probe_rds_cluster(
        &self,
        state: &StackState,
        output: &str,
        members: u32,
    ) -> Result<(bool, String), String> {
        let id = Self::output(state, output)?;
        let out = self
            .clients
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeDBClusters", e))?;
        let c = out.db_clusters().first().ok_or("not found")?;
        let status = c.status().unwrap_or_default();
        let n = c.db_cluster_members().len();
        Ok((
            status == "available" && n >= members as usize,
            format!("{status}, {n} of {members} instances"),
        ))
    }

    async fn probe_ec2_instance(
        &self,
        state: &StackState,
        output: &str,
    ) -> Result<(bool, String), String> {
        let id = Self::output(state, output)?;
        let out = self
            .clients
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeInstances", e))?;
        let state = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
            })
            .ok_or("not found")?;
        Ok((state == "running", state))
    }

    /// Outputs of every live stack of the riglet in the plan's scope (planned, adopted and
    /// orphan): stack → (key, value).
    pub async fn outputs(
        &self,
        plan: &RigletPlan,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, EngineError> {
        let record = self.record(plan).await?;
        Ok(record
            .stacks
            .into_iter()
            .map(|s| (s.state.name, s.state.outputs.into_iter().collect()))
            .collect())
    }
}

/// ` --env E` for a hint, or nothing for a riglet-wide stack.
pub fn env_flag(env: Option<&str>) -> String {
    env.map(|e| format!(" --env {e}")).unwrap_or_default()
}

/// What `plan` and `up` say of an orphan.
pub fn orphan_note(o: &OrphanReport) -> String {
    let mut note = format!(
        "live, but the configuration no longer has it ({} stack{}{}); it holds {} resource(s){}",
        o.role,
        o.backend
            .as_ref()
            .map(|b| format!(" of backend {b}"))
            .unwrap_or_default(),
        o.env
            .as_ref()
            .map(|e| format!(", environment {e}"))
            .unwrap_or_default(),
        o.holds.len(),
        if o.holds.is_empty() {
            String::new()
        } else {
            format!(": {}", o.holds.join(", "))
        }
    );
    if o.role == "database" {
        note.push_str("; its data stays in this stack until it is pruned");
    }
    note.push_str("; `rig up --prune` or `rig down` deletes it, after confirmation");
    note
}

/// The plan's buckets and parameters as they are live.
#[derive(Debug, Default)]
struct StoreSurvey {
    /// Per planned bucket (same order): its tags, `None` when it does not exist.
    buckets: Vec<Option<BTreeMap<String, String>>>,
    /// The planned parameters and secrets that exist (secrets: not decrypted).
    values: BTreeMap<String, String>,
    /// Untagged ones made by an earlier rig, adopted: (name, the tags to add).
    untagged: Vec<(String, BTreeMap<String, String>)>,
}

/// What a deploy task owns.
pub(crate) struct Ctx {
    clients: Clients,
    reporter: Arc<dyn Reporter>,
    options: EngineOptions,
    in_flight: Arc<Mutex<BTreeMap<String, String>>>,
    /// Set when this task uploaded its template.
    uploaded: std::sync::atomic::AtomicBool,
}

fn stack_input<'a>(s: &'a PlannedStack, template: TemplateSource<'a>) -> StackInput<'a> {
    StackInput {
        name: &s.plan.name,
        template,
        parameters: s
            .plan
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        tags: s
            .plan
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        capabilities: s
            .plan
            .capabilities
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    }
}

impl Ctx {
    pub(crate) fn stacks(&self) -> Stacks<'_> {
        Stacks {
            clients: &self.clients,
            reporter: self.reporter.as_ref(),
            backoff: self.options.backoff,
        }
    }

    fn mark(&self, stack: &str, phase: Option<&str>) {
        let mut m = self.in_flight.lock().expect("lock");
        match phase {
            Some(p) => {
                m.insert(stack.to_string(), p.to_string());
            }
            None => {
                m.remove(stack);
            }
        }
    }

    async fn deploy_one(&self, s: PlannedStack, t0: Instant) -> StackReport {
        let started_ms = t0.elapsed().as_millis();
        let name = s.plan.name.clone();
        let result = self.try_deploy(&s).await;
        self.mark(&name, None);
        let finished_ms = t0.elapsed().as_millis();
        let uploaded = self.uploaded.load(std::sync::atomic::Ordering::SeqCst);
        let (outcome, changes, error) = match result {
            Ok((o, c)) => (o, c, None),
            Err(e) => {
                self.reporter.step(&format!("{name}: FAILED: {e}"));
                (Outcome::Failed, vec![], Some(e.to_string()))
            }
        };
        StackReport {
            name,
            env: s.env.clone(),
            outcome,
            changes,
            error,
            started_ms,
            finished_ms,
            template_uploaded: uploaded,
        }
    }

    async fn try_deploy(
        &self,
        s: &PlannedStack,
    ) -> Result<(Outcome, Vec<ResourceChange>), EngineError> {
        let st = self.stacks();
        let name = s.plan.name.as_str();
        let (url, touch) = self
            .clients
            .upload_template(
                &s.template_bucket,
                &s.plan.template_file,
                &s.plan.template_body,
            )
            .await?;
        if touch == Touch::Created {
            self.uploaded
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let mut state = st.describe(name).await?;
        if let Some(x) = state.as_ref().filter(|x| x.in_progress()) {
            self.reporter.step(&format!(
                "{name}: {} (left by an earlier run); waiting for it",
                x.status
            ));
            self.mark(name, Some("waiting"));
            let seen = st.latest_event_ids(name).await?;
            // Whatever it ends in, we continue from there.
            let _ = st.wait(name, seen).await;
            state = st.describe(name).await?;
        }
        if let Some(x) = state.as_ref().filter(|x| x.delete_failed()) {
            return Err(StackError::Failed {
                stack: name.to_string(),
                status: x.status.clone(),
                reasons: vec![
                    "a `rig down` did not finish deleting it, so it cannot be updated".into(),
                    format!(
                        "run `rig down{}` first: it retries the deletion and says what blocks it; then `rig up` creates it again",
                        env_flag(s.env.as_deref())
                    ),
                ],
                resources: vec![],
            }
            .into());
        }
        if let Some(x) = state.as_ref().filter(|x| x.failed_create()) {
            if !self.options.replace_failed {
                let reason = x.reason.clone().unwrap_or_default();
                return Err(StackError::Failed {
                    stack: name.to_string(),
                    status: x.status.clone(),
                    reasons: vec![
                        format!(
                            "its creation failed earlier{}",
                            if reason.is_empty() {
                                String::new()
                            } else {
                                format!(": {reason}")
                            }
                        ),
                        "run `rig up --replace-failed` to delete and re-create it".into(),
                    ],
                    resources: vec![],
                }
                .into());
            }
            self.reporter.step(&format!(
                "{name}: {} — deleting it to re-create (--replace-failed)",
                x.status
            ));
            self.mark(name, Some("deleting failed stack"));
            st.delete(name).await?;
            state = None;
        }
        if let Some(x) = state
            .as_ref()
            .filter(|x| x.status == "UPDATE_ROLLBACK_FAILED")
        {
            return Err(StackError::Failed {
                stack: name.to_string(),
                status: x.status.clone(),
                reasons: vec!["continue the rollback (aws cloudformation continue-update-rollback), then run `rig up` again".into()],
                resources: vec![],
            }
            .into());
        }
        self.mark(name, Some("preparing change set"));
        let input = stack_input(s, TemplateSource::Url(url));
        match st.prepare(&input, state.as_ref()).await? {
            Prepared::Unchanged => {
                self.reporter.step(&format!("{name}: unchanged"));
                Ok((Outcome::Unchanged, vec![]))
            }
            Prepared::Ready {
                change_set,
                kind,
                changes,
            } => {
                let verb = if kind == crate::stack::ChangeKind::Create {
                    "creating"
                } else {
                    "updating"
                };
                self.reporter.step(&format!(
                    "{name}: {verb} ({} resource changes)",
                    changes.len()
                ));
                self.mark(name, Some(verb));
                st.execute(name, &change_set).await?;
                self.reporter.step(&format!(
                    "{name}: {}",
                    if kind == crate::stack::ChangeKind::Create {
                        "created"
                    } else {
                        "updated"
                    }
                ));
                let outcome = if kind == crate::stack::ChangeKind::Create {
                    Outcome::Created
                } else {
                    Outcome::Updated
                };
                Ok((outcome, changes))
            }
        }
    }
}

/// The resources a template declares, as "add" changes (for stacks that cannot have a change
/// set yet). Reads the top-level `Resources:` block of a YAML template.
pub fn template_resources(body: &str) -> Vec<ResourceChange> {
    let mut out = Vec::new();
    let mut in_resources = false;
    let mut current: Option<String> = None;
    for line in body.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            in_resources = line.trim_end() == "Resources:";
            current = None;
            continue;
        }
        if !in_resources {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 2 && t.ends_with(':') && !t.starts_with('#') {
            current = Some(t.trim_end_matches(':').to_string());
        } else if let (Some(id), Some(ty)) = (&current, t.strip_prefix("Type:")) {
            if indent == 4 {
                out.push(ResourceChange {
                    action: "add".into(),
                    logical_id: id.clone(),
                    resource_type: ty.trim().trim_matches(['\'', '"']).to_string(),
                });
                current = None;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_read_from_the_template() {
        let t = "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  X:\n    Type: String\nResources:\n  # comment\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: !Ref X\n  Igw:\n    Type: 'AWS::EC2::InternetGateway'\nOutputs:\n  VpcId:\n    Value: !Ref Vpc\n";
        let r = template_resources(t);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].logical_id, "Vpc");
        assert_eq!(r[1].resource_type, "AWS::EC2::InternetGateway");
    }
}
