//! `rig init`: writes a new, commented `rig.toml`.
//!
//! On a terminal a wizard asks for each value (`wizard`), checking every answer as it is typed
//! with the configuration loader's own checks (`rig_engine::config::check_*`, and each
//! backend's `validate` for its settings). Without one the values come from flags, and every
//! missing or invalid one is reported at once (exit code 64). Either way the text is then
//! resolved and planned exactly as `rig render` would before it is written (`answers` renders
//! it), and an existing file is kept unless `--force`. Secrets never go into the file: on a
//! terminal the database password can be stored in SSM right away (`store`), else `rig up`
//! asks for it.

mod answers;
mod store;
mod wizard;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use rig_engine::config::{self, Overrides};
use rig_engine::planner::{self, Backends};
use rig_engine::session::{plugin_host, Session, SessionError, SessionOptions};
use rig_engine::HINT_MARKER;

use crate::failure::Usage;
use crate::output::{exit, print_doc};
use crate::Global;
use answers::{default_settings, split_env, with_cidrs, Answers, Backend};

/// The region written when neither `--region` nor an answer gives one (the loader's default).
const DEFAULT_REGION: &str = "us-east-1";

/// `rig init`'s own flags (`--region` and `--profile` are the global ones).
#[derive(Args, Debug, Clone, Default)]
pub struct InitArgs {
    /// Owner of the riglet: the first part of every name.
    #[arg(long)]
    owner: Option<String>,
    /// Project: the second part of every name.
    #[arg(long)]
    project: Option<String>,
    /// Public domain, e.g. example.com.
    #[arg(long)]
    domain: Option<String>,
    /// ACM certificate of the domain: its ARN, or its id in the riglet's region.
    #[arg(long = "cert-arn", value_name = "ARN")]
    cert_arn: Option<String>,
    /// Compute backend: fargate or ecs-ec2 (or a plugin's id).
    #[arg(long)]
    compute: Option<String>,
    /// Database backend: none, aurora-serverless, aurora-provisioned or couchdb (or a plugin's id).
    #[arg(long)]
    db: Option<String>,
    /// An environment, in deployment order (repeatable); NAME=CIDR gives its VPC CIDR.
    /// Default: integration, staging, production.
    #[arg(long = "env", value_name = "NAME[=CIDR]")]
    envs: Vec<String>,
    /// EC2 key pair for SSH to the hosts (optional).
    #[arg(long = "key-pair", value_name = "NAME")]
    key_pair: Option<String>,
    /// E-mail subscribed to the operations topics (optional).
    #[arg(long)]
    email: Option<String>,
    /// The file to write. Default: the global --config (rig.toml).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
    /// Never ask, even on a terminal: take every value from the flags.
    #[arg(long)]
    no_input: bool,
}

/// Runs `rig init`.
pub async fn run(g: &Global, args: InitArgs) -> Result<u8> {
    let out = args.out.clone().unwrap_or_else(|| g.config.clone());
    if out.exists() && !args.force {
        bail!(
            "{} exists; rig init does not replace it{HINT_MARKER}pass --force to replace it, or --out PATH to write another file",
            out.display()
        );
    }
    let interactive =
        !args.no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let answers = if interactive {
        wizard::ask(g, &args, &out)?
    } else {
        from_flags(g, &args)?
    };
    let text = answers.render();
    let session = check(g, &answers, &out, &text)
        .context("rig init would write a configuration rig cannot use; nothing was written")?;
    write(&out, &text, args.force)?;
    eprintln!("wrote {}", out.display());
    let mut stored = Vec::new();
    if !session.plan.secrets.is_empty() {
        if interactive {
            stored = store::offer(g, session).await?;
        } else {
            store::note_later(&session);
        }
    }
    let config_flag = if out == Path::new("rig.toml") {
        String::new()
    } else {
        format!(" --config {}", out.display())
    };
    eprintln!("next: `rig plan{config_flag}` shows what `rig up{config_flag}` would create");
    if g.json() {
        print_doc(
            "init",
            &serde_json::json!({ "path": out, "secrets_stored": stored }),
        )?;
    } else {
        println!("{}", out.display());
    }
    Ok(exit::OK)
}

/// The answers from the flags: every missing required flag and every invalid value, with the
/// loader's message, in one usage error.
fn from_flags(g: &Global, a: &InitArgs) -> Result<Answers> {
    let mut missing = Vec::new();
    let mut need = |v: &Option<String>, flag: &'static str| match v {
        Some(v) => v.trim().to_string(),
        None => {
            missing.push(flag);
            String::new()
        }
    };
    let owner = need(&a.owner, "--owner");
    let project = need(&a.project, "--project");
    let domain = need(&a.domain, "--domain");
    let cert = need(&a.cert_arn, "--cert-arn");
    let compute = need(&a.compute, "--compute");
    let db = need(&a.db, "--db");
    let region = g
        .region
        .clone()
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    let mut bad = Vec::new();
    let mut check = |flag: &str, value: &str, r: Result<(), String>| {
        if let Err(m) = r {
            bad.push(format!("{flag} {value}: {m}"));
        }
    };
    let given = |v: &str| !v.is_empty();
    if given(&owner) {
        check("--owner", &owner, config::check_owner(&owner));
    }
    if given(&project) {
        check("--project", &project, config::check_project(&project));
    }
    check("--region", &region, config::check_region(&region));
    if given(&domain) {
        check("--domain", &domain, config::check_domain(&domain));
    }
    if given(&cert) {
        let r = config::check_domain_cert(&cert, &region).map(|_| ());
        check("--cert-arn", &cert, r);
    }
    if let Some(k) = &a.key_pair {
        check("--key-pair", k, config::check_key_name(k));
    }
    if let Some(e) = &a.email {
        check("--email", e, config::check_email(e));
    }
    if given(&compute) {
        check(
            "--compute",
            &compute,
            config::check_backend_id("compute", &compute),
        );
    }
    if given(&db) {
        check("--db", &db, config::check_backend_id("database", &db));
    }
    let envs: Vec<(String, Option<String>)> = a.envs.iter().map(|e| split_env(e)).collect();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in &envs {
        if seen.contains(&name.as_str()) {
            check(
                "--env",
                name,
                Err(format!("`environments`: `{name}` is given twice")),
            );
        }
        seen.push(name);
    }
    let environments = if envs.is_empty() {
        config::DEFAULT_ENVIRONMENTS
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect()
    } else {
        with_cidrs(&envs)
    };
    for (name, cidr) in &environments {
        let r = config::check_environment(name, Some(cidr));
        check("--env", &format!("{name}={cidr}"), r);
    }
    if !missing.is_empty() || !bad.is_empty() {
        let mut lines = vec!["rig init cannot write a configuration from these flags:".to_string()];
        if !missing.is_empty() {
            lines.push(format!(
                "  missing: {} (there is no terminal to ask for them)",
                missing.join(", ")
            ));
        }
        lines.extend(bad.iter().map(|b| format!("  {b}")));
        return Err(Usage(format!(
            "{}{HINT_MARKER}e.g. rig init --owner acme --project shop --domain example.com --cert-arn ARN --compute fargate --db none; or run it on a terminal to be asked",
            lines.join("\n")
        ))
        .into());
    }
    Ok(Answers {
        owner,
        project,
        region,
        profile: g.profile.clone(),
        domain,
        domain_cert: cert,
        key_name: a.key_pair.clone(),
        email: a.email.clone(),
        compute: Backend {
            settings: default_settings(&compute),
            id: compute,
        },
        database: Backend {
            settings: default_settings(&db),
            id: db,
        },
        environments,
    })
}

/// The session options `rig init` checks and stores secrets with.
fn options(g: &Global, out: &Path, profile: Option<String>) -> SessionOptions {
    SessionOptions {
        config: out.to_path_buf(),
        profile,
        endpoint_url: g.endpoint_url.clone(),
        plugins: g.plugins.clone(),
        ..SessionOptions::default()
    }
}

/// The text as `rig render` takes it: resolved by the configuration loader (as `out`), its
/// backends loaded and the riglet planned. No AWS call.
fn check(g: &Global, a: &Answers, out: &Path, text: &str) -> Result<Session, SessionError> {
    let riglet = config::resolve(out, config::parse(out, text)?, &Overrides::default())?;
    let options = options(g, out, a.profile.clone());
    let host = plugin_host(&options, Some(&riglet));
    let backends = Backends::load(&riglet, &host)?;
    let plan = planner::plan(&riglet, &backends)?;
    Ok(Session {
        options,
        riglet,
        backends,
        plan,
    })
}

/// Writes the file; without `force` only if it does not exist (checked again as it is created).
fn write(out: &Path, text: &str, force: bool) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    let mut f = o
        .open(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}
