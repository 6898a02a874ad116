//! The plugin driven through its C ABI in-process, as the host drives it after loading it.

use rig_core::testing::{
    manifest_of, plan_via, sample_env_request, settings, table_of, validate_via,
};
use rig_core::{Database, Role, Settings, PROTOCOL_VERSION};
use rig_plugin_aurora_provisioned::{rig_plugin_entry_v1, AuroraProvisioned};
use serde_json::json;

#[test]
fn manifest_validate_and_plan_through_the_table() {
    let table = unsafe { table_of(rig_plugin_entry_v1) };

    let manifest = manifest_of(table);
    assert_eq!(manifest.id, "aurora-provisioned");
    assert_eq!(manifest.role, Role::Database);
    assert_eq!(manifest.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest.protocol, PROTOCOL_VERSION);
    assert_eq!(manifest.stack_suffix, "db-aurora");

    let bad = settings(json!({"database_name": "my-shop"}));
    let issues = validate_via(table, &bad);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "database_name");
    assert!(validate_via(table, &Settings::new()).is_empty());

    let req = sample_env_request("production", "db-aurora", Settings::new());
    let plans = plan_via(table, &req).expect("the defaults plan");
    assert_eq!(plans, AuroraProvisioned.plan_database(&req).unwrap());

    let err = plan_via(table, &sample_env_request("production", "db-aurora", bad)).unwrap_err();
    assert_eq!(err.kind, "invalid-input");
    assert!(err.message.contains("`database_name`"), "{}", err.message);
}
