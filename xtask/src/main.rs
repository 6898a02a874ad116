//! Project tasks: `cargo xtask demo | test-matrix | lint | bench`.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rig_tests::matrix::{self, Combination};
use rig_tests::{repo_root, LocalAws};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  demo          build rig and its plugins, start the local AWS emulator, run a whole riglet
                (fargate + aurora-serverless, three environments) up, status, outputs, plan
                and down against it, then stop the emulator
  test-matrix   for every compute x database combination: up, verify through the service APIs,
                up again (no-op), plan (no changes), protect/down refused, unprotect, down,
                verify nothing remains; prints one row per combination
  test          build rig and its plugins, then run `cargo test --workspace`
  lint          render every combination and run cfn-lint (zero errors required)
  bench         run the criterion benchmarks";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test-matrix") => test_matrix(&args[1..]),
        Some("lint") => lint(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
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

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds `rig` and the plugins; returns the path of `rig`.
fn build() -> Result<PathBuf> {
    let root = repo_root();
    eprintln!("xtask: building rig and its plugins");
    let status = cargo()
        .current_dir(&root)
        .args(["build", "--quiet", "-p", "rig-cli"])
        .args(matrix::PLUGIN_CRATES.iter().flat_map(|c| ["-p", c]))
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    Ok(matrix::rig_binary())
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", matrix::describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("command failed with {status}");
    }
    Ok(())
}

fn demo() -> Result<()> {
    let rig = build()?;
    let aws = LocalAws::start()?;
    eprintln!("xtask: local AWS emulator on {}", aws.endpoint());
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("rig.toml");
    let cert = matrix::certificate_for(&aws, "example.com")?;
    std::fs::write(
        &config,
        matrix::config_text("demo", &cert, "fargate", "aurora-serverless"),
    )?;
    let rig_cmd = |args: &[&str]| {
        let mut c = Command::new(&rig);
        c.arg("--config").arg(&config).args(args);
        for (k, v) in aws.env() {
            c.env(k, v);
        }
        c.env("RIG_SECRET_DB_MASTER_PASSWORD", "demo-only-password-1");
        c
    };
    let t = Instant::now();
    run(&mut rig_cmd(&[
        "up",
        "--compute",
        "fargate",
        "--db",
        "aurora-serverless",
        "--yes",
    ]))?;
    run(&mut rig_cmd(&["status"]))?;
    run(&mut rig_cmd(&["outputs"]))?;
    run(&mut rig_cmd(&["plan"]))
        .context("`rig plan` right after `rig up` must report no changes (exit 0)")?;
    run(&mut rig_cmd(&["down", "--yes", "--purge-secrets"]))?;
    eprintln!(
        "xtask: demo finished in {:.1}s; stopping the emulator",
        t.elapsed().as_secs_f64()
    );
    drop(aws);
    Ok(())
}

fn test_matrix(args: &[String]) -> Result<()> {
    let rig = build()?;
    let only: Vec<&str> = args.iter().map(String::as_str).collect();
    let combos: Vec<Combination> = matrix::all()
        .into_iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| c.label().contains(o)))
        .collect();
    let aws = LocalAws::start()?;
    let rows = matrix::run_all(&rig, &aws, &combos);
    drop(aws);
    println!(
        "{:<40} {:<6} {:>8}  detail",
        "combination", "result", "seconds"
    );
    let mut failed = 0;
    for r in &rows {
        println!(
            "{:<40} {:<6} {:>8.1}  {}",
            r.combination.label(),
            if r.error.is_none() { "pass" } else { "FAIL" },
            r.seconds,
            r.error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        );
        if r.error.is_some() {
            failed += 1;
        }
    }
    for r in rows.iter().filter(|r| r.error.is_some()) {
        eprintln!(
            "\n{}:\n{}",
            r.combination.label(),
            r.error.as_deref().unwrap_or_default()
        );
    }
    println!("{} passed, {} failed", rows.len() - failed, failed);
    if failed > 0 {
        bail!("{failed} combination(s) failed");
    }
    Ok(())
}

fn lint() -> Result<()> {
    let rig = build()?;
    let root = repo_root();
    let venv = rig_tests::venv()?;
    let dir = tempfile::tempdir()?;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in matrix::all() {
        let config = dir.path().join(format!("{}.toml", c.label()));
        // Every rendering includes a pipeline, so its stack is linted as `rig up` would deploy it.
        let text = format!(
            "{}\n[[pipelines]]\nrepository = \"api\"\nbranch = \"feature/x\"\ngithub_owner = \"acme\"\nconnection_arn = \"arn:aws:codeconnections:us-east-1:123456789012:connection/0f0e0d0c\"\n",
            matrix::config_text("lint", matrix::OFFLINE_CERT, c.compute, c.database)
        );
        std::fs::write(&config, text)?;
        let out = dir.path().join(c.label());
        let output = Command::new(&rig)
            .arg("--config")
            .arg(&config)
            .args([
                "render",
                "--compute",
                c.compute,
                "--db",
                c.database,
                "--out",
            ])
            .arg(&out)
            .output()?;
        if !output.status.success() {
            bail!(
                "rig render failed for {}:\n{}",
                c.label(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let p = PathBuf::from(line);
            if p.extension().is_some_and(|e| e == "yaml") {
                // Identical templates are linted once.
                if seen.insert(std::fs::read(&p)?) {
                    files.push(p);
                }
            }
        }
        eprintln!("xtask: rendered {}", c.label());
    }
    // The third-party example's template is not reached by a combination.
    let example = root.join("examples/third-party-db/template.yaml");
    if seen.insert(std::fs::read(&example)?) {
        files.push(example);
    }
    eprintln!("xtask: cfn-lint over {} distinct templates", files.len());
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
        "cfn-lint: {} templates, 0 errors{}",
        files.len(),
        if code & 4 != 0 {
            " (warnings above)"
        } else {
            ""
        }
    );
    Ok(())
}

fn test(args: &[String]) -> Result<()> {
    // The end-to-end tests run the real `rig` binary and load the real plugin libraries.
    build()?;
    run(cargo()
        .current_dir(repo_root())
        .args(["test", "--workspace"])
        .args(args))
}

fn bench(args: &[String]) -> Result<()> {
    run(cargo()
        .current_dir(repo_root())
        .args(["bench", "-p", "rig-engine"])
        .args(args))
}
