//! # rig-plugin-aurora-serverless: Aurora MySQL 3 Serverless v2
//!
//! The `aurora-serverless` database backend plans the stack `<owner>-<project>-<env>-db-aurora`
//! from `templates/aurora-serverless.yaml`: an encrypted Aurora MySQL 3 cluster whose writer (and,
//! in production, reader) are `db.serverless` instances scaling between `min_capacity` and
//! `max_capacity` Aurora capacity units (ACU), reachable as `aurora.<project>.internal`.
//!
//! Settings (`[database.aurora-serverless]`, overlaid with the environment's table):
//!
//! | key | type | default |
//! |---|---|---|
//! | `database_name` | a letter, then up to 63 letters, digits, `_` | the project, `-` → `_` |
//! | `min_capacity` | ACU 0–256 in steps of 0.5 (0 pauses an idle cluster) | 0.5 |
//! | `max_capacity` | ACU 1–256 in steps of 0.5, at least `min_capacity` | 4 |
//! | `replicas` | integer 0–1: reader instances | 1 in production, else 0 |
//! | `backup_retention_days` | integer 1–35 | integration 1, staging 5, production 14, others 1 |
//! | `deletion_protection` | boolean | true in production |
//! | `master_password` | `ssm` (rig keeps it in SSM) or `managed` (RDS, Secrets Manager) | `ssm` |
//! | `master_username` | 1–16 characters, a letter first, letters, digits, `_` | `admin` |
//! | `engine_version` | Aurora MySQL 3, `8.0.mysql_aurora.3.<NN>.<patch>` (3.08 or later for 0 ACU) | `8.0.mysql_aurora.3.08.0` |
//!
//! Everything but the capacities is shared with `rig-plugin-aurora-provisioned`: this crate
//! compiles that crate's `src/aurora_common.rs` in as its own module with
//! `#[path = "../../aurora-provisioned/src/aurora_common.rs"] mod aurora_common;`, so the common
//! settings, checks, parameters, secret and plan exist once. The plugin is pure: it performs
//! no I/O.

use rig_core::settings::{self, Key, Kind};
use rig_core::{Backend, Database, EnvRequest, Issue, Manifest, PluginError, Settings, StackPlan};

#[path = "../../aurora-provisioned/src/aurora_common.rs"]
mod aurora_common;

use aurora_common::Flavour;

/// The backend id users select (`--database aurora-serverless`).
pub const ID: &str = "aurora-serverless";
/// File name of the template.
pub const TEMPLATE_FILE: &str = "aurora-serverless.yaml";
/// The CloudFormation template, embedded at build time.
pub const TEMPLATE: &str = include_str!("../../../templates/aurora-serverless.yaml");
/// Default minimum capacity in ACU.
pub const DEFAULT_MIN_CAPACITY: f64 = 0.5;
/// Default maximum capacity in ACU.
pub const DEFAULT_MAX_CAPACITY: f64 = 4.0;

/// The settings of this backend only (the common Aurora ones come first).
const KEYS: &[Key] = &[
    Key {
        name: "min_capacity",
        kind: Kind::Float {
            min: 0.0,
            max: 256.0,
        },
        help:
            "fewest Aurora capacity units, in steps of 0.5; 0 pauses an idle cluster; default 0.5",
    },
    Key {
        name: "max_capacity",
        kind: Kind::Float {
            min: 1.0,
            max: 256.0,
        },
        help: "most Aurora capacity units, in steps of 0.5, at least min_capacity; default 4",
    },
];

/// The first Aurora MySQL 3 release (minor) that scales to 0 ACU.
const AUTO_PAUSE_MINOR: u32 = 8;

/// Formats a capacity plainly: `0.5`, `4`, `12.5` (and `0`, never `-0`).
fn number(v: f64) -> String {
    format!("{}", v + 0.0)
}

/// The Aurora MySQL 3 minor release of an engine version (`8` for `8.0.mysql_aurora.3.08.0`).
fn engine_minor(version: &str) -> Option<u32> {
    version
        .strip_prefix(aurora_common::ENGINE_VERSION_PREFIX)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The capacity rules: 0.5-ACU steps, max ≥ min, and 0 ACU only on an engine that supports it.
fn checks(s: &Settings, found: &[Issue]) -> Vec<Issue> {
    let has_issue = |key: &str| found.iter().any(|i| i.key == key);
    let mut issues = Vec::new();
    for key in ["min_capacity", "max_capacity"] {
        if let Some(v) = s.get(key).and_then(|v| v.as_f64()) {
            if !has_issue(key) && (v * 2.0).fract() != 0.0 {
                let nearest = number((v * 2.0).round() / 2.0);
                issues.push(Issue::new(
                    key,
                    format!(
                        "{v} is not a multiple of 0.5; Aurora scales in steps of 0.5 ACU, so use \
                         a value like {nearest}"
                    ),
                ));
            }
        }
    }
    let bad = |key: &str| has_issue(key) || issues.iter().any(|i: &Issue| i.key == key);
    if bad("min_capacity") || bad("max_capacity") || bad("engine_version") {
        return issues;
    }
    let min = settings::float(s, "min_capacity", DEFAULT_MIN_CAPACITY);
    let max = settings::float(s, "max_capacity", DEFAULT_MAX_CAPACITY);
    if max < min {
        let origin = if s.contains_key("max_capacity") {
            ""
        } else {
            "the default "
        };
        issues.push(Issue::new(
            "max_capacity",
            format!(
                "{origin}{} is less than min_capacity {}; raise max_capacity to at least {} or \
                 lower min_capacity",
                number(max),
                number(min),
                number(min)
            ),
        ));
    }
    let engine = settings::string(s, "engine_version", aurora_common::DEFAULT_ENGINE_VERSION);
    if min == 0.0 && engine_minor(&engine).is_some_and(|m| m < AUTO_PAUSE_MINOR) {
        issues.push(Issue::new(
            "min_capacity",
            format!(
                "0 ACU needs Aurora MySQL 3.08 or later, but engine_version is `{engine}`; raise \
                 engine_version or set min_capacity to 0.5"
            ),
        ));
    }
    issues
}

fn parameters(s: &Settings) -> Vec<(&'static str, String)> {
    vec![
        (
            "MinCapacity",
            number(settings::float(s, "min_capacity", DEFAULT_MIN_CAPACITY)),
        ),
        (
            "MaxCapacity",
            number(settings::float(s, "max_capacity", DEFAULT_MAX_CAPACITY)),
        ),
    ]
}

/// This backend as the shared Aurora code sees it.
pub(crate) const FLAVOUR: Flavour = Flavour {
    id: ID,
    description: "Aurora MySQL 3 Serverless v2 cluster, with a reader in production",
    template_file: TEMPLATE_FILE,
    template_body: TEMPLATE,
    keys: KEYS,
    checks,
    parameters,
};

/// The `aurora-serverless` database backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuroraServerless;

impl Backend for AuroraServerless {
    fn manifest(&self) -> Manifest {
        aurora_common::manifest(&FLAVOUR)
    }

    /// Checks the keys, their types, ranges and formats, the 0.5-ACU steps, that
    /// `max_capacity` ≥ `min_capacity`, and that 0 ACU comes with an engine supporting it.
    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        aurora_common::validate(&FLAVOUR, settings)
    }
}

impl Database for AuroraServerless {
    fn plan_database(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        aurora_common::plan(&FLAVOUR, req)
    }
}

rig_core::export_plugin!(database, AuroraServerless);

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::{sample_env_request, settings, validation_messages};
    use serde_json::json;

    fn messages(v: serde_json::Value) -> Vec<String> {
        validation_messages(&AuroraServerless, v)
    }

    fn one(v: serde_json::Value) -> String {
        let m = messages(v);
        assert_eq!(m.len(), 1, "{m:?}");
        m[0].clone()
    }

    fn capacities(v: serde_json::Value) -> (String, String) {
        let req = sample_env_request("staging", "db-aurora", settings(v));
        let p = AuroraServerless.plan_database(&req).unwrap().remove(0);
        assert_eq!(p.parameters.len(), 13);
        (
            p.parameters["MinCapacity"].clone(),
            p.parameters["MaxCapacity"].clone(),
        )
    }

    #[test]
    fn capacities_are_formatted_plainly() {
        assert_eq!(capacities(json!({})), ("0.5".into(), "4".into()));
        assert_eq!(
            capacities(json!({"min_capacity": 2, "max_capacity": 12.5})),
            ("2".into(), "12.5".into())
        );
        assert_eq!(
            capacities(json!({"min_capacity": 0, "max_capacity": 256.0})),
            ("0".into(), "256".into())
        );
        assert_eq!(
            capacities(json!({"min_capacity": -0.0})),
            ("0".into(), "4".into())
        );
    }

    #[test]
    fn good_capacities_pass() {
        assert!(messages(json!({"min_capacity": 1.5, "max_capacity": 1.5})).is_empty());
        assert!(messages(json!({"min_capacity": 0})).is_empty());
        assert!(messages(json!({"max_capacity": 1})).is_empty());
    }

    #[test]
    fn capacity_out_of_range() {
        assert!(one(json!({"min_capacity": -0.5}))
            .contains("`min_capacity`: -0.5 is out of range, expected 0–256"));
        assert!(one(json!({"max_capacity": 0.5}))
            .contains("`max_capacity`: 0.5 is out of range, expected 1–256"));
        assert!(one(json!({"max_capacity": 512})).contains("512 is out of range"));
        assert!(one(json!({"min_capacity": "1"})).contains("expected a number"));
    }

    #[test]
    fn capacity_not_a_multiple_of_half() {
        let m = one(json!({"min_capacity": 0.7}));
        assert!(
            m.contains("`min_capacity`: 0.7 is not a multiple of 0.5") && m.contains("like 0.5"),
            "{m}"
        );
        let m = one(json!({"max_capacity": 3.2}));
        assert!(
            m.contains("`max_capacity`: 3.2 is not a multiple of 0.5") && m.contains("like 3"),
            "{m}"
        );
    }

    #[test]
    fn max_capacity_below_min_capacity() {
        let m = one(json!({"min_capacity": 8, "max_capacity": 2}));
        assert!(
            m.contains("`max_capacity`: 2 is less than min_capacity 8"),
            "{m}"
        );
        let m = one(json!({"min_capacity": 6.5}));
        assert!(
            m.contains("`max_capacity`: the default 4 is less than min_capacity 6.5"),
            "{m}"
        );
    }

    #[test]
    fn zero_capacity_needs_a_recent_engine() {
        let m = one(json!({"min_capacity": 0, "engine_version": "8.0.mysql_aurora.3.05.2"}));
        assert!(
            m.contains("`min_capacity`: 0 ACU needs Aurora MySQL 3.08 or later"),
            "{m}"
        );
        assert!(
            messages(json!({"min_capacity": 0, "engine_version": "8.0.mysql_aurora.3.09.0"}))
                .is_empty()
        );
        assert!(messages(
            json!({"min_capacity": 0.5, "engine_version": "8.0.mysql_aurora.3.05.2"})
        )
        .is_empty());
    }

    #[test]
    fn plan_refuses_bad_capacities() {
        let req = sample_env_request(
            "production",
            "db-aurora",
            settings(json!({"max_capacity": 1.25})),
        );
        let Err(PluginError::InvalidInput(m)) = AuroraServerless.plan_database(&req) else {
            panic!("invalid capacities must not produce a plan")
        };
        assert!(m.contains("not a multiple of 0.5"), "{m}");
    }

    #[test]
    fn provisioned_keys_are_unknown_here() {
        let m = one(json!({"instance_class": "db.r6g.large"}));
        assert!(
            m.contains("`instance_class`: unknown setting")
                && m.ends_with("min_capacity, max_capacity"),
            "{m}"
        );
    }
}
