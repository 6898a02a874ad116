//! rig killed with SIGKILL in the middle of `up` and of `down`, then run again. The emulator's
//! fault layer (tests/support/moto/README.md §27, `stall=N`) holds rig's N-th mutating request
//! until rig is dead, then lets it land, as AWS completes a request whose client went away. The
//! next run converges with nothing duplicated or leaked, and a `down` after a partial `up`
//! removes everything. Ten points of each command; `RIG_KILL_POINTS=N` tries fewer.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rig_tests::matrix::{certificate_for, config_text, rig_binary, vpcs_with_cidr, Api, Rig};
use rig_tests::LocalAws;

/// Mutating requests of an `up` of the one-environment riglet to stop at (1 = the first; it
/// makes 23: the lock, buckets, parameters, change sets, template uploads).
const UP_POINTS: [u64; 10] = [1, 4, 8, 12, 16, 18, 19, 20, 21, 22];
/// The same for its `down` (11: the lock, stack deletions, bucket purges and deletions).
const DOWN_POINTS: [u64; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11];

fn points(all: &[u64; 10]) -> Vec<u64> {
    let n: usize = std::env::var("RIG_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 10);
    // Spread over the whole command: first, last and evenly between.
    (0..n)
        .map(|i| all[if n == 1 { 0 } else { i * 9 / (n - 1) }])
        .collect()
}

/// Starts `rig args`, waits until the emulator holds its `n`-th mutating request, kills it with
/// SIGKILL and lets the request land. Returns the operation it was killed in.
fn kill_at(aws: &LocalAws, rig: &Rig, args: &[&str], n: u64) -> String {
    aws.faults(&format!("stall={n}")).unwrap();
    let mut child: Child = rig
        .command(args)
        .env("RIG_LOCK_LEASE_SECONDS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let stalled = loop {
        let seen = aws.requests().unwrap();
        if let Some(op) = seen["stalled"].as_str() {
            break op.to_string();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "`rig {}` ended ({status}) before its mutating request {n}: it made {}",
                args.join(" "),
                seen["mutating"]
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no request {n} within 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
    aws.faults("release=1").unwrap();
    let started = Instant::now();
    while !aws.requests().unwrap()["stalled"].is_null() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the held request never landed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    aws.faults("").unwrap();
    stalled
}

/// A riglet of one environment (integration), Fargate without a database.
fn riglet(aws: &LocalAws) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate_for(aws, "example.com").unwrap();
    let config = dir.path().join("rig.toml");
    let text = config_text("shop", &cert, "fargate", "none") + "\n[environments.integration]\n";
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

/// Runs `rig args` to success (a killed holder's lease is 2 s).
fn run(rig: &Rig, args: &[&str]) {
    let out = rig
        .command(args)
        .env("RIG_LOCK_LEASE_SECONDS", "2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`rig {}` failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every stack of the riglet once and settled, one VPC.
fn converged(aws: &LocalAws, rt: &tokio::runtime::Runtime, point: &str) {
    let api = rt.block_on(Api::new(aws));
    let mut live = rt.block_on(api.live_stacks("shop")).unwrap();
    live.sort();
    let mut unique = live.clone();
    unique.dedup();
    assert_eq!(live, unique, "{point}: a stack twice");
    assert_eq!(
        live,
        [
            "acme-shop-integration-compute-ecs",
            "acme-shop-integration-foundation"
        ],
        "{point}"
    );
    assert_eq!(
        vpcs_with_cidr(aws, "10.1.0.0/16").unwrap(),
        1,
        "{point}: VPCs"
    );
}

fn gone(aws: &LocalAws, rt: &tokio::runtime::Runtime, point: &str) {
    let api = rt.block_on(Api::new(aws));
    if let Err(e) = rt.block_on(api.verify_gone("shop")) {
        panic!("{point}: {e:#}");
    }
}

#[test]
fn up_killed_anywhere_then_run_again_converges_and_down_removes_everything() {
    assert!(rig_binary().exists(), "run `cargo xtask test`");
    let aws = LocalAws::start().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bin = rig_binary();
    for (i, n) in points(&UP_POINTS).into_iter().enumerate() {
        aws.reset().unwrap();
        let (_dir, config) = riglet(&aws);
        let rig = Rig {
            bin: &bin,
            config,
            aws: &aws,
        };
        let op = kill_at(&aws, &rig, &["up", "--yes"], n);
        let point = format!("up killed in mutating request {n} ({op})");
        eprintln!("{point}");
        if i % 2 == 0 {
            run(&rig, &["up", "--yes"]);
            converged(&aws, &rt, &point);
        }
        // Odd points: straight from the partial up to down.
        run(&rig, &["down", "--yes"]);
        gone(&aws, &rt, &point);
    }
}

#[test]
fn down_killed_anywhere_then_run_again_removes_everything() {
    assert!(rig_binary().exists(), "run `cargo xtask test`");
    let aws = LocalAws::start().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bin = rig_binary();
    for n in points(&DOWN_POINTS) {
        aws.reset().unwrap();
        let (_dir, config) = riglet(&aws);
        let rig = Rig {
            bin: &bin,
            config,
            aws: &aws,
        };
        run(&rig, &["up", "--yes"]);
        let op = kill_at(&aws, &rig, &["down", "--yes"], n);
        let point = format!("down killed in mutating request {n} ({op})");
        eprintln!("{point}");
        run(&rig, &["down", "--yes"]);
        gone(&aws, &rt, &point);
    }
}
