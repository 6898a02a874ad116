//! `rig`: create and maintain AWS riglets from one `rig.toml`.
//!
//! Data goes to stdout; progress, stack events and logs go to stderr.

mod app;
mod bastion;
mod check;
mod failure;
mod graph;
mod init;
mod live;
mod output;
mod pipeline;
mod tables;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use rig_core::SecretRequirement;
use rig_engine::config::{self, Overrides};
use rig_engine::engine::down::{Teardown, TeardownOptions};
use rig_engine::engine::lock::LockOptions;
use rig_engine::engine::{env_flag, orphan_note, Engine, EngineOptions, Outcome};
use rig_engine::render;
use rig_engine::secrets::Prompt;
use rig_engine::session::{plugin_host, Session, SessionOptions};

use crate::output::print_doc;

#[derive(Parser, Debug)]
#[command(
    name = "rig",
    version,
    about = "Create and maintain AWS riglets: foundation, compute, database and pipelines as CloudFormation stacks."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// The riglet configuration file.
    #[arg(long, global = true, env = "RIG_CONFIG", default_value = "rig.toml")]
    config: PathBuf,
    /// AWS profile to use.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// AWS region (overrides `region` in the config).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a local emulator).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// A plugin library to load before searching the standard places (repeatable).
    #[arg(long = "plugin", global = true)]
    plugins: Vec<PathBuf>,
    /// How data is printed on stdout: `text`, or `json` (one document per command, with a
    /// versioned `schema` field; see docs/output.md).
    #[arg(long, global = true, value_enum, default_value_t = output::Format::Text)]
    output: output::Format,
    /// The same as `--output json`.
    #[arg(long, global = true)]
    json: bool,
    /// More logs on stderr (-v, -vv, -vvv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Do not stream stack events.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Seconds `up`, `down` and `app deploy | scale | delete` wait for the riglet's lock while
    /// another run holds it (0: give up at once).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 600)]
    lock_wait: u64,
}

impl Global {
    /// Whether data goes to stdout as JSON (`--output json` or `--json`).
    fn json(&self) -> bool {
        self.json || self.output == output::Format::Json
    }
}

#[derive(Args, Debug, Clone, Default)]
struct Select {
    /// Only these environments (repeatable). Default: all in the config.
    #[arg(long = "env")]
    envs: Vec<String>,
    /// Compute backend (overrides the config): ecs-ec2, fargate, or a plugin's id.
    #[arg(long)]
    compute: Option<String>,
    /// Database backend (overrides the config): aurora-provisioned, aurora-serverless, couchdb, none, or a plugin's id.
    #[arg(long)]
    db: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create or update the riglet (every environment, or those given with --env).
    Up {
        #[command(flatten)]
        select: Select,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Delete and re-create stacks whose creation failed (ROLLBACK_COMPLETE).
        #[arg(long)]
        replace_failed: bool,
        /// Stacks deployed at the same time.
        #[arg(long, default_value_t = rig_engine::engine::DEFAULT_CONCURRENCY)]
        concurrency: usize,
        /// Do not run the checks `rig check` lists before changing anything (they only read);
        /// for when a check is wrong for an account, e.g. a quota granted another way.
        #[arg(long)]
        skip_checks: bool,
        /// After deploying, delete the riglet's live stacks the configuration no longer has
        /// (a backend switched, an environment removed), after listing them and asking.
        #[arg(long)]
        prune: bool,
    },
    /// Show what `up` would change (change sets, deleted afterwards). Exit code 0: no changes, 2: changes.
    Plan {
        #[command(flatten)]
        select: Select,
    },
    /// Delete the riglet (or the environments given with --env) in reverse dependency order:
    /// only what carries this riglet's tags, listed before anything is deleted.
    Down {
        #[command(flatten)]
        select: Select,
        /// Also delete the stored secrets (database passwords, tokens).
        #[arg(long)]
        purge_secrets: bool,
        /// Do not ask for confirmation (the list of what goes is still printed).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Keep this resource when retrying a stack whose deletion failed (DELETE_FAILED):
        /// STACK/LOGICAL_ID, e.g. acme-shop-qa-foundation/InternalDns (repeatable).
        #[arg(long = "retain", value_name = "STACK/LOGICAL_ID")]
        retain: Vec<String>,
    },
    /// Check, before any change, what `up` needs: credentials, region, the certificate (exists,
    /// ISSUED, in the riglet's region, covers the apps' host names), the hosted zone, the key
    /// pair, plugins, secrets and quotas. Only reads. Exit code 0: all passed, 1: one failed.
    Check {
        #[command(flatten)]
        select: Select,
    },
    /// Every stack's status and the health of its backend.
    Status {
        #[command(flatten)]
        select: Select,
    },
    /// The stacks' outputs.
    Outputs {
        #[command(flatten)]
        select: Select,
    },
    /// Turn termination protection on for every stack of the riglet.
    Protect {
        #[command(flatten)]
        select: Select,
    },
    /// Turn termination protection off.
    Unprotect {
        #[command(flatten)]
        select: Select,
    },
    /// Write every template and its parameters that `up` would deploy; no AWS call.
    Render {
        #[command(flatten)]
        select: Select,
        /// Output folder.
        #[arg(long, default_value = "rig-out")]
        out: PathBuf,
    },
    /// Draw the riglet's stacks, their key resources and the wiring between them (Mermaid,
    /// DOT or SVG) from the plan; no AWS call.
    Graph(graph::GraphArgs),
    /// Applications: deploy an image, scale, status, logs, delete.
    App {
        #[command(subcommand)]
        command: app::AppCommand,
    },
    /// Pipelines: release status, start a release, approve or reject production.
    Pipeline {
        #[command(subcommand)]
        command: pipeline::PipelineCommand,
    },
    /// An environment's on-demand bastion: create, ssh, delete.
    Bastion {
        #[command(subcommand)]
        command: bastion::BastionCommand,
    },
    /// Print the shell completion script for SHELL on stdout, e.g.
    /// `rig completions bash > ~/.local/share/bash-completion/completions/rig`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print rig's man page (roff) on stdout, e.g. `rig man | man -l -`; with `--out DIR`,
    /// write one page per command (`rig.1`, `rig-up.1`, ...) into DIR.
    Man {
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write a new, commented rig.toml: asked for on a terminal, else from the flags.
    Init(init::InitArgs),
    /// Plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

#[derive(Subcommand, Debug)]
enum PluginsCommand {
    /// Every plugin found, in search order, and whether it can be loaded.
    List,
}

fn init_logs(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "warn,rig_engine=info,rig=info",
        2 => "info,rig_engine=debug,rig=debug",
        _ => "debug,rig_engine=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .try_init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                output::exit::USAGE
            } else {
                output::exit::OK
            });
        }
    };
    init_logs(cli.global.verbose);
    live::apply_no_color();
    let json = cli.global.json();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let f = failure::Failure::from_error(&e);
            eprintln!("{}", f.render());
            if json && !output::doc_printed() {
                let _ = print_doc("error", &f);
            }
            ExitCode::from(f.exit_code)
        }
    }
}

fn session_options(g: &Global, select: &Select) -> SessionOptions {
    SessionOptions {
        config: g.config.clone(),
        profile: g.profile.clone(),
        region: g.region.clone(),
        endpoint_url: g.endpoint_url.clone(),
        plugins: g.plugins.clone(),
        environments: select.envs.clone(),
        compute: select.compute.clone(),
        database: select.db.clone(),
    }
}

/// The configuration, its backends and its plan: everything checked before any AWS call.
fn prepare(g: &Global, select: &Select) -> Result<Session> {
    Ok(Session::load(&session_options(g, select))?)
}

async fn connect(g: &Global, p: &mut Session) -> Result<Engine> {
    let options = engine_options()?;
    Ok(p.connect(live::sink(g.quiet), options).await?)
}

/// The engine's options: the defaults, with the longest pause between two looks at a stack
/// from `RIG_POLL_MAX_MS` (milliseconds, default 5000) when it is set.
fn engine_options() -> Result<EngineOptions> {
    let mut options = EngineOptions::default();
    if let Some(n) = positive_env("RIG_POLL_MAX_MS", "milliseconds", 5000)? {
        options.backoff.max = Duration::from_millis(n);
        options.backoff.initial = options.backoff.initial.min(options.backoff.max);
    }
    Ok(options)
}

/// A whole number above 0 from environment variable `name` (in `unit`), `None` when unset;
/// a usage error naming the variable and its `default` otherwise.
fn positive_env(name: &str, unit: &str, default: u64) -> Result<Option<u64>> {
    let Ok(v) = std::env::var(name) else {
        return Ok(None);
    };
    match v.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(failure::Usage(format!(
            "{name} is `{v}`, not a whole number of {unit} above 0; unset it for the default ({default})"
        ))
        .into()),
    }
}

struct TtyPrompt;

impl Prompt for TtyPrompt {
    fn ask(&self, req: &SecretRequirement, env: Option<&str>) -> Option<String> {
        let prompt = format!(
            "{}{} (stored as SecureString at {}): ",
            req.description,
            env.map(|e| format!(" [{e}]")).unwrap_or_default(),
            req.ssm_path
        );
        rpassword::prompt_password(prompt)
            .ok()
            .filter(|s| !s.is_empty())
    }
}

fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question}: there is no terminal to confirm on; pass --yes to proceed");
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

async fn run(cli: Cli) -> Result<u8> {
    let g = cli.global.clone();
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "rig", &mut std::io::stdout());
            Ok(output::exit::OK)
        }
        Command::Man { out } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match out {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)?;
                    clap_mangen::generate_to(cmd, &dir)?;
                    eprintln!("man pages written to {}", dir.display());
                }
                None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?,
            }
            Ok(output::exit::OK)
        }
        Command::Plugins {
            command: PluginsCommand::List,
        } => {
            let riglet = config::load(&g.config, &Overrides::default()).ok();
            let host = plugin_host(&session_options(&g, &Select::default()), riglet.as_ref());
            let rows = host.list();
            if g.json() {
                print_doc("plugins.list", &serde_json::json!({ "plugins": rows }))?;
            } else {
                println!(
                    "{:<20} {:<10} {:<9} {:<9} {:<11} PATH",
                    "ID", "ROLE", "VERSION", "PROTOCOL", "COMPATIBLE"
                );
                for r in &rows {
                    let (id, role, version, protocol) = match &r.manifest {
                        Some(m) => (
                            m.id.clone(),
                            m.role.to_string(),
                            m.version.clone(),
                            m.protocol.clone(),
                        ),
                        None => ("-".into(), "-".into(), "-".into(), "-".into()),
                    };
                    let compat = match (r.compatible, r.shadowed) {
                        (true, false) => "yes".to_string(),
                        (true, true) => "shadowed".to_string(),
                        (false, _) => "no".to_string(),
                    };
                    println!(
                        "{id:<20} {role:<10} {version:<9} {protocol:<9} {compat:<11} {}",
                        r.path.display()
                    );
                    if let Some(p) = &r.problem {
                        println!("    {p}");
                    }
                }
            }
            Ok(0)
        }
        Command::Render { select, out } => {
            let p = prepare(&g, &select)?;
            let written = render::render(&p.plan, &out)?;
            if p.riglet
                .info
                .domain_cert_arn
                .contains(config::ACCOUNT_PLACEHOLDER)
            {
                eprintln!(
                    "note: domain_cert is a certificate id, so DomainCertArn carries {} in place of the account id; `rig up` fills in the caller's account",
                    config::ACCOUNT_PLACEHOLDER
                );
            }
            if g.json() {
                print_doc("render", &serde_json::json!({ "files": written }))?;
            } else {
                for w in &written {
                    println!("{}", w.template.display());
                    println!("{}", w.parameters.display());
                }
            }
            Ok(0)
        }
        Command::Up {
            select,
            yes,
            replace_failed,
            concurrency,
            prune,
            skip_checks,
        } => {
            let mut p = prepare(&g, &select)?;
            let lock_opts = lock_options(&g)?;
            // Secrets given in the environment are checked before any AWS call.
            for s in &p.plan.secrets {
                rig_engine::secrets::given(&s.requirement)?;
            }
            if !yes
                && !confirm(&format!(
                    "Deploy riglet {} ({} stacks in {}) with compute `{}` and database `{}`?",
                    p.riglet.names,
                    p.plan.stacks.len(),
                    p.riglet.env_names().join(", "),
                    p.riglet.compute.id,
                    p.riglet
                        .database
                        .as_ref()
                        .map(|d| d.id.as_str())
                        .unwrap_or("none")
                ))?
            {
                bail!("cancelled; nothing was changed");
            }
            let mut engine = connect(&g, &mut p).await?;
            if !skip_checks {
                check::gate(&engine, &p, "rig up", g.quiet).await?;
            }
            engine.options.replace_failed = replace_failed;
            engine.options.concurrency = concurrency;
            let prompt: Option<&dyn Prompt> = if std::io::stdin().is_terminal() {
                Some(&TtyPrompt)
            } else {
                None
            };
            let lock = engine.lock(&p.plan.names, "rig up", lock_opts).await?;
            // Everything that changes the riglet, `--prune` included, runs under the lock.
            let outcome: Result<u8> = async {
                let plan = engine.settle(&p.plan, None).await?;
                let report = tokio::select! {
                    r = engine.up(&plan, prompt) => r,
                    _ = tokio::signal::ctrl_c() => {
                        let busy = engine.in_flight();
                        eprintln!("\ninterrupted; stopped waiting.{}", if busy.is_empty() { String::new() } else { format!(" Still changing in AWS: {}.", busy.join(", ")) });
                        eprintln!("Run `rig up` again to resume: it waits for those stacks and converges.");
                        return Ok(crate::output::exit::INTERRUPTED);
                    }
                };
                let report = report?;
                live::finish();
                if g.json() {
                    print_doc("up", &report)?;
                } else if !report.changed() && !report.failed() {
                    println!("no changes: the riglet is up to date");
                } else {
                    println!("{}", tables::up_summary(&report));
                }
                for o in &report.orphans {
                    eprintln!("warning: {}: {}", o.name, orphan_note(o));
                }
                if report.failed() {
                    let failed: Vec<_> = report
                        .stacks
                        .iter()
                        .filter(|s| s.outcome == Outcome::Failed)
                        .collect();
                    for s in &failed {
                        eprintln!(
                            "\n{}:\n  {}",
                            s.name,
                            s.error.clone().unwrap_or_default().replace('\n', "\n  ")
                        );
                    }
                    bail!(
                        "{} stack(s) failed and {} were not attempted; each failure above says what to do next",
                        failed.len(),
                        report
                            .stacks
                            .iter()
                            .filter(|s| s.outcome == Outcome::Skipped)
                            .count()
                    );
                }
                if prune && !report.orphans.is_empty() {
                    let t = engine
                        .teardown_plan(
                            &p.plan,
                            TeardownOptions {
                                orphans_only: true,
                                ..Default::default()
                            },
                        )
                        .await?;
                    return tear_down(&engine, &g, &t, yes, &BTreeMap::new(), "rig up --prune").await;
                }
                Ok(0)
            }
            .await;
            lock.release(refused_before_change(&outcome)).await?;
            outcome
        }
        Command::Plan { select } => {
            let mut p = prepare(&g, &select)?;
            let engine = connect(&g, &mut p).await?;
            check::gate(&engine, &p, "rig plan", g.quiet).await?;
            let plan = engine.settle(&p.plan, None).await?;
            let report = engine.plan(&plan).await?;
            live::finish();
            if g.json() {
                let mut doc = serde_json::to_value(&report)?;
                doc["totals"] = serde_json::to_value(report.totals())?;
                print_doc("plan", &doc)?;
            } else {
                println!("{}", tables::plan_text(&report));
            }
            Ok(if report.has_changes() {
                output::exit::CHANGES
            } else {
                output::exit::OK
            })
        }
        Command::Down {
            select,
            purge_secrets,
            yes,
            retain,
        } => {
            let mut p = prepare(&g, &select)?;
            let retain = parse_retain(&retain)?;
            let lock_opts = lock_options(&g)?;
            if !yes && !std::io::stdin().is_terminal() {
                return Err(failure::Usage(
                    "rig down: there is no terminal to confirm on\n  hint: pass --yes to proceed"
                        .into(),
                )
                .into());
            }
            let engine = connect(&g, &mut p).await?;
            let lock = engine.lock(&p.plan.names, "rig down", lock_opts).await?;
            let done = down(&engine, &g, &p, purge_secrets, yes, &retain).await;
            let whole = p.riglet.whole && matches!(done, Ok(0));
            lock.release(refused_before_change(&done)).await?;
            if whole {
                // The riglet is gone: its lock bucket goes last (exact name, verified as its own).
                engine.remove_lock_bucket(&p.plan.names).await?;
            }
            done
        }
        Command::Check { select } => {
            let mut p = prepare(&g, &select)?;
            let engine = connect(&g, &mut p).await?;
            let report = check::run(&engine, &p).await;
            if g.json() {
                print_doc("check", &report)?;
            } else {
                println!("{}", check::text(&report));
            }
            Ok(if report.passed() {
                output::exit::OK
            } else {
                output::exit::FAILURE
            })
        }
        Command::Status { select } => {
            let mut p = prepare(&g, &select)?;
            let engine = connect(&g, &mut p).await?;
            let report = engine.status(&p.plan).await?;
            if g.json() {
                print_doc("status", &serde_json::json!({ "stacks": report }))?;
            } else {
                for s in &report {
                    println!(
                        "{:<48} {}{}{}",
                        s.name,
                        match (&s.status, &s.not_owned) {
                            (_, Some(tags)) =>
                                format!("EXISTS, NOT THIS RIGLET'S (its tags: {tags})"),
                            (Some(st), None) => st.clone(),
                            (None, None) if s.role == "application" => {
                                "NOT DEPLOYED (`rig app deploy` creates it)".to_string()
                            }
                            (None, None) => "NOT CREATED".to_string(),
                        },
                        if s.termination_protection {
                            " (protected)"
                        } else {
                            ""
                        },
                        if s.orphan {
                            " (orphan: not in what the configuration and flags select; `rig plan` says more)"
                        } else {
                            ""
                        }
                    );
                    for pr in &s.probes {
                        println!(
                            "    {} {}: {}",
                            if pr.healthy { "ok  " } else { "FAIL" },
                            pr.what,
                            pr.detail
                        );
                    }
                }
            }
            Ok(0)
        }
        Command::Outputs { select } => {
            let mut p = prepare(&g, &select)?;
            let engine = connect(&g, &mut p).await?;
            let outputs = engine.outputs(&p.plan).await?;
            if g.json() {
                print_doc("outputs", &serde_json::json!({ "stacks": outputs }))?;
            } else {
                for (stack, kv) in &outputs {
                    println!("{stack}");
                    for (k, v) in kv {
                        println!("  {k:<28} {v}");
                    }
                }
            }
            Ok(0)
        }
        Command::Init(args) => init::run(&g, args).await,
        Command::App { command } => app::run(&g, command).await,
        Command::Pipeline { command } => pipeline::run(&g, command).await,
        Command::Bastion { command } => bastion::run(&g, command).await,
        Command::Graph(args) => graph::run(&g, args),
        Command::Protect { select } => protect(&g, &select, true).await,
        Command::Unprotect { select } => protect(&g, &select, false).await,
    }
}

async fn protect(g: &Global, select: &Select, on: bool) -> Result<u8> {
    let mut p = prepare(g, select)?;
    let engine = connect(g, &mut p).await?;
    let names = engine.protect(&p.plan, on).await?;
    for n in &names {
        println!(
            "{n}: termination protection {}",
            if on { "on" } else { "off" }
        );
    }
    Ok(0)
}

/// `--retain STACK/LOGICAL_ID` values, grouped by stack.
fn parse_retain(values: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in values {
        let Some((stack, id)) = v
            .split_once('/')
            .filter(|(s, i)| !s.is_empty() && !i.is_empty())
        else {
            return Err(failure::Usage(format!(
                "--retain {v}: expected STACK/LOGICAL_ID{}e.g. --retain acme-shop-qa-foundation/InternalDns",
                rig_engine::HINT_MARKER
            ))
            .into());
        };
        out.entry(stack.to_string())
            .or_default()
            .push(id.to_string());
    }
    Ok(out)
}

/// `rig down` under the riglet's lock: what it would delete, then the deletion.
async fn down(
    engine: &Engine,
    g: &Global,
    p: &Session,
    purge_secrets: bool,
    yes: bool,
    retain: &BTreeMap<String, Vec<String>>,
) -> Result<u8> {
    let t = engine
        .teardown_plan(
            &p.plan,
            TeardownOptions {
                purge_secrets,
                ..Default::default()
            },
        )
        .await?;
    for stack in retain.keys() {
        if !t.stacks.iter().any(|s| &s.name == stack) {
            bail!("--retain {stack}/...: {stack} is not among the stacks this `rig down` deletes");
        }
    }
    tear_down(engine, g, &t, yes, retain, "rig down").await
}

/// Whether a command ended refused before it changed anything (another riglet's resource under
/// one of its names, termination protection, a secret it could not have).
fn refused_before_change(outcome: &Result<u8>) -> bool {
    use rig_engine::engine::EngineError;
    outcome.as_ref().err().is_some_and(|e| {
        e.chain().any(|c| {
            matches!(
                c.downcast_ref::<EngineError>(),
                Some(EngineError::NotOwned(_) | EngineError::Protected(_) | EngineError::Secret(_))
            )
        })
    })
}

/// The lease of the riglet's lock (`RIG_LOCK_LEASE_SECONDS`, default 60) and `--lock-wait`.
fn lock_options(g: &Global) -> Result<LockOptions> {
    let default = LockOptions::default().lease;
    let lease = positive_env("RIG_LOCK_LEASE_SECONDS", "seconds", default.as_secs())?
        .map_or(default, Duration::from_secs);
    Ok(LockOptions {
        lease,
        wait: Duration::from_secs(g.lock_wait),
    })
}

/// Lists what a teardown deletes, asks (unless `yes`), carries it out and reports.
async fn tear_down(
    engine: &Engine,
    g: &Global,
    t: &Teardown,
    yes: bool,
    retain: &BTreeMap<String, Vec<String>>,
    command: &str,
) -> Result<u8> {
    for n in &t.notes {
        eprintln!("{n}");
    }
    if t.is_empty() {
        eprintln!("{command}: nothing of this riglet to delete");
    } else {
        eprintln!("{command} will delete:");
        for line in t.listing() {
            eprintln!("  {line}");
        }
    }
    for s in &t.secrets_kept {
        eprintln!("  (kept: secret {s}; --purge-secrets deletes it)");
    }
    if !t.is_empty() && !yes && !confirm("Delete all of the above?")? {
        bail!("cancelled; nothing was deleted");
    }
    let report = engine.teardown(t, retain).await;
    live::finish();
    if g.json() {
        print_doc("down", &report)?;
    } else if !t.is_empty() {
        println!("{}", tables::down_summary(&report));
    }
    for k in &report.retained {
        eprintln!(
            "kept {} {}: retained by its stack's template (DeletionPolicy: Retain) or --retain, so it outlives the stack; delete it yourself once it is no longer needed",
            k.resource_type,
            k.physical_id.as_deref().unwrap_or(&k.logical_id)
        );
    }
    if report.finished() {
        return Ok(0);
    }
    let mut msg = vec![format!("{command} did not finish:")];
    for f in &report.stacks_failed {
        msg.push(format!("  {} could not be deleted:", f.name));
        if f.resources.is_empty() {
            msg.push(format!("    {}", f.error.replace('\n', "\n    ")));
        }
        for r in &f.resources {
            msg.push(format!(
                "    {} ({}) {}: {}",
                r.logical_id, r.resource_type, r.status, r.reason
            ));
        }
        msg.push(format!(
            "    next: remove what blocks it, then run `rig down{}` again (it retries); to keep a resource instead, add --retain {}/LOGICAL_ID",
            env_flag(f.env.as_deref()),
            f.name
        ));
    }
    for l in &report.stacks_left {
        msg.push(format!("  {} was left in place: {}", l.name, l.because));
    }
    if !report.buckets_left.is_empty() {
        msg.push(format!(
            "  buckets kept while stacks using them remain: {}",
            report.buckets_left.join(", ")
        ));
    }
    if !report.parameters_left.is_empty() {
        msg.push(format!(
            "  parameters kept until every stack is gone: {}",
            report.parameters_left.join(", ")
        ));
    }
    for e in &report.errors {
        msg.push(format!("  {e}"));
    }
    bail!("{}", msg.join("\n"))
}
