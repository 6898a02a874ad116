//! Pipeline releases end to end on the local AWS (its CodePipeline extension, README section
//! 23): `rig up` creates the pipeline and the notifications stack, `rig pipeline release` walks
//! source, build, integration and staging, production waits at its change set until `rig
//! pipeline approve`, and a second release updates all three environments.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::Value;

use crate::matrix::{sdk_config, Rig};
use crate::LocalAws;

/// The app the pipeline deploys, its pipeline and Slack notifications (appended to `rig.toml`).
pub const RELEASED_APP: &str = r#"
[[apps]]
name = "storefront"
port = 8000

[[pipelines]]
repository = "storefront"
github_owner = "acme"
connection_arn = "arn:aws:codeconnections:us-east-1:123456789012:connection/0f0e0d0c-0000-4000-8000-000000000000"

[notifications]
slack = true
"#;

/// The Slack webhook URL the riglet is given (through `RIG_SECRET_slack_webhook_url`).
pub const SLACK_WEBHOOK: (&str, &str) = (
    "RIG_SECRET_slack_webhook_url",
    "https://hooks.slack.com/services/T0RIG/B0RIG/rigSecretWebhookToken42",
);

/// Two commits the "repository" has; the build tags the image with the first 8 characters.
pub const COMMITS: [&str; 2] = [
    "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
    "0fedcba9876543210fedcba9876543210fedcba9",
];

const APP: &str = "storefront";
const WAIT: Duration = Duration::from_secs(120);

/// Service clients for verifying releases.
pub struct ReleaseApi {
    pub cfn: aws_sdk_cloudformation::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
}

impl ReleaseApi {
    pub async fn new(aws: &LocalAws) -> ReleaseApi {
        let conf = sdk_config(aws).await;
        ReleaseApi {
            cfn: aws_sdk_cloudformation::Client::new(&conf),
            ecr: aws_sdk_ecr::Client::new(&conf),
            codepipeline: aws_sdk_codepipeline::Client::new(&conf),
        }
    }

    /// (status, parameters, tags) of a stack, or `None`.
    pub async fn stack(&self, name: &str) -> Result<Option<(String, Value, Value)>> {
        let out = match self.cfn.describe_stacks().stack_name(name).send().await {
            Ok(o) => o,
            Err(_) => return Ok(None),
        };
        let Some(s) = out.stacks().first() else {
            return Ok(None);
        };
        let params: serde_json::Map<String, Value> = s
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap_or_default().to_string(),
                    Value::from(p.parameter_value().unwrap_or_default()),
                )
            })
            .collect();
        let tags: serde_json::Map<String, Value> = s
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    Value::from(t.value().unwrap_or_default()),
                )
            })
            .collect();
        Ok(Some((
            s.stack_status()
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            Value::Object(params),
            Value::Object(tags),
        )))
    }

    pub async fn output(&self, stack: &str, key: &str) -> Result<String> {
        let out = self.cfn.describe_stacks().stack_name(stack).send().await?;
        out.stacks()
            .first()
            .and_then(|s| s.outputs().iter().find(|o| o.output_key() == Some(key)))
            .and_then(|o| o.output_value())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("{stack} has no output {key}"))
    }

    /// The status of change set `name` of `stack`, or `None`.
    pub async fn change_set(&self, stack: &str, name: &str) -> Result<Option<String>> {
        Ok(self
            .cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .ok()
            .and_then(|c| c.status().map(|s| s.as_str().to_string())))
    }

    /// No ECR repository and no pipeline of the riglet is left (after `rig down`).
    pub async fn verify_gone(&self, project: &str) -> Result<()> {
        let prefix = format!("acme-{project}-");
        let repos = self.ecr.describe_repositories().send().await?;
        let left: Vec<&str> = repos
            .repositories()
            .iter()
            .filter_map(|r| r.repository_name())
            .filter(|n| n.starts_with(&prefix))
            .collect();
        ensure!(left.is_empty(), "ECR repositories remain: {left:?}");
        let pipelines = self.codepipeline.list_pipelines().send().await?;
        let left: Vec<&str> = pipelines
            .pipelines()
            .iter()
            .filter_map(|p| p.name())
            .filter(|n| n.starts_with(&prefix))
            .collect();
        ensure!(left.is_empty(), "pipelines remain: {left:?}");
        Ok(())
    }

    /// The tags of the images in a repository.
    pub async fn image_tags(&self, repo: &str) -> Result<Vec<String>> {
        let out = self.ecr.list_images().repository_name(repo).send().await?;
        let mut tags: Vec<String> = out
            .image_ids()
            .iter()
            .filter_map(|i| i.image_tag().map(str::to_string))
            .collect();
        tags.sort();
        Ok(tags)
    }
}

fn json(s: &str) -> Result<Value> {
    serde_json::from_str(s).with_context(|| format!("not JSON: {s}"))
}

/// `rig pipeline status --json` until `done` says so (or [`WAIT`] passes).
pub fn wait_status(rig: &Rig, what: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
    let t0 = Instant::now();
    loop {
        let s = json(&rig.ok(&["pipeline", "status", "--app", APP, "--json"])?)?;
        if done(&s) {
            return Ok(s);
        }
        if t0.elapsed() > WAIT {
            bail!("waited {WAIT:?} for {what}; last status: {s:#}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The latest execution's status, and the status of one of its stages.
pub fn latest(s: &Value) -> (&str, &Value) {
    let e = &s["executions"][0];
    (e["status"].as_str().unwrap_or_default(), e)
}

pub fn stage<'a>(e: &'a Value, name: &str) -> Option<&'a str> {
    e["stages"]
        .as_array()?
        .iter()
        .find(|st| st["stage"] == name)
        .and_then(|st| st["status"].as_str())
}

/// Waiting for the production approval: the change set made, the approval in progress.
pub fn waits_for_approval(s: &Value) -> bool {
    let (status, e) = latest(s);
    status == "InProgress"
        && stage(e, "Deploy-Production") == Some("InProgress")
        && running_action(e, "Deploy-Production") == Some("ApproveChangeSet")
}

/// The action a stage runs now (the stage's `action` while it is `InProgress`).
pub fn running_action<'a>(e: &'a Value, name: &str) -> Option<&'a str> {
    let st = e["stages"]
        .as_array()?
        .iter()
        .find(|st| st["stage"] == name)?;
    (st["status"] == "InProgress")
        .then(|| st["action"].as_str())
        .flatten()
}

pub fn run(rig: &Rig, aws: &LocalAws, project: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let api = rt.block_on(ReleaseApi::new(aws));
    let pipeline = format!("acme-{project}-build-{APP}-main");
    let stack = |env: &str| format!("acme-{project}-{env}-app-{APP}");
    let repo_uri = rt.block_on(api.output(&pipeline, "EcrRepositoryUri"))?;
    let repo = rt.block_on(api.output(&pipeline, "EcrRepositoryName"))?;
    let image = |commit: &str| format!("{repo_uri}:{}", &commit[..8]);

    let s = json(&rig.ok(&["pipeline", "status", "--app", APP, "--json"])?)?;
    ensure!(s["pipeline"] == pipeline.as_str(), "{s}");
    ensure!(
        s["executions"].as_array().is_some_and(Vec::is_empty),
        "releases before any was started: {s}"
    );
    for env in ["integration", "staging", "production"] {
        ensure!(
            rt.block_on(api.stack(&stack(env)))?.is_none(),
            "rig up created {} without an image",
            stack(env)
        );
    }

    for (n, commit) in COMMITS.iter().enumerate() {
        let out = json(&rig.ok(&[
            "pipeline", "release", "--app", APP, "--commit", commit, "--json",
        ])?)?;
        let id = out["execution_id"].as_str().unwrap_or_default().to_string();
        ensure!(
            !id.is_empty() && out["pipeline"] == pipeline.as_str(),
            "{out}"
        );
        let s = wait_status(rig, "the production approval", waits_for_approval)?;
        let (_, e) = latest(&s);
        ensure!(
            e["id"] == id.as_str(),
            "the latest release is not ours: {s:#}"
        );
        ensure!(e["commit"] == *commit, "release of the wrong commit: {s:#}");
        for st in ["Source", "Build", "Deploy-Integration", "Deploy-Staging"] {
            ensure!(stage(e, st) == Some("Succeeded"), "{st}: {s:#}");
        }
        for env in ["integration", "staging"] {
            let (status, params, tags) = rt
                .block_on(api.stack(&stack(env)))?
                .ok_or_else(|| anyhow!("no {}", stack(env)))?;
            let want = if n == 0 {
                "CREATE_COMPLETE"
            } else {
                "UPDATE_COMPLETE"
            };
            ensure!(status == want, "{}: {status}", stack(env));
            ensure!(
                params["ContainerImage"] == image(commit).as_str(),
                "{}: image {} (built {})",
                stack(env),
                params["ContainerImage"],
                image(commit)
            );
            // config.json carries rig's ownership tags, so `rig down` knows the stack as its own.
            ensure!(
                tags["rig:owner"] == "acme" && tags["rig:environment"] == env,
                "{}: tags {tags}",
                stack(env)
            );
        }
        // Production: the change set is there, the stack not yet changed.
        ensure!(
            rt.block_on(api.change_set(&stack("production"), &stack("production")))?
                == Some("CREATE_COMPLETE".into()),
            "no production change set"
        );
        let before = rt.block_on(api.stack(&stack("production")))?;
        match (n, &before) {
            (0, Some((status, ..))) => {
                ensure!(
                    status == "REVIEW_IN_PROGRESS",
                    "production before approval: {status}"
                )
            }
            (_, Some((_, params, _))) => ensure!(
                params["ContainerImage"] == image(COMMITS[0]).as_str(),
                "production changed before approval: {params}"
            ),
            (_, None) => bail!("no production stack after the first release"),
        }

        let out = rig.ok(&["pipeline", "approve", "--app", APP, "--yes"])?;
        let was = if n == 0 {
            "(new stack)".to_string()
        } else {
            image(COMMITS[0])
        };
        ensure!(
            out.contains(&format!("image: {was} -> {}", image(commit))),
            "approve did not show the image change:\n{out}"
        );
        if n == 0 {
            ensure!(
                out.contains("Add     Service AWS::ECS::Service"),
                "approve did not show the change set:\n{out}"
            );
        }
        let s = wait_status(rig, "the release to finish", |s| {
            latest(s).0 != "InProgress"
        })?;
        let (status, e) = latest(&s);
        ensure!(status == "Succeeded", "release {n} ended {status}: {s:#}");
        ensure!(stage(e, "Deploy-Production") == Some("Succeeded"), "{s:#}");
        let (pstatus, params, _) = rt
            .block_on(api.stack(&stack("production")))?
            .ok_or_else(|| anyhow!("no production stack"))?;
        ensure!(
            pstatus.ends_with("_COMPLETE") && params["ContainerImage"] == image(commit).as_str(),
            "production after approval: {pstatus} {}",
            params["ContainerImage"]
        );
    }
    let tags = rt.block_on(api.image_tags(&repo))?;
    let mut want: Vec<String> = COMMITS.iter().map(|c| c[..8].to_string()).collect();
    want.sort();
    ensure!(
        tags == want,
        "ECR holds {tags:?}, the builds pushed {want:?}"
    );

    // The text view: every stage with its time, and the commit.
    let text = rig.ok(&["pipeline", "status", "--app", APP])?;
    ensure!(
        text.contains(&format!("commit {}", &COMMITS[1][..8]))
            && text.contains("Deploy-Staging")
            && text.contains("Succeeded"),
        "rig pipeline status:\n{text}"
    );

    // `rig up` finds the released stacks as it would have made them: nothing changes.
    let report = json(&rig.ok(&["up", "--yes", "--json"])?)?;
    let released = report["stacks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.ends_with(&format!("-app-{APP}")))
        });
    let mut seen = 0;
    for s in released {
        seen += 1;
        ensure!(
            s["outcome"] == "unchanged",
            "up after the releases changed {}: {}",
            s["name"],
            s["outcome"]
        );
    }
    ensure!(
        seen == 3,
        "rig up did not keep the 3 released stacks: {report}"
    );
    Ok(())
}
