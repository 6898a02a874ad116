//! `cargo xtask lint`: `rig render` for every compute × database combination (each with a
//! pipeline and two apps), plus the bastion's template, then cfn-lint and checkov over every
//! distinct template; zero cfn-lint errors and zero failed checkov checks required.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use rig_engine::render;
use rig_engine::session::{Session, SessionOptions};
use rig_tests::matrix::{self, rig_binary, OFFLINE_CERT};
use rig_tests::{repo_root, venv};

/// The workspace's plugin libraries, beside the `rig` binary this build made (this program runs
/// from `examples/`, so the folder beside it is not theirs).
fn plugin_libraries() -> Vec<PathBuf> {
    let dir = rig_binary().parent().map(PathBuf::from).unwrap_or_default();
    [
        "ecs-ec2",
        "fargate",
        "aurora-provisioned",
        "aurora-serverless",
        "couchdb",
    ]
    .iter()
    .map(|id| dir.join(rig_engine::plugin::plugin_file_name(id)))
    .collect()
}

fn main() -> Result<()> {
    let venv = venv()?;
    let dir = tempfile::tempdir()?;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen = BTreeSet::new();
    for c in matrix::all() {
        let config = dir.path().join(format!("{}.toml", c.label()));
        let text = format!(
            "{}{}\n[[pipelines]]\nrepository = \"api\"\nbranch = \"feature/x\"\ngithub_owner = \"acme\"\nconnection_arn = \"arn:aws:codeconnections:us-east-1:123456789012:connection/0f0e0d0c\"\n",
            matrix::config_text("lint", OFFLINE_CERT, c.compute, c.database),
            rig_tests::apps::APPS
        );
        std::fs::write(&config, text)?;
        let out = dir.path().join(c.label());
        let session = Session::load(&SessionOptions {
            config: config.clone(),
            compute: Some(c.compute.to_string()),
            database: Some(c.database.to_string()),
            plugins: plugin_libraries(),
            ..Default::default()
        })
        .with_context(|| format!("planning {}", c.label()))?;
        let rendered = render::render(&session.plan, &out)?;
        let n = rendered.len();
        for r in rendered {
            // Identical templates are linted once.
            if seen.insert(std::fs::read(&r.template)?) {
                files.push(r.template);
            }
        }
        eprintln!("lint: rendered {} ({n} stacks)", c.label());
    }
    // The bastion's template (`rig bastion create`, never part of a plan) and the third-party
    // example's are not reached by a combination.
    let bastion = dir.path().join("bastion.yaml");
    std::fs::write(&bastion, rig_engine::planner::bastion::BASTION_TEMPLATE)?;
    let example = repo_root().join("examples/third-party-db/template.yaml");
    for extra in [bastion, example] {
        if seen.insert(std::fs::read(&extra)?) {
            files.push(extra);
        }
    }
    eprintln!("lint: cfn-lint over {} distinct templates", files.len());
    let status = Command::new(venv.join("bin/cfn-lint"))
        .args(&files)
        .status()
        .context("running cfn-lint")?;
    // cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational.
    let code = status.code().unwrap_or(1);
    if code & 2 != 0 || code == 1 {
        bail!("cfn-lint reported errors (exit {code})");
    }
    println!(
        "cfn-lint: {} templates from 8 combinations, 0 errors{}",
        files.len(),
        if code & 4 != 0 {
            " (warnings above)"
        } else {
            ", 0 warnings"
        }
    );
    // The security review: checkov over the same templates, zero failed checks. A check a
    // template cannot meet is skipped in that resource's `Metadata.checkov.skip`, with a reason.
    let mut checkov = Command::new(venv.join("checkov/bin/checkov"));
    for f in &files {
        checkov.arg("-f").arg(f);
    }
    let status = checkov
        .args([
            "--framework",
            "cloudformation",
            "--compact",
            "--quiet",
            "--skip-download",
            "--output",
            "cli",
        ])
        .status()
        .context("running checkov")?;
    if !status.success() {
        bail!("checkov reported failed checks (exit {:?})", status.code());
    }
    println!(
        "checkov: {} templates, 0 failed checks (skips carry their reason in the template)",
        files.len()
    );
    Ok(())
}
