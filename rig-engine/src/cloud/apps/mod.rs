//! What a running application looks like, read from AWS (reads only): its ECS service,
//! deployments, stopped tasks and task definitions (`ecs`), its target group's health and the
//! HTTPS listener's rules (`elb`), its log lines (`logs`) and the public hosted zone of its
//! domain (`dns`).
//!
//! Every answer is a plain data view (no SDK type leaks out); times are seconds (`*_epoch_s`,
//! fractions kept) or milliseconds (`*_ms`) since the Unix epoch, as the service reports them.

mod dns;
mod ecs;
mod elb;
mod logs;

pub use ecs::{
    ContainerExit, DeploymentView, ServiceEvent, ServiceView, StoppedTask, TaskDefinitionView,
};
pub use elb::{ListenerRuleView, TargetHealthView};
pub use logs::LogLine;

/// Seconds since the Unix epoch of an SDK timestamp, fractions kept.
fn epoch_s(t: Option<&aws_smithy_types::DateTime>) -> Option<f64> {
    t.map(aws_smithy_types::DateTime::as_secs_f64)
}
