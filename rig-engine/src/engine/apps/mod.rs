//! Applications: settling app stacks against what is live, and `rig app deploy | scale |
//! status | logs | delete`.
//!
//! The planner leaves three things of an app stack open ([`DEFERRED`]): the image, the
//! listener-rule priorities and the hosted zone. [`Engine::settle`] fills them in before any
//! change, from one DescribeStacks, one look at each environment's HTTPS listener rules and
//! (unless `hosted_zone_id` is configured) one hosted-zone lookup:
//! - the image: the one the live stack runs (`rig up` never changes it), or the one `rig app
//!   deploy` was given; an app stack that is not live and is given no image is left out;
//! - priorities: per load balancer (one per environment), kept from the live stack, hand-given
//!   ones honoured, new ones the lowest free (see [`crate::priorities`]); rules on the listener
//!   that are not this riglet's app stacks' are taken as used;
//! - the zone: the configured id, checked to exist and to be the domain's, or the account's one
//!   public zone named exactly like the domain.

mod deploy;
mod recover;
mod rollouts;
mod view;
mod watch;

pub use deploy::{check_image, AppDeployReport, AppDeployRequest, AppOperation};
pub use rollouts::UP_ROLLOUT_TIMEOUT;
pub use view::{AppStatus, DeploymentStatus, TargetStatus};

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::cfn::StackState;
use crate::config::{check_task_size, Riglet, MAX_TASKS};
use crate::engine::record::Record;
use crate::engine::{Engine, EngineError};
use crate::planner::apps::{DEFERRED, PREFERRED_OFFSET};
use crate::planner::{PlannedStack, RigletPlan};
use crate::priorities::{self, Claim, PriorityError};

/// Why an application command (or the settling of app stacks) cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no app `{app}` in environment `{env}`: rig.toml's [[apps]] has {}\n  hint: add it to rig.toml, or pick one of those with --app; an app stack no longer in rig.toml is an orphan, which `rig up --prune` deletes", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    Unknown {
        app: String,
        env: String,
        available: Vec<String>,
    },
    #[error("there is no public hosted zone named {domain}. in this account\n  hint: create it in Route 53 (or delegate the domain to it), or set hosted_zone_id in rig.toml")]
    NoZone { domain: String },
    #[error("hosted_zone_id {id} {problem}\n  hint: set hosted_zone_id to the id of the public zone of {domain}, or leave it out and rig looks it up")]
    BadZone {
        id: String,
        domain: String,
        problem: String,
    },
    #[error("could not write the pipeline template zip of {stack}: {problem}")]
    Artifact { stack: String, problem: String },
    #[error("listener-rule priorities in environment `{env}`: {source}")]
    Priority {
        env: String,
        #[source]
        source: PriorityError,
    },
    #[error("{stack} needs {missing}, which is not deployed{}\n  hint: run `rig up --env {env}` first", status.as_ref().map(|s| format!(" (it is {s})")).unwrap_or_default())]
    EnvironmentNotUp {
        stack: String,
        env: String,
        missing: String,
        status: Option<String>,
    },
    #[error("{stack} is not deployed\n  hint: deploy it first with `rig app deploy --env {env} --app {app} --image IMAGE:TAG`")]
    NotDeployed {
        stack: String,
        env: String,
        app: String,
    },
    #[error("`{image}` is not an image reference: {problem}\n  hint: give REGISTRY/REPOSITORY:TAG (or @sha256:DIGEST), e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2")]
    BadImage { image: String, problem: String },
    #[error("rig app scale: {}\n  hint: {hint}", problems.join("; "))]
    BadScale { problems: Vec<String>, hint: String },
    #[error("the rollout of {stack} failed: {}{}\n  hint: {hint}", reason.trim_end_matches('.'), rolled_back_to.as_ref().map(|t| format!("; ECS rolled the service back to {t}, which keeps serving")).unwrap_or_default())]
    RolloutFailed {
        stack: String,
        reason: String,
        rolled_back_to: Option<String>,
        hint: String,
    },
}

/// What `rig app deploy` asks of the settling: this stack runs this image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChoice {
    pub stack: String,
    pub image: String,
}

impl Engine {
    /// The plan with its app stacks settled against what is live (see the module docs); the
    /// plan itself when it has no app stacks (no AWS call then). Errors: a hosted zone that
    /// cannot be found or is not the domain's, a priority collision, AWS.
    pub async fn settle(
        &self,
        plan: &RigletPlan,
        deploy: Option<&ImageChoice>,
    ) -> Result<RigletPlan, EngineError> {
        if !plan.stacks.iter().any(|s| s.app.is_some()) {
            return Ok(plan.clone());
        }
        Ok(self.settle_with_record(plan, deploy).await?.0)
    }

    /// [`Engine::settle`], with the record it was settled against.
    pub(crate) async fn settle_with_record(
        &self,
        plan: &RigletPlan,
        deploy: Option<&ImageChoice>,
    ) -> Result<(RigletPlan, Record), EngineError> {
        let record = self.record(plan).await?;
        let keep = kept(plan, &record, deploy);
        let mut rules = BTreeMap::new();
        let mut zone = None;
        if !keep.is_empty() || !plan.pipelines.is_empty() {
            for env in &plan.environments {
                let listener = record.stacks.iter().find_map(|s| {
                    (s.role == "foundation" && s.env.as_deref() == Some(env) && !s.orphan)
                        .then(|| s.state.output("HttpsListener"))
                        .flatten()
                });
                if let Some(l) = listener {
                    let found = self.clients.listener_rules(l).await?;
                    rules.insert(
                        env.clone(),
                        found
                            .into_iter()
                            .filter_map(|r| Some((r.priority.parse::<u32>().ok()?, r.arn)))
                            .collect::<Vec<_>>(),
                    );
                }
            }
            zone = Some(self.hosted_zone(plan).await?);
        }
        let settled = settle_plan(plan, &record, &keep, deploy, &rules, zone)?;
        Ok((settled, record))
    }

    /// The hosted zone app records go to: the configured one, checked, or the account's one
    /// public zone named exactly like the domain.
    async fn hosted_zone(&self, plan: &RigletPlan) -> Result<String, EngineError> {
        let configured = plan
            .stacks
            .iter()
            .find_map(|s| s.app.as_ref().and(s.plan.parameters.get("HostedZoneId")))
            .filter(|z| !z.is_empty())
            .cloned();
        let domain = plan.domain.clone();
        match configured {
            Some(id) => match self.clients.zone_exists(&id).await? {
                None => Err(AppError::BadZone {
                    id,
                    domain,
                    problem: "does not exist in this account".into(),
                }
                .into()),
                Some(name) if name.trim_end_matches('.') != domain => Err(AppError::BadZone {
                    id,
                    domain,
                    problem: format!("is the zone of {name}, not of the domain"),
                }
                .into()),
                Some(_) => Ok(id),
            },
            None => self
                .clients
                .public_zone_id(&domain)
                .await?
                .ok_or_else(|| AppError::NoZone { domain }.into()),
        }
    }
}

/// The stack name of `app` (its name, or `name@branch`) in `env`.
pub fn stack_name(plan: &RigletPlan, env: &str, app: &str) -> Result<String, AppError> {
    Ok(deploy::app_stack(plan, env, app)?.plan.name.clone())
}

/// Checks `rig app scale`'s values before any AWS call: at most [`MAX_TASKS`] tasks, and a task
/// size the compute backend accepts (the one not given is the app's configured value).
/// That the riglet has app `app` (its name, or `name@branch`) in environment `env`: a command
/// about an unknown app is refused before any AWS call. Errors: [`AppError::Unknown`], naming
/// the apps it has.
pub fn check_app(plan: &RigletPlan, env: &str, app: &str) -> Result<(), AppError> {
    deploy::app_stack(plan, env, app).map(|_| ())
}

pub fn check_scale(
    riglet: &Riglet,
    app: &str,
    tasks: Option<u32>,
    cpu: Option<u32>,
    memory: Option<u32>,
) -> Result<(), AppError> {
    let mut problems = Vec::new();
    if tasks.is_some_and(|t| t > MAX_TASKS) {
        problems.push(format!(
            "--tasks {} is more than {MAX_TASKS}",
            tasks.unwrap_or_default()
        ));
    }
    let spec = riglet
        .apps
        .iter()
        .find(|a| a.key() == app || (a.name == app && a.branch.is_none()));
    if let (Some(t), Some(a)) = (tasks, spec.and_then(|s| s.autoscaling)) {
        if t < a.min || t > a.max {
            problems.push(format!(
                "--tasks {t} is outside the app's autoscaling range {}–{}, which would move it back",
                a.min, a.max
            ));
        }
    }
    if let (Some(spec), true) = (spec, cpu.is_some() || memory.is_some()) {
        let (c, m) = (cpu.unwrap_or(spec.cpu), memory.unwrap_or(spec.memory));
        let mut size = Vec::new();
        check_task_size("-", c.into(), m.into(), &riglet.compute.id, &mut size);
        // The checker names config keys (`-.cpu`); here they are the flags.
        problems.extend(size.into_iter().map(|p| {
            p.replace("`-.cpu`", "--cpu")
                .replace("`-.memory`", "--memory")
        }));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::BadScale {
            problems,
            hint: "give values the compute backend accepts; nothing was changed".into(),
        })
    }
}

/// The app stacks rig converges: live ones, and the one being deployed. (The app stacks a
/// pipeline deploys are settled too, for their template zip, but only the pipeline creates them.)
fn kept(plan: &RigletPlan, record: &Record, deploy: Option<&ImageChoice>) -> BTreeSet<String> {
    plan.stacks
        .iter()
        .filter(|s| s.app.is_some())
        .filter(|s| {
            record.get(&s.plan.name).is_some() || deploy.is_some_and(|d| d.stack == s.plan.name)
        })
        .map(|s| s.plan.name.clone())
        .collect()
}

/// The pure part of [`Engine::settle`]: `rules` are each environment's HTTPS listener rules
/// (priority, ARN); `zone` the hosted zone id (needed only when an app stack is kept).
pub(crate) fn settle_plan(
    plan: &RigletPlan,
    record: &Record,
    keep: &BTreeSet<String>,
    deploy: Option<&ImageChoice>,
    rules: &BTreeMap<String, Vec<(u32, String)>>,
    zone: Option<String>,
) -> Result<RigletPlan, AppError> {
    let live = |name: &str| record.get(name).map(|l| &l.state);
    let released: BTreeSet<&String> = plan
        .pipelines
        .iter()
        .flat_map(|p| p.app_stacks.iter().map(|(_, s)| s))
        .collect();
    let mut out = plan.clone();
    out.stacks.retain(|s| {
        s.app.is_none() || keep.contains(&s.plan.name) || released.contains(&s.plan.name)
    });
    for env in &plan.environments {
        // Every configured app takes part, deployed or not, so an app's priority does not depend
        // on which others happen to be deployed: the one a pipeline's zip holds for an app not
        // yet released stays the one a later `rig app deploy` of another app leaves it.
        let priorities = allocate(env, &plan.stacks, record, rules.get(env))?;
        for s in out
            .stacks
            .iter_mut()
            .filter(|s| s.app.is_some() && s.env.as_deref() == Some(env))
        {
            let state = live(&s.plan.name);
            let key = s.app.as_ref().map(|a| a.key.clone()).unwrap_or_default();
            let p = priorities[&key];
            let image = match deploy {
                Some(d) if d.stack == s.plan.name => d.image.clone(),
                _ => state
                    .and_then(|st| st.parameter("ContainerImage"))
                    .unwrap_or_default()
                    .to_string(),
            };
            let params = &mut s.plan.parameters;
            params.insert("ContainerImage".into(), image);
            params.insert("ListenerRulePriority".into(), p.to_string());
            params.insert(
                "PreferredListenerRulePriority".into(),
                (p + PREFERRED_OFFSET).to_string(),
            );
            if let Some(z) = &zone {
                params.insert("HostedZoneId".into(), z.clone());
            }
            debug_assert!(DEFERRED.iter().all(|k| params.contains_key(*k)));
        }
    }
    crate::engine::pipelines::artifacts::attach_template_zips(&mut out)?;
    out.stacks
        .retain(|s| s.app.is_none() || keep.contains(&s.plan.name));
    let needed: BTreeSet<&str> = out
        .stacks
        .iter()
        .flat_map(|s| s.plan.secrets.iter().map(|r| r.ssm_path.as_str()))
        .collect();
    let secrets = out
        .secrets
        .iter()
        .filter(|s| needed.contains(s.requirement.ssm_path.as_str()))
        .cloned()
        .collect();
    out.secrets = secrets;
    Ok(out)
}

/// One environment's priorities: rules on its listener that no app stack of the riglet owns
/// come first (as used), then orphaned app stacks of the riglet (they keep theirs until pruned),
/// then the planned app stacks in plan order.
fn allocate(
    env: &str,
    stacks: &[PlannedStack],
    record: &Record,
    rules: Option<&Vec<(u32, String)>>,
) -> Result<BTreeMap<String, u32>, AppError> {
    let live_priority = |st: &StackState| {
        st.parameter("ListenerRulePriority")
            .and_then(|p| p.parse::<u32>().ok())
    };
    let app_stacks: Vec<&StackState> = record
        .stacks
        .iter()
        .filter(|l| l.role == "application" && l.env.as_deref() == Some(env))
        .map(|l| &l.state)
        .collect();
    let ours: BTreeSet<u32> = app_stacks
        .iter()
        .filter_map(|st| live_priority(st))
        .flat_map(|p| [p, p + PREFERRED_OFFSET])
        .collect();
    let mut claims = Vec::new();
    for (p, arn) in rules.into_iter().flatten() {
        if ours.contains(p) {
            continue;
        }
        // A rule above the offset takes the slot of the app rule it would pair with.
        let slot = if *p > PREFERRED_OFFSET {
            *p - PREFERRED_OFFSET
        } else {
            *p
        };
        claims.push(Claim {
            app: format!("listener rule {arn} (priority {p}, not made by this riglet)"),
            fixed: None,
            live: Some(slot),
        });
    }
    for l in record
        .stacks
        .iter()
        .filter(|l| l.orphan && l.role == "application" && l.env.as_deref() == Some(env))
    {
        claims.push(Claim {
            app: format!("stack {} (no longer in rig.toml)", l.name()),
            fixed: None,
            live: live_priority(&l.state),
        });
    }
    for s in stacks.iter().filter(|s| s.env.as_deref() == Some(env)) {
        let Some(a) = &s.app else { continue };
        claims.push(Claim {
            app: a.key.clone(),
            fixed: a.fixed_priority,
            live: record
                .get(&s.plan.name)
                .and_then(|l| live_priority(&l.state)),
        });
    }
    priorities::allocate(&claims).map_err(|source| AppError::Priority {
        env: env.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests;
