//! The deploy engine: `up`, `plan`, `down`, `status`, `outputs`, `protect`, and the app and
//! bastion commands.
//!
//! A riglet is a DAG of stacks ([`RigletPlan`]). `up` deploys independent stacks concurrently
//! (bounded, longest chain first); a failed stack stops what depends on it, not the rest.
//! Re-running converges: a stack deployed exactly as planned costs one GetTemplate and no change
//! set; a stack left in progress by an interrupted run is waited for; a failed create is
//! replaced only with consent. Every command starts from the riglet's [`record::Record`].

pub mod apps;
pub mod bastion;
pub mod check;
mod converge;
pub mod down;
pub mod lock;
pub mod pipelines;
mod preview;
pub mod record;
pub mod reports;
pub mod rollout;
mod schedule;
mod status;
pub(crate) mod up;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::cloud::cfn::{Backoff, StackError, Stacks};
use crate::cloud::{AwsError, Clients};
use crate::engine::converge::Ctx;
use crate::engine::record::{LiveStack, OrphanReport, Record};
use crate::events::EventSink;
use crate::ownership::NotOwned;
use crate::planner::RigletPlan;
use crate::secrets::SecretError;

pub use reports::*;

/// Stacks changed at the same time by default: above the widest level of a standard riglet's
/// graph (three environments: 3 foundations, then 3 compute and 3 database stacks), so the
/// default never holds it back; the bound is there for riglets with many applications.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Stacks deployed (or deleted) at the same time.
    pub concurrency: usize,
    pub backoff: Backoff,
    /// Delete and re-create stacks whose creation failed (ROLLBACK_COMPLETE).
    pub replace_failed: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            concurrency: DEFAULT_CONCURRENCY,
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
    #[error(transparent)]
    App(#[from] apps::AppError),
    #[error(transparent)]
    Pipeline(#[from] pipelines::PipelineError),
    #[error(transparent)]
    Bastion(#[from] bastion::BastionError),
    #[error("refusing to delete: termination protection is on for {}\n  hint: run `rig unprotect` first", .0.join(", "))]
    Protected(Vec<String>),
    #[error("refusing to act: {} resource(s) with the names this riglet uses are not this riglet's, and nothing was changed:\n{}\n  hint: rig only changes or deletes what carries this riglet's tags; give this riglet another owner or project, or remove or rename the other resource", .0.len(), .0.iter().map(|n| format!("  - {n}")).collect::<Vec<_>>().join("\n"))]
    NotOwned(Vec<NotOwned>),
}

/// The engine: clients, where events go, and options.
pub struct Engine {
    pub clients: Clients,
    pub events: Arc<dyn EventSink>,
    pub options: EngineOptions,
    in_flight: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Engine {
    pub fn new(clients: Clients, events: Arc<dyn EventSink>, options: EngineOptions) -> Engine {
        Engine {
            clients,
            events,
            options,
            in_flight: Default::default(),
        }
    }

    pub(crate) fn stacks(&self) -> Stacks<'_> {
        Stacks {
            clients: &self.clients,
            events: self.events.as_ref(),
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
            // A resource whose condition is false can come back as an empty row.
            .filter(|r| !r.resource_type.is_empty() && !r.logical_id.is_empty())
            .map(|r| format!("{} {}", r.resource_type, r.logical_id))
            .collect();
        Ok(OrphanReport {
            name: o.name().to_string(),
            env: o.env.clone(),
            role: o.role.clone(),
            backend: o.backend.clone(),
            status: o.state.status.to_string(),
            holds,
        })
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

    pub(crate) fn ctx(&self) -> Ctx {
        Ctx {
            clients: self.clients.clone(),
            events: self.events.clone(),
            options: self.options.clone(),
            in_flight: self.in_flight.clone(),
            uploaded: Default::default(),
            express: false,
        }
    }
}
