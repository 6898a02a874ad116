//! # rig-plugin-aurora-provisioned: Aurora MySQL 3 on provisioned instances
//!
//! The `aurora-provisioned` database backend plans the stack `<owner>-<project>-<env>-db-aurora`
//! from `templates/aurora-provisioned.yaml`: an encrypted Aurora MySQL 3 cluster in the
//! foundation's database subnets with a writer instance and, in production, a reader, reachable
//! as `aurora.<project>.internal`.
//!
//! Settings (`[database.aurora-provisioned]`, overlaid with the environment's table):
//!
//! | key | type | default |
//! |---|---|---|
//! | `database_name` | a letter, then up to 63 letters, digits, `_` | the project, `-` → `_` |
//! | `instance_class` | RDS instance class, like `db.t4g.medium` | `db.t4g.medium` |
//! | `replicas` | integer 0–1: reader instances | 1 in production, else 0 |
//! | `backup_retention_days` | integer 1–35 | integration 1, staging 5, production 14, others 1 |
//! | `deletion_protection` | boolean | true in production |
//! | `master_password` | `ssm` (rig keeps it in SSM) or `managed` (RDS, Secrets Manager) | `ssm` |
//! | `master_username` | 1–16 characters, a letter first, letters, digits, `_` | `admin` |
//! | `engine_version` | Aurora MySQL 3, `8.0.mysql_aurora.3.<NN>.<patch>` | `8.0.mysql_aurora.3.08.0` |
//!
//! "Production" means an environment the host marks as production-grade. With
//! `master_password = "ssm"` the plan asks the host for the secret `DB_MASTER_PASSWORD` at
//! `<ssm_prefix>/env/<env>/db/DB_MASTER_PASSWORD`.
//!
//! Everything but `instance_class` is shared with `rig-plugin-aurora-serverless` through the
//! module `aurora_common` (this crate's `src/aurora_common.rs`, which that crate compiles in with
//! `#[path]`). The plugin is pure: it performs no I/O.

use rig_core::settings::{self, Key, Kind};
use rig_core::{Backend, Database, EnvRequest, Issue, Manifest, PluginError, Settings, StackPlan};

mod aurora_common;

use aurora_common::Flavour;

/// The backend id users select (`--database aurora-provisioned`).
pub const ID: &str = "aurora-provisioned";
/// File name of the template.
pub const TEMPLATE_FILE: &str = "aurora-provisioned.yaml";
/// The CloudFormation template, embedded at build time.
pub const TEMPLATE: &str = include_str!("../../../templates/aurora-provisioned.yaml");
/// Default RDS instance class of the writer and the reader.
pub const DEFAULT_INSTANCE_CLASS: &str = "db.t4g.medium";

/// The settings of this backend only (the common Aurora ones come first).
const KEYS: &[Key] = &[Key {
    name: "instance_class",
    kind: Kind::StrWith {
        check: instance_class,
    },
    help: "RDS instance class of the writer and the reader; default db.t4g.medium",
}];

/// Checks an RDS instance class: `db.`, a family and a size, like `db.r6g.large`.
fn instance_class(s: &str) -> Result<(), String> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let ok = s
        .strip_prefix("db.")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(family, size)| part_ok(family) && part_ok(size));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not an RDS instance class; write it as db.family.size, like `db.t4g.medium` \
             or `db.r6g.large`"
        ))
    }
}

fn no_checks(_: &Settings, _: &[Issue]) -> Vec<Issue> {
    Vec::new()
}

fn parameters(settings: &Settings) -> Vec<(&'static str, String)> {
    vec![(
        "InstanceClass",
        settings::string(settings, "instance_class", DEFAULT_INSTANCE_CLASS),
    )]
}

/// This backend as the shared Aurora code sees it.
pub(crate) const FLAVOUR: Flavour = Flavour {
    id: ID,
    description: "Aurora MySQL 3 cluster on provisioned instances, with a reader in production",
    template_file: TEMPLATE_FILE,
    template_body: TEMPLATE,
    keys: KEYS,
    checks: no_checks,
    parameters,
};

/// The `aurora-provisioned` database backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuroraProvisioned;

impl Backend for AuroraProvisioned {
    fn manifest(&self) -> Manifest {
        aurora_common::manifest(&FLAVOUR)
    }

    /// Checks the keys, their types, ranges and formats.
    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        aurora_common::validate(&FLAVOUR, settings)
    }
}

impl Database for AuroraProvisioned {
    fn plan_database(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        aurora_common::plan(&FLAVOUR, req)
    }
}

rig_core::export_plugin!(database, AuroraProvisioned);

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::{sample_env_request, settings};
    use serde_json::json;

    #[test]
    fn instance_class_default_and_override() {
        let req = sample_env_request("integration", "db-aurora", Settings::new());
        let p = AuroraProvisioned.plan_database(&req).unwrap().remove(0);
        assert_eq!(p.parameters["InstanceClass"], "db.t4g.medium");
        assert_eq!(p.parameters.len(), 12);
        let req = sample_env_request(
            "integration",
            "db-aurora",
            settings(json!({"instance_class": "db.r6g.large"})),
        );
        let p = AuroraProvisioned.plan_database(&req).unwrap().remove(0);
        assert_eq!(p.parameters["InstanceClass"], "db.r6g.large");
    }

    #[test]
    fn bad_instance_class() {
        for bad in [
            "t4g.medium",
            "db.t4g",
            "db.T4G.medium",
            "db..medium",
            "db.t4g.medium.x",
        ] {
            let issues = AuroraProvisioned.validate(&settings(json!({ "instance_class": bad })));
            assert_eq!(issues.len(), 1, "{bad}: {issues:?}");
            assert_eq!(issues[0].key, "instance_class");
            assert!(
                issues[0].message.contains("is not an RDS instance class"),
                "{issues:?}"
            );
        }
    }

    #[test]
    fn serverless_keys_are_unknown_here() {
        let issues = AuroraProvisioned.validate(&settings(json!({"min_capacity": 1})));
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("unknown setting"), "{issues:?}");
        assert!(
            issues[0]
                .message
                .ends_with("engine_version, instance_class"),
            "{issues:?}"
        );
    }
}
