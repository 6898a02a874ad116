//! The per-repository deployment pipeline: ECR, CodeBuild and a CodePipeline (V2) that ships
//! the build through integration, staging and, after approval, production.
//!
//! The deploy stages take the app template and its parameters from the zip rig keeps in each
//! environment's app bucket ([`rig_core::AppDeploy`]), and the image from the build's
//! `build.json` (`{"image": "<repository uri>:<tag>", "tag": "<tag>"}`).

use rig_core::names::RigletNames;
use rig_core::settings::{self, Key, Kind};
use rig_core::{
    AppDeploy, Backend, Capability, Issue, Manifest, Pipeline, PipelineRequest, PluginError, Role,
    Settings, StackPlan, PROTOCOL_VERSION,
};

const TEMPLATE: &str = include_str!("../../../templates/pipeline.yaml");

/// Output keys `pipeline.yaml` promises.
pub const OUTPUTS: &[&str] = &[
    "PipelineName",
    "PipelineUrl",
    "EcrRepositoryUri",
    "EcrRepositoryName",
];

fn check_connection_arn(s: &str) -> Result<(), String> {
    let ok = s.starts_with("arn:aws")
        && (s.contains(":codestar-connections:") || s.contains(":codeconnections:"))
        && s.contains(":connection/");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID)"
        ))
    }
}

fn check_github_owner(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 39
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("`{s}` is not a GitHub user or organisation name"))
    }
}

const KEYS: &[Key] = &[
    Key {
        name: "github_owner",
        kind: Kind::StrWith {
            check: check_github_owner,
        },
        help: "GitHub user or organisation that owns the repository",
    },
    Key {
        name: "connection_arn",
        kind: Kind::StrWith {
            check: check_connection_arn,
        },
        help: "CodeConnections connection to GitHub",
    },
    Key {
        name: "repo_token_secret",
        kind: Kind::Str { one_of: &[] },
        help: "Secrets Manager secret holding a GitHub token, used when there is no connection",
    },
    Key {
        name: "compute_type",
        kind: Kind::Str {
            one_of: &[
                "BUILD_GENERAL1_SMALL",
                "BUILD_GENERAL1_MEDIUM",
                "BUILD_GENERAL1_LARGE",
                "BUILD_GENERAL1_XLARGE",
                "BUILD_GENERAL1_2XLARGE",
            ],
        },
        help: "CodeBuild compute type",
    },
    Key {
        name: "image",
        kind: Kind::Str { one_of: &[] },
        help: "CodeBuild image",
    },
    Key {
        name: "app_template",
        kind: Kind::Str {
            one_of: &["rig", "repository"],
        },
        help: "where the deploy stages take app.yaml from: rig's copy in the app bucket (default) or the build output",
    },
];

/// The environments a pipeline deploys to, in order, as its template names them.
pub const STAGES: [(&str, &str); 3] = [
    ("integration", "Integration"),
    ("staging", "Staging"),
    ("production", "Production"),
];

/// The built-in pipeline backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct CodePipeline;

impl Backend for CodePipeline {
    fn manifest(&self) -> Manifest {
        Manifest {
            id: "codepipeline".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            role: Role::Pipeline,
            protocol: PROTOCOL_VERSION.into(),
            description:
                "ECR + CodeBuild + CodePipeline V2: integration, staging, approval, production"
                    .into(),
            stack_suffix: "build".into(),
            features: vec![],
        }
    }

    fn validate(&self, s: &Settings) -> Vec<Issue> {
        let mut issues = settings::check(s, KEYS);
        if !s.contains_key("github_owner") {
            issues.push(Issue::new(
                "github_owner",
                "missing; name the GitHub user or organisation that owns the repository",
            ));
        }
        if !s.contains_key("connection_arn") && !s.contains_key("repo_token_secret") {
            issues.push(Issue::new(
                "connection_arn",
                "missing; give a CodeConnections connection ARN (recommended) or `repo_token_secret`, a Secrets Manager secret holding a GitHub token",
            ));
        }
        issues
    }
}

impl Pipeline for CodePipeline {
    fn plan_pipeline(&self, req: &PipelineRequest) -> Result<Vec<StackPlan>, PluginError> {
        let issues = self.validate(&req.settings);
        if !issues.is_empty() {
            return Err(PluginError::InvalidInput(
                issues
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        let r = &req.riglet;
        let names = RigletNames::new(&r.owner, &r.project, &r.region);
        let s = &req.settings;
        let app = req.app.as_ref().ok_or_else(|| {
            PluginError::InvalidInput(format!(
                "pipeline {}@{} deploys no app; add an [[apps]] entry named `{}` or set `app` in its [[pipelines]] entry",
                req.repository, req.branch, req.repository
            ))
        })?;
        let mut parameters: std::collections::BTreeMap<String, String> = [
            ("Owner", r.owner.clone()),
            ("Project", r.project.clone()),
            ("RepositoryName", req.repository.clone()),
            ("GitHubOwner", settings::string(s, "github_owner", "")),
            ("Branch", req.branch.clone()),
            ("BranchSafe", req.branch_safe.clone()),
            ("ConnectionArn", settings::string(s, "connection_arn", "")),
            (
                "RepoTokenSecret",
                settings::string(s, "repo_token_secret", ""),
            ),
            ("ArtifactBucketName", names.bucket("build", None)),
            (
                "CodeBuildComputeType",
                settings::string(s, "compute_type", "BUILD_GENERAL1_SMALL"),
            ),
            (
                "CodeBuildImage",
                settings::string(s, "image", "aws/codebuild/amazonlinux-x86_64-standard:5.0"),
            ),
            (
                "AppTemplateSource",
                settings::string(s, "app_template", "rig"),
            ),
            ("AppIamPath", app.iam_path.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (env, title) in STAGES {
            let d: &AppDeploy = app
                .deploys
                .iter()
                .find(|d| d.environment == env)
                .ok_or_else(|| {
                    PluginError::InvalidInput(format!(
                        "pipeline {}@{} has no app stack for environment `{env}`",
                        req.repository, req.branch
                    ))
                })?;
            parameters.insert(format!("{title}AppStackName"), d.stack_name.clone());
            parameters.insert(format!("{title}AppBucketName"), d.template_bucket.clone());
            parameters.insert(
                format!("{title}TemplateObjectKey"),
                d.template_object.clone(),
            );
        }
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: Role::Pipeline,
            template_file: "pipeline.yaml".into(),
            template_body: TEMPLATE.to_string(),
            parameters,
            tags: req.tags.clone(),
            capabilities: vec![Capability::CapabilityNamedIam],
            depends_on: req
                .environments
                .iter()
                .flat_map(|(_, s)| std::iter::once(s.foundation.clone()).chain(s.compute.clone()))
                .collect(),
            outputs: OUTPUTS.iter().map(|s| s.to_string()).collect(),
            probes: vec![],
            secrets: vec![],
            before_delete: Default::default(),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::testing::sample_env_request;

    fn request(settings: serde_json::Value) -> PipelineRequest {
        let env = sample_env_request("staging", "compute-ecs", Settings::new());
        PipelineRequest {
            riglet: env.riglet.clone(),
            stack_name: "acme-shop-build-api-feature-x".into(),
            repository: "api".into(),
            branch: "feature/x".into(),
            branch_safe: "feature-x".into(),
            environments: vec![("staging".into(), env.stacks.clone())],
            settings: settings.as_object().cloned().unwrap_or_default(),
            tags: env.tags.clone(),
            app: Some(rig_core::PipelineApp {
                name: "api".into(),
                iam_path: "/acme/shop/app/api/feature-x/".into(),
                deploys: STAGES
                    .iter()
                    .map(|(e, _)| AppDeploy {
                        environment: e.to_string(),
                        stack_name: format!("acme-shop-{e}-app-api-feature-x"),
                        template_bucket: format!("rig-acme-shop-us-east-1-app-{e}"),
                        template_object: format!("templates/acme-shop-{e}-app-api-feature-x.zip"),
                    })
                    .collect(),
            }),
        }
    }

    #[test]
    fn plans_the_pipeline_stack() {
        let plans = CodePipeline
            .plan_pipeline(&request(serde_json::json!({
                "github_owner": "acme",
                "connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/abc"
            })))
            .unwrap();
        let p = &plans[0];
        assert_eq!(
            p.parameters["ArtifactBucketName"],
            "rig-acme-shop-us-east-1-build"
        );
        assert_eq!(p.parameters["BranchSafe"], "feature-x");
        assert_eq!(p.parameters["RepoTokenSecret"], "");
        assert_eq!(
            p.parameters["ProductionAppStackName"],
            "acme-shop-production-app-api-feature-x"
        );
        assert_eq!(
            p.parameters["StagingAppBucketName"],
            "rig-acme-shop-us-east-1-app-staging"
        );
        assert_eq!(p.parameters["AppTemplateSource"], "rig");
        assert!(p
            .depends_on
            .contains(&"acme-shop-staging-foundation".to_string()));
        for k in p.parameters.keys() {
            assert!(
                TEMPLATE.contains(&format!("  {k}:")),
                "template lacks parameter {k}"
            );
        }
        for o in OUTPUTS {
            assert!(
                TEMPLATE.contains(&format!("  {o}:")),
                "template lacks output {o}"
            );
        }
    }

    #[test]
    fn settings_problems_name_the_key() {
        let issues = CodePipeline.validate(&Settings::new());
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("`github_owner`: missing")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("`connection_arn`: missing")),
            "{text:?}"
        );
        let bad = serde_json::json!({"github_owner": "acme", "connection_arn": "nope"});
        let issues = CodePipeline.validate(bad.as_object().unwrap());
        assert!(
            issues[0]
                .to_string()
                .contains("not a CodeConnections connection ARN"),
            "{issues:?}"
        );
        assert!(matches!(
            CodePipeline.plan_pipeline(&request(serde_json::json!({}))),
            Err(PluginError::InvalidInput(_))
        ));
        let mut no_app = request(serde_json::json!({
            "github_owner": "acme",
            "connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/abc"
        }));
        no_app.app = None;
        match CodePipeline.plan_pipeline(&no_app) {
            Err(PluginError::InvalidInput(m)) => assert!(m.contains("deploys no app"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
