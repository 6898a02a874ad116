use std::io::Read;

use super::artifacts::{template_configuration, template_zip, CONFIG_FILE, TEMPLATE_FILE};
use super::*;
use crate::planner::PlannedStack;
use rig_core::Role;

fn run(stage: &str, action: &str, status: &str, t: (i64, i64), error: Option<&str>) -> ActionRun {
    ActionRun {
        stage: stage.into(),
        action: action.into(),
        status: status.into(),
        started_ms: Some(t.0),
        updated_ms: Some(t.1),
        summary: Some(format!("{action} done")),
        error: error.map(str::to_string),
    }
}

#[test]
fn stages_fold_actions_in_start_order_with_durations_and_the_failure() {
    let runs = vec![
        run("Source", "Source", "Succeeded", (0, 1_000), None),
        run("Source", "IntegrationTemplate", "Succeeded", (0, 400), None),
        run("Build", "Build", "Succeeded", (1_000, 61_000), None),
        run(
            "Deploy-Staging",
            "Deploy",
            "Failed",
            (70_000, 95_000),
            Some("JobFailed: Failed to create stack s."),
        ),
    ];
    let st = stages(&runs);
    let names: Vec<&str> = st.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(names, ["Source", "Build", "Deploy-Staging"]);
    assert_eq!(st[0].duration_ms, Some(1_000));
    assert_eq!(st[1].duration_ms, Some(60_000));
    assert_eq!(st[2].status, "Failed");
    assert_eq!(
        st[2].detail.as_deref(),
        Some("JobFailed: Failed to create stack s.")
    );
    let waiting = stages(&[
        run(
            PRODUCTION_STAGE,
            "CreateChangeSet",
            "Succeeded",
            (0, 5),
            None,
        ),
        run(
            PRODUCTION_STAGE,
            APPROVAL_ACTION,
            "InProgress",
            (5, 6),
            None,
        ),
    ]);
    assert_eq!(waiting[0].status, "InProgress");
    assert_eq!(waiting[0].action.as_deref(), Some(APPROVAL_ACTION));
    // The change set still being made: the stage runs, but not yet its approval.
    let making = stages(&[run(
        PRODUCTION_STAGE,
        "CreateChangeSet",
        "InProgress",
        (0, 5),
        None,
    )]);
    assert_eq!(making[0].status, "InProgress");
    assert_eq!(making[0].action.as_deref(), Some("CreateChangeSet"));
    assert_eq!(st[2].action.as_deref(), Some("Deploy"));
    assert_eq!(st[1].action.as_deref(), Some("Build"));
}

fn plan_with(pipelines: &[(&str, &str)]) -> RigletPlan {
    let mut plan = RigletPlan::empty_for_test();
    plan.pipelines = pipelines
        .iter()
        .map(|(stack, app)| PipelineTarget {
            stack: stack.to_string(),
            app: app.to_string(),
            app_stacks: vec![],
        })
        .collect();
    plan
}

#[test]
fn the_pipeline_is_found_by_app_name_or_key_or_as_the_only_one() {
    let one = plan_with(&[("a-b-build-api-main", "api")]);
    assert_eq!(
        pipeline_for(&one, None).unwrap().stack,
        "a-b-build-api-main"
    );
    let two = plan_with(&[("a-b-build-api-main", "api"), ("a-b-build-web-x", "web@x")]);
    assert_eq!(pipeline_for(&two, Some("web")).unwrap().app, "web@x");
    assert_eq!(pipeline_for(&two, Some("web@x")).unwrap().app, "web@x");
    let e = pipeline_for(&two, None).unwrap_err().to_string();
    assert!(
        e.contains("several pipelines") && e.contains("api, web@x"),
        "{e}"
    );
    let e = pipeline_for(&two, Some("nope")).unwrap_err().to_string();
    assert!(e.contains("no pipeline deploys app `nope`"), "{e}");
    let e = pipeline_for(&plan_with(&[]), None).unwrap_err().to_string();
    assert!(e.contains("no [[pipelines]]"), "{e}");
}

fn app_stack() -> PlannedStack {
    let mut s = PlannedStack::for_test(
        "a-b-staging-app-api",
        Some("staging"),
        Role::Application,
        &[],
    );
    s.plan.template_body = "Resources: {}\n".into();
    s.plan.parameters = [
        ("ContainerImage", "x:1"),
        ("ListenerRulePriority", "3"),
        ("Environment", "staging"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    s.plan.tags = [("rig:owner".to_string(), "a".to_string())].into();
    s
}

#[test]
fn the_template_zip_holds_the_template_and_every_parameter_but_the_image() {
    let s = app_stack();
    let config = template_configuration(&s);
    assert_eq!(config["Parameters"]["ListenerRulePriority"], "3");
    assert!(config["Parameters"].get("ContainerImage").is_none());
    assert_eq!(config["Tags"]["rig:owner"], "a");

    let bytes = template_zip(&s).unwrap();
    assert_eq!(bytes, template_zip(&s).unwrap(), "the zip is deterministic");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut read = |name: &str| {
        let mut out = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut out).unwrap();
        out
    };
    assert_eq!(read(TEMPLATE_FILE), "Resources: {}\n");
    let parsed: serde_json::Value = serde_json::from_str(&read(CONFIG_FILE)).unwrap();
    assert_eq!(parsed, config);
}
