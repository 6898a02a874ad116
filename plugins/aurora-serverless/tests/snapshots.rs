//! Snapshots of the full plans, template body included (one line per template line).

use rig_core::testing::{sample_env_request, settings, snapshot_view};
use rig_core::{Database, StackPlan};
use rig_plugin_aurora_serverless::AuroraServerless;
use serde_json::json;

fn plan(env: &str, st: serde_json::Value) -> Vec<StackPlan> {
    let req = sample_env_request(env, "db-aurora", settings(st));
    AuroraServerless
        .plan_database(&req)
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
fn staging_custom() {
    let st = json!({
        "database_name": "orders",
        "min_capacity": 0,
        "max_capacity": 8.5,
        "replicas": 1,
        "backup_retention_days": 7,
        "master_password": "managed",
    });
    insta::assert_yaml_snapshot!(snapshot_view(&plan("staging", st)));
}
