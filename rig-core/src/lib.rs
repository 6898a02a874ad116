//! # rig-core: the contract between `rig` and its backend plugins
//!
//! A backend plugin is *pure*: it turns configuration into [`StackPlan`]s (CloudFormation template
//! bodies, parameters, tags, capabilities, dependencies, promised outputs and health probes).
//! It never performs I/O. The `rig` host owns the runtime, the AWS clients and every API call.
//!
//! A plugin implements one of the role traits ([`Foundation`], [`Compute`], [`Database`],
//! [`Pipeline`]) and exports itself with [`export_plugin!`]. The host loads the resulting
//! `cdylib` through a tiny C ABI ([`protocol`]) that carries versioned JSON, so plugins built with
//! another `rustc` than the host are fine.
//!
//! This crate deliberately depends on nothing but `serde`, `serde_json`, `semver` and `thiserror`.

pub mod model;
pub mod names;
pub mod protocol;
pub mod settings;
pub mod testing;
pub mod traits;

#[doc(hidden)]
pub mod export;

pub use model::*;
pub use protocol::{Manifest, Role, PROTOCOL_VERSION};
pub use traits::{Backend, Compute, Database, Foundation, Pipeline, PluginError};

// Re-exported so that `export_plugin!` expands without the plugin naming these crates itself.
#[doc(hidden)]
pub use serde_json as __serde_json;
