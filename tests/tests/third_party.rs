//! A third-party plugin built outside the workspace (examples/third-party-db) against rig-core
//! alone: `rig` finds it in the project's `.rig/plugins`, lists it and renders with it.

use std::path::PathBuf;
use std::process::Command;

use rig_tests::matrix::{config_text, rig_binary, OFFLINE_CERT};
use rig_tests::repo_root;

fn build_example() -> PathBuf {
    let root = repo_root();
    let target = root.join("target/fixtures");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("examples/third-party-db/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the example plugin failed");
    target
        .join("debug")
        .join(libloading_name("rig_plugin_rds_postgres"))
}

fn libloading_name(stem: &str) -> String {
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

#[test]
fn rig_lists_and_renders_a_third_party_database_plugin() {
    let rig = rig_binary();
    assert!(
        rig.exists(),
        "{} is not built; run `cargo build` first",
        rig.display()
    );
    let lib = build_example();
    let project = tempfile::tempdir().unwrap();
    let plugins = project.path().join(".rig/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(&lib, plugins.join(lib.file_name().unwrap())).unwrap();
    let config = project.path().join("rig.toml");
    std::fs::write(
        &config,
        config_text("shop", OFFLINE_CERT, "fargate", "rds-postgres"),
    )
    .unwrap();

    let list = Command::new(&rig)
        .arg("--config")
        .arg(&config)
        .args(["plugins", "list"])
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let out = String::from_utf8_lossy(&list.stdout);
    let row = out
        .lines()
        .find(|l| l.starts_with("rds-postgres"))
        .unwrap_or_else(|| panic!("rds-postgres not listed:\n{out}"));
    assert!(row.contains("database") && row.contains(" yes "), "{row}");
    assert!(
        row.contains(".rig/plugins"),
        "found in the project folder: {row}"
    );

    let out_dir = project.path().join("out");
    let render = Command::new(&rig)
        .arg("--config")
        .arg(&config)
        .args(["render", "--env", "staging", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );
    let template = out_dir.join("staging/acme-shop-staging-db-postgres.yaml");
    let body = std::fs::read_to_string(&template)
        .unwrap_or_else(|e| panic!("{}: {e}", template.display()));
    assert!(body.contains("AWS::RDS::DBInstance"), "{body}");
    let params = std::fs::read_to_string(
        out_dir.join("staging/acme-shop-staging-db-postgres.parameters.json"),
    )
    .unwrap();
    assert!(
        params.contains("\"FoundationStackName\"")
            && params.contains("acme-shop-staging-foundation"),
        "{params}"
    );

    // A bad setting for the plugin is reported with its key before any AWS call.
    let bad = format!(
        "{}\n[database.rds-postgres]\nflavour = \"x\"\n",
        config_text("shop", OFFLINE_CERT, "fargate", "rds-postgres")
    );
    std::fs::write(&config, bad).unwrap();
    let render = Command::new(&rig)
        .arg("--config")
        .arg(&config)
        .args(["render", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&render.stderr);
    assert!(!render.status.success());
    assert!(
        err.contains("flavour") && err.contains("rds-postgres"),
        "{err}"
    );
}
