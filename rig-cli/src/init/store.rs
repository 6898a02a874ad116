//! The database's secrets after `rig init` wrote the file: asked for without echo and stored
//! in SSM as the riglet's SecureStrings (at the paths and with the tags `rig up` uses) once the
//! user confirms, or left for `rig up` to ask for.

use anyhow::{Context, Result};
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Password};
use rig_engine::engine::EngineOptions;
use rig_engine::secrets;
use rig_engine::session::Session;
use rig_engine::HINT_MARKER;

use crate::Global;

/// Says that `rig up` asks for the secrets (or reads them from the environment).
pub fn note_later(session: &Session) {
    for s in &session.plan.secrets {
        let (specific, generic) = secrets::env_vars(&s.requirement, s.env.as_deref());
        eprintln!(
            "note: {} is not stored yet; `rig up` asks for it on a terminal (or reads {specific} or {generic}) and keeps it at {}",
            s.requirement.description, s.requirement.ssm_path
        );
    }
}

/// Offers to store the plan's secrets now; returns the SSM paths written.
pub async fn offer(g: &Global, mut session: Session) -> Result<Vec<String>> {
    let theme = ColorfulTheme::default();
    let planned = session.plan.secrets.clone();
    let now = Confirm::with_theme(&theme)
        .with_prompt(format!(
            "The database needs {} secret(s), one per environment. Type them now and store them in SSM? (no: `rig up` asks for them)",
            planned.len()
        ))
        .default(true)
        .interact()?;
    if !now {
        note_later(&session);
        return Ok(Vec::new());
    }
    let mut values = Vec::new();
    for s in &planned {
        let req = s.requirement.clone();
        let value = Password::with_theme(&theme)
            .with_prompt(format!("{} (not shown)", req.description))
            .with_confirmation("Again, to confirm", "the two entries differ; once more")
            .validate_with(move |v: &String| {
                secrets::check(&req, v).map_err(|e| e.to_string().replace(HINT_MARKER, "; "))
            })
            .interact()?;
        values.push((s, value));
    }
    let region = &session.riglet.info.region;
    let profile = session
        .options
        .profile
        .as_deref()
        .map(|p| format!(", profile {p}"))
        .unwrap_or_default();
    let paths: Vec<String> = planned
        .iter()
        .map(|s| s.requirement.ssm_path.clone())
        .collect();
    let go = Confirm::with_theme(&theme)
        .with_prompt(format!(
            "Store them as SecureStrings in {region}{profile}:\n  {}\n",
            paths.join("\n  ")
        ))
        .default(true)
        .interact()?;
    if !go {
        note_later(&session);
        return Ok(Vec::new());
    }
    let engine = session
        .connect(crate::live::sink(g.quiet), EngineOptions::default())
        .await
        .context("the file is written, but the secrets were not stored; `rig up` asks for them")?;
    let existing = engine.clients.parameter_values(&paths).await?;
    let mut stored = Vec::new();
    for (s, value) in values {
        let path = &s.requirement.ssm_path;
        if existing.contains_key(path) {
            eprintln!("{path} is already stored; kept as it is");
            continue;
        }
        let tags = s.expected(&session.plan.names).tags();
        engine
            .clients
            .put_parameter(path, &value, true, false, &tags)
            .await
            .with_context(|| format!("storing {} at {path}", s.requirement.name))?;
        eprintln!("stored {} as a SecureString at {path}", s.requirement.name);
        stored.push(path.clone());
    }
    Ok(stored)
}
