//! Helpers for backends to check and read their settings table.
//!
//! A backend declares its keys once as a `&[Key]`; [`check`] then reports unknown keys, wrong
//! types and out-of-range values, and the getters read values with defaults.

use crate::model::{Issue, Settings};
use crate::protocol::Role;
use crate::traits::PluginError;

/// The type and range of one setting.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    /// A number in `min..=max`.
    Float {
        min: f64,
        max: f64,
    },
    /// A string; if `one_of` is not empty, one of those values.
    Str {
        one_of: &'static [&'static str],
    },
    /// A string matching `check` (which returns why it does not).
    StrWith {
        check: fn(&str) -> Result<(), String>,
    },
    Bool,
}

/// One known setting.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// Checks `settings` against `keys`: every key must be known and well-typed.
pub fn check(settings: &Settings, keys: &[Key]) -> Vec<Issue> {
    let mut issues = Vec::new();
    for (name, value) in settings {
        let Some(key) = keys.iter().find(|k| k.name == name) else {
            let known: Vec<&str> = keys.iter().map(|k| k.name).collect();
            issues.push(Issue::new(
                name.clone(),
                format!(
                    "unknown setting; known settings are: {}",
                    if known.is_empty() {
                        "(none)".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
            continue;
        };
        if let Some(problem) = check_value(&key.kind, value) {
            issues.push(Issue::new(
                name.clone(),
                format!("{problem} ({})", key.help),
            ));
        }
    }
    issues
}

fn check_value(kind: &Kind, v: &serde_json::Value) -> Option<String> {
    match kind {
        Kind::Int { min, max } => match v.as_i64() {
            Some(n) if n >= *min && n <= *max => None,
            Some(n) => Some(format!("{n} is out of range, expected {min}–{max}")),
            None => Some(format!("expected a whole number, found {v}")),
        },
        Kind::Float { min, max } => match v.as_f64() {
            Some(n) if n >= *min && n <= *max => None,
            Some(n) => Some(format!("{n} is out of range, expected {min}–{max}")),
            None => Some(format!("expected a number, found {v}")),
        },
        Kind::Str { one_of } => match v.as_str() {
            Some(s) if one_of.is_empty() || one_of.contains(&s) => None,
            Some(s) => Some(format!("`{s}` is not one of: {}", one_of.join(", "))),
            None => Some(format!("expected a string, found {v}")),
        },
        Kind::StrWith { check } => match v.as_str() {
            Some(s) => check(s).err(),
            None => Some(format!("expected a string, found {v}")),
        },
        Kind::Bool => (!v.is_boolean()).then(|| format!("expected true or false, found {v}")),
    }
}

/// What `plan_*` returns for settings that did not pass `validate`: `Ok` when there are no
/// issues, else [`PluginError::InvalidInput`] naming the backend, the environment and each issue.
pub fn refuse_invalid(
    role: Role,
    id: &str,
    env: &str,
    issues: &[Issue],
) -> Result<(), PluginError> {
    if issues.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = issues.iter().map(Issue::to_string).collect();
    Err(PluginError::InvalidInput(format!(
        "the settings of {role} backend `{id}` for {env} are not valid: {}",
        list.join("; ")
    )))
}

/// Reads an integer setting, or `default`.
pub fn int(settings: &Settings, key: &str, default: i64) -> i64 {
    settings
        .get(key)
        .and_then(|v| v.as_i64())
        .unwrap_or(default)
}

/// Reads a number setting, or `default`.
pub fn float(settings: &Settings, key: &str, default: f64) -> f64 {
    settings
        .get(key)
        .and_then(|v| v.as_f64())
        .unwrap_or(default)
}

/// Reads a string setting, or `default`.
pub fn string(settings: &Settings, key: &str, default: &str) -> String {
    settings
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or(default)
        .to_string()
}

/// Reads an optional string setting.
pub fn opt_string(settings: &Settings, key: &str) -> Option<String> {
    settings
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Reads a boolean setting, or `default`.
pub fn boolean(settings: &Settings, key: &str, default: bool) -> bool {
    settings
        .get(key)
        .and_then(|v| v.as_bool())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEYS: &[Key] = &[
        Key {
            name: "size",
            kind: Kind::Int { min: 1, max: 10 },
            help: "hosts",
        },
        Key {
            name: "mode",
            kind: Kind::Str {
                one_of: &["a", "b"],
            },
            help: "mode",
        },
        Key {
            name: "acu",
            kind: Kind::Float {
                min: 0.5,
                max: 128.0,
            },
            help: "ACUs",
        },
        Key {
            name: "on",
            kind: Kind::Bool,
            help: "switch",
        },
    ];

    fn s(v: serde_json::Value) -> Settings {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reports_each_problem_with_its_key() {
        let issues = check(
            &s(json!({"size": 0, "mode": "c", "acu": "x", "on": 1, "colour": "red"})),
            KEYS,
        );
        let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        assert_eq!(issues.len(), 5, "{text:?}");
        assert!(text
            .iter()
            .any(|t| t.contains("`size`: 0 is out of range, expected 1–10")));
        assert!(text
            .iter()
            .any(|t| t.contains("`mode`: `c` is not one of: a, b")));
        assert!(text.iter().any(|t| t.contains("`acu`: expected a number")));
        assert!(text
            .iter()
            .any(|t| t.contains("`on`: expected true or false")));
        assert!(text
            .iter()
            .any(|t| t
                .contains("`colour`: unknown setting; known settings are: size, mode, acu, on")));
    }

    #[test]
    fn invalid_settings_become_one_error() {
        assert!(refuse_invalid(Role::Compute, "x", "staging", &[]).is_ok());
        let e = refuse_invalid(
            Role::Compute,
            "x",
            "staging",
            &[Issue::new("a", "bad"), Issue::new("b", "worse")],
        );
        assert_eq!(
            e,
            Err(PluginError::InvalidInput(
                "the settings of compute backend `x` for staging are not valid: `a`: bad; `b`: worse".into()
            ))
        );
    }

    #[test]
    fn good_settings_pass_and_read_back() {
        let st = s(json!({"size": 3, "mode": "b", "acu": 1, "on": true}));
        assert!(check(&st, KEYS).is_empty());
        assert_eq!(int(&st, "size", 1), 3);
        assert_eq!(float(&st, "acu", 0.5), 1.0);
        assert_eq!(string(&st, "mode", "a"), "b");
        assert!(boolean(&st, "on", false));
        assert_eq!(int(&st, "missing", 7), 7);
    }
}
