//! Backends built into `rig`: the standard foundation and the CodePipeline pipeline. They
//! implement the same rig-core traits as plugins and are just as pure.

mod foundation;
mod pipeline;

pub use foundation::StandardFoundation;
pub use pipeline::CodePipeline;
