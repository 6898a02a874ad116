//! The role traits a backend implements.
//!
//! Each trait is pure: given a request it returns plans or errors, and performs no I/O. The host
//! wraps a dynamically loaded plugin in a type implementing the same trait, so the engine cannot
//! tell a built-in backend from a plugin.

use crate::model::{EnvRequest, Issue, PipelineRequest, Settings, StackPlan};
use crate::protocol::Manifest;

/// Why a plugin could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The request itself is not acceptable (bad settings, unsupported environment, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The plugin failed while planning.
    #[error("{0}")]
    Plan(String),
    /// The plugin panicked; the host stops calling it for the rest of the run.
    #[error("plugin panicked: {0}")]
    Panic(String),
    /// The host could not talk to the plugin (bad JSON, unknown method, poisoned plugin, ...).
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// What every backend has.
pub trait Backend: Send + Sync {
    fn manifest(&self) -> Manifest;

    /// Checks the backend's settings; each issue names the key and says how to fix it.
    /// Called before any AWS call.
    fn validate(&self, settings: &Settings) -> Vec<Issue>;
}

/// The per-environment network, load balancer, topics and buckets.
pub trait Foundation: Backend {
    fn plan_foundation(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError>;
}

/// The ECS cluster and its capacity.
pub trait Compute: Backend {
    fn plan_compute(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError>;
}

/// The environment's database.
pub trait Database: Backend {
    fn plan_database(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError>;
}

/// A per-repository deployment pipeline.
pub trait Pipeline: Backend {
    fn plan_pipeline(&self, req: &PipelineRequest) -> Result<Vec<StackPlan>, PluginError>;
}
