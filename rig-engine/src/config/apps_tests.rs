//! `[[apps]]`, `hosted_zone_id` and `[[pipelines]] app`: every rule, and that each message
//! names the key, says what is wrong and how to fix it.

use super::*;

const BASE: &str = r#"
owner = "acme"
project = "shop"
region = "us-east-1"
domain = "example.com"
domain_cert = "0f0e0d0c-0000-4000-8000-000000000000"

[compute]
backend = "fargate"
"#;

const API: &str = r#"
[[apps]]
name = "api"
port = 8080
"#;

fn load_str(text: &str, ov: &Overrides) -> Result<Riglet, ConfigError> {
    let p = Path::new("rig.toml");
    resolve(p, parse(p, text)?, ov)
}

fn ok(extra: &str) -> Riglet {
    load_str(&format!("{BASE}{extra}"), &Overrides::default())
        .unwrap_or_else(|e| panic!("expected a valid config, got:\n{e}"))
}

/// The problems of `BASE` + `extra`, which must be refused.
fn refused(extra: &str) -> String {
    match load_str(&format!("{BASE}{extra}"), &Overrides::default()) {
        Ok(_) => panic!("expected the config to be refused:\n{extra}"),
        Err(e) => e.to_string(),
    }
}

/// `BASE` with `line` among its top-level keys, refused or resolved.
fn top_level(line: &str) -> Result<Riglet, ConfigError> {
    let text = BASE.replace("[compute]", &format!("{line}\n[compute]"));
    load_str(&text, &Overrides::default())
}

/// `BASE` + `API` + `line` (a key of the api app) is refused with every piece of `want`.
fn app_line_refused(line: &str, want: &[&str]) {
    let msg = refused(&format!("{API}{line}\n"));
    for w in want {
        assert!(msg.contains(w), "for {line:?}: expected {w:?} in:\n{msg}");
    }
}

#[test]
fn an_app_resolves_with_its_defaults() {
    assert_eq!(ok("").hosted_zone_id, None);
    let r = top_level("hosted_zone_id = \"/hostedzone/Z0123ABC\"").unwrap();
    assert_eq!(r.hosted_zone_id.as_deref(), Some("Z0123ABC"));
    let r = ok(API);
    let a = &r.apps[0];
    assert_eq!(a.key(), "api");
    assert_eq!(a.branch_safe(), None);
    assert_eq!((a.port, a.cpu, a.memory), (8080, 256, 512));
    let counts: Vec<(&str, u32)> = a
        .desired_count
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        counts,
        [("integration", 1), ("production", 2), ("staging", 2)]
    );
    assert_eq!(a.health_check_path, "/");
    assert_eq!(a.health_check_grace_period, 60);
    assert_eq!(a.log_retention_days, 60);
    assert_eq!(
        (a.subdomain.clone(), a.priority, a.autoscaling),
        (None, None, None)
    );
    assert!(a.environment.is_empty() && a.secrets.is_empty());
}

#[test]
fn every_key_of_an_app_is_read() {
    let r = ok(r#"
[[apps]]
name = "api"
branch = "feature/Login"
port = 8080
cpu = 1024
memory = 3072
desired_count = { integration = 2, production = 3 }
health_check_path = "/health"
health_check_grace_period = 120
subdomain = "api"
priority = 120
log_retention_days = 14
environment = { LOG_LEVEL = "info", WORKERS = 4, RATIO = 0.5, DEBUG = false }
secrets = ["STRIPE_KEY", "DB_URL"]
[apps.autoscaling]
min = 2
max = 8
cpu_target = 70
"#);
    let a = &r.apps[0];
    assert_eq!(a.key(), "api@feature/Login");
    assert_eq!(a.branch_safe().as_deref(), Some("feature-login"));
    assert_eq!((a.cpu, a.memory), (1024, 3072));
    assert_eq!(a.desired_count["production"], 3);
    assert_eq!(a.desired_count["integration"], 2);
    assert_eq!(a.priority, Some(120));
    assert_eq!(a.subdomain.as_deref(), Some("api"));
    let env: Vec<(&str, &str)> = a
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("LOG_LEVEL", "info"),
            ("WORKERS", "4"),
            ("RATIO", "0.5"),
            ("DEBUG", "false")
        ]
    );
    assert_eq!(a.secrets, ["STRIPE_KEY", "DB_URL"]);
    assert_eq!(
        a.autoscaling,
        Some(AutoScaling {
            min: 2,
            max: 8,
            cpu_target: 70
        })
    );
    let r = ok(&format!("{API}desired_count = 0\n"));
    assert!(r.apps[0].desired_count.values().all(|c| *c == 0));
}

#[test]
fn apps_stay_when_env_narrows_the_riglet() {
    let ov = Overrides {
        environments: vec!["staging".into()],
        ..Default::default()
    };
    let r = load_str(&format!("{BASE}{API}"), &ov).unwrap();
    assert_eq!(r.apps.len(), 1);
    assert_eq!(r.apps[0].desired_count.len(), 3);
}

#[test]
fn bad_numbers_are_refused_with_the_range() {
    let msg =
        refused("[[apps]]\nname = \"api\"\nport = 8080\n[[apps]]\nname = \"web\"\nport = 0\n");
    assert!(
        msg.contains("`apps[1].port`: 0 is not a port; use 1–65535"),
        "{msg}"
    );
    app_line_refused(
        "health_check_grace_period = 9000",
        &["`apps[0].health_check_grace_period`: 9000", "use 0–7200"],
    );
    app_line_refused(
        "priority = 25001",
        &["`apps[0].priority`: 25001", "use 1–25000", "leave it out"],
    );
    app_line_refused(
        "log_retention_days = 10",
        &[
            "`apps[0].log_retention_days`: 10 is not a CloudWatch Logs retention",
            "use one of 1, 3, 5, 7, 14",
        ],
    );
    app_line_refused(
        "desired_count = 1001",
        &["`apps[0].desired_count`: 1001 is not a task count; use 0–1000"],
    );
    app_line_refused(
        "desired_count = \"two\"",
        &["`apps[0].desired_count`", "write a number like 2"],
    );
    app_line_refused(
        "[apps.autoscaling]\nmin = 5\nmax = 2",
        &[
            "`apps[0].autoscaling`: min 5 is more than max 2",
            "make min ≤ max",
        ],
    );
    app_line_refused(
        "[apps.autoscaling]\nmax = 2\ncpu_target = 95",
        &["`apps[0].autoscaling.cpu_target`: 95", "use 10–90"],
    );
    app_line_refused(
        "[apps.autoscaling]\nmax = 2000",
        &["`apps[0].autoscaling.max`: 2000", "use 1–1000"],
    );
}

#[test]
fn fargate_memory_must_suit_the_cpu() {
    app_line_refused(
        "cpu = 1024\nmemory = 1024",
        &[
            "`apps[0].memory`: 1024 MiB is not a Fargate task size with cpu 1024",
            "use one of 2048, 3072, 4096, 5120, 6144, 7168, 8192",
        ],
    );
    app_line_refused(
        "cpu = 300",
        &[
            "`apps[0].cpu`: 300 is not a Fargate task CPU value",
            "use one of 256, 512, 1024",
        ],
    );
    // On ecs-ec2 only the task-level limits apply.
    let ec2 = |extra: &str| {
        format!(
            "{}{API}{extra}\n",
            BASE.replace("\"fargate\"", "\"ecs-ec2\"")
        )
    };
    let r = load_str(&ec2("cpu = 300\nmemory = 700"), &Overrides::default()).unwrap();
    assert_eq!((r.apps[0].cpu, r.apps[0].memory), (300, 700));
    let msg = load_str(&ec2("cpu = 64\nmemory = 64"), &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`apps[0].cpu`: 64 is not a task CPU value on ecs-ec2; use 128–10240"),
        "{msg}"
    );
    assert!(
        msg.contains("`apps[0].memory`: 64 MiB is too little for a task; use at least 128"),
        "{msg}"
    );
    assert_eq!(fargate_memory(16384).unwrap().len(), 12);
    assert_eq!(fargate_memory(256).unwrap(), [512, 1024, 2048]);
}

#[test]
fn bad_strings_are_refused_with_how_to_fix_them() {
    app_line_refused(
        "subdomain = \"API_v2\"",
        &[
            "`apps[0].subdomain`: `API_v2` is not a DNS label",
            "lowercase letters",
        ],
    );
    app_line_refused(
        "subdomain = \"-api\"",
        &["`apps[0].subdomain`", "not starting or ending with `-`"],
    );
    app_line_refused(
        "health_check_path = \"health\"",
        &["`apps[0].health_check_path`", "starting with `/`"],
    );
    app_line_refused(
        "branch = \"//\"",
        &["`apps[0].branch`: `//` is not a git branch name: it contains `//`"],
    );
    app_line_refused(
        "branch = \"_\"",
        &["`apps[0].branch`: `_` has no letter or digit"],
    );
    let msg = refused("[[apps]]\nname = \"My_Api\"\nport = 80\n");
    assert!(
        msg.contains("`apps[0].name`: app name `My_Api` is not valid"),
        "{msg}"
    );
    let msg = top_level("hosted_zone_id = \"z-123\"")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`hosted_zone_id`: `z-123` is not a Route 53 hosted zone id"),
        "{msg}"
    );
    assert!(msg.contains("remove it and rig looks up"), "{msg}");
}

#[test]
fn environment_and_secrets_are_checked() {
    app_line_refused(
        "environment = { AWS_REGION = \"x\" }",
        &[
            "`apps[0].environment.AWS_REGION`: rig sets AWS_REGION itself",
            "use another name",
        ],
    );
    app_line_refused(
        "environment = { IMAGE = \"x\" }",
        &["`apps[0].environment.IMAGE`"],
    );
    app_line_refused(
        "environment = { 1X = \"x\" }",
        &[
            "`apps[0].environment.1X`: `1X` is not an environment variable name",
            "not starting with a digit",
        ],
    );
    app_line_refused(
        "environment = { LIST = [1, 2] }",
        &[
            "`apps[0].environment.LIST`: an array is not an environment variable value",
            "use a string, a number or a boolean",
        ],
    );
    app_line_refused(
        "secrets = [\"/acme/shop/STRIPE_KEY\"]",
        &[
            "`apps[0].secrets[0]`",
            "the secret is stored at /<owner>/<project>/env/<env>/app/<app>/<NAME>; give only NAME",
        ],
    );
    app_line_refused(
        "secrets = [\"A\", \"A\"]",
        &["`apps[0].secrets[1]`: A is listed twice; remove one"],
    );
    app_line_refused(
        "secrets = [\"my-key\"]",
        &["`apps[0].secrets[0]`: `my-key` is not a secret name"],
    );
    app_line_refused(
        "secrets = [\"TOKEN\"]\nenvironment = { TOKEN = \"x\" }",
        &[
            "`apps[0].secrets[0]`: TOKEN is also in `apps[0].environment`",
            "remove one",
        ],
    );
}

#[test]
fn two_apps_with_one_name_are_refused_naming_both() {
    let msg = refused(&format!("{API}{API}"));
    assert!(
        msg.contains("`apps[1]`: app api is configured twice, also as `apps[0]` (api)"),
        "{msg}"
    );
    assert!(msg.contains("rename or remove one"), "{msg}");
    let two = format!("{API}branch = \"feature/x\"\n{API}branch = \"feature-x\"\n");
    let msg = refused(&two);
    assert!(
        msg.contains(
            "`apps[1]`: app api@feature-x is configured twice, also as `apps[0]` (api@feature/x)"
        ),
        "{msg}"
    );
    // One name with two different branches is two apps.
    let r = ok(&format!("{API}{API}branch = \"next\"\n"));
    assert_eq!(r.apps[1].key(), "api@next");
}

#[test]
fn two_apps_with_one_hand_given_priority_are_refused() {
    let msg = refused(&format!(
        "{API}priority = 120\n[[apps]]\nname = \"web\"\nport = 80\npriority = 120\n"
    ));
    assert!(
        msg.contains("`apps[1].priority`: 120 is already the priority of app api (`apps[0]`)"),
        "{msg}"
    );
    assert!(msg.contains("pick another or leave it out"), "{msg}");
}

#[test]
fn unknown_keys_and_environments_are_refused() {
    let msg = refused(&format!("{API}colour = \"red\"\n"));
    assert!(msg.contains("unknown field `colour`"), "{msg}");
    let msg = refused(&format!(
        "{API}[apps.autoscaling]\nmax = 2\nmem_target = 50\n"
    ));
    assert!(msg.contains("unknown field `mem_target`"), "{msg}");
    app_line_refused(
        "desired_count = { prod = 3 }",
        &["`apps[0].desired_count.prod`: no such environment; the config has: integration, staging, production"],
    );
}

#[test]
fn composed_names_are_checked_against_their_limits() {
    let long = "a".repeat(32);
    let msg = refused(&format!(
        "[[apps]]\nname = \"{long}\"\nport = 80\nbranch = \"feature/{long}\"\n"
    ));
    assert!(
        msg.contains("the host label (a DNS label) `acme-integration-aaaa"),
        "{msg}"
    );
    assert!(
        msg.contains("at most 63 are allowed; shorten the app name or the branch"),
        "{msg}"
    );
    assert!(msg.contains("`apps[0]` (aaaa"), "{msg}");
    // A name that fits everywhere.
    let r = ok(&format!(
        "[[apps]]\nname = \"{}\"\nport = 80\n",
        "a".repeat(20)
    ));
    assert_eq!(r.apps.len(), 1);
}
