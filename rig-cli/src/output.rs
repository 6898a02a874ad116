//! How `rig` prints data and which exit code it returns.
//!
//! Data goes to stdout: text for people, or with `--output json` (alias `--json`) one JSON
//! document per command. Every document is an object whose `schema` field names the command
//! and the version of its shape, e.g. `"schema": "rig.status/1"`; the shapes are documented in
//! `docs/output.md` and pinned by golden files in `tests/golden/json/`. A field is only ever
//! added within a version; a removed or renamed field bumps it.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use serde::Serialize;

/// What data looks like on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Lines and tables for people.
    #[default]
    Text,
    /// One JSON document per command (see docs/output.md).
    Json,
}

/// The exit codes `rig` returns (documented in README.md, "Exit codes").
pub mod exit {
    /// The command did what was asked.
    pub const OK: u8 = 0;
    /// The command failed (an AWS error, a stack that failed, a failed check, a refusal).
    pub const FAILURE: u8 = 1;
    /// `rig plan` only: the plan has changes (as Terraform's `-detailed-exitcode`).
    pub const CHANGES: u8 = 2;
    /// A usage or configuration error: a bad flag, or a `rig.toml` rig cannot use. Nothing
    /// was sent to AWS. (64 is `EX_USAGE` of sysexits.h.)
    pub const USAGE: u8 = 64;
    /// Interrupted with Ctrl-C (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

/// The version of every JSON document's shape; see the module docs.
pub const SCHEMA_VERSION: u32 = 1;

/// Whether this run has printed its JSON document; an error after it is then reported on
/// stderr only, so stdout stays one document.
static DOC_PRINTED: AtomicBool = AtomicBool::new(false);

/// Prints `value` (which must serialise to a JSON object) as the JSON document of command
/// `kind` (`"status"`, `"app.deploy"`, ...), with its `schema` field first.
pub fn print_doc<T: Serialize>(kind: &str, value: &T) -> Result<()> {
    println!("{}", document(kind, value)?);
    DOC_PRINTED.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether [`print_doc`] has printed this run's document.
pub fn doc_printed() -> bool {
    DOC_PRINTED.load(Ordering::SeqCst)
}

/// The JSON document of command `kind`, pretty-printed: `{"schema": "rig.<kind>/<version>",
/// ...value}`, the schema first and the other fields in the order `value` serialises them
/// (a map's keys sorted).
pub fn document<T: Serialize>(kind: &str, value: &T) -> Result<String> {
    #[derive(Serialize)]
    struct Doc {
        schema: String,
        #[serde(flatten)]
        body: serde_json::Map<String, serde_json::Value>,
    }
    let serde_json::Value::Object(mut body) = serde_json::to_value(value)? else {
        anyhow::bail!("internal: the JSON document of `{kind}` is not an object");
    };
    body.remove("schema");
    let doc = Doc {
        schema: format!("rig.{kind}/{SCHEMA_VERSION}"),
        body,
    };
    Ok(serde_json::to_string_pretty(&doc)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_names_its_schema_first() {
        let d = document("status", &serde_json::json!({"stacks": [], "a": 1})).unwrap();
        assert!(d.starts_with("{\n  \"schema\": \"rig.status/1\",\n"), "{d}");
        let v: serde_json::Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v["a"], 1);
        assert!(document("status", &vec![1]).is_err());
    }
}
