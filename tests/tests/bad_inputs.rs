//! The bad-input corpus (`tests/corpus/bad_inputs.toml`): every case is a rig.toml, a command
//! line and environment variables a user could give, with the message fragments rig must print
//! and the exit code it must end with. AWS is a counting endpoint on loopback that answers no
//! request: a case refused before AWS must leave its count at zero.
//!
//! `RIG_CORPUS_SHOW=1` prints what rig said for every case (to write a new case's `expect`).

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rig_tests::matrix::rig_binary;
use rig_tests::repo_root;

/// A loopback port that counts the connections made to it and closes each at once.
struct CountingEndpoint {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl CountingEndpoint {
    fn start() -> CountingEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                seen.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut s) = stream {
                    // Read what was sent, then hang up: the request gets no answer.
                    let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(50)));
                    let _ = s.read(&mut [0u8; 4096]);
                }
            }
        });
        CountingEndpoint { url, connections }
    }

    fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// One case of the corpus.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// TOML merged into the base config (tables merge, other values replace).
    #[serde(default)]
    config: String,
    /// Dotted keys removed from the base config.
    #[serde(default)]
    unset: Vec<String>,
    /// The whole rig.toml, instead of the base and `config`.
    file: Option<String>,
    /// No rig.toml at all.
    #[serde(default)]
    no_file: bool,
    /// Other files to write in the project folder: name → contents.
    #[serde(default)]
    files: toml::Table,
    /// The command line after `rig`; `{dir}` is the project folder.
    #[serde(default = "default_args")]
    args: Vec<String>,
    /// Environment variables; `{dir}` is the project folder.
    #[serde(default)]
    env: toml::Table,
    /// Fragments the error output (stderr) must hold, each.
    expect: Vec<String>,
    /// Fragments it must not hold (a secret echoed back, say).
    #[serde(default)]
    absent: Vec<String>,
    /// The exit code: 64 (usage or configuration error) unless given.
    #[serde(default = "default_exit")]
    exit: i32,
    /// Whether the case may reach AWS (refused by AWS's answer, not before it).
    #[serde(default)]
    reaches_aws: bool,
}

fn default_args() -> Vec<String> {
    vec!["plan".into()]
}

fn default_exit() -> i32 {
    64
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    base: String,
    case: Vec<Case>,
}

/// `over` merged into `base`: tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn unset(t: &mut toml::Table, dotted: &str) {
    match dotted.split_once('.') {
        None => {
            t.remove(dotted);
        }
        Some((head, rest)) => {
            if let Some(toml::Value::Table(inner)) = t.get_mut(head) {
                unset(inner, rest);
            }
        }
    }
}

fn config_text(base: &str, case: &Case) -> Option<String> {
    if case.no_file {
        return None;
    }
    if let Some(f) = &case.file {
        return Some(f.clone());
    }
    let mut t: toml::Table = base.parse().expect("the corpus base is TOML");
    for k in &case.unset {
        unset(&mut t, k);
    }
    let over: toml::Table = case
        .config
        .parse()
        .unwrap_or_else(|e| panic!("case `{}`: its config is not TOML: {e}", case.name));
    merge(&mut t, over);
    Some(toml::to_string(&t).expect("TOML out"))
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs one case; `Err` says how it went wrong.
fn run(case: &Case, base: &str, aws: &CountingEndpoint) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let at = |s: &str| s.replace("{dir}", &dir.path().display().to_string());
    if let Some(text) = config_text(base, case) {
        std::fs::write(dir.path().join("rig.toml"), text).unwrap();
    }
    for (name, contents) in &case.files {
        std::fs::write(dir.path().join(name), value_text(contents)).unwrap();
    }
    let mut cmd = std::process::Command::new(rig_binary());
    cmd.current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_ENDPOINT_URL", &aws.url)
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    for (k, v) in &case.env {
        cmd.env(k, at(&value_text(v)));
    }
    let args: Vec<String> = case.args.iter().map(|a| at(a)).collect();
    let before = aws.count();
    let out = cmd.args(&args).output().unwrap();
    let calls = aws.count() - before;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let said = format!(
        "exit {:?}, {calls} connection(s) to AWS\n--- stderr\n{stderr}--- stdout\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
    let mut wrong = Vec::new();
    if out.status.code() != Some(case.exit) {
        wrong.push(format!(
            "exit code {:?}, not {}",
            out.status.code(),
            case.exit
        ));
    }
    for e in &case.expect {
        if !stderr.contains(e.as_str()) {
            wrong.push(format!("no `{e}`"));
        }
    }
    for a in &case.absent {
        if stderr.contains(a.as_str()) || String::from_utf8_lossy(&out.stdout).contains(a.as_str())
        {
            wrong.push(format!("`{a}` was printed"));
        }
    }
    if !case.reaches_aws && calls > 0 {
        wrong.push(format!("{calls} connection(s) to AWS before refusing"));
    }
    if wrong.is_empty() {
        Ok(said)
    } else {
        Err(format!("{}\n{said}", wrong.join("; ")))
    }
}

#[test]
fn every_bad_input_is_refused_with_its_message_and_exit_code_before_any_aws_call() {
    assert!(
        rig_binary().exists(),
        "{} is not built; run `cargo xtask test`",
        rig_binary().display()
    );
    let path = repo_root().join("tests/corpus/bad_inputs.toml");
    let corpus: Corpus = toml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let show = std::env::var_os("RIG_CORPUS_SHOW").is_some();
    let aws = CountingEndpoint::start();
    let mut names = std::collections::HashSet::new();
    let mut failed = Vec::new();
    for case in &corpus.case {
        assert!(names.insert(&case.name), "two cases named `{}`", case.name);
        match run(case, &corpus.base, &aws) {
            Ok(said) if show => eprintln!("=== {}\n{said}", case.name),
            Ok(_) => {}
            Err(why) => failed.push(format!("=== {}: {why}", case.name)),
        }
    }
    eprintln!(
        "{} cases, {} as expected; the counting endpoint saw {} connection(s) in all",
        corpus.case.len(),
        corpus.case.len() - failed.len(),
        aws.count()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(
        corpus.case.len() >= 120,
        "the corpus holds {} cases",
        corpus.case.len()
    );
}

/// The counter is real: a valid config does reach the endpoint.
#[test]
fn the_counting_endpoint_sees_a_valid_riglet() {
    let path = repo_root().join("tests/corpus/bad_inputs.toml");
    let corpus: Corpus = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let aws = CountingEndpoint::start();
    let case = Case {
        name: "the base config".into(),
        config: String::new(),
        unset: vec![],
        file: None,
        no_file: false,
        files: toml::Table::new(),
        args: default_args(),
        env: toml::Table::new(),
        expect: vec![],
        absent: vec![],
        exit: 1,
        reaches_aws: true,
    };
    let said = run(&case, &corpus.base, &aws).unwrap_or_else(|e| panic!("{e}"));
    assert!(aws.count() > 0, "{said}");
}
