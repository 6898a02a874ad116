//! `rig graph`: a picture of the riglet's stacks, their key resources and the wiring between
//! them, drawn from the plan (no AWS call).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use rig_engine::graph::{self, Format};

use crate::output::{exit, print_doc};
use crate::{prepare, Global, Select};

/// The picture's format.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GraphFormat {
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown).
    #[default]
    Mermaid,
    /// Graphviz DOT (`dot -Tpng`).
    Dot,
    /// An SVG image (laid out without the environment boxes).
    Svg,
}

impl From<GraphFormat> for Format {
    fn from(f: GraphFormat) -> Self {
        match f {
            GraphFormat::Mermaid => Format::Mermaid,
            GraphFormat::Dot => Format::Dot,
            GraphFormat::Svg => Format::Svg,
        }
    }
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    select: Select,
    /// The picture's format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    /// Write the picture to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Draws the plan's graph; with `--output json`, prints its nodes and edges as the `graph`
/// document (the picture still goes to `--out` when given).
pub fn run(g: &Global, args: GraphArgs) -> Result<u8> {
    let session = prepare(g, &args.select)?;
    let graph = graph::build(&session.plan);
    let needed = args.out.is_some() || !g.json();
    let picture = if needed {
        Some(graph::render(&graph, args.format.into())?)
    } else {
        None
    };
    if let (Some(path), Some(text)) = (&args.out, &picture) {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("graph written to {}", path.display());
    }
    if g.json() {
        let format = args
            .format
            .to_possible_value()
            .map(|v| v.get_name().to_string());
        print_doc(
            "graph",
            &serde_json::json!({
                "format": format,
                "out": args.out,
                "clusters": graph.clusters,
                "nodes": graph.nodes,
                "edges": graph.edges,
            }),
        )?;
    } else if args.out.is_none() {
        if let Some(text) = picture {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
    }
    Ok(exit::OK)
}
