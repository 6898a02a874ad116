//! A no-op `up` costs almost nothing: counted through the engine's own call counter (an SDK
//! interceptor on every client), in-process, against the local AWS.

use std::sync::Arc;

use rig_engine::cloud::Clients;
use rig_engine::engine::{EngineOptions, Outcome};
use rig_engine::events::Collect;
use rig_engine::session::{Session, SessionOptions};
use rig_tests::latency::LatencyProxy;
use rig_tests::matrix::{certificate_for, config_text, rig_binary, Rig};
use rig_tests::LocalAws;

fn sdk_config(aws: &LocalAws) -> aws_config::SdkConfig {
    sdk_config_at(&aws.endpoint())
}

fn sdk_config_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "rig-tests"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

/// Runs `up` in-process against `endpoint`; returns the report, the calls it made and the
/// seconds it took.
fn up_in_process(
    endpoint: &str,
    config: &std::path::Path,
) -> (
    rig_engine::engine::UpReport,
    rig_engine::cloud::CallCounts,
    f64,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut session = Session::load(&SessionOptions {
            config: config.to_path_buf(),
            plugins: rig_tests::matrix::plugin_libraries(&["fargate", "aurora-serverless"]),
            ..Default::default()
        })
        .unwrap();
        let clients = Clients::from_sdk_config(&sdk_config_at(endpoint));
        let calls = clients.calls.clone();
        let t0 = std::time::Instant::now();
        let engine = session
            .connect_with(
                clients,
                Arc::new(Collect::default()),
                EngineOptions::default(),
            )
            .await
            .unwrap();
        let report = engine.up(&session.plan, None).await.unwrap();
        (report, calls.snapshot(), t0.elapsed().as_secs_f64())
    })
}

#[test]
fn a_no_op_up_of_the_standard_riglet_reads_at_most_14_times_and_writes_nothing() {
    let aws = LocalAws::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate_for(&aws, "example.com").unwrap();
    let config = dir.path().join("rig.toml");
    std::fs::write(
        &config,
        config_text("shop", &cert, "fargate", "aurora-serverless"),
    )
    .unwrap();
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: config.clone(),
        aws: &aws,
    };
    rig.ok(&["up", "--yes"]).unwrap();

    let (report, calls, seconds) = up_in_process(&aws.endpoint(), &config);
    assert_eq!(report.stacks.len(), 9);
    assert!(
        report
            .stacks
            .iter()
            .all(|s| s.outcome == Outcome::Unchanged),
        "{:?}",
        report.stacks
    );
    assert!(!report.changed(), "{report:?}");
    eprintln!(
        "no-op up: {} calls, {} mutating, {seconds:.2}s: {:?}",
        calls.total(),
        calls.mutating(),
        calls.0
    );
    assert_eq!(calls.mutating(), 0, "{:?}", calls.0);
    assert!(
        calls.total() <= 14,
        "{} calls: {:?}",
        calls.total(),
        calls.0
    );

    // The same through 20 ms of latency per request: the same calls; the time is reported
    // (speed targets belong to the benchmarks, not to a test).
    let proxy = LatencyProxy::start(aws.port(), std::time::Duration::from_millis(20)).unwrap();
    let (report, slow_calls, seconds) = up_in_process(&proxy.endpoint(), &config);
    assert!(report
        .stacks
        .iter()
        .all(|s| s.outcome == Outcome::Unchanged));
    assert_eq!(slow_calls, calls);
    eprintln!("no-op up at 20 ms per request: {seconds:.2}s");
}

#[test]
fn a_template_edited_outside_rig_is_caught_by_the_next_up() {
    let aws = LocalAws::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate_for(&aws, "example.com").unwrap();
    let config = dir.path().join("rig.toml");
    let text = config_text("shop", &cert, "fargate", "none");
    std::fs::write(&config, text).unwrap();
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: config.clone(),
        aws: &aws,
    };
    rig.ok(&["up", "--yes", "--env", "integration"]).unwrap();

    // Someone adds a resource to the compute stack's template by hand (same parameters and
    // tags), so only the deployed template tells.
    let stack = "acme-shop-integration-compute-ecs";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfn = aws_sdk_cloudformation::Client::new(&sdk_config(&aws));
        let body = cfn
            .get_template()
            .stack_name(stack)
            .send()
            .await
            .unwrap()
            .template_body()
            .unwrap()
            .to_string();
        let edited = body.replacen(
            "\nResources:\n",
            "\nResources:\n  HandEdit:\n    Type: AWS::SNS::Topic\n",
            1,
        );
        assert_ne!(body, edited);
        let live = cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .unwrap();
        let live = &live.stacks()[0];
        cfn.create_change_set()
            .stack_name(stack)
            .change_set_name("by-hand")
            .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Update)
            .template_body(edited)
            .set_parameters(Some(
                live.parameters()
                    .iter()
                    .map(|p| {
                        aws_sdk_cloudformation::types::Parameter::builder()
                            .parameter_key(p.parameter_key().unwrap())
                            .parameter_value(p.parameter_value().unwrap())
                            .build()
                    })
                    .collect(),
            ))
            .set_tags(Some(live.tags().to_vec()))
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cfn.execute_change_set()
            .stack_name(stack)
            .change_set_name("by-hand")
            .send()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    });

    let out = rig
        .output(&["up", "--yes", "--json", "--env", "integration"])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcome = |name: &str| {
        report["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["outcome"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(outcome(stack), "updated", "{report}");
    assert_eq!(outcome("acme-shop-integration-foundation"), "unchanged");
}
