//! Pipelines on the local AWS, through the `rig` binary: a release whose staging deploy fails
//! stops there and says why, production untouched; the Slack webhook URL reaches no template,
//! no stack parameter and no log line. (A whole release per compute backend is in the matrix:
//! `rig_tests::releases`.)

use std::io::Read;

use rig_tests::apps::AppApi;
use rig_tests::matrix::{certificate_for, config_text, rig_binary, sdk_config, Rig};
use rig_tests::releases::{latest, stage, wait_status, ReleaseApi, RELEASED_APP, SLACK_WEBHOOK};
use rig_tests::LocalAws;

struct World {
    aws: LocalAws,
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    bin: std::path::PathBuf,
    rt: tokio::runtime::Runtime,
}

impl World {
    /// A riglet acme/shop (fargate, no database, three environments) with the storefront app,
    /// its pipeline and Slack notifications, and the domain's public zone.
    fn new() -> World {
        let aws = LocalAws::start().expect("local AWS starts");
        let cert = certificate_for(&aws, "example.com").expect("certificate");
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            AppApi::new(&aws)
                .await
                .create_public_zone("example.com")
                .await
        })
        .expect("public zone");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("rig.toml");
        std::fs::write(
            &config,
            config_text("shop", &cert, "fargate", "none") + RELEASED_APP,
        )
        .unwrap();
        World {
            aws,
            _dir: dir,
            config,
            bin: rig_binary(),
            rt,
        }
    }

    fn rig(&self) -> Rig<'_> {
        Rig {
            bin: &self.bin,
            config: self.config.clone(),
            aws: &self.aws,
        }
    }
}

/// `config.json` of the template zip rig wrote for an app stack.
fn template_configuration(w: &World, env: &str) -> serde_json::Value {
    let bucket = format!("rig-acme-shop-us-east-1-app-{env}");
    let key = format!("templates/acme-shop-{env}-app-storefront.zip");
    let bytes = w.rt.block_on(async {
        let conf = sdk_config(&w.aws).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        );
        let out = s3.get_object().bucket(&bucket).key(&key).send().await;
        let out = out.unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"));
        out.body.collect().await.unwrap().into_bytes().to_vec()
    });
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    zip.by_name("config.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(zip.by_name("app.yaml").is_ok(), "the zip has no app.yaml");
    serde_json::from_str(&text).unwrap()
}

/// Someone adds a rule by hand to staging's HTTPS listener at the priority rig gave the app
/// there: the release's staging deploy fails (ELB: PriorityInUse), the release stops at
/// Deploy-Staging, `rig pipeline status` says so and why, and production is never touched.
#[test]
fn a_release_whose_staging_deploy_fails_stops_there_and_production_is_untouched() {
    let w = World::new();
    let rig = w.rig();
    let early = rig
        .output(&["pipeline", "release", "--app", "storefront"])
        .unwrap();
    let err = String::from_utf8_lossy(&early.stderr);
    assert!(
        !early.status.success() && err.contains("does not exist") && err.contains("rig up"),
        "a release before `rig up`: {err}"
    );
    rig.ok(&["up", "--yes"]).unwrap();
    let config = template_configuration(&w, "staging");
    let priority: i32 = config["Parameters"]["ListenerRulePriority"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no priority in {config}"));
    assert_eq!(config["Tags"]["rig:owner"], "acme", "{config}");
    assert!(config["Parameters"].get("ContainerImage").is_none());

    let api = w.rt.block_on(ReleaseApi::new(&w.aws));
    w.rt.block_on(async {
        let conf = sdk_config(&w.aws).await;
        let cfn = aws_sdk_cloudformation::Client::new(&conf);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
        let out = cfn
            .describe_stacks()
            .stack_name("acme-shop-staging-foundation")
            .send()
            .await
            .unwrap();
        let listener = out.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("HttpsListener"))
            .and_then(|o| o.output_value())
            .unwrap()
            .to_string();
        use aws_sdk_elasticloadbalancingv2::types::{
            Action, ActionTypeEnum, FixedResponseActionConfig, HostHeaderConditionConfig,
            RuleCondition,
        };
        elb.create_rule()
            .listener_arn(listener)
            .priority(priority)
            .conditions(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        HostHeaderConditionConfig::builder()
                            .values("maintenance.example.com")
                            .build(),
                    )
                    .build(),
            )
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::FixedResponse)
                    .fixed_response_config(
                        FixedResponseActionConfig::builder()
                            .status_code("503")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });

    rig.ok(&["pipeline", "release", "--app", "storefront"])
        .unwrap();
    let s = wait_status(&rig, "the release to end", |s| latest(s).0 != "InProgress").unwrap();
    let (status, e) = latest(&s);
    assert_eq!(status, "Failed", "{s:#}");
    assert_eq!(stage(e, "Deploy-Integration"), Some("Succeeded"), "{s:#}");
    assert_eq!(stage(e, "Deploy-Staging"), Some("Failed"), "{s:#}");
    assert_eq!(stage(e, "Deploy-Production"), None, "production ran: {s:#}");
    let failed = e["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["stage"] == "Deploy-Staging")
        .unwrap();
    let why = failed["detail"].as_str().unwrap_or_default();
    assert!(
        why.contains("acme-shop-staging-app-storefront") && why.contains("priority"),
        "the failure does not say why: {why}"
    );

    let text = rig
        .ok(&["pipeline", "status", "--app", "storefront"])
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("Deploy-Staging") && l.contains("Failed")),
        "{text}"
    );
    assert!(text.contains(why), "the reason is not shown:\n{text}");

    let production = "acme-shop-production-app-storefront";
    assert!(
        w.rt.block_on(api.stack(production)).unwrap().is_none(),
        "production was touched"
    );
    assert_eq!(
        w.rt.block_on(api.change_set(production, production))
            .unwrap(),
        None
    );
    let (integration, ..) =
        w.rt.block_on(api.stack("acme-shop-integration-app-storefront"))
            .unwrap()
            .expect("integration deployed");
    assert_eq!(integration, "CREATE_COMPLETE");

    // Nothing to approve, and rig says where the release is.
    let out = rig
        .output(&["pipeline", "approve", "--app", "storefront", "--yes"])
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "approve succeeded: {err}");
    assert!(err.contains("has no approval waiting"), "{err}");
}

/// The webhook URL goes from the environment to an SSM SecureString, and nowhere else that
/// `rig -vvv up` or CloudFormation shows.
#[test]
fn the_slack_webhook_is_in_no_template_parameter_or_log_line() {
    let w = World::new();
    let rig = w.rig();
    let secret = SLACK_WEBHOOK.1;
    let out = rig.output(&["-vvv", "up", "--yes", "--json"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.lines().count() > 100,
        "-vvv logged too little to be a test"
    );
    let token = secret.rsplit('/').next().unwrap();
    for (what, text) in [
        ("stderr", logs.as_ref()),
        ("stdout", &String::from_utf8_lossy(&out.stdout)),
    ] {
        assert!(!text.contains(token), "the webhook is in rig's {what}");
    }

    w.rt.block_on(async {
        let conf = sdk_config(&w.aws).await;
        let cfn = aws_sdk_cloudformation::Client::new(&conf);
        let ssm = aws_sdk_ssm::Client::new(&conf);
        let stacks = cfn.describe_stacks().send().await.unwrap();
        let mut seen = 0;
        for s in stacks.stacks() {
            let name = s.stack_name().unwrap_or_default();
            seen += 1;
            for p in s.parameters() {
                assert!(
                    !p.parameter_value().unwrap_or_default().contains(token),
                    "{name}: parameter {:?} holds the webhook",
                    p.parameter_key()
                );
            }
            let t = cfn.get_template().stack_name(name).send().await.unwrap();
            assert!(
                !t.template_body().unwrap_or_default().contains(token),
                "{name}: the template holds the webhook"
            );
        }
        assert!(seen >= 8, "only {seen} stacks");
        let notifications = stacks
            .stacks()
            .iter()
            .find(|s| s.stack_name() == Some("acme-shop-notifications"))
            .expect("the notifications stack");
        let path = "/acme/shop/build/slack-webhook-url";
        assert!(
            notifications
                .parameters()
                .iter()
                .any(|p| p.parameter_key() == Some("SlackWebhookParameter")
                    && p.parameter_value() == Some(path)),
            "the stack is given the parameter's name"
        );
        let p = ssm
            .get_parameter()
            .name(path)
            .with_decryption(true)
            .send()
            .await
            .unwrap();
        let p = p.parameter().unwrap();
        assert_eq!(p.r#type().map(|t| t.as_str()), Some("SecureString"));
        assert_eq!(p.value(), Some(secret));
    });
}
