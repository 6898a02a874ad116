//! Where secret values come from. A secret's value only ever travels from its source to SSM
//! (as a SecureString); it is never logged, never a stack parameter, never in a template.

use rig_core::SecretRequirement;

/// Asks for a secret interactively (the CLI provides one when stdin is a terminal).
pub trait Prompt: Send + Sync {
    /// Returns `None` if the user gave nothing.
    fn ask(&self, req: &SecretRequirement, env: Option<&str>) -> Option<String>;
}

/// A secret that is needed and could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name} is not stored yet at {path} and there is no terminal to ask for it\n  hint: set {var} (or {generic_var}) in the environment and run again")]
    Missing {
        name: String,
        path: String,
        var: String,
        generic_var: String,
    },
    #[error("the value given for {name} is not acceptable: {problem}\n  hint: {fix}")]
    Rejected {
        name: String,
        problem: String,
        fix: String,
    },
    #[error("{var} is set but empty\n  hint: give it the secret's value, or unset it{}", generic.as_ref().map(|g| format!(" to use {g}")).unwrap_or_default())]
    Empty {
        var: String,
        /// The general variable the empty one hides, when it is set.
        generic: Option<String>,
    },
}

/// The environment variables that can carry a secret: `RIG_SECRET_<NAME>_<ENV>` first, then
/// `RIG_SECRET_<NAME>`.
pub fn env_vars(req: &SecretRequirement, env: Option<&str>) -> (String, String) {
    let generic = format!("RIG_SECRET_{}", req.name);
    let specific = match env {
        Some(e) => format!("{generic}_{}", e.to_ascii_uppercase().replace('-', "_")),
        None => generic.clone(),
    };
    (specific, generic)
}

/// The environment a secret's path belongs to (`/o/p/env/<env>/...`).
pub fn env_of(req: &SecretRequirement) -> Option<String> {
    let mut parts = req.ssm_path.split('/');
    while let Some(p) = parts.next() {
        if p == "env" {
            return parts.next().map(str::to_string);
        }
    }
    None
}

/// Finds the value of a secret that is not stored yet.
pub fn obtain(req: &SecretRequirement, prompt: Option<&dyn Prompt>) -> Result<String, SecretError> {
    let env = env_of(req);
    let (specific, generic) = env_vars(req, env.as_deref());
    let value = given(req)?.or_else(|| prompt.and_then(|p| p.ask(req, env.as_deref())));
    let Some(value) = value else {
        return Err(SecretError::Missing {
            name: req.name.clone(),
            path: req.ssm_path.clone(),
            var: specific,
            generic_var: generic,
        });
    };
    check(req, &value)?;
    Ok(value)
}

/// The value the environment gives for a secret (`RIG_SECRET_<NAME>_<ENV>`, else
/// `RIG_SECRET_<NAME>`), checked against the requirement. Errors: a variable set but empty
/// (it would otherwise hide the general one or read as unset), or a value the rules refuse.
/// Needs no AWS call, so `rig up` runs it for every secret before its first one.
pub fn given(req: &SecretRequirement) -> Result<Option<String>, SecretError> {
    let env = env_of(req);
    let (specific, generic) = env_vars(req, env.as_deref());
    let read = |var: &str| std::env::var_os(var).map(|v| v.to_string_lossy().into_owned());
    let value = match read(&specific) {
        Some(v) if v.is_empty() => {
            return Err(SecretError::Empty {
                generic: (specific != generic && read(&generic).is_some_and(|g| !g.is_empty()))
                    .then(|| generic.clone()),
                var: specific,
            })
        }
        Some(v) => Some(v),
        None => match read(&generic) {
            Some(v) if v.is_empty() => {
                return Err(SecretError::Empty {
                    var: generic,
                    generic: None,
                })
            }
            other => other,
        },
    };
    if let Some(v) = &value {
        check(req, v)?;
    }
    Ok(value)
}

/// Checks a value against the requirement's rules without revealing it.
pub fn check(req: &SecretRequirement, value: &str) -> Result<(), SecretError> {
    let rejected = |problem: String| SecretError::Rejected {
        name: req.name.clone(),
        problem,
        fix: format!(
            "use at least {} characters{}",
            req.min_length,
            if req.forbidden_chars.is_empty() {
                String::new()
            } else {
                format!(" and none of {:?}", req.forbidden_chars)
            }
        ),
    };
    if value.chars().count() < req.min_length {
        return Err(rejected(format!(
            "it has {} characters, fewer than {}",
            value.chars().count(),
            req.min_length
        )));
    }
    if let Some(max) = req.max_length.filter(|m| value.chars().count() > *m) {
        return Err(SecretError::Rejected {
            name: req.name.clone(),
            problem: format!(
                "it has {} characters, more than the {max} allowed",
                value.chars().count()
            ),
            fix: format!("use {} to {max} characters", req.min_length),
        });
    }
    if let Some(c) = value.chars().find(|c| req.forbidden_chars.contains(*c)) {
        return Err(rejected(format!("it contains the character {c:?}")));
    }
    if value.chars().any(char::is_control) {
        return Err(rejected("it contains control characters".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> SecretRequirement {
        SecretRequirement {
            name: "DB_MASTER_PASSWORD".into(),
            ssm_path: "/acme/shop/env/staging/db/DB_MASTER_PASSWORD".into(),
            description: "pw".into(),
            min_length: 8,
            forbidden_chars: "/@\" ".into(),
            max_length: None,
        }
    }

    #[test]
    fn env_names() {
        assert_eq!(env_of(&req()).as_deref(), Some("staging"));
        let (s, g) = env_vars(&req(), Some("staging"));
        assert_eq!(s, "RIG_SECRET_DB_MASTER_PASSWORD_STAGING");
        assert_eq!(g, "RIG_SECRET_DB_MASTER_PASSWORD");
    }

    #[test]
    fn checks_do_not_echo_the_value() {
        let e = check(&req(), "short").unwrap_err().to_string();
        assert!(e.contains("fewer than 8") && !e.contains("short"), "{e}");
        let e = check(&req(), "has a space").unwrap_err().to_string();
        assert!(e.contains("' '") && !e.contains("has a space"), "{e}");
        assert!(check(&req(), "long-enough-1").is_ok());
        let capped = SecretRequirement {
            max_length: Some(41),
            ..req()
        };
        let long = "x".repeat(42);
        let e = check(&capped, &long).unwrap_err().to_string();
        assert!(
            e.contains("42 characters, more than the 41 allowed")
                && e.contains("use 8 to 41 characters")
                && !e.contains(&long),
            "{e}"
        );
        assert!(check(&capped, &"x".repeat(41)).is_ok());
    }

    #[test]
    fn missing_without_prompt_names_the_variable() {
        let mut r = req();
        r.name = "NEVER_SET_IN_TESTS".into();
        let e = obtain(&r, None).unwrap_err().to_string();
        assert!(e.contains("RIG_SECRET_NEVER_SET_IN_TESTS_STAGING"), "{e}");
        assert!(
            e.contains("/acme/shop/env/staging/db/DB_MASTER_PASSWORD"),
            "{e}"
        );
    }
}
