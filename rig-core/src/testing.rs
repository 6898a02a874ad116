//! Helpers for testing backend plugins, without AWS and without loading a library from disk.
//!
//! Everything here is pure and cheap, so a plugin's unit and snapshot tests can use it freely:
//!
//! - [`sample_env_request`] builds a realistic [`EnvRequest`] for the riglet `acme-shop` in
//!   `us-east-1`, with the seed's network for the environment;
//! - [`settings`] turns a `serde_json::json!({...})` object into [`Settings`];
//! - [`snapshot_view`] shows plans with their templates line by line, for snapshot tests;
//! - [`table_of`], [`manifest_of`], [`call_vtable`], [`validate_via`] and [`plan_via`] drive a
//!   plugin through its C ABI in-process, exactly as the host does after `dlopen`: the
//!   `rig_plugin_entry_v1` function that [`crate::export_plugin!`] defines is an ordinary
//!   `pub extern "C" fn` of the plugin's `rlib`. Every buffer the plugin returns is copied and
//!   handed back to the plugin's own `free`.
//!
//! ```ignore
//! use rig_core::testing::{manifest_of, plan_via, sample_env_request, settings, table_of};
//!
//! let table = unsafe { table_of(my_plugin::rig_plugin_entry_v1) };
//! assert_eq!(manifest_of(table).id, "my-backend");
//! let req = sample_env_request("staging", "compute-ecs", settings(serde_json::json!({})));
//! let plans = plan_via(table, &req).expect("the sample request plans");
//! ```

use std::collections::BTreeMap;

use crate::model::{
    EnvRequest, EnvStackNames, EnvironmentSpec, Issue, NetworkCidrs, RigletInfo, Settings,
    StackPlan,
};
use crate::names::RigletNames;
use crate::protocol::{
    method, EntryFn, Manifest, PluginVTableV1, Response, RigBuffer, WireError, ABI_VERSION,
};

/// Owner of the sample riglet.
pub const SAMPLE_OWNER: &str = "acme";
/// Project of the sample riglet.
pub const SAMPLE_PROJECT: &str = "shop";
/// Region of the sample riglet.
pub const SAMPLE_REGION: &str = "us-east-1";
/// Public domain of the sample riglet.
pub const SAMPLE_DOMAIN: &str = "example.com";
/// ACM certificate ARN of the sample riglet.
pub const SAMPLE_CERT_ARN: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000";

/// The seed's network of an environment: `10.1.x` for integration, `10.2.x` for staging,
/// `10.3.x` for production and `10.9.x` for any other name; public subnets `.1`/`.2`, private
/// `.11`/`.12`, database `.100`/`.110` (all `/24` in a `/16`).
pub fn sample_cidrs(env: &str) -> NetworkCidrs {
    let n = match env {
        "integration" => 1,
        "staging" => 2,
        "production" => 3,
        _ => 9,
    };
    let subnet = |third: u32| format!("10.{n}.{third}.0/24");
    NetworkCidrs {
        vpc: format!("10.{n}.0.0/16"),
        public: [subnet(1), subnet(2)],
        private: [subnet(11), subnet(12)],
        database: [subnet(100), subnet(110)],
    }
}

/// A realistic request for environment `env` of the riglet `acme-shop` (region `us-east-1`,
/// domain `example.com`, a sample ACM certificate ARN, no key pair, no e-mail, SSM prefix
/// `/acme/shop`), planning the stack `acme-shop-<env>-<stack_suffix>` with `settings`.
///
/// - `environment.production` is true exactly when `env` is `production`; the CIDRs are
///   [`sample_cidrs`].
/// - `stacks` follows [`RigletNames`]: `acme-shop-<env>-foundation`, compute
///   `acme-shop-<env>-compute-ecs` and database `acme-shop-<env>-db-aurora`, except that a
///   `compute-*` or `db-*` `stack_suffix` names the compute or database stack itself, so that
///   `stack_name` is always one of `stacks` (a CouchDB request has database
///   `acme-shop-<env>-db-couch`).
/// - `stack_name` is `acme-shop-<env>-<stack_suffix>`.
/// - `tags` are `Owner=acme`, `Project=shop`, `Environment=<env>`.
pub fn sample_env_request(env: &str, stack_suffix: &str, settings: Settings) -> EnvRequest {
    let names = RigletNames::new(SAMPLE_OWNER, SAMPLE_PROJECT, SAMPLE_REGION);
    let stack_name = names.env_stack(env, stack_suffix);
    let own_or = |prefix: &str, default_suffix: &str| {
        if stack_suffix.starts_with(prefix) {
            stack_name.clone()
        } else {
            names.env_stack(env, default_suffix)
        }
    };
    let stacks = EnvStackNames {
        foundation: names.foundation_stack(env),
        compute: Some(own_or("compute-", "compute-ecs")),
        database: Some(own_or("db-", "db-aurora")),
    };
    let tags = BTreeMap::from([
        ("Owner".to_string(), SAMPLE_OWNER.to_string()),
        ("Project".to_string(), SAMPLE_PROJECT.to_string()),
        ("Environment".to_string(), env.to_string()),
    ]);
    EnvRequest {
        riglet: RigletInfo {
            owner: SAMPLE_OWNER.to_string(),
            project: SAMPLE_PROJECT.to_string(),
            region: SAMPLE_REGION.to_string(),
            domain: SAMPLE_DOMAIN.to_string(),
            domain_cert_arn: SAMPLE_CERT_ARN.to_string(),
            key_name: None,
            email: None,
            ssm_prefix: names.ssm_prefix(),
        },
        environment: EnvironmentSpec {
            name: env.to_string(),
            cidrs: sample_cidrs(env),
            production: env == "production",
        },
        stacks,
        stack_name,
        settings,
        tags,
    }
}

/// Turns a JSON object (typically `serde_json::json!({...})`) into [`Settings`].
///
/// # Panics
/// If `value` is not a JSON object.
pub fn settings(value: serde_json::Value) -> Settings {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("settings must be a JSON object, not {other}"),
    }
}

/// What `backend.validate` says of these settings, each issue as the user reads it
/// (`` `key`: message ``).
pub fn validation_messages(backend: &dyn crate::Backend, value: serde_json::Value) -> Vec<String> {
    backend
        .validate(&settings(value))
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Calls a plugin's entry function (`rig_plugin_entry_v1`) and checks the table it returns:
/// not null, [`ABI_VERSION`], and a `struct_size` that covers every field this crate knows.
///
/// # Safety
/// `entry` must return null or a pointer to a table that lives for the rest of the program, as the
/// entry that [`crate::export_plugin!`] defines does.
///
/// # Panics
/// If the table is null, of another ABI version, or too small.
pub unsafe fn table_of(entry: EntryFn) -> &'static PluginVTableV1 {
    let ptr = entry();
    assert!(!ptr.is_null(), "the plugin's entry returned a null table");
    // SAFETY: not null, and the caller promises it points to a table that lives forever.
    let table = unsafe { &*ptr };
    assert_eq!(
        table.abi_version, ABI_VERSION,
        "the plugin's table has another ABI version"
    );
    assert!(
        table.struct_size >= std::mem::size_of::<PluginVTableV1>(),
        "the plugin's table is {} bytes, smaller than the {} this crate expects",
        table.struct_size,
        std::mem::size_of::<PluginVTableV1>()
    );
    table
}

/// Takes a buffer the plugin returned: copies its bytes, gives it back to the plugin's `free`
/// and decodes the [`Response`] it holds.
fn take_response(table: &PluginVTableV1, buf: RigBuffer) -> Response {
    // SAFETY: the buffer was just returned by this plugin and is released only below.
    let bytes = unsafe { buf.as_slice() }.to_vec();
    (table.free)(buf);
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "the plugin answered something that is not a JSON Response ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// Asks a plugin for its [`Manifest`] through the table's `manifest` function (and frees the
/// answer with the table's `free`).
///
/// # Panics
/// If the answer is an error or not a manifest.
pub fn manifest_of(table: &PluginVTableV1) -> Manifest {
    match take_response(table, (table.manifest)()) {
        Response::Ok(value) => serde_json::from_value(value)
            .unwrap_or_else(|e| panic!("the plugin's manifest does not decode: {e}")),
        Response::Err(e) => panic!("the plugin's manifest failed: {}: {}", e.kind, e.message),
    }
}

/// Calls `method` (`validate`, `plan`, ...) with `input` as JSON through the table's `call`
/// function, frees the answer with the table's `free`, and returns the decoded [`Response`].
///
/// # Panics
/// If the answer is not a JSON [`Response`].
pub fn call_vtable(table: &PluginVTableV1, method: &str, input: &serde_json::Value) -> Response {
    let input = serde_json::to_vec(input).expect("a serde_json::Value always serializes");
    let buf = (table.call)(method.as_ptr(), method.len(), input.as_ptr(), input.len());
    take_response(table, buf)
}

/// Calls `validate` through the table with `settings` and decodes the issues.
///
/// # Panics
/// If the plugin answers with an error or with something that is not a list of issues.
pub fn validate_via(table: &PluginVTableV1, settings: &Settings) -> Vec<Issue> {
    let input = serde_json::Value::Object(settings.clone());
    match call_vtable(table, method::VALIDATE, &input) {
        Response::Ok(value) => serde_json::from_value(value)
            .unwrap_or_else(|e| panic!("`validate` did not answer a list of issues: {e}")),
        Response::Err(e) => panic!("`validate` failed: {}: {}", e.kind, e.message),
    }
}

/// Calls `plan` through the table with `req` and decodes the plans, or returns the error the
/// plugin answered (its `kind` is `invalid-input` for bad settings).
///
/// # Panics
/// If the answer is `Ok` but not a list of plans.
pub fn plan_via(table: &PluginVTableV1, req: &EnvRequest) -> Result<Vec<StackPlan>, WireError> {
    let input = serde_json::to_value(req).expect("an EnvRequest always serializes");
    match call_vtable(table, method::PLAN, &input) {
        Response::Ok(value) => Ok(serde_json::from_value(value)
            .unwrap_or_else(|e| panic!("`plan` did not answer a list of stack plans: {e}"))),
        Response::Err(e) => Err(e),
    }
}

/// The plans as a JSON value for snapshot tests, with each `template_body` split into a list of
/// lines so that a snapshot shows the template as it reads and a change to it diffs line by line.
/// Nothing else is changed or left out.
///
/// ```ignore
/// insta::assert_yaml_snapshot!(rig_core::testing::snapshot_view(&plans));
/// ```
pub fn snapshot_view(plans: &[StackPlan]) -> serde_json::Value {
    let mut value = serde_json::to_value(plans).expect("stack plans always serialize");
    if let Some(list) = value.as_array_mut() {
        for plan in list {
            if let Some(body) = plan.get_mut("template_body") {
                let lines: Vec<serde_json::Value> = body
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .map(|l| serde_json::Value::String(l.to_string()))
                    .collect();
                *body = serde_json::Value::Array(lines);
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_request_follows_the_seed() {
        let req = sample_env_request(
            "staging",
            "compute-ecs",
            settings(serde_json::json!({"a": 1})),
        );
        assert_eq!(req.stack_name, "acme-shop-staging-compute-ecs");
        assert_eq!(req.stacks.foundation, "acme-shop-staging-foundation");
        assert_eq!(
            req.stacks.compute.as_deref(),
            Some("acme-shop-staging-compute-ecs")
        );
        assert_eq!(
            req.stacks.database.as_deref(),
            Some("acme-shop-staging-db-aurora")
        );
        assert_eq!(req.environment.cidrs.vpc, "10.2.0.0/16");
        assert_eq!(req.environment.cidrs.database[1], "10.2.110.0/24");
        assert!(!req.environment.production);
        assert_eq!(req.riglet.ssm_prefix, "/acme/shop");
        assert_eq!(req.riglet.key_name, None);
        assert_eq!(req.tags["Environment"], "staging");
        assert_eq!(req.settings["a"], 1);
    }

    #[test]
    fn production_and_other_environments() {
        let prod = sample_env_request("production", "db-couch", Settings::new());
        assert!(prod.environment.production);
        assert_eq!(prod.environment.cidrs.private[0], "10.3.11.0/24");
        assert_eq!(
            prod.stacks.database.as_deref(),
            Some("acme-shop-production-db-couch")
        );
        assert_eq!(prod.stack_name, "acme-shop-production-db-couch");
        let other = sample_env_request("qa", "db-aurora", Settings::new());
        assert_eq!(other.environment.cidrs.public[0], "10.9.1.0/24");
        assert!(!other.environment.production);
    }

    /// A backend that refuses every setting and plans one empty stack, exported through the
    /// same macro real plugins use.
    struct Echo;

    impl crate::Backend for Echo {
        fn manifest(&self) -> Manifest {
            Manifest {
                id: "echo".into(),
                version: "0.0.1".into(),
                role: crate::Role::Compute,
                protocol: crate::PROTOCOL_VERSION.into(),
                description: String::new(),
                stack_suffix: "compute-echo".into(),
                features: Vec::new(),
            }
        }
        fn validate(&self, settings: &Settings) -> Vec<Issue> {
            settings
                .keys()
                .map(|k| Issue::new(k.clone(), "unknown"))
                .collect()
        }
    }

    impl crate::Compute for Echo {
        fn plan_compute(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, crate::PluginError> {
            if !req.settings.is_empty() {
                return Err(crate::PluginError::InvalidInput(
                    "no settings, please".into(),
                ));
            }
            Ok(vec![StackPlan {
                name: req.stack_name.clone(),
                role: crate::Role::Compute,
                template_file: "echo.yaml".into(),
                template_body: String::new(),
                parameters: BTreeMap::new(),
                tags: req.tags.clone(),
                capabilities: Vec::new(),
                depends_on: Vec::new(),
                outputs: Vec::new(),
                probes: Vec::new(),
                secrets: Vec::new(),
                before_delete: Default::default(),
            }])
        }
    }

    crate::export_plugin!(compute, Echo);

    #[test]
    fn drives_a_plugin_through_its_table() {
        let table = unsafe { table_of(rig_plugin_entry_v1) };
        assert_eq!(manifest_of(table).id, "echo");
        let issues = validate_via(table, &settings(serde_json::json!({"x": 1})));
        assert_eq!(issues, vec![Issue::new("x", "unknown")]);
        let req = sample_env_request("integration", "compute-echo", Settings::new());
        let plans = plan_via(table, &req).unwrap();
        assert_eq!(plans[0].name, "acme-shop-integration-compute-echo");
        let mut with_body = plans.clone();
        with_body[0].template_body = "a: 1\nb: 2\n".to_string();
        let view = snapshot_view(&with_body);
        assert_eq!(
            view[0]["template_body"],
            serde_json::json!(["a: 1", "b: 2"])
        );
        assert_eq!(view[0]["name"], "acme-shop-integration-compute-echo");
        let bad = sample_env_request(
            "integration",
            "compute-echo",
            settings(serde_json::json!({"x": 1})),
        );
        let err = plan_via(table, &bad).unwrap_err();
        assert_eq!(
            (err.kind.as_str(), err.message.as_str()),
            ("invalid-input", "no settings, please")
        );
        let Response::Err(e) = call_vtable(table, "frobnicate", &serde_json::json!({})) else {
            panic!("an unknown method must be an error")
        };
        assert_eq!(e.kind, "unknown-method");
    }

    #[test]
    #[should_panic(expected = "must be a JSON object")]
    fn settings_must_be_an_object() {
        settings(serde_json::json!([1]));
    }
}
