//! `rig pipeline`: the releases of a repository's pipeline; start one; answer the production
//! approval after seeing the change set it is about.

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use rig_engine::engine::pipelines::{PendingApproval, PipelineStatus};

use crate::output::print_doc;
use crate::{confirm, connect, prepare, Global, Select};

#[derive(Subcommand, Debug)]
pub enum PipelineCommand {
    /// The latest releases: each stage's state and how long it took, and the commit.
    Status {
        /// The app whose pipeline to show (needed when the riglet has several pipelines).
        #[arg(long)]
        app: Option<String>,
        /// How many releases, newest first.
        #[arg(long, default_value_t = 3)]
        executions: i32,
    },
    /// Start a release: source, build, integration, staging, then the production change set
    /// waits for `rig pipeline approve`.
    Release {
        #[arg(long)]
        app: Option<String>,
        /// Build this commit instead of the branch's latest.
        #[arg(long)]
        commit: Option<String>,
    },
    /// Show the production change set, then approve it: production is deployed.
    Approve {
        #[arg(long)]
        app: Option<String>,
        /// Recorded with the answer.
        #[arg(long, default_value = "approved with rig")]
        comment: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Show the production change set, then reject it: the release stops, production stays.
    Reject {
        #[arg(long)]
        app: Option<String>,
        #[arg(long, default_value = "rejected with rig")]
        comment: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

pub async fn run(g: &Global, cmd: PipelineCommand) -> Result<u8> {
    let mut p = prepare(g, &Select::default())?;
    // Which pipeline is known from the configuration: a missing or ambiguous one is refused
    // before any AWS call.
    let app = match &cmd {
        PipelineCommand::Status { app, .. }
        | PipelineCommand::Release { app, .. }
        | PipelineCommand::Approve { app, .. }
        | PipelineCommand::Reject { app, .. } => app.clone(),
    };
    rig_engine::engine::pipelines::pipeline_for(&p.plan, app.as_deref())?;
    let engine = connect(g, &mut p).await?;
    match cmd {
        PipelineCommand::Status { app, executions } => {
            let status = engine
                .pipeline_status(&p.plan, app.as_deref(), executions.clamp(1, 100))
                .await?;
            if g.json() {
                print_doc("pipeline.status", &status)?;
            } else {
                print_status(&status);
            }
            Ok(0)
        }
        PipelineCommand::Release { app, commit } => {
            let (pipeline, id) = engine
                .pipeline_release(&p.plan, app.as_deref(), commit.as_deref())
                .await?;
            if g.json() {
                print_doc(
                    "pipeline.release",
                    &serde_json::json!({"pipeline": pipeline, "execution_id": id}),
                )?;
            } else {
                println!("{id}");
                eprintln!(
                    "release {id} of {pipeline} started; follow it with `rig pipeline status{}`",
                    app.map(|a| format!(" --app {a}")).unwrap_or_default()
                );
            }
            Ok(0)
        }
        PipelineCommand::Approve { app, comment, yes } => {
            answer(g, &engine, &p.plan, app, true, &comment, yes).await
        }
        PipelineCommand::Reject { app, comment, yes } => {
            answer(g, &engine, &p.plan, app, false, &comment, yes).await
        }
    }
}

async fn answer(
    g: &Global,
    engine: &rig_engine::engine::Engine,
    plan: &rig_engine::planner::RigletPlan,
    app: Option<String>,
    approve: bool,
    comment: &str,
    yes: bool,
) -> Result<u8> {
    let pending = engine.pending_approval(plan, app.as_deref()).await?;
    print_change_set(g, &pending)?;
    let verb = if approve { "approve" } else { "reject" };
    if !yes && !confirm(&format!("{verb} release to {}?", pending.stack))? {
        eprintln!("nothing answered");
        return Ok(crate::output::exit::FAILURE);
    }
    engine.answer_approval(&pending, approve, comment).await?;
    eprintln!(
        "{} {}: {}",
        if approve { "approved" } else { "rejected" },
        pending.pipeline,
        if approve {
            format!("{} is being deployed", pending.stack)
        } else {
            "the release stops; production is unchanged".to_string()
        }
    );
    Ok(0)
}

fn print_change_set(g: &Global, p: &PendingApproval) -> Result<()> {
    let image_after = p.change_set.as_ref().and_then(|c| {
        c.parameters
            .iter()
            .find(|(k, _)| k == "ContainerImage")
            .map(|(_, v)| v.clone())
    });
    if g.json() {
        let cs = p.change_set.as_ref().map(|c| {
            serde_json::json!({
                "status": c.status,
                "status_reason": c.status_reason,
                "changes": c.changes.iter().map(|(a, l, t, r)| serde_json::json!({"action": a, "logical_id": l, "type": t, "replacement": r})).collect::<Vec<_>>(),
            })
        });
        return print_doc(
            "pipeline.approval",
            &serde_json::json!({
                "pipeline": p.pipeline,
                "execution_id": p.execution_id,
                "stack": p.stack,
                "image_before": p.current_image,
                "image_after": image_after,
                "change_set": cs,
            }),
        );
    }
    println!(
        "production release of {} (pipeline {}, execution {})",
        p.app,
        p.pipeline,
        p.execution_id.as_deref().unwrap_or("?")
    );
    println!(
        "  image: {} -> {}",
        p.current_image.as_deref().unwrap_or("(new stack)"),
        image_after.as_deref().unwrap_or("?")
    );
    match &p.change_set {
        None => println!("  change set {} of {}: not found", p.stack, p.stack),
        Some(c) => {
            println!("  change set {} ({}):", p.stack, c.status);
            if c.changes.is_empty() {
                println!(
                    "    no resource changes{}",
                    c.status_reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
            for (action, logical, rtype, replacement) in &c.changes {
                let r = match replacement.as_deref() {
                    Some("True") => "  (replacement)",
                    Some("Conditional") => "  (may be replaced)",
                    _ => "",
                };
                println!("    {action:<7} {logical} {rtype}{r}");
            }
        }
    }
    Ok(())
}

fn print_status(s: &PipelineStatus) {
    println!("pipeline {} (app {})", s.pipeline, s.app);
    if s.executions.is_empty() {
        println!("  no releases yet; start one with `rig pipeline release`");
    }
    for run in &s.executions {
        let e = &run.execution;
        let commit = e.commit.as_deref().map(|c| &c[..c.len().min(8)]);
        println!(
            "  {} {} {}{}",
            e.id,
            e.status,
            e.started_ms
                .map(crate::app::millis_to_rfc3339)
                .unwrap_or_default(),
            commit.map(|c| format!(" commit {c}")).unwrap_or_default()
        );
        if let Some(message) = e.commit_summary.as_deref().and_then(commit_message) {
            println!("    {message}");
        }
        for st in &run.stages {
            let took = st.duration_ms.map(took).unwrap_or_else(|| "-".into());
            // A running stage names its action; the production approval says how to answer it.
            let running = match st.action.as_deref() {
                _ if st.status != "InProgress" => String::new(),
                Some(rig_engine::engine::pipelines::APPROVAL_ACTION) => {
                    "  waiting for `rig pipeline approve` or `reject`".to_string()
                }
                Some(a) => format!("  {a}"),
                None => String::new(),
            };
            println!(
                "    {:<18} {:<11} {:>8}{running}",
                st.stage, st.status, took
            );
            if st.status == "Failed" {
                if let Some(d) = &st.detail {
                    println!("      {d}");
                }
            }
        }
    }
}

/// A stage's time: tenths of a second under a minute, then humantime (`2m 5s`).
fn took(ms: i64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        humantime::format_duration(Duration::from_secs((ms / 1000) as u64)).to_string()
    }
}

/// The first line of a commit's message: CodeConnections gives the revision summary as JSON
/// (`{"ProviderType": "GitHub", "CommitMessage": "..."}`), GitHub (OAuth) as plain text.
fn commit_message(summary: &str) -> Option<String> {
    let text = serde_json::from_str::<serde_json::Value>(summary)
        .ok()
        .and_then(|v| v["CommitMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| summary.to_string());
    text.lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_message_is_read_from_either_summary_form() {
        let json = r#"{"ProviderType":"GitHub","CommitMessage":"Fix the cart\n\nDetails"}"#;
        assert_eq!(commit_message(json).as_deref(), Some("Fix the cart"));
        assert_eq!(
            commit_message("Plain text\nmore").as_deref(),
            Some("Plain text")
        );
        assert_eq!(commit_message(""), None);
    }

    #[test]
    fn stage_times_read_well() {
        assert_eq!(took(420), "0.4s");
        assert_eq!(took(59_900), "59.9s");
        assert_eq!(took(125_000), "2m 5s");
    }
}
