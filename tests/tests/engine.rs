//! End-to-end behaviour of the engine through the real `rig` binary on the local emulator:
//! concurrency, failure handling, secrets.

use std::process::Output;

use rig_tests::matrix::{config_text, rig_binary, Rig};
use rig_tests::LocalAws;

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn setup(compute: &str, db: &str) -> (LocalAws, tempfile::TempDir, String) {
    rig_tests::matrix::local_riglet(compute, db)
}

fn json(o: &Output) -> serde_json::Value {
    let (out, err) = text(o);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}\n{err}"))
}

#[test]
fn environments_deploy_concurrently_and_each_waits_for_its_foundation() {
    let (aws, dir, _) = setup("fargate", "aurora-serverless");
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: dir.path().join("rig.toml"),
        aws: &aws,
    };
    let out = rig
        .output(&["up", "--yes", "--json", "--concurrency", "9"])
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let report = json(&out);
    let stacks = report["stacks"].as_array().unwrap();
    let span = |name: &str| {
        let s = stacks
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in report"));
        (
            s["started_ms"].as_u64().unwrap(),
            s["finished_ms"].as_u64().unwrap(),
        )
    };
    let foundations: Vec<(u64, u64)> = ["integration", "staging", "production"]
        .iter()
        .map(|e| span(&format!("acme-shop-{e}-foundation")))
        .collect();
    let last_start = foundations.iter().map(|f| f.0).max().unwrap();
    let first_end = foundations.iter().map(|f| f.1).min().unwrap();
    assert!(
        last_start < first_end,
        "the three foundations must be in flight together: {foundations:?}"
    );
    for e in ["integration", "staging", "production"] {
        let (_, f_end) = span(&format!("acme-shop-{e}-foundation"));
        for dep in ["compute-ecs", "db-aurora"] {
            let (start, _) = span(&format!("acme-shop-{e}-{dep}"));
            assert!(
                start >= f_end,
                "{e}-{dep} started before its foundation finished"
            );
        }
    }
}

#[test]
fn a_failed_create_is_explained_skips_its_dependents_and_is_replaced_only_with_consent() {
    let (aws, dir, cert) = setup("fargate", "none");
    let bin = rig_binary();
    let config = dir.path().join("rig.toml");
    // A certificate that does not exist makes the HTTPS listener, and so the foundation, fail.
    let missing =
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-00000000dead";
    std::fs::write(&config, config_text("shop", missing, "fargate", "none")).unwrap();
    let rig = Rig {
        bin: &bin,
        config: config.clone(),
        aws: &aws,
    };

    // `rig check` would stop it before any change; skipped, CloudFormation meets the failure.
    let out = rig
        .output(&["up", "--yes", "--env", "integration", "--skip-checks"])
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stdout.contains("acme-shop-integration-foundation") && stdout.contains("failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("acme-shop-integration-compute-ecs") && stdout.contains("skipped"),
        "{stdout}"
    );
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "the events that explain the failure are shown:\n{stderr}"
    );

    let status = rig.ok(&["status", "--env", "integration"]).unwrap();
    assert!(status.contains("ROLLBACK_COMPLETE"), "{status}");

    // Fixed configuration, but no consent: refused with the way out.
    std::fs::write(&config, config_text("shop", &cert, "fargate", "none")).unwrap();
    let out = rig
        .output(&["up", "--yes", "--env", "integration"])
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).0.contains("--replace-failed") || text(&out).1.contains("--replace-failed"),
        "{:?}",
        text(&out)
    );

    let out = rig
        .output(&[
            "up",
            "--yes",
            "--env",
            "integration",
            "--replace-failed",
            "--json",
        ])
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let report = json(&out);
    for s in report["stacks"].as_array().unwrap() {
        assert_eq!(s["outcome"], "created", "{s}");
    }
}

#[test]
fn secrets_stay_out_of_output_templates_and_parameters() {
    let (aws, dir, _) = setup("fargate", "aurora-serverless");
    let secret = "Very-Secret-Value-4711";
    let bin = rig_binary();
    let config = dir.path().join("rig.toml");

    // Without the secret and without a terminal: refused before anything is created.
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("--config")
        .arg(&config)
        .args(["up", "--yes", "--env", "staging"]);
    for (k, v) in aws.env() {
        cmd.env(k, v);
    }
    cmd.env_remove("RIG_SECRET_DB_MASTER_PASSWORD");
    let out = cmd.output().unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("RIG_SECRET_DB_MASTER_PASSWORD_STAGING"),
        "names the variable to set:\n{stderr}"
    );
    let rig = Rig {
        bin: &bin,
        config: config.clone(),
        aws: &aws,
    };
    let plan = rig.output(&["plan", "--env", "staging"]).unwrap();
    assert!(
        text(&plan).0.contains("+ bucket"),
        "nothing was created by the refused run:\n{}",
        text(&plan).0
    );

    // With the secret, at the highest verbosity.
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("--config")
        .arg(&config)
        .args(["-vvv", "up", "--yes", "--env", "staging"]);
    for (k, v) in aws.env() {
        cmd.env(k, v);
    }
    cmd.env("RIG_SECRET_DB_MASTER_PASSWORD", secret)
        .env("RUST_LOG", "trace");
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the secret leaked into the output"
    );

    let described =
        rig_tests::matrix::describe_riglet(&aws, "acme-shop-staging-db-aurora").unwrap();
    assert!(
        !described.contains(secret),
        "the secret is in the stack's template or parameters"
    );
    assert!(
        described.contains("{{resolve:ssm-secure:"),
        "the template uses a dynamic reference"
    );
    let stored =
        rig_tests::matrix::secure_parameter(&aws, "/acme/shop/env/staging/db/DB_MASTER_PASSWORD")
            .unwrap();
    assert_eq!(stored, ("SecureString".to_string(), secret.to_string()));
}

#[test]
fn an_operation_the_endpoint_lacks_is_reported_as_a_server_failure_within_seconds() {
    // Plain moto has no UpdateTerminationProtection and answers HTTP 500 without an error code:
    // rig reports the server failure after its retries, naming the operation and the stand-in
    // that may lack it, and does not retry for minutes.
    assert!(
        rig_binary().exists(),
        "{} is not built; run `cargo xtask test`",
        rig_binary().display()
    );
    let aws = LocalAws::start_plain().expect("plain moto starts");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    std::fs::write(
        &config,
        config_text("shop", rig_tests::matrix::OFFLINE_CERT, "fargate", "none"),
    )
    .unwrap();
    rig_tests::matrix::create_stack(&aws, "acme-shop-integration-foundation").unwrap();
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config,
        aws: &aws,
    };
    let started = std::time::Instant::now();
    let out = rig.output(&["protect", "--env", "integration"]).unwrap();
    let elapsed = started.elapsed();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("UpdateTerminationProtection: the server failed (HTTP 500)")
            && stderr.contains("5 attempts")
            && stderr.contains("does not model"),
        "{stderr}"
    );
    assert!(elapsed.as_secs() < 20, "took {elapsed:?}");
}

#[test]
fn ctrl_c_stops_waiting_and_a_rerun_converges_without_duplicates() {
    use std::io::{BufRead, BufReader};
    let (aws, dir, _) = setup("fargate", "aurora-serverless");
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: dir.path().join("rig.toml"),
        aws: &aws,
    };
    let mut child = rig
        .command(&["up", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.ends_with(": creating") {
            // The first stack is being created: interrupt as a user would.
            let ok = std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(ok.success());
            break;
        }
    }
    seen.extend(lines.map_while(Result::ok));
    let status = child.wait().unwrap();
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted; stopped waiting")
            && stderr.contains("Run `rig up` again to resume"),
        "{stderr}"
    );

    let out = rig.output(&["up", "--yes", "--json"]).unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let report = json(&out);
    for s in report["stacks"].as_array().unwrap() {
        assert!(
            s["outcome"] == "created" || s["outcome"] == "unchanged",
            "{s}"
        );
    }
    // Nothing was created twice: one VPC per environment, and the riglet is complete.
    let stacks =
        rig_tests::matrix::describe_riglet(&aws, "acme-shop-production-db-aurora").unwrap();
    assert!(stacks.contains("AWS::RDS::DBCluster"));
    assert_eq!(
        rig_tests::matrix::vpcs_with_cidr(&aws, "10.1.0.0/16").unwrap(),
        1
    );
    assert_eq!(
        rig_tests::matrix::vpcs_with_cidr(&aws, "10.3.0.0/16").unwrap(),
        1
    );
    let plan = rig.output(&["plan"]).unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan).0);
}

#[test]
fn plan_shows_what_up_would_change_and_leaves_nothing_behind() {
    let (aws, dir, cert) = setup("fargate", "none");
    let bin = rig_binary();
    let config = dir.path().join("rig.toml");
    let rig = Rig {
        bin: &bin,
        config: config.clone(),
        aws: &aws,
    };

    // A fresh riglet: the foundation through a real change set, its dependents from the template.
    let out = rig.output(&["plan", "--env", "staging"]).unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "changes → exit 2\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("+ bucket rig-acme-shop-us-east-1-foundation-staging"),
        "{stdout}"
    );
    let foundation = stdout
        .lines()
        .find(|l| l.starts_with("acme-shop-staging-foundation"))
        .unwrap();
    assert_eq!(
        foundation.split_whitespace().collect::<Vec<_>>(),
        ["acme-shop-staging-foundation", "create"]
    );
    assert!(
        stdout.contains("+ add                  AWS::ElasticLoadBalancingV2::LoadBalancer"),
        "{stdout}"
    );
    assert!(stdout.contains("acme-shop-staging-compute-ecs                    create (from the template: acme-shop-staging-foundation not created yet)"), "{stdout}");
    assert!(
        rig_tests::matrix::describe_riglet(&aws, "acme-shop-staging-foundation").is_err(),
        "plan must not leave a stack behind"
    );
    assert_eq!(
        rig_tests::matrix::vpcs_with_cidr(&aws, "10.2.0.0/16").unwrap(),
        0
    );

    // After up, switching the compute backend is an update of the compute stack only.
    rig.ok(&["up", "--yes", "--env", "staging"]).unwrap();
    std::fs::write(&config, config_text("shop", &cert, "ecs-ec2", "none")).unwrap();
    let out = rig.output(&["plan", "--env", "staging"]).unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("acme-shop-staging-foundation                     unchanged"),
        "{stdout}"
    );
    assert!(
        stdout.contains("acme-shop-staging-compute-ecs                    update"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+ add                  AWS::AutoScaling::AutoScalingGroup"),
        "{stdout}"
    );
    // Nothing was executed: the compute stack is still the Fargate one.
    let compute =
        rig_tests::matrix::describe_riglet(&aws, "acme-shop-staging-compute-ecs").unwrap();
    assert!(
        !compute.contains("AWS::AutoScaling::AutoScalingGroup"),
        "plan executed a change set"
    );
}
