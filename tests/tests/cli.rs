//! The command line as users meet it: help text, exit codes, error reports, and the shape of
//! every JSON document (`--output json`), pinned by golden files in `tests/golden/json/` (one per
//! document kind; `RIG_UPDATE_GOLDEN=1` rewrites them, and a changed shape must bump the
//! document's schema version, see docs/output.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use rig_tests::matrix::{certificate_for, config_text, offline_command, rig_binary, Rig};
use rig_tests::{repo_root, LocalAws};
use serde_json::{json, Value};

/// The shape of a JSON value: objects keep their keys, arrays the merged shape of their
/// elements, scalars become their type's name.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(items) => {
            let merged = items.iter().map(shape).fold(None, |acc, s| match acc {
                None => Some(s),
                Some(a) => Some(merge(a, s)),
            });
            json!([merged.unwrap_or(json!("any"))])
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Two shapes as one: objects by key (a key missing on one side stays), differing scalars as
/// `a|b` (sorted), `null` absorbed by the other side.
fn merge(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut x), Value::Object(y)) => {
            for (k, v) in y {
                let m = match x.remove(&k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                x.insert(k, m);
            }
            Value::Object(x)
        }
        (Value::Array(x), Value::Array(y)) => {
            let (a, b) = (x.into_iter().next(), y.into_iter().next());
            match (a, b) {
                (Some(a), Some(b)) if a != json!("any") && b != json!("any") => {
                    json!([merge(a, b)])
                }
                (Some(a), Some(b)) => json!([if a == json!("any") { b } else { a }]),
                _ => json!(["any"]),
            }
        }
        (x, y) if x == y => x,
        (Value::String(n), y) if n == "null" => y,
        (x, Value::String(n)) if n == "null" => x,
        (Value::String(x), Value::String(y)) => {
            let mut parts: Vec<String> = x
                .split('|')
                .chain(y.split('|'))
                .map(str::to_string)
                .collect();
            parts.sort();
            parts.dedup();
            json!(parts.join("|"))
        }
        (x, _) => x,
    }
}

/// Compares a document's shape with its golden file (or writes it with RIG_UPDATE_GOLDEN=1).
fn golden(doc: &Value) {
    let kind = doc["schema"]
        .as_str()
        .unwrap_or_else(|| panic!("no schema field in {doc:#}"));
    let file = repo_root()
        .join("tests/golden/json")
        .join(format!("{}.json", kind.replace('/', ".v")));
    let got = serde_json::to_string_pretty(&shape(doc)).unwrap() + "\n";
    if std::env::var_os("RIG_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run with RIG_UPDATE_GOLDEN=1 to write it",
            file.display()
        )
    });
    assert_eq!(
        got,
        want,
        "the shape of {kind} changed ({}): keep it, or bump the schema version and document it",
        file.display()
    );
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            text(&o.stdout)
        )
    })
}

/// `rig` with no AWS behind it (a closed port), in `dir`.
fn offline(dir: &Path, args: &[&str]) -> Output {
    offline_command(dir).args(args).output().unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rig-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let d = tempdir("help");
    let out = offline(&d, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for cmd in [
        "up",
        "plan",
        "down",
        "status",
        "outputs",
        "render",
        "graph",
        "app",
        "pipeline",
        "completions",
        "man",
    ] {
        assert!(
            help.contains(&format!("  {cmd} ")),
            "`{cmd}` missing from --help:\n{help}"
        );
    }
    assert!(help.contains("--output <OUTPUT>"), "{help}");
    let plan = text(&offline(&d, &["plan", "--help"]).stdout);
    assert!(plan.contains("2: changes"), "{plan}");
}

#[test]
fn exit_codes_tell_usage_errors_from_failures() {
    let d = tempdir("codes");
    // A mistyped flag: a usage error (64), not "plan has changes" (2).
    let out = offline(&d, &["plan", "--bogus"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--bogus"),
        "{}",
        text(&out.stderr)
    );
    // A missing configuration: 64, with the fix as help, and as JSON on stdout when asked.
    let out = offline(&d, &["status", "--output", "json"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("cannot read rig.toml"), "{err}");
    assert!(
        err.contains("help: create it with `rig init` (or from rig.example.toml)"),
        "{err}"
    );
    let doc = json_of(&out);
    assert_eq!(doc["schema"], "rig.error/1");
    assert_eq!(doc["exit_code"], 64);
    assert!(
        doc["help"].as_str().unwrap().contains("rig.example.toml"),
        "{doc}"
    );
    assert!(!doc["message"].as_str().unwrap().contains("hint"), "{doc}");
    golden(&doc);
    // A bad flag value the CLI checks itself.
    std::fs::copy(repo_root().join("rig.example.toml"), d.join("rig.toml")).unwrap();
    let out = offline(&d, &["down", "--retain", "nothing-here", "--yes"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    // AWS unreachable: a failure (1), not a usage error.
    let out = offline(&d, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // Help and version are not errors.
    assert_eq!(offline(&d, &["--version"]).status.code(), Some(0));
}

#[test]
fn completions_and_man_pages() {
    let d = tempdir("completions");
    for shell in ["bash", "zsh", "fish"] {
        let out = offline(&d, &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains("rig") && script.contains("pipeline"),
            "{shell}: {script}"
        );
    }
    let out = offline(&d, &["man"]);
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH rig"),
        "{page}"
    );
    let out = offline(&d, &["man", "--out", d.join("man").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for page in ["rig.1", "rig-up.1", "rig-app-deploy.1"] {
        assert!(d.join("man").join(page).exists(), "{page} not written");
    }
    assert_eq!(
        offline(&d, &["completions", "cmd.exe"]).status.code(),
        Some(64)
    );
}

#[test]
fn documents_without_aws_keep_their_shapes() {
    let d = tempdir("offline-docs");
    std::fs::copy(repo_root().join("rig.example.toml"), d.join("rig.toml")).unwrap();
    let out = offline(&d, &["render", "--json", "--out", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    golden(&json_of(&out));
    let out = offline(&d, &["plugins", "list", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    golden(&json_of(&out));
    let out = offline(&d, &["graph", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    golden(&json_of(&out));
}

/// One riglet's life through the JSON documents: up, status, outputs, plan (after a change:
/// parameter and property changes), down.
#[test]
fn a_riglet_through_its_json_documents() {
    let aws = LocalAws::start().unwrap();
    let d = tempdir("life");
    let cert = certificate_for(&aws, "*.example.com").unwrap();
    let write = |spot: &str| {
        let text = format!(
            "{}\n[environments.integration]\ncidr = \"10.1.0.0/16\"\n\n[compute.fargate]\nspot_weight = {spot}\n",
            config_text("cli", &cert, "fargate", "none")
        );
        std::fs::write(d.join("rig.toml"), text).unwrap();
    };
    write("0");
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: d.join("rig.toml"),
        aws: &aws,
    };
    let run = |args: &[&str]| {
        let mut c = rig.command(args);
        c.env("NO_COLOR", "1");
        c.output().unwrap()
    };
    let check = run(&["check", "--output", "json"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
    golden(&json_of(&check));
    let up = run(&["up", "--yes", "--output", "json"]);
    assert_eq!(up.status.code(), Some(0), "{}", text(&up.stderr));
    let up_doc = json_of(&up);
    assert_eq!(up_doc["schema"], "rig.up/1");
    golden(&up_doc);
    // Nothing printed twice: each stack's progress line once on stderr.
    let err = text(&up.stderr);
    let mut seen = BTreeMap::new();
    for l in err.lines().filter(|l| l.contains(": created")) {
        *seen
            .entry(l.split_once("] ").map_or(l, |x| x.1))
            .or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "{err}");
    for args in [&["status", "--json"][..], &["outputs", "--json"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        golden(&json_of(&out));
    }
    let plan = run(&["plan", "--json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert_eq!(
        json_of(&plan)["totals"],
        json!({"add": 0, "modify": 0, "replace": 0, "remove": 0})
    );

    // A changed setting: the plan shows the parameter's old and new value and the property.
    write("2");
    let plan = run(&["plan"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stderr));
    let shown = text(&plan.stdout);
    assert!(shown.contains("~ parameter "), "{shown}");
    assert!(shown.contains(": 0 → 2"), "{shown}");
    assert!(shown.contains("Plan: 0 to add, "), "{shown}");
    let plan = run(&["plan", "--json"]);
    assert_eq!(plan.status.code(), Some(2));
    let doc = json_of(&plan);
    golden(&doc);
    let changed: Vec<&Value> = doc["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["parameters"].as_array().into_iter().flatten())
        .collect();
    assert!(
        changed
            .iter()
            .any(|p| p["before"] == "0" && p["after"] == "2"),
        "{doc:#}"
    );

    let down = run(&["down", "--yes", "--json"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down.stderr));
    golden(&json_of(&down));
    let down_err = text(&down.stderr);
    assert!(
        !down_err.contains("deleted bucket"),
        "listed on stdout only:\n{down_err}"
    );
}
