//! Snapshots of the full plans, template body included (one line per template line).

use rig_core::testing::{sample_env_request, settings, snapshot_view};
use rig_core::{Compute, StackPlan};
use rig_plugin_ecs_ec2::{EcsEc2, STACK_SUFFIX};
use serde_json::json;

fn plan(env: &str, st: serde_json::Value, key: Option<&str>) -> Vec<StackPlan> {
    let mut req = sample_env_request(env, STACK_SUFFIX, settings(st));
    req.riglet.key_name = key.map(str::to_string);
    EcsEc2.plan_compute(&req).expect("valid settings must plan")
}

#[test]
fn integration_defaults() {
    insta::assert_yaml_snapshot!(snapshot_view(&plan("integration", json!({}), None)));
}

#[test]
fn production_defaults() {
    insta::assert_yaml_snapshot!(snapshot_view(&plan("production", json!({}), None)));
}

#[test]
fn staging_custom() {
    let st = json!({
        "cluster_size": 3,
        "cluster_max_size": 6,
        "instance_type": "m7g.large",
        "ami": "ami-0123456789abcdef0",
    });
    insta::assert_yaml_snapshot!(snapshot_view(&plan("staging", st, Some("ops-key"))));
}
