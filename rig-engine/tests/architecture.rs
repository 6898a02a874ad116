//! The workspace's boundaries, checked on the source text and the lockfile (no AWS, no build,
//! no subprocess): only `rig-engine/src/cloud/` talks to AWS, the plugin contract `rig-core`
//! pulls in no AWS SDK and no tokio, and no file of `rig-engine/src` grows past 400 lines.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a file of `rig-engine/src` may be.
const MAX_LINES: usize = 400;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("rig-engine lives in the workspace")
        .to_path_buf()
}

fn engine_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {d:?}: {e}")) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `path` relative to the workspace root, with `/` separators.
fn shown(path: &Path) -> String {
    let rel = path.strip_prefix(workspace_root()).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// 1. Only `cloud/` talks to AWS.

/// Whether an identifier names an AWS SDK crate.
fn is_aws_crate(ident: &str) -> bool {
    ident.starts_with("aws_sdk_") || ident == "aws_config" || ident.starts_with("aws_smithy_")
}

/// `src` with every comment (line, doc, block, nested block) replaced by spaces, newlines kept,
/// so lines and columns still match. String and character literals are kept as they are (a
/// `//` inside a string is not a comment).
fn without_comments(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied();
        match c[i] {
            '/' if at(1) == Some('/') => {
                while i < c.len() && c[i] != '\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            '/' if at(1) == Some('*') => {
                let mut depth = 0usize;
                while i < c.len() {
                    let next = c.get(i + 1).copied();
                    if c[i] == '/' && next == Some('*') {
                        depth += 1;
                        out.push_str("  ");
                        i += 2;
                    } else if c[i] == '*' && next == Some('/') {
                        depth -= 1;
                        out.push_str("  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out.push(blank(c[i]));
                        i += 1;
                    }
                }
            }
            '"' => {
                // A string (also `b"..."`, `c"..."`: the prefix was copied as a plain char).
                out.push('"');
                i += 1;
                while i < c.len() {
                    out.push(c[i]);
                    if c[i] == '\\' && i + 1 < c.len() {
                        out.push(c[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if c[i - 1] == '"' {
                        break;
                    }
                }
            }
            'r' if raw_string_hashes(&c[i + 1..]).is_some() => {
                // A raw string `r#"..."#` (also `br`, `cr`): no escapes, ends at `"` + hashes.
                let hashes = raw_string_hashes(&c[i + 1..]).unwrap_or(0);
                let close: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let start = i + 2 + hashes;
                let end = (start..c.len())
                    .find(|&j| c[j..].starts_with(&close))
                    .map_or(c.len(), |j| j + close.len());
                out.extend(&c[i..end]);
                i = end;
            }
            '\'' if at(1) == Some('\\') => {
                // An escaped character literal: `'\n'`, `'\''`, `'\u{1F600}'`.
                let end = (i + 3..c.len())
                    .find(|&j| c[j] == '\'')
                    .map_or(c.len(), |j| j + 1);
                out.extend(&c[i..end]);
                i = end;
            }
            '\'' if at(2) == Some('\'') => {
                // A character literal `'x'` (a lifetime `'a` is copied as plain chars).
                out.extend(&c[i..i + 3]);
                i += 3;
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// After an `r`: the number of `#` before the `"` that opens a raw string, if one does.
fn raw_string_hashes(rest: &[char]) -> Option<usize> {
    let hashes = rest.iter().take_while(|&&ch| ch == '#').count();
    (rest.get(hashes) == Some(&'"')).then_some(hashes)
}

/// The identifiers of a line of code.
fn identifiers(line: &str) -> impl Iterator<Item = &str> {
    line.split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
        .filter(|w| w.starts_with(|ch: char| ch.is_alphabetic() || ch == '_'))
}

/// Each line of `src` (1-based number, the line) whose code, comments aside, names an AWS SDK
/// crate.
fn aws_mentions(src: &str) -> Vec<(usize, String)> {
    let code = without_comments(src);
    code.lines()
        .zip(src.lines())
        .enumerate()
        .filter(|(_, (code, _))| identifiers(code).any(is_aws_crate))
        .map(|(n, (_, line))| (n + 1, line.trim().to_string()))
        .collect()
}

#[test]
fn only_cloud_talks_to_aws() {
    let src = engine_src();
    let cloud = src.join("cloud");
    let files = rust_files(&src);
    assert!(files.len() > 10, "found only {files:?} under {src:?}");
    let mut offenders = Vec::new();
    for path in files.iter().filter(|p| !p.starts_with(&cloud)) {
        for (n, line) in aws_mentions(&read(path)) {
            offenders.push(format!("  {}:{n}: {line}", shown(path)));
        }
    }
    assert!(
        offenders.is_empty(),
        "only rig-engine/src/cloud/ may name an AWS SDK crate (aws_sdk_*, aws_config, \
         aws_smithy_*); move these behind cloud/:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_aws_scan_ignores_comments_but_not_code() {
    let src = r####"//! Talks to aws_config? No: a doc comment.
use std::fmt; // aws_sdk_s3 in a trailing comment
/* a block comment naming aws_smithy_types
   /* nested: aws_sdk_ec2 */ still a comment: aws_config */
const URL: &str = "https://example.com/x"; let c = '"'; let q = '\''; fn f<'a>(x: &'a str) -> aws_sdk_sts::Client {}
use aws_sdk_s3::Client;
const RAW: &str = r#"a // not a comment "# ; let n = aws_config::load_defaults;
let x: aws_smithy_types::Blob = todo!(); let not_it = my_aws_config + aws_configured;
"####;
    let found: Vec<usize> = aws_mentions(src).into_iter().map(|(n, _)| n).collect();
    assert_eq!(found, [5, 6, 7, 8]);
}

// ---------------------------------------------------------------------------------------------
// 2. The plugin contract depends on no AWS SDK and no tokio.

/// A package of `Cargo.lock`: name and version.
type Package = (String, String);

/// `Cargo.lock`'s dependency graph: each package and the packages it depends on.
fn lock_graph(lock: &toml::Table) -> BTreeMap<Package, Vec<Package>> {
    let packages = lock
        .get("package")
        .and_then(|p| p.as_array())
        .expect("Cargo.lock has [[package]]s");
    let field = |p: &toml::Value, key: &str| {
        p.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("a Cargo.lock package without `{key}`: {p:?}"))
            .to_string()
    };
    let all: Vec<Package> = packages
        .iter()
        .map(|p| (field(p, "name"), field(p, "version")))
        .collect();
    // A dependency is written `name`, `name version` or `name version (source)`: the version
    // is there only when the name alone is ambiguous.
    let resolve = |dep: &str| -> Package {
        let mut words = dep.split_whitespace();
        let name = words.next().unwrap_or_default();
        let version = words.next();
        let matches: Vec<&Package> = all
            .iter()
            .filter(|(n, v)| n == name && version.is_none_or(|want| v == want))
            .collect();
        match matches.as_slice() {
            [one] => (*one).clone(),
            _ => panic!("Cargo.lock dependency {dep:?} matches {matches:?}"),
        }
    };
    packages
        .iter()
        .zip(&all)
        .map(|(p, id)| {
            let deps = p
                .get("dependencies")
                .and_then(|d| d.as_array())
                .map(|d| d.iter().filter_map(|x| x.as_str()).map(resolve).collect())
                .unwrap_or_default();
            (id.clone(), deps)
        })
        .collect()
}

/// The package names of a manifest's normal dependencies (`[dependencies]` and
/// `[target.'cfg(..)'.dependencies]`, renames followed, through the workspace's table).
fn normal_dependencies(manifest: &toml::Table, workspace: &toml::Table) -> BTreeSet<String> {
    let workspace_deps = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table());
    let mut tables: Vec<&toml::Table> = manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .into_iter()
        .collect();
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        tables.extend(
            targets
                .values()
                .filter_map(|t| t.get("dependencies").and_then(|d| d.as_table())),
        );
    }
    let package = |v: Option<&toml::Value>| {
        v.and_then(|v| v.get("package"))
            .and_then(|p| p.as_str())
            .map(str::to_string)
    };
    tables
        .into_iter()
        .flat_map(|t| t.iter())
        .map(|(key, spec)| {
            package(Some(spec))
                .or_else(|| package(workspace_deps.and_then(|w| w.get(key))))
                .unwrap_or_else(|| key.clone())
        })
        .collect()
}

/// Whether a package is one the plugin contract must not pull in.
fn is_forbidden_in_the_contract(name: &str) -> bool {
    name.starts_with("aws-") || name == "tokio"
}

/// rig-core's normal dependencies, followed through `Cargo.lock` transitively. The lockfile does
/// not tell a package's normal dependencies from its build (or, for a workspace member, dev)
/// dependencies, and holds the features of the whole workspace: the walk can only find more
/// than `cargo tree -p rig-core -e normal` does, never less.
#[test]
fn the_plugin_contract_depends_on_no_aws_sdk_and_no_tokio() {
    let root = workspace_root();
    let parse = |p: &Path| -> toml::Table {
        toml::from_str(&read(p)).unwrap_or_else(|e| panic!("parsing {p:?}: {e}"))
    };
    let graph = lock_graph(&parse(&root.join("Cargo.lock")));
    let direct = normal_dependencies(
        &parse(&root.join("rig-core/Cargo.toml")),
        &parse(&root.join("Cargo.toml")),
    );
    let core = graph
        .keys()
        .find(|(name, _)| name == "rig-core")
        .expect("rig-core is in Cargo.lock")
        .clone();
    let seeds: Vec<Package> = graph[&core]
        .iter()
        .filter(|(name, _)| direct.contains(name))
        .cloned()
        .collect();
    let seeded: BTreeSet<&String> = seeds.iter().map(|(name, _)| name).collect();
    assert_eq!(
        seeded,
        direct.iter().collect(),
        "rig-core's [dependencies] and its Cargo.lock entry disagree"
    );

    // Breadth first, remembering how each package was reached.
    let mut via: BTreeMap<Package, Package> = BTreeMap::new();
    let mut queue: VecDeque<Package> = VecDeque::new();
    for s in seeds {
        via.insert(s.clone(), core.clone());
        queue.push_back(s);
    }
    while let Some(p) = queue.pop_front() {
        for d in graph.get(&p).into_iter().flatten() {
            if *d != core && !via.contains_key(d) {
                via.insert(d.clone(), p.clone());
                queue.push_back(d.clone());
            }
        }
    }
    let names: BTreeSet<&str> = via.keys().map(|(name, _)| name.as_str()).collect();
    for expected in ["serde", "serde_json", "semver", "thiserror"] {
        assert!(
            names.contains(expected),
            "the walk missed {expected}: {names:?}"
        );
    }

    let chain = |p: &Package| {
        let mut out = vec![format!("{} {}", p.0, p.1)];
        let mut at = p;
        while let Some(parent) = via.get(at) {
            out.push(format!("{} {}", parent.0, parent.1));
            at = parent;
        }
        out.reverse();
        out.join(" -> ")
    };
    let offenders: Vec<String> = via
        .keys()
        .filter(|(name, _)| is_forbidden_in_the_contract(name))
        .map(|p| format!("  {}", chain(p)))
        .collect();
    assert!(
        offenders.is_empty(),
        "rig-core (what third-party plugins build against) must not depend on the AWS SDK or \
         tokio:\n{}",
        offenders.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Files stay small.

#[test]
fn no_engine_file_is_over_400_lines() {
    let files = rust_files(&engine_src());
    let mut offenders: Vec<(usize, String)> = files
        .iter()
        .map(|p| (read(p).lines().count(), shown(p)))
        .filter(|(n, _)| *n > MAX_LINES)
        .collect();
    offenders.sort_by(|a, b| b.cmp(a));
    assert!(
        offenders.is_empty(),
        "files of rig-engine/src over {MAX_LINES} lines (split them by concern):\n{}",
        offenders
            .iter()
            .map(|(n, p)| format!("  {p}: {n} lines"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
