//! `cargo xtask bench [--release]`: how fast rig is, measured against the local AWS in one run,
//! side by side with the old project's way of running the same `up`; prints a table and writes
//! `BENCHMARKS.md` (machine, date, versions, method, figures).
//!
//! Method. The emulator's fault and latency layer (tests/support/moto/README.md §27) adds 20 ms
//! to every request and holds each stack in its `*_IN_PROGRESS` state for its real duration
//! scaled down 100× (foundation 180 s, compute 120 s, Aurora 600 s, CouchDB 240 s: 1.8 s, 1.2 s,
//! 6 s, 2.4 s). rig's longest pause between two looks at a stack is scaled the same way
//! (`RIG_POLL_MAX_MS=50` for its 5 s), so the figures stand for the real durations. The old
//! project's `up` (its stacks in series, its fixed 60 s sleeps, the AWS CLI waiter's 30 s
//! polls) is computed from the same durations and scale.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use comfy_table::{presets, Table};
use rig_core::Role;
use rig_engine::planner::{PlannedStack, RigletPlan};
use rig_engine::session::{Session, SessionOptions};
use rig_tests::matrix::{config_text, plugin_libraries, riglet_folder, Rig};
use rig_tests::{repo_root, venv, LocalAws};

/// Real durations are divided by this.
const SCALE: f64 = 100.0;
/// Latency added to every request, in milliseconds.
const LATENCY_MS: u64 = 20;
/// The standard riglet: the old project's ECS on EC2 hosts with Aurora, three environments.
const STANDARD: (&str, &str) = ("ecs-ec2", "aurora-provisioned");
/// Applications per environment for the `status` figure.
const APPS: usize = 50;

/// One line of the table.
struct Figure {
    what: String,
    measured: String,
    target: String,
    /// `Some(met)` when there is a target.
    met: Option<bool>,
}

impl Figure {
    fn new(what: &str, measured: String, target: &str, met: Option<bool>) -> Figure {
        Figure {
            what: what.to_string(),
            measured,
            target: target.to_string(),
            met,
        }
    }
}

fn main() -> Result<()> {
    let release = std::env::args().any(|a| a == "--release");
    let profile = if release { "release" } else { "debug" };
    let bin = target_dir()
        .join(profile)
        .join(format!("rig{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!("{} is not built; run `cargo xtask bench`", bin.display());
    }
    let aws = LocalAws::start()?;
    let mut figures = Vec::new();
    eprintln!("bench: (a), (e) the standard riglet's up with simulated durations");
    let (dir, _) = riglet_folder(&aws, STANDARD.0, STANDARD.1);
    let rig = Rig {
        bin: &bin,
        config: dir.path().join("rig.toml"),
        aws: &aws,
    };
    let plan = plan_of(&rig.config, &[STANDARD.0, STANDARD.1])?;
    let critical = critical_path(&plan, |_| false);
    let baseline = old_project(&plan);
    aws.faults(&format!("latency_ms={LATENCY_MS}&hold={}", holds(&plan)))?;
    let up = timed(|| rig_scaled(&rig, &["up", "--yes"]))?;
    let seen = aws.requests()?;
    figures.push(Figure::new(
        "(a) up of the standard riglet (9 stacks): wall time ÷ critical path",
        format!(
            "{:.3} ({up:.2} s ÷ {critical:.2} s; {} requests)",
            up / critical,
            seen["total"]
        ),
        "≤ 1.05",
        Some(up / critical <= 1.05),
    ));
    figures.push(Figure::new(
        "(e) the old project's up (in series, fixed sleeps, 30 s waiter polls) ÷ rig's",
        format!("{:.1} ({baseline:.2} s ÷ {up:.2} s)", baseline / up),
        "",
        None,
    ));

    eprintln!("bench: (b) a no-op up");
    aws.faults(&format!("latency_ms={LATENCY_MS}"))?;
    let noop = timed(|| rig_scaled(&rig, &["up", "--yes"]))?;
    let seen = aws.requests()?;
    let (lock, lock_mutating) = lock_requests(&seen);
    let total = seen["total"].as_u64().unwrap_or_default() - lock;
    let mutating = seen["mutating"].as_u64().unwrap_or_default() - lock_mutating;
    figures.push(Figure::new(
        "(b) no-op up: requests to the riglet's stacks and buckets (9 stacks)",
        format!("{total} ({:.1} per stack)", total as f64 / 9.0),
        "≤ 14",
        Some(total <= 14),
    ));
    figures.push(Figure::new(
        "(b) no-op up: mutating requests (besides the lock's own)",
        format!("{mutating} (lock: {lock} requests, {lock_mutating} writes)"),
        "0",
        Some(mutating == 0),
    ));
    figures.push(Figure::new(
        &format!("(b) no-op up: wall time at {LATENCY_MS} ms per request"),
        format!("{noop:.2} s"),
        "< 1 s",
        Some(noop < 1.0),
    ));

    eprintln!("bench: express mode, one environment");
    let (standard_env, express_env, modes) = express(&aws, &bin)?;
    figures.push(Figure::new(
        "(a) up of one environment (integration, Fargate): standard ÷ express deployment mode",
        format!(
            "{:.1} ({standard_env:.2} s ÷ {express_env:.2} s; {modes} change sets in EXPRESS mode)",
            standard_env / express_env
        ),
        "",
        None,
    ));

    eprintln!("bench: (c) status of 3 environments × {APPS} apps");
    let (create, status, requests) = status_of_many_apps(&aws, &bin)?;
    figures.push(Figure::new(
        &format!("(c) status of 3 environments × {APPS} apps at {LATENCY_MS} ms per request"),
        format!("{status:.2} s, {requests} requests (their up: {create:.0} s)"),
        "< 1.5 s",
        Some(status < 1.5),
    ));
    let config = rig.config.to_string_lossy().into_owned();
    drop(aws);

    eprintln!("bench: (d) start-up, plugin load, rendering");
    let out = tempfile::tempdir()?;
    let rendered = out.path().join("out").to_string_lossy().into_owned();
    let version = median_ms(&bin, &["--version"], 20)?;
    let plugins = median_ms(&bin, &["plugins", "list"], 10)?;
    let render = median_ms(
        &bin,
        &["--config", &config, "render", "--out", &rendered],
        10,
    )?;
    figures.push(Figure::new(
        "(d) rig --version (median of 20)",
        format!("{version:.1} ms"),
        "< 20 ms",
        Some(version < 20.0),
    ));
    figures.push(Figure::new(
        "(d) rig plugins list: load every plugin found (median of 10)",
        format!("{plugins:.1} ms"),
        "< 100 ms",
        Some(plugins < 100.0),
    ));
    figures.push(Figure::new(
        "(d) rig render: config, plugins, plan and every template of ecs-ec2 + aurora-provisioned (median of 10)",
        format!("{render:.1} ms"),
        "< 100 ms",
        Some(render < 100.0),
    ));

    let table = table(&figures, presets::UTF8_FULL_CONDENSED);
    println!("{table}");
    let report = report(&bin, profile, &figures)?;
    let path = repo_root().join("BENCHMARKS.md");
    std::fs::write(&path, report).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The riglet's plan, opened in process (no AWS call).
fn plan_of(config: &Path, plugins: &[&str]) -> Result<RigletPlan> {
    let session = Session::load(&SessionOptions {
        config: config.to_path_buf(),
        plugins: plugin_libraries(plugins),
        ..Default::default()
    })?;
    Ok(session.plan)
}

/// A stack's real creation time in seconds (the figures; apps and others: 0).
fn real_seconds(s: &PlannedStack) -> f64 {
    match s.plan.role {
        Role::Foundation => 180.0,
        Role::Compute => 120.0,
        Role::Database if s.backend == "couchdb" => 240.0,
        Role::Database => 600.0,
        _ => 0.0,
    }
}

/// The fault layer's `hold=` value: each stack kind's scaled duration.
fn holds(plan: &RigletPlan) -> String {
    let mut kinds: Vec<String> = plan
        .stacks
        .iter()
        .filter(|s| real_seconds(s) > 0.0)
        .map(|s| format!("{}:{}", s.suffix, real_seconds(s) / SCALE))
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds.join(",")
}

/// The longest chain of scaled durations through the plan's dependencies, in seconds; stacks
/// for which `express` holds take a quarter of their time.
fn critical_path(plan: &RigletPlan, express: impl Fn(&PlannedStack) -> bool) -> f64 {
    fn finish(
        name: &str,
        plan: &RigletPlan,
        express: &dyn Fn(&PlannedStack) -> bool,
        memo: &mut std::collections::BTreeMap<String, f64>,
    ) -> f64 {
        if let Some(t) = memo.get(name) {
            return *t;
        }
        let Some(s) = plan.stack(name) else {
            return 0.0;
        };
        let start = s
            .plan
            .depends_on
            .iter()
            .map(|d| finish(d, plan, express, memo))
            .fold(0.0, f64::max);
        let own = real_seconds(s) / SCALE * if express(s) { 0.25 } else { 1.0 };
        memo.insert(name.to_string(), start + own);
        start + own
    }
    let mut memo = Default::default();
    plan.stacks
        .iter()
        .map(|s| finish(&s.plan.name, plan, &express, &mut memo))
        .fold(0.0, f64::max)
}

/// The old project's `up` of the same riglet, in seconds at the same scale: per environment,
/// in series, the fixed 60 s sleep after each bucket (foundation, compute, database if any,
/// app) and each stack's creation as the AWS CLI waiter sees it (polls every 30 s, from the
/// start). Requests are not counted, which favours it.
fn old_project(plan: &RigletPlan) -> f64 {
    let mut seconds = 0.0;
    for env in &plan.environments {
        let stacks: Vec<&PlannedStack> = plan
            .stacks
            .iter()
            .filter(|s| s.env.as_deref() == Some(env.as_str()) && real_seconds(s) > 0.0)
            .collect();
        let buckets = stacks.len() + 1;
        seconds += 60.0 * buckets as f64;
        seconds += stacks
            .iter()
            .map(|s| (real_seconds(s) / 30.0).ceil() * 30.0)
            .sum::<f64>();
    }
    seconds / SCALE
}

/// Runs `rig` with its polls scaled like the durations; requires success.
fn rig_scaled(rig: &Rig, args: &[&str]) -> Result<()> {
    let mut c = rig.command(args);
    c.env("RIG_POLL_MAX_MS", format!("{}", (5000.0 / SCALE) as u64));
    let out = c.output()?;
    if !out.status.success() {
        bail!(
            "`rig {}` failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Seconds `f` took.
fn timed(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Requests to the riglet's lock bucket: (all, writes).
fn lock_requests(seen: &serde_json::Value) -> (u64, u64) {
    let mut all = 0;
    let mut writes = 0;
    for (key, n) in seen["requests"].as_object().into_iter().flatten() {
        if key.starts_with("s3:") && key.contains("-lock") {
            let n = n.as_u64().unwrap_or_default();
            all += n;
            if !key.starts_with("s3:GET") && !key.starts_with("s3:HEAD") {
                writes += n;
            }
        }
    }
    (all, writes)
}

/// `up` of integration alone (Fargate, the emulator registers no EC2 container instances for
/// the ECS-EC2 cluster's probe), on a fresh account, in the standard then the express mode:
/// (standard seconds, express seconds, change sets executed in EXPRESS mode).
fn express(aws: &LocalAws, bin: &Path) -> Result<(f64, f64, usize)> {
    let mut times = Vec::new();
    let mut express_modes = 0;
    for mode in ["standard", "express"] {
        aws.reset()?;
        let (dir, cert) = riglet_folder(aws, "fargate", STANDARD.1);
        let config = dir.path().join("rig.toml");
        let text = config_text("shop", &cert, "fargate", STANDARD.1)
            + &format!(
                "\n[environments.integration]\ndeployment_mode = \"{mode}\"\n\n[environments.staging]\n\n[environments.production]\n"
            );
        std::fs::write(&config, text)?;
        let rig = Rig { bin, config, aws };
        let plan = plan_of(&rig.config, &["fargate", STANDARD.1])?;
        aws.faults(&format!(
            "latency_ms={LATENCY_MS}&hold={}&express_factor=0.25",
            holds(&plan)
        ))?;
        times.push(timed(|| {
            rig_scaled(&rig, &["up", "--yes", "--env", "integration"])
        })?);
        let seen = aws.requests()?;
        express_modes = seen["modes"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, m)| m.as_str() == Some("EXPRESS"))
            .count();
    }
    Ok((times[0], times[1], express_modes))
}

/// A riglet of 3 environments × [`APPS`] apps on Fargate, up without latency; then `status`
/// at [`LATENCY_MS`]: (seconds of the up, seconds of the status, its requests).
fn status_of_many_apps(aws: &LocalAws, bin: &Path) -> Result<(f64, f64, u64)> {
    aws.reset()?;
    aws.faults("")?;
    let (dir, cert) = riglet_folder(aws, "fargate", "none");
    tokio::runtime::Runtime::new()?.block_on(async {
        rig_tests::apps::AppApi::new(aws)
            .await
            .create_public_zone("example.com")
            .await
    })?;
    let config = dir.path().join("rig.toml");
    let mut text = config_text("many", &cert, "fargate", "none");
    for i in 1..=APPS {
        text += &format!("\n[[apps]]\nname = \"app{i:02}\"\nport = 8080\n");
    }
    std::fs::write(&config, text)?;
    let rig = Rig { bin, config, aws };
    let create = timed(|| rig.ok(&["up", "--yes"]).map(drop))?;
    aws.faults(&format!("latency_ms={LATENCY_MS}"))?;
    let status = timed(|| rig.ok(&["status"]).map(drop))?;
    let seen = aws.requests()?;
    aws.faults("")?;
    Ok((create, status, seen["total"].as_u64().unwrap_or_default()))
}

/// The median wall time of `runs` runs of `bin args`, in milliseconds.
fn median_ms(bin: &Path, args: &[&str], runs: usize) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(bin).args(args).env("NO_COLOR", "1").output()?;
        if !out.status.success() {
            bail!(
                "`rig {}` failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn table(figures: &[Figure], preset: &str) -> Table {
    let mut t = Table::new();
    t.load_preset(preset)
        .set_header(["figure", "measured", "target", "met"]);
    for f in figures {
        t.add_row([
            f.what.clone(),
            f.measured.clone(),
            f.target.clone(),
            match f.met {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => String::new(),
            },
        ]);
    }
    t
}

/// One line of a command's output, or `unknown`.
fn line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The first value of `key` in a `/proc` file, or `unknown`.
fn proc_value(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn report(bin: &Path, profile: &str, figures: &[Figure]) -> Result<String> {
    let python = venv()?.join("bin").join("python");
    let moto = line_of(
        &python.to_string_lossy(),
        &["-c", "import moto; print(moto.__version__)"],
    );
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    Ok(format!(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` ({profile} build); run it again to refresh.\n\n\
         - date: {date}\n\
         - machine: {cpu}, {cores} cores, {memory} memory, {os}\n\
         - versions: {rig}, {rustc}, moto {moto}\n\n\
         ## Method\n\n\
         Every figure is measured in the same run against the local AWS (the pinned moto server \
         with rig's extensions, on loopback). Its fault and latency layer \
         (`tests/support/moto/README.md` §27) adds {LATENCY_MS} ms to every request and holds \
         each stack in its `*_IN_PROGRESS` state for its real duration divided by {SCALE}: \
         foundation 180 s, compute 120 s, Aurora 600 s, CouchDB 240 s. rig's longest pause \
         between two looks at a stack is divided the same way (`RIG_POLL_MAX_MS=50` for its \
         5 s). The critical path is the longest chain of those durations through the plan's \
         dependencies. The old project's `up` (e) is computed from the same durations: its \
         environments and stacks in series, a fixed 60 s sleep after each bucket it creates \
         (foundation, compute, database, app), and each stack's creation seen by the AWS CLI \
         waiter, which looks every 30 s; its requests are not counted, which favours it. The \
         express row deploys one environment on a fresh account in each mode; the emulator \
         completes an express change set in a quarter of the standard time (AWS: \"up to four \
         times faster\") and rig then waits for the stacks' health probes. (b) counts requests \
         as the emulator saw them, the riglet's lock (S3, on its own bucket) apart. (d) is the \
         median wall time of separate processes.\n\n\
         ## Figures\n\n{table}\n",
        date = line_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cpu = proc_value("/proc/cpuinfo", "model name"),
        memory = proc_value("/proc/meminfo", "MemTotal"),
        os = std::env::consts::OS,
        rig = line_of(&bin.to_string_lossy(), &["--version"]),
        rustc = line_of("rustc", &["--version"]),
        table = table(figures, presets::ASCII_MARKDOWN),
    ))
}
