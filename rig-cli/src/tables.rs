//! Tables on stdout (comfy-table): the summaries of `up` and `down`, and `rig plan`'s view.

use comfy_table::presets::NOTHING;
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table};
use rig_engine::engine::down::DownReport;
use rig_engine::engine::{ChangeAction, Outcome, PlanReport, UpReport};

use crate::live::colour;

/// A borderless table with a header row, wrapped to the terminal's width when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(Cell::new));
    if !colour() {
        t.force_no_tty();
    }
    t
}

fn outcome_cell(o: Outcome) -> Cell {
    let c = Cell::new(o.as_str());
    match o {
        Outcome::Failed | Outcome::Skipped => c.fg(Color::Red),
        Outcome::Created | Outcome::Updated | Outcome::Deleted => c.fg(Color::Green),
        Outcome::Unchanged => c,
    }
}

/// `rig up`'s summary: one row per stack (outcome, seconds, the first line of its error).
pub fn up_summary(report: &UpReport) -> String {
    let mut t = table(&["STACK", "OUTCOME", "SECONDS", "DETAIL"]);
    for s in &report.stacks {
        let secs = s.finished_ms.saturating_sub(s.started_ms) as f64 / 1000.0;
        t.add_row(vec![
            Cell::new(&s.name),
            outcome_cell(s.outcome),
            Cell::new(format!("{secs:.1}")).set_alignment(CellAlignment::Right),
            Cell::new(
                s.error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .unwrap_or_default(),
            ),
        ]);
    }
    trimmed(t)
}

/// `rig down`'s summary: what was deleted, one row each.
pub fn down_summary(report: &DownReport) -> String {
    let mut t = table(&["KIND", "NAME", "RESULT"]);
    for s in &report.stacks_deleted {
        t.add_row(vec![
            Cell::new("stack"),
            Cell::new(s),
            outcome_cell(Outcome::Deleted),
        ]);
    }
    for f in &report.stacks_failed {
        t.add_row(vec![
            Cell::new("stack"),
            Cell::new(&f.name),
            Cell::new("FAILED").fg(Color::Red),
        ]);
    }
    for b in &report.buckets_deleted {
        t.add_row(vec![
            Cell::new("bucket"),
            Cell::new(b),
            outcome_cell(Outcome::Deleted),
        ]);
    }
    for p in &report.parameters_deleted {
        t.add_row(vec![
            Cell::new("parameter"),
            Cell::new(p),
            outcome_cell(Outcome::Deleted),
        ]);
    }
    trimmed(t)
}

fn trimmed(t: Table) -> String {
    t.to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

fn sign(a: ChangeAction) -> &'static str {
    match a {
        ChangeAction::Add | ChangeAction::Import => "+",
        ChangeAction::Remove => "-",
        ChangeAction::Replace | ChangeAction::ConditionalReplace => "±",
        _ => "~",
    }
}

/// `rig plan` as text: per stack its action, its parameters that change (old → new), each
/// resource change with the properties that change and whether that replaces the resource
/// (replacements in capitals, red on a terminal), then one line of totals.
pub fn plan_text(report: &PlanReport) -> String {
    let red = |s: String| {
        if colour() {
            console::style(s).red().bold().to_string()
        } else {
            s
        }
    };
    let mut out = Vec::new();
    for b in &report.buckets_to_create {
        out.push(format!("+ bucket {b}"));
    }
    for s in &report.parameters_to_create {
        out.push(format!("+ parameter {s}"));
    }
    for s in &report.parameters_to_write {
        out.push(format!("~ parameter {s}"));
    }
    for s in &report.secrets_to_store {
        out.push(format!("+ secret {s} (asked for at `rig up`)"));
    }
    for s in &report.stacks {
        out.push(format!(
            "{:<48} {}{}",
            s.name,
            s.action.as_str(),
            s.note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
        for p in &s.parameters {
            out.push(format!(
                "    ~ parameter {}: {} → {}",
                p.key,
                p.before.as_deref().unwrap_or("(new)"),
                p.after
            ));
        }
        for c in &s.changes {
            let replaces = matches!(
                c.action,
                ChangeAction::Replace | ChangeAction::ConditionalReplace
            );
            let action = if replaces {
                c.action.as_str().to_uppercase()
            } else {
                c.action.as_str().to_string()
            };
            let line = format!(
                "    {} {:<20} {:<40} {}",
                sign(c.action),
                action,
                c.resource_type,
                c.logical_id
            );
            out.push(if replaces { red(line) } else { line });
            for d in &c.properties {
                let name = d
                    .path
                    .clone()
                    .or_else(|| d.name.clone())
                    .unwrap_or_else(|| d.attribute.clone());
                let why = match (d.change_source.as_deref(), d.causing_entity.as_deref()) {
                    (Some("ParameterReference"), Some(p)) => format!(" (parameter {p})"),
                    (Some("ResourceReference" | "ResourceAttribute"), Some(r)) => {
                        format!(" (refers to {r})")
                    }
                    _ => String::new(),
                };
                let values = match (&d.before, &d.after) {
                    (None, None) => String::new(),
                    (b, a) => format!(
                        ": {} → {}",
                        b.as_deref().unwrap_or("(none)"),
                        a.as_deref().unwrap_or("(none)")
                    ),
                };
                let recreate = match d.requires_recreation.as_deref() {
                    Some("Always") => red(" — replaces the resource".into()),
                    Some("Conditionally") => red(" — may replace the resource".into()),
                    _ => String::new(),
                };
                out.push(format!("        {name}{why}{values}{recreate}"));
            }
        }
    }
    let t = report.totals();
    if report.has_changes() {
        out.push(format!(
            "Plan: {} to add, {} to modify, {} to replace, {} to remove.",
            t.add,
            t.modify,
            if t.replace > 0 {
                red(t.replace.to_string())
            } else {
                "0".into()
            },
            t.remove
        ));
    } else {
        out.push("no changes".into());
    }
    out.join("\n")
}
