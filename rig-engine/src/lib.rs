//! rig's host: loads backend plugins, reads the riglet configuration, plans the riglet's stacks
//! and deploys them to AWS.

pub mod plugin;
pub mod config;
