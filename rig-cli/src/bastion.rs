//! `rig bastion`: create, reach and delete an environment's on-demand bastion.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{Context, Result};
use clap::Subcommand;
use rig_engine::engine::bastion::{
    check_spec, ingress_cidr, my_ip, BastionReport, BastionSpec, DEFAULT_INSTANCE_TYPE,
};

use crate::output::print_doc;
use crate::{connect, prepare, tear_down, Global, Select};

#[derive(Subcommand, Debug)]
pub enum BastionCommand {
    /// Create the environment's bastion (or bring a live one to these settings): an instance
    /// reached through SSM Session Manager, whose security group has no inbound rule unless
    /// --cidr or --my-ip allows SSH from one block.
    Create {
        /// The environment.
        #[arg(long)]
        env: String,
        /// Allow SSH (TCP 22) from this IPv4 address or block only, e.g. 203.0.113.7/32
        /// (never 0.0.0.0/0).
        #[arg(long, value_name = "CIDR", conflicts_with = "my_ip")]
        cidr: Option<String>,
        /// Allow SSH from this machine's public IPv4 address only (/32), as
        /// https://checkip.amazonaws.com (or RIG_CHECKIP_URL) sees it.
        #[arg(long)]
        my_ip: bool,
        /// EC2 instance type (Graviton types get the arm64 image).
        #[arg(long, default_value = DEFAULT_INSTANCE_TYPE)]
        instance_type: String,
    },
    /// Print the command that reaches the bastion (Session Manager, or SSH when it has an SSH
    /// rule) and, on a terminal, run it.
    Ssh {
        /// The environment.
        #[arg(long)]
        env: String,
        /// Only print the command.
        #[arg(long)]
        print: bool,
    },
    /// Delete the environment's bastion (listed and confirmed first).
    Delete {
        /// The environment.
        #[arg(long)]
        env: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

fn select(env: &str) -> Select {
    Select {
        envs: vec![env.to_string()],
        ..Default::default()
    }
}

pub async fn run(g: &Global, cmd: BastionCommand) -> Result<u8> {
    match cmd {
        BastionCommand::Create {
            env,
            cidr,
            my_ip: mine,
            instance_type,
        } => {
            let mut p = prepare(g, &select(&env))?;
            let ingress_cidr = match (cidr, mine) {
                (Some(c), _) => Some(ingress_cidr(&c)?),
                (None, true) => {
                    let c = my_ip().await?;
                    eprintln!("this machine's public address: {c}");
                    Some(c)
                }
                (None, false) => None,
            };
            let spec = BastionSpec {
                env,
                ingress_cidr,
                instance_type,
                key_name: p.riglet.info.key_name.clone(),
            };
            check_spec(&p.plan, &spec)?;
            let engine = connect(g, &mut p).await?;
            let report = tokio::select! {
                r = engine.create_bastion(&p.plan, &spec) => r?,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("\ninterrupted; stopped waiting. CloudFormation goes on on its own: `rig status --env {}` shows where it is, and the same command again waits for it.", spec.env);
                    return Ok(crate::output::exit::INTERRUPTED);
                }
            };
            print_report(g, &report)?;
            Ok(0)
        }
        BastionCommand::Ssh { env, print } => {
            let mut p = prepare(g, &select(&env))?;
            let engine = connect(g, &mut p).await?;
            let report = engine.bastion(&p.plan, &env).await?;
            let mut command = report.command().to_string();
            if let (Some(profile), true) = (&g.profile, command.starts_with("aws ")) {
                command.push_str(&format!(" --profile {profile}"));
            }
            if g.json() {
                print_doc(
                    "bastion.ssh",
                    &serde_json::json!({ "command": command, "bastion": report }),
                )?;
                return Ok(0);
            }
            println!("{command}");
            if print || !std::io::stdin().is_terminal() {
                return Ok(0);
            }
            eprintln!("running it (`--print` only prints it)");
            let mut words = command.split_whitespace();
            let program = words.next().unwrap_or_default();
            let status = std::process::Command::new(program)
                .args(words)
                .status()
                .with_context(|| {
                    format!(
                        "cannot run `{program}`: install the AWS CLI v2{}, or run the command above yourself",
                        if report.ssh_command.is_none() {
                            " and its Session Manager plugin"
                        } else {
                            ""
                        }
                    )
                })?;
            Ok(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
        }
        BastionCommand::Delete { env, yes } => {
            let mut p = prepare(g, &select(&env))?;
            let engine = connect(g, &mut p).await?;
            let t = engine.bastion_teardown(&p.plan, &env).await?;
            tear_down(&engine, g, &t, yes, &BTreeMap::new(), "rig bastion delete").await
        }
    }
}

fn print_report(g: &Global, r: &BastionReport) -> Result<()> {
    if g.json() {
        return print_doc("bastion.create", r);
    }
    println!(
        "{}: {} in {:.1} s ({})",
        r.stack,
        r.outcome.map_or("found", |o| o.as_str()),
        r.seconds,
        r.status
    );
    let row = |k: &str, v: &str| println!("  {k:<16} {v}");
    row(
        "instance",
        &format!("{} ({})", r.instance_id, r.instance_type),
    );
    row(
        "security group",
        &format!(
            "{} ({})",
            r.security_group_id,
            match &r.ingress_cidr {
                Some(c) => format!("SSH from {c} only"),
                None => "no inbound rule: Session Manager only".to_string(),
            }
        ),
    );
    row("private ip", &r.private_ip);
    if let Some(ip) = &r.public_ip {
        row("public ip", ip);
    }
    row("session", &r.session_command);
    if let Some(ssh) = &r.ssh_command {
        row("ssh", ssh);
    }
    Ok(())
}
