//! The end-to-end matrix: every compute × database combination through the real `rig` binary
//! against the local AWS emulator, verified through the service APIs (not through rig).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{anyhow, bail, ensure, Context, Result};

use crate::LocalAws;

pub const COMPUTES: [&str; 2] = ["ecs-ec2", "fargate"];
pub const DATABASES: [&str; 4] = ["none", "aurora-provisioned", "aurora-serverless", "couchdb"];

/// Secrets the backends need, given to `rig` through the environment.
pub const SECRET_ENV: [(&str, &str); 4] = [
    ("RIG_SECRET_DB_MASTER_PASSWORD", "matrix-password-1"),
    ("RIG_SECRET_COUCHDB_ADMIN_PASSWORD", "matrix-couch-admin-1"),
    crate::apps::APP_SECRET_ENV,
    crate::releases::SLACK_WEBHOOK,
];

/// One compute × database pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combination {
    pub compute: &'static str,
    pub database: &'static str,
}

impl Combination {
    pub fn label(&self) -> String {
        format!("{}+{}", self.compute, self.database)
    }
}

/// All eight combinations.
pub fn all() -> Vec<Combination> {
    COMPUTES
        .iter()
        .flat_map(|c| {
            DATABASES.iter().map(move |d| Combination {
                compute: c,
                database: d,
            })
        })
        .collect()
}

/// The `rig` binary of this build (cargo's target dir).
pub fn rig_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"));
    target
        .join("debug")
        .join(format!("rig{}", std::env::consts::EXE_SUFFIX))
}

/// A command line as text, for logs.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program().to_string_lossy().into_owned())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A certificate ARN for renders that touch no AWS.
pub const OFFLINE_CERT: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000";

/// A `rig.toml` for owner `acme`, the given project, in us-east-1 with the default environments.
pub fn config_text(project: &str, cert_arn: &str, compute: &str, database: &str) -> String {
    format!(
        r#"owner = "acme"
project = "{project}"
region = "us-east-1"
domain = "example.com"
domain_cert = "{cert_arn}"

[compute]
backend = "{compute}"

[database]
backend = "{database}"
"#
    )
}

/// One row of the matrix.
#[derive(Debug)]
pub struct Row {
    pub combination: Combination,
    pub seconds: f64,
    pub error: Option<String>,
}

/// Runs every combination against `aws` (reset between combinations).
pub fn run_all(rig: &Path, aws: &LocalAws, combos: &[Combination]) -> Vec<Row> {
    combos
        .iter()
        .map(|c| {
            let t = Instant::now();
            eprintln!("matrix: {} ...", c.label());
            let error = run_one(rig, aws, *c).err().map(|e| format!("{e:#}"));
            let row = Row {
                combination: *c,
                seconds: t.elapsed().as_secs_f64(),
                error,
            };
            eprintln!(
                "matrix: {} {} in {:.1}s",
                c.label(),
                if row.error.is_none() {
                    "passed"
                } else {
                    "FAILED"
                },
                row.seconds
            );
            row
        })
        .collect()
}

/// Runs `rig` with the emulator's environment.
pub struct Rig<'a> {
    pub bin: &'a Path,
    pub config: PathBuf,
    pub aws: &'a LocalAws,
}

impl Rig<'_> {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin);
        c.arg("--config").arg(&self.config).args(args);
        for (k, v) in self.aws.env() {
            c.env(k, v);
        }
        for (k, v) in SECRET_ENV {
            c.env(k, v);
        }
        c.env_remove("RUST_LOG");
        c
    }

    /// Runs and returns the output, whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        let mut c = self.command(args);
        c.output()
            .with_context(|| format!("running {}", describe(&c)))
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        if !out.status.success() {
            bail!(
                "`rig {}` failed ({}):\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A folder holding the `rig.toml` of riglet acme/shop with `compute` and `db` and the default
/// environments, its certificate (for example.com) requested from `aws`; returns the folder and
/// the certificate's ARN.
pub fn riglet_folder(aws: &LocalAws, compute: &str, db: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cert = certificate_for(aws, "example.com").expect("a certificate from the local AWS");
    std::fs::write(
        dir.path().join("rig.toml"),
        config_text("shop", &cert, compute, db),
    )
    .expect("rig.toml written");
    (dir, cert)
}

/// The local AWS started, with [`riglet_folder`] on it. Panics, naming the fix, when the `rig`
/// binary is not built.
pub fn local_riglet(compute: &str, db: &str) -> (LocalAws, tempfile::TempDir, String) {
    assert!(
        rig_binary().exists(),
        "{} is not built; run `cargo xtask test`",
        rig_binary().display()
    );
    let aws = LocalAws::start().expect("local AWS starts");
    let (dir, cert) = riglet_folder(&aws, compute, db);
    (aws, dir, cert)
}

/// Requests a certificate in the emulator, for configurations used with it.
pub fn certificate_for(aws: &LocalAws, domain: &str) -> Result<String> {
    let rt = runtime()?;
    rt.block_on(async { Api::new(aws).await.request_certificate(domain).await })
}

/// DNS names equal up to the final dot.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.') == b.trim_end_matches('.')
}

/// A stack's template body and parameters, as text.
pub fn describe_riglet(aws: &LocalAws, stack: &str) -> Result<String> {
    let rt = runtime()?;
    rt.block_on(async {
        let api = Api::new(aws).await;
        let t = api.cfn.get_template().stack_name(stack).send().await?;
        let d = api.cfn.describe_stacks().stack_name(stack).send().await?;
        let params: Vec<String> = d
            .stacks()
            .iter()
            .flat_map(|s| s.parameters())
            .map(|p| {
                format!(
                    "{}={}",
                    p.parameter_key().unwrap_or_default(),
                    p.parameter_value().unwrap_or_default()
                )
            })
            .collect();
        Ok(format!(
            "{}\n{}",
            t.template_body().unwrap_or_default(),
            params.join("\n")
        ))
    })
}

/// Creates a minimal stack (one SNS topic) named `name`, outside rig.
pub fn create_stack(aws: &LocalAws, name: &str) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let api = Api::new(aws).await;
        api.cfn
            .create_stack()
            .stack_name(name)
            .template_body("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
            .send()
            .await?;
        Ok(())
    })
}

/// How many (non-default) VPCs have this CIDR.
pub fn vpcs_with_cidr(aws: &LocalAws, cidr: &str) -> Result<usize> {
    let rt = runtime()?;
    rt.block_on(async { Ok(Api::new(aws).await.vpc_ids(cidr).await?.len()) })
}

/// A parameter's type and decrypted value.
pub fn secure_parameter(aws: &LocalAws, name: &str) -> Result<(String, String)> {
    let rt = runtime()?;
    rt.block_on(async {
        let api = Api::new(aws).await;
        let p = api
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await?;
        let p = p
            .parameter()
            .ok_or_else(|| anyhow!("no parameter {name}"))?;
        Ok((
            p.r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            p.value().unwrap_or_default().to_string(),
        ))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The whole scenario for one combination.
pub fn run_one(rig_bin: &Path, aws: &LocalAws, c: Combination) -> Result<()> {
    aws.reset()?;
    let dir = tempfile::tempdir()?;
    let project = "shop";
    let config = dir.path().join("rig.toml");
    let rt = runtime()?;
    let api = rt.block_on(Api::new(aws));
    // The HTTPS listener needs a certificate that exists in the account.
    let cert = rt.block_on(api.request_certificate("example.com"))?;
    // The domain's public zone is the user's: it exists before rig deploys apps into it.
    let apps = rt.block_on(crate::apps::AppApi::new(aws));
    let zone = rt.block_on(apps.create_public_zone("example.com"))?;
    // One combination per compute backend also has a pipeline, released end to end.
    let releases = c.database == "none";
    let mut text = config_text(project, &cert, c.compute, c.database) + crate::apps::APPS;
    if releases {
        text += crate::releases::RELEASED_APP;
    }
    std::fs::write(&config, text)?;
    let rig = Rig {
        bin: rig_bin,
        config,
        aws,
    };

    // 1. up
    let first = rig.ok(&["up", "--yes", "--json"])?;
    let report: serde_json::Value = serde_json::from_str(&first).context("rig up --json output")?;
    let outcomes: Vec<&str> = report["stacks"]
        .as_array()
        .ok_or_else(|| anyhow!("no stacks in the report"))?
        .iter()
        .filter_map(|s| s["outcome"].as_str())
        .collect();
    // With a pipeline: its stack and the notifications stack.
    let expected_stacks = if c.database == "none" { 6 } else { 9 } + if releases { 2 } else { 0 };
    ensure!(
        outcomes.len() == expected_stacks,
        "expected {expected_stacks} stacks, report has {outcomes:?}"
    );
    ensure!(
        outcomes.iter().all(|o| *o == "created"),
        "first up must create every stack: {outcomes:?}"
    );

    // 2. verify what landed, and what `rig status` says of it
    rt.block_on(api.verify_riglet(project, c))?;
    let status: serde_json::Value = serde_json::from_str(&rig.ok(&["status", "--json"])?)?;
    ensure!(
        status["schema"] == "rig.status/1",
        "rig status --json: {status}"
    );
    for s in status["stacks"].as_array().into_iter().flatten() {
        if s["role"] == "application" {
            // Apps are deployed by `rig app deploy`, later (crate::apps).
            ensure!(
                s["status"].is_null(),
                "rig status: {} exists before any deploy",
                s["name"]
            );
            continue;
        }
        ensure!(
            s["status"] == "CREATE_COMPLETE",
            "rig status: {} is {}",
            s["name"],
            s["status"]
        );
        for p in s["probes"].as_array().into_iter().flatten() {
            // The emulator starts the ASG's instances but they never register with ECS.
            let emulator_gap = c.compute == "ecs-ec2"
                && p["what"]
                    .as_str()
                    .is_some_and(|w| w.starts_with("ECS cluster"));
            ensure!(
                p["healthy"] == true || emulator_gap,
                "rig status: {} unhealthy: {}",
                p["what"],
                p["detail"]
            );
        }
    }
    let before = rt.block_on(api.stack_times(project))?;

    // 3. up again: nothing changes
    let second = rig.ok(&["up", "--yes", "--json"])?;
    let report: serde_json::Value = serde_json::from_str(&second)?;
    for s in report["stacks"].as_array().into_iter().flatten() {
        ensure!(
            s["outcome"] == "unchanged",
            "second up changed {}: {}",
            s["name"],
            s["outcome"]
        );
    }
    ensure!(
        report["templates_uploaded"] == 0,
        "second up re-uploaded templates: {}",
        report["templates_uploaded"]
    );
    let after = rt.block_on(api.stack_times(project))?;
    ensure!(
        before == after,
        "a stack was updated by the second up:\nbefore {before:?}\nafter  {after:?}"
    );

    // 4. plan: no changes, exit 0
    let plan = rig.output(&["plan"])?;
    let plan_out = String::from_utf8_lossy(&plan.stdout);
    ensure!(
        plan.status.code() == Some(0) && plan_out.contains("no changes"),
        "plan after up must report no changes (exit 0), got {:?}:\n{plan_out}\n{}",
        plan.status.code(),
        String::from_utf8_lossy(&plan.stderr)
    );

    // 5. protect: down refuses and leaves everything
    rig.ok(&["protect"])?;
    let refused = rig.output(&["down", "--yes"])?;
    let err = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success(),
        "down must refuse while protected"
    );
    ensure!(
        err.contains("termination protection"),
        "down's refusal must say why: {err}"
    );
    ensure!(
        rt.block_on(api.live_stacks(project))?.len() == expected_stacks,
        "a refused down must delete nothing"
    );
    rig.ok(&["unprotect"])?;

    // 6. applications
    crate::apps::run(&rig, aws, c, &zone).context("applications")?;
    if releases {
        crate::releases::run(&rig, aws, project).context("pipeline releases")?;
    }

    // 7. down, then nothing of the riglet remains but what its templates retain on purpose
    //    (CouchDB's backups: DeletionPolicy Retain), which down reports as kept.
    let down = rig.output(&["down", "--yes", "--purge-secrets"])?;
    let err = String::from_utf8_lossy(&down.stderr);
    ensure!(down.status.success(), "down failed: {err}");
    if c.database == "couchdb" {
        rt.block_on(api.remove_retained_backups(project, &err))?;
    }
    rt.block_on(api.verify_gone(project))?;
    if releases {
        let r = rt.block_on(crate::releases::ReleaseApi::new(aws));
        rt.block_on(r.verify_gone(project))?;
    }
    rt.block_on(apps.delete_zone(&zone))?;
    Ok(())
}

/// The SDK configuration for the emulator, with its dummy credentials.
pub async fn sdk_config(aws: &LocalAws) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(aws.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "rig-tests",
        ))
        .load()
        .await
}

/// Service clients for verification.
pub struct Api {
    acm: aws_sdk_acm::Client,
    cfn: aws_sdk_cloudformation::Client,
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    rds: aws_sdk_rds::Client,
    r53: aws_sdk_route53::Client,
    s3: aws_sdk_s3::Client,
    ssm: aws_sdk_ssm::Client,
}

const ENVS: [(&str, u8); 3] = [("integration", 1), ("staging", 2), ("production", 3)];

impl Api {
    pub async fn new(aws: &LocalAws) -> Api {
        let conf = sdk_config(aws).await;
        Api {
            acm: aws_sdk_acm::Client::new(&conf),
            cfn: aws_sdk_cloudformation::Client::new(&conf),
            ec2: aws_sdk_ec2::Client::new(&conf),
            ecs: aws_sdk_ecs::Client::new(&conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
            rds: aws_sdk_rds::Client::new(&conf),
            r53: aws_sdk_route53::Client::new(&conf),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&conf)
                    .force_path_style(true)
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::new(&conf),
        }
    }

    /// Requests an ACM certificate for `domain` and, unless it is a wildcard, `*.domain` (the
    /// harness has the emulator issue it at once); returns its ARN.
    pub async fn request_certificate(&self, domain: &str) -> Result<String> {
        let out = self
            .acm
            .request_certificate()
            .domain_name(domain)
            .set_subject_alternative_names(
                (!domain.starts_with("*.")).then(|| vec![format!("*.{domain}")]),
            )
            .send()
            .await?;
        out.certificate_arn()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no certificate ARN"))
    }

    /// Live stacks of the riglet.
    pub async fn live_stacks(&self, project: &str) -> Result<Vec<String>> {
        let out = self.cfn.describe_stacks().send().await?;
        Ok(out
            .stacks()
            .iter()
            .filter(|s| {
                s.stack_status()
                    .is_some_and(|st| st.as_str() != "DELETE_COMPLETE")
            })
            .filter_map(|s| s.stack_name())
            .filter(|n| n.starts_with(&format!("acme-{project}-")))
            .map(str::to_string)
            .collect())
    }

    /// Each stack's last-updated time (or creation time), to prove a re-run updated nothing.
    pub async fn stack_times(&self, project: &str) -> Result<BTreeMap<String, String>> {
        let out = self.cfn.describe_stacks().send().await?;
        Ok(out
            .stacks()
            .iter()
            .filter(|s| {
                s.stack_name()
                    .is_some_and(|n| n.starts_with(&format!("acme-{project}-")))
            })
            .map(|s| {
                let t = s
                    .last_updated_time()
                    .or(s.creation_time())
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                (
                    s.stack_name().unwrap_or_default().to_string(),
                    format!(
                        "{} {t}",
                        s.stack_status().map(|x| x.as_str()).unwrap_or_default()
                    ),
                )
            })
            .collect())
    }

    /// The non-default VPCs with this CIDR.
    async fn vpc_ids(&self, cidr: &str) -> Result<Vec<String>> {
        let out = self
            .ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("cidr-block")
                    .values(cidr)
                    .build(),
            )
            .send()
            .await?;
        Ok(out
            .vpcs()
            .iter()
            .filter(|v| !v.is_default().unwrap_or(false))
            .filter_map(|v| v.vpc_id())
            .map(str::to_string)
            .collect())
    }

    /// The one VPC with this CIDR, if any.
    async fn vpc_for(&self, cidr: &str) -> Result<Option<String>> {
        let vpcs = self.vpc_ids(cidr).await?;
        ensure!(vpcs.len() <= 1, "{} VPCs with CIDR {cidr}", vpcs.len());
        Ok(vpcs.into_iter().next())
    }

    /// Checks, through the service APIs, what the riglet promises.
    pub async fn verify_riglet(&self, project: &str, c: Combination) -> Result<()> {
        let stacks = self.live_stacks(project).await?;
        let zones = self.r53.list_hosted_zones().send().await?;
        for (env, n) in ENVS {
            let ctx = |what: &str| format!("{env}: {what}");
            // Stacks
            let mut want = vec![
                format!("acme-{project}-{env}-foundation"),
                format!("acme-{project}-{env}-compute-ecs"),
            ];
            match c.database {
                "none" => {}
                "couchdb" => want.push(format!("acme-{project}-{env}-db-couch")),
                _ => want.push(format!("acme-{project}-{env}-db-aurora")),
            }
            for w in &want {
                ensure!(stacks.contains(w), "stack {w} missing; live: {stacks:?}");
            }
            // Ownership tags: riglet, environment, role and backend on every stack.
            for (w, role, backend) in [
                (&want[0], "foundation", "standard"),
                (&want[1], "compute", c.compute),
            ]
            .into_iter()
            .chain(want.get(2).map(|w| (w, "database", c.database)))
            {
                let tags = self.stack_tags(w).await?;
                for (k, v) in [
                    ("rig:owner", "acme"),
                    ("rig:project", project),
                    ("rig:environment", env),
                    ("rig:role", role),
                    ("rig:backend", backend),
                ] {
                    ensure!(
                        tags.get(k).map(String::as_str) == Some(v),
                        "stack {w}: tag {k} is {:?}, expected {v}",
                        tags.get(k)
                    );
                }
            }
            // VPC and subnets
            let vpc = self
                .vpc_for(&format!("10.{n}.0.0/16"))
                .await?
                .ok_or_else(|| anyhow!(ctx("no VPC with the environment's CIDR")))?;
            let subnets = self
                .ec2
                .describe_subnets()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("vpc-id")
                        .values(&vpc)
                        .build(),
                )
                .send()
                .await?;
            let mut cidrs: Vec<String> = subnets
                .subnets()
                .iter()
                .filter_map(|s| s.cidr_block())
                .map(str::to_string)
                .collect();
            cidrs.sort();
            let mut expected: Vec<String> = [1, 2, 11, 12, 100, 110]
                .iter()
                .map(|x| format!("10.{n}.{x}.0/24"))
                .collect();
            expected.sort();
            ensure!(
                cidrs == expected,
                "{}: subnets {cidrs:?}, expected {expected:?}",
                env
            );
            // Security groups
            let sgs = self
                .ec2
                .describe_security_groups()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("vpc-id")
                        .values(&vpc)
                        .build(),
                )
                .send()
                .await?;
            let groups = sgs.security_groups();
            let open_web = groups.iter().find(|g| {
                let ports: Vec<i32> = g
                    .ip_permissions()
                    .iter()
                    .filter(|p| {
                        p.ip_ranges()
                            .iter()
                            .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                    })
                    .filter_map(|p| p.from_port())
                    .collect();
                ports.contains(&80) && ports.contains(&443)
            });
            let alb_sg = open_web
                .and_then(|g| g.group_id())
                .ok_or_else(|| anyhow!(ctx("no ALB security group open on 80 and 443")))?;
            for g in groups {
                for p in g.ip_permissions() {
                    let world = p
                        .ip_ranges()
                        .iter()
                        .any(|r| r.cidr_ip() == Some("0.0.0.0/0"));
                    ensure!(
                        !world || g.group_id() == Some(alb_sg),
                        "{}: security group {:?} is open to the world",
                        env,
                        g.group_name()
                    );
                }
            }
            let app_sg = groups
                .iter()
                .find(|g| {
                    g.ip_permissions().iter().any(|p| {
                        p.user_id_group_pairs()
                            .iter()
                            .any(|u| u.group_id() == Some(alb_sg))
                    })
                })
                .and_then(|g| g.group_id())
                .ok_or_else(|| anyhow!(ctx("no app security group reachable from the ALB")))?;
            if c.database != "none" {
                let port = if c.database == "couchdb" { 5984 } else { 3306 };
                let db_ok = groups.iter().any(|g| {
                    g.ip_permissions().iter().any(|p| {
                        p.from_port() == Some(port)
                            && p.user_id_group_pairs()
                                .iter()
                                .any(|u| u.group_id() == Some(app_sg))
                    })
                });
                ensure!(
                    db_ok,
                    "{}: no database security group allowing {port} from the app group",
                    env
                );
            }
            // ALB and listeners
            let lbs = self.elb.describe_load_balancers().send().await?;
            let lb = lbs
                .load_balancers()
                .iter()
                .find(|l| l.vpc_id() == Some(vpc.as_str()))
                .ok_or_else(|| anyhow!(ctx("no load balancer in the VPC")))?;
            let listeners = self
                .elb
                .describe_listeners()
                .load_balancer_arn(lb.load_balancer_arn().unwrap_or_default())
                .send()
                .await?;
            let mut ports: Vec<i32> = listeners
                .listeners()
                .iter()
                .filter_map(|l| l.port())
                .collect();
            ports.sort();
            ensure!(
                ports == [80, 443],
                "{}: listeners on {ports:?}, expected 80 and 443",
                env
            );
            let http = listeners
                .listeners()
                .iter()
                .find(|l| l.port() == Some(80))
                .expect("checked");
            let redirects = http
                .default_actions()
                .iter()
                .any(|a| a.r#type().map(|t| t.as_str()) == Some("redirect"));
            ensure!(
                redirects,
                "{}: the port 80 listener must redirect to HTTPS",
                env
            );
            // ECS cluster
            let cluster = format!("acme-{project}-{env}-compute-ecs-ECSCluster");
            let cl = self
                .ecs
                .describe_clusters()
                .clusters(&cluster)
                .send()
                .await?;
            ensure!(
                cl.clusters().iter().any(|x| x.status() == Some("ACTIVE")),
                "{}: ECS cluster {cluster} not ACTIVE",
                env
            );
            // Private DNS
            // AWS writes zone and record names with the final dot, the emulator without.
            let zone_name = format!("{project}.internal.");
            let zone_ids: Vec<String> = zones
                .hosted_zones()
                .iter()
                .filter(|z| same_name(z.name(), &zone_name))
                .map(|z| z.id().to_string())
                .collect();
            ensure!(
                zone_ids.len() == 3,
                "expected 3 private zones {zone_name}, found {}",
                zone_ids.len()
            );
            // The zone of this environment's VPC.
            let mut zone_of_env = None;
            for id in &zone_ids {
                let z = self.r53.get_hosted_zone().id(id).send().await?;
                if z.vpcs().iter().any(|v| v.vpc_id() == Some(vpc.as_str())) {
                    zone_of_env = Some(id.clone());
                }
            }
            let zone =
                zone_of_env.ok_or_else(|| anyhow!(ctx("no private zone bound to the VPC")))?;
            if c.database != "none" {
                let host = if c.database == "couchdb" {
                    "couch"
                } else {
                    "aurora"
                };
                let records = self
                    .r53
                    .list_resource_record_sets()
                    .hosted_zone_id(&zone)
                    .send()
                    .await?;
                let want = format!("{host}.{zone_name}");
                ensure!(
                    records
                        .resource_record_sets()
                        .iter()
                        .any(|r| same_name(r.name(), &want) && r.r#type().as_str() == "CNAME"),
                    "{}: no CNAME {want}",
                    env
                );
            }
            // Database
            match c.database {
                "aurora-provisioned" | "aurora-serverless" => {
                    let dbs = self.rds.describe_db_clusters().send().await?;
                    let cluster = dbs
                        .db_clusters()
                        .iter()
                        .find(|d| {
                            d.db_subnet_group().is_some_and(|g| g.contains(env))
                                || d.tag_list().iter().any(|t| t.value() == Some(env))
                        })
                        .ok_or_else(|| anyhow!(ctx("no Aurora cluster")))?;
                    ensure!(
                        cluster.engine() == Some("aurora-mysql"),
                        "{}: engine {:?}",
                        env,
                        cluster.engine()
                    );
                    ensure!(
                        cluster.storage_encrypted() == Some(true),
                        "{}: cluster storage not encrypted",
                        env
                    );
                    let members = cluster.db_cluster_members().len();
                    let want = if env == "production" { 2 } else { 1 };
                    ensure!(
                        members == want,
                        "{}: {members} cluster members, expected {want}",
                        env
                    );
                    if c.database == "aurora-serverless" {
                        ensure!(
                            cluster.serverless_v2_scaling_configuration().is_some(),
                            "{}: no Serverless v2 scaling",
                            env
                        );
                    }
                }
                "couchdb" => {
                    let out = self
                        .cfn
                        .describe_stacks()
                        .stack_name(format!("acme-{project}-{env}-db-couch"))
                        .send()
                        .await?;
                    let id = out.stacks()[0]
                        .outputs()
                        .iter()
                        .find(|o| o.output_key() == Some("InstanceId"))
                        .and_then(|o| o.output_value())
                        .ok_or_else(|| anyhow!(ctx("no InstanceId output")))?
                        .to_string();
                    let inst = self
                        .ec2
                        .describe_instances()
                        .instance_ids(&id)
                        .send()
                        .await?;
                    let state = inst
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .filter_map(|i| i.state())
                        .filter_map(|s| s.name())
                        .next();
                    ensure!(
                        state.map(|s| s.as_str()) == Some("running"),
                        "{}: CouchDB instance {id} is {state:?}",
                        env
                    );
                }
                _ => {}
            }
        }
        // Parameters and buckets
        let params = self
            .ssm
            .get_parameters_by_path()
            .path(format!("/acme/{project}"))
            .recursive(true)
            .send()
            .await?;
        let names: Vec<&str> = params
            .parameters()
            .iter()
            .filter_map(|p| p.name())
            .collect();
        for p in ["DOMAIN", "DOMAIN_CERT"] {
            let name = format!("/acme/{project}/{p}");
            ensure!(
                names.contains(&name.as_str()),
                "parameter {name} missing: {names:?}"
            );
            let tags = self
                .ssm
                .list_tags_for_resource()
                .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                .resource_id(&name)
                .send()
                .await?;
            let has = |k: &str, v: &str| {
                tags.tag_list()
                    .iter()
                    .any(|t| t.key() == k && t.value() == v)
            };
            ensure!(
                has("rig:owner", "acme")
                    && has("rig:project", project)
                    && has("rig:role", "foundation"),
                "parameter {name} lacks the riglet's tags: {:?}",
                tags.tag_list()
            );
        }
        if c.database.starts_with("aurora") {
            for (env, _) in ENVS {
                let p = format!("/acme/{project}/env/{env}/db/DB_MASTER_PASSWORD");
                let got = params
                    .parameters()
                    .iter()
                    .find(|x| x.name() == Some(p.as_str()));
                ensure!(
                    got.and_then(|x| x.r#type()).map(|t| t.as_str()) == Some("SecureString"),
                    "secret {p} is not a SecureString"
                );
            }
        }
        let buckets = self.s3.list_buckets().send().await?;
        let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
        for (env, _) in ENVS {
            for kind in ["foundation", "compute-ecs", "app"] {
                let b = format!("rig-acme-{project}-us-east-1-{kind}-{env}");
                ensure!(names.contains(&b.as_str()), "bucket {b} missing: {names:?}");
            }
            // Template buckets rig creates carry the riglet's tags.
            for (kind, role) in [("foundation", "foundation"), ("compute-ecs", "compute")] {
                let b = format!("rig-acme-{project}-us-east-1-{kind}-{env}");
                let tags = self.s3.get_bucket_tagging().bucket(&b).send().await?;
                let has = |k: &str, v: &str| {
                    tags.tag_set()
                        .iter()
                        .any(|t| t.key() == k && t.value() == v)
                };
                ensure!(
                    has("rig:owner", "acme")
                        && has("rig:project", project)
                        && has("rig:environment", env)
                        && has("rig:role", role),
                    "bucket {b} lacks the riglet's tags: {:?}",
                    tags.tag_set()
                );
            }
            // The foundation's app bucket is as its template promises: versioned, encrypted,
            // closed to the public.
            let b = format!("rig-acme-{project}-us-east-1-app-{env}");
            let versioning = self.s3.get_bucket_versioning().bucket(&b).send().await?;
            ensure!(
                versioning.status().map(|s| s.as_str()) == Some("Enabled"),
                "bucket {b} is not versioned: {versioning:?}"
            );
            let block = self.s3.get_public_access_block().bucket(&b).send().await?;
            let block = block
                .public_access_block_configuration()
                .ok_or_else(|| anyhow!("bucket {b} has no public access block"))?;
            ensure!(
                [
                    block.block_public_acls(),
                    block.ignore_public_acls(),
                    block.block_public_policy(),
                    block.restrict_public_buckets()
                ]
                .iter()
                .all(|v| *v == Some(true)),
                "bucket {b} is not closed to the public: {block:?}"
            );
            let sse = self.s3.get_bucket_encryption().bucket(&b).send().await?;
            let algorithm = sse
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_string());
            ensure!(
                algorithm.as_deref() == Some("AES256"),
                "bucket {b} encryption: {algorithm:?}"
            );
        }
        Ok(())
    }

    /// Checks that `rig down` kept each environment's CouchDB backup bucket (retained by its
    /// template) and said so, then removes them as their owner would.
    pub async fn remove_retained_backups(&self, project: &str, down_stderr: &str) -> Result<()> {
        for (env, _) in ENVS {
            let b = format!("rig-acme-{project}-us-east-1-db-couch-backup-{env}");
            ensure!(
                down_stderr.contains(&format!("kept AWS::S3::Bucket {b}")),
                "down must report the retained backup bucket {b}:\n{down_stderr}"
            );
            self.s3
                .head_bucket()
                .bucket(&b)
                .send()
                .await
                .with_context(|| format!("the retained backup bucket {b} must still exist"))?;
            self.s3.delete_bucket().bucket(&b).send().await?;
        }
        Ok(())
    }

    /// A stack's tags.
    pub async fn stack_tags(&self, stack: &str) -> Result<BTreeMap<String, String>> {
        let out = self.cfn.describe_stacks().stack_name(stack).send().await?;
        Ok(out
            .stacks()
            .first()
            .map(|s| {
                s.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Checks that nothing of the riglet remains.
    pub async fn verify_gone(&self, project: &str) -> Result<()> {
        let stacks = self.live_stacks(project).await?;
        ensure!(stacks.is_empty(), "stacks remain: {stacks:?}");
        let buckets = self.s3.list_buckets().send().await?;
        let left: Vec<&str> = buckets
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.starts_with(&format!("rig-acme-{project}-")))
            .collect();
        ensure!(left.is_empty(), "buckets remain: {left:?}");
        let params = self
            .ssm
            .get_parameters_by_path()
            .path(format!("/acme/{project}"))
            .recursive(true)
            .send()
            .await?;
        ensure!(
            params.parameters().is_empty(),
            "parameters remain: {:?}",
            params
                .parameters()
                .iter()
                .filter_map(|p| p.name())
                .collect::<Vec<_>>()
        );
        for (env, n) in ENVS {
            ensure!(
                self.vpc_for(&format!("10.{n}.0.0/16")).await?.is_none(),
                "{env}: the VPC remains"
            );
        }
        let clusters = self.ecs.list_clusters().send().await?;
        let left: Vec<&str> = clusters
            .cluster_arns()
            .iter()
            .filter(|a| a.contains(&format!("acme-{project}-")))
            .map(String::as_str)
            .collect();
        ensure!(left.is_empty(), "ECS clusters remain: {left:?}");
        let dbs = self.rds.describe_db_clusters().send().await?;
        ensure!(
            dbs.db_clusters().is_empty(),
            "RDS clusters remain: {:?}",
            dbs.db_clusters()
                .iter()
                .filter_map(|d| d.db_cluster_identifier())
                .collect::<Vec<_>>()
        );
        let zones = self.r53.list_hosted_zones().send().await?;
        let left: Vec<&str> = zones
            .hosted_zones()
            .iter()
            .map(|z| z.name())
            .filter(|n| same_name(n, &format!("{project}.internal.")))
            .collect();
        ensure!(left.is_empty(), "private zones remain: {left:?}");
        Ok(())
    }
}

/// `rig` in `dir` with no AWS behind it (a closed loopback port), no colour and no stdin: for
/// commands that must not call AWS.
pub fn offline_command(dir: &Path) -> Command {
    let mut c = Command::new(rig_binary());
    c.current_dir(dir)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .env_remove("RIG_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    c
}

/// The plugin libraries of backends `ids`, where `cargo build` puts them (beside `rig`).
pub fn plugin_libraries(ids: &[&str]) -> Vec<PathBuf> {
    let dir = rig_binary().parent().unwrap().to_path_buf();
    ids.iter()
        .map(|id| dir.join(rig_engine::plugin::plugin_file_name(id)))
        .collect()
}

/// The riglet of `config` opened in process and connected to `aws` (events collected), with
/// the plugins of backends `plugins`: what the in-process tests drive and count calls through.
pub async fn open_engine(
    aws: &LocalAws,
    config: &Path,
    plugins: &[&str],
) -> (rig_engine::session::Session, rig_engine::engine::Engine) {
    let mut session = rig_engine::session::Session::load(&rig_engine::session::SessionOptions {
        config: config.to_path_buf(),
        plugins: plugin_libraries(plugins),
        ..Default::default()
    })
    .unwrap();
    let clients = rig_engine::cloud::Clients::from_sdk_config(&sdk_config(aws).await);
    let engine = session
        .connect_with(
            clients,
            std::sync::Arc::new(rig_engine::events::Collect::default()),
            rig_engine::engine::EngineOptions::default(),
        )
        .await
        .unwrap();
    (session, engine)
}
