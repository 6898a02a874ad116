//! The plugin host against real libraries: the broken fixtures of `tests/fixtures/broken-plugins`,
//! the third-party example `examples/third-party-db`, and the workspace's own plugins when built.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rig_core::testing::{sample_env_request, settings};
use rig_core::{Backend, EnvRequest, EnvStackNames, PluginError, Role, Settings, PROTOCOL_VERSION};
use rig_engine::plugin::{
    plugin_file_name, DynamicPlugin, HostError, Origin, PluginHost, SearchEnv, SearchPath,
};
use serde_json::json;
use tempfile::TempDir;

/// Writes a line to the real stderr, past the test harness's capture, so that it shows in the
/// output of a passing run too (build time, skipped cases).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("rig-engine lives in the workspace")
        .to_path_buf()
}

fn cargo_build(manifest: &Path, target_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let out = Command::new(cargo)
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building {} failed:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the fixtures and the example once per test binary; returns the folder holding them.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let target = root.join("target").join("fixtures");
        let start = Instant::now();
        cargo_build(
            &root.join("tests/fixtures/broken-plugins/Cargo.toml"),
            &target,
        );
        cargo_build(&root.join("examples/third-party-db/Cargo.toml"), &target);
        say!(
            "plugin fixtures and example built in {:.1?}",
            start.elapsed()
        );
        target.join("debug")
    })
}

/// The built library of fixture or example `id`.
fn fixture(id: &str) -> PathBuf {
    let p = built().join(plugin_file_name(id));
    assert!(p.is_file(), "{} was not built", p.display());
    p
}

/// A fresh folder holding copies of the given plugins, under the names the host expects.
fn dir_with(ids: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for id in ids {
        std::fs::copy(fixture(id), dir.path().join(plugin_file_name(id))).unwrap();
    }
    dir
}

fn host_over(dirs: &[&Path]) -> PluginHost {
    PluginHost::new(SearchPath::from_dirs(dirs.iter().map(|d| d.to_path_buf())))
}

/// The sample staging request of `rig_core::testing`, for the stack with this suffix.
fn env_request(suffix: &str, settings: Settings) -> EnvRequest {
    sample_env_request("staging", suffix, settings)
}

fn err_of<T>(r: Result<T, HostError>) -> HostError {
    match r {
        Ok(_) => panic!("expected a HostError"),
        Err(e) => e,
    }
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected {p:?} in:\n{msg}");
    }
}

#[test]
fn missing_entry_symbol_is_refused() {
    let dir = dir_with(&["missing-entry"]);
    let host = host_over(&[dir.path()]);
    let e = err_of(host.find(Role::Compute, "missing-entry"));
    assert!(matches!(e, HostError::MissingEntry { .. }), "{e:?}");
    assert_contains(
        &e.to_string(),
        &["rig_plugin_entry_v1", "not a rig plugin", "export_plugin!"],
    );
    // Loaded directly, by path, it says the same.
    let e = err_of(host.load(&fixture("missing-entry")));
    assert!(matches!(e, HostError::MissingEntry { .. }), "{e:?}");
}

#[test]
fn wrong_abi_version_names_both_versions() {
    let e = err_of(PluginHost::new(SearchPath::empty()).load(&fixture("wrong-abi")));
    assert!(
        matches!(
            e,
            HostError::AbiMismatch {
                plugin: 2,
                host: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert_contains(
        &e.to_string(),
        &["ABI version 2", "ABI version 1", "rebuild the plugin"],
    );
}

#[test]
fn short_table_is_refused() {
    let e = err_of(PluginHost::new(SearchPath::empty()).load(&fixture("short-table")));
    assert!(matches!(e, HostError::BadTable { .. }), "{e:?}");
    let needed = std::mem::size_of::<rig_core::protocol::PluginVTableV1>().to_string();
    let short = (std::mem::size_of::<u32>() + std::mem::size_of::<usize>()).to_string();
    assert_contains(&e.to_string(), &["struct_size", &needed, &short]);
}

#[test]
fn incompatible_protocol_major_names_both_versions() {
    let dir = dir_with(&["protocol-major"]);
    let host = host_over(&[dir.path()]);
    let e = err_of(host.find(Role::Compute, "protocol-major"));
    assert!(matches!(e, HostError::Incompatible { .. }), "{e:?}");
    assert_eq!(PROTOCOL_VERSION, "1.1.0");
    assert_contains(&e.to_string(), &["protocol-major", "2.0.0", "1.1.0"]);
    // The listing still shows what the plugin says about itself.
    let rows = host.list();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].compatible);
    assert_eq!(rows[0].manifest.as_ref().unwrap().protocol, "2.0.0");
    assert_contains(rows[0].problem.as_deref().unwrap(), &["2.0.0", "1.1.0"]);
}

#[test]
fn a_panicking_plan_poisons_the_plugin() {
    // Its own copy, so no other test shares the poisoned plugin.
    let dir = dir_with(&["panics"]);
    let host = host_over(&[dir.path()]);
    let compute = host.compute("panics").unwrap();
    assert!(compute.validate(&settings(json!({"size": 3}))).is_empty());
    let issues = compute.validate(&settings(json!({"colour": "red"})));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "colour");

    let req = env_request("compute-panics", Settings::new());
    let first = compute.plan_compute(&req).unwrap_err();
    let PluginError::Panic(msg) = &first else {
        panic!("expected a Panic error, got {first:?}")
    };
    assert_contains(
        msg,
        &[
            "the panics fixture always panics in plan",
            "acme-shop-staging-compute-panics",
        ],
    );

    let second = compute.plan_compute(&req).unwrap_err();
    assert!(matches!(second, PluginError::Protocol(_)), "{second:?}");
    assert_contains(
        &second.to_string(),
        &["panicked earlier in this run", "no longer called"],
    );
    // validate, which worked before, is refused too, as one issue about the table as a whole.
    let issues = compute.validate(&settings(json!({"size": 3})));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "");
    assert_contains(&issues[0].message, &["panicked earlier in this run"]);
    // The same library, asked for again, is the same poisoned plugin.
    assert!(host.find(Role::Compute, "panics").unwrap().is_poisoned());
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(plugin_file_name("text")),
        "this is a text file, not a shared library\n",
    )
    .unwrap();
    let host = host_over(&[dir.path()]);
    let e = err_of(host.find(Role::Database, "text"));
    assert!(matches!(e, HostError::Open { .. }), "{e:?}");
    assert_contains(
        &e.to_string(),
        &["cannot open", "shared library", "cargo build --release"],
    );
}

#[test]
fn a_manifest_that_is_not_json_is_refused() {
    let e = err_of(PluginHost::new(SearchPath::empty()).load(&fixture("bad-manifest")));
    assert!(matches!(e, HostError::BadManifest { .. }), "{e:?}");
    assert_contains(&e.to_string(), &["not JSON", "this is not JSON"]);
}

#[test]
fn not_found_lists_every_place_searched() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let missing_file = a.path().join("my-plugin.so");
    let search =
        SearchPath::from_dirs([a.path(), b.path()]).with_file(&missing_file, Origin::Explicit);
    let e = err_of(PluginHost::new(search).find(Role::Database, "nosuch-db"));
    let HostError::NotFound {
        searched, skipped, ..
    } = &e
    else {
        panic!("expected NotFound, got {e:?}")
    };
    assert_eq!(searched.len(), 3);
    assert_eq!(skipped.len(), 1, "the missing explicit file is reported");
    let msg = e.to_string();
    assert_contains(
        &msg,
        &[
            "no database plugin `nosuch-db`",
            &plugin_file_name("nosuch-db").to_string_lossy(),
            &a.path().display().to_string(),
            &b.path().display().to_string(),
            &missing_file.display().to_string(),
            "cargo build",
            ".rig/plugins",
            "RIG_PLUGIN_PATH",
        ],
    );
}

#[test]
fn not_found_names_the_backends_found_and_the_nearest_one() {
    let dir = dir_with(&["rds-postgres", "panics"]);
    let host = host_over(&[dir.path()]);
    let e = err_of(host.find(Role::Database, "rds-postgre"));
    let HostError::NotFound { known, .. } = &e else {
        panic!("expected NotFound, got {e:?}")
    };
    assert!(known.contains(&"rds-postgres".to_string()), "{known:?}");
    assert_contains(
        &e.to_string(),
        &[
            "Did you mean `rds-postgres`?",
            "The database backends rig found: ",
        ],
    );
    let e = err_of(host.find(Role::Database, "mongo"));
    assert!(!e.to_string().contains("Did you mean"), "{e}");
}

#[test]
fn invalid_ids_are_refused_before_searching() {
    let e = err_of(PluginHost::new(SearchPath::empty()).find(Role::Compute, "../Evil"));
    assert!(matches!(e, HostError::InvalidId { .. }), "{e:?}");
}

#[test]
fn role_mismatch_names_both_roles() {
    let dir = dir_with(&["rds-postgres"]);
    let host = host_over(&[dir.path()]);
    let e = err_of(host.compute("rds-postgres"));
    assert!(
        matches!(
            e,
            HostError::RoleMismatch {
                wanted: Role::Compute,
                actual: Role::Database,
                ..
            }
        ),
        "{e:?}"
    );
    assert_contains(&e.to_string(), &["rds-postgres", "database", "compute"]);
    // Through the trait of the wrong role, a loaded plugin refuses with a protocol error.
    let plugin = host.find(Role::Database, "rds-postgres").unwrap();
    let wrong =
        rig_core::Compute::plan_compute(&*plugin, &env_request("x", Settings::new())).unwrap_err();
    assert!(matches!(wrong, PluginError::Protocol(_)), "{wrong:?}");
    assert_contains(&wrong.to_string(), &["database", "compute"]);
}

#[test]
fn listing_goes_on_past_every_broken_plugin() {
    let all = [
        "bad-manifest",
        "missing-entry",
        "panics",
        "protocol-major",
        "rds-postgres",
        "short-table",
        "wrong-abi",
    ];
    let dir = dir_with(&all);
    std::fs::write(dir.path().join(plugin_file_name("text")), "not a library").unwrap();
    std::fs::write(dir.path().join("README.txt"), "not a candidate").unwrap();
    let host = host_over(&[dir.path()]);

    // Failures first: the host goes on after each.
    for id in [
        "bad-manifest",
        "missing-entry",
        "short-table",
        "wrong-abi",
        "text",
    ] {
        assert!(host.find(Role::Compute, id).is_err(), "{id} must not load");
    }
    assert!(host.database("rds-postgres").is_ok());

    let rows = host.list();
    assert_eq!(rows.len(), all.len() + 1, "{rows:#?}");
    for row in &rows {
        let id = row
            .path
            .file_name()
            .and_then(rig_engine::plugin::id_from_file_name)
            .unwrap();
        let should_work = id == "rds-postgres" || id == "panics";
        assert_eq!(row.compatible, should_work, "{row:#?}");
        assert_eq!(row.problem.is_some(), !should_work, "{row:#?}");
        assert!(!row.shadowed);
        assert_eq!(row.origin, Origin::Explicit);
    }
    let good = rows
        .iter()
        .find(|r| r.manifest.as_ref().is_some_and(|m| m.id == "rds-postgres"))
        .unwrap();
    assert!(good.compatible);
    assert_eq!(good.manifest.as_ref().unwrap().role, Role::Database);
    // The listing serialises for `rig plugins list --json`.
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(json.as_array().unwrap().len(), rows.len());
    assert!(json[0]["path"].is_string());
}

#[test]
fn the_first_folder_wins_and_later_copies_are_shadowed() {
    let first = dir_with(&["rds-postgres"]);
    let second = dir_with(&["rds-postgres"]);
    let host = host_over(&[first.path(), second.path()]);
    let found = host.find(Role::Database, "rds-postgres").unwrap();
    assert!(
        found.path().starts_with(first.path()),
        "{}",
        found.path().display()
    );
    let rows = host.list();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows[0].compatible && !rows[0].shadowed);
    assert!(rows[1].compatible && rows[1].shadowed, "{rows:#?}");
    assert_eq!(rows[1].shadowed_by.as_deref(), Some(rows[0].path.as_path()));

    // An explicit file comes before every folder, whatever its name.
    let elsewhere = tempfile::tempdir().unwrap();
    let explicit = elsewhere.path().join("postgres-backend.so");
    std::fs::copy(fixture("rds-postgres"), &explicit).unwrap();
    let search = SearchPath::empty()
        .with_file(&explicit, Origin::Explicit)
        .with_dir(first.path(), Origin::Project);
    let found = PluginHost::new(search)
        .find(Role::Database, "rds-postgres")
        .unwrap();
    assert_eq!(found.path(), explicit);
}

#[test]
fn the_same_file_is_loaded_once() {
    let dir = dir_with(&["rds-postgres"]);
    let link_dir = tempfile::tempdir().unwrap();
    let host = host_over(&[dir.path()]);
    let a = host.find(Role::Database, "rds-postgres").unwrap();
    let b = host.find(Role::Database, "rds-postgres").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    #[cfg(unix)]
    {
        let link = link_dir.path().join(plugin_file_name("rds-postgres"));
        std::os::unix::fs::symlink(a.path(), &link).unwrap();
        let c = PluginHost::new(SearchPath::empty()).load(&link).unwrap();
        assert!(
            Arc::ptr_eq(&a, &c),
            "a symlink to a loaded file is the same plugin"
        );
    }
}

#[test]
fn the_third_party_example_loads_validates_and_plans() {
    let dir = dir_with(&["rds-postgres"]);
    let host = host_over(&[dir.path()]);
    let db = host.database("rds-postgres").unwrap();
    let m = db.manifest();
    assert_eq!(m.id, "rds-postgres");
    assert_eq!(m.role, Role::Database);
    assert_eq!(m.stack_suffix, "db-postgres");
    assert_eq!(m.protocol, PROTOCOL_VERSION);

    assert!(db.validate(&settings(json!({}))).is_empty());
    assert!(db
        .validate(&settings(
            json!({"instance_class": "db.t4g.small", "storage_gib": 50})
        ))
        .is_empty());
    let issues = db.validate(&settings(json!({"iops": 3000})));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "iops");
    assert_contains(&issues[0].message, &["unknown setting", "instance_class"]);

    let plans = db
        .plan_database(&env_request(
            "db-postgres",
            settings(json!({"storage_gib": 40})),
        ))
        .unwrap();
    assert_eq!(plans.len(), 1);
    let plan = &plans[0];
    assert_eq!(plan.name, "acme-shop-staging-db-postgres");
    assert_eq!(plan.role, Role::Database);
    assert!(plan.template_body.contains("AWS::RDS::DBInstance"));
    assert_eq!(plan.parameters["StorageGib"], "40");
    assert_eq!(plan.parameters["InstanceClass"], "db.t4g.micro");
    assert_eq!(plan.parameters["ProjectName"], "shop");
    assert_eq!(plan.depends_on, vec!["acme-shop-staging-foundation"]);
    assert_eq!(plan.tags["Owner"], "acme");

    // Bad settings come back as the plugin's invalid-input error.
    let e = db
        .plan_database(&env_request(
            "db-postgres",
            settings(json!({"storage_gib": 1})),
        ))
        .unwrap_err();
    assert!(matches!(e, PluginError::InvalidInput(_)), "{e:?}");
    assert_contains(&e.to_string(), &["storage_gib"]);
}

#[test]
fn the_standard_search_order() {
    let project = tempfile::tempdir().unwrap();
    let explicit_dir = tempfile::tempdir().unwrap();
    let sep = if cfg!(windows) { ";" } else { ":" };
    let env = SearchEnv {
        rig_plugin_path: Some(format!("/opt/one{sep}{sep}/opt/two").into()),
        xdg_data_home: None,
        home: Some("/home/someone".into()),
        exe: Some(PathBuf::from("/usr/local/bin/rig")),
    };
    let sp = SearchPath::from_env(
        vec![
            PathBuf::from("/x/librig_plugin_a.so"),
            explicit_dir.path().to_path_buf(),
        ],
        Some(project.path()),
        &env,
    );
    let got: Vec<(PathBuf, Origin)> = sp
        .entries()
        .iter()
        .map(|e| (e.path.clone(), e.origin))
        .collect();
    assert_eq!(
        got,
        vec![
            (PathBuf::from("/x/librig_plugin_a.so"), Origin::Explicit),
            (explicit_dir.path().to_path_buf(), Origin::Explicit),
            (PathBuf::from("/opt/one"), Origin::EnvVar),
            (PathBuf::from("/opt/two"), Origin::EnvVar),
            (project.path().join(".rig/plugins"), Origin::Project),
            (
                PathBuf::from("/home/someone/.local/share/rig/plugins"),
                Origin::UserData
            ),
            (PathBuf::from("/usr/local/bin"), Origin::BesideExecutable),
        ]
    );
    assert_eq!(sp.entries()[0].kind, rig_engine::plugin::EntryKind::File);
    assert_eq!(sp.entries()[1].kind, rig_engine::plugin::EntryKind::Dir);

    let xdg = SearchEnv {
        xdg_data_home: Some("/data".into()),
        ..env
    };
    let sp = SearchPath::from_env(Vec::new(), None, &xdg);
    assert!(sp
        .entries()
        .iter()
        .any(|e| e.origin == Origin::UserData && e.path == Path::new("/data/rig/plugins")));
}

#[test]
fn discovery_through_the_project_folder_and_rig_plugin_path() {
    // The project folder is searched; RIG_PLUGIN_PATH comes before it.
    let project = tempfile::tempdir().unwrap();
    let plugins = project.path().join(".rig").join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        fixture("rds-postgres"),
        plugins.join(plugin_file_name("rds-postgres")),
    )
    .unwrap();
    let env_dir = dir_with(&["rds-postgres"]);
    let env = SearchEnv {
        rig_plugin_path: Some(env_dir.path().as_os_str().to_owned()),
        ..SearchEnv::default()
    };
    let host = PluginHost::new(SearchPath::from_env(Vec::new(), Some(project.path()), &env));
    let found = host.find(Role::Database, "rds-postgres").unwrap();
    assert!(found.path().starts_with(env_dir.path()));
    let rows = host.list();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].origin, Origin::EnvVar);
    assert_eq!(rows[1].origin, Origin::Project);
    assert!(rows[1].shadowed);

    let host = PluginHost::new(SearchPath::from_env(
        Vec::new(),
        Some(project.path()),
        &SearchEnv::default(),
    ));
    let found = host.find(Role::Database, "rds-postgres").unwrap();
    assert!(found.path().starts_with(&plugins));
}

/// The workspace's own plugins, when `cargo build` has built them beside the `rig` binary.
#[test]
fn the_workspace_plugins_load_when_built() {
    let debug = repo_root().join("target").join("debug");
    if !debug.join(plugin_file_name("fargate")).is_file() {
        say!(
            "SKIPPED the_workspace_plugins_load_when_built: {} is absent (run `cargo build` \
             in the workspace to build the plugins)",
            debug.join(plugin_file_name("fargate")).display()
        );
        return;
    }
    let host = host_over(&[debug.as_path()]);
    let known = [
        ("fargate", Role::Compute),
        ("ecs-ec2", Role::Compute),
        ("aurora-provisioned", Role::Database),
        ("aurora-serverless", Role::Database),
        ("couchdb", Role::Database),
    ];
    for (id, role) in known {
        if !debug.join(plugin_file_name(id)).is_file() {
            say!("SKIPPED workspace plugin `{id}`: not built");
            continue;
        }
        let plugin: Arc<DynamicPlugin> = match host.find(role, id) {
            Ok(p) => p,
            Err(e) => panic!("workspace plugin `{id}` does not load: {e}"),
        };
        let m = plugin.manifest_ref();
        assert_eq!(m.role, role);
        assert_eq!(m.protocol, PROTOCOL_VERSION, "{id}");
        say!(
            "workspace plugin `{id}` {} loaded (stack suffix {})",
            m.version,
            m.stack_suffix
        );
        // Default settings get an answer (issues or none), never a transport failure.
        for issue in plugin.validate(&Settings::new()) {
            assert!(
                !issue.key.is_empty(),
                "`{id}` validate failed: {}",
                issue.message
            );
        }
        if role == Role::Compute || role == Role::Database {
            let stacks = EnvStackNames {
                foundation: "acme-shop-staging-foundation".into(),
                compute: Some("acme-shop-staging-compute-ecs".into()),
                database: Some(format!("acme-shop-staging-{}", m.stack_suffix)),
            };
            let mut req = env_request(&m.stack_suffix, Settings::new());
            req.stacks = stacks;
            let result = if role == Role::Compute {
                rig_core::Compute::plan_compute(&*plugin, &req)
            } else {
                rig_core::Database::plan_database(&*plugin, &req)
            };
            match result {
                Ok(plans) => assert!(!plans.is_empty(), "`{id}` planned nothing"),
                Err(e @ (PluginError::Panic(_) | PluginError::Protocol(_))) => {
                    panic!("workspace plugin `{id}` failed to plan: {e}")
                }
                Err(e) => say!("workspace plugin `{id}` refused the sample request: {e}"),
            }
        }
    }
    let rows = host.list();
    for row in rows.iter().filter(|r| {
        r.manifest
            .as_ref()
            .is_some_and(|m| known.iter().any(|(id, _)| *id == m.id))
    }) {
        assert!(row.compatible, "{row:#?}");
    }
}
