//! The on-demand bastion end to end through the `rig` binary on the local AWS: created with no
//! inbound rule (Session Manager only) and its outputs; left alone by `rig up` and `rig plan`;
//! deleted; created with `--my-ip` (a local stand-in for checkip.amazonaws.com) with exactly one
//! SSH rule from that address; deleted first by `rig down`, which leaves nothing. Bad `--cidr`
//! and `--my-ip` answers are refused before any AWS call.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;

use rig_tests::matrix::{certificate_for, config_text, rig_binary, sdk_config, Api, Rig};
use rig_tests::LocalAws;

const STACK: &str = "acme-shop-staging-bastion";
const MY_IP: &str = "203.0.113.7";

/// `rig.toml` for riglet acme/shop with only a staging environment, fargate, no database.
fn write_config(path: &Path, cert: &str) {
    let text = format!(
        "{}\n[environments.staging]\ncidr = \"10.2.0.0/16\"\n",
        config_text("shop", cert, "fargate", "none")
    );
    std::fs::write(path, text).unwrap();
}

/// A stand-in for checkip.amazonaws.com on a free loopback port, answering `body` to every GET
/// (for the life of the test process); returns its URL.
fn checkip_server(body: &'static str) -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// What the emulator says of a stack and of the bastion's security group and instance.
struct Look {
    cfn: aws_sdk_cloudformation::Client,
    ec2: aws_sdk_ec2::Client,
}

impl Look {
    async fn new(aws: &LocalAws) -> Look {
        let conf = sdk_config(aws).await;
        Look {
            cfn: aws_sdk_cloudformation::Client::new(&conf),
            ec2: aws_sdk_ec2::Client::new(&conf),
        }
    }

    /// The stack's outputs and tags; `None` once it is gone.
    async fn stack(
        &self,
        name: &str,
    ) -> Option<(BTreeMap<String, String>, BTreeMap<String, String>)> {
        let out = self
            .cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .ok()?;
        let s = out.stacks().first()?;
        if s.stack_status().map(|x| x.as_str()) == Some("DELETE_COMPLETE") {
            return None;
        }
        let outputs = s
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        let tags = s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect();
        Some((outputs, tags))
    }

    /// The security group's inbound rules as `protocol from-to source` lines.
    async fn ingress(&self, group: &str) -> Vec<String> {
        let out = self
            .ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .unwrap();
        let g = &out.security_groups()[0];
        g.ip_permissions()
            .iter()
            .flat_map(|p| {
                let head = format!(
                    "{} {}-{}",
                    p.ip_protocol().unwrap_or_default(),
                    p.from_port().unwrap_or_default(),
                    p.to_port().unwrap_or_default()
                );
                let cidrs = p.ip_ranges().iter().filter_map(|r| r.cidr_ip());
                let groups = p.user_id_group_pairs().iter().filter_map(|u| u.group_id());
                cidrs
                    .chain(groups)
                    .map(move |src| format!("{head} {src}"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    async fn group_exists(&self, group: &str) -> bool {
        self.ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .is_ok_and(|o| !o.security_groups().is_empty())
    }

    async fn instance_state(&self, id: &str) -> String {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
            })
            .unwrap_or_default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bastion_is_reached_through_session_manager_unless_ssh_is_opened_to_one_address() {
    let aws = LocalAws::start().unwrap();
    let cert = certificate_for(&aws, "example.com").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    write_config(&config, &cert);
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: config.clone(),
        aws: &aws,
    };
    let rt = runtime();
    let look = rt.block_on(Look::new(&aws));
    let early = rig
        .output(&["bastion", "create", "--env", "staging"])
        .unwrap();
    assert!(!early.status.success(), "no foundation yet");
    let err = stderr_of(&early);
    assert!(err.contains("run `rig up --env staging` first"), "{err}");
    rig.ok(&["up", "--yes", "-q"]).unwrap();

    // Default: no inbound rule at all, Session Manager only, in a private subnet.
    let created = rig
        .ok(&["bastion", "create", "--env", "staging", "-q"])
        .unwrap();
    assert!(created.contains(&format!("{STACK}: created")), "{created}");
    assert!(created.contains("no inbound rule"), "{created}");
    let (outputs, tags) = rt
        .block_on(look.stack(STACK))
        .expect("the bastion stack exists");
    for key in [
        "InstanceId",
        "SecurityGroupId",
        "PrivateIp",
        "SessionCommand",
    ] {
        assert!(
            outputs.get(key).is_some_and(|v| !v.is_empty()),
            "output {key} missing: {outputs:?}"
        );
    }
    for key in ["PublicIp", "SshCommand", "IngressCidr"] {
        assert!(
            !outputs.contains_key(key),
            "{key} without ingress: {outputs:?}"
        );
    }
    assert!(
        outputs["PrivateIp"].starts_with("10.2.11."),
        "private subnet A: {outputs:?}"
    );
    let instance = outputs["InstanceId"].clone();
    assert_eq!(
        outputs["SessionCommand"],
        format!("aws ssm start-session --target {instance} --region us-east-1")
    );
    for (k, v) in [
        ("rig:owner", "acme"),
        ("rig:project", "shop"),
        ("rig:environment", "staging"),
        ("rig:role", "bastion"),
    ] {
        assert_eq!(tags.get(k).map(String::as_str), Some(v), "{tags:?}");
    }
    let group = outputs["SecurityGroupId"].clone();
    assert_eq!(
        rt.block_on(look.ingress(&group)),
        Vec::<String>::new(),
        "no inbound rule by default"
    );
    let printed = rig
        .ok(&["bastion", "ssh", "--env", "staging", "--print"])
        .unwrap();
    assert_eq!(printed.trim(), outputs["SessionCommand"]);

    // `rig up` and `rig plan` leave it alone: not an orphan, nothing to change.
    let up = rig.ok(&["up", "--yes", "-q"]).unwrap();
    assert!(up.contains("no changes"), "{up}");
    let plan = rig.output(&["plan", "-q"]).unwrap();
    let plan_out = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{plan_out}{}",
        stderr_of(&plan)
    );
    assert!(!plan_out.contains(STACK), "{plan_out}");
    let status = rig.ok(&["status"]).unwrap();
    assert!(status.contains(STACK), "{status}");
    assert!(
        status.contains(&format!("EC2 instance {instance}: running")),
        "{status}"
    );
    assert!(
        rt.block_on(look.stack(STACK)).is_some(),
        "still there after up"
    );

    // Deleted on its own.
    let deleted = rig
        .ok(&["bastion", "delete", "--env", "staging", "--yes", "-q"])
        .unwrap();
    assert!(
        deleted
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["stack", STACK, "deleted"]),
        "{deleted}"
    );
    assert!(
        rt.block_on(look.stack(STACK)).is_none(),
        "the stack is gone"
    );
    assert_eq!(rt.block_on(look.instance_state(&instance)), "terminated");
    assert!(
        !rt.block_on(look.group_exists(&group)),
        "its security group is gone"
    );
    let again = rig
        .output(&["bastion", "ssh", "--env", "staging", "--print"])
        .unwrap();
    assert!(!again.status.success());
    assert!(
        stderr_of(&again).contains("rig bastion create --env staging"),
        "{}",
        stderr_of(&again)
    );

    // --my-ip: exactly one rule, SSH from that address only, and a public address to reach.
    let checkip = checkip_server("203.0.113.7\n");
    let mut create = rig.command(&["bastion", "create", "--env", "staging", "--my-ip", "-q"]);
    let out = create.env("RIG_CHECKIP_URL", &checkip).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("SSH from {MY_IP}/32 only")),
        "{text}"
    );
    let (outputs, _) = rt.block_on(look.stack(STACK)).expect("created again");
    let group = outputs["SecurityGroupId"].clone();
    assert_eq!(
        rt.block_on(look.ingress(&group)),
        vec![format!("tcp 22-22 {MY_IP}/32")],
        "exactly one inbound rule"
    );
    assert_eq!(
        outputs.get("IngressCidr").map(String::as_str),
        Some("203.0.113.7/32")
    );
    assert!(
        outputs.get("PublicIp").is_some_and(|ip| !ip.is_empty()),
        "{outputs:?}"
    );
    assert!(
        outputs["PrivateIp"].starts_with("10.2.1."),
        "public subnet A: {outputs:?}"
    );
    let printed = rig
        .ok(&["bastion", "ssh", "--env", "staging", "--print"])
        .unwrap();
    assert_eq!(printed.trim(), outputs["SshCommand"]);
    assert!(
        printed.contains("ec2-instance-connect ssh"),
        "no key pair: {printed}"
    );
    let instance = outputs["InstanceId"].clone();

    // `rig down` deletes the bastion first and leaves nothing.
    let down = rig.output(&["down", "--yes"]).unwrap();
    let err = stderr_of(&down);
    assert!(down.status.success(), "{err}");
    let at = |line: &str| {
        err.lines()
            .position(|l| l.ends_with(line))
            .unwrap_or_else(|| panic!("no line ending with {line:?} in:\n{err}"))
    };
    let bastion_gone = at(&format!("{STACK}: deleted"));
    assert!(
        bastion_gone < at("acme-shop-staging-compute-ecs: deleting"),
        "{err}"
    );
    assert!(
        bastion_gone < at("acme-shop-staging-foundation: deleting"),
        "{err}"
    );
    assert!(rt.block_on(look.stack(STACK)).is_none());
    assert_eq!(rt.block_on(look.instance_state(&instance)), "terminated");
    assert!(!rt.block_on(look.group_exists(&group)));
    rt.block_on(async { Api::new(&aws).await.verify_gone("shop").await })
        .unwrap();
}

#[test]
fn bad_blocks_and_bad_address_answers_are_refused_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rig.toml");
    write_config(&config, rig_tests::matrix::OFFLINE_CERT);
    let garbage = checkip_server("<html>slow down</html>");
    let cases: [(&[&str], Option<&str>, &str); 5] = [
        (&["--cidr", "0.0.0.0/0"], None, "whole internet"),
        (&["--cidr", "203.0.113.7/24"], None, "host bits"),
        (&["--cidr", "example.com"], None, "not an IPv4 address"),
        (&["--my-ip"], Some(garbage.as_str()), "--cidr ADDRESS/32"),
        // Nothing listens on port 9: the lookup fails, and says what to do instead.
        (
            &["--my-ip"],
            Some("http://127.0.0.1:9/"),
            "--cidr ADDRESS/32",
        ),
    ];
    for (flags, checkip, want) in cases {
        let mut cmd = std::process::Command::new(rig_binary());
        cmd.arg("--config")
            .arg(&config)
            .args(["bastion", "create", "--env", "staging"])
            .args(flags)
            // An endpoint nothing listens on: any AWS call would fail with a connection error.
            .args(["--endpoint-url", "http://127.0.0.1:9"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("RIG_CHECKIP_URL");
        if let Some(url) = checkip {
            cmd.env("RIG_CHECKIP_URL", url);
        }
        let out = cmd.output().unwrap();
        let err = stderr_of(&out);
        assert!(!out.status.success(), "{flags:?}: must be refused");
        assert!(
            err.contains(want),
            "{flags:?}: expected {want:?} in:\n{err}"
        );
        assert!(
            !err.contains("cannot reach AWS") && !err.contains("GetCallerIdentity"),
            "{flags:?}: refused only after an AWS call:\n{err}"
        );
    }
}
