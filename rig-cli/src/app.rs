//! `rig app`: deploy, scale, watch, read the logs of and delete one application's stack.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use rig_engine::engine::apps::{AppDeployRequest, AppOperation, AppStatus};
use rig_engine::engine::down::TeardownOptions;

use crate::output::print_doc;
use crate::{
    connect, lock_options, prepare, refused_before_change, tear_down, Global, Select, TtyPrompt,
};
use rig_engine::engine::Engine;
use rig_engine::secrets::Prompt;
use rig_engine::session::Session;

/// Which app, where.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The environment.
    #[arg(long)]
    env: String,
    /// The app (its `[[apps]]` name, or NAME@BRANCH for a branch copy).
    #[arg(long)]
    app: String,
    /// Compute backend, if `rig up` was given one other than the config's.
    #[arg(long)]
    compute: Option<String>,
    /// Database backend, if `rig up` was given one other than the config's.
    #[arg(long)]
    db: Option<String>,
}

impl Target {
    fn select(&self) -> Select {
        Select {
            envs: vec![self.env.clone()],
            compute: self.compute.clone(),
            db: self.db.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// Create or update the app's stack to run an image, then wait until ECS has rolled it out
    /// (the new deployment PRIMARY and COMPLETED); a failed rollout exits non-zero with ECS's
    /// reason while the previous version keeps serving.
    Deploy {
        #[command(flatten)]
        target: Target,
        /// The image: REGISTRY/REPOSITORY:TAG (or @sha256:DIGEST).
        #[arg(long)]
        image: String,
        /// How long to wait for the rollout once CloudFormation is done (e.g. 20m).
        #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Tasks running / desired / pending, deployments and their rollout state, target health
    /// and URLs of the apps (all, or those given).
    Status {
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        /// Only this app.
        #[arg(long)]
        app: Option<String>,
        #[arg(long)]
        compute: Option<String>,
        #[arg(long)]
        db: Option<String>,
    },
    /// Change the app's task count, CPU or memory through its stack's parameters (the image
    /// and everything else stay); `rig up` brings them back to rig.toml's values.
    Scale {
        #[command(flatten)]
        target: Target,
        /// Desired number of tasks.
        #[arg(long)]
        tasks: Option<u32>,
        /// Task CPU units (256 = 0.25 vCPU).
        #[arg(long)]
        cpu: Option<u32>,
        /// Task memory, MiB.
        #[arg(long)]
        memory: Option<u32>,
        #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// What the app's tasks printed (CloudWatch Logs), oldest first.
    Logs {
        #[command(flatten)]
        target: Target,
        /// Keep printing new lines until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        /// How far back to start (e.g. 10m, 2h).
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        since: Duration,
    },
    /// Delete the app's stack in one environment (listed and confirmed first).
    Delete {
        #[command(flatten)]
        target: Target,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

pub async fn run(g: &Global, cmd: AppCommand) -> Result<u8> {
    match cmd {
        AppCommand::Deploy {
            target,
            image,
            timeout,
        } => change(g, &target, AppOperation::Deploy { image }, timeout).await,
        AppCommand::Scale {
            target,
            tasks,
            cpu,
            memory,
            timeout,
        } => {
            if tasks.is_none() && cpu.is_none() && memory.is_none() {
                bail!("nothing to change: give --tasks, --cpu or --memory");
            }
            change(
                g,
                &target,
                AppOperation::Scale { tasks, cpu, memory },
                timeout,
            )
            .await
        }
        AppCommand::Status {
            env,
            app,
            compute,
            db,
        } => {
            let select = Select {
                envs: env.iter().cloned().collect(),
                compute,
                db,
            };
            let mut p = prepare(g, &select)?;
            let engine = connect(g, &mut p).await?;
            let status = engine
                .app_status(&p.plan, env.as_deref(), app.as_deref())
                .await?;
            if g.json() {
                print_doc("app.status", &serde_json::json!({ "apps": status }))?;
            } else {
                print_status(&status);
            }
            Ok(0)
        }
        AppCommand::Logs {
            target,
            follow,
            since,
        } => {
            let mut p = prepare(g, &target.select())?;
            let engine = connect(g, &mut p).await?;
            let json = g.json();
            let mut each = |l: &rig_engine::cloud::apps::LogLine| {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"timestamp_ms": l.timestamp_ms, "stream": l.stream, "message": l.message})
                    );
                } else {
                    println!(
                        "{} {} {}",
                        millis_to_rfc3339(l.timestamp_ms),
                        l.stream,
                        l.message.trim_end()
                    );
                }
                true
            };
            tokio::select! {
                r = engine.app_logs(&p.plan, &target.env, &target.app, since, follow, &mut each) => r?,
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(0)
        }
        AppCommand::Delete { target, yes } => {
            let mut p = prepare(g, &target.select())?;
            let stack = rig_engine::engine::apps::stack_name(&p.plan, &target.env, &target.app)?;
            let engine = connect(g, &mut p).await?;
            let lock = engine
                .lock(&p.plan.names, "rig app delete", lock_options(g)?)
                .await?;
            let outcome = async {
                let t = engine
                    .teardown_plan(
                        &p.plan,
                        TeardownOptions {
                            only: Some(stack),
                            ..Default::default()
                        },
                    )
                    .await?;
                tear_down(&engine, g, &t, yes, &BTreeMap::new(), "rig app delete").await
            }
            .await;
            lock.release(refused_before_change(&outcome)).await?;
            outcome
        }
    }
}

async fn change(g: &Global, target: &Target, op: AppOperation, timeout: Duration) -> Result<u8> {
    let mut p = prepare(g, &target.select())?;
    rig_engine::engine::apps::check_app(&p.plan, &target.env, &target.app)?;
    if let AppOperation::Deploy { image } = &op {
        rig_engine::engine::apps::check_image(image)?;
    }
    if let AppOperation::Scale {
        cpu, memory, tasks, ..
    } = &op
    {
        rig_engine::engine::apps::check_scale(&p.riglet, &target.app, *tasks, *cpu, *memory)?;
    }
    let engine = connect(g, &mut p).await?;
    let what = match op {
        AppOperation::Deploy { .. } => "rig app deploy",
        AppOperation::Scale { .. } => "rig app scale",
    };
    let lock = engine.lock(&p.plan.names, what, lock_options(g)?).await?;
    let outcome = deploy_locked(g, &engine, &p, target, op, timeout).await;
    lock.release(refused_before_change(&outcome)).await?;
    outcome
}

/// The rest of `rig app deploy | scale`, under the riglet's lock.
async fn deploy_locked(
    g: &Global,
    engine: &Engine,
    p: &Session,
    target: &Target,
    op: AppOperation,
    timeout: Duration,
) -> Result<u8> {
    let prompt: Option<&dyn Prompt> = if std::io::stdin().is_terminal() {
        Some(&TtyPrompt)
    } else {
        None
    };
    let req = AppDeployRequest {
        env: target.env.clone(),
        app: target.app.clone(),
        operation: op,
        rollout_timeout: timeout,
    };
    let report = tokio::select! {
        r = engine.deploy_app(&p.plan, &req, prompt) => r?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted; stopped waiting. CloudFormation and ECS go on on their own: `rig app status --env {} --app {}` shows where they are.", target.env, target.app);
            return Ok(crate::output::exit::INTERRUPTED);
        }
    };
    if g.json() {
        print_doc("app.deploy", &report)?;
    } else {
        println!(
            "{}: {} {} in {:.1} s: {} running {} of {} tasks (deployment {})",
            report.stack,
            serde_json::to_value(report.outcome)?
                .as_str()
                .unwrap_or_default(),
            report.image,
            report.seconds,
            report
                .task_definition
                .rsplit('/')
                .next()
                .unwrap_or_default(),
            report.running,
            report.desired,
            report.deployment
        );
        for u in &report.urls {
            println!("  {u}");
        }
    }
    Ok(0)
}

fn print_status(status: &[AppStatus]) {
    for s in status {
        let Some(st) = &s.stack_status else {
            println!(
                "{:<48} NOT DEPLOYED (rig app deploy --env {} --app {} --image ...)",
                s.stack, s.env, s.app
            );
            continue;
        };
        println!(
            "{:<48} {st}  {}/{} running, {} pending  {}",
            s.stack,
            s.running,
            s.desired,
            s.pending,
            s.image.as_deref().unwrap_or("-")
        );
        for u in &s.urls {
            println!("    {u}");
        }
        for d in &s.deployments {
            println!(
                "    deployment {} {} {} {}/{} running{}{}",
                d.id,
                d.status,
                d.rollout_state.as_deref().unwrap_or("-"),
                d.running,
                d.desired,
                if d.failed > 0 {
                    format!(", {} failed", d.failed)
                } else {
                    String::new()
                },
                d.rollout_reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
        for t in &s.targets {
            println!(
                "    target {}{} {}{}",
                t.id,
                t.port.map(|p| format!(":{p}")).unwrap_or_default(),
                t.state,
                t.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
        }
    }
}

/// `2026-12-01T10:11:12.345Z` from milliseconds since the epoch.
pub(crate) fn millis_to_rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
