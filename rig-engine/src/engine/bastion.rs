//! `rig bastion create | ssh | delete`: an environment's on-demand bastion stack.
//!
//! The stack is planned for one environment (`planner::bastion`), created or updated through
//! the same change set as every stack of `rig up`, and read back for its outputs. It is the
//! riglet's by its exact name and its tags (`rig:role` = `bastion`), checked before anything
//! is changed or deleted; a stack of that name with another riglet's tags is refused. `rig up`
//! and `rig plan` leave a live bastion alone (it is not an orphan), and `rig down` deletes it
//! before the rest of its environment.

use std::time::Instant;

use serde::Serialize;

use crate::cloud::cfn::{StackError, StackState, StackStatus};
use crate::cloud::checkip;
use crate::engine::converge::Work;
use crate::engine::down::{Teardown, TeardownOptions};
use crate::engine::record::{adoption_note, Record};
use crate::engine::{Engine, EngineError, Outcome};
use crate::planner::bastion::{bastion_stack, my_ip_cidr};
pub use crate::planner::bastion::{
    ingress_cidr, stack_name, BastionError, BastionSpec, DEFAULT_INSTANCE_TYPE,
};
use crate::planner::RigletPlan;

/// A bastion as its stack describes it.
#[derive(Debug, Clone, Serialize)]
pub struct BastionReport {
    pub stack: String,
    pub env: String,
    /// What `rig bastion create` did to the stack (absent when only read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub status: String,
    pub instance_id: String,
    pub instance_type: String,
    /// The bastion's own security group.
    pub security_group_id: String,
    pub private_ip: String,
    /// Only with an SSH rule (the instance is then in a public subnet with an Elastic IP).
    pub public_ip: Option<String>,
    /// The one block SSH is allowed from; `None`: no inbound rule at all.
    pub ingress_cidr: Option<String>,
    /// `aws ssm start-session ...`
    pub session_command: String,
    /// Only with an SSH rule.
    pub ssh_command: Option<String>,
    pub seconds: f64,
}

impl BastionReport {
    /// The command that reaches the bastion: SSH when it has an SSH rule, else Session Manager.
    pub fn command(&self) -> &str {
        self.ssh_command.as_deref().unwrap_or(&self.session_command)
    }

    fn of(state: &StackState, env: &str, outcome: Option<Outcome>, t0: Instant) -> BastionReport {
        let out = |k: &str| state.output(k).map(str::to_string);
        BastionReport {
            stack: state.name.clone(),
            env: env.to_string(),
            outcome,
            status: state.status.to_string(),
            instance_id: out("InstanceId").unwrap_or_default(),
            instance_type: state
                .parameter("InstanceType")
                .unwrap_or_default()
                .to_string(),
            security_group_id: out("SecurityGroupId").unwrap_or_default(),
            private_ip: out("PrivateIp").unwrap_or_default(),
            public_ip: out("PublicIp").filter(|s| !s.is_empty()),
            ingress_cidr: state
                .parameter("IngressCidr")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            session_command: out("SessionCommand").unwrap_or_default(),
            ssh_command: out("SshCommand").filter(|s| !s.is_empty()),
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
}

/// Checks a spec against the plan before any AWS call: the environment, the instance type and
/// the ingress block.
pub fn check_spec(plan: &RigletPlan, spec: &BastionSpec) -> Result<(), BastionError> {
    bastion_stack(plan, spec, "").map(|_| ())
}

/// `--my-ip`: this machine's public IPv4 address as `<ip>/32`, from
/// [`checkip::checkip_url`] within [`checkip::CHECKIP_TIMEOUT`]. Makes no AWS call.
pub async fn my_ip() -> Result<String, BastionError> {
    let url = checkip::checkip_url();
    let body = checkip::fetch(&url, checkip::CHECKIP_TIMEOUT).await;
    body.and_then(|b| my_ip_cidr(&b))
        .map_err(|problem| BastionError::MyIp { url, problem })
}

impl Engine {
    /// Creates the bastion of `spec.env` (or converges a live one to `spec`, replacing one whose
    /// creation failed) and reports its outputs. Errors: a bad spec (before any AWS call), a stack of that name that is not this
    /// riglet's, an environment whose foundation is not deployed, the change set failing.
    pub async fn create_bastion(
        &self,
        plan: &RigletPlan,
        spec: &BastionSpec,
    ) -> Result<BastionReport, EngineError> {
        let t0 = Instant::now();
        let env = spec.env.as_str();
        // Checked first, with the bucket name the configuration gives (no AWS call).
        let mut planned = bastion_stack(plan, spec, &plan.names.bucket("app", Some(env)))?;
        let name = planned.plan.name.clone();
        let record = self.record(plan).await?;
        let live = self.own_bastion(&record, &name)?;
        let foundation = planned.plan.depends_on[0].clone();
        let state = record.state(&foundation);
        let Some(f) = state.filter(|s| s.status.settled() && !s.failed_create()) else {
            return Err(BastionError::EnvironmentNotUp {
                stack: name,
                env: env.to_string(),
                foundation,
                status: state.map(|s| s.status.to_string()),
            }
            .into());
        };
        if let Some(bucket) = f.output("AppBucket") {
            planned.template_bucket = bucket.to_string();
        }
        // A bastion whose creation failed holds nothing worth keeping: it is replaced.
        let mut ctx = self.ctx();
        ctx.options.replace_failed = true;
        let report = ctx
            .deploy_one(planned, Work::Converge, live, Instant::now())
            .await;
        if let Some(e) = report.error {
            return Err(StackError::Failed {
                stack: name,
                status: "FAILED".into(),
                reasons: vec![e],
                resources: vec![],
            }
            .into());
        }
        let after = self.stacks().describe(&name).await?;
        let after = after.ok_or_else(|| BastionError::NotCreated {
            stack: name.clone(),
            env: env.to_string(),
        })?;
        Ok(BastionReport::of(&after, env, Some(report.outcome), t0))
    }

    /// The live bastion of `env` and how to reach it. Errors: there is none, it is not usable
    /// (being changed, never executed, its creation or deletion failed), it is not this
    /// riglet's.
    pub async fn bastion(
        &self,
        plan: &RigletPlan,
        env: &str,
    ) -> Result<BastionReport, EngineError> {
        let t0 = Instant::now();
        let name = self.bastion_name(plan, env)?;
        let record = self.record(plan).await?;
        let Some(state) = self.own_bastion(&record, &name)? else {
            return Err(BastionError::NotCreated {
                stack: name,
                env: env.to_string(),
            }
            .into());
        };
        let hint = if state.in_progress() {
            Some("wait until it is done: `rig status --env ENV` shows where it is")
        } else if state.failed_create() || state.status == StackStatus::ReviewInProgress {
            Some("run `rig bastion create --env ENV` again: it replaces it")
        } else if state.delete_failed() {
            Some("run `rig bastion delete --env ENV` again: it retries and says what blocks it")
        } else {
            None
        };
        if let Some(hint) = hint {
            return Err(BastionError::NotReady {
                stack: name,
                status: state.status.to_string(),
                hint: hint.replace("ENV", env),
            }
            .into());
        }
        Ok(BastionReport::of(&state, env, None, t0))
    }

    /// What `rig bastion delete` deletes: the bastion stack of `env`, chosen by its exact name
    /// and verified by its tags; nothing else. Errors: there is none, it is not this riglet's,
    /// termination protection.
    pub async fn bastion_teardown(
        &self,
        plan: &RigletPlan,
        env: &str,
    ) -> Result<Teardown, EngineError> {
        let name = self.bastion_name(plan, env)?;
        let t = self
            .teardown_plan(
                plan,
                TeardownOptions {
                    only: Some(name.clone()),
                    ..Default::default()
                },
            )
            .await?;
        if t.stacks.is_empty() {
            return Err(BastionError::NotCreated {
                stack: name,
                env: env.to_string(),
            }
            .into());
        }
        Ok(t)
    }

    /// The bastion stack's name in `env`, which must be one of the plan's environments.
    fn bastion_name(&self, plan: &RigletPlan, env: &str) -> Result<String, BastionError> {
        if !plan.environments.iter().any(|e| e == env) {
            return Err(BastionError::UnknownEnvironment {
                env: env.to_string(),
                available: plan.environments.clone(),
            });
        }
        Ok(stack_name(&plan.names, env))
    }

    /// The live bastion stack `name` if it is this riglet's (said on stderr when adopted), `None`
    /// if there is none; [`EngineError::NotOwned`] if a stack of that name is another's.
    fn own_bastion(&self, record: &Record, name: &str) -> Result<Option<StackState>, EngineError> {
        if let Some(f) = record.foreign.iter().find(|f| f.name == name) {
            return Err(EngineError::NotOwned(vec![f.clone()]));
        }
        let live = record.get(name);
        if let Some(l) = live.filter(|l| l.adopted) {
            self.events.note(adoption_note("stack", name, &l.role));
        }
        Ok(live.map(|l| l.state.clone()))
    }
}
