//! `cargo xtask test-matrix [FILTER...]`: every compute × database combination end to end on the
//! local AWS emulator; one row per combination.

use anyhow::{bail, Result};
use rig_tests::matrix::{self, rig_binary, Combination};
use rig_tests::LocalAws;

fn main() -> Result<()> {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let combos: Vec<Combination> = matrix::all()
        .into_iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| c.label().contains(o.as_str())))
        .collect();
    if combos.is_empty() {
        bail!("no combination matches {only:?}");
    }
    let aws = LocalAws::start()?;
    let rows = matrix::run_all(&rig_binary(), &aws, &combos);
    drop(aws);
    println!(
        "\n{:<34} {:<6} {:>8}  detail",
        "combination", "result", "seconds"
    );
    let mut failed = 0;
    for r in &rows {
        println!(
            "{:<34} {:<6} {:>8.1}  {}",
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
        failed += usize::from(r.error.is_some());
    }
    for r in rows.iter().filter(|r| r.error.is_some()) {
        eprintln!(
            "\n{}:\n{}",
            r.combination.label(),
            r.error.as_deref().unwrap_or_default()
        );
    }
    println!("matrix: {} passed, {} failed", rows.len() - failed, failed);
    if failed > 0 {
        bail!("{failed} combination(s) failed");
    }
    Ok(())
}
