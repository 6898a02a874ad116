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
    /// The key ([`AppSpec::key`]) of the app it deploys (always set once the config is valid).
    pub app: Option<String>,
    pub settings: Settings,
}

/// The key of the app a pipeline deploys: the one it names, else the one named like the
/// repository; of that name, the copy for the pipeline's branch if there is one, else the app
/// itself. A pipeline without an app is a problem: its deploy stages would have nothing to
/// deploy.
fn app_of(
    key: &str,
    p: &PipelineToml,
    branch: &str,
    apps: &[AppSpec],
    problems: &mut Vec<String>,
) -> Option<String> {
    let name = p.app.as_deref().unwrap_or(&p.repository);
    let of_name = |want: Option<&str>| {
        apps.iter()
            .find(|a| a.name == name && a.branch.as_deref() == want)
            .map(AppSpec::key)
    };
    if let Some(k) = of_name(Some(branch)).or_else(|| of_name(None)) {
        return Some(k);
    }
    let mut known: Vec<&str> = Vec::new();
    for a in apps {
        if !known.contains(&a.name.as_str()) {
            known.push(&a.name);
        }
    }
    let what = if p.app.is_some() {
        format!("`{key}.app`: no app named `{name}`")
    } else {
        format!("`{key}`: the pipeline deploys the app named like its repository, `{name}`, and there is none")
    };
    problems.push(if known.is_empty() {
        format!("{what}; the config has no `[[apps]]`: add one named `{name}`")
    } else {
        format!(
            "{what}; the config has: {}; add an `[[apps]]` entry named `{name}` or set `app` to one of them",
            known.join(", ")
        )
    });
    None
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
        if let Err(e) = super::names::check_branch(&format!("{key}.branch"), &branch) {
            problems.push(e);
        } else if names::safe_branch(&branch).is_empty() {
            problems.push(format!("`{key}.branch`: `{branch}` has no letter or digit"));
        }
        if pipelines.iter().any(|q: &PipelineSpec| {
            q.repository == p.repository
                && names::safe_branch(&q.branch) == names::safe_branch(&branch)
        }) {
            problems.push(format!("`{key}`: {}@{branch} is configured twice (or two branches make the same safe name)", p.repository));
        }
        let app = app_of(&key, p, &branch, apps, problems);
        pipelines.push(PipelineSpec {
            repository: p.repository.clone(),
            branch,
            app,
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
