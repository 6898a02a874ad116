//! rig's host: loads backend plugins, reads the riglet configuration, plans the riglet's stacks
//! and deploys them to AWS.

pub mod builtin;
pub mod cloud;
pub mod config;
pub mod engine;
pub mod events;
pub mod graph;
pub mod ownership;
pub mod planner;
pub mod plugin;
pub mod priorities;
pub mod render;
pub mod secrets;
pub mod session;
pub mod template;

/// Where an error's text turns from what went wrong to what to do about it: rig's errors end
/// with `\n  hint: ...` when the fix is known, and the CLI shows that part as the error's help.
pub const HINT_MARKER: &str = "\n  hint: ";
