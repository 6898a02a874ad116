//! What the two Aurora MySQL backends share: the common settings, their defaults and checks, the
//! template parameters, the secret and the plan.
//!
//! This file is a module of `rig-plugin-aurora-provisioned` and is also compiled into
//! `rig-plugin-aurora-serverless` with
//! `#[path = "../../aurora-provisioned/src/aurora_common.rs"] mod aurora_common;`.
//! Each crate describes itself with a [`Flavour`] (id, template, its own keys, checks and
//! parameters) named `crate::FLAVOUR`; everything else lives here, once. The unit tests at the
//! bottom run in both crates, against each crate's flavour.

use std::collections::BTreeMap;

use rig_core::names::validate_ssm_path;
use rig_core::settings::{self, Key, Kind};
use rig_core::{
    EnvRequest, EnvironmentSpec, HealthProbe, Issue, Manifest, PluginError, Role,
    SecretRequirement, Settings, StackPlan, PROTOCOL_VERSION,
};

/// Suffix of the stack both Aurora backends own.
pub(crate) const STACK_SUFFIX: &str = "db-aurora";
/// Default Aurora MySQL 3 engine version.
pub(crate) const DEFAULT_ENGINE_VERSION: &str = "8.0.mysql_aurora.3.08.0";
/// Prefix every accepted engine version has (Aurora MySQL 3, MySQL 8.0 compatible).
pub(crate) const ENGINE_VERSION_PREFIX: &str = "8.0.mysql_aurora.3.";
/// Name of the master password secret when it is kept in SSM.
pub(crate) const SECRET_NAME: &str = "DB_MASTER_PASSWORD";
/// The longest master password Aurora MySQL accepts: 8 to 41 printable ASCII characters, none
/// of `/`, `"`, `@` (RDS API reference, `CreateDBCluster`, `MasterUserPassword`).
pub(crate) const MAX_PASSWORD_LENGTH: usize = 41;
/// Output keys the stack promises (templates/README.md).
pub(crate) const OUTPUTS: &[&str] = &[
    "ClusterIdentifier",
    "ClusterEndpoint",
    "ReaderEndpoint",
    "Port",
    "DatabaseName",
    "InternalDnsName",
    "DatabaseSecurityGroup",
];

/// What distinguishes one Aurora backend from the other.
pub(crate) struct Flavour {
    /// Backend id (`aurora-provisioned`, `aurora-serverless`).
    pub id: &'static str,
    /// One line for `rig plugins list`.
    pub description: &'static str,
    /// File name of the template.
    pub template_file: &'static str,
    /// The embedded template.
    pub template_body: &'static str,
    /// Settings of this flavour only; [`COMMON_KEYS`] come first.
    pub keys: &'static [Key],
    /// Cross-field checks of this flavour's settings, given the issues found so far.
    pub checks: fn(&Settings, &[Issue]) -> Vec<Issue>,
    /// Template parameters of this flavour only, defaults applied.
    pub parameters: fn(&Settings) -> Vec<(&'static str, String)>,
}

/// The settings both Aurora backends know.
pub(crate) const COMMON_KEYS: &[Key] = &[
    Key {
        name: "database_name",
        kind: Kind::StrWith {
            check: database_name,
        },
        help:
            "name of the schema created in the cluster; default the project name with `_` for `-`",
    },
    Key {
        name: "replicas",
        kind: Kind::Int { min: 0, max: 1 },
        help: "reader instances next to the writer; 1 in production, 0 elsewhere by default",
    },
    Key {
        name: "backup_retention_days",
        kind: Kind::Int { min: 1, max: 35 },
        help: "days automated backups are kept; 1 in integration, 5 in staging, 14 in production",
    },
    Key {
        name: "deletion_protection",
        kind: Kind::Bool,
        help: "refuse to delete the cluster; true in production, false elsewhere by default",
    },
    Key {
        name: "master_password",
        kind: Kind::Str {
            one_of: &["ssm", "managed"],
        },
        help: "`ssm`: rig keeps the password in SSM; `managed`: RDS keeps it in Secrets Manager",
    },
    Key {
        name: "master_username",
        kind: Kind::StrWith {
            check: master_username,
        },
        help: "name of the master user; default admin",
    },
    Key {
        name: "engine_version",
        kind: Kind::StrWith {
            check: engine_version,
        },
        help: "Aurora MySQL 3 engine version; default 8.0.mysql_aurora.3.08.0",
    },
];

/// Checks a database name: a letter, then up to 63 letters, digits and `_`.
fn database_name(s: &str) -> Result<(), String> {
    let ok = s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid database name; use a letter followed by at most 63 letters, \
             digits and `_` (no `-`), like `shop_db`"
        ))
    }
}

/// Checks a master user name: 1–16 characters, a letter first, then letters, digits and `_`;
/// not `rdsadmin`, which RDS reserves.
fn master_username(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 16
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "`{s}` is not a valid master user name; use 1–16 characters, a letter first, then \
             letters, digits and `_`"
        ));
    }
    if s.eq_ignore_ascii_case("rdsadmin") {
        return Err("`rdsadmin` is reserved by RDS; choose another master user name".to_string());
    }
    Ok(())
}

/// Checks an engine version: `8.0.mysql_aurora.3.` followed by a two-digit minor release, `.`
/// and a patch number, like `08.0` (the template's own pattern).
fn engine_version(s: &str) -> Result<(), String> {
    let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    let ok = s
        .strip_prefix(ENGINE_VERSION_PREFIX)
        .and_then(|release| release.split_once('.'))
        .is_some_and(|(minor, patch)| minor.len() == 2 && digits(minor) && digits(patch));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not an Aurora MySQL 3 engine version; write it as \
             `{ENGINE_VERSION_PREFIX}<two-digit minor>.<patch>`, like `{DEFAULT_ENGINE_VERSION}`"
        ))
    }
}

/// The common settings of one environment with every default applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuroraSettings {
    pub database_name: String,
    pub replicas: i64,
    pub backup_retention_days: i64,
    pub deletion_protection: bool,
    /// `ssm` or `managed`.
    pub master_password: String,
    pub master_username: String,
    pub engine_version: String,
}

impl AuroraSettings {
    /// Reads the common settings for `env` of `project`, applying the defaults:
    /// `database_name` is the project with `_` for `-`; a production environment gets a replica,
    /// 14 days of backups and deletion protection; staging keeps backups 5 days, any other
    /// environment 1 day.
    pub fn resolve(settings: &Settings, env: &EnvironmentSpec, project: &str) -> Self {
        let retention = if env.production {
            14
        } else if env.name == "staging" {
            5
        } else {
            1
        };
        AuroraSettings {
            database_name: settings::string(settings, "database_name", &project.replace('-', "_")),
            replicas: settings::int(settings, "replicas", i64::from(env.production)),
            backup_retention_days: settings::int(settings, "backup_retention_days", retention),
            deletion_protection: settings::boolean(settings, "deletion_protection", env.production),
            master_password: settings::string(settings, "master_password", "ssm"),
            master_username: settings::string(settings, "master_username", "admin"),
            engine_version: settings::string(settings, "engine_version", DEFAULT_ENGINE_VERSION),
        }
    }
}

/// The manifest of a flavour.
pub(crate) fn manifest(f: &Flavour) -> Manifest {
    Manifest {
        id: f.id.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        role: Role::Database,
        protocol: PROTOCOL_VERSION.to_string(),
        description: f.description.to_string(),
        stack_suffix: STACK_SUFFIX.to_string(),
        features: Vec::new(),
    }
}

/// Checks settings against the common keys and the flavour's own keys and rules.
pub(crate) fn validate(f: &Flavour, settings: &Settings) -> Vec<Issue> {
    let keys = [COMMON_KEYS, f.keys].concat();
    let mut issues = settings::check(settings, &keys);
    let more = (f.checks)(settings, &issues);
    issues.extend(more);
    issues
}

/// The SSM path of the master password: `<ssm_prefix>/env/<env>/db/DB_MASTER_PASSWORD`.
pub(crate) fn master_password_path(req: &EnvRequest) -> String {
    format!(
        "{}/env/{}/db/{SECRET_NAME}",
        req.riglet.ssm_prefix, req.environment.name
    )
}

/// Plans the one stack of a flavour, refusing invalid settings.
pub(crate) fn plan(f: &Flavour, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
    let env = req.environment.name.as_str();
    settings::refuse_invalid(Role::Database, f.id, env, &validate(f, &req.settings))?;
    let s = AuroraSettings::resolve(&req.settings, &req.environment, &req.riglet.project);
    if !req.settings.contains_key("database_name") {
        if let Err(why) = database_name(&s.database_name) {
            let issue = Issue::new(
                "database_name",
                format!("the default taken from the project: {why}; set database_name"),
            );
            settings::refuse_invalid(Role::Database, f.id, env, &[issue])?;
        }
    }
    let password_path = master_password_path(req);
    validate_ssm_path(&password_path).map_err(|e| {
        PluginError::InvalidInput(format!(
            "{e}; the master password lives under the riglet's SSM prefix `{}`, so fix the \
             prefix or the environment name",
            req.riglet.ssm_prefix
        ))
    })?;

    let mut parameters = BTreeMap::from([
        ("Environment".to_string(), env.to_string()),
        (
            "FoundationStackName".to_string(),
            req.stacks.foundation.clone(),
        ),
        ("ProjectName".to_string(), req.riglet.project.clone()),
        ("DatabaseName".to_string(), s.database_name.clone()),
        ("MasterUsername".to_string(), s.master_username.clone()),
        (
            "MasterPasswordSource".to_string(),
            s.master_password.clone(),
        ),
        ("MasterPasswordParameter".to_string(), password_path.clone()),
        ("EngineVersion".to_string(), s.engine_version.clone()),
        (
            "BackupRetentionPeriod".to_string(),
            s.backup_retention_days.to_string(),
        ),
        ("ReaderCount".to_string(), s.replicas.to_string()),
        (
            "DeletionProtection".to_string(),
            s.deletion_protection.to_string(),
        ),
    ]);
    for (name, value) in (f.parameters)(&req.settings) {
        parameters.insert(name.to_string(), value);
    }

    let secrets = if s.master_password == "ssm" {
        vec![SecretRequirement {
            name: SECRET_NAME.to_string(),
            ssm_path: password_path,
            description: format!("Aurora master password for {env}"),
            min_length: 8,
            forbidden_chars: "/@\" ".to_string(),
            max_length: Some(MAX_PASSWORD_LENGTH),
        }]
    } else {
        Vec::new()
    };

    Ok(vec![StackPlan {
        name: req.stack_name.clone(),
        role: Role::Database,
        template_file: f.template_file.to_string(),
        template_body: f.template_body.to_string(),
        parameters,
        tags: req.tags.clone(),
        capabilities: Vec::new(),
        depends_on: vec![req.stacks.foundation.clone()],
        outputs: OUTPUTS.iter().map(|o| o.to_string()).collect(),
        probes: vec![HealthProbe::RdsCluster {
            cluster_output: "ClusterIdentifier".to_string(),
            members: 1 + u32::try_from(s.replicas).unwrap_or(0),
        }],
        secrets,
        // The guard is the backend's own: it says how to lift it before the stack goes.
        before_delete: if s.deletion_protection {
            [("DeletionProtection".to_string(), "false".to_string())].into()
        } else {
            Default::default()
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::{sample_env_request, settings};
    use serde_json::json;

    fn messages(v: serde_json::Value) -> Vec<String> {
        validate(&crate::FLAVOUR, &settings(v))
            .iter()
            .map(Issue::to_string)
            .collect()
    }

    fn one(v: serde_json::Value) -> String {
        let m = messages(v);
        assert_eq!(m.len(), 1, "{m:?}");
        m[0].clone()
    }

    fn plan_for(env: &str, v: serde_json::Value) -> Result<StackPlan, PluginError> {
        plan(
            &crate::FLAVOUR,
            &sample_env_request(env, STACK_SUFFIX, settings(v)),
        )
        .map(|mut p| {
            assert_eq!(p.len(), 1);
            p.remove(0)
        })
    }

    #[test]
    fn manifest_describes_the_flavour() {
        let m = manifest(&crate::FLAVOUR);
        assert_eq!(m.id, crate::FLAVOUR.id);
        assert_eq!(m.role, Role::Database);
        assert_eq!(m.stack_suffix, "db-aurora");
        assert_eq!(m.protocol, PROTOCOL_VERSION);
        assert!(m.features.is_empty());
    }

    #[test]
    fn good_common_settings_pass() {
        assert!(messages(json!({})).is_empty());
        assert!(messages(json!({
            "database_name": "Shop_2", "replicas": 1, "backup_retention_days": 35,
            "deletion_protection": false, "master_password": "managed",
            "master_username": "app_owner", "engine_version": "8.0.mysql_aurora.3.10.1"
        }))
        .is_empty());
    }

    #[test]
    fn unknown_key_names_the_known_ones() {
        let m = one(json!({"db_name": "x"}));
        assert!(
            m.starts_with(
                "`db_name`: unknown setting; known settings are: database_name, replicas, \
                 backup_retention_days, deletion_protection, master_password, master_username, \
                 engine_version, "
            ),
            "{m}"
        );
        for key in crate::FLAVOUR.keys {
            assert!(m.contains(key.name), "{m} lacks {}", key.name);
        }
    }

    #[test]
    fn bad_database_name() {
        for bad in ["my-shop", "1shop", "", "ümlaut"] {
            let m = one(json!({ "database_name": bad }));
            assert!(
                m.contains("`database_name`:") && m.contains("is not a valid database name"),
                "{m}"
            );
        }
        assert!(one(json!({"database_name": "a".repeat(65)})).contains("at most 63"));
        assert!(messages(json!({"database_name": "a".repeat(64)})).is_empty());
    }

    #[test]
    fn ranges_and_types() {
        assert!(one(json!({"replicas": 2})).contains("`replicas`: 2 is out of range, expected 0–1"));
        assert!(
            one(json!({"backup_retention_days": 0})).contains("0 is out of range, expected 1–35")
        );
        assert!(one(json!({"backup_retention_days": 36})).contains("36 is out of range"));
        assert!(one(json!({"deletion_protection": "yes"})).contains("expected true or false"));
    }

    #[test]
    fn master_password_source() {
        let m = one(json!({"master_password": "plain"}));
        assert!(
            m.contains("`master_password`: `plain` is not one of: ssm, managed"),
            "{m}"
        );
    }

    #[test]
    fn bad_master_username() {
        for bad in ["", "1admin", "admin-user", "a_very_long_user_name"] {
            let m = one(json!({ "master_username": bad }));
            assert!(m.contains("is not a valid master user name"), "{bad}: {m}");
        }
        assert!(one(json!({"master_username": "rdsadmin"})).contains("reserved by RDS"));
        assert!(messages(json!({"master_username": "a234567890123456"})).is_empty());
    }

    #[test]
    fn bad_engine_version() {
        for bad in [
            "5.7.mysql_aurora.2.11.2",
            "8.0.mysql_aurora.3.",
            "8.0.mysql_aurora.3.x",
            "8.0.mysql_aurora.3.8.0",
            "8.0.mysql_aurora.3.08",
            "8.0.mysql_aurora.3.08.0.1",
            "3.08.0",
        ] {
            let m = one(json!({ "engine_version": bad }));
            assert!(
                m.contains("is not an Aurora MySQL 3 engine version"),
                "{bad}: {m}"
            );
        }
    }

    #[test]
    fn defaults_follow_the_seed() {
        let cases = [
            ("integration", "0", "1", "false"),
            ("staging", "0", "5", "false"),
            ("production", "1", "14", "true"),
            ("qa", "0", "1", "false"),
        ];
        for (env, readers, retention, protection) in cases {
            let p = plan_for(env, json!({})).unwrap();
            assert_eq!(p.parameters["ReaderCount"], readers, "{env}");
            assert_eq!(p.parameters["BackupRetentionPeriod"], retention, "{env}");
            assert_eq!(p.parameters["DeletionProtection"], protection, "{env}");
            assert_eq!(p.parameters["DatabaseName"], "shop");
            assert_eq!(p.parameters["MasterUsername"], "admin");
            assert_eq!(p.parameters["MasterPasswordSource"], "ssm");
            assert_eq!(p.parameters["EngineVersion"], DEFAULT_ENGINE_VERSION);
            let members = if env == "production" { 2 } else { 1 };
            assert_eq!(
                p.probes,
                vec![HealthProbe::RdsCluster {
                    cluster_output: "ClusterIdentifier".into(),
                    members
                }]
            );
        }
    }

    #[test]
    fn default_database_name_comes_from_the_project() {
        let mut req = sample_env_request("staging", STACK_SUFFIX, Settings::new());
        req.riglet.project = "web-shop".to_string();
        let p = plan(&crate::FLAVOUR, &req).unwrap().remove(0);
        assert_eq!(p.parameters["DatabaseName"], "web_shop");
        assert_eq!(p.parameters["ProjectName"], "web-shop");
        req.riglet.project = "9shop".to_string();
        let Err(PluginError::InvalidInput(m)) = plan(&crate::FLAVOUR, &req) else {
            panic!("a project that makes no database name must be refused")
        };
        assert!(
            m.contains("the default taken from the project") && m.contains("set database_name"),
            "{m}"
        );
    }

    #[test]
    fn ssm_secret_and_its_path() {
        let p = plan_for("production", json!({})).unwrap();
        let path = "/acme/shop/env/production/db/DB_MASTER_PASSWORD";
        assert_eq!(p.parameters["MasterPasswordParameter"], path);
        assert_eq!(
            p.secrets,
            vec![SecretRequirement {
                name: "DB_MASTER_PASSWORD".into(),
                ssm_path: path.into(),
                description: "Aurora master password for production".into(),
                min_length: 8,
                forbidden_chars: "/@\" ".into(),
                max_length: Some(MAX_PASSWORD_LENGTH),
            }]
        );
    }

    #[test]
    fn managed_password_needs_no_secret() {
        let p = plan_for("staging", json!({"master_password": "managed"})).unwrap();
        assert!(p.secrets.is_empty());
        assert_eq!(p.parameters["MasterPasswordSource"], "managed");
        assert_eq!(
            p.parameters["MasterPasswordParameter"],
            "/acme/shop/env/staging/db/DB_MASTER_PASSWORD"
        );
    }

    #[test]
    fn bad_ssm_prefix_is_refused() {
        let mut req = sample_env_request("staging", STACK_SUFFIX, Settings::new());
        req.riglet.ssm_prefix = "/aws/shop".to_string();
        let Err(PluginError::InvalidInput(m)) = plan(&crate::FLAVOUR, &req) else {
            panic!("a reserved SSM prefix must be refused")
        };
        assert!(
            m.contains("reserved by AWS") && m.contains("fix the prefix"),
            "{m}"
        );
    }

    #[test]
    fn plan_wires_the_stack() {
        let req = sample_env_request("staging", STACK_SUFFIX, Settings::new());
        let p = plan(&crate::FLAVOUR, &req).unwrap().remove(0);
        assert_eq!(p.name, "acme-shop-staging-db-aurora");
        assert_eq!(p.role, Role::Database);
        assert_eq!(p.template_file, crate::FLAVOUR.template_file);
        assert_eq!(p.template_body, crate::FLAVOUR.template_body);
        assert_eq!(
            p.parameters["FoundationStackName"],
            "acme-shop-staging-foundation"
        );
        assert_eq!(p.parameters["Environment"], "staging");
        assert_eq!(p.parameters["ProjectName"], "shop");
        assert_eq!(p.tags, req.tags);
        assert!(p.capabilities.is_empty());
        assert_eq!(
            p.depends_on,
            vec!["acme-shop-staging-foundation".to_string()]
        );
        assert_eq!(p.outputs, OUTPUTS);
    }

    #[test]
    fn plan_refuses_invalid_settings() {
        let Err(PluginError::InvalidInput(m)) = plan_for("integration", json!({"replicas": 5}))
        else {
            panic!("invalid settings must not produce a plan")
        };
        assert!(m.contains("`replicas`: 5 is out of range"), "{m}");
    }

    #[test]
    fn template_declares_every_parameter_passed() {
        let p = plan_for("integration", json!({})).unwrap();
        for name in p.parameters.keys() {
            assert!(
                p.template_body.contains(&format!("  {name}:")),
                "template lacks parameter {name}"
            );
        }
        for out in OUTPUTS {
            assert!(
                p.template_body.contains(&format!("  {out}:")),
                "template lacks output {out}"
            );
        }
    }
}
