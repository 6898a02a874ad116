//! How `rig` prints data and which exit code it returns.
//!
//! Data goes to stdout: text for people, or with `--output json` (alias `--json`) one JSON
//! document per command. Every document is an object whose `schema` field names the command
//! and the version of its shape, e.g. `"schema": "rig.status/1"`; the shapes are documented in
//! `docs/output.md` and pinned by golden files in `tests/golden/json/`. A field is only ever
//! added within a version; a removed or renamed field bumps it.

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

/// Prints `value` (which must serialise to a JSON object) as the JSON document of command
/// `kind` (`"status"`, `"app.deploy"`, ...), with its `schema` field first.
pub fn print_doc<T: Serialize>(kind: &str, value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&document(kind, value)?)?);
    Ok(())
}

/// The JSON document of command `kind`: `{"schema": "rig.<kind>/<version>", ...value}`.
pub fn document<T: Serialize>(kind: &str, value: &T) -> Result<serde_json::Value> {
    let body = serde_json::to_value(value)?;
    let serde_json::Value::Object(fields) = body else {
        anyhow::bail!("internal: the JSON document of `{kind}` is not an object");
    };
    let mut doc = serde_json::Map::new();
    doc.insert(
        "schema".into(),
        format!("rig.{kind}/{SCHEMA_VERSION}").into(),
    );
    for (k, v) in fields {
        if k != "schema" {
            doc.insert(k, v);
        }
    }
    Ok(serde_json::Value::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_names_its_schema_first() {
        let d = document("status", &serde_json::json!({"stacks": []})).unwrap();
        assert_eq!(d["schema"], "rig.status/1");
        assert_eq!(d.as_object().unwrap().keys().next().unwrap(), "schema");
        assert!(document("status", &vec![1]).is_err());
    }
}
