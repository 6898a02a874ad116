//! # rig-plugin-couchdb: CouchDB 3 on one EC2 instance
//!
//! The `couchdb` database backend plans the stack `<owner>-<project>-<env>-db-couch` from
//! `templates/couchdb.yaml`: one Amazon Linux 2023 instance in the foundation's database subnet A
//! running CouchDB 3 with its data on a separate encrypted volume, a nightly backup to the bucket
//! `rig-<owner>-<project>-<region>-db-couch-backup-<env>`, reachable as
//! `couch.<project>.internal:5984`.
//!
//! Settings (`[database.couchdb]`, overlaid with the environment's table):
//!
//! | key | type | default |
//! |---|---|---|
//! | `instance_type` | EC2 instance type, like `t3.small` | `t3.small` |
//! | `data_volume_gib` | integer 10–16384: size of the data volume in GiB | 20 |
//! | `ami_parameter` | SSM parameter holding the AMI id | [`DEFAULT_AMI_PARAMETER`] |
//!
//! The plan asks the host for the secret `COUCHDB_ADMIN_PASSWORD` at
//! `<ssm_prefix>/env/<env>/db/COUCHDB_ADMIN_PASSWORD`, which the instance reads at boot.
//! The instance type and AMI parameter checks are those of `rig-plugin-ecs-ec2`
//! (its `src/ec2_checks.rs`, compiled in here with `#[path]`). The plugin is pure: it performs
//! no I/O.

use std::collections::BTreeMap;

use rig_core::names::{validate_bucket_name, validate_ssm_path, RigletNames};
use rig_core::settings::{self, Key, Kind};
use rig_core::{
    Backend, Capability, Database, EnvRequest, HealthProbe, Issue, Manifest, PluginError, Role,
    SecretRequirement, Settings, StackPlan, PROTOCOL_VERSION,
};

#[path = "../../ecs-ec2/src/ec2_checks.rs"]
mod ec2_checks;

/// The backend id users select (`--database couchdb`).
pub const ID: &str = "couchdb";
/// Suffix of the stack this backend owns.
pub const STACK_SUFFIX: &str = "db-couch";
/// File name of the template.
pub const TEMPLATE_FILE: &str = "couchdb.yaml";
/// The CloudFormation template, embedded at build time.
pub const TEMPLATE: &str = include_str!("../../../templates/couchdb.yaml");
/// The SSM parameter of the latest Amazon Linux 2023 AMI (x86_64).
pub const DEFAULT_AMI_PARAMETER: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
/// Default instance type.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.small";
/// Default size of the data volume in GiB.
pub const DEFAULT_DATA_VOLUME_GIB: i64 = 20;
/// Name of the admin password secret.
pub const SECRET_NAME: &str = "COUCHDB_ADMIN_PASSWORD";
/// Kind of the backup bucket in the riglet's bucket names.
pub const BACKUP_BUCKET_KIND: &str = "db-couch-backup";
/// Output keys the stack promises (templates/README.md).
pub const OUTPUTS: &[&str] = &[
    "InstanceId",
    "InternalDnsName",
    "BackupBucket",
    "Port",
    "DatabaseSecurityGroup",
];

/// The settings this backend knows.
pub const KEYS: &[Key] = &[
    Key {
        name: "instance_type",
        kind: Kind::StrWith {
            check: ec2_checks::instance_type,
        },
        help: "EC2 instance type of the CouchDB host; default t3.small",
    },
    Key {
        name: "data_volume_gib",
        kind: Kind::Int {
            min: 10,
            max: 16384,
        },
        help: "size of the encrypted gp3 data volume in GiB; default 20",
    },
    Key {
        name: "ami_parameter",
        kind: Kind::StrWith {
            check: ec2_checks::ami_parameter,
        },
        help: "SSM parameter holding the AMI id; default the latest Amazon Linux 2023 (x86_64)",
    },
];

/// The `couchdb` database backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct CouchDb;

impl Backend for CouchDb {
    fn manifest(&self) -> Manifest {
        Manifest {
            id: ID.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            role: Role::Database,
            protocol: PROTOCOL_VERSION.to_string(),
            description: "CouchDB 3 on one EC2 instance with nightly backups to S3".to_string(),
            stack_suffix: STACK_SUFFIX.to_string(),
            features: Vec::new(),
        }
    }

    /// Checks the keys, their types, ranges and formats.
    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        settings::check(settings, KEYS)
    }
}

impl Database for CouchDb {
    fn plan_database(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        let env = req.environment.name.as_str();
        settings::refuse_invalid(Role::Database, ID, env, &self.validate(&req.settings))?;
        let names = RigletNames::new(&req.riglet.owner, &req.riglet.project, &req.riglet.region);
        let bucket = names.bucket(BACKUP_BUCKET_KIND, Some(env));
        validate_bucket_name(&bucket).map_err(|e| {
            PluginError::InvalidInput(format!(
                "{e}; the backup bucket is named after the owner, project, region and \
                 environment, so shorten or fix those"
            ))
        })?;
        let password_path = format!("{}/env/{env}/db/{SECRET_NAME}", req.riglet.ssm_prefix);
        validate_ssm_path(&password_path).map_err(|e| {
            PluginError::InvalidInput(format!(
                "{e}; the admin password lives under the riglet's SSM prefix `{}`, so fix the \
                 prefix or the environment name",
                req.riglet.ssm_prefix
            ))
        })?;

        let s = &req.settings;
        let parameters = BTreeMap::from([
            ("Environment".to_string(), env.to_string()),
            (
                "FoundationStackName".to_string(),
                req.stacks.foundation.clone(),
            ),
            ("ProjectName".to_string(), req.riglet.project.clone()),
            (
                "InstanceType".to_string(),
                settings::string(s, "instance_type", DEFAULT_INSTANCE_TYPE),
            ),
            (
                "KeyName".to_string(),
                req.riglet.key_name.clone().unwrap_or_default(),
            ),
            (
                "AmiParameter".to_string(),
                settings::string(s, "ami_parameter", DEFAULT_AMI_PARAMETER),
            ),
            (
                "DataVolumeSize".to_string(),
                settings::int(s, "data_volume_gib", DEFAULT_DATA_VOLUME_GIB).to_string(),
            ),
            ("BackupBucketName".to_string(), bucket),
            ("AdminPasswordParameter".to_string(), password_path.clone()),
        ]);
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: Role::Database,
            template_file: TEMPLATE_FILE.to_string(),
            template_body: TEMPLATE.to_string(),
            parameters,
            tags: req.tags.clone(),
            capabilities: vec![Capability::CapabilityIam],
            depends_on: vec![req.stacks.foundation.clone()],
            outputs: OUTPUTS.iter().map(|o| o.to_string()).collect(),
            probes: vec![HealthProbe::Ec2Instance {
                instance_output: "InstanceId".to_string(),
            }],
            secrets: vec![SecretRequirement {
                name: SECRET_NAME.to_string(),
                ssm_path: password_path,
                description: format!("CouchDB admin password for {env}"),
                min_length: 8,
                forbidden_chars: "\"\\ '".to_string(),
                max_length: None,
            }],
            before_delete: Default::default(),
        }])
    }
}

rig_core::export_plugin!(database, CouchDb);

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::{sample_env_request, settings, validation_messages};
    use serde_json::json;

    fn messages(v: serde_json::Value) -> Vec<String> {
        validation_messages(&CouchDb, v)
    }

    fn one(v: serde_json::Value) -> String {
        let m = messages(v);
        assert_eq!(m.len(), 1, "{m:?}");
        m[0].clone()
    }

    fn plan(env: &str, v: serde_json::Value) -> Result<StackPlan, PluginError> {
        CouchDb
            .plan_database(&sample_env_request(env, STACK_SUFFIX, settings(v)))
            .map(|mut p| p.remove(0))
    }

    #[test]
    fn manifest_describes_the_backend() {
        let m = CouchDb.manifest();
        assert_eq!(m.id, "couchdb");
        assert_eq!(m.role, Role::Database);
        assert_eq!(m.stack_suffix, "db-couch");
        assert_eq!(m.protocol, PROTOCOL_VERSION);
    }

    #[test]
    fn good_settings_pass() {
        assert!(messages(json!({})).is_empty());
        assert!(messages(json!({
            "instance_type": "r7g.large", "data_volume_gib": 16384,
            "ami_parameter": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
        }))
        .is_empty());
    }

    #[test]
    fn unknown_key_names_the_known_ones() {
        let m = one(json!({"volume": 30}));
        assert_eq!(
            m,
            "`volume`: unknown setting; known settings are: instance_type, data_volume_gib, ami_parameter"
        );
    }

    #[test]
    fn volume_out_of_range_or_wrong_type() {
        assert!(one(json!({"data_volume_gib": 9}))
            .contains("`data_volume_gib`: 9 is out of range, expected 10–16384"));
        assert!(one(json!({"data_volume_gib": 16385})).contains("16385 is out of range"));
        assert!(one(json!({"data_volume_gib": "20"})).contains("expected a whole number"));
    }

    #[test]
    fn bad_instance_type_and_ami_parameter() {
        assert!(one(json!({"instance_type": "small"}))
            .contains("`instance_type`: `small` is not an EC2 instance type"));
        assert!(one(json!({"ami_parameter": "al2023"}))
            .contains("`ami_parameter`: `al2023` is not a full SSM parameter name"));
    }

    #[test]
    fn plan_wires_the_stack() {
        let p = plan("production", json!({"data_volume_gib": 100})).unwrap();
        assert_eq!(p.name, "acme-shop-production-db-couch");
        assert_eq!(p.template_file, "couchdb.yaml");
        assert_eq!(p.parameters.len(), 9);
        assert_eq!(p.parameters["DataVolumeSize"], "100");
        assert_eq!(p.parameters["InstanceType"], "t3.small");
        assert_eq!(p.parameters["AmiParameter"], DEFAULT_AMI_PARAMETER);
        assert_eq!(p.parameters["KeyName"], "");
        assert_eq!(p.parameters["ProjectName"], "shop");
        assert_eq!(
            p.parameters["BackupBucketName"],
            "rig-acme-shop-us-east-1-db-couch-backup-production"
        );
        assert_eq!(p.capabilities, vec![Capability::CapabilityIam]);
        assert_eq!(
            p.depends_on,
            vec!["acme-shop-production-foundation".to_string()]
        );
        assert_eq!(
            p.probes,
            vec![HealthProbe::Ec2Instance {
                instance_output: "InstanceId".into()
            }]
        );
        let path = "/acme/shop/env/production/db/COUCHDB_ADMIN_PASSWORD";
        assert_eq!(p.parameters["AdminPasswordParameter"], path);
        assert_eq!(
            p.secrets,
            vec![SecretRequirement {
                name: "COUCHDB_ADMIN_PASSWORD".into(),
                ssm_path: path.into(),
                description: "CouchDB admin password for production".into(),
                min_length: 8,
                forbidden_chars: "\"\\ '".into(),
                max_length: None,
            }]
        );
    }

    #[test]
    fn plan_refuses_invalid_settings() {
        let Err(PluginError::InvalidInput(m)) = plan("staging", json!({"data_volume_gib": 1}))
        else {
            panic!("invalid settings must not produce a plan")
        };
        assert!(m.contains("`data_volume_gib`: 1 is out of range"), "{m}");
    }

    #[test]
    fn too_long_bucket_name_is_refused() {
        let mut req = sample_env_request("staging", STACK_SUFFIX, Settings::new());
        req.riglet.owner = "a-very-long-owner-name".to_string();
        let Err(PluginError::InvalidInput(m)) = CouchDb.plan_database(&req) else {
            panic!("a bucket name over 63 characters must be refused")
        };
        assert!(
            m.contains("S3 bucket name") && m.contains("3–63 characters"),
            "{m}"
        );
        assert!(m.contains("shorten or fix"), "{m}");
    }

    #[test]
    fn bad_ssm_prefix_is_refused() {
        let mut req = sample_env_request("staging", STACK_SUFFIX, Settings::new());
        req.riglet.ssm_prefix = "acme/shop".to_string();
        let Err(PluginError::InvalidInput(m)) = CouchDb.plan_database(&req) else {
            panic!("a relative SSM prefix must be refused")
        };
        assert!(
            m.contains("must start with `/`") && m.contains("fix the prefix"),
            "{m}"
        );
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
