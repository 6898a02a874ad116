//! The values of an `[[apps]]` entry that are more than a number: the desired count per
//! environment, the container's environment variables and secrets, and DNS labels.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::apps::MAX_TASKS;
use super::EnvToml;

/// Environment variables rig sets in every app container itself; an app may not set them.
pub const RESERVED_ENVIRONMENT: [&str; 4] =
    ["APP_ENVIRONMENT", "AWS_REGION", "AWS_ENV_PATH", "IMAGE"];

/// One count per environment of the file: the written number or table, else 1 in
/// `integration` and 2 elsewhere.
pub(super) fn desired_counts(
    key: &str,
    written: Option<&toml::Value>,
    env_tables: &IndexMap<String, EnvToml>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, u32> {
    let mut counts: BTreeMap<String, u32> = env_tables
        .keys()
        .map(|e| (e.clone(), if e == "integration" { 1 } else { 2 }))
        .collect();
    let mut count = |k: &str, v: &toml::Value| -> Option<u32> {
        match v.as_integer() {
            Some(n) if (0..=i64::from(MAX_TASKS)).contains(&n) => Some(n as u32),
            _ => {
                problems.push(format!("`{k}`: {v} is not a task count; use 0–{MAX_TASKS}"));
                None
            }
        }
    };
    match written {
        None => {}
        Some(toml::Value::Table(t)) => {
            let mut unknown = Vec::new();
            for (env, v) in t {
                let n = count(&format!("{key}.desired_count.{env}"), v);
                match counts.get_mut(env) {
                    Some(slot) => *slot = n.unwrap_or(*slot),
                    None => unknown.push(env.clone()),
                }
            }
            for env in unknown {
                problems.push(format!(
                    "`{key}.desired_count.{env}`: no such environment; the config has: {}",
                    env_tables.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Some(v @ toml::Value::Integer(_)) => {
            if let Some(n) = count(&format!("{key}.desired_count"), v) {
                counts.values_mut().for_each(|c| *c = n);
            }
        }
        Some(v) => problems.push(format!(
            "`{key}.desired_count`: {v} is neither a task count nor a table; \
             write a number like 2, or {{ integration = 1, production = 3 }}"
        )),
    }
    counts
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name a shell and every container runtime accept.
fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A DNS label as rig writes them: 1–63 lowercase letters, digits and `-`, a letter or digit
/// at both ends.
pub(super) fn is_dns_label(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (1..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && edge(s.chars().next())
        && edge(s.chars().last())
}

/// The environment variables as strings: names checked, values strings, numbers or booleans.
pub(super) fn environment(
    key: &str,
    written: &IndexMap<String, toml::Value>,
    problems: &mut Vec<String>,
) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for (name, v) in written {
        let k = format!("{key}.environment.{name}");
        if !is_env_name(name) {
            problems.push(format!(
                "`{k}`: `{name}` is not an environment variable name; use letters, digits and `_`, not starting with a digit"
            ));
        } else if RESERVED_ENVIRONMENT.contains(&name.as_str()) {
            problems.push(format!(
                "`{k}`: rig sets {name} itself (it sets {} in every container); remove it or use another name",
                RESERVED_ENVIRONMENT.join(", ")
            ));
        }
        let value = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                v.to_string()
            }
            other => {
                problems.push(format!(
                    "`{k}`: {} {} is not an environment variable value; use a string, a number or a boolean",
                    if other.is_array() { "an" } else { "a" },
                    other.type_str()
                ));
                String::new()
            }
        };
        out.insert(name.clone(), value);
    }
    out
}

/// Secret names: plain variable names (they are stored under the app's SSM namespace), unique,
/// and not also set in `environment`.
pub(super) fn check_secrets(
    key: &str,
    secrets: &[String],
    environment: &IndexMap<String, String>,
    problems: &mut Vec<String>,
) {
    for (i, s) in secrets.iter().enumerate() {
        let k = format!("{key}.secrets[{i}]");
        if s.contains('/') {
            problems.push(format!(
                "`{k}`: `{s}` is a path; the secret is stored at /<owner>/<project>/env/<env>/app/<app>/<NAME>; give only NAME"
            ));
        } else if !is_env_name(s) {
            problems.push(format!(
                "`{k}`: `{s}` is not a secret name; use letters, digits and `_`, not starting with a digit (it becomes an environment variable)"
            ));
        } else if RESERVED_ENVIRONMENT.contains(&s.as_str()) {
            problems.push(format!("`{k}`: rig sets {s} itself; use another name"));
        }
        if secrets[..i].contains(s) {
            problems.push(format!("`{k}`: {s} is listed twice; remove one"));
        }
        if environment.contains_key(s) {
            problems.push(format!(
                "`{k}`: {s} is also in `{key}.environment`; a variable is either a secret or a plain value, remove one"
            ));
        }
    }
}
