//! The graph as Graphviz DOT: a `digraph` laid out left to right, one `cluster_*` subgraph per
//! cluster holding its stacks and their resources; a headless edge from a stack to each of its
//! resources, a labelled edge for wiring and a dashed one for a dependency alone.

use std::fmt::Write;

use super::{Graph, Node, NodeKind};

/// The DOT text of `graph`, ending with a newline.
pub(super) fn render(graph: &Graph) -> String {
    let mut out = String::from("digraph riglet {\n");
    out.push_str("  rankdir=LR;\n");
    out.push_str("  node [shape=box, fontsize=12];\n");
    out.push_str("  edge [fontsize=10];\n");
    for cluster in &graph.clusters {
        let _ = writeln!(out, "  subgraph cluster_{} {{", cluster.id);
        let _ = writeln!(out, "    label=\"{}\";", quoted(&cluster.label));
        for node in graph.nodes.iter().filter(|n| n.cluster == cluster.id) {
            let _ = writeln!(out, "    {}", declaration(node));
        }
        out.push_str("  }\n");
    }
    for node in graph.nodes.iter().filter(|n| n.kind != NodeKind::Stack) {
        if let Some(stack) = graph.stack_node(&node.stack) {
            let _ = writeln!(
                out,
                "  {} -> {} [arrowhead=none, color=\"#9aa0a6\"];",
                stack.id, node.id
            );
        }
    }
    for edge in &graph.edges {
        let label = edge.label();
        if label.is_empty() {
            let _ = writeln!(out, "  {} -> {} [style=dashed];", edge.from, edge.to);
        } else {
            let _ = writeln!(
                out,
                "  {} -> {} [label=\"{}\"];",
                edge.from,
                edge.to,
                quoted(&label)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn declaration(node: &Node) -> String {
    let label = node
        .lines()
        .into_iter()
        .map(quoted)
        .collect::<Vec<_>>()
        .join("\\n");
    let look = match node.kind {
        NodeKind::Stack => "style=filled, fillcolor=\"#e8f0fe\", color=\"#1a73e8\"",
        NodeKind::Resource => "color=\"#9aa0a6\"",
        NodeKind::More => "style=dashed, color=\"#dadce0\", fontcolor=\"#5f6368\"",
    };
    format!("{} [label=\"{label}\", {look}];", node.id)
}

/// Text safe inside a quoted DOT string.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
