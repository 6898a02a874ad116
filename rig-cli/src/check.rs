//! `rig check`, and the checks `rig up` and `rig plan` run before their first mutating call:
//! one line per check, ✓ or ✗ with the fix.

use std::io::IsTerminal;

use anyhow::{bail, Result};
use rig_engine::engine::check::{CheckLine, CheckReport};
use rig_engine::engine::Engine;
use rig_engine::session::Session;

use crate::live::colour;

/// One check as a line: `✓ certificate  ISSUED, ...`, and for a failed one its fix on the
/// next line.
pub fn line(c: &CheckLine) -> String {
    let mark = match (c.ok, colour()) {
        (true, true) => console::style("✓").green().to_string(),
        (false, true) => console::style("✗").red().bold().to_string(),
        (true, false) => "✓".to_string(),
        (false, false) => "✗".to_string(),
    };
    let mut s = format!("{mark} {:<44} {}", c.check, c.detail);
    if let Some(fix) = &c.fix {
        s.push_str(&format!("\n    fix: {fix}"));
    }
    s
}

/// Every check as text, one per line.
pub fn text(report: &CheckReport) -> String {
    report
        .checks
        .iter()
        .map(line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the checks for `p`'s plan (only reads).
pub async fn run(engine: &Engine, p: &Session) -> CheckReport {
    engine
        .check(
            &p.riglet,
            &p.plan,
            &p.backends,
            std::io::stdin().is_terminal(),
        )
        .await
}

/// The checks `up` and `plan` run first: quiet when they pass (one line unless `quiet`), the
/// failed ones on stderr and an error when any fails, before anything is created.
pub async fn gate(engine: &Engine, p: &Session, command: &str, quiet: bool) -> Result<()> {
    let report = run(engine, p).await;
    if report.passed() {
        if !quiet {
            eprintln!(
                "checks: {} passed (rig check lists them)",
                report.checks.len()
            );
        }
        return Ok(());
    }
    let failed: Vec<String> = report.checks.iter().filter(|c| !c.ok).map(line).collect();
    bail!(
        "{command} stopped before changing anything: {} check(s) failed\n{}\n  hint: fix what the lines above say, then run `{command}` again (`rig check` runs the checks alone)",
        failed.len(),
        failed.join("\n")
    )
}
