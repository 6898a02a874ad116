//! A picture of a riglet drawn from its plan, with no AWS call: environments as clusters, each
//! holding its stacks (name, role and backend) and their key resources read from the templates;
//! edges for the stacks' dependencies and the wiring between them (`Fn::ImportValue` of another
//! stack's export, a parameter set to another stack's output or name). Because it reads only
//! the plan, it holds for any combination of backends, third-party plugins included.
//!
//! [`build`] makes the [`Graph`]; [`render`] draws it as Mermaid, Graphviz DOT or SVG.

mod build;
mod cfn;
mod dot;
mod mermaid;
mod svg;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use build::build;

/// The riglet as nodes and edges, sorted so the same plan always draws the same picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// The clusters, in the configuration's order: each environment, then `riglet` for the
    /// riglet-wide stacks (pipelines, notifications) when there are any.
    pub clusters: Vec<Cluster>,
    /// Stacks, then within each stack its key resources and what is left out, grouped by
    /// cluster.
    pub nodes: Vec<Node>,
    /// One edge per pair of stacks that depend on or refer to each other, sorted by the
    /// providing stack, then the using one, in node order.
    pub edges: Vec<Edge>,
}

/// An environment (or the riglet-wide group) drawn as a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    pub id: String,
    pub label: String,
    /// The environment's name; `None` for the riglet-wide group.
    pub env: Option<String>,
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A stack of the plan.
    Stack,
    /// A key resource of a stack's template (or all its subnets as one node).
    Resource,
    /// The count of a stack's other resources.
    More,
}

/// One node of the picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// An identifier safe in Mermaid and DOT (letters, digits and `_`).
    pub id: String,
    pub kind: NodeKind,
    /// The first line: the stack's name, the resource's logical id, or `+N more`.
    pub label: String,
    /// The second line: `role · backend` for a stack, what a resource is.
    pub detail: String,
    /// The cluster it is drawn in.
    pub cluster: String,
    /// The stack it is or belongs to.
    pub stack: String,
    /// A resource node's CloudFormation type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// How many resources the node stands for (1 for a stack).
    pub count: usize,
}

impl Node {
    /// The node's text as lines.
    pub fn lines(&self) -> Vec<&str> {
        [self.label.as_str(), self.detail.as_str()]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// How one stack refers to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Wire {
    /// The stack's template imports an export of the other (`Fn::ImportValue`).
    Import { export: String, output: String },
    /// One of the stack's parameters is set to an output of the other.
    Parameter { parameter: String, output: String },
    /// One of the stack's parameters is set to the other stack's name.
    StackName { parameter: String },
}

impl Wire {
    /// What an edge shows for it: the output's key, or the parameter naming the stack.
    pub fn label(&self) -> &str {
        match self {
            Wire::Import { output, .. } | Wire::Parameter { output, .. } => output,
            Wire::StackName { parameter } => parameter,
        }
    }
}

/// An edge from the stack that provides to the stack that uses it (the order they deploy in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The providing stack's node id.
    pub from: String,
    /// The using stack's node id.
    pub to: String,
    /// The using stack names the providing one in its `depends_on`.
    pub depends_on: bool,
    /// What the using stack takes from the providing one, sorted.
    pub wires: Vec<Wire>,
}

/// Labels shown on an edge before the rest are counted (`A, B, C +2`).
pub const EDGE_LABELS_SHOWN: usize = 3;

impl Edge {
    /// The edge's label: the distinct wire labels, the first few and a count of the rest;
    /// empty for a dependency alone.
    pub fn label(&self) -> String {
        let mut labels: Vec<&str> = self.wires.iter().map(Wire::label).collect();
        labels.sort_unstable();
        labels.dedup();
        let shown = labels
            .iter()
            .take(EDGE_LABELS_SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        match labels.len().saturating_sub(EDGE_LABELS_SHOWN) {
            0 => shown,
            n => format!("{shown} +{n}"),
        }
    }
}

impl Graph {
    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node of the stack named `name`.
    pub fn stack_node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.kind == NodeKind::Stack && n.stack == name)
    }
}

/// The pictures [`render`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid `flowchart LR` with one subgraph per cluster.
    Mermaid,
    /// A Graphviz `digraph` with one `cluster_*` subgraph per cluster.
    Dot,
    /// An SVG image laid out from the DOT text (clusters are not drawn; nodes and edges are).
    Svg,
}

/// Why a picture could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The SVG layout failed on the DOT text.
    #[error("cannot lay out the graph as SVG: {0}")]
    Layout(String),
}

/// Draws `graph` in `format`.
///
/// Errors: [`GraphError::Layout`] when the SVG layout fails (Mermaid and DOT always succeed).
pub fn render(graph: &Graph, format: Format) -> Result<String, GraphError> {
    match format {
        Format::Mermaid => Ok(mermaid::render(graph)),
        Format::Dot => Ok(dot::render(graph)),
        Format::Svg => svg::render(&dot::render(graph)),
    }
}
