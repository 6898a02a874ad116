//! Ownership end to end: `rig down`, `plan`, `up`, `protect` act only on what carries this
//! riglet's tags (or, untagged, has exactly a name the plan gives), never on another riglet's or
//! another environment's stacks, buckets and parameters that merely share a prefix, suffix or
//! substring of its names. Every test runs the real `rig` binary against its own emulator and
//! checks what is left through the AWS SDK, not through rig.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rig_tests::matrix::{certificate_for, describe, rig_binary, Rig};
use rig_tests::LocalAws;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Riglets and runs
// ---------------------------------------------------------------------------------------------

const REGION: &str = "us-east-1";
const DEFAULT_ENVS: [&str; 3] = ["integration", "staging", "production"];

/// The emulator of one test, with a certificate the HTTPS listeners can use.
struct World {
    aws: LocalAws,
    cert: String,
    bin: PathBuf,
}

fn world() -> World {
    let bin = rig_binary();
    assert!(
        bin.exists(),
        "{} is not built; run `cargo build --workspace --exclude xtask --all-targets`",
        bin.display()
    );
    let aws = LocalAws::start().expect("local AWS starts");
    let cert = certificate_for(&aws, "example.com").expect("certificate");
    World { aws, cert, bin }
}

/// One riglet: its own folder and `rig.toml`.
struct Riglet {
    owner: String,
    project: String,
    /// The environments in the file (empty: the defaults).
    envs: Vec<String>,
    /// The database backend in the file.
    db: String,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

/// `owner`/`project` with these environments (`(name, cidr)`; empty for the defaults), compute
/// fargate, database `db`, and `extra` appended to the file.
fn riglet(
    w: &World,
    owner: &str,
    project: &str,
    envs: &[(&str, &str)],
    db: &str,
    extra: &str,
) -> Riglet {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        r#"owner = "{owner}"
project = "{project}"
region = "{REGION}"
domain = "example.com"
domain_cert = "{cert}"

[compute]
backend = "fargate"

[database]
backend = "{db}"
"#,
        cert = w.cert
    );
    for (name, cidr) in envs {
        text.push_str(&format!("\n[environments.{name}]\ncidr = \"{cidr}\"\n"));
    }
    text.push_str(extra);
    let config = dir.path().join("rig.toml");
    std::fs::write(&config, text).unwrap();
    Riglet {
        owner: owner.into(),
        project: project.into(),
        envs: if envs.is_empty() {
            DEFAULT_ENVS.iter().map(|e| e.to_string()).collect()
        } else {
            envs.iter().map(|(e, _)| e.to_string()).collect()
        },
        db: db.into(),
        config,
        _dir: dir,
    }
}

/// One finished run of `rig`.
#[derive(Debug)]
struct Out {
    cmd: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn show(&self) -> String {
        format!(
            "`{}` exited {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }

    /// Requires this exit code; returns self for chaining.
    fn code(&self, want: i32) -> &Out {
        assert_eq!(self.code, Some(want), "{}", self.show());
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.show()))
    }

    fn stderr_has(&self, fragment: &str) -> &Out {
        assert!(
            self.stderr.contains(fragment),
            "stderr lacks {fragment:?}:\n{}",
            self.show()
        );
        self
    }

    /// Requires a stderr line that starts with `prefix` (after indentation) and ends with
    /// `suffix`.
    fn stderr_line(&self, prefix: &str, suffix: &str) -> &Out {
        assert!(
            self.stderr
                .lines()
                .map(str::trim_start)
                .any(|l| l.starts_with(prefix) && l.trim_end().ends_with(suffix)),
            "stderr has no line `{prefix}...{suffix}`:\n{}",
            self.show()
        );
        self
    }

    fn stderr_lacks(&self, fragment: &str) -> &Out {
        assert!(
            !self.stderr.contains(fragment),
            "stderr must not contain {fragment:?}:\n{}",
            self.show()
        );
        self
    }
}

impl Riglet {
    fn command(&self, w: &World, args: &[&str]) -> Command {
        Rig {
            bin: &w.bin,
            config: self.config.clone(),
            aws: &w.aws,
        }
        .command(args)
    }

    fn run(&self, w: &World, args: &[&str]) -> Out {
        let mut c = self.command(w, args);
        c.stdin(Stdio::null());
        let cmd = format!("rig {}", args.join(" "));
        let o = c
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", describe(&c)));
        Out {
            cmd,
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn stack(&self, env: &str, suffix: &str) -> String {
        format!("{}-{}-{env}-{suffix}", self.owner, self.project)
    }

    /// The stack suffixes of one environment: compute fargate, and no database or Aurora.
    fn kinds(&self) -> Vec<&'static str> {
        let mut k = vec!["foundation", "compute-ecs"];
        match self.db.as_str() {
            "none" => {}
            "aurora-serverless" | "aurora-provisioned" => k.push("db-aurora"),
            other => panic!("the test helpers do not know the names of database {other}"),
        }
        k
    }

    /// The stacks of one environment.
    fn env_stacks(&self, env: &str) -> Vec<String> {
        self.kinds().iter().map(|k| self.stack(env, k)).collect()
    }

    /// The buckets of one environment (template buckets and the foundation's app bucket).
    fn env_buckets(&self, env: &str) -> Vec<String> {
        self.kinds()
            .iter()
            .chain(&["app"])
            .map(|k| self.bucket(k, Some(env)))
            .collect()
    }

    /// The secrets of one environment.
    fn env_secrets(&self, env: &str) -> Vec<String> {
        if self.db.starts_with("aurora") {
            vec![format!(
                "/{}/{}/env/{env}/db/DB_MASTER_PASSWORD",
                self.owner, self.project
            )]
        } else {
            vec![]
        }
    }

    fn bucket(&self, kind: &str, env: Option<&str>) -> String {
        let mut b = format!("rig-{}-{}-{REGION}-{kind}", self.owner, self.project);
        if let Some(e) = env {
            b.push('-');
            b.push_str(e);
        }
        b
    }

    /// Everything of one environment but its secrets, by exact names.
    fn env_gone(&self, env: &str) -> Gone {
        Gone {
            stacks: self.env_stacks(env),
            buckets: self.env_buckets(env),
            parameters: vec![],
        }
    }

    /// The riglet-wide parameters rig writes (no key pair, no e-mail configured), checked in
    /// `before` to carry the riglet's tags.
    fn riglet_parameters(&self, before: &Snapshot) -> Vec<String> {
        let names: Vec<String> = ["DOMAIN", "DOMAIN_CERT"]
            .iter()
            .map(|p| format!("/{}/{}/{p}", self.owner, self.project))
            .collect();
        for n in &names {
            let v = before
                .parameters
                .get(n)
                .unwrap_or_else(|| panic!("parameter {n} missing: {:?}", before.parameters.keys()));
            for tag in [
                format!("tag rig:owner={}", self.owner),
                format!("tag rig:project={}", self.project),
                "tag rig:role=foundation".to_string(),
            ] {
                assert!(
                    v.lines().any(|l| l == tag),
                    "parameter {n} lacks {tag}:\n{v}"
                );
            }
        }
        names
    }

    /// The riglet's lock bucket, which `up` makes and a full `down` removes last.
    fn lock_bucket(&self) -> String {
        format!("rig-{}-{}-{REGION}-lock", self.owner, self.project)
    }

    /// Everything of the whole riglet (no database, no pipelines): every environment plus the
    /// riglet-wide parameters and the lock bucket `up` made.
    fn all_gone(&self, before: &Snapshot) -> Gone {
        let mut g = Gone::default();
        for e in &self.envs {
            let x = self.env_gone(e);
            g.stacks.extend(x.stacks);
            g.buckets.extend(x.buckets);
        }
        g.buckets
            .push(format!("rig-{}-{}-{REGION}-lock", self.owner, self.project));
        g.parameters = self.riglet_parameters(before);
        g
    }
}

/// Runs several `rig` commands at the same time; outputs in the same order.
fn run_parallel(w: &World, runs: &[(&Riglet, Vec<&str>)]) -> Vec<Out> {
    let children: Vec<_> = runs
        .iter()
        .map(|(r, args)| {
            let mut c = r.command(w, args);
            c.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            (
                format!("rig --config {} {}", r.config.display(), args.join(" ")),
                c.spawn().expect("spawn rig"),
            )
        })
        .collect();
    children
        .into_iter()
        .map(|(cmd, child)| {
            let o = child.wait_with_output().expect("wait for rig");
            Out {
                cmd,
                code: o.status.code(),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            }
        })
        .collect()
}

/// The `stacks` entry of a plan or status report named `name`.
fn entry<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|s| s["name"] == name)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// What is in the emulator, read through the SDK
// ---------------------------------------------------------------------------------------------

/// Every live stack, bucket and parameter of the account, with what identifies its state: for a
/// stack its status, times, protection, tags, parameters, outputs and resources; for a bucket
/// its tags and every object version with its body; for a parameter its type, value, version
/// and tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Snapshot {
    stacks: BTreeMap<String, String>,
    buckets: BTreeMap<String, String>,
    parameters: BTreeMap<String, String>,
}

/// What a command is expected to have removed, by exact names.
#[derive(Debug, Clone, Default)]
struct Gone {
    stacks: Vec<String>,
    buckets: Vec<String>,
    parameters: Vec<String>,
}

impl Gone {
    fn and(mut self, other: Gone) -> Gone {
        self.stacks.extend(other.stacks);
        self.buckets.extend(other.buckets);
        self.parameters.extend(other.parameters);
        self
    }
}

fn short(s: &str) -> String {
    if s.len() > 400 {
        let mut end = 400;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    } else {
        s.to_string()
    }
}

/// Requires `after` to be `before` without exactly `gone` (each of which existed before), and
/// everything else byte-for-byte equal.
fn assert_only_gone(what: &str, before: &Snapshot, after: &Snapshot, gone: &Gone) {
    let mut problems = Vec::new();
    for (kind, b, a, g) in [
        ("stack", &before.stacks, &after.stacks, &gone.stacks),
        ("bucket", &before.buckets, &after.buckets, &gone.buckets),
        (
            "parameter",
            &before.parameters,
            &after.parameters,
            &gone.parameters,
        ),
    ] {
        let g: BTreeSet<&String> = g.iter().collect();
        for name in &g {
            if !b.contains_key(*name) {
                problems.push(format!(
                    "{kind} {name} was expected to exist before (test setup)"
                ));
            }
            if a.contains_key(*name) {
                problems.push(format!("{kind} {name} is still there"));
            }
        }
        for (name, value) in b {
            if g.contains(name) {
                continue;
            }
            match a.get(name) {
                None => problems.push(format!("{kind} {name} was deleted but is not this one's")),
                Some(v) if v != value => {
                    let bl: BTreeSet<&str> = value.lines().collect();
                    let al: BTreeSet<&str> = v.lines().collect();
                    let mut d = vec![format!("{kind} {name} changed:")];
                    for l in bl.difference(&al) {
                        d.push(format!("    - {}", short(l)));
                    }
                    for l in al.difference(&bl) {
                        d.push(format!("    + {}", short(l)));
                    }
                    problems.push(d.join("\n"));
                }
                Some(_) => {}
            }
        }
        for name in a.keys() {
            if !b.contains_key(name) {
                problems.push(format!("{kind} {name} appeared"));
            }
        }
    }
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

/// Service clients on the emulator, driven from synchronous tests.
struct Sdk {
    rt: tokio::runtime::Runtime,
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    ssm: aws_sdk_ssm::Client,
    ecr: aws_sdk_ecr::Client,
    r53: aws_sdk_route53::Client,
}

type Res<T> = anyhow::Result<T>;

impl Sdk {
    fn new(aws: &LocalAws) -> Sdk {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let conf = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(aws.endpoint())
                .region(aws_config::Region::new(REGION))
                .credentials_provider(aws_sdk_s3::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "rig-tests",
                ))
                .load(),
        );
        Sdk {
            cfn: aws_sdk_cloudformation::Client::new(&conf),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&conf)
                    .force_path_style(true)
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::new(&conf),
            ecr: aws_sdk_ecr::Client::new(&conf),
            r53: aws_sdk_route53::Client::new(&conf),
            rt,
        }
    }

    fn snapshot(&self) -> Snapshot {
        self.rt
            .block_on(async {
                Ok::<_, anyhow::Error>(Snapshot {
                    stacks: self.stacks_state().await?,
                    buckets: self.buckets_state().await?,
                    parameters: self.parameters_state().await?,
                })
            })
            .expect("snapshot of the emulator")
    }

    async fn all_stacks(&self) -> Res<Vec<aws_sdk_cloudformation::types::Stack>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .cfn
                .describe_stacks()
                .set_next_token(token)
                .send()
                .await?;
            out.extend(page.stacks().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out
            .into_iter()
            .filter(|s| {
                s.stack_status()
                    .is_some_and(|st| st.as_str() != "DELETE_COMPLETE")
            })
            .collect())
    }

    async fn stacks_state(&self) -> Res<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for s in self.all_stacks().await? {
            let name = s.stack_name().unwrap_or_default().to_string();
            let mut lines = vec![
                format!(
                    "status {}",
                    s.stack_status().map(|x| x.as_str()).unwrap_or_default()
                ),
                format!("id {}", s.stack_id().unwrap_or_default()),
                format!("created {:?}", s.creation_time()),
                format!("updated {:?}", s.last_updated_time()),
                format!("protection {:?}", s.enable_termination_protection()),
            ];
            let mut tags: Vec<String> = s
                .tags()
                .iter()
                .map(|t| {
                    format!(
                        "tag {}={}",
                        t.key().unwrap_or_default(),
                        t.value().unwrap_or_default()
                    )
                })
                .collect();
            let mut params: Vec<String> = s
                .parameters()
                .iter()
                .map(|p| {
                    format!(
                        "parameter {}={}",
                        p.parameter_key().unwrap_or_default(),
                        p.parameter_value().unwrap_or_default()
                    )
                })
                .collect();
            let mut outputs: Vec<String> = s
                .outputs()
                .iter()
                .map(|o| {
                    format!(
                        "output {}={}",
                        o.output_key().unwrap_or_default(),
                        o.output_value().unwrap_or_default()
                    )
                })
                .collect();
            let mut resources: Vec<String> = self
                .stack_resources(&name)
                .await?
                .into_iter()
                .map(|(l, t, p, st)| format!("resource {l} {t} {p} {st}"))
                .collect();
            tags.sort();
            params.sort();
            outputs.sort();
            resources.sort();
            lines.extend(tags);
            lines.extend(params);
            lines.extend(outputs);
            lines.extend(resources);
            out.insert(name, lines.join("\n"));
        }
        Ok(out)
    }

    /// (logical id, type, physical id, status) of each resource of a stack.
    async fn stack_resources(&self, stack: &str) -> Res<Vec<(String, String, String, String)>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .cfn
                .list_stack_resources()
                .stack_name(stack)
                .set_next_token(token)
                .send()
                .await?;
            for r in page.stack_resource_summaries() {
                out.push((
                    r.logical_resource_id().unwrap_or_default().to_string(),
                    r.resource_type().unwrap_or_default().to_string(),
                    r.physical_resource_id().unwrap_or_default().to_string(),
                    r.resource_status()
                        .map(|x| x.as_str().to_string())
                        .unwrap_or_default(),
                ));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn bucket_names(&self) -> Res<Vec<String>> {
        let out = self.s3.list_buckets().send().await?;
        Ok(out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .map(str::to_string)
            .collect())
    }

    async fn buckets_state(&self) -> Res<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for b in self.bucket_names().await? {
            let mut lines = Vec::new();
            match self.s3.get_bucket_tagging().bucket(&b).send().await {
                Ok(t) => {
                    let mut tags: Vec<String> = t
                        .tag_set()
                        .iter()
                        .map(|t| format!("tag {}={}", t.key(), t.value()))
                        .collect();
                    tags.sort();
                    lines.extend(tags);
                }
                Err(_) => lines.push("no tags".to_string()),
            }
            let mut objects = Vec::new();
            let mut key_marker = None;
            let mut version_marker = None;
            loop {
                let page = self
                    .s3
                    .list_object_versions()
                    .bucket(&b)
                    .set_key_marker(key_marker)
                    .set_version_id_marker(version_marker)
                    .send()
                    .await?;
                for v in page.versions() {
                    let key = v.key().unwrap_or_default();
                    let version = v.version_id().unwrap_or("null");
                    let mut get = self.s3.get_object().bucket(&b).key(key);
                    if version != "null" {
                        get = get.version_id(version);
                    }
                    let body = get.send().await?.body.collect().await?.into_bytes();
                    objects.push(format!(
                        "object {key} version {version} latest {:?} body {:?}",
                        v.is_latest(),
                        String::from_utf8_lossy(&body)
                    ));
                }
                for m in page.delete_markers() {
                    objects.push(format!(
                        "delete-marker {} version {}",
                        m.key().unwrap_or_default(),
                        m.version_id().unwrap_or_default()
                    ));
                }
                if page.is_truncated() == Some(true) {
                    key_marker = page.next_key_marker().map(str::to_string);
                    version_marker = page.next_version_id_marker().map(str::to_string);
                } else {
                    break;
                }
            }
            objects.sort();
            lines.extend(objects);
            out.insert(b, lines.join("\n"));
        }
        Ok(out)
    }

    async fn parameters_state(&self) -> Res<BTreeMap<String, String>> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .ssm
                .describe_parameters()
                .set_next_token(token)
                .send()
                .await?;
            // AWS's public parameters (`/aws/service/...`, which the emulator lists once a
            // template has read one) are not the account's.
            names.extend(
                page.parameters()
                    .iter()
                    .filter_map(|p| p.name())
                    .filter(|n| !n.starts_with("/aws/"))
                    .map(str::to_string),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut out = BTreeMap::new();
        for chunk in names.chunks(10) {
            let got = self
                .ssm
                .get_parameters()
                .set_names(Some(chunk.to_vec()))
                .with_decryption(true)
                .send()
                .await?;
            for p in got.parameters() {
                let name = p.name().unwrap_or_default().to_string();
                let tags = self
                    .ssm
                    .list_tags_for_resource()
                    .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                    .resource_id(&name)
                    .send()
                    .await?;
                let mut tags: Vec<String> = tags
                    .tag_list()
                    .iter()
                    .map(|t| format!("tag {}={}", t.key(), t.value()))
                    .collect();
                tags.sort();
                let mut lines = vec![
                    p.r#type()
                        .map(|t| t.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    format!("value {:?}", p.value().unwrap_or_default()),
                    format!("version {}", p.version()),
                ];
                lines.extend(tags);
                out.insert(name, lines.join("\n"));
            }
        }
        Ok(out)
    }

    /// A stack's status, `None` when it does not exist (or is deleted).
    fn stack_status(&self, name: &str) -> Option<String> {
        self.rt.block_on(async {
            match self.cfn.describe_stacks().stack_name(name).send().await {
                Ok(o) => o
                    .stacks()
                    .first()
                    .and_then(|s| s.stack_status())
                    .map(|s| s.as_str().to_string())
                    .filter(|s| s != "DELETE_COMPLETE"),
                Err(_) => None,
            }
        })
    }

    fn stack_tags(&self, name: &str) -> BTreeMap<String, String> {
        self.rt.block_on(async {
            let o = self
                .cfn
                .describe_stacks()
                .stack_name(name)
                .send()
                .await
                .unwrap_or_else(|e| panic!("describe {name}: {e:?}"));
            o.stacks()[0]
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
    }

    fn resources(&self, stack: &str) -> Vec<(String, String, String, String)> {
        self.rt
            .block_on(self.stack_resources(stack))
            .unwrap_or_else(|e| panic!("resources of {stack}: {e:?}"))
    }

    /// The physical id of the stack's first resource of this type.
    fn physical_id(&self, stack: &str, resource_type: &str) -> String {
        self.resources(stack)
            .into_iter()
            .find(|r| r.1 == resource_type)
            .map(|r| r.2)
            .unwrap_or_else(|| panic!("{stack} has no {resource_type}"))
    }

    /// Puts two versions of an object into every bucket, so that a delete must empty it and a
    /// wrong one is seen in the objects.
    fn fill_buckets(&self) {
        self.rt.block_on(async {
            for b in self.bucket_names().await.unwrap() {
                for n in 1..=2 {
                    self.s3
                        .put_object()
                        .bucket(&b)
                        .key("tests/owned-by.txt")
                        .body(format!("{b} version {n}").into_bytes().into())
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("put into {b}: {e:?}"));
                }
            }
        })
    }

    fn put_parameter(&self, name: &str, value: &str) {
        self.rt.block_on(async {
            self.ssm
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {name}: {e:?}"));
        })
    }

    /// Creates a String parameter outside rig, with these tags.
    fn put_tagged_parameter(&self, name: &str, value: &str, tags: &[(&str, &str)]) {
        self.rt.block_on(async {
            let mut p = self
                .ssm
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::String);
            for (k, v) in tags {
                p = p.tags(
                    aws_sdk_ssm::types::Tag::builder()
                        .key(*k)
                        .value(*v)
                        .build()
                        .unwrap(),
                );
            }
            p.send()
                .await
                .unwrap_or_else(|e| panic!("put {name}: {e:?}"));
        })
    }

    /// Creates a one-topic stack outside rig, with these tags.
    fn create_stack(&self, name: &str, tags: &[(&str, &str)]) {
        self.rt.block_on(async {
            let mut c = self
                .cfn
                .create_stack()
                .stack_name(name)
                .template_body("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n");
            for (k, v) in tags {
                c = c.tags(
                    aws_sdk_cloudformation::types::Tag::builder()
                        .key(*k)
                        .value(*v)
                        .build(),
                );
            }
            c.send()
                .await
                .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
        });
        // CreateStack on the emulator completes at once; wait anyway if it did not.
        for _ in 0..100 {
            if self
                .stack_status(name)
                .is_some_and(|s| !s.ends_with("IN_PROGRESS"))
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{name} was not created");
    }

    /// Creates a bucket outside rig, with these tags and one object.
    fn create_bucket(&self, name: &str, tags: &[(&str, &str)]) {
        self.rt.block_on(async {
            self.s3
                .create_bucket()
                .bucket(name)
                .send()
                .await
                .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
            if tags.is_empty() {
                self.s3
                    .put_object()
                    .bucket(name)
                    .key("made-by-an-earlier-rig.txt")
                    .body(b"old".to_vec().into())
                    .send()
                    .await
                    .unwrap();
                return;
            }
            let mut t = aws_sdk_s3::types::Tagging::builder();
            for (k, v) in tags {
                t = t.tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(*k)
                        .value(*v)
                        .build()
                        .unwrap(),
                );
            }
            self.s3
                .put_bucket_tagging()
                .bucket(name)
                .tagging(t.build().unwrap())
                .send()
                .await
                .unwrap_or_else(|e| panic!("tag {name}: {e:?}"));
            self.s3
                .put_object()
                .bucket(name)
                .key("someone-elses.txt")
                .body(b"not rig's".to_vec().into())
                .send()
                .await
                .unwrap();
        })
    }

    /// A TXT record in a hosted zone: `CREATE` or `DELETE`.
    fn txt_record(&self, zone: &str, name: &str, action: aws_sdk_route53::types::ChangeAction) {
        use aws_sdk_route53::types::{
            Change, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
        };
        self.rt.block_on(async {
            let set = ResourceRecordSet::builder()
                .name(name)
                .r#type(RrType::Txt)
                .ttl(60)
                .resource_records(
                    ResourceRecord::builder()
                        .value("\"added by hand\"")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            self.r53
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(
                    ChangeBatch::builder()
                        .changes(
                            Change::builder()
                                .action(action)
                                .resource_record_set(set)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("record {name} in {zone}: {e:?}"));
        })
    }

    /// The record names of a hosted zone, `None` when it does not exist.
    fn zone_records(&self, zone: &str) -> Option<Vec<String>> {
        self.rt.block_on(async {
            let out = self
                .r53
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .send()
                .await
                .ok()?;
            Some(
                out.resource_record_sets()
                    .iter()
                    .map(|r| format!("{} {}", r.name(), r.r#type().as_str()))
                    .collect(),
            )
        })
    }

    /// Pushes an image (a small manifest) tagged `tag` into an ECR repository.
    fn put_image(&self, repository: &str, tag: &str) {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
            },
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 32654,
                "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"
            }]
        })
        .to_string();
        self.rt.block_on(async {
            self.ecr
                .put_image()
                .repository_name(repository)
                .image_manifest(manifest)
                .image_tag(tag)
                .send()
                .await
                .unwrap_or_else(|e| panic!("put image into {repository}: {e:?}"));
        })
    }

    /// The image count of an ECR repository, `None` when it does not exist.
    fn images(&self, repository: &str) -> Option<usize> {
        self.rt.block_on(async {
            self.ecr
                .list_images()
                .repository_name(repository)
                .send()
                .await
                .ok()
                .map(|o| o.image_ids().len())
        })
    }

    fn repositories(&self) -> Vec<String> {
        self.rt.block_on(async {
            self.ecr
                .describe_repositories()
                .send()
                .await
                .unwrap()
                .repositories()
                .iter()
                .filter_map(|r| r.repository_name())
                .map(str::to_string)
                .collect()
        })
    }

    /// The time of the first stack-level event with this status of a (possibly deleted) stack,
    /// found by its stack id.
    fn stack_event_time(&self, stack_id: &str, status: &str) -> Option<(i64, u32)> {
        self.rt.block_on(async {
            let out = self
                .cfn
                .describe_stack_events()
                .stack_name(stack_id)
                .send()
                .await
                .ok()?;
            out.stack_events()
                .iter()
                .filter(|e| e.resource_type() == Some("AWS::CloudFormation::Stack"))
                .filter(|e| e.resource_status().map(|s| s.as_str()) == Some(status))
                .filter_map(|e| e.timestamp())
                .map(|t| (t.secs(), t.subsec_nanos()))
                .min()
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// `down --env qa` beside `qa-eu` and `eu-qa` (names that contain, start or end with `qa`)
/// deletes qa's stacks and buckets and leaves the other two byte-for-byte as they were.
#[test]
fn down_of_one_environment_leaves_environments_whose_names_contain_it_untouched() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[
            ("qa", "10.11.0.0/16"),
            ("qa-eu", "10.12.0.0/16"),
            ("eu-qa", "10.13.0.0/16"),
        ],
        "none",
        "",
    );
    r.run(&w, &["up", "--yes", "--concurrency", "6"]).code(0);
    sdk.fill_buckets();
    // Parameters someone keeps beside the riglet's, under the other environments' paths.
    sdk.put_parameter("/acme/shop/env/qa-eu/NOTE", "qa-eu's");
    sdk.put_parameter("/acme/shop/env/eu-qa/NOTE", "eu-qa's");
    let before = sdk.snapshot();
    for e in ["qa", "qa-eu", "eu-qa"] {
        for s in r.env_stacks(e) {
            assert!(
                before.stacks.contains_key(&s),
                "{s} missing after up: {:?}",
                before.stacks.keys()
            );
        }
    }

    let down = r.run(&w, &["down", "--env", "qa", "--yes"]);
    let after = sdk.snapshot();
    assert_only_gone(&down.show(), &before, &after, &r.env_gone("qa"));
    down.code(0)
        .stderr_has("rig down will delete:")
        .stderr_line(
            "stack     acme-shop-qa-foundation (",
            "CREATE_COMPLETE, foundation, environment qa)",
        )
        .stderr_line(
            "stack     acme-shop-qa-compute-ecs (",
            "CREATE_COMPLETE, compute, environment qa)",
        )
        .stderr_line(
            "bucket    rig-acme-shop-us-east-1-foundation-qa (",
            " objects)",
        )
        .stderr_line(
            "bucket    rig-acme-shop-us-east-1-compute-ecs-qa (",
            " objects)",
        );
    for other in ["qa-eu", "eu-qa"] {
        for n in r.env_stacks(other).iter().chain(&r.env_buckets(other)) {
            down.stderr_lacks(&format!("{n} "));
        }
    }

    let status = r.run(&w, &["status", "--json"]);
    status.code(0);
    let status = status.json();
    for e in ["qa-eu", "eu-qa"] {
        for s in r.env_stacks(e) {
            let row = entry(&status["stacks"], &s)
                .unwrap_or_else(|| panic!("{s} not in status: {status:#}"));
            assert_eq!(row["status"], "CREATE_COMPLETE", "{row}");
        }
    }
    for s in r.env_stacks("qa") {
        let row =
            entry(&status["stacks"], &s).unwrap_or_else(|| panic!("{s} not in status: {status:#}"));
        assert!(row["status"].is_null(), "{s} must be gone: {row}");
    }
}

/// `down --env integration` of a project with a `-` in its name finishes in one run: compute
/// before foundation, staging and production untouched.
#[test]
fn down_of_one_environment_finishes_in_one_run_compute_before_foundation() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(&w, "acme", "web-app", &[], "none", "");
    r.run(&w, &["up", "--yes", "--concurrency", "6"]).code(0);
    sdk.fill_buckets();
    let before = sdk.snapshot();
    let id = |name: &str| -> String {
        before.stacks[name]
            .lines()
            .find_map(|l| l.strip_prefix("id "))
            .unwrap()
            .to_string()
    };
    let compute = r.stack("integration", "compute-ecs");
    let foundation = r.stack("integration", "foundation");
    let (compute_id, foundation_id) = (id(&compute), id(&foundation));

    let down = r.run(&w, &["down", "--env", "integration", "--yes", "--json"]);
    let after = sdk.snapshot();
    assert_only_gone(&down.show(), &before, &after, &r.env_gone("integration"));
    down.code(0).stderr_has("rig down will delete:");
    let report = down.json();
    assert_eq!(report["stacks_failed"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["stacks_left"], serde_json::json!([]), "{report:#}");
    let deleted = strings(&report["stacks_deleted"]);
    let pos = |n: &str| {
        deleted
            .iter()
            .position(|d| d == n)
            .unwrap_or_else(|| panic!("{n} not in stacks_deleted {deleted:?}"))
    };
    assert!(
        pos(&compute) < pos(&foundation),
        "compute must go before foundation: {deleted:?}"
    );
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    // The stacks' own events agree: the foundation's deletion started after compute was gone.
    let compute_done = sdk.stack_event_time(&compute_id, "DELETE_COMPLETE");
    let foundation_start = sdk.stack_event_time(&foundation_id, "DELETE_IN_PROGRESS");
    let (c, f) = (
        compute_done.expect("compute's DELETE_COMPLETE event"),
        foundation_start.expect("the foundation's DELETE_IN_PROGRESS event"),
    );
    assert!(
        c <= f,
        "foundation deletion began ({f:?}) before compute was deleted ({c:?})"
    );
}

/// A pipeline's ECR repository holding an image: CloudFormation cannot delete it, so `down`
/// empties it and finishes; nothing of the riglet is left.
#[test]
fn down_empties_the_pipeline_image_repository_and_leaves_nothing() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    // The pipeline deploys an app, whose records go to the domain's (the user's) public zone.
    sdk.rt
        .block_on(async {
            rig_tests::apps::AppApi::new(&w.aws)
                .await
                .create_public_zone("example.com")
                .await
        })
        .expect("public zone");
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[],
        "none",
        r#"
[[apps]]
name = "api"
port = 8080

[[pipelines]]
repository = "api"
branch = "main"
github_owner = "acme"
connection_arn = "arn:aws:codeconnections:us-east-1:123456789012:connection/0f0e0d0c-0000-4000-8000-000000000001"
"#,
    );
    r.run(&w, &["up", "--yes", "--concurrency", "6"]).code(0);
    let pipeline = "acme-shop-build-api-main";
    assert!(
        sdk.stack_status(pipeline).is_some(),
        "no pipeline stack {pipeline}"
    );
    let tags = sdk.stack_tags(pipeline);
    assert_eq!(
        tags.get("rig:role").map(String::as_str),
        Some("pipeline"),
        "{tags:?}"
    );
    assert!(
        !tags.contains_key("rig:environment"),
        "a pipeline has no environment: {tags:?}"
    );
    let repo = sdk.physical_id(pipeline, "AWS::ECR::Repository");
    sdk.put_image(&repo, "v1");
    assert_eq!(sdk.images(&repo), Some(1));

    let down = r.run(&w, &["down", "--yes", "--json"]);
    down.code(0)
        .stderr_has("rig down will delete:")
        .stderr_has(&format!("stack     {pipeline} ("))
        .stderr_has(&format!("repository {repo} (1 image;"));
    let report = down.json();
    assert!(
        strings(&report["stacks_deleted"]).contains(&pipeline.to_string()),
        "{report:#}"
    );
    let emptied = report["emptied"].as_array().cloned().unwrap_or_default();
    assert!(
        emptied
            .iter()
            .any(|e| e["name"] == repo.as_str() && e["count"] == 1),
        "the repository is reported emptied: {report:#}"
    );

    let buckets_deleted = strings(&report["buckets_deleted"]);
    for b in [
        r.bucket("build", None),
        r.bucket("foundation", Some("staging")),
    ] {
        assert!(
            buckets_deleted.contains(&b),
            "{b} not in buckets_deleted: {report:#}"
        );
    }
    let parameters_deleted = strings(&report["parameters_deleted"]);
    assert!(
        parameters_deleted.contains(&"/acme/shop/DOMAIN".to_string()),
        "{report:#}"
    );

    assert_eq!(sdk.images(&repo), None, "repository {repo} remains");
    assert!(!sdk.repositories().contains(&repo));
    let left = sdk.snapshot();
    assert!(
        left.stacks.is_empty(),
        "stacks remain: {:?}",
        left.stacks.keys()
    );
    assert!(
        left.buckets.is_empty(),
        "buckets remain: {:?}",
        left.buckets.keys()
    );
    assert!(
        left.parameters.is_empty(),
        "parameters remain: {:?}",
        left.parameters.keys()
    );
}

/// A private zone someone added a record to makes the foundation's deletion fail: `down` says
/// what and why, `up` and `plan` point to `down`, and `down` retries once it is removed.
#[test]
fn a_failed_down_is_reported_blocks_up_and_is_retried_by_down() {
    use aws_sdk_route53::types::ChangeAction;
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(&w, "acme", "shop", &[], "none", "");
    r.run(&w, &["up", "--yes", "--concurrency", "6"]).code(0);
    let foundation = r.stack("integration", "foundation");
    let compute = r.stack("integration", "compute-ecs");
    let zone = sdk.physical_id(&foundation, "AWS::Route53::HostedZone");
    sdk.txt_record(&zone, "extra.shop.internal", ChangeAction::Create);
    let before = sdk.snapshot();

    let down = r.run(&w, &["down", "--env", "integration", "--yes", "--json"]);
    down.code(1)
        .stderr_has(&foundation)
        .stderr_has("AWS::Route53::HostedZone")
        .stderr_has("HostedZoneNotEmpty")
        .stderr_has("rig down --env integration");
    let report = down.json();
    assert!(
        strings(&report["stacks_deleted"]).contains(&compute),
        "{report:#}"
    );
    let failed = report["stacks_failed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let f = failed
        .iter()
        .find(|f| f["name"] == foundation.as_str())
        .unwrap_or_else(|| panic!("foundation not in stacks_failed: {report:#}"));
    assert_eq!(f["env"], "integration", "{f}");
    let zone_failure = f["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["resource_type"] == "AWS::Route53::HostedZone")
        .unwrap_or_else(|| panic!("no hosted zone among the failed resources: {f:#}"));
    let reason = zone_failure["reason"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        reason.contains("hostedzonenotempty") || reason.contains("not empty"),
        "{zone_failure}"
    );
    assert_eq!(sdk.stack_status(&compute), None, "compute was deleted");
    assert_eq!(
        sdk.stack_status(&foundation).as_deref(),
        Some("DELETE_FAILED")
    );

    let up = r.run(&w, &["up", "--yes"]);
    up.code(1)
        .stderr_has("run `rig down --env integration` first")
        .stderr_lacks("resumes where it stopped");
    assert_eq!(
        sdk.stack_status(&foundation).as_deref(),
        Some("DELETE_FAILED")
    );

    let plan = r.run(&w, &["plan", "--json"]);
    let report = plan.json();
    let row = entry(&report["stacks"], &foundation)
        .unwrap_or_else(|| panic!("{foundation} not in plan: {report:#}"));
    assert_eq!(row["action"], "blocked", "{row}");

    sdk.txt_record(&zone, "extra.shop.internal", ChangeAction::Delete);
    let down = r.run(&w, &["down", "--env", "integration", "--yes", "--json"]);
    down.code(0);
    assert!(
        strings(&down.json()["stacks_deleted"]).contains(&foundation),
        "{}",
        down.show()
    );
    assert_eq!(sdk.stack_status(&foundation), None);

    // Staging and production are as they were before the first down.
    let after = sdk.snapshot();
    let keep = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| {
                k.contains("staging") || k.contains("production") || k.starts_with('/')
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let only = |s: &Snapshot| Snapshot {
        stacks: keep(&s.stacks),
        buckets: keep(&s.buckets),
        parameters: keep(&s.parameters),
    };
    assert_only_gone(
        "staging and production",
        &only(&before),
        &only(&after),
        &Gone::default(),
    );
    for b in r.env_buckets("integration") {
        assert!(!after.buckets.contains_key(&b), "{b} remains");
    }
    for s in r.env_stacks("integration") {
        assert!(!after.stacks.contains_key(&s), "{s} remains");
    }
}

/// Switching the database backend leaves the old database stack as an orphan: shown by `plan`,
/// `status`, `outputs` and `up`, kept by `up`, deleted by `up --prune` and by `down`.
#[test]
fn a_switched_database_backend_is_an_orphan_kept_until_pruned() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[("integration", "10.1.0.0/16")],
        "aurora-serverless",
        "",
    );
    r.run(&w, &["up", "--yes"]).code(0);
    let foundation = r.stack("integration", "foundation");
    let compute = r.stack("integration", "compute-ecs");
    let aurora = r.stack("integration", "db-aurora");
    let couch = r.stack("integration", "db-couch");
    assert_eq!(
        sdk.stack_status(&aurora).as_deref(),
        Some("CREATE_COMPLETE")
    );
    let aurora_tags = sdk.stack_tags(&aurora);
    for (k, v) in [
        ("rig:owner", "acme"),
        ("rig:project", "shop"),
        ("rig:environment", "integration"),
        ("rig:role", "database"),
        ("rig:backend", "aurora-serverless"),
        ("Owner", "acme"),
        ("Project", "shop"),
        ("Environment", "integration"),
    ] {
        assert_eq!(
            aurora_tags.get(k).map(String::as_str),
            Some(v),
            "{k}: {aurora_tags:?}"
        );
    }
    let template_bucket = aurora_tags
        .get("rig:template-bucket")
        .cloned()
        .unwrap_or_else(|| panic!("no rig:template-bucket tag: {aurora_tags:?}"));
    let cluster = sdk
        .resources(&aurora)
        .into_iter()
        .find(|x| x.1 == "AWS::RDS::DBCluster")
        .expect("the aurora stack holds a DB cluster");
    let holds = format!("{} {}", cluster.1, cluster.0);

    let orphan_row = |plan: &Value| -> Value {
        let row = entry(&plan["stacks"], &aurora)
            .unwrap_or_else(|| panic!("{aurora} not in plan: {plan:#}"))
            .clone();
        assert_eq!(row["action"], "orphan", "{row}");
        let note = row["note"].as_str().unwrap_or_default();
        assert!(note.contains(&holds), "the note names {holds}: {note}");
        assert!(
            note.contains("its data stays in this stack until it is pruned"),
            "{note}"
        );
        row
    };

    let plan = r.run(&w, &["plan", "--json", "--db", "couchdb"]);
    plan.code(2);
    let report = plan.json();
    let row = entry(&report["stacks"], &couch)
        .unwrap_or_else(|| panic!("{couch} not in plan: {report:#}"));
    assert_eq!(row["action"], "create", "{row}");
    orphan_row(&report);
    assert!(
        sdk.stack_status(&couch).is_none(),
        "plan must not leave {couch} behind"
    );

    let plan = r.run(&w, &["plan", "--json", "--db", "none"]);
    plan.code(2);
    orphan_row(&plan.json());

    let up = r.run(&w, &["up", "--yes", "--json", "--db", "none"]);
    up.code(0);
    let report = up.json();
    assert_eq!(
        sdk.stack_status(&aurora).as_deref(),
        Some("CREATE_COMPLETE"),
        "up keeps the orphan"
    );
    let orphans = report["orphans"].as_array().cloned().unwrap_or_default();
    let o = orphans
        .iter()
        .find(|o| o["name"] == aurora.as_str())
        .unwrap_or_else(|| panic!("{aurora} not in orphans: {report:#}"));
    assert_eq!(o["env"], "integration", "{o}");
    assert_eq!(o["role"], "database", "{o}");
    assert_eq!(o["backend"], "aurora-serverless", "{o}");
    assert_eq!(o["status"], "CREATE_COMPLETE", "{o}");
    assert!(strings(&o["holds"]).contains(&holds), "{o}");

    let status = r.run(&w, &["status", "--json", "--db", "none"]);
    status.code(0);
    let status = status.json();
    let row = entry(&status["stacks"], &aurora)
        .unwrap_or_else(|| panic!("{aurora} not in status: {status:#}"));
    assert_eq!(row["orphan"], true, "{row}");
    assert_eq!(row["status"], "CREATE_COMPLETE", "{row}");
    assert_eq!(
        entry(&status["stacks"], &foundation).map(|x| x["orphan"].clone()),
        Some(Value::Bool(false))
    );

    let outputs = r.run(&w, &["outputs", "--json", "--db", "none"]);
    outputs.code(0);
    let outputs = outputs.json();
    assert!(
        outputs["stacks"].get(&aurora).is_some(),
        "outputs include the orphan: {outputs:#}"
    );

    let before = sdk.snapshot();
    let prune = r.run(&w, &["up", "--yes", "--db", "none", "--prune"]);
    prune
        .code(0)
        .stderr_has("will delete:")
        .stderr_has(&format!(
            "stack     {aurora} (CREATE_COMPLETE, database, environment integration, orphan: not in what the configuration and flags select)"
        ))
        .stderr_lacks(&format!("stack     {foundation}"))
        .stderr_lacks(&format!("stack     {compute}"));
    let after = sdk.snapshot();
    assert_only_gone(
        "rig up --db none --prune",
        &before,
        &after,
        &Gone {
            stacks: vec![aurora.clone()],
            buckets: vec![template_bucket],
            parameters: vec![],
        },
    );

    let down = r.run(&w, &["down", "--yes", "--db", "none"]);
    down.code(0);
    let left = sdk.snapshot();
    assert!(
        left.stacks.is_empty(),
        "stacks remain: {:?}",
        left.stacks.keys()
    );
    assert!(
        left.buckets.is_empty(),
        "buckets remain: {:?}",
        left.buckets.keys()
    );
    let plain: Vec<&String> = left
        .parameters
        .iter()
        .filter(|(_, v)| !v.starts_with("SecureString"))
        .map(|(k, _)| k)
        .collect();
    assert!(plain.is_empty(), "parameters remain: {plain:?}");
    assert!(
        left.parameters
            .contains_key("/acme/shop/env/integration/db/DB_MASTER_PASSWORD"),
        "the secret is kept without --purge-secrets: {:?}",
        left.parameters.keys()
    );
}

/// Riglets and environments whose names share prefixes and suffixes in every way, side by side:
/// each `down --env` removes exactly that riglet-environment, a full `down` exactly that riglet,
/// and a riglet whose planned names are another riglet's live stacks refuses to act on them.
#[test]
fn down_removes_exactly_its_riglet_and_environment_among_lookalike_names() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    // (owner, project, [(env, cidr)]): generated from owners {acme, acme-eu}, projects {shop,
    // shop-qa, qa-shop} and environments {qa, qa-eu, eu-qa}. Stack names:
    //   acme-shop-qa-*, acme-shop-qa-eu-*        (A)
    //   acme-shop-qa-eu-qa-*                     (B: starts with A's qa-eu and qa names)
    //   acme-eu-shop-qa-*                        (C: ends like A's qa; owner acme-eu)
    //   acme-qa-shop-qa-*                        (D: project qa-shop)
    let a = riglet(
        &w,
        "acme",
        "shop",
        &[("qa", "10.11.0.0/16"), ("qa-eu", "10.12.0.0/16")],
        "aurora-serverless",
        "",
    );
    let b = riglet(
        &w,
        "acme",
        "shop-qa",
        &[("eu-qa", "10.13.0.0/16")],
        "none",
        "",
    );
    let c = riglet(&w, "acme-eu", "shop", &[("qa", "10.14.0.0/16")], "none", "");
    let d = riglet(&w, "acme", "qa-shop", &[("qa", "10.15.0.0/16")], "none", "");
    // (acme, shop-qa, eu) gives exactly A's (acme, shop, qa-eu) stack names.
    let f = riglet(&w, "acme", "shop-qa", &[("eu", "10.16.0.0/16")], "none", "");

    let triples: Vec<(String, String, String)> = [&a, &b, &c, &d, &f]
        .iter()
        .flat_map(|r| {
            r.envs
                .iter()
                .map(|e| (r.owner.clone(), r.project.clone(), e.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(triples.len() >= 6, "{triples:?}");
    let joined: Vec<String> = triples
        .iter()
        .map(|(o, p, e)| format!("{o}-{p}-{e}"))
        .collect();
    assert!(
        joined
            .iter()
            .any(|x| joined.iter().any(|y| x != y && y.starts_with(x.as_str()))),
        "some stack prefix is another's prefix: {joined:?}"
    );
    assert_eq!(a.stack("qa-eu", "foundation"), f.stack("eu", "foundation"));

    let outs = run_parallel(
        &w,
        &[
            (&a, vec!["up", "--yes", "--concurrency", "4"]),
            (&b, vec!["up", "--yes"]),
            (&c, vec!["up", "--yes"]),
            (&d, vec!["up", "--yes"]),
        ],
    );
    for o in &outs {
        o.code(0);
    }
    sdk.fill_buckets();
    for r in [&a, &b, &c, &d] {
        sdk.put_parameter(&format!("/{}/{}/NOTE", r.owner, r.project), "kept by hand");
    }
    let mut before = sdk.snapshot();

    // F's names are A's live stacks: refused, nothing changed.
    let refused = f.run(&w, &["up", "--yes"]);
    refused
        .code(1)
        .stderr_has("refusing to act")
        .stderr_has("is not this riglet's")
        .stderr_has("acme-shop-qa-eu-foundation")
        .stderr_has("rig:project=shop")
        .stderr_has("rig:environment=qa-eu");
    assert_only_gone(
        "refused rig up of acme/shop-qa env eu",
        &before,
        &sdk.snapshot(),
        &Gone::default(),
    );
    let refused = f.run(&w, &["down", "--env", "eu", "--yes"]);
    refused
        .code(1)
        .stderr_has("refusing to act")
        .stderr_has("acme-shop-qa-eu-foundation")
        .stderr_has("rig:project=shop");
    assert_only_gone(
        "refused rig down of acme/shop-qa env eu",
        &before,
        &sdk.snapshot(),
        &Gone::default(),
    );

    // One environment at a time, its secrets too: A's qa secret is
    // /acme/shop/env/qa/db/DB_MASTER_PASSWORD, a prefix of qa-eu's.
    for (r, env) in [(&a, "qa"), (&b, "eu-qa")] {
        let out = r.run(&w, &["down", "--env", env, "--yes", "--purge-secrets"]);
        let after = sdk.snapshot();
        let gone = r.env_gone(env).and(Gone {
            parameters: r.env_secrets(env),
            ..Gone::default()
        });
        assert_only_gone(&out.show(), &before, &after, &gone);
        out.code(0);
        before = after;
    }

    // Whole riglets: C (another owner) and D (another project) while A's qa-eu stays.
    for r in [&c, &d] {
        let gone = r.all_gone(&before);
        let out = r.run(&w, &["down", "--yes"]);
        let after = sdk.snapshot();
        assert_only_gone(&out.show(), &before, &after, &gone);
        out.code(0);
        before = after;
    }

    // B's riglet (acme/shop-qa) has no environment left; a full down of it leaves A alone.
    let gone = Gone {
        parameters: b.riglet_parameters(&before),
        buckets: vec![b.lock_bucket()],
        ..Gone::default()
    };
    let out = b.run(&w, &["down", "--yes"]);
    let after = sdk.snapshot();
    assert_only_gone(&out.show(), &before, &after, &gone);
    out.code(0);
    before = after;

    a.run(&w, &["down", "--yes"]).code(0);
    let after = sdk.snapshot();
    let gone = a.env_gone("qa-eu").and(Gone {
        parameters: a.riglet_parameters(&before),
        buckets: vec![a.lock_bucket()],
        ..Gone::default()
    });
    assert_only_gone("rig down of acme/shop", &before, &after, &gone);
}

/// A stack with exactly a planned name but another riglet's `rig:` tags (or seed tags that
/// disagree) is refused by `up`, `plan`, `protect` and `down`, which change nothing at all.
#[test]
fn a_stack_with_a_planned_name_but_other_tags_is_refused_and_nothing_changes() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(&w, "acme", "shop", &[], "none", "");
    sdk.create_stack(
        "acme-shop-integration-foundation",
        &[("rig:owner", "acme"), ("rig:project", "other")],
    );
    sdk.create_stack(
        "acme-shop-staging-foundation",
        &[
            ("Owner", "acme"),
            ("Project", "other"),
            ("Environment", "staging"),
        ],
    );
    let before = sdk.snapshot();

    for args in [
        vec!["up", "--yes"],
        vec!["plan"],
        vec!["protect"],
        vec!["down", "--yes"],
        vec!["down", "--env", "integration", "--yes"],
    ] {
        let out = r.run(&w, &args);
        out.code(1)
            .stderr_has("refusing to act")
            .stderr_has("is not this riglet's")
            .stderr_has("acme-shop-integration-foundation")
            .stderr_has("rig:owner=acme")
            .stderr_has("rig:project=other");
        if !args.contains(&"integration") {
            out.stderr_has("acme-shop-staging-foundation")
                .stderr_has("Project=other");
        }
        assert_only_gone(
            &format!("refused `rig {}`", args.join(" ")),
            &before,
            &sdk.snapshot(),
            &Gone::default(),
        );
    }
    // `status` says what is there instead of calling it "not created".
    let status = r.run(&w, &["status"]);
    status.code(0);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("acme-shop-integration-foundation")
                && l.contains("EXISTS, NOT THIS RIGLET'S")
                && l.contains("rig:project=other")),
        "{}",
        status.show()
    );
}

/// A bucket named exactly like one of the riglet's template buckets but tagged for another
/// riglet: `up` and `down` refuse, and it keeps its objects.
#[test]
fn a_bucket_with_a_template_bucket_name_but_other_tags_is_refused_and_kept() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[("integration", "10.1.0.0/16")],
        "none",
        "",
    );
    let bucket = r.bucket("foundation", Some("integration"));
    sdk.create_bucket(
        &bucket,
        &[
            ("rig:owner", "acme"),
            ("rig:project", "other"),
            ("rig:environment", "integration"),
            ("rig:role", "foundation"),
        ],
    );
    let before = sdk.snapshot();
    for args in [vec!["up", "--yes"], vec!["plan"], vec!["down", "--yes"]] {
        r.run(&w, &args)
            .code(1)
            .stderr_has("refusing to act")
            .stderr_has("is not this riglet's")
            .stderr_has(&bucket)
            .stderr_has("rig:project=other");
        assert_only_gone(
            &format!("refused `rig {}`", args.join(" ")),
            &before,
            &sdk.snapshot(),
            &Gone::default(),
        );
    }
}

/// A stack (and a template bucket) with exactly the planned name and no tags at all was made by
/// an earlier rig: `down` adopts it, says so, and deletes it.
#[test]
fn an_untagged_stack_with_a_planned_name_is_adopted_by_down() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(&w, "acme", "shop", &[], "none", "");
    let stack = "acme-shop-integration-foundation";
    let bucket = r.bucket("foundation", Some("integration"));
    sdk.create_stack(stack, &[]);
    sdk.create_bucket(&bucket, &[]);
    // Something that is not the riglet's, with a name that starts like its names.
    sdk.create_stack("acme-shop-integration-foundation-copy", &[]);
    let before = sdk.snapshot();

    let down = r.run(&w, &["down", "--yes"]);
    down.code(0).stderr_has("rig down will delete:");
    assert!(
        down.stderr
            .lines()
            .any(|l| l.starts_with(&format!("adopting stack {stack}"))),
        "no line starting `adopting stack {stack}`:\n{}",
        down.show()
    );
    assert_only_gone(
        "rig down of an untagged riglet",
        &before,
        &sdk.snapshot(),
        &Gone {
            stacks: vec![stack.to_string()],
            buckets: vec![bucket],
            parameters: vec![],
        },
    );
}

/// Every stack rig creates carries the ownership tags, and so do its template buckets and
/// parameters.
#[test]
fn what_up_creates_carries_the_ownership_tags() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[("integration", "10.1.0.0/16")],
        "aurora-serverless",
        "",
    );
    r.run(&w, &["up", "--yes"]).code(0);
    let snap = sdk.snapshot();
    let has = |text: &str, k: &str, v: &str| text.lines().any(|l| l == format!("tag {k}={v}"));
    for (suffix, role, backend) in [
        ("foundation", "foundation", "standard"),
        ("compute-ecs", "compute", "fargate"),
        ("db-aurora", "database", "aurora-serverless"),
    ] {
        let name = r.stack("integration", suffix);
        let text = snap
            .stacks
            .get(&name)
            .unwrap_or_else(|| panic!("{name} missing"));
        for (k, v) in [
            ("rig:owner", "acme"),
            ("rig:project", "shop"),
            ("rig:environment", "integration"),
            ("rig:role", role),
            ("rig:backend", backend),
            (
                "rig:template-bucket",
                &r.bucket(suffix, Some("integration")),
            ),
            ("Owner", "acme"),
            ("Project", "shop"),
            ("Environment", "integration"),
        ] {
            assert!(has(text, k, v), "{name} lacks tag {k}={v}:\n{text}");
        }
    }
    for kind in ["foundation", "compute-ecs", "db-aurora"] {
        let b = r.bucket(kind, Some("integration"));
        let text = snap
            .buckets
            .get(&b)
            .unwrap_or_else(|| panic!("bucket {b} missing: {:?}", snap.buckets.keys()));
        for (k, v) in [
            ("rig:owner", "acme"),
            ("rig:project", "shop"),
            ("rig:environment", "integration"),
        ] {
            assert!(has(text, k, v), "bucket {b} lacks tag {k}={v}:\n{text}");
        }
        assert!(
            text.lines().any(|l| l.starts_with("tag rig:role=")),
            "bucket {b} lacks rig:role:\n{text}"
        );
    }
    r.riglet_parameters(&snap);
    let secret = "/acme/shop/env/integration/db/DB_MASTER_PASSWORD";
    let text = snap
        .parameters
        .get(secret)
        .unwrap_or_else(|| panic!("{secret} missing"));
    for (k, v) in [
        ("rig:owner", "acme"),
        ("rig:project", "shop"),
        ("rig:environment", "integration"),
        ("rig:role", "database"),
    ] {
        assert!(has(text, k, v), "{secret} lacks tag {k}={v}:\n{text}");
    }
}

/// CouchDB's backup bucket is retained by its template: `down` does not empty it (it never
/// blocks the stack), so it keeps its backups; secrets go only with `--purge-secrets`.
#[test]
fn down_keeps_a_retained_backup_bucket_full_and_secrets_unless_purged() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[("integration", "10.1.0.0/16")],
        "couchdb",
        "",
    );
    r.run(&w, &["up", "--yes"]).code(0);
    let couch = r.stack("integration", "db-couch");
    let backups = sdk
        .resources(&couch)
        .into_iter()
        .find(|x| x.1 == "AWS::S3::Bucket")
        .map(|x| x.2)
        .expect("the CouchDB stack has a backup bucket");
    sdk.fill_buckets();
    let before = sdk.snapshot();
    let secret = "/acme/shop/env/integration/db/COUCHDB_ADMIN_PASSWORD";
    assert!(
        before.parameters.contains_key(secret),
        "{:?}",
        before.parameters.keys()
    );

    let down = r.run(&w, &["down", "--yes", "--json"]);
    // The listing says beforehand that the backups stay, and the report that they stayed.
    down.code(0)
        .stderr_has(&format!(
            "bucket     {backups} (2 objects; kept with its contents: the template retains it)"
        ))
        .stderr_has(&format!("kept AWS::S3::Bucket {backups}"));
    let report = down.json();
    assert!(
        report["retained"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["physical_id"] == backups.as_str())),
        "{report:#}"
    );
    let emptied = report["emptied"].as_array().cloned().unwrap_or_default();
    assert!(
        !emptied.iter().any(|e| e["name"] == backups.as_str()),
        "the retained backup bucket must not be emptied: {report:#}"
    );
    let after = sdk.snapshot();
    assert_eq!(
        after.buckets.get(&backups),
        before.buckets.get(&backups),
        "the backup bucket and its objects are kept"
    );
    assert!(
        after.stacks.is_empty(),
        "stacks remain: {:?}",
        after.stacks.keys()
    );
    let secrets: Vec<&String> = after
        .parameters
        .iter()
        .filter(|(_, v)| v.starts_with("SecureString"))
        .map(|(k, _)| k)
        .collect();
    assert!(
        secrets.contains(&&secret.to_string()),
        "secrets are kept without --purge-secrets: {secrets:?}"
    );
    let plain: Vec<&String> = after
        .parameters
        .iter()
        .filter(|(_, v)| !v.starts_with("SecureString"))
        .map(|(k, _)| k)
        .collect();
    assert!(plain.is_empty(), "plain parameters remain: {plain:?}");

    let purge = r.run(&w, &["down", "--yes", "--purge-secrets"]);
    purge.code(0).stderr_has(&format!("parameter {secret}"));
    let after = sdk.snapshot();
    assert!(
        after.parameters.is_empty(),
        "parameters remain: {:?}",
        after.parameters.keys()
    );
    assert_eq!(after.buckets.get(&backups), before.buckets.get(&backups));
}

/// A teardown that failed on a resource someone else uses can be finished by keeping that
/// resource: `down --retain STACK/LOGICAL_ID` deletes the stack and leaves the resource as it is.
#[test]
fn a_failed_down_finishes_with_retain_and_keeps_that_resource() {
    use aws_sdk_route53::types::ChangeAction;
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[("integration", "10.1.0.0/16"), ("staging", "10.2.0.0/16")],
        "none",
        "",
    );
    r.run(&w, &["up", "--yes"]).code(0);
    let foundation = r.stack("integration", "foundation");
    let (zone_id, zone) = sdk
        .resources(&foundation)
        .into_iter()
        .find(|x| x.1 == "AWS::Route53::HostedZone")
        .map(|x| (x.0, x.2))
        .expect("the foundation has a private zone");
    sdk.txt_record(&zone, "kept.shop.internal", ChangeAction::Create);
    let before = sdk.snapshot();
    r.run(&w, &["down", "--env", "integration", "--yes"])
        .code(1);
    assert_eq!(
        sdk.stack_status(&foundation).as_deref(),
        Some("DELETE_FAILED")
    );

    let retain = format!("{foundation}/{zone_id}");
    let out = r.run(
        &w,
        &["down", "--env", "integration", "--yes", "--retain", &retain],
    );
    let after = sdk.snapshot();
    assert_only_gone(&out.show(), &before, &after, &r.env_gone("integration"));
    out.code(0);
    let records = sdk
        .zone_records(&zone)
        .unwrap_or_else(|| panic!("the retained zone {zone} was deleted"));
    assert!(
        records.iter().any(|x| x.starts_with("kept.shop.internal")),
        "{records:?}"
    );
}

/// A parameter with exactly the name the riglet writes but another riglet's tags: `up`, `plan`
/// and `down` refuse and leave it as it is.
#[test]
fn a_parameter_with_a_planned_name_but_other_tags_is_refused_and_kept() {
    let w = world();
    let sdk = Sdk::new(&w.aws);
    let r = riglet(
        &w,
        "acme",
        "shop",
        &[("integration", "10.1.0.0/16")],
        "none",
        "",
    );
    sdk.put_tagged_parameter(
        "/acme/shop/DOMAIN",
        "other.example.com",
        &[
            ("rig:owner", "acme"),
            ("rig:project", "other"),
            ("rig:role", "foundation"),
        ],
    );
    let before = sdk.snapshot();
    for args in [vec!["up", "--yes"], vec!["plan"], vec!["down", "--yes"]] {
        let out = r.run(&w, &args);
        assert_only_gone(&out.show(), &before, &sdk.snapshot(), &Gone::default());
        out.code(1)
            .stderr_has("refusing to act")
            .stderr_has("is not this riglet's")
            .stderr_has("/acme/shop/DOMAIN")
            .stderr_has("rig:project=other");
    }
}
