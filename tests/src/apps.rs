//! The applications part of the matrix: two apps (one with a production subdomain, secrets and
//! variables) deployed to every environment through `rig app deploy`, verified through the
//! service APIs (listener rules and their priorities, DNS records, ECS services and task
//! definitions, alarms, secrets); `rig up` keeping their images; a scale; a crashing image that
//! must fail fast while the previous version keeps serving; logs, status and a delete.
//!
//! The crashing image relies on the emulator extension that treats an image tag starting with
//! `crash` as a container that exits at once (tests/support/moto/README.md).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use aws_sdk_route53::types::RrType;

use crate::matrix::{sdk_config, Combination, Rig};
use crate::LocalAws;

/// The apps every combination deploys (appended to its `rig.toml`).
pub const APPS: &str = r#"
[[apps]]
name = "api"
port = 8080
cpu = 256
memory = 512
subdomain = "api"
health_check_path = "/health"
environment = { LOG_LEVEL = "info", FEATURE_X = true }
secrets = ["API_TOKEN"]

[[apps]]
name = "web"
port = 3000
"#;

/// The api app's secret, given through the environment.
pub const APP_SECRET_ENV: (&str, &str) = ("RIG_SECRET_API_TOKEN", "matrix-api-token-1");

/// An image that runs.
pub const GOOD_IMAGE: &str = "public.ecr.aws/nginx/nginx:1.27";
/// An image whose containers exit at once (see the module docs).
pub const CRASH_IMAGE: &str = "public.ecr.aws/nginx/nginx:crash-1";

/// How long a crashing deploy may take to be reported (the emulator's circuit breaker trips on
/// the first look; on AWS it takes minutes, never CloudFormation's hours).
pub const CRASH_BOUND: Duration = Duration::from_secs(90);

const ENVS: [&str; 3] = ["integration", "staging", "production"];
const DOMAIN: &str = "example.com";

/// Service clients for verifying apps.
pub struct AppApi {
    cfn: aws_sdk_cloudformation::Client,
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    r53: aws_sdk_route53::Client,
    ssm: aws_sdk_ssm::Client,
}

impl AppApi {
    pub async fn new(aws: &LocalAws) -> AppApi {
        let conf = sdk_config(aws).await;
        AppApi {
            cfn: aws_sdk_cloudformation::Client::new(&conf),
            ecs: aws_sdk_ecs::Client::new(&conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
            r53: aws_sdk_route53::Client::new(&conf),
            ssm: aws_sdk_ssm::Client::new(&conf),
        }
    }

    /// Creates the domain's public hosted zone, as its owner would before deploying apps.
    pub async fn create_public_zone(&self, domain: &str) -> Result<String> {
        let out = self
            .r53
            .create_hosted_zone()
            .name(domain)
            .caller_reference(format!("rig-tests-{domain}"))
            .send()
            .await?;
        let id = out
            .hosted_zone()
            .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
            .ok_or_else(|| anyhow!("no zone in the answer"))?;
        Ok(id)
    }

    /// Deletes the zone (after `rig down`, which must have left only its SOA and NS records).
    pub async fn delete_zone(&self, id: &str) -> Result<()> {
        let left = self.records(id).await?;
        let extra: Vec<&String> = left
            .keys()
            .filter(|(_, t)| t != "SOA" && t != "NS")
            .map(|(n, _)| n)
            .collect();
        ensure!(
            extra.is_empty(),
            "records remain in the public zone: {extra:?}"
        );
        self.r53.delete_hosted_zone().id(id).send().await?;
        Ok(())
    }

    /// (name, type) → alias target or values.
    async fn records(&self, zone: &str) -> Result<BTreeMap<(String, String), String>> {
        let out = self
            .r53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await?;
        Ok(out
            .resource_record_sets()
            .iter()
            .map(|r| {
                let target = r
                    .alias_target()
                    .map(|a| a.dns_name().to_string())
                    .unwrap_or_default();
                (
                    (r.name().to_string(), r.r#type().as_str().to_string()),
                    target,
                )
            })
            .collect())
    }

    async fn outputs(&self, stack: &str) -> Result<BTreeMap<String, String>> {
        let out = self.cfn.describe_stacks().stack_name(stack).send().await?;
        let s = out
            .stacks()
            .first()
            .ok_or_else(|| anyhow!("{stack} not found"))?;
        Ok(s.outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect())
    }

    async fn parameters(&self, stack: &str) -> Result<BTreeMap<String, String>> {
        let out = self.cfn.describe_stacks().stack_name(stack).send().await?;
        let s = out
            .stacks()
            .first()
            .ok_or_else(|| anyhow!("{stack} not found"))?;
        Ok(s.parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value()?.to_string(),
                ))
            })
            .collect())
    }

    /// The image of a task definition's first container.
    async fn image_of(&self, task_definition: &str) -> Result<String> {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await?;
        Ok(out
            .task_definition()
            .and_then(|t| t.container_definitions().first())
            .and_then(|c| c.image())
            .unwrap_or_default()
            .to_string())
    }

    async fn exists(&self, stack: &str) -> Result<bool> {
        match self.cfn.describe_stacks().stack_name(stack).send().await {
            Ok(o) => Ok(o.stacks().first().is_some_and(|s| {
                s.stack_status()
                    .is_some_and(|st| st.as_str() != "DELETE_COMPLETE")
            })),
            Err(e) if format!("{e:?}").contains("does not exist") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn resources(&self, stack: &str) -> Result<BTreeSet<String>> {
        let out = self
            .cfn
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await?;
        Ok(out
            .stack_resources()
            .iter()
            .filter_map(|r| r.logical_resource_id().map(str::to_string))
            .collect())
    }

    /// The app's service: (where it runs: its launch type, or its capacity providers joined by
    /// `,`; PRIMARY deployment's task definition, rollout state, desired, running).
    async fn service(&self, stack: &str) -> Result<(String, String, String, i32, i32)> {
        let o = self.outputs(stack).await?;
        let (cluster, service) = (&o["ClusterName"], &o["ServiceArn"]);
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await?;
        let s = out
            .services()
            .first()
            .ok_or_else(|| anyhow!("{stack}: no service"))?;
        let primary = s
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .ok_or_else(|| anyhow!("{stack}: no PRIMARY deployment"))?;
        Ok((
            s.launch_type()
                .map(|l| l.as_str().to_string())
                .unwrap_or_else(|| {
                    s.capacity_provider_strategy()
                        .iter()
                        .map(|c| c.capacity_provider())
                        .collect::<Vec<_>>()
                        .join(",")
                }),
            primary.task_definition().unwrap_or_default().to_string(),
            primary
                .rollout_state()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            s.desired_count(),
            s.running_count(),
        ))
    }

    /// Checks one deployed app stack's task definition: image, size, compatibility, variables
    /// and secrets.
    async fn verify_task_definition(
        &self,
        env: &str,
        app: &str,
        arn: &str,
        launch: &str,
        image: &str,
        log_level: &str,
    ) -> Result<()> {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await?;
        let td = out
            .task_definition()
            .ok_or_else(|| anyhow!("{arn}: none"))?;
        let c = td
            .container_definitions()
            .first()
            .ok_or_else(|| anyhow!("{arn}: no container"))?;
        ensure!(
            c.image() == Some(image),
            "{env}/{app}: image {:?}, expected {image}",
            c.image()
        );
        ensure!(
            td.requires_compatibilities()
                .iter()
                .any(|x| x.as_str() == launch),
            "{env}/{app}: compatibilities {:?}, expected {launch}",
            td.requires_compatibilities()
        );
        if app == "api" {
            ensure!(
                td.cpu() == Some("256") && td.memory() == Some("512"),
                "{env}/api: size {:?}/{:?}",
                td.cpu(),
                td.memory()
            );
            let vars: BTreeMap<&str, &str> = c
                .environment()
                .iter()
                .filter_map(|kv| Some((kv.name()?, kv.value()?)))
                .collect();
            ensure!(
                vars.get("LOG_LEVEL") == Some(&log_level) && vars.get("FEATURE_X") == Some(&"true"),
                "{env}/api: variables {vars:?}"
            );
            let secret = c
                .secrets()
                .iter()
                .find(|s| s.name() == "API_TOKEN")
                .ok_or_else(|| anyhow!("{env}/api: no API_TOKEN secret"))?;
            let path = format!("/acme/shop/env/{env}/app/api/API_TOKEN");
            ensure!(
                secret.value_from().ends_with(&format!("parameter{path}")),
                "{env}/api: secret from {}",
                secret.value_from()
            );
            let p = self
                .ssm
                .get_parameter()
                .name(&path)
                .with_decryption(true)
                .send()
                .await?;
            let p = p.parameter().ok_or_else(|| anyhow!("{path} missing"))?;
            ensure!(
                p.r#type().map(|t| t.as_str()) == Some("SecureString"),
                "{path} is not a SecureString"
            );
            ensure!(
                p.value() == Some(APP_SECRET_ENV.1),
                "{path} holds another value"
            );
        }
        Ok(())
    }

    /// Every rule of the environment's HTTPS listener: priority → host names.
    async fn rules(&self, env: &str) -> Result<BTreeMap<u32, Vec<String>>> {
        let o = self.outputs(&format!("acme-shop-{env}-foundation")).await?;
        let out = self
            .elb
            .describe_rules()
            .listener_arn(&o["HttpsListener"])
            .send()
            .await?;
        let mut rules = BTreeMap::new();
        for r in out.rules() {
            let Ok(p) = r.priority().unwrap_or_default().parse::<u32>() else {
                continue; // the default rule
            };
            let hosts = r
                .conditions()
                .iter()
                .flat_map(|c| {
                    c.host_header_config()
                        .map(|h| h.values().to_vec())
                        .unwrap_or_else(|| c.values().to_vec())
                })
                .collect();
            ensure!(
                rules.insert(p, hosts).is_none(),
                "{env}: priority {p} used twice"
            );
        }
        Ok(rules)
    }
}

fn stack(env: &str, app: &str) -> String {
    format!("acme-shop-{env}-app-{app}")
}

fn json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).with_context(|| format!("not JSON: {text}"))
}

/// The whole app scenario for one combination, on a riglet that is up.
pub fn run(rig: &Rig, aws: &LocalAws, c: Combination, zone: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let api = rt.block_on(AppApi::new(aws));
    let launch = if c.compute == "ecs-ec2" {
        "EC2"
    } else {
        "FARGATE"
    };

    // 1. deploy both apps everywhere
    for env in ENVS {
        for app in ["api", "web"] {
            let out = json(&rig.ok(&[
                "app", "deploy", "--env", env, "--app", app, "--image", GOOD_IMAGE, "--json",
            ])?)?;
            ensure!(out["outcome"] == "created", "{env}/{app}: {out}");
            ensure!(
                out["running"] == out["desired"],
                "{env}/{app}: not every task runs: {out}"
            );
        }
    }

    // 2. what landed
    let records = rt.block_on(api.records(zone))?;
    for env in ENVS {
        let rules = rt.block_on(api.rules(env))?;
        let host = |app: &str| format!("acme-{env}-{app}.{DOMAIN}");
        let with = |h: &str| {
            rules
                .iter()
                .filter(|(_, hs)| hs.iter().any(|x| x == h))
                .count()
        };
        ensure!(
            with(&host("api")) == 1 && with(&host("web")) == 1,
            "{env}: one rule per app host: {rules:?}"
        );
        let preferred = with(&format!("api.{DOMAIN}"));
        ensure!(
            preferred == usize::from(env == "production"),
            "{env}: {preferred} rules for api.{DOMAIN}: {rules:?}"
        );
        ensure!(
            rules.len() == 2 + preferred,
            "{env}: unexpected rules {rules:?}"
        );
        for app in ["api", "web"] {
            ensure!(
                records.contains_key(&(format!("{}.", host(app)), RrType::A.as_str().to_string())),
                "{env}: no A record for {}: {records:?}",
                host(app)
            );
            let s = stack(env, app);
            let (lt, td, rollout, desired, running) = rt.block_on(api.service(&s))?;
            // No launch type: the cluster's default capacity provider strategy, i.e. Fargate's,
            // or the ecs-ec2 hosts' own capacity provider.
            let providers = if c.compute == "ecs-ec2" {
                rt.block_on(api.outputs(&format!("acme-shop-{env}-compute-ecs")))?
                    .remove("CapacityProviderName")
                    .unwrap_or_default()
            } else {
                // FARGATE_SPOT is in the strategy with the backend's spot weight (0 here).
                "FARGATE,FARGATE_SPOT".to_string()
            };
            ensure!(
                !providers.is_empty() && lt == providers,
                "{s}: runs on {lt}, expected the capacity providers {providers}"
            );
            ensure!(
                rollout == "COMPLETED" && desired == running,
                "{s}: rollout {rollout}, {running}/{desired}"
            );
            ensure!(
                desired == if env == "integration" { 1 } else { 2 },
                "{s}: desired {desired}"
            );
            rt.block_on(api.verify_task_definition(env, app, &td, launch, GOOD_IMAGE, "info"))?;
            let res = rt.block_on(api.resources(&s))?;
            let alarm = res.contains("ErrorLogAlarm") && res.contains("ErrorMetricFilter");
            ensure!(
                alarm == (env != "integration"),
                "{s}: error alarm present = {alarm}"
            );
            ensure!(
                res.contains("Service")
                    && res.contains("TaskDefinition")
                    && res.contains("ExecutionRole")
                    && res.contains("TaskRole"),
                "{s}: {res:?}"
            );
        }
    }
    ensure!(
        records.contains_key(&(format!("api.{DOMAIN}."), "A".to_string())),
        "no production record api.{DOMAIN}: {records:?}"
    );

    // 3. `rig up` keeps every app stack as it is, image included
    let up = json(&rig.ok(&["up", "--yes", "--json"])?)?;
    for s in up["stacks"].as_array().into_iter().flatten() {
        ensure!(
            s["outcome"] == "unchanged",
            "up after app deploys changed {}: {}",
            s["name"],
            s["outcome"]
        );
    }

    // 4. plan: nothing to change; then a variable changed in rig.toml: plan shows the api
    //    stacks, `up` updates them (and waits for their rollouts), images kept
    let plan = rig.output(&["plan"])?;
    ensure!(
        plan.status.code() == Some(0),
        "plan after app deploys: {}",
        String::from_utf8_lossy(&plan.stdout)
    );
    let text = std::fs::read_to_string(&rig.config)?;
    std::fs::write(
        &rig.config,
        text.replace("LOG_LEVEL = \"info\"", "LOG_LEVEL = \"debug\""),
    )?;
    let plan = rig.output(&["plan"])?;
    let shown = String::from_utf8_lossy(&plan.stdout);
    ensure!(
        plan.status.code() == Some(2),
        "plan must show the change (exit 2):\n{shown}"
    );
    for env in ENVS {
        ensure!(
            shown.contains(&format!("{} ", stack(env, "api"))),
            "plan does not show {}:\n{shown}",
            stack(env, "api")
        );
    }
    let up = json(&rig.ok(&["up", "--yes", "--json"])?)?;
    for s in up["stacks"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or_default();
        let want = if name.ends_with("-app-api") {
            "updated"
        } else {
            "unchanged"
        };
        ensure!(
            s["outcome"] == want,
            "up after a variable change: {name} is {}",
            s["outcome"]
        );
    }
    for env in ENVS {
        let (_, td, rollout, _, _) = rt.block_on(api.service(&stack(env, "api")))?;
        ensure!(rollout == "COMPLETED", "{env}/api after up: {rollout}");
        rt.block_on(api.verify_task_definition(env, "api", &td, launch, GOOD_IMAGE, "debug"))?;
    }

    // 5. scale
    rig.ok(&[
        "app", "scale", "--env", "staging", "--app", "web", "--tasks", "3",
    ])?;
    let (_, _, _, desired, running) = rt.block_on(api.service(&stack("staging", "web")))?;
    ensure!(
        desired == 3 && running == 3,
        "after scale: {running}/{desired}"
    );

    // 6. a crashing image fails fast, says why, and the previous version keeps serving
    let (_, before, _, _, _) = rt.block_on(api.service(&stack("staging", "api")))?;
    let t = Instant::now();
    let out = rig.output(&[
        "app",
        "deploy",
        "--env",
        "staging",
        "--app",
        "api",
        "--image",
        CRASH_IMAGE,
    ])?;
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success(),
        "a crashing image must fail the deploy:\n{err}"
    );
    ensure!(took < CRASH_BOUND, "the crashing deploy took {took:?}");
    ensure!(
        err.contains("circuit breaker"),
        "the failure must name ECS's reason:\n{err}"
    );
    ensure!(
        err.contains("Essential container in task exited"),
        "stopped tasks' reasons must stream:\n{err}"
    );
    let (_, now, rollout, _, _) = rt.block_on(api.service(&stack("staging", "api")))?;
    let (was, is) = (
        rt.block_on(api.image_of(&before))?,
        rt.block_on(api.image_of(&now))?,
    );
    ensure!(
        was == GOOD_IMAGE && is == GOOD_IMAGE && rollout == "COMPLETED",
        "the previous image must serve: {before} ({was}) vs {now} ({is}, {rollout})"
    );
    // The stack is returned to the image that serves, so `up` and `plan` keep it.
    ensure!(
        err.contains(&format!("returned the stack to {GOOD_IMAGE}")),
        "the failure must say the stack was returned to the serving image:\n{err}"
    );
    let params = rt.block_on(api.parameters(&stack("staging", "api")))?;
    ensure!(
        params.get("ContainerImage").map(String::as_str) == Some(GOOD_IMAGE),
        "the stack names {:?} after the rollback",
        params.get("ContainerImage")
    );
    // (web's scale is the one change plan shows: `rig up` would bring it back to rig.toml's.)
    let plan = rig.output(&["plan"])?;
    let shown = String::from_utf8_lossy(&plan.stdout);
    let api_line = shown
        .lines()
        .find(|l| l.starts_with(&format!("{} ", stack("staging", "api"))))
        .unwrap_or_default();
    ensure!(
        api_line.ends_with("unchanged"),
        "plan after a rolled-back deploy must leave the api stack as it is:\n{shown}"
    );
    ensure!(
        shown.contains(&format!("{} ", stack("staging", "web"))) && plan.status.code() == Some(2),
        "plan must show web's scale going back to rig.toml's count:\n{shown}"
    );

    // 7. logs and status
    let logs = rig.ok(&[
        "app", "logs", "--env", "staging", "--app", "api", "--since", "1h",
    ])?;
    ensure!(
        logs.contains("ERROR"),
        "the crashed tasks' lines must be in the logs:\n{logs}"
    );
    let status = json(&rig.ok(&["app", "status", "--env", "staging", "--json"])?)?;
    let rows: Vec<&serde_json::Value> = status["apps"]
        .as_array()
        .ok_or_else(|| anyhow!("status: {status}"))?
        .iter()
        // A combination with a pipeline has a third app, released later (crate::releases).
        .filter(|r| r["app"] != "storefront" || !r["stack_status"].is_null())
        .collect();
    ensure!(rows.len() == 2, "status lists {} apps", rows.len());
    for r in rows {
        ensure!(
            r["running"] == r["desired"] && r["urls"].as_array().is_some_and(|u| !u.is_empty()),
            "status: {r}"
        );
    }

    // 8. delete one app in one environment
    rig.ok(&[
        "app",
        "delete",
        "--env",
        "integration",
        "--app",
        "web",
        "--yes",
    ])?;
    if rt.block_on(api.exists(&stack("integration", "web")))? {
        bail!("rig app delete left {}", stack("integration", "web"));
    }
    let records = rt.block_on(api.records(zone))?;
    ensure!(
        !records.contains_key(&(format!("acme-integration-web.{DOMAIN}."), "A".into())),
        "the deleted app's record remains"
    );
    Ok(())
}
