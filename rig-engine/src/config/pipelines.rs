//! `[[pipelines]]`: one per repository and branch; they deploy to integration, staging and
//! production, so they need those environments and are left out when `--env` narrows the riglet.

use indexmap::IndexMap;
use rig_core::names;
use rig_core::Settings;
use serde::Deserialize;

use super::file::toml_to_settings;
use super::{AppSpec, EnvToml, Overrides};

/// `[[pipelines]]`: one repository and branch, plus the pipeline backend's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineToml {
    /// GitHub repository name (lowercase; part of stack and ECR names).
    pub repository: String,
    /// Branch to build (default `main`); `/` is made safe in names.
    #[serde(default)]
    pub branch: Option<String>,
    /// The `[[apps]]` entry the pipeline deploys (default: the app named like the repository).
    #[serde(default)]
    pub app: Option<String>,
    /// The pipeline backend's settings (`github_owner`, `connection_arn`, ...).
    #[serde(flatten)]
    pub settings: toml::Table,
}

/// A pipeline of the riglet.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    pub repository: String,
    pub branch: String,
    /// The name of the app it deploys, if any.
    pub app: Option<String>,
    pub settings: Settings,
}

/// The app a pipeline deploys: the one it names (which must exist), else the app named like
/// the repository, else none.
fn app_of(
    key: &str,
    p: &PipelineToml,
    apps: &[AppSpec],
    problems: &mut Vec<String>,
) -> Option<String> {
    let Some(name) = &p.app else {
        return apps
            .iter()
            .find(|a| a.name == p.repository)
            .map(|a| a.name.clone());
    };
    if !apps.iter().any(|a| a.name == *name) {
        let mut known: Vec<&str> = Vec::new();
        for a in apps {
            if !known.contains(&a.name.as_str()) {
                known.push(&a.name);
            }
        }
        problems.push(if known.is_empty() {
            format!("`{key}.app`: no app named `{name}`; the config has no `[[apps]]`: add one named `{name}` or remove `app`")
        } else {
            format!(
                "`{key}.app`: no app named `{name}`; the config has: {}; use one of them or add an `[[apps]]` entry named `{name}`",
                known.join(", ")
            )
        });
    }
    Some(name.clone())
}

/// The pipelines, checked; none when `--env` selects part of the riglet.
pub(super) fn resolve(
    written: &[PipelineToml],
    env_tables: &IndexMap<String, EnvToml>,
    apps: &[AppSpec],
    ov: &Overrides,
    problems: &mut Vec<String>,
) -> Vec<PipelineSpec> {
    let mut pipelines = Vec::new();
    for (i, p) in written.iter().enumerate() {
        let key = format!("pipelines[{i}]");
        if let Err(e) = names::validate_segment("repository", &p.repository) {
            problems.push(format!("`{key}.repository`: {e}"));
        }
        let branch = p.branch.clone().unwrap_or_else(|| "main".into());
        if names::safe_branch(&branch).is_empty() {
            problems.push(format!("`{key}.branch`: `{branch}` has no letter or digit"));
        }
        if pipelines.iter().any(|q: &PipelineSpec| {
            q.repository == p.repository
                && names::safe_branch(&q.branch) == names::safe_branch(&branch)
        }) {
            problems.push(format!("`{key}`: {}@{branch} is configured twice (or two branches make the same safe name)", p.repository));
        }
        pipelines.push(PipelineSpec {
            repository: p.repository.clone(),
            branch,
            app: app_of(&key, p, apps, problems),
            settings: toml_to_settings(&p.settings),
        });
    }
    if !pipelines.is_empty() {
        for need in ["integration", "staging", "production"] {
            if !env_tables.contains_key(need) {
                problems.push(format!(
                    "`pipelines`: pipelines deploy to integration, staging and production, and `environments.{need}` is missing"
                ));
            }
        }
    }
    if !ov.environments.is_empty() {
        pipelines.clear();
    }
    pipelines
}
