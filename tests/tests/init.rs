//! `rig init`: a `rig.toml` from flags (no terminal) that the configuration loader and `rig
//! render` accept, every missing flag and invalid value reported at once with the loader's own
//! message (exit code 64), an existing file kept without `--force`, and the wizard driven
//! through a pseudo-terminal: an invalid answer asked again under the loader's message, and
//! the database passwords stored in SSM (on the local AWS) after confirmation.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rig_engine::config::{self, Overrides};
use rig_tests::matrix::{rig_binary, sdk_config, OFFLINE_CERT};
use rig_tests::LocalAws;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rig-init-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `rig` in `dir` with no terminal and no AWS behind it (a closed port).
fn offline(dir: &Path, args: &[&str]) -> Output {
    Command::new(rig_binary())
        .current_dir(dir)
        .args(args)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("RIG_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Every flag `rig init` needs, for project `shop`.
const FLAGS: &[&str] = &[
    "init",
    "--owner",
    "acme",
    "--project",
    "shop",
    "--domain",
    "example.com",
    "--cert-arn",
    OFFLINE_CERT,
    "--compute",
    "ecs-ec2",
    "--db",
    "aurora-serverless",
];

/// The `rig.error/1` document's message of a failed run with `--output json`.
fn error_message(out: &Output) -> String {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON document ({e}):\n{}", text(&out.stdout)));
    assert_eq!(doc["schema"], "rig.error/1", "{doc}");
    doc["message"].as_str().unwrap().to_string()
}

#[test]
fn flags_write_a_commented_file_that_rig_render_accepts() {
    let d = tempdir("flags");
    let mut args = FLAGS.to_vec();
    // A load balancer in eu-west-1 takes a certificate of eu-west-1.
    let cert = OFFLINE_CERT.replace("us-east-1", "eu-west-1");
    args[8] = &cert;
    args.extend([
        "--region",
        "eu-west-1",
        "--env",
        "integration",
        "--env",
        "qa",
        "--env",
        "production=10.30.0.0/16",
        "--key-pair",
        "ops",
        "--email",
        "ops@example.com",
    ]);
    let out = offline(&d, &args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout).trim(), "rig.toml");
    // No terminal: the database password is left for `rig up`, and said so.
    assert!(
        err.contains("`rig up` asks for it") && err.contains("RIG_SECRET_DB_MASTER_PASSWORD"),
        "{err}"
    );

    let path = d.join("rig.toml");
    let written = std::fs::read_to_string(&path).unwrap();
    // A comment above every key.
    let lines: Vec<&str> = written.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let is_key = l.contains(" = ") && !l.starts_with('#') && !l.starts_with('[');
        if is_key {
            assert!(
                i > 0 && (lines[i - 1].starts_with('#') || lines[i - 1].starts_with('[')),
                "no comment above `{l}`:\n{written}"
            );
            if !l.starts_with("backend = ") {
                assert!(lines[i - 1].starts_with('#'), "no comment above `{l}`");
            }
        }
    }

    // The real loader accepts it, and each key is what the flags said.
    let riglet = config::load(&path, &Overrides::default()).unwrap();
    let info = &riglet.info;
    assert_eq!(
        (
            info.owner.as_str(),
            info.project.as_str(),
            info.region.as_str()
        ),
        ("acme", "shop", "eu-west-1")
    );
    assert_eq!(info.domain, "example.com");
    assert_eq!(info.domain_cert_arn, cert);
    assert_eq!(info.key_name.as_deref(), Some("ops"));
    assert_eq!(info.email.as_deref(), Some("ops@example.com"));
    assert_eq!(riglet.compute.id, "ecs-ec2");
    assert_eq!(riglet.database.as_ref().unwrap().id, "aurora-serverless");
    let envs: Vec<(String, String)> = riglet
        .environments
        .iter()
        .map(|e| (e.name.clone(), e.cidrs.vpc.clone()))
        .collect();
    assert_eq!(
        envs,
        [
            ("integration", "10.1.0.0/16"),
            ("qa", "10.2.0.0/16"),
            ("production", "10.30.0.0/16"),
        ]
        .map(|(n, c)| (n.to_string(), c.to_string()))
    );
    let ec2 = &riglet.compute.settings["qa"];
    assert_eq!(ec2["instance_type"], "t3.small");
    assert_eq!(ec2["cluster_max_size"], 4);
    let db = &riglet.database.as_ref().unwrap().settings["production"];
    assert_eq!(db["min_capacity"], 0.5);
    assert_eq!(db["master_password"], "ssm");

    // And `rig render` on it succeeds.
    let out = offline(&d, &["render", "--out", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(d.join("out").is_dir());
}

#[test]
fn missing_flags_are_each_named_with_exit_code_64() {
    let d = tempdir("missing");
    let out = offline(&d, &["init", "--owner", "acme", "--output", "json"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    let message = error_message(&out);
    let missing = message
        .lines()
        .find(|l| l.contains("missing:"))
        .unwrap_or_else(|| panic!("no `missing:` line in {message}"));
    for flag in ["--project", "--domain", "--cert-arn", "--compute", "--db"] {
        assert!(missing.contains(flag), "{flag} not named: {message}");
    }
    assert!(!missing.contains("--owner"), "{message}");
    assert!(!d.join("rig.toml").exists(), "a file was written");
    // The same as text on stderr.
    let out = offline(&d, &["init"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("--cert-arn"));
}

#[test]
fn invalid_values_get_the_loaders_message_and_exit_code_64() {
    let d = tempdir("invalid");
    // What the loader says about the same values in a file.
    let bad = format!(
        "owner = \"acme\"\nproject = \"My Shop\"\nregion = \"mars\"\ndomain = \"example.com\"\n\
         domain_cert = \"{OFFLINE_CERT}\"\n[compute]\nbackend = \"fargate\"\n"
    );
    let file = d.join("bad.toml");
    std::fs::write(&file, bad).unwrap();
    let loader = match config::load(&file, &Overrides::default()) {
        Err(config::ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("the loader accepted it: {other:?}"),
    };
    assert_eq!(loader.len(), 2, "{loader:?}");

    let mut args: Vec<&str> = FLAGS.to_vec();
    args[4] = "My Shop";
    args.extend(["--region", "mars", "--env", "Staging", "--output", "json"]);
    let out = offline(&d, &args);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    let message = error_message(&out);
    for problem in &loader {
        assert!(
            message.contains(problem.as_str()),
            "`{problem}` not in:\n{message}"
        );
    }
    assert!(message.contains("--project My Shop"), "{message}");
    assert!(message.contains("`environments.Staging`"), "{message}");
    assert!(!message.contains("missing:"), "{message}");
    assert!(!d.join("rig.toml").exists(), "a file was written");
}

#[test]
fn an_existing_file_is_kept_unless_force() {
    let d = tempdir("exists");
    let path = d.join("mine.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let mut args = FLAGS.to_vec();
    args.extend(["--out", "mine.toml"]);
    let out = offline(&d, &args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("mine.toml exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    // The global --config names the file too.
    let out = offline(&d, &[&["--config", "mine.toml"], FLAGS].concat());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    args.push("--force");
    let out = offline(&d, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let riglet = config::load(&path, &Overrides::default()).unwrap();
    assert_eq!(riglet.info.project, "shop");
}

/// The wizard on a pseudo-terminal, against the local AWS: every question answered (defaults
/// taken with Enter, one owner refused with the loader's message and asked again, one backend
/// setting refused with the backend's), the file checked, and the two database passwords
/// stored as SecureStrings after confirmation.
#[test]
fn the_wizard_asks_checks_writes_and_stores_the_password() {
    let aws = LocalAws::start().unwrap();
    let d = tempdir("wizard");
    let mut cmd = Command::new(rig_binary());
    cmd.current_dir(&d)
        .args(["init", "--out", "riglet.toml"])
        .env_remove("AWS_PROFILE")
        .env_remove("RIG_CONFIG")
        .env_remove("RIG_SECRET_DB_MASTER_PASSWORD")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    for (k, v) in aws.env() {
        cmd.env(k, v);
    }
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    let pause = || std::thread::sleep(Duration::from_millis(150));
    let mut answer = |prompt: &str, keys: &str| {
        p.exp_string(prompt)
            .unwrap_or_else(|e| panic!("waiting for `{prompt}`: {e}"));
        pause();
        p.send(keys).unwrap();
        p.flush().unwrap();
    };
    answer("Owner", "Acme\r");
    let refused = config::check_owner("Acme").unwrap_err();
    answer(&refused, "");
    answer("Owner", "acme\r");
    answer("Project", "shop\r");
    answer("AWS region", "\r");
    answer("AWS profile", "\r");
    answer("Public domain", "example.com\r");
    answer("ACM certificate", "0f0e0d0c-0000-4000-8000-000000000000\r");
    answer("EC2 key pair", "\r");
    answer("E-mail", "ops@example.com\r");
    answer("Compute backend", "\r");
    answer("spot_weight", "5000\r");
    answer("[compute.fargate] `spot_weight`", "");
    answer("spot_weight", "2\r");
    // Second entry: aurora-serverless.
    answer("Database backend", "\x1b[B\r");
    answer("min_capacity", "\r");
    answer("max_capacity", "8\r");
    answer("master_password", "\r");
    answer("Environments", "integration, qa\r");
    answer("VPC CIDR of qa", "\r");
    answer("Type them now", "y");
    answer("master password for integration", "short\r");
    answer("fewer than 8", "");
    answer("master password for integration", "integration-secret\r");
    answer("Again", "integration-secret\r");
    answer("master password for qa", "qa-secret-123\r");
    answer("Again", "qa-secret-123\r");
    answer("Store them as SecureStrings", "y");
    p.exp_eof().unwrap();
    let status = p.process().wait().unwrap();
    assert!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );

    let path = d.join("riglet.toml");
    let riglet = config::load(&path, &Overrides::default()).unwrap();
    assert_eq!(riglet.info.owner, "acme");
    assert_eq!(riglet.info.project, "shop");
    assert_eq!(riglet.info.region, "us-east-1");
    assert_eq!(riglet.info.email.as_deref(), Some("ops@example.com"));
    assert_eq!(riglet.info.key_name, None);
    assert_eq!(riglet.compute.id, "fargate");
    assert_eq!(riglet.compute.settings["qa"]["spot_weight"], 2);
    let db = riglet.database.as_ref().unwrap();
    assert_eq!(db.id, "aurora-serverless");
    assert_eq!(db.settings["integration"]["max_capacity"], 8);
    assert_eq!(riglet.env_names(), ["integration", "qa"]);
    assert_eq!(riglet.environments[1].cidrs.vpc, "10.2.0.0/16");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(!written.contains("secret"), "{written}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let ssm = aws_sdk_ssm::Client::new(&rt.block_on(sdk_config(&aws)));
    for (env, want) in [
        ("integration", "integration-secret"),
        ("qa", "qa-secret-123"),
    ] {
        let name = format!("/acme/shop/env/{env}/db/DB_MASTER_PASSWORD");
        let got = rt
            .block_on(ssm.get_parameter().name(&name).with_decryption(true).send())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let param = got.parameter().unwrap();
        assert_eq!(param.value(), Some(want), "{name}");
        assert_eq!(
            param.r#type(),
            Some(&aws_sdk_ssm::types::ParameterType::SecureString)
        );
        let tags = rt
            .block_on(
                ssm.list_tags_for_resource()
                    .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                    .resource_id(&name)
                    .send(),
            )
            .unwrap();
        let tag = |k: &str| {
            tags.tag_list()
                .iter()
                .find(|t| t.key() == k)
                .map(|t| t.value().to_string())
        };
        assert_eq!(tag("rig:owner").as_deref(), Some("acme"), "{name}");
        assert_eq!(tag("rig:environment").as_deref(), Some(env), "{name}");
    }
}
