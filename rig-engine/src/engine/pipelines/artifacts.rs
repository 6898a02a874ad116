//! The zip a pipeline's deploy stages read from each environment's app bucket: `app.yaml` (the
//! app template as rig renders it) and `config.json` (a CloudFormation template configuration
//! file with every parameter but the image, and the stack's tags, ownership tags included).
//!
//! The zip is deterministic (stored entries, fixed timestamps), so an unchanged app writes the
//! same bytes and rig skips the upload; see the CodePipeline CloudFormation action reference,
//! "Template configuration file", for the format.

use std::io::{Cursor, Write};

use serde_json::{json, Map, Value};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::super::apps::AppError;
use crate::planner::apps::pipeline_template_key;
use crate::planner::{PlannedStack, PlannedUpload, RigletPlan};

/// The parameter the build sets (from `build.json`), left out of `config.json`.
pub const IMAGE_PARAMETER: &str = "ContainerImage";

/// Names of the files in the zip.
pub const TEMPLATE_FILE: &str = "app.yaml";
pub const CONFIG_FILE: &str = "config.json";

/// `config.json` of a settled app stack.
pub fn template_configuration(app: &PlannedStack) -> Value {
    let parameters: Map<String, Value> = app
        .plan
        .parameters
        .iter()
        .filter(|(k, _)| k.as_str() != IMAGE_PARAMETER)
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let tags: Map<String, Value> = app
        .plan
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({ "Parameters": parameters, "Tags": tags })
}

/// The zip of a settled app stack. Errors: only if writing to memory fails.
pub fn template_zip(app: &PlannedStack) -> Result<Vec<u8>, AppError> {
    let fail = |e: &dyn std::fmt::Display| AppError::Artifact {
        stack: app.plan.name.clone(),
        problem: e.to_string(),
    };
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let config = serde_json::to_vec_pretty(&template_configuration(app)).map_err(|e| fail(&e))?;
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body) in [
        (TEMPLATE_FILE, app.plan.template_body.as_bytes()),
        (CONFIG_FILE, config.as_slice()),
    ] {
        zip.start_file(name, options).map_err(|e| fail(&e))?;
        zip.write_all(body).map_err(|e| fail(&e))?;
    }
    Ok(zip.finish().map_err(|e| fail(&e))?.into_inner())
}

/// Puts on each pipeline stack of the settled `plan` the zips of the app stacks it deploys (each
/// to its environment's app bucket). App stacks not in the plan are skipped.
pub(crate) fn attach_template_zips(plan: &mut RigletPlan) -> Result<(), AppError> {
    for target in plan.pipelines.clone() {
        let mut uploads = Vec::new();
        for (_, name) in &target.app_stacks {
            let Some(app) = plan.stack(name) else {
                continue;
            };
            uploads.push(PlannedUpload {
                bucket: app.template_bucket.clone(),
                key: pipeline_template_key(name),
                body: template_zip(app)?,
            });
        }
        if let Some(p) = plan.stacks.iter_mut().find(|s| s.plan.name == target.stack) {
            p.uploads = uploads;
        }
    }
    Ok(())
}
