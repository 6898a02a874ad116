//! Settling app stacks against what is live, without AWS: images kept, priorities stable and
//! unique per load balancer, rules rig did not make avoided, collisions refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use rig_core::{
    Backend, Compute, EnvRequest, Issue, Manifest, PluginError, Role, Settings, StackPlan,
    PROTOCOL_VERSION,
};

use super::*;
use crate::builtin::{CodePipeline, StandardFoundation};
use crate::cloud::cfn::{StackState, StackStatus};
use crate::config::{self, Overrides};
use crate::engine::record::LiveStack;
use crate::planner::{self, Backends};

const CONFIG: &str = r#"
owner = "acme"
project = "shop"
region = "us-east-1"
domain = "example.com"
domain_cert = "0f0e0d0c-0000-4000-8000-000000000000"

[compute]
backend = "fargate"

[environments.staging]
[environments.production]

[[apps]]
name = "api"
port = 8080
subdomain = "api"
secrets = ["STRIPE_KEY"]

[[apps]]
name = "web"
port = 3000
"#;

/// A compute backend whose template offers Fargate.
struct Fargate;

impl Backend for Fargate {
    fn manifest(&self) -> Manifest {
        Manifest {
            id: "fargate".into(),
            version: "1.0.0".into(),
            role: Role::Compute,
            protocol: PROTOCOL_VERSION.into(),
            description: "test".into(),
            stack_suffix: "compute-fargate".into(),
            features: vec![],
        }
    }
    fn validate(&self, _: &Settings) -> Vec<Issue> {
        vec![]
    }
}

impl Compute for Fargate {
    fn plan_compute(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: Role::Compute,
            template_file: "fargate.yaml".into(),
            template_body: "Resources: {}\nOutputs:\n  LaunchType:\n    Value: FARGATE\n".into(),
            parameters: Default::default(),
            tags: req.tags.clone(),
            capabilities: vec![],
            depends_on: vec![req.stacks.foundation.clone()],
            outputs: vec![],
            probes: vec![],
            secrets: vec![],
            before_delete: Default::default(),
        }])
    }
}

fn plan(extra: &str) -> RigletPlan {
    let p = Path::new("rig.toml");
    let text = format!("{CONFIG}{extra}");
    let riglet =
        config::resolve(p, config::parse(p, &text).unwrap(), &Overrides::default()).unwrap();
    let backends = Backends {
        foundation: Arc::new(StandardFoundation),
        compute: Arc::new(Fargate),
        database: None,
        pipeline: Arc::new(CodePipeline),
    };
    planner::plan(&riglet, &backends).unwrap()
}

/// A live app stack of the plan running `image` with rule priority `priority`.
fn live(plan: &RigletPlan, name: &str, image: &str, priority: u32) -> LiveStack {
    let p = plan.stack(name).expect("planned");
    let mut state = StackState::for_test(name, StackStatus::UpdateComplete, p.plan.tags.clone());
    state.parameters = vec![
        ("ContainerImage".into(), image.into()),
        ("ListenerRulePriority".into(), priority.to_string()),
    ];
    LiveStack {
        state,
        env: p.env.clone(),
        role: "application".into(),
        backend: Some("app".into()),
        template_bucket: None,
        orphan: false,
        adopted: false,
    }
}

fn settle(
    plan: &RigletPlan,
    record: &Record,
    deploy: Option<&ImageChoice>,
    rules: &BTreeMap<String, Vec<(u32, String)>>,
) -> Result<RigletPlan, AppError> {
    let keep = kept(plan, record, deploy);
    settle_plan(plan, record, &keep, deploy, rules, Some("Z1".into()))
}

fn param<'a>(plan: &'a RigletPlan, stack: &str, key: &str) -> &'a str {
    plan.stack(stack).expect("kept").plan.parameters[key].as_str()
}

#[test]
fn every_app_is_planned_per_environment_with_its_deferred_parameters_empty() {
    let p = plan("");
    let apps: Vec<&str> = p
        .stacks
        .iter()
        .filter(|s| s.app.is_some())
        .map(|s| s.plan.name.as_str())
        .collect();
    assert_eq!(
        apps,
        [
            "acme-shop-staging-app-api",
            "acme-shop-staging-app-web",
            "acme-shop-production-app-api",
            "acme-shop-production-app-web"
        ]
    );
    let s = p.stack("acme-shop-production-app-api").unwrap();
    for k in DEFERRED {
        assert_eq!(s.plan.parameters[*k], "", "{k}");
    }
    assert_eq!(
        s.plan.parameters["HostName"],
        "acme-production-api.example.com"
    );
    assert_eq!(s.plan.parameters["PreferredHostName"], "api.example.com");
    assert_eq!(s.plan.parameters["LaunchType"], "FARGATE");
    assert_eq!(s.plan.parameters["ErrorAlarm"], "true");
    assert_eq!(
        param(&p, "acme-shop-staging-app-api", "PreferredHostName"),
        "",
        "only production answers on the subdomain"
    );
    assert!(s
        .plan
        .template_body
        .contains("parameter${SsmEnvironmentNamespace}/STRIPE_KEY"));
    assert_eq!(
        s.plan.depends_on,
        [
            "acme-shop-production-foundation",
            "acme-shop-production-compute-fargate"
        ]
    );
    assert!(!s.plan.tags.contains_key(crate::ownership::TEMPLATE_BUCKET));
}

#[test]
fn nothing_live_and_no_image_leaves_every_app_stack_out() {
    let p = plan("");
    let settled = settle(&p, &Record::default(), None, &BTreeMap::new()).unwrap();
    assert!(settled.stacks.iter().all(|s| s.app.is_none()));
    assert!(
        settled.secrets.is_empty(),
        "no app secret is asked for: {:?}",
        settled.secrets
    );
    assert_eq!(settled.stacks.len(), p.stacks.len() - 4);
}

#[test]
fn a_deploy_gets_its_image_and_the_lowest_free_priority_while_live_apps_keep_theirs() {
    let p = plan("");
    let record = Record {
        stacks: vec![live(&p, "acme-shop-staging-app-api", "api:1", 1)],
        foreign: vec![],
    };
    let deploy = ImageChoice {
        stack: "acme-shop-staging-app-web".into(),
        image: "web:7".into(),
    };
    let settled = settle(&p, &record, Some(&deploy), &BTreeMap::new()).unwrap();
    let kept: BTreeSet<&str> = settled
        .stacks
        .iter()
        .filter(|s| s.app.is_some())
        .map(|s| s.plan.name.as_str())
        .collect();
    assert_eq!(
        kept,
        BTreeSet::from(["acme-shop-staging-app-api", "acme-shop-staging-app-web"])
    );
    assert_eq!(
        param(&settled, "acme-shop-staging-app-api", "ContainerImage"),
        "api:1"
    );
    assert_eq!(
        param(
            &settled,
            "acme-shop-staging-app-api",
            "ListenerRulePriority"
        ),
        "1"
    );
    assert_eq!(
        param(&settled, "acme-shop-staging-app-web", "ContainerImage"),
        "web:7"
    );
    assert_eq!(
        param(
            &settled,
            "acme-shop-staging-app-web",
            "ListenerRulePriority"
        ),
        "2"
    );
    assert_eq!(
        param(
            &settled,
            "acme-shop-staging-app-web",
            "PreferredListenerRulePriority"
        ),
        "25002"
    );
    assert_eq!(
        param(&settled, "acme-shop-staging-app-web", "HostedZoneId"),
        "Z1"
    );
    let secrets: Vec<&str> = settled
        .secrets
        .iter()
        .map(|s| s.requirement.ssm_path.as_str())
        .collect();
    assert_eq!(secrets, ["/acme/shop/env/staging/app/api/STRIPE_KEY"]);
}

#[test]
fn rules_rig_did_not_make_are_avoided_and_its_own_are_not_counted_twice() {
    let p = plan("");
    let record = Record {
        stacks: vec![live(&p, "acme-shop-staging-app-api", "api:1", 1)],
        foreign: vec![],
    };
    let rules = BTreeMap::from([(
        "staging".to_string(),
        vec![
            (1, "arn:rule/api".to_string()),
            (25001, "arn:rule/api-preferred".to_string()),
            (2, "arn:rule/by-hand".to_string()),
            (25003, "arn:rule/by-hand-high".to_string()),
        ],
    )]);
    let deploy = ImageChoice {
        stack: "acme-shop-staging-app-web".into(),
        image: "web:7".into(),
    };
    let settled = settle(&p, &record, Some(&deploy), &rules).unwrap();
    assert_eq!(
        param(
            &settled,
            "acme-shop-staging-app-api",
            "ListenerRulePriority"
        ),
        "1"
    );
    assert_eq!(
        param(
            &settled,
            "acme-shop-staging-app-web",
            "ListenerRulePriority"
        ),
        "4"
    );
}

#[test]
fn a_hand_given_priority_that_a_live_app_holds_is_refused_naming_it() {
    let p = plan("priority = 3\n");
    // `priority = 3` lands on the last app, web.
    let record = Record {
        stacks: vec![live(&p, "acme-shop-staging-app-api", "api:1", 3)],
        foreign: vec![],
    };
    let deploy = ImageChoice {
        stack: "acme-shop-staging-app-web".into(),
        image: "web:7".into(),
    };
    let err = settle(&p, &record, Some(&deploy), &BTreeMap::new())
        .expect_err("collision")
        .to_string();
    assert!(err.contains("staging"), "{err}");
    assert!(err.contains("api"), "{err}");
    assert!(err.contains('3'), "{err}");
}

#[test]
fn an_app_must_be_configured_to_be_addressed() {
    let p = plan("");
    let err = stack_name(&p, "staging", "nope").unwrap_err().to_string();
    assert!(err.contains("no app `nope`"), "{err}");
    assert!(err.contains("api, web"), "{err}");
    assert_eq!(
        stack_name(&p, "staging", "web").unwrap(),
        "acme-shop-staging-app-web"
    );
}

#[test]
fn an_image_needs_a_tag_or_digest() {
    assert!(check_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2").is_ok());
    assert!(check_image("nginx@sha256:0123abcd").is_ok());
    assert!(check_image("localhost:5000/api:1").is_ok());
    for bad in ["", "nginx", "localhost:5000/api", "api:", "a b:1"] {
        let e = check_image(bad).expect_err(bad).to_string();
        assert!(e.contains("REGISTRY/REPOSITORY:TAG"), "{e}");
    }
}

#[test]
fn a_scale_is_checked_against_the_compute_backend_before_any_call() {
    let p = Path::new("rig.toml");
    let riglet =
        config::resolve(p, config::parse(p, CONFIG).unwrap(), &Overrides::default()).unwrap();
    assert!(check_scale(&riglet, "api", Some(3), None, Some(1024)).is_ok());
    let e = check_scale(&riglet, "api", None, None, Some(4096))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--memory: 4096 MiB"), "{e}");
    assert!(e.contains("512, 1024, 2048"), "{e}");
    let e = check_scale(&riglet, "web", Some(5000), None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--tasks 5000 is more than 1000"), "{e}");
}

/// The production api stack as planned: its parameters and the rendered template, where the
/// circuit breaker, the ERROR alarm (its condition), both roles and the inserted variables and
/// secrets are visible.
#[test]
fn the_planned_app_stack_snapshot() {
    let p = plan("");
    let s = p.stack("acme-shop-production-app-api").unwrap();
    let params: Vec<String> = s
        .plan
        .parameters
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    insta::assert_snapshot!(
        "production_api",
        format!(
            "# parameters\n{}\n\n# template\n{}",
            params.join("\n"),
            s.plan.template_body
        )
    );
}

/// Every configured app takes part in the allocation: a pipeline's zip, written while its app
/// is not live, holds the priority a later deploy of any other app leaves to it.
#[test]
fn an_apps_priority_does_not_depend_on_which_others_are_deployed() {
    let p = plan("");
    let deploy = |stack: &str| ImageChoice {
        stack: stack.into(),
        image: "x:1".into(),
    };
    let web = "acme-shop-staging-app-web";
    let api = "acme-shop-staging-app-api";
    let alone = settle(&p, &Record::default(), Some(&deploy(web)), &BTreeMap::new()).unwrap();
    assert_eq!(param(&alone, web, "ListenerRulePriority"), "2");
    let other = settle(&p, &Record::default(), Some(&deploy(api)), &BTreeMap::new()).unwrap();
    assert_eq!(param(&other, api, "ListenerRulePriority"), "1");
    assert!(other.stack(web).is_none(), "web is not deployed");
}
