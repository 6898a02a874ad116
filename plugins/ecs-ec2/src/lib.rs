//! # rig-plugin-ecs-ec2: ECS on EC2 container instances
//!
//! The `ecs-ec2` compute backend plans the stack `<owner>-<project>-<env>-compute-ecs` from
//! `templates/ecs-ec2.yaml`: an ECS cluster whose capacity is an auto-scaling group of
//! ECS-optimized Amazon Linux 2023 instances in the private subnets, behind a capacity provider.
//!
//! Settings (`[compute.ecs-ec2]`, overlaid with the environment's table):
//!
//! | key | type | default |
//! |---|---|---|
//! | `cluster_size` | integer 1–100: instances kept running (min = desired) | 1 in `integration`, 2 elsewhere |
//! | `cluster_max_size` | integer 1–100, greater than `cluster_size` | 4 |
//! | `instance_type` | EC2 instance type, like `t3.small` | `t3.small` |
//! | `ami` | AMI id (`ami-` and 8 or 17 hex digits) replacing the SSM one | none |
//! | `ami_parameter` | SSM parameter holding the AMI id | [`DEFAULT_AMI_PARAMETER`] |
//!
//! The plugin is pure: it performs no I/O.

use std::collections::BTreeMap;

use rig_core::settings::{self, Key, Kind};
use rig_core::{
    Backend, Capability, Compute, EcsCapacity, EnvRequest, HealthProbe, Issue, Manifest,
    PluginError, Role, Settings, StackPlan, PROTOCOL_VERSION,
};

mod ec2_checks;

/// The backend id users select (`--compute ecs-ec2`).
pub const ID: &str = "ecs-ec2";
/// Suffix of the stack this backend owns.
pub const STACK_SUFFIX: &str = "compute-ecs";
/// File name of the template.
pub const TEMPLATE_FILE: &str = "ecs-ec2.yaml";
/// The CloudFormation template, embedded at build time.
pub const TEMPLATE: &str = include_str!("../../../templates/ecs-ec2.yaml");
/// The SSM parameter of the recommended ECS-optimized Amazon Linux 2023 AMI.
pub const DEFAULT_AMI_PARAMETER: &str =
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";
/// Default instance type.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.small";
/// Default maximum size of the auto-scaling group.
pub const DEFAULT_CLUSTER_MAX_SIZE: i64 = 4;
/// Output keys the stack promises (templates/README.md).
pub const OUTPUTS: &[&str] = &[
    "ClusterName",
    "AppSecurityGroup",
    "AutoScalingGroupName",
    "CapacityProviderName",
    "LaunchType",
];

/// The settings this backend knows.
pub const KEYS: &[Key] = &[
    Key {
        name: "cluster_size",
        kind: Kind::Int { min: 1, max: 100 },
        help: "container instances kept running; 1 in integration and 2 elsewhere by default",
    },
    Key {
        name: "cluster_max_size",
        kind: Kind::Int { min: 1, max: 100 },
        help:
            "most container instances the group may scale out to, at least cluster_size; default 4",
    },
    Key {
        name: "instance_type",
        kind: Kind::StrWith {
            check: ec2_checks::instance_type,
        },
        help: "EC2 instance type of the container instances; default t3.small",
    },
    Key {
        name: "ami",
        kind: Kind::StrWith { check: ami_id },
        help: "an AMI id that replaces the one read from ami_parameter",
    },
    Key {
        name: "ami_parameter",
        kind: Kind::StrWith {
            check: ec2_checks::ami_parameter,
        },
        help: "SSM parameter holding the AMI id; default the ECS-optimized Amazon Linux 2023 one",
    },
];

/// Checks an AMI id: `ami-` followed by 8 or 17 lowercase hexadecimal digits.
fn ami_id(s: &str) -> Result<(), String> {
    let hex = s.strip_prefix("ami-").unwrap_or("");
    let hex_ok = hex
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if s.starts_with("ami-") && (hex.len() == 8 || hex.len() == 17) && hex_ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not an AMI id; write `ami-` and 8 or 17 lowercase hex digits, like `ami-0abcdef1234567890`"
        ))
    }
}

/// The default `cluster_size` of an environment: the seed's 1 in integration, 2 elsewhere.
pub fn default_cluster_size(env: &str) -> i64 {
    if env == "integration" {
        1
    } else {
        2
    }
}

/// The settings of one environment with every default applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsEc2Settings {
    /// Minimum and desired number of container instances.
    pub cluster_size: i64,
    /// Maximum number of container instances.
    pub cluster_max_size: i64,
    /// EC2 instance type.
    pub instance_type: String,
    /// AMI id replacing the SSM one, if any.
    pub ami: Option<String>,
    /// SSM parameter the AMI id is read from.
    pub ami_parameter: String,
}

impl EcsEc2Settings {
    /// Reads `settings` for environment `env`, applying the defaults. Does not validate.
    pub fn resolve(settings: &Settings, env: &str) -> Self {
        EcsEc2Settings {
            cluster_size: settings::int(settings, "cluster_size", default_cluster_size(env)),
            cluster_max_size: settings::int(settings, "cluster_max_size", DEFAULT_CLUSTER_MAX_SIZE),
            instance_type: settings::string(settings, "instance_type", DEFAULT_INSTANCE_TYPE),
            ami: settings::opt_string(settings, "ami"),
            ami_parameter: settings::string(settings, "ami_parameter", DEFAULT_AMI_PARAMETER),
        }
    }
}

/// Checks `settings`; with `env`, also the rules that depend on the environment's defaults.
fn issues(settings: &Settings, env: Option<&str>) -> Vec<Issue> {
    let mut issues = settings::check(settings, KEYS);
    let bad = |issues: &[Issue], key: &str| issues.iter().any(|i| i.key == key);
    if !bad(&issues, "cluster_size") && !bad(&issues, "cluster_max_size") {
        let size = settings.get("cluster_size").and_then(|v| v.as_i64());
        let max = settings.get("cluster_max_size").and_then(|v| v.as_i64());
        let problem = match (size, max, env) {
            // A rolling update keeps cluster_size hosts in service and adds one, so the
            // maximum must leave room for it.
            (Some(size), Some(max), _) if max <= size => Some(format!(
                "{max} is not greater than cluster_size {size}; raise cluster_max_size to at least \
                 {} (rolling updates replace one host at a time above cluster_size) or lower cluster_size",
                size + 1
            )),
            (Some(size), None, _) if DEFAULT_CLUSTER_MAX_SIZE <= size => Some(format!(
                "the default {DEFAULT_CLUSTER_MAX_SIZE} is not greater than cluster_size {size}; set \
                 cluster_max_size to at least {}",
                size + 1
            )),
            (None, Some(max), Some(env)) if max <= default_cluster_size(env) => Some(format!(
                "{max} is not greater than cluster_size's default of {} in {env}; raise \
                 cluster_max_size or set cluster_size for {env}",
                default_cluster_size(env)
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            issues.push(Issue::new("cluster_max_size", problem));
        }
    }
    issues
}

/// The `ecs-ec2` compute backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct EcsEc2;

impl Backend for EcsEc2 {
    fn manifest(&self) -> Manifest {
        Manifest {
            id: ID.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            role: Role::Compute,
            protocol: PROTOCOL_VERSION.to_string(),
            description: "ECS cluster on an auto-scaling group of EC2 container instances"
                .to_string(),
            stack_suffix: STACK_SUFFIX.to_string(),
            features: Vec::new(),
        }
    }

    /// Checks the keys, their types, ranges and formats, and `cluster_max_size` against
    /// `cluster_size` where both are known without the environment (`plan_compute` also checks
    /// `cluster_max_size` against the environment's default `cluster_size`).
    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        issues(settings, None)
    }
}

impl Compute for EcsEc2 {
    fn plan_compute(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        let env = req.environment.name.as_str();
        settings::refuse_invalid(Role::Compute, ID, env, &issues(&req.settings, Some(env)))?;
        let s = EcsEc2Settings::resolve(&req.settings, env);
        let parameters = BTreeMap::from([
            ("Environment".to_string(), env.to_string()),
            (
                "FoundationStackName".to_string(),
                req.stacks.foundation.clone(),
            ),
            ("InstanceType".to_string(), s.instance_type.clone()),
            ("ClusterSize".to_string(), s.cluster_size.to_string()),
            ("ClusterMaxSize".to_string(), s.cluster_max_size.to_string()),
            (
                "KeyName".to_string(),
                req.riglet.key_name.clone().unwrap_or_default(),
            ),
            ("EcsAmiParameter".to_string(), s.ami_parameter.clone()),
            ("AmiOverride".to_string(), s.ami.clone().unwrap_or_default()),
        ]);
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: Role::Compute,
            template_file: TEMPLATE_FILE.to_string(),
            template_body: TEMPLATE.to_string(),
            parameters,
            tags: req.tags.clone(),
            capabilities: vec![Capability::CapabilityIam],
            depends_on: vec![req.stacks.foundation.clone()],
            outputs: OUTPUTS.iter().map(|o| o.to_string()).collect(),
            probes: vec![HealthProbe::EcsCluster {
                cluster_output: "ClusterName".to_string(),
                capacity: EcsCapacity::Ec2 {
                    min_instances: u32::try_from(s.cluster_size).unwrap_or(1),
                },
            }],
            secrets: Vec::new(),
            before_delete: Default::default(),
        }])
    }
}

rig_core::export_plugin!(compute, EcsEc2);

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::{sample_env_request, settings, validation_messages};
    use serde_json::json;

    fn messages(v: serde_json::Value) -> Vec<String> {
        validation_messages(&EcsEc2, v)
    }

    fn one(v: serde_json::Value) -> String {
        let m = messages(v);
        assert_eq!(m.len(), 1, "{m:?}");
        m[0].clone()
    }

    fn plan(env: &str, v: serde_json::Value) -> Result<StackPlan, PluginError> {
        EcsEc2
            .plan_compute(&sample_env_request(env, STACK_SUFFIX, settings(v)))
            .map(|mut plans| {
                assert_eq!(plans.len(), 1);
                plans.remove(0)
            })
    }

    #[test]
    fn manifest_describes_the_backend() {
        let m = EcsEc2.manifest();
        assert_eq!(m.id, "ecs-ec2");
        assert_eq!(m.role, Role::Compute);
        assert_eq!(m.stack_suffix, "compute-ecs");
        assert_eq!(m.protocol, PROTOCOL_VERSION);
        assert!(m.features.is_empty());
    }

    #[test]
    fn good_settings_pass() {
        assert!(messages(json!({})).is_empty());
        assert!(messages(json!({
            "cluster_size": 3, "cluster_max_size": 6, "instance_type": "m7g.large",
            "ami": "ami-0123456789abcdef0"
        }))
        .is_empty());
        assert!(messages(json!({"ami": "ami-12345678"})).is_empty());
        assert!(messages(json!({"ami_parameter": "/acme/shop/ecs-ami"})).is_empty());
    }

    #[test]
    fn unknown_key_names_the_known_ones() {
        let m = one(json!({"clustersize": 2}));
        assert!(
            m.contains(
                "`clustersize`: unknown setting; known settings are: cluster_size, \
                        cluster_max_size, instance_type, ami, ami_parameter"
            ),
            "{m}"
        );
    }

    #[test]
    fn sizes_out_of_range_or_wrong_type() {
        assert!(one(json!({"cluster_size": 0}))
            .contains("`cluster_size`: 0 is out of range, expected 1–100"));
        assert!(one(json!({"cluster_max_size": 101}))
            .contains("`cluster_max_size`: 101 is out of range"));
        assert!(
            one(json!({"cluster_size": "2"})).contains("`cluster_size`: expected a whole number")
        );
        assert!(one(json!({"cluster_size": 1.5})).contains("expected a whole number"));
    }

    #[test]
    fn max_size_below_size() {
        let m = one(json!({"cluster_size": 3, "cluster_max_size": 2}));
        assert!(
            m.contains("`cluster_max_size`: 2 is not greater than cluster_size 3"),
            "{m}"
        );
        let m = one(json!({"cluster_size": 3, "cluster_max_size": 3}));
        assert!(m.contains("raise cluster_max_size to at least 4"), "{m}");
        let m = one(json!({"cluster_size": 4}));
        assert!(
            m.contains("the default 4 is not greater than cluster_size 4"),
            "{m}"
        );
    }

    #[test]
    fn max_size_below_the_environment_default_fails_only_at_plan() {
        let st = json!({"cluster_max_size": 2});
        assert!(messages(st.clone()).is_empty());
        assert!(plan("integration", st.clone()).is_ok());
        let Err(PluginError::InvalidInput(m)) = plan("production", st) else {
            panic!("cluster_max_size 2 must be refused in production")
        };
        assert!(
            m.contains("2 is not greater than cluster_size's default of 2 in production"),
            "{m}"
        );
    }

    #[test]
    fn bad_instance_type() {
        let m = one(json!({"instance_type": "t3-small"}));
        assert!(
            m.contains("`instance_type`: `t3-small` is not an EC2 instance type"),
            "{m}"
        );
    }

    #[test]
    fn bad_ami_and_ami_parameter() {
        let m = one(json!({"ami": "ami-123"}));
        assert!(m.contains("`ami`: `ami-123` is not an AMI id"), "{m}");
        assert!(one(json!({"ami": "ami-0123456789ABCDEF0"})).contains("lowercase hex"));
        let m = one(json!({"ami_parameter": "aws/service/x"}));
        assert!(
            m.contains("`ami_parameter`: `aws/service/x` is not a full SSM parameter name"),
            "{m}"
        );
        // An environment may pin an AMI while the base table names a parameter: the pin wins.
        assert!(messages(json!({"ami": "ami-12345678", "ami_parameter": "/acme/ami"})).is_empty());
    }

    #[test]
    fn defaults_follow_the_seed() {
        for (env, size) in [
            ("integration", "1"),
            ("staging", "2"),
            ("production", "2"),
            ("qa", "2"),
        ] {
            let p = plan(env, json!({})).unwrap();
            assert_eq!(p.parameters["ClusterSize"], size, "{env}");
            assert_eq!(p.parameters["ClusterMaxSize"], "4");
            assert_eq!(p.parameters["InstanceType"], "t3.small");
            assert_eq!(p.parameters["EcsAmiParameter"], DEFAULT_AMI_PARAMETER);
            assert_eq!(p.parameters["AmiOverride"], "");
            assert_eq!(p.parameters["KeyName"], "");
        }
    }

    #[test]
    fn plan_wires_the_stack() {
        let mut req = sample_env_request(
            "staging",
            STACK_SUFFIX,
            settings(json!({"cluster_size": 3})),
        );
        req.riglet.key_name = Some("ops".to_string());
        let p = EcsEc2.plan_compute(&req).unwrap().remove(0);
        assert_eq!(p.name, "acme-shop-staging-compute-ecs");
        assert_eq!(p.template_file, "ecs-ec2.yaml");
        assert_eq!(p.template_body, TEMPLATE);
        assert_eq!(p.parameters["KeyName"], "ops");
        assert_eq!(
            p.parameters["FoundationStackName"],
            "acme-shop-staging-foundation"
        );
        assert_eq!(p.parameters.len(), 8);
        assert_eq!(
            p.depends_on,
            vec!["acme-shop-staging-foundation".to_string()]
        );
        assert_eq!(p.capabilities, vec![Capability::CapabilityIam]);
        assert_eq!(p.tags, req.tags);
        assert_eq!(
            p.probes,
            vec![HealthProbe::EcsCluster {
                cluster_output: "ClusterName".into(),
                capacity: EcsCapacity::Ec2 { min_instances: 3 },
            }]
        );
        assert!(p.secrets.is_empty());
    }

    #[test]
    fn plan_refuses_invalid_settings() {
        let Err(PluginError::InvalidInput(m)) = plan("integration", json!({"cluster_size": 0}))
        else {
            panic!("invalid settings must not produce a plan")
        };
        assert!(m.contains("`cluster_size`: 0 is out of range"), "{m}");
    }

    #[test]
    fn template_declares_every_parameter_passed() {
        let p = plan("integration", json!({})).unwrap();
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
