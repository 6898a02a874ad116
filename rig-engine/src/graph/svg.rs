//! The graph as SVG, laid out by `layout-rs` from the DOT text [`super::dot`] writes. The
//! layout draws nodes and edges with their labels; it does not draw clusters.

use std::panic::{catch_unwind, AssertUnwindSafe};

use layout::backends::svg::SVGWriter;
use layout::gv::{DotParser, GraphBuilder};

use super::GraphError;

/// The SVG document laid out from `dot`.
///
/// Errors: [`GraphError::Layout`] when the DOT text cannot be read or the layout fails.
pub(super) fn render(dot: &str) -> Result<String, GraphError> {
    let ast = DotParser::new(dot).process().map_err(GraphError::Layout)?;
    catch_unwind(AssertUnwindSafe(|| {
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&ast);
        let mut graph = builder.get();
        let mut svg = SVGWriter::new();
        graph.do_it(false, false, false, &mut svg);
        svg.finalize()
    }))
    .map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the layout stopped".into());
        GraphError::Layout(why)
    })
}
