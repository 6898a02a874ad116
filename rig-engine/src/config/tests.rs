use super::*;

const GOOD: &str = r#"
owner = "acme"
project = "shop"
region = "us-east-1"
domain = "example.com"
domain_cert = "0f0e0d0c-0000-4000-8000-000000000000"
email = "ops@example.com"

[compute]
backend = "ecs-ec2"
[compute.ecs-ec2]
instance_type = "t3.medium"
[compute.fargate]
spot_weight = 1

[database]
backend = "aurora-serverless"
[database.aurora-serverless]
max_capacity = 8

[environments.integration]
[environments.staging]
[environments.production.compute.ecs-ec2]
cluster_size = 3
"#;

fn load_str(text: &str, ov: &Overrides) -> Result<Riglet, ConfigError> {
    let p = Path::new("rig.toml");
    resolve(p, parse(p, text)?, ov)
}

fn problems(text: &str, ov: &Overrides) -> String {
    match load_str(text, ov) {
        Ok(_) => panic!("expected the config to be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_config_resolves_with_seed_networks() {
    let r = load_str(GOOD, &Overrides::default()).unwrap();
    assert_eq!(r.env_names(), ["integration", "staging", "production"]);
    let prod = &r.environments[2];
    assert!(prod.production);
    assert_eq!(prod.cidrs.vpc, "10.3.0.0/16");
    assert_eq!(prod.cidrs.public, ["10.3.1.0/24", "10.3.2.0/24"]);
    assert_eq!(prod.cidrs.private, ["10.3.11.0/24", "10.3.12.0/24"]);
    assert_eq!(prod.cidrs.database, ["10.3.100.0/24", "10.3.110.0/24"]);
    assert_eq!(r.compute.id, "ecs-ec2");
    assert_eq!(r.compute.settings["production"]["cluster_size"], 3);
    assert_eq!(
        r.compute.settings["production"]["instance_type"],
        "t3.medium"
    );
    assert!(r.compute.settings["integration"]
        .get("cluster_size")
        .is_none());
    assert_eq!(r.database.as_ref().unwrap().id, "aurora-serverless");
    assert_eq!(r.info.ssm_prefix, "/acme/shop");
    assert_eq!(
        r.info.domain_cert_arn,
        "arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0f0e0d0c-0000-4000-8000-000000000000"
    );
    let mut r = r;
    r.fill_account("123456789012");
    assert!(r.info.domain_cert_arn.contains(":123456789012:"));
}

#[test]
fn flags_override_the_file() {
    let ov = Overrides {
        region: Some("eu-west-1".into()),
        compute: Some("fargate".into()),
        database: Some("none".into()),
        environments: vec!["staging".into()],
    };
    let r = load_str(GOOD, &ov).unwrap();
    assert_eq!(r.info.region, "eu-west-1");
    assert_eq!(r.compute.id, "fargate");
    assert_eq!(r.compute.settings["staging"]["spot_weight"], 1);
    assert!(r.database.is_none());
    assert_eq!(r.env_names(), ["staging"]);
}

#[test]
fn missing_environments_default_to_the_seed_three() {
    let text = GOOD.split("[environments.integration]").next().unwrap();
    let r = load_str(text, &Overrides::default()).unwrap();
    assert_eq!(r.env_names(), ["integration", "staging", "production"]);
    assert_eq!(r.environments[0].cidrs.vpc, "10.1.0.0/16");
}

#[test]
fn unknown_key_is_named_with_its_place() {
    let msg = problems(
        &GOOD.replace("email =", "colour = \"red\"\nemail ="),
        &Overrides::default(),
    );
    assert!(msg.contains("unknown field `colour`"), "{msg}");
    assert!(msg.contains("line 7"), "{msg}");
    let msg = problems(
        &format!("{GOOD}\n[environments.qa]\ncidr = \"10.4.0.0/16\"\nsize = 2\n"),
        &Overrides::default(),
    );
    assert!(msg.contains("unknown field `size`"), "{msg}");
}

#[test]
fn missing_field_is_named() {
    let msg = problems(
        &GOOD.replace("domain = \"example.com\"\n", ""),
        &Overrides::default(),
    );
    assert!(msg.contains("missing field `domain`"), "{msg}");
    let msg = problems(
        &GOOD.replace("backend = \"ecs-ec2\"\n", ""),
        &Overrides::default(),
    );
    assert!(msg.contains("missing field `backend`"), "{msg}");
}

#[test]
fn bad_values_are_named() {
    let cases = [
        ("owner = \"acme\"", "owner = \"Acme\"", "`owner`"),
        ("project = \"shop\"", "project = \"my_shop\"", "`project`"),
        (
            "region = \"us-east-1\"",
            "region = \"mars\"",
            "`region`: `mars` is not an AWS region",
        ),
        (
            "domain = \"example.com\"",
            "domain = \"localhost\"",
            "`domain`",
        ),
        (
            "domain_cert = \"0f0e0d0c-0000-4000-8000-000000000000\"",
            "domain_cert = \"abc\"",
            "`domain_cert`",
        ),
        (
            "email = \"ops@example.com\"",
            "email = \"ops\"",
            "`email`: `ops` is not an e-mail",
        ),
        (
            "[environments.integration]",
            "[environments.qa]",
            "`environments.qa.cidr`: missing",
        ),
        (
            "[environments.integration]",
            "[environments.Bad_Env]",
            "`environments.Bad_Env`",
        ),
        (
            "[compute.ecs-ec2]\ninstance_type",
            "instance_type",
            "`compute.instance_type`: backend settings go in the backend's own table",
        ),
        (
            "backend = \"ecs-ec2\"",
            "backend = \"none\"",
            "compute cannot be `none`",
        ),
    ];
    for (from, to, want) in cases {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "case {from} did not apply");
        let msg = problems(&text, &Overrides::default());
        assert!(msg.contains(want), "for {to}: expected {want:?} in:\n{msg}");
        assert!(msg.starts_with("rig.toml"), "the file is named: {msg}");
    }
}

#[test]
fn bad_cidrs_are_named() {
    let base = GOOD.split("[environments.integration]").next().unwrap();
    let cases = [
        ("cidr = \"10.4.0.0\"", "is not a CIDR block"),
        (
            "cidr = \"10.4.0.1/16\"",
            "host bits set; did you mean 10.4.0.0/16",
        ),
        ("cidr = \"10.0.0.0/8\"", "between /16 and /24"),
        (
            "cidr = \"10.4.0.0/16\"\npublic_subnets = [\"10.5.1.0/24\", \"10.4.2.0/24\"]",
            "`10.5.1.0/24` is not inside the VPC CIDR",
        ),
        (
            "cidr = \"10.4.0.0/16\"\nprivate_subnets = [\"10.4.1.0/24\", \"10.4.12.0/24\"]",
            "overlaps a subnet in `public_subnets`",
        ),
        ("cidr = \"300.4.0.0/16\"", "is not an IPv4 address"),
    ];
    for (env, want) in cases {
        let msg = problems(
            &format!("{base}\n[environments.qa]\n{env}\n"),
            &Overrides::default(),
        );
        assert!(msg.contains("environments.qa"), "{msg}");
        assert!(msg.contains(want), "expected {want:?} in {msg}");
    }
}

#[test]
fn unknown_env_flag_lists_the_known_ones() {
    let ov = Overrides {
        environments: vec!["prod".into()],
        ..Default::default()
    };
    let msg = problems(GOOD, &ov);
    assert!(
        msg.contains(
            "`--env prod`: no such environment; the config has: integration, staging, production"
        ),
        "{msg}"
    );
}

#[test]
fn names_that_grow_too_long_are_refused_up_front() {
    let text = GOOD
        .replace(
            "owner = \"acme\"",
            "owner = \"a-very-long-owner-name-indeed-xx\"",
        )
        .replace(
            "project = \"shop\"",
            "project = \"and-a-very-long-project-name-yy\"",
        );
    let msg = problems(&text, &Overrides::default());
    assert!(
        msg.contains("S3 bucket name") && msg.contains("3–63 characters"),
        "{msg}"
    );
}

#[test]
fn the_example_config_is_valid() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rig.example.toml");
    let r = load(&p, &Overrides::default()).unwrap();
    assert_eq!(r.environments.len(), 3);
    let keys: Vec<String> = r.apps.iter().map(AppSpec::key).collect();
    assert_eq!(keys, ["api", "worker"]);
    assert_eq!(r.apps[0].desired_count["production"], 3);
    assert!(r.apps[0].autoscaling.is_some());
}

#[test]
fn pipelines_are_read_and_checked() {
    let text = format!(
        "{GOOD}\n[[apps]]\nname = \"api\"\nport = 8080\n\n[[pipelines]]\nrepository = \"api\"\nbranch = \"feature/Login\"\ngithub_owner = \"acme\"\nconnection_arn = \"arn:aws:codeconnections:us-east-1:123456789012:connection/x\"\n"
    );
    let r = load_str(&text, &Overrides::default()).unwrap();
    assert_eq!(r.pipelines.len(), 1);
    assert_eq!(r.pipelines[0].branch, "feature/Login");
    assert_eq!(r.pipelines[0].settings["github_owner"], "acme");
    // Pipelines span environments, so a partial selection leaves them out.
    let ov = Overrides {
        environments: vec!["staging".into()],
        ..Default::default()
    };
    assert!(load_str(&text, &ov).unwrap().pipelines.is_empty());

    let msg = problems(
        &text.replace("repository = \"api\"", "repository = \"My_Api\""),
        &Overrides::default(),
    );
    assert!(msg.contains("`pipelines[0].repository`"), "{msg}");
    let msg = problems(
        &format!("{text}\n[[pipelines]]\nrepository = \"api\"\nbranch = \"feature-login\"\n"),
        &Overrides::default(),
    );
    assert!(msg.contains("configured twice"), "{msg}");
    let base = GOOD.split("[environments.integration]").next().unwrap();
    let only_qa = format!(
        "{base}\n[environments.qa]\ncidr = \"10.4.0.0/16\"\n[[apps]]\nname = \"api\"\nport = 8080\n[[pipelines]]\nrepository = \"api\"\n"
    );
    let msg = problems(&only_qa, &Overrides::default());
    assert!(
        msg.contains("pipelines deploy to integration, staging and production"),
        "{msg}"
    );
}

#[test]
fn a_pipeline_deploys_the_app_it_names_or_the_one_named_like_its_repository() {
    let api = "\n[[apps]]\nname = \"api\"\nport = 8080\n";
    let pipeline = |repo: &str, app: &str| {
        format!("\n[[pipelines]]\nrepository = \"{repo}\"\n{app}github_owner = \"acme\"\n")
    };
    let ov = Overrides::default();
    let r = load_str(&format!("{GOOD}{api}{}", pipeline("api", "")), &ov).unwrap();
    assert_eq!(r.pipelines[0].app.as_deref(), Some("api"));
    assert!(r.pipelines[0].settings.get("app").is_none());
    let text = format!("{GOOD}{api}{}", pipeline("backend", "app = \"api\"\n"));
    assert_eq!(
        load_str(&text, &ov).unwrap().pipelines[0].app.as_deref(),
        Some("api")
    );
    let msg = problems(&format!("{GOOD}{api}{}", pipeline("web", "")), &ov);
    assert!(
        msg.contains("`pipelines[0]`: the pipeline deploys the app named like its repository, `web`, and there is none; the config has: api; add an `[[apps]]` entry named `web` or set `app` to one of them"),
        "{msg}"
    );
    let msg = problems(
        &format!("{GOOD}{api}{}", pipeline("web", "app = \"web\"\n")),
        &ov,
    );
    assert!(
        msg.contains("`pipelines[0].app`: no app named `web`; the config has: api; add an"),
        "{msg}"
    );
    let msg = problems(
        &format!("{GOOD}{}", pipeline("web", "app = \"web\"\n")),
        &ov,
    );
    assert!(
        msg.contains("the config has no `[[apps]]`: add one named `web`"),
        "{msg}"
    );
    // A branch pipeline deploys the app's copy for that branch when there is one.
    let copy = "\n[[apps]]\nname = \"api\"\nbranch = \"next\"\nport = 8080\n";
    let text = format!(
        "{GOOD}{api}{copy}\n[[pipelines]]\nrepository = \"api\"\nbranch = \"next\"\ngithub_owner = \"acme\"\n"
    );
    assert_eq!(
        load_str(&text, &ov).unwrap().pipelines[0].app.as_deref(),
        Some("api@next")
    );
}

#[test]
fn two_apps_with_one_subdomain_are_refused_and_counts_stay_within_autoscaling() {
    let ov = Overrides::default();
    let two = "[[apps]]\nname = \"api\"\nport = 80\nsubdomain = \"www\"\n\
               [[apps]]\nname = \"web\"\nport = 81\nsubdomain = \"www\"\n";
    let msg = problems(&format!("{GOOD}{two}"), &ov);
    assert!(
        msg.contains("`apps[1].subdomain`: www is already the subdomain of app api"),
        "{msg}"
    );
    assert!(msg.contains("pick another"), "{msg}");
    let scaled = "[[apps]]\nname = \"api\"\nport = 80\ndesired_count = 1\n\
                  [apps.autoscaling]\nmin = 2\nmax = 4\n";
    let msg = problems(&format!("{GOOD}{scaled}"), &ov);
    assert!(msg.contains("`apps[0].desired_count`: 1 in"), "{msg}");
    assert!(msg.contains("outside autoscaling's 2–4"), "{msg}");
}
