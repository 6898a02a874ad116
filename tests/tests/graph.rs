//! `rig graph` offline: the picture of a riglet drawn from its plan (Mermaid pinned by an insta
//! snapshot, DOT read back, SVG written), and every stack of the plan in it for every
//! combination of the built-in backends.

use std::path::{Path, PathBuf};
use std::process::Output;

use rig_tests::matrix::{config_text, offline_command, OFFLINE_CERT};
use serde_json::Value;

/// `rig` with no AWS behind it (a closed port), in `dir`.
fn offline(dir: &Path, args: &[&str]) -> Output {
    let out = offline_command(dir).args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "rig {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", stdout(o)))
}

/// A folder holding a `rig.toml` for `compute` and `database`.
fn riglet(name: &str, compute: &str, database: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rig-graph-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let config = config_text("shop", OFFLINE_CERT, compute, database);
    std::fs::write(d.join("rig.toml"), config).unwrap();
    d
}

#[test]
fn fargate_and_aurora_serverless_as_mermaid_dot_and_svg() {
    let d = riglet("fargate", "fargate", "aurora-serverless");
    let mermaid = stdout(&offline(&d, &["graph"]));
    insta::assert_snapshot!("fargate_aurora_serverless_mermaid", mermaid);
    assert_eq!(
        mermaid,
        stdout(&offline(&d, &["graph", "--format", "mermaid"])),
        "the same plan draws the same picture"
    );

    let dot = stdout(&offline(&d, &["graph", "--format", "dot"]));
    layout::gv::DotParser::new(&dot)
        .process()
        .unwrap_or_else(|e| panic!("the DOT text does not parse: {e}\n{dot}"));
    for env in ["integration", "staging", "production"] {
        let f = format!("s_acme_shop_{env}_foundation");
        for wired in [
            format!("  {f} -> s_acme_shop_{env}_compute_ecs [label=\"AppSecurityGroup\"];"),
            format!("  {f} -> s_acme_shop_{env}_db_aurora [label=\"AppSecurityGroup, InternalDns, SubnetDatabaseA +2\"];"),
            format!("  subgraph cluster_env_{env} {{"),
        ] {
            assert!(dot.contains(&wired), "missing `{wired}` in\n{dot}");
        }
    }

    let svg_file = d.join("riglet.svg");
    let out = offline(
        &d,
        &[
            "graph",
            "--format",
            "svg",
            "--out",
            svg_file.to_str().unwrap(),
        ],
    );
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    let svg = std::fs::read_to_string(&svg_file).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert!(svg.contains("acme-shop-staging-db-aurora"), "{svg}");
}

#[test]
fn every_stack_of_the_plan_is_a_node_for_every_combination() {
    for compute in ["fargate", "ecs-ec2"] {
        for database in ["aurora-serverless", "aurora-provisioned", "couchdb", "none"] {
            let d = riglet(&format!("{compute}-{database}"), compute, database);
            let rendered = json(&offline(&d, &["render", "--json", "--out", "out"]));
            let mut planned: Vec<&str> = rendered["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["stack"].as_str().unwrap())
                .collect();
            planned.sort_unstable();
            let doc = json(&offline(&d, &["graph", "--output", "json"]));
            assert_eq!(doc["schema"], "rig.graph/1");
            let nodes = doc["nodes"].as_array().unwrap();
            let mut drawn: Vec<&str> = nodes
                .iter()
                .filter(|n| n["kind"] == "stack")
                .map(|n| n["stack"].as_str().unwrap())
                .collect();
            drawn.sort_unstable();
            assert_eq!(drawn, planned, "{compute} + {database}");
            // Every edge joins two drawn stacks, and every stack but the foundations uses one.
            let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
            let edges = doc["edges"].as_array().unwrap();
            for e in edges {
                assert!(ids.contains(&e["from"].as_str().unwrap()), "{e}");
                assert!(ids.contains(&e["to"].as_str().unwrap()), "{e}");
            }
            for n in nodes.iter().filter(|n| n["kind"] == "stack") {
                let id = n["id"].as_str().unwrap();
                let uses = edges.iter().any(|e| e["to"] == id);
                assert_eq!(
                    uses,
                    !id.ends_with("_foundation"),
                    "{compute} + {database}: {id}"
                );
            }
        }
    }
}
