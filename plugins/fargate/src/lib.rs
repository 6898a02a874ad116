//! # rig-plugin-fargate: ECS on Fargate
//!
//! The `fargate` compute backend plans the stack `<owner>-<project>-<env>-compute-ecs` from
//! `templates/fargate.yaml`: an ECS cluster with the FARGATE and FARGATE_SPOT capacity providers
//! and no instances to manage.
//!
//! Settings (`[compute.fargate]`, overlaid with the environment's table):
//!
//! | key | type | default |
//! |---|---|---|
//! | `spot_weight` | integer 0–1000: weight of FARGATE_SPOT in the default strategy (0: FARGATE only) | 0 |
//!
//! The plugin is pure: it performs no I/O.

use std::collections::BTreeMap;

use rig_core::settings::{self, Key, Kind};
use rig_core::{
    Backend, Compute, EcsCapacity, EnvRequest, HealthProbe, Issue, Manifest, PluginError, Role,
    Settings, StackPlan, PROTOCOL_VERSION,
};

/// The backend id users select (`--compute fargate`).
pub const ID: &str = "fargate";
/// Suffix of the stack this backend owns.
pub const STACK_SUFFIX: &str = "compute-ecs";
/// File name of the template.
pub const TEMPLATE_FILE: &str = "fargate.yaml";
/// The CloudFormation template, embedded at build time.
pub const TEMPLATE: &str = include_str!("../../../templates/fargate.yaml");
/// Output keys the stack promises (templates/README.md).
pub const OUTPUTS: &[&str] = &["ClusterName", "AppSecurityGroup", "LaunchType"];

/// The settings this backend knows.
pub const KEYS: &[Key] = &[Key {
    name: "spot_weight",
    kind: Kind::Int { min: 0, max: 1000 },
    help: "weight of FARGATE_SPOT next to FARGATE's 1 in the default capacity provider \
           strategy; 0 (the default) runs on FARGATE only",
}];

/// The `fargate` compute backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fargate;

impl Backend for Fargate {
    fn manifest(&self) -> Manifest {
        Manifest {
            id: ID.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            role: Role::Compute,
            protocol: PROTOCOL_VERSION.to_string(),
            description: "ECS cluster on Fargate and Fargate Spot capacity".to_string(),
            stack_suffix: STACK_SUFFIX.to_string(),
            features: Vec::new(),
        }
    }

    /// Checks the keys, their types and ranges.
    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        settings::check(settings, KEYS)
    }
}

impl Compute for Fargate {
    fn plan_compute(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        let env = req.environment.name.as_str();
        settings::refuse_invalid(Role::Compute, ID, env, &self.validate(&req.settings))?;
        let spot_weight = settings::int(&req.settings, "spot_weight", 0);
        let parameters = BTreeMap::from([
            ("Environment".to_string(), env.to_string()),
            (
                "FoundationStackName".to_string(),
                req.stacks.foundation.clone(),
            ),
            ("SpotWeight".to_string(), spot_weight.to_string()),
        ]);
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: Role::Compute,
            template_file: TEMPLATE_FILE.to_string(),
            template_body: TEMPLATE.to_string(),
            parameters,
            tags: req.tags.clone(),
            capabilities: Vec::new(),
            depends_on: vec![req.stacks.foundation.clone()],
            outputs: OUTPUTS.iter().map(|o| o.to_string()).collect(),
            probes: vec![HealthProbe::EcsCluster {
                cluster_output: "ClusterName".to_string(),
                capacity: EcsCapacity::Fargate,
            }],
            secrets: Vec::new(),
            before_delete: Default::default(),
        }])
    }
}

rig_core::export_plugin!(compute, Fargate);

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::{sample_env_request, settings, validation_messages};
    use serde_json::json;

    fn messages(v: serde_json::Value) -> Vec<String> {
        validation_messages(&Fargate, v)
    }

    #[test]
    fn manifest_describes_the_backend() {
        let m = Fargate.manifest();
        assert_eq!(m.id, "fargate");
        assert_eq!(m.role, Role::Compute);
        assert_eq!(m.stack_suffix, "compute-ecs");
        assert_eq!(m.protocol, PROTOCOL_VERSION);
    }

    #[test]
    fn good_settings_pass() {
        assert!(messages(json!({})).is_empty());
        assert!(messages(json!({"spot_weight": 0})).is_empty());
        assert!(messages(json!({"spot_weight": 1000})).is_empty());
    }

    #[test]
    fn unknown_key_names_the_known_one() {
        assert_eq!(
            messages(json!({"spot": 1})),
            vec!["`spot`: unknown setting; known settings are: spot_weight".to_string()]
        );
    }

    #[test]
    fn spot_weight_out_of_range_or_wrong_type() {
        let m = messages(json!({"spot_weight": 1001}));
        assert_eq!(m.len(), 1);
        assert!(
            m[0].starts_with("`spot_weight`: 1001 is out of range, expected 0–1000"),
            "{m:?}"
        );
        let m = messages(json!({"spot_weight": -1}));
        assert!(m[0].contains("-1 is out of range"), "{m:?}");
        let m = messages(json!({"spot_weight": true}));
        assert!(
            m[0].contains("expected a whole number, found true"),
            "{m:?}"
        );
    }

    #[test]
    fn plan_wires_the_stack() {
        let req = sample_env_request(
            "production",
            STACK_SUFFIX,
            settings(json!({"spot_weight": 3})),
        );
        let p = Fargate.plan_compute(&req).unwrap().remove(0);
        assert_eq!(p.name, "acme-shop-production-compute-ecs");
        assert_eq!(p.template_file, "fargate.yaml");
        assert_eq!(p.parameters["SpotWeight"], "3");
        assert_eq!(p.parameters["Environment"], "production");
        assert_eq!(
            p.parameters["FoundationStackName"],
            "acme-shop-production-foundation"
        );
        assert_eq!(p.parameters.len(), 3);
        assert!(p.capabilities.is_empty());
        assert_eq!(
            p.depends_on,
            vec!["acme-shop-production-foundation".to_string()]
        );
        assert_eq!(
            p.outputs,
            vec!["ClusterName", "AppSecurityGroup", "LaunchType"]
        );
        assert_eq!(
            p.probes,
            vec![HealthProbe::EcsCluster {
                cluster_output: "ClusterName".into(),
                capacity: EcsCapacity::Fargate,
            }]
        );
        let default = sample_env_request("integration", STACK_SUFFIX, Settings::new());
        assert_eq!(
            Fargate.plan_compute(&default).unwrap()[0].parameters["SpotWeight"],
            "0"
        );
    }

    #[test]
    fn plan_refuses_invalid_settings() {
        let req = sample_env_request(
            "staging",
            STACK_SUFFIX,
            settings(json!({"spot_weight": "x"})),
        );
        let Err(PluginError::InvalidInput(m)) = Fargate.plan_compute(&req) else {
            panic!("invalid settings must not produce a plan")
        };
        assert!(m.contains("`spot_weight`: expected a whole number"), "{m}");
    }

    #[test]
    fn template_declares_every_parameter_passed() {
        let req = sample_env_request("integration", STACK_SUFFIX, Settings::new());
        let p = Fargate.plan_compute(&req).unwrap().remove(0);
        for name in p.parameters.keys() {
            assert!(
                TEMPLATE.contains(&format!("  {name}:")),
                "template lacks parameter {name}"
            );
        }
        for out in OUTPUTS {
            assert!(
                TEMPLATE.contains(&format!("  {out}:")),
                "template lacks output {out}"
            );
        }
    }
}
