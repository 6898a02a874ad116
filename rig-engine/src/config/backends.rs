//! `[compute]` / `[database]`: which backend each role uses (file or flag), and its settings per
//! environment (the backend's table overlaid with the environment's table).

use indexmap::IndexMap;
use rig_core::names;
use rig_core::{Role, Settings};

use super::file::toml_to_settings;
use super::{BackendToml, EnvToml, Overrides, RigToml};

/// A backend selected for a role, with its settings per environment.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendChoice {
    pub id: String,
    /// Environment name → the backend's table overlaid with the environment's table.
    pub settings: IndexMap<String, Settings>,
}

/// A backend settings table in rig.toml, whichever backend is selected: where it is and the
/// backend id it is named for. The plugin host checks each names a backend it can find
/// ([`crate::planner::Backends::load`]), so a misspelled table is refused, not ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsTable {
    pub role: Role,
    /// The table as written in rig.toml, e.g. `[environments.production.database.aurora-serverless]`.
    pub table: String,
    pub id: String,
}

/// Every `[compute.<id>]`, `[database.<id>]` and `[environments.E.<role>.<id>]` table, in file
/// order.
pub(super) fn settings_tables(
    t: &RigToml,
    env_tables: &IndexMap<String, EnvToml>,
    problems: &mut Vec<String>,
) -> Vec<SettingsTable> {
    let mut found = Vec::new();
    for (role, table) in [
        (Role::Compute, Some(&t.compute)),
        (Role::Database, t.database.as_ref()),
    ] {
        for (id, v) in table.map(|b| &b.tables).into_iter().flatten() {
            if v.is_table() {
                found.push(SettingsTable {
                    role,
                    table: format!("[{role}.{id}]"),
                    id: id.clone(),
                });
            }
        }
    }
    for (env, et) in env_tables {
        for (role, tables) in [(Role::Compute, &et.compute), (Role::Database, &et.database)] {
            for (id, v) in tables {
                if !v.is_table() {
                    problems.push(format!(
                        "`environments.{env}.{role}.{id}`: backend settings go in the backend's own table, e.g. `[environments.{env}.{role}.<backend>]` with `{id} = ...` inside"
                    ));
                    continue;
                }
                found.push(SettingsTable {
                    role,
                    table: format!("[environments.{env}.{role}.{id}]"),
                    id: id.clone(),
                });
            }
        }
    }
    found
}

/// The compute backend (required) and the database backend (optional).
pub(super) fn resolve(
    t: &RigToml,
    ov: &Overrides,
    env_tables: &IndexMap<String, EnvToml>,
    problems: &mut Vec<String>,
) -> (BackendChoice, Option<BackendChoice>) {
    let compute = resolve_backend(
        "compute",
        Some(&t.compute),
        ov.compute.as_deref(),
        env_tables,
        |e| &e.compute,
        problems,
    );
    let database = resolve_backend(
        "database",
        t.database.as_ref(),
        ov.database.as_deref(),
        env_tables,
        |e| &e.database,
        problems,
    );
    let compute = match compute {
        Some(c) => c,
        None => {
            if problems.is_empty() {
                problems.push(
                    "`compute.backend`: a compute backend is required (ecs-ec2 or fargate)".into(),
                );
            }
            BackendChoice {
                id: String::new(),
                settings: IndexMap::new(),
            }
        }
    };
    (compute, database)
}

/// `compute.backend` / `database.backend` (role `compute` or `database`): a backend id, or
/// `none` for the database. The error is the loader's message.
pub fn check_backend_id(role: &str, id: &str) -> Result<(), String> {
    if id == "none" {
        return if role == "compute" {
            Err("`compute.backend`: compute cannot be `none`; choose ecs-ec2 or fargate".into())
        } else {
            Ok(())
        };
    }
    names::validate_segment("backend id", id).map_err(|e| format!("`{role}.backend`: {e}"))
}

fn resolve_backend(
    role: &str,
    table: Option<&BackendToml>,
    flag: Option<&str>,
    envs: &IndexMap<String, EnvToml>,
    env_part: impl Fn(&EnvToml) -> &IndexMap<String, toml::Value>,
    problems: &mut Vec<String>,
) -> Option<BackendChoice> {
    let id = flag
        .map(str::to_string)
        .or_else(|| table.map(|t| t.backend.clone()))?;
    if let Err(e) = check_backend_id(role, &id) {
        problems.push(e);
        return None;
    }
    if id == "none" {
        return None;
    }
    let mut base = Settings::new();
    if let Some(t) = table {
        for (k, v) in &t.tables {
            match v {
                toml::Value::Table(tab) => {
                    if *k == id {
                        base = toml_to_settings(tab);
                    }
                }
                _ => problems.push(format!(
                    "`{role}.{k}`: backend settings go in the backend's own table, e.g. `[{role}.{}]` with `{k} = ...` inside",
                    t.backend
                )),
            }
        }
    }
    let mut settings = IndexMap::new();
    for (env, et) in envs {
        let mut s = base.clone();
        for (k, tab) in env_part(et) {
            let Some(tab) = tab.as_table() else {
                continue; // reported with the settings tables
            };
            if *k == id {
                for (kk, vv) in toml_to_settings(tab) {
                    s.insert(kk, vv);
                }
            }
        }
        settings.insert(env.clone(), s);
    }
    Some(BackendChoice { id, settings })
}
