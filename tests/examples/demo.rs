//! `cargo xtask demo`: a whole riglet (fargate + aurora-serverless, three environments) up,
//! status, outputs, plan (no changes), an app deployed to every environment and its
//! status, a second app released by its pipeline through integration, staging, the production
//! approval and production, then down, against the local AWS emulator.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rig_tests::apps::{AppApi, GOOD_IMAGE};
use rig_tests::matrix::{self, certificate_for, config_text, rig_binary, Rig};
use rig_tests::releases::{latest, wait_status, waits_for_approval, RELEASED_APP, SLACK_WEBHOOK};
use rig_tests::LocalAws;

/// The demo's app: served on `acme-<env>-api.example.com`, and on `api.example.com` in production.
const DEMO_APP: &str = r#"
[[apps]]
name = "api"
port = 8080
subdomain = "api"
environment = { LOG_LEVEL = "info" }
secrets = ["API_TOKEN"]
"#;

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!(
        "\n$ {}",
        matrix::describe(cmd).replace(&format!("{} ", rig_binary().display()), "rig ")
    );
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("command failed with {status}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let aws = LocalAws::start()?;
    eprintln!("demo: local AWS emulator on {}", aws.endpoint());
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("rig.toml");
    let cert = certificate_for(&aws, "example.com")?;
    // The domain's public zone exists before apps are deployed into it (it is the user's).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let api = rt.block_on(AppApi::new(&aws));
    let zone = rt.block_on(api.create_public_zone("example.com"))?;
    std::fs::write(
        &config,
        config_text("demo", &cert, "fargate", "aurora-serverless") + DEMO_APP + RELEASED_APP,
    )?;
    eprintln!("demo: rig.toml:\n{}", std::fs::read_to_string(&config)?);
    let rig = |args: &[&str]| {
        let mut c = Command::new(rig_binary());
        c.arg("--config").arg(&config).args(args);
        for (k, v) in aws.env() {
            c.env(k, v);
        }
        // No terminal to ask on: the demo's database password comes from the environment.
        c.env("RIG_SECRET_DB_MASTER_PASSWORD", "demo-only-password-1");
        c.env("RIG_SECRET_API_TOKEN", "demo-only-token-1");
        c.env(SLACK_WEBHOOK.0, SLACK_WEBHOOK.1);
        c
    };
    let watcher = Rig {
        bin: &rig_binary(),
        config: config.clone(),
        aws: &aws,
    };
    let t = Instant::now();
    run(&mut rig(&[
        "up",
        "--compute",
        "fargate",
        "--db",
        "aurora-serverless",
        "--yes",
    ]))?;
    run(&mut rig(&[
        "up",
        "--compute",
        "fargate",
        "--db",
        "aurora-serverless",
        "--yes",
        "--quiet",
    ]))?;
    run(&mut rig(&["status"]))?;
    run(&mut rig(&["outputs", "--env", "production"]))?;
    run(&mut rig(&["plan"]))
        .context("`rig plan` right after `rig up` must report no changes (exit 0)")?;
    for env in ["integration", "staging", "production"] {
        run(&mut rig(&[
            "app", "deploy", "--env", env, "--app", "api", "--image", GOOD_IMAGE,
        ]))?;
    }
    run(&mut rig(&["app", "status"]))?;
    // The storefront app is released by its pipeline: a build of one commit goes through
    // integration and staging, then waits for the production approval.
    run(&mut rig(&[
        "pipeline",
        "release",
        "--app",
        "storefront",
        "--commit",
        "dec0dec0ffee0123456789abcdef0123456789ab",
    ]))?;
    wait_status(&watcher, "the production approval", waits_for_approval)?;
    run(&mut rig(&["pipeline", "status", "--app", "storefront"]))?;
    run(&mut rig(&[
        "pipeline",
        "approve",
        "--app",
        "storefront",
        "--yes",
    ]))?;
    let s = wait_status(&watcher, "the release to end", |s| {
        latest(s).0 != "InProgress"
    })?;
    run(&mut rig(&["pipeline", "status", "--app", "storefront"]))?;
    if latest(&s).0 != "Succeeded" {
        bail!("the release ended {}", latest(&s).0);
    }
    run(&mut rig(&["app", "status", "--app", "storefront"]))?;
    run(&mut rig(&["down", "--yes", "--purge-secrets"]))?;
    rt.block_on(api.delete_zone(&zone))?;
    eprintln!(
        "\ndemo: finished in {:.1}s; stopping the emulator",
        t.elapsed().as_secs_f64()
    );
    drop(aws);
    Ok(())
}
