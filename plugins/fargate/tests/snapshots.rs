//! Snapshots of the full plans, template body included (one line per template line).

use rig_core::testing::{sample_env_request, settings, snapshot_view};
use rig_core::{Compute, StackPlan};
use rig_plugin_fargate::{Fargate, STACK_SUFFIX};
use serde_json::json;

fn plan(env: &str, st: serde_json::Value) -> Vec<StackPlan> {
    let req = sample_env_request(env, STACK_SUFFIX, settings(st));
    Fargate
        .plan_compute(&req)
        .expect("valid settings must plan")
}

#[test]
fn integration_defaults() {
    insta::assert_yaml_snapshot!(snapshot_view(&plan("integration", json!({}))));
}

#[test]
fn production_defaults() {
    insta::assert_yaml_snapshot!(snapshot_view(&plan("production", json!({}))));
}

#[test]
fn staging_with_spot() {
    insta::assert_yaml_snapshot!(snapshot_view(&plan("staging", json!({"spot_weight": 4}))));
}
