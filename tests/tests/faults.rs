//! rig against a faulty AWS: the emulator's fault layer (tests/support/moto/README.md §27)
//! fails a seeded tenth of the requests with throttling errors, HTTP 500 and 503, or drops the
//! connection without an answer. `rig up`
//! converges through them with nothing created twice; a server that fails every request is
//! reported as a server failure after the retries. `RIG_FAULT_RUNS` sets how many seeded runs
//! (default 3; the reliability target is 20).

use rig_tests::matrix::{config_text, rig_binary, riglet_folder, vpcs_with_cidr, Api, Rig};
use rig_tests::LocalAws;
use serde_json::Value;

fn faults(aws: &LocalAws, query: &str) {
    aws.faults(query).unwrap();
}

fn requests(aws: &LocalAws) -> Value {
    aws.requests().unwrap()
}

#[test]
fn up_converges_through_injected_faults_with_nothing_created_twice() {
    assert!(
        rig_binary().exists(),
        "{} is not built; run `cargo xtask test`",
        rig_binary().display()
    );
    let runs: u64 = std::env::var("RIG_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let aws = LocalAws::start().expect("local AWS starts");
    let bin = rig_binary();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut injected_in_all = 0;
    for seed in 1..=runs {
        aws.reset().unwrap();
        let (dir, _) = riglet_folder(&aws, "fargate", "aurora-serverless");
        let rig = Rig {
            bin: &bin,
            config: dir.path().join("rig.toml"),
            aws: &aws,
        };
        faults(
            &aws,
            &format!("rate=0.1&seed={seed}&kinds=throttle,500,503,drop"),
        );
        let out = rig.output(&["up", "--yes", "--json"]).unwrap();
        let seen = requests(&aws);
        faults(&aws, "rate=0");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "seed {seed}: rig up failed through {} faults:\n{stderr}",
            seen["injected"]
        );
        let injected: u64 = seen["injected"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_u64)
            .sum();
        injected_in_all += injected;
        eprintln!(
            "seed {seed}: {} requests, {injected} failed on purpose ({}), rig up converged",
            seen["total"], seen["injected"]
        );
        // Nothing twice: each stack once and complete, one VPC per environment.
        let api = rt.block_on(Api::new(&aws));
        let mut live = rt.block_on(api.live_stacks("shop")).unwrap();
        live.sort();
        let mut unique = live.clone();
        unique.dedup();
        assert_eq!(live, unique, "seed {seed}: a stack twice");
        assert_eq!(live.len(), 9, "seed {seed}: {live:?}");
        for cidr in ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"] {
            assert_eq!(
                vpcs_with_cidr(&aws, cidr).unwrap(),
                1,
                "seed {seed}: {cidr}"
            );
        }
        // And a second run finds nothing to do.
        let again = rig.output(&["up", "--yes", "--json"]).unwrap();
        let report: Value = serde_json::from_slice(&again.stdout).unwrap();
        for s in report["stacks"].as_array().unwrap() {
            assert_eq!(s["outcome"], "unchanged", "seed {seed}: {s}");
        }
    }
    assert!(injected_in_all > 0, "no fault was injected");
}

#[test]
fn a_server_that_keeps_failing_is_reported_as_a_server_failure() {
    let aws = LocalAws::start().expect("local AWS starts");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    std::fs::write(
        &config,
        config_text("shop", rig_tests::matrix::OFFLINE_CERT, "fargate", "none"),
    )
    .unwrap();
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config,
        aws: &aws,
    };
    faults(&aws, "rate=1&seed=1&kinds=500");
    let out = rig.output(&["status"]).unwrap();
    let seen = requests(&aws);
    faults(&aws, "rate=0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the server failed (HTTP 500, InternalFailure) on each of 5 attempts")
            && !stderr.contains("does not implement"),
        "{stderr}"
    );
    // The SDK's retries made the attempts: 5 for the one call that failed.
    assert_eq!(seen["total"], 5, "{seen}");
}

#[test]
fn an_environment_in_express_mode_is_deployed_in_express_mode_and_probed_before_its_dependents() {
    let aws = LocalAws::start().expect("local AWS starts");
    let (dir, cert) = riglet_folder(&aws, "fargate", "aurora-serverless");
    let config = dir.path().join("rig.toml");
    let text = config_text("shop", &cert, "fargate", "aurora-serverless")
        + "\n[environments.integration]\ndeployment_mode = \"express\"\n\n[environments.staging]\n\n[environments.production]\n";
    std::fs::write(&config, text).unwrap();
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config,
        aws: &aws,
    };
    faults(&aws, "");
    let out = rig.output(&["up", "--yes"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let seen = requests(&aws);
    let modes = seen["modes"].as_object().expect("modes recorded");
    assert_eq!(modes.len(), 9, "{seen}");
    for (stack, mode) in modes {
        let express = stack.starts_with("acme-shop-integration-");
        assert_eq!(
            mode,
            if express { "EXPRESS" } else { "STANDARD" },
            "{stack}"
        );
    }
    // rig waited for the probes of the integration stacks that have some, and only those.
    let waited: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("waiting for its resources to be ready (express mode)"))
        .collect();
    assert!(
        waited
            .iter()
            .any(|l| l.contains("acme-shop-integration-db-")),
        "{stderr}"
    );
    assert!(
        waited.iter().all(|l| l.contains("acme-shop-integration-")),
        "{stderr}"
    );
    assert!(
        seen["requests"]["rds:DescribeDBClusters"].as_u64() >= Some(1),
        "{seen}"
    );
}
