//! Snapshots of the full plans, template body included (one line per template line).

use rig_core::testing::{sample_env_request, settings, snapshot_view};
use rig_core::{Database, StackPlan};
use rig_plugin_aurora_provisioned::AuroraProvisioned;
use serde_json::json;

fn plan(env: &str, st: serde_json::Value) -> Vec<StackPlan> {
    let req = sample_env_request(env, "db-aurora", settings(st));
    AuroraProvisioned
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
        "instance_class": "db.r6g.large",
        "replicas": 1,
        "backup_retention_days": 7,
        "deletion_protection": true,
        "master_password": "managed",
        "master_username": "shop_admin",
        "engine_version": "8.0.mysql_aurora.3.10.0",
    });
    insta::assert_yaml_snapshot!(snapshot_view(&plan("staging", st)));
}
