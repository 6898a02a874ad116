//! Snapshots of the full plans, template body included (one line per template line).

use rig_core::testing::{sample_env_request, settings, snapshot_view};
use rig_core::{Database, StackPlan};
use rig_plugin_couchdb::{CouchDb, STACK_SUFFIX};
use serde_json::json;

fn plan(env: &str, st: serde_json::Value, key: Option<&str>) -> Vec<StackPlan> {
    let mut req = sample_env_request(env, STACK_SUFFIX, settings(st));
    req.riglet.key_name = key.map(str::to_string);
    CouchDb
        .plan_database(&req)
        .expect("valid settings must plan")
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
        "instance_type": "m7i.large",
        "data_volume_gib": 200,
        "ami_parameter": "/acme/shop/couchdb-ami",
    });
    insta::assert_yaml_snapshot!(snapshot_view(&plan("staging", st, Some("ops-key"))));
}
