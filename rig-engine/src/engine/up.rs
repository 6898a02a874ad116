//! `up`: the record, what needs work, ownership checks of what will be written, secrets,
//! parameters and buckets, then the stack graph.
//!
//! A stack that is deployed (`*_COMPLETE`), carries exactly the planned tags and parameters (an
//! SSM-typed parameter resolving to the same value) and whose deployed template (GetTemplate) is
//! the planned one is unchanged without a change set; so is a parameter with the planned value.
//! A no-op `up` of a standard riglet thus reads: the caller, the stacks, the parameters (values
//! and ownership tags), the bucket list and each stack's template, and writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use tokio::task::JoinSet;

use crate::cloud::store::Touch;
use crate::engine::converge::Work;
use crate::engine::record::{adoption_note, Record};
use crate::engine::{Engine, EngineError, UpReport};
use crate::ownership::{NotOwned, Verdict};
use crate::planner::{PlannedBucket, RigletPlan};
use crate::secrets::{self, Prompt};

/// What `up` and `plan` read before changing anything, every resource verified as this
/// riglet's.
pub(crate) struct Survey<'p> {
    pub(crate) record: Record,
    pub(crate) store: StoreSurvey,
    pub(crate) work: BTreeMap<String, Work>,
    /// The plan's buckets to write, with their live tags (`None`: to be created).
    pub(crate) buckets: Vec<(&'p PlannedBucket, Option<BTreeMap<String, String>>)>,
}

impl Engine {
    /// Reads the record, the parameters and the buckets, and (with `assess`) which stacks need
    /// work; without it every stack counts as needing work and every existing bucket is
    /// verified. Anything with a planned name but another riglet's tags stops here, before
    /// any change ([`EngineError::NotOwned`]); adoptions of untagged resources are said.
    pub(crate) async fn survey<'p>(
        &self,
        plan: &'p RigletPlan,
        assess: bool,
    ) -> Result<Survey<'p>, EngineError> {
        let record = self.record(plan).await?;
        let mut refused = record.foreign.clone();
        let mut notes = record.adoption_notes();
        let store = self
            .survey_store(plan, &record, &mut refused, &mut notes)
            .await?;
        let work = if assess {
            self.assess(plan, &record, &store.values).await?
        } else {
            plan.stacks
                .iter()
                .map(|s| (s.plan.name.clone(), Work::Converge))
                .collect()
        };
        let buckets = self
            .survey_buckets(plan, &work, &mut refused, &mut notes)
            .await?;
        if !refused.is_empty() {
            return Err(EngineError::NotOwned(refused));
        }
        for n in notes {
            self.events.note(n);
        }
        Ok(Survey {
            record,
            store,
            work,
            buckets,
        })
    }

    /// Creates or updates the whole riglet.
    pub async fn up(
        &self,
        plan: &RigletPlan,
        prompt: Option<&dyn Prompt>,
    ) -> Result<UpReport, EngineError> {
        let mut report = UpReport::default();
        let Survey {
            record,
            store,
            work,
            buckets,
        } = self.survey(plan, true).await?;
        report.secrets_stored = self.store_secrets(plan, &store.values, prompt).await?;
        let owner = plan.parameter_owner().tags();
        for (name, value) in &plan.parameters {
            let current = store.values.get(name);
            if current != Some(value) {
                self.clients
                    .put_parameter(name, value, false, current.is_some(), &owner)
                    .await?;
                self.events.note(format!("parameter {name} = {value}"));
                report.parameters_written.push(name.clone());
            }
        }
        for (name, tags) in &store.untagged {
            self.clients.tag_parameter(name, tags).await?;
        }
        for (b, current) in &buckets {
            let tags = b.expected(&plan.names).tags();
            if self
                .clients
                .ensure_bucket(&b.name, &tags, current.as_ref(), true)
                .await?
                == Touch::Created
            {
                self.events.note(format!("created bucket {}", b.name));
                report.buckets_created.push(b.name.clone());
            }
        }
        report.orphans = self.orphan_reports(&record).await?;
        let watchers = self.app_watchers(plan, &record, &work).await?;
        report.stacks = self.deploy_graph(plan, &record, &work).await;
        self.finish_rollouts(watchers, &mut report.stacks).await?;
        report.templates_uploaded = report.stacks.iter().filter(|s| s.template_uploaded).count();
        Ok(report)
    }

    /// Stores every secret of the plan that `known` (the values read) lacks, as a tagged
    /// SecureString; returns their paths. Every missing value is obtained (from `RIG_SECRET_*` or
    /// the prompt) before anything is stored, so one that cannot be had changes nothing.
    pub(crate) async fn store_secrets(
        &self,
        plan: &RigletPlan,
        known: &BTreeMap<String, String>,
        prompt: Option<&dyn Prompt>,
    ) -> Result<Vec<String>, EngineError> {
        let mut values = Vec::new();
        for s in &plan.secrets {
            if !known.contains_key(&s.requirement.ssm_path) {
                values.push((s, secrets::obtain(&s.requirement, prompt)?));
            }
        }
        let mut stored = Vec::new();
        for (s, value) in values {
            let path = &s.requirement.ssm_path;
            let tags = s.expected(&plan.names).tags();
            self.clients
                .put_parameter(path, &value, true, false, &tags)
                .await?;
            self.events.note(format!(
                "stored secret {} as SecureString at {path}",
                s.requirement.name
            ));
            stored.push(path.clone());
        }
        Ok(stored)
    }

    /// Reads the plan's parameters and secrets (values, and ownership tags where they exist)
    /// and the values behind the stacks' SSM-typed parameters. Refusals go to `refused`,
    /// adoptions to `notes`.
    pub(crate) async fn survey_store(
        &self,
        plan: &RigletPlan,
        record: &Record,
        refused: &mut Vec<NotOwned>,
        notes: &mut Vec<String>,
    ) -> Result<StoreSurvey, EngineError> {
        let names = &plan.names;
        let mut survey = StoreSurvey::default();
        let mut wanted: BTreeSet<String> = plan
            .parameters
            .keys()
            .cloned()
            .chain(plan.secrets.iter().map(|s| s.requirement.ssm_path.clone()))
            .collect();
        for s in &record.stacks {
            for key in s.state.resolved.keys() {
                wanted.extend(s.state.parameter(key).map(str::to_string));
            }
        }
        let wanted: Vec<String> = wanted.into_iter().collect();
        survey.values = self.clients.parameter_values(&wanted).await?;
        let ours: Vec<&String> = plan
            .parameters
            .keys()
            .chain(plan.secrets.iter().map(|s| &s.requirement.ssm_path))
            .filter(|n| survey.values.contains_key(*n))
            .collect();
        if ours.is_empty() {
            return Ok(survey);
        }
        let tagged: BTreeMap<String, bool> = self
            .clients
            .tagged_parameters(&names.owner, &names.project, None)
            .await?
            .into_iter()
            .collect();
        for name in ours {
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

    /// Which planned stacks need a change set: all but those deployed exactly as planned
    /// (status, tags, parameters and the deployed template). Templates are read concurrently.
    async fn assess(
        &self,
        plan: &RigletPlan,
        record: &Record,
        values: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, Work>, EngineError> {
        let mut work = BTreeMap::new();
        let mut reads = JoinSet::new();
        for s in &plan.stacks {
            let name = s.plan.name.clone();
            let candidate = record.get(&name).is_some_and(|live| {
                let st = &live.state;
                !live.adopted
                    && st.status.settled()
                    && st.tags == s.plan.tags
                    && s.plan
                        .parameters
                        .iter()
                        .all(|(k, v)| st.parameter(k) == Some(v.as_str()))
                    && st.resolved.iter().all(|(k, resolved)| {
                        st.parameter(k)
                            .and_then(|ssm_name| values.get(ssm_name))
                            .is_some_and(|now| now == resolved)
                    })
            });
            if !candidate {
                work.insert(name, Work::Converge);
                continue;
            }
            let ctx = self.ctx();
            let body = s.plan.template_body.clone();
            reads.spawn(async move {
                let deployed = ctx.stacks().template(&name).await;
                (name, deployed.map(|d| d == body))
            });
        }
        while let Some(r) = reads.join_next().await {
            let (name, same) = r.map_err(|e| {
                EngineError::Aws(crate::cloud::AwsError::Service {
                    op: "GetTemplate".into(),
                    code: None,
                    request_id: None,
                    message: format!("a template read ended abnormally: {e}"),
                })
            })?;
            let same = same?;
            work.insert(
                name,
                if same {
                    Work::Unchanged
                } else {
                    Work::Converge
                },
            );
        }
        Ok(work)
    }

    /// The plan's buckets that `up` writes, each with its live tags (`None`: it does not exist
    /// and will be created): every missing bucket, and existing ones that receive a template
    /// (a stack using it needs work); the latter verified as this riglet's.
    async fn survey_buckets<'p>(
        &self,
        plan: &'p RigletPlan,
        work: &BTreeMap<String, Work>,
        refused: &mut Vec<NotOwned>,
        notes: &mut Vec<String>,
    ) -> Result<
        Vec<(
            &'p crate::planner::PlannedBucket,
            Option<BTreeMap<String, String>>,
        )>,
        EngineError,
    > {
        let existing = self.clients.bucket_names().await?;
        let written: BTreeSet<&str> = plan
            .stacks
            .iter()
            .filter(|s| work.get(&s.plan.name) != Some(&Work::Unchanged))
            .map(|s| s.template_bucket.as_str())
            .collect();
        let mut out = Vec::new();
        for b in &plan.buckets {
            if !existing.contains(&b.name) {
                out.push((b, None));
                continue;
            }
            if !written.contains(b.name.as_str()) {
                continue;
            }
            let Some(tags) = self.clients.bucket_tags(&b.name).await? else {
                out.push((b, None));
                continue;
            };
            let expected = b.expected(&plan.names);
            match expected.check(&tags) {
                Verdict::Owned => {}
                Verdict::Legacy => notes.push(adoption_note("bucket", &b.name, &expected.role)),
                Verdict::Foreign => {
                    refused.push(NotOwned {
                        kind: "bucket".into(),
                        name: b.name.clone(),
                        expected,
                        found: tags,
                    });
                    continue;
                }
            }
            out.push((b, Some(tags)));
        }
        Ok(out)
    }
}

/// The plan's parameters and secrets as they are live.
#[derive(Debug, Default)]
pub(crate) struct StoreSurvey {
    /// The planned parameters and secrets that exist (secrets: not decrypted), and the values
    /// behind the stacks' SSM-typed parameters.
    pub(crate) values: BTreeMap<String, String>,
    /// Untagged ones made by an earlier rig, adopted: (name, the tags to add).
    pub(crate) untagged: Vec<(String, BTreeMap<String, String>)>,
}
