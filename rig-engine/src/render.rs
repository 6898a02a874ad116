//! The layout `rig render` writes: per environment (or `riglet` for riglet-wide stacks) a
//! folder holding `<stack>.yaml` (the template) and `<stack>.parameters.json` (the parameters in
//! CloudFormation's `ParameterKey` / `ParameterValue` form). No AWS call.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::planner::RigletPlan;

/// One stack as rendered.
#[derive(Debug, Clone, Serialize)]
pub struct Rendered {
    pub stack: String,
    pub env: Option<String>,
    pub backend: String,
    pub template: PathBuf,
    pub parameters: PathBuf,
}

/// Writes every stack's template and parameters under `out`.
///
/// Errors: the folder or a file cannot be written (`std::io::Error`, naming the path).
pub fn render(plan: &RigletPlan, out: &Path) -> std::io::Result<Vec<Rendered>> {
    let mut written = Vec::new();
    for s in &plan.stacks {
        let dir = out.join(s.env.as_deref().unwrap_or("riglet"));
        std::fs::create_dir_all(&dir).map_err(|e| at(&dir, e))?;
        let template = dir.join(format!("{}.yaml", s.plan.name));
        std::fs::write(&template, &s.plan.template_body).map_err(|e| at(&template, e))?;
        let params: Vec<serde_json::Value> = s
            .plan
            .parameters
            .iter()
            .map(|(k, v)| serde_json::json!({"ParameterKey": k, "ParameterValue": v}))
            .collect();
        let parameters = dir.join(format!("{}.parameters.json", s.plan.name));
        let text = serde_json::to_string_pretty(&params).expect("JSON values serialise") + "\n";
        std::fs::write(&parameters, text).map_err(|e| at(&parameters, e))?;
        written.push(Rendered {
            stack: s.plan.name.clone(),
            env: s.env.clone(),
            backend: s.backend.clone(),
            template,
            parameters,
        });
    }
    Ok(written)
}

fn at(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
}
