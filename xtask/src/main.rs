//! Project tasks: `cargo xtask demo | test | test-matrix | lint | bench`.
//!
//! Every task first builds the whole workspace with all its targets, in one cargo invocation, so
//! the following `cargo test` and the task's own programs (examples of `rig-tests`) reuse the
//! same build instead of compiling the AWS SDK again with another feature set.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  demo                 build rig and its plugins, start the local AWS emulator, run a whole
                       riglet (fargate + aurora-serverless, three environments) up, up again,
                       status, outputs, plan and down against it, then stop the emulator
  test [ARGS]          build everything, then `cargo test --workspace [ARGS]`
  test-matrix [FILTER] every compute x database combination end to end: up, verify through the
                       service APIs, up again (no-op), plan (no changes), protect/down refused,
                       unprotect, down, verify nothing remains; one row per combination
  lint                 render every combination and run cfn-lint (zero errors required)
  bench [--release]    rig against the local AWS with simulated stack durations and latency,
                       side by side with the old project's way: prints a table and writes
                       BENCHMARKS.md (--release: measure release builds of rig and its plugins)
  bench-criterion      the criterion benchmarks of planning (`cargo bench -p rig-engine`)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("demo") => build().and_then(|_| example("demo", rest)),
        Some("test") => build().and_then(|_| {
            run(cargo()
                .args(["test", "--workspace", "--exclude", "xtask"])
                .args(rest))
        }),
        Some("test-matrix") => build().and_then(|_| example("matrix", rest)),
        Some("lint") => build().and_then(|_| example("lint", rest)),
        Some("bench") => build()
            .and_then(|_| {
                if rest.iter().any(|a| a == "--release") {
                    release_build()
                } else {
                    Ok(())
                }
            })
            .and_then(|_| example("bench", rest)),
        Some("bench-criterion") => run(cargo().args(["bench", "-p", "rig-engine"]).args(rest)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed with {status}", cmd.get_program());
    }
    Ok(())
}

/// Builds `rig`, the plugin libraries, the tests and the task programs in one go.
fn build() -> Result<()> {
    eprintln!("xtask: building the workspace");
    run(cargo().args([
        "build",
        "--workspace",
        "--exclude",
        "xtask",
        "--all-targets",
    ]))
}

/// Builds `rig` and the first-party plugins with the release profile.
fn release_build() -> Result<()> {
    eprintln!("xtask: building rig and its plugins (release)");
    let mut c = cargo();
    c.args(["build", "--release", "-p", "rig-cli"]);
    for plugin in [
        "ecs-ec2",
        "fargate",
        "aurora-provisioned",
        "aurora-serverless",
        "couchdb",
    ] {
        c.args(["-p", &format!("rig-plugin-{plugin}")]);
    }
    run(&mut c)
}

fn example(name: &str, args: &[String]) -> Result<()> {
    let exe = target_dir()
        .join("debug/examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    run(Command::new(&exe).current_dir(root()).args(args))
}
