//! rig's host: loads backend plugins, reads the riglet configuration, plans the riglet's stacks
//! and deploys them to AWS.

pub mod aws;
pub mod builtin;
pub mod config;
pub mod engine;
pub mod ownership;
pub mod planner;
pub mod plugin;
pub mod record;
pub mod report;
pub mod secrets;
pub mod stack;
pub mod store;
pub mod teardown;
