//! rig's host: loads backend plugins, reads the riglet configuration, plans the riglet's stacks
//! and deploys them to AWS.

pub mod builtin;
pub mod cloud;
pub mod config;
pub mod engine;
pub mod events;
pub mod ownership;
pub mod planner;
pub mod plugin;
pub mod priorities;
pub mod render;
pub mod secrets;
pub mod session;
pub mod template;
