//! The plugin driven through its C ABI in-process, as the host drives it after loading it.

use rig_core::testing::{
    manifest_of, plan_via, sample_env_request, settings, table_of, validate_via,
};
use rig_core::{Compute, Role, Settings, PROTOCOL_VERSION};
use rig_plugin_ecs_ec2::{rig_plugin_entry_v1, EcsEc2};
use serde_json::json;

#[test]
fn manifest_validate_and_plan_through_the_table() {
    let table = unsafe { table_of(rig_plugin_entry_v1) };

    let manifest = manifest_of(table);
    assert_eq!(manifest.id, "ecs-ec2");
    assert_eq!(manifest.role, Role::Compute);
    assert_eq!(manifest.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest.protocol, PROTOCOL_VERSION);
    assert_eq!(manifest.stack_suffix, "compute-ecs");

    let bad = settings(json!({"cluster_size": 0}));
    let issues = validate_via(table, &bad);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "cluster_size");
    assert!(validate_via(table, &Settings::new()).is_empty());

    let req = sample_env_request("production", "compute-ecs", Settings::new());
    let plans = plan_via(table, &req).expect("the defaults plan");
    assert_eq!(plans, EcsEc2.plan_compute(&req).unwrap());

    let err = plan_via(table, &sample_env_request("production", "compute-ecs", bad)).unwrap_err();
    assert_eq!(err.kind, "invalid-input");
    assert!(err.message.contains("`cluster_size`"), "{}", err.message);
}
