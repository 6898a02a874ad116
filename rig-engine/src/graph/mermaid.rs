//! The graph as a Mermaid `flowchart LR`: one subgraph per cluster holding its stacks and their
//! resources; a plain link from a stack to each of its resources, a labelled arrow for wiring
//! and a dotted arrow for a dependency alone.

use std::fmt::Write;

use super::{Graph, Node, NodeKind};

/// The Mermaid text of `graph`, ending with a newline.
pub(super) fn render(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for cluster in &graph.clusters {
        let _ = writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            cluster.id,
            text(&cluster.label)
        );
        for node in graph.nodes.iter().filter(|n| n.cluster == cluster.id) {
            let _ = writeln!(out, "    {}", declaration(node));
        }
        out.push_str("  end\n");
    }
    for node in graph.nodes.iter().filter(|n| n.kind != NodeKind::Stack) {
        if let Some(stack) = graph.stack_node(&node.stack) {
            let _ = writeln!(out, "  {} --- {}", stack.id, node.id);
        }
    }
    for edge in &graph.edges {
        let label = edge.label();
        if label.is_empty() {
            let _ = writeln!(out, "  {} -.-> {}", edge.from, edge.to);
        } else {
            let _ = writeln!(out, "  {} -->|\"{}\"| {}", edge.from, text(&label), edge.to);
        }
    }
    out.push_str("  classDef stack fill:#e8f0fe,stroke:#1a73e8,color:#0b2e59\n");
    out.push_str("  classDef resource fill:#ffffff,stroke:#9aa0a6,color:#202124\n");
    out.push_str(
        "  classDef more fill:#ffffff,stroke:#dadce0,stroke-dasharray:3 3,color:#5f6368\n",
    );
    out
}

fn declaration(node: &Node) -> String {
    let label = node
        .lines()
        .into_iter()
        .map(text)
        .collect::<Vec<_>>()
        .join("<br/>");
    match node.kind {
        NodeKind::Stack => format!("{}[\"{label}\"]:::stack", node.id),
        NodeKind::Resource => format!("{}(\"{label}\"):::resource", node.id),
        NodeKind::More => format!("{}(\"{label}\"):::more", node.id),
    }
}

/// Text safe inside a quoted Mermaid label (quotes and angle brackets as entities).
fn text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}
