//! `rds-postgres`: a rig database backend maintained outside rig.
//!
//! It plans one stack, `<owner>-<project>-<env>-db-postgres`, holding a single-AZ Amazon RDS for
//! PostgreSQL instance in the environment's database subnets. Only the application security
//! group may reach it (port 5432), under the private name `postgres.<project>.internal`. RDS
//! keeps the master password in Secrets Manager, so no secret ever passes through rig.
//!
//! Settings (the `[database]` table of `rig.toml`, overlaid per environment):
//! - `instance_class`: RDS instance class, default `db.t4g.micro`;
//! - `storage_gib`: allocated storage in GiB, 20–65536, default 20.
//!
//! The plugin depends on `rig-core` only and exports itself with [`rig_core::export_plugin!`].

use std::collections::BTreeMap;

use rig_core::settings::{self, Key, Kind};
use rig_core::{
    Backend, Database, EnvRequest, Issue, Manifest, PluginError, Role, Settings, StackPlan,
    PROTOCOL_VERSION,
};

/// The CloudFormation template this backend deploys.
pub const TEMPLATE: &str = include_str!("../template.yaml");

/// Default RDS instance class.
pub const DEFAULT_INSTANCE_CLASS: &str = "db.t4g.micro";
/// Default allocated storage, in GiB.
pub const DEFAULT_STORAGE_GIB: i64 = 20;

fn check_instance_class(class: &str) -> Result<(), String> {
    let mut parts = class.split('.');
    let well_formed = parts.next() == Some("db")
        && parts.next().is_some_and(is_token)
        && parts.next().is_some_and(is_token)
        && parts.next().is_none();
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "`{class}` is not an RDS instance class; use one like `db.t4g.micro` or `db.m7g.large`"
        ))
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

const KEYS: &[Key] = &[
    Key {
        name: "instance_class",
        kind: Kind::StrWith {
            check: check_instance_class,
        },
        help: "the RDS instance class, default db.t4g.micro",
    },
    Key {
        name: "storage_gib",
        kind: Kind::Int {
            min: 20,
            max: 65536,
        },
        help: "allocated storage in GiB, default 20",
    },
];

/// The backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct RdsPostgres;

impl Backend for RdsPostgres {
    fn manifest(&self) -> Manifest {
        Manifest {
            id: "rds-postgres".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            role: Role::Database,
            protocol: PROTOCOL_VERSION.into(),
            description: "Single-AZ Amazon RDS for PostgreSQL 16 (third-party example)".into(),
            stack_suffix: "db-postgres".into(),
            features: Vec::new(),
        }
    }

    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        settings::check(settings, KEYS)
    }
}

impl Database for RdsPostgres {
    fn plan_database(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        let issues = self.validate(&req.settings);
        if !issues.is_empty() {
            let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
            return Err(PluginError::InvalidInput(format!(
                "[database] settings of environment `{}`: {}",
                req.environment.name,
                text.join("; ")
            )));
        }
        let s = &req.settings;
        let parameters = BTreeMap::from([
            ("Environment".to_string(), req.environment.name.clone()),
            (
                "FoundationStackName".to_string(),
                req.stacks.foundation.clone(),
            ),
            ("ProjectName".to_string(), req.riglet.project.clone()),
            (
                "InstanceClass".to_string(),
                settings::string(s, "instance_class", DEFAULT_INSTANCE_CLASS),
            ),
            (
                "StorageGib".to_string(),
                settings::int(s, "storage_gib", DEFAULT_STORAGE_GIB).to_string(),
            ),
        ]);
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: Role::Database,
            template_file: "rds-postgres.yaml".into(),
            template_body: TEMPLATE.into(),
            parameters,
            tags: req.tags.clone(),
            capabilities: Vec::new(),
            depends_on: vec![req.stacks.foundation.clone()],
            outputs: vec![
                "InstanceIdentifier".into(),
                "Endpoint".into(),
                "InternalDnsName".into(),
            ],
            // rig-core has no probe for a plain RDS instance; CloudFormation's own status is
            // the readiness signal.
            probes: Vec::new(),
            secrets: Vec::new(),
            before_delete: Default::default(),
        }])
    }
}

rig_core::export_plugin!(database, RdsPostgres);

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::{sample_env_request, settings};
    use serde_json::json;

    fn request(v: serde_json::Value) -> EnvRequest {
        sample_env_request("staging", "db-postgres", settings(v))
    }

    #[test]
    fn plans_one_stack_with_defaults() {
        let plans = RdsPostgres.plan_database(&request(json!({}))).unwrap();
        assert_eq!(plans.len(), 1);
        let p = &plans[0];
        assert_eq!(p.name, "acme-shop-staging-db-postgres");
        assert!(p.template_body.contains("AWS::RDS::DBInstance"));
        assert_eq!(p.parameters["InstanceClass"], "db.t4g.micro");
        assert_eq!(p.parameters["StorageGib"], "20");
        assert_eq!(
            p.parameters["FoundationStackName"],
            "acme-shop-staging-foundation"
        );
        assert_eq!(
            p.depends_on,
            vec!["acme-shop-staging-foundation".to_string()]
        );
    }

    #[test]
    fn settings_are_checked() {
        let issues = RdsPostgres.validate(
            json!({"instance_class": "t3.micro", "storage_gib": 5, "colour": "red"})
                .as_object()
                .unwrap(),
        );
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(issues.len(), 3, "{issues:?}");
        for k in ["instance_class", "storage_gib", "colour"] {
            assert!(keys.contains(&k), "{issues:?}");
        }
        let err = RdsPostgres
            .plan_database(&request(json!({"storage_gib": 5})))
            .unwrap_err();
        assert!(err.to_string().contains("storage_gib"), "{err}");
    }

    #[test]
    fn template_declares_what_the_plan_passes() {
        let plan = &RdsPostgres.plan_database(&request(json!({}))).unwrap()[0];
        for key in plan.parameters.keys().chain(plan.outputs.iter()) {
            assert!(
                TEMPLATE.contains(&format!("  {key}:")),
                "{key} missing from template"
            );
        }
    }
}
