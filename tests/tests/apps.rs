//! Applications end to end, in-process through the engine (whose call counter shows what was
//! written) and through the `rig` binary: a hand-given priority another app holds is refused
//! with zero mutating calls; a crashing first deploy fails with ECS's reason; bad `[[apps]]`
//! entries are refused before any AWS call.

use std::path::Path;
use std::time::Duration;

use rig_engine::engine::apps::{AppDeployRequest, AppOperation};
use rig_engine::engine::Engine;
use rig_engine::session::Session;
use rig_tests::apps::{AppApi, CRASH_IMAGE, GOOD_IMAGE};
use rig_tests::matrix::{certificate_for, config_text, open_engine, rig_binary};
use rig_tests::LocalAws;

/// `rig.toml` for riglet acme/shop with only a staging environment, fargate, no database.
fn write_config(path: &Path, cert: &str, apps: &str) {
    let text = format!(
        "{}\n[environments.staging]\ncidr = \"10.2.0.0/16\"\n{apps}",
        config_text("shop", cert, "fargate", "none")
    );
    std::fs::write(path, text).unwrap();
}

async fn open(aws: &LocalAws, config: &Path) -> (Session, Engine) {
    open_engine(aws, config, &["fargate"]).await
}

fn deploy(app: &str, image: &str) -> AppDeployRequest {
    AppDeployRequest {
        env: "staging".into(),
        app: app.into(),
        operation: AppOperation::Deploy {
            image: image.into(),
        },
        rollout_timeout: Duration::from_secs(60),
    }
}

const TWO_APPS: &str = r#"
[[apps]]
name = "api"
port = 8080

[[apps]]
name = "web"
port = 3000
"#;

#[test]
fn a_hand_given_priority_another_app_holds_is_refused_with_zero_mutating_calls() {
    let aws = LocalAws::start().unwrap();
    let cert = certificate_for(&aws, "example.com").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    write_config(&config, &cert, TWO_APPS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        AppApi::new(&aws)
            .await
            .create_public_zone("example.com")
            .await
            .unwrap();
        let (session, engine) = open(&aws, &config).await;
        let plan = engine.settle(&session.plan, None).await.unwrap();
        engine.up(&plan, None).await.unwrap();
        let api = engine
            .deploy_app(&session.plan, &deploy("api", GOOD_IMAGE), None)
            .await
            .unwrap();
        assert_eq!(api.running, api.desired);

        // web pins the priority api was given (the lowest free one: 1).
        write_config(&config, &cert, &format!("{TWO_APPS}priority = 1\n"));
        let (session, engine) = open(&aws, &config).await;
        let before = engine.clients.calls.snapshot();
        let err = engine
            .deploy_app(&session.plan, &deploy("web", GOOD_IMAGE), None)
            .await
            .expect_err("the collision must be refused")
            .to_string();
        let after = engine.clients.calls.snapshot();
        assert!(err.contains("priority 1"), "{err}");
        assert!(
            err.contains("api"),
            "the refusal names the other app: {err}"
        );
        assert_eq!(
            after.mutating(),
            before.mutating(),
            "nothing may be written: {:?}",
            after.0
        );
        // `rig up` and `rig plan` refuse it the same way, though web is not deployed: every
        // configured app takes part in the allocation, so a priority never depends on which
        // apps happen to be deployed.
        let err = engine
            .settle(&session.plan, None)
            .await
            .expect_err("up refuses the collision too")
            .to_string();
        assert!(err.contains("priority 1") && err.contains("api"), "{err}");
        assert_eq!(
            engine.clients.calls.snapshot().mutating(),
            before.mutating()
        );
    });
}

#[test]
fn a_crashing_first_deploy_fails_with_the_reason_and_leaves_a_stack_to_fix() {
    let aws = LocalAws::start().unwrap();
    let cert = certificate_for(&aws, "example.com").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    write_config(&config, &cert, TWO_APPS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        AppApi::new(&aws)
            .await
            .create_public_zone("example.com")
            .await
            .unwrap();
        let (session, engine) = open(&aws, &config).await;
        let plan = engine.settle(&session.plan, None).await.unwrap();
        engine.up(&plan, None).await.unwrap();
        let err = engine
            .deploy_app(&session.plan, &deploy("web", CRASH_IMAGE), None)
            .await
            .expect_err("a crashing image must fail")
            .to_string();
        assert!(err.contains("circuit breaker"), "{err}");
        assert!(!err.contains("rolled the service back"), "{err}");
        assert!(err.contains("rig app deploy"), "the way out is said: {err}");
        // Deploying a working image afterwards converges.
        let ok = engine
            .deploy_app(&session.plan, &deploy("web", GOOD_IMAGE), None)
            .await
            .unwrap();
        assert_eq!(ok.running, ok.desired);
    });
}

#[test]
fn bad_apps_are_refused_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    let cases: [(&str, &str); 5] = [
        ("[[apps]]\nname = \"api\"\nport = 0\n", "apps[0].port"),
        (
            "[[apps]]\nname = \"api\"\nport = 80\ncpu = 256\nmemory = 4096\n",
            "apps[0].memory",
        ),
        (
            "[[apps]]\nname = \"api\"\nport = 80\nsubdomain = \"-api\"\n",
            "apps[0].subdomain",
        ),
        (
            "[[apps]]\nname = \"api\"\nport = 80\nsecrets = [\"db/PASSWORD\"]\n",
            "give only",
        ),
        (
            "[[apps]]\nname = \"api\"\nport = 80\n[[apps]]\nname = \"api\"\nport = 81\n",
            "apps[1]",
        ),
    ];
    for (apps, want) in cases {
        write_config(&config, matrix_cert(), apps);
        // An endpoint nothing listens on: any AWS call would fail with a connection error.
        let out = std::process::Command::new(rig_binary())
            .args(["--config"])
            .arg(&config)
            .args(["up", "--yes", "--endpoint-url", "http://127.0.0.1:9"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{apps}: must be refused");
        assert!(err.contains(want), "{apps}: expected {want:?} in:\n{err}");
        assert!(
            !err.contains("cannot reach AWS"),
            "{apps}: refused only after an AWS call:\n{err}"
        );
    }
}

fn matrix_cert() -> &'static str {
    rig_tests::matrix::OFFLINE_CERT
}
