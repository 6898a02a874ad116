//! What runs before the first AWS call of every command: reading `rig.toml`, loading the
//! plugins and planning the whole riglet through the C-ABI plugin boundary.
//!
//! Run with `cargo xtask bench` (the plugins must be built: `cargo build --workspace`).

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use rig_engine::config::{self, Overrides};
use rig_engine::planner::{self, Backends};
use rig_engine::plugin::{PluginHost, SearchPath};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plugin_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("debug")
}

fn benches(c: &mut Criterion) {
    let example = root().join("rig.example.toml");
    let text = std::fs::read_to_string(&example).expect("rig.example.toml");
    c.bench_function("config: parse and resolve rig.example.toml", |b| {
        b.iter(|| {
            let parsed = config::parse(&example, std::hint::black_box(&text)).expect("parses");
            config::resolve(&example, parsed, &Overrides::default()).expect("valid")
        })
    });

    let riglet = config::load(&example, &Overrides::default()).expect("valid");
    let host = PluginHost::new(SearchPath::from_dirs([plugin_dir()]));
    let backends = match Backends::load(&riglet, &host) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skipping the planning benchmark: {e}\n(build the plugins first: cargo build --workspace)");
            return;
        }
    };
    c.bench_function(
        "plan: 3 environments, fargate + aurora-serverless, through the plugin ABI",
        |b| b.iter(|| planner::plan(std::hint::black_box(&riglet), &backends).expect("plans")),
    );
}

criterion_group!(plan, benches);
criterion_main!(plan);
