//! The planner with in-process backends: the units and their order, checks that are the same
//! for every kind of unit, and no check for a backend the riglet does not use.

use std::path::Path;
use std::sync::Arc;

use rig_core::{
    Backend, Compute, Database, EnvRequest, Issue, Manifest, PluginError, Role, Settings,
    StackPlan, PROTOCOL_VERSION,
};

use super::units::{units, Scope};
use super::*;
use crate::builtin::{CodePipeline, StandardFoundation};
use crate::config::{self, Overrides};

const CONFIG: &str = r#"
owner = "acme"
project = "shop"
region = "us-east-1"
domain = "example.com"
domain_cert = "0f0e0d0c-0000-4000-8000-000000000000"

[compute]
backend = "fake-compute"

[database]
backend = "fake-db"

[environments.integration]
[environments.staging]
[environments.production]
"#;

const PIPELINES: &str = r#"
[[apps]]
name = "api"
port = 8080

[[apps]]
name = "web"
branch = "feature/x"
port = 8080

[[pipelines]]
repository = "api"
github_owner = "acme"
connection_arn = "arn:aws:codeconnections:us-east-1:123456789012:connection/0f0e0d0c"

[[pipelines]]
repository = "web"
branch = "feature/x"
github_owner = "acme"
connection_arn = "arn:aws:codeconnections:us-east-1:123456789012:connection/0f0e0d0c"
"#;

fn riglet(text: &str) -> Riglet {
    let p = Path::new("rig.toml");
    config::resolve(p, config::parse(p, text).unwrap(), &Overrides::default()).unwrap()
}

/// A compute or database backend planning one stack named as asked.
struct Fake {
    role: Role,
    suffix: String,
    issues: Vec<Issue>,
}

impl Fake {
    fn new(role: Role, suffix: &str) -> Fake {
        Fake {
            role,
            suffix: suffix.to_string(),
            issues: Vec::new(),
        }
    }

    fn plan(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        let mut tags = req.tags.clone();
        tags.insert(ownership::OWNER.into(), "someone-else".into());
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: self.role,
            template_file: "t.yaml".into(),
            // Apps need the compute template's literal `LaunchType` output.
            template_body: "Resources: {}\nOutputs:\n  LaunchType:\n    Value: FARGATE\n".into(),
            parameters: Default::default(),
            tags,
            capabilities: vec![],
            depends_on: vec![req.stacks.foundation.clone()],
            outputs: vec![],
            probes: vec![],
            secrets: vec![],
            before_delete: Default::default(),
        }])
    }
}

impl Backend for Fake {
    fn manifest(&self) -> Manifest {
        let id = match self.role {
            Role::Database => "fake-db",
            _ => "fake-compute",
        };
        Manifest {
            id: id.into(),
            version: "1.0.0".into(),
            role: self.role,
            protocol: PROTOCOL_VERSION.into(),
            description: "in-process test backend".into(),
            stack_suffix: self.suffix.clone(),
            features: vec![],
        }
    }

    fn validate(&self, _: &Settings) -> Vec<Issue> {
        self.issues.clone()
    }
}

impl Compute for Fake {
    fn plan_compute(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        self.plan(req)
    }
}

impl Database for Fake {
    fn plan_database(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        self.plan(req)
    }
}

fn backends(compute: Fake, database: Option<Fake>) -> Backends {
    Backends {
        foundation: Arc::new(StandardFoundation),
        compute: Arc::new(compute),
        database: database.map(|d| Arc::new(d) as Arc<dyn Database>),
        pipeline: Arc::new(CodePipeline),
    }
}

fn error(r: Result<RigletPlan, PlanError>) -> String {
    match r {
        Ok(_) => panic!("expected the riglet to be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn units_come_per_environment_then_per_pipeline() {
    let r = riglet(&format!("{CONFIG}{PIPELINES}"));
    let b = backends(
        Fake::new(Role::Compute, "compute-x"),
        Some(Fake::new(Role::Database, "db-x")),
    );
    let units = units(&r, &b);
    let got: Vec<(Role, Option<&str>, &str)> = units
        .iter()
        .map(|u| (u.role, u.scope.env(), u.bucket_kind.as_str()))
        .collect();
    let mut want = Vec::new();
    for env in ["integration", "staging", "production"] {
        want.push((Role::Foundation, Some(env), "foundation"));
        want.push((Role::Compute, Some(env), "compute-x"));
        want.push((Role::Database, Some(env), "db-x"));
    }
    want.extend([(Role::Pipeline, None, "build"); 2]);
    assert_eq!(got, want);
    assert_eq!(units[9].scope, Scope::Riglet);
    assert_eq!(units[10].settings.place, "pipelines: web@feature/x");
}

#[test]
fn every_unit_is_planned_recorded_and_tagged_alike() {
    let r = riglet(&format!("{CONFIG}{PIPELINES}"));
    let b = backends(
        Fake::new(Role::Compute, "compute-x"),
        Some(Fake::new(Role::Database, "db-x")),
    );
    let plan = plan(&r, &b).unwrap();
    let names: Vec<&str> = plan.stacks.iter().map(|s| s.plan.name.as_str()).collect();
    assert_eq!(
        names[..3],
        [
            "acme-shop-integration-foundation",
            "acme-shop-integration-compute-x",
            "acme-shop-integration-db-x"
        ]
    );
    assert_eq!(
        names[9..11],
        ["acme-shop-build-api-main", "acme-shop-build-web-feature-x"]
    );
    assert_eq!(
        plan.pipelines[1].app_stacks[2],
        (
            "production".to_string(),
            "acme-shop-production-app-web-feature-x".to_string()
        )
    );
    let web = &plan.stacks[10].plan.parameters;
    assert_eq!(
        web["ProductionAppStackName"],
        "acme-shop-production-app-web-feature-x"
    );
    assert_eq!(
        web["StagingTemplateObjectKey"],
        "templates/acme-shop-staging-app-web-feature-x.zip"
    );
    assert_eq!(web["AppIamPath"], "/acme/shop/app/web/feature-x/");
    let buckets: Vec<&str> = plan.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(buckets.len(), 10);
    assert!(buckets.contains(&"rig-acme-shop-us-east-1-build"));
    assert!(buckets.contains(&"rig-acme-shop-us-east-1-db-x-staging"));
    for s in plan.stacks.iter().filter(|s| s.app.is_none()) {
        // A backend cannot forge the ownership tags.
        assert_eq!(s.plan.tags[ownership::OWNER], "acme");
        assert_eq!(s.plan.tags[ownership::BACKEND], s.backend);
        assert_eq!(s.plan.tags[ownership::TEMPLATE_BUCKET], s.template_bucket);
    }
}

#[test]
fn a_backend_not_selected_is_neither_checked_nor_asked() {
    // A database backend with a bad suffix, but the riglet has no database.
    let text = CONFIG.replace("backend = \"fake-db\"", "backend = \"none\"");
    let b = backends(
        Fake::new(Role::Compute, "compute-x"),
        Some(Fake::new(Role::Database, "Bad_Suffix")),
    );
    let plan = plan(&riglet(&text), &b).unwrap();
    assert!(plan.stacks.iter().all(|s| s.plan.role != Role::Database));
    // The same backend selected is refused before it is asked.
    let e = error(super::plan(&riglet(CONFIG), &b));
    assert!(
        e.starts_with(
            "the database backend `fake-db` produced an invalid plan: stack suffix `Bad_Suffix`"
        ),
        "{e}"
    );
}

#[test]
fn a_template_bucket_name_is_checked_for_every_kind() {
    let suffix = "c".repeat(32);
    let b = backends(Fake::new(Role::Compute, &suffix), None);
    let e = error(plan(&riglet(CONFIG), &b));
    assert!(
        e.starts_with(&format!(
            "S3 bucket name `rig-acme-shop-us-east-1-{suffix}-integration` is not valid"
        )),
        "{e}"
    );
}

#[test]
fn settings_issues_name_their_table_once() {
    let mut compute = Fake::new(Role::Compute, "compute-x");
    compute.issues = vec![Issue::new("size", "too big")];
    let e = error(plan(&riglet(CONFIG), &backends(compute, None)));
    assert_eq!(
        e,
        "rig.toml has invalid settings for the compute backend `fake-compute`:\n  - \
         [compute.fake-compute or environments.integration.compute.fake-compute] `size`: too big"
    );
    let bad = PIPELINES.replacen("github_owner = \"acme\"\n", "", 1);
    let r = riglet(&format!("{CONFIG}{bad}"));
    let e = error(plan(
        &r,
        &backends(Fake::new(Role::Compute, "compute-x"), None),
    ));
    assert!(e.starts_with("rig.toml has invalid settings for the pipeline backend `codepipeline`:\n  - [pipelines: api@main]"), "{e}");
}
