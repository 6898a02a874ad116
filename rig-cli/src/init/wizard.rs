//! The questions `rig init` asks on a terminal. Each answer is checked as it is typed with the
//! configuration loader's own check (a backend's settings with the backend's `validate`); a
//! rejected answer is asked again under the loader's message. Flags given on the command line
//! become the defaults.

use std::path::Path;

use anyhow::Result;
use dialoguer::theme::{ColorfulTheme, Theme};
use dialoguer::{Input, Select};
use rig_core::{Issue, Settings};
use rig_engine::config;
use rig_engine::session::{plugin_host, SessionError};

use super::answers::{
    as_json, default_cidr, main_settings, setting_value, split_env, Answers, Backend,
    COMPUTE_BACKENDS, DATABASE_BACKENDS,
};
use super::{options, InitArgs, DEFAULT_REGION};
use crate::Global;

/// A backend's `validate`, whichever its role.
type Validate = Box<dyn Fn(&Settings) -> Vec<Issue>>;

/// The environments asked for when no `--env` is given.
const DEFAULT_ENVIRONMENT_LIST: &str = "integration, staging, production";

/// Asks every question; flags given are the defaults.
pub fn ask(g: &Global, a: &InitArgs, out: &Path) -> Result<Answers> {
    let theme = ColorfulTheme::default();
    let t: &dyn Theme = &theme;
    eprintln!(
        "rig init writes {}. Enter takes the [default]; each answer is checked as rig checks rig.toml.",
        out.display()
    );
    let owner = text(
        t,
        "Owner (first part of every name)",
        a.owner.clone(),
        config::check_owner,
    )?;
    let project = text(
        t,
        "Project (second part of every name)",
        a.project.clone(),
        config::check_project,
    )?;
    let region = text(
        t,
        "AWS region",
        Some(g.region.clone().unwrap_or_else(|| DEFAULT_REGION.into())),
        config::check_region,
    )?;
    let profile = text(
        t,
        "AWS profile",
        Some(g.profile.clone().unwrap_or_else(|| "default".into())),
        check_profile,
    )?;
    let domain = text(
        t,
        "Public domain (apps answer on <owner>-<env>-<app>.<domain>)",
        a.domain.clone(),
        config::check_domain,
    )?;
    let domain_cert = text(
        t,
        "ACM certificate of the domain (ARN, or certificate id)",
        a.cert_arn.clone(),
        |v| config::check_domain_cert(v, &region).map(|_| ()),
    )?;
    let key_name = optional(
        t,
        "EC2 key pair for SSH (Enter for none: SSM Session Manager only)",
        a.key_pair.clone(),
        config::check_key_name,
    )?;
    let email = optional(
        t,
        "E-mail for notifications (Enter for none)",
        a.email.clone(),
        config::check_email,
    )?;
    let compute = choose(
        t,
        "Compute backend",
        COMPUTE_BACKENDS,
        a.compute.as_deref().unwrap_or("fargate"),
    )?;
    let compute = backend(t, g, out, "compute", compute)?;
    let database = choose(
        t,
        "Database backend",
        DATABASE_BACKENDS,
        a.db.as_deref().unwrap_or("none"),
    )?;
    let database = backend(t, g, out, "database", database)?;
    let environments = environments(t, a)?;
    let profile = (g.profile.is_some() || profile != "default").then_some(profile);
    Ok(Answers {
        owner,
        project,
        region,
        profile,
        domain,
        domain_cert,
        key_name,
        email,
        compute,
        database,
        environments,
    })
}

/// A profile name: what `--profile` takes (not a key of `rig.toml`).
fn check_profile(p: &str) -> Result<(), String> {
    if p.is_empty() || p.contains(char::is_whitespace) {
        Err("a profile name is one word, like `default` or `ops`".into())
    } else {
        Ok(())
    }
}

/// One required answer, trimmed, accepted by `check`.
fn text(
    theme: &dyn Theme,
    prompt: &str,
    default: Option<String>,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<String> {
    let mut input = Input::<String>::with_theme(theme)
        .with_prompt(prompt)
        .validate_with(move |v: &String| check(v.trim()));
    if let Some(d) = default {
        input = input.default(d);
    }
    Ok(input.interact_text()?.trim().to_string())
}

/// One optional answer: empty for none, otherwise accepted by `check`.
fn optional(
    theme: &dyn Theme,
    prompt: &str,
    default: Option<String>,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Option<String>> {
    let mut input = Input::<String>::with_theme(theme)
        .with_prompt(prompt)
        .allow_empty(true)
        .validate_with(move |v: &String| match v.trim() {
            "" => Ok(()),
            v => check(v),
        });
    if let Some(d) = default {
        input = input.default(d);
    }
    let v = input.interact_text()?.trim().to_string();
    Ok((!v.is_empty()).then_some(v))
}

/// One of `choices` (plus `default` if it is another backend's id, from a flag).
fn choose(
    theme: &dyn Theme,
    prompt: &str,
    choices: &[(&str, &str)],
    default: &str,
) -> Result<String> {
    let mut ids: Vec<String> = choices.iter().map(|(id, _)| id.to_string()).collect();
    let mut items: Vec<String> = choices
        .iter()
        .map(|(id, about)| format!("{id:<20} {about}"))
        .collect();
    if !ids.iter().any(|i| i == default) {
        ids.push(default.to_string());
        items.push(format!("{default:<20} (as given)"));
    }
    let at = ids.iter().position(|i| i == default).unwrap_or(0);
    let i = Select::with_theme(theme)
        .with_prompt(format!("{prompt} (arrows, then Enter)"))
        .items(&items)
        .default(at)
        .interact()?;
    Ok(ids[i].clone())
}

/// A backend's main settings, each checked with the backend's own `validate` together with
/// the answers before it.
fn backend(theme: &dyn Theme, g: &Global, out: &Path, role: &str, id: String) -> Result<Backend> {
    let keys = main_settings(&id);
    if keys.is_empty() || id == "none" {
        return Ok(Backend {
            id,
            settings: Vec::new(),
        });
    }
    let host = plugin_host(&options(g, out, None), None);
    let validate: Validate = if role == "compute" {
        let b = host.compute(&id).map_err(SessionError::from)?;
        Box::new(move |s| b.validate(s))
    } else {
        let b = host.database(&id).map_err(SessionError::from)?;
        Box::new(move |s| b.validate(s))
    };
    let mut settings: Vec<(String, toml::Value)> = Vec::new();
    for s in keys {
        let before = settings.clone();
        let answer = text(
            theme,
            &format!("{id} {}: {}", s.key, s.about),
            Some(s.default.to_string()),
            |v| {
                let mut candidate = before.clone();
                candidate.push((s.key.to_string(), setting_value(v)));
                match validate(&as_json(&candidate))
                    .into_iter()
                    .find(|i| i.key == s.key || i.key.is_empty())
                {
                    Some(i) => Err(format!("[{role}.{id}] {i}")),
                    None => Ok(()),
                }
            },
        )?;
        settings.push((s.key.to_string(), setting_value(&answer)));
    }
    Ok(Backend { id, settings })
}

/// The environments in order, each with its VPC CIDR: the three default ones keep theirs;
/// another is asked for (default: the next free 10.N.0.0/16).
fn environments(theme: &dyn Theme, a: &InitArgs) -> Result<Vec<(String, String)>> {
    let given: Vec<(String, Option<String>)> = a.envs.iter().map(|e| split_env(e)).collect();
    let default = if given.is_empty() {
        DEFAULT_ENVIRONMENT_LIST.to_string()
    } else {
        given
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let list = text(
        theme,
        "Environments, in deployment order",
        Some(default),
        |v| env_names(v).map(|_| ()),
    )?;
    let names = env_names(&list).unwrap_or_default();
    let mut taken: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for name in names {
        let flag = given
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, c)| c.clone());
        let has_default = config::DEFAULT_ENVIRONMENTS.iter().any(|(n, _)| *n == name);
        let cidr = match flag {
            Some(c) if config::check_environment(&name, Some(&c)).is_ok() => c,
            _ if has_default => default_cidr(&name, &taken),
            _ => text(
                theme,
                &format!("VPC CIDR of {name} (a /16)"),
                Some(default_cidr(&name, &taken)),
                |v| config::check_environment(&name, Some(v)),
            )?,
        };
        taken.push(cidr.clone());
        out.push((name, cidr));
    }
    Ok(out)
}

/// Environment names separated by commas or spaces: at least one, each a valid name, none
/// twice.
fn env_names(list: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = list
        .split([',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err("`environments`: at least one environment is needed".into());
    }
    for (i, n) in names.iter().enumerate() {
        config::check_environment_name(n)?;
        if names[..i].contains(n) {
            return Err(format!("`environments`: `{n}` is given twice"));
        }
    }
    Ok(names)
}
