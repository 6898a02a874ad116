//! `rig check` against the local AWS: a riglet that passes, then a missing certificate, a
//! missing hosted zone and an Elastic IP quota too small, each a ✗ line with its fix, and a
//! certificate from another region, refused with the configuration before any AWS call;
//! the checks make no mutating call (the engine's call counter), and `rig up` stops on a
//! failed check with nothing created.

use std::path::Path;

use aws_config::Region;
use rig_engine::engine::check::CheckReport;
use rig_tests::apps::AppApi;
use rig_tests::matrix::{
    certificate_for, config_text, open_engine, rig_binary, sdk_config, Api, Rig,
};
use rig_tests::LocalAws;
use serde_json::Value;

const APP: &str = "\n[[apps]]\nname = \"api\"\nport = 8080\n";

/// `rig.toml` for acme/shop with one environment (staging), fargate, no database, and `extra`.
fn write_config(path: &Path, cert: &str, extra: &str) {
    let text = format!(
        "{}\n[environments.staging]\ncidr = \"10.2.0.0/16\"\n{extra}",
        config_text("shop", cert, "fargate", "none")
    );
    std::fs::write(path, text).unwrap();
}

/// The checks run in process: the report and the mutating calls they made.
fn checks_in_process(aws: &LocalAws, config: &Path) -> (CheckReport, usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (session, engine) = open_engine(aws, config, &["fargate"]).await;
        let report = engine
            .check(&session.riglet, &session.plan, &session.backends, false)
            .await;
        (report, engine.clients.calls.snapshot().mutating())
    })
}

fn failed<'a>(report: &'a CheckReport, check: &str) -> &'a str {
    let line = report
        .checks
        .iter()
        .find(|c| c.check == check)
        .unwrap_or_else(|| panic!("no `{check}` check in {report:#?}"));
    assert!(!line.ok, "`{check}` should fail: {report:#?}");
    assert!(line.fix.is_some(), "a failed check says how to fix it");
    &line.detail
}

#[test]
fn checks_find_what_would_break_up_before_anything_is_created() {
    let aws = LocalAws::start().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: config.clone(),
        aws: &aws,
    };
    let cert = certificate_for(&aws, "example.com").unwrap();

    // Everything in place: every line ✓, exit 0, and the JSON document lists the same checks.
    rt.block_on(async {
        AppApi::new(&aws)
            .await
            .create_public_zone("example.com")
            .await
            .unwrap()
    });
    write_config(&config, &cert, APP);
    let out = rig.output(&["check"]).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for check in [
        "credentials",
        "region",
        "certificate",
        "hosted zone",
        "plugins",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("✓ {check} "))),
            "{check} in\n{stdout}"
        );
    }
    assert!(stdout.contains("quota: VPCs per Region"), "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");
    let json = rig.output(&["check", "--output", "json"]).unwrap();
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["schema"], "rig.check/1");
    assert_eq!(
        doc["checks"].as_array().unwrap().len(),
        stdout
            .lines()
            .filter(|l| !l.starts_with("    fix:"))
            .count()
    );
    let (report, mutating) = checks_in_process(&aws, &config);
    assert!(report.passed(), "{report:#?}");
    assert_eq!(mutating, 0, "the checks only read");

    // A certificate ARN this account does not have.
    let missing =
        "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-4000-8000-000000000000";
    write_config(&config, missing, APP);
    let (report, mutating) = checks_in_process(&aws, &config);
    assert!(failed(&report, "certificate").contains("no certificate"));
    assert_eq!(mutating, 0);
    let out = rig.output(&["check"]).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ certificate") && stdout.contains("fix: request one for *.example.com"),
        "{stdout}"
    );

    // `rig up` stops on it: exit 1, the failed line, and nothing created.
    let up = rig.output(&["up", "--yes"]).unwrap();
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert_eq!(up.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rig up stopped before changing anything")
            && stderr.contains("✗ certificate"),
        "{stderr}"
    );
    let api = rt.block_on(Api::new(&aws));
    assert!(rt.block_on(api.live_stacks("shop")).unwrap().is_empty());
    let s3 = rt.block_on(async { aws_sdk_s3::Client::new(&sdk_config(&aws).await) });
    let buckets = rt.block_on(s3.list_buckets().send()).unwrap();
    assert!(
        buckets.buckets().is_empty(),
        "no bucket created: {:?}",
        buckets.buckets()
    );

    // A certificate from another region: refused with the configuration, before any AWS call.
    let west = rt.block_on(async {
        let conf = aws_sdk_acm::config::Builder::from(&sdk_config(&aws).await)
            .region(Region::new("us-west-2"))
            .build();
        aws_sdk_acm::Client::from_conf(conf)
            .request_certificate()
            .domain_name("*.example.com")
            .send()
            .await
            .unwrap()
            .certificate_arn()
            .unwrap()
            .to_string()
    });
    write_config(&config, &west, APP);
    let out = rig.output(&["check"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("the certificate is in us-west-2, but the riglet is in us-east-1"),
        "{stderr}"
    );

    // A certificate that does not cover the app's host name.
    let narrow = certificate_for(&aws, "other.example.com").unwrap();
    write_config(&config, &narrow, APP);
    let (report, _) = checks_in_process(&aws, &config);
    assert!(
        failed(&report, "certificate").contains("does not cover acme-staging-api.example.com"),
        "{report:#?}"
    );

    // No public hosted zone for the domain, with an app that needs its DNS record.
    rt.block_on(async {
        let r53 = aws_sdk_route53::Client::new(&sdk_config(&aws).await);
        for z in r53.list_hosted_zones().send().await.unwrap().hosted_zones() {
            r53.delete_hosted_zone().id(z.id()).send().await.unwrap();
        }
    });
    write_config(&config, &cert, APP);
    let (report, mutating) = checks_in_process(&aws, &config);
    assert!(
        failed(&report, "hosted zone").contains("no public hosted zone named example.com"),
        "{report:#?}"
    );
    assert_eq!(mutating, 0);
    // Without apps no DNS record is written, so the zone is not checked.
    write_config(&config, &cert, "");
    let (report, _) = checks_in_process(&aws, &config);
    assert!(report.passed(), "{report:#?}");
    assert!(report.checks.iter().all(|c| c.check != "hosted zone"));

    // Three new environments need 6 Elastic IPs (a NAT gateway per zone each); with 15 of the
    // account's 20 allocated, the quota check fails and names the quota to raise.
    std::fs::write(&config, config_text("shop", &cert, "fargate", "none")).unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&aws).await);
        for _ in 0..15 {
            ec2.allocate_address().send().await.unwrap();
        }
    });
    let (report, _) = checks_in_process(&aws, &config);
    assert_eq!(
        failed(&report, "quota: Elastic IP addresses"),
        "15 used of 20, 6 more needed"
    );
}
