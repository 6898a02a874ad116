//! What can go wrong finding and loading a plugin, said so that the user can fix it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rig_core::Role;

use super::search::SearchEntry;

/// Why a plugin could not be found or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// No plugin with this id and role is on the search path.
    #[error("{}", not_found(*.role, .id, .file_name, .searched, .skipped, .known))]
    NotFound {
        /// The role asked for.
        role: Role,
        /// The id asked for.
        id: String,
        /// The file name looked for in each folder.
        file_name: String,
        /// Every place searched, in order.
        searched: Vec<SearchEntry>,
        /// Explicitly given files that could not be loaded, with why.
        skipped: Vec<String>,
        /// The ids of the usable plugins of this role that rig did find, sorted.
        known: Vec<String>,
    },
    /// rig.toml holds settings for a backend no plugin on the search path provides.
    #[error(
        "`{table}` holds settings for the {role} backend `{id}`, which rig did not find{}, so \
         they would be ignored. The {role} backends rig found: {}\n  hint: rename the table to \
         the backend's id, or remove it",
        closest(.id, .known).map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default(),
        if .known.is_empty() { "none".to_string() } else { .known.join(", ") }
    )]
    UnknownSettingsTable {
        /// The table as written, e.g. `[compute.fargat]`.
        table: String,
        role: Role,
        /// The backend id the table names.
        id: String,
        /// The ids of the usable plugins of this role that rig did find, sorted.
        known: Vec<String>,
    },
    /// A plugin file or folder given with `--plugin` or `[plugins] paths` does not exist.
    #[error(
        "plugin path `{}` does not exist (given with --plugin or rig.toml's `[plugins] paths`)\n  \
         hint: correct the path, or remove it",
        .path.display()
    )]
    GivenMissing {
        /// The path as given (made absolute).
        path: PathBuf,
    },
    /// The id asked for cannot name a plugin.
    #[error("`{id}` is not a valid plugin id: {reason}")]
    InvalidId {
        /// The id asked for.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file could not be opened as a shared library.
    #[error(
        "cannot open `{}` as a plugin library: {reason}. A rig plugin is a shared library built \
         for this platform (`{}`): rebuild it with `cargo build --release`, or remove the file",
        .path.display(),
        std::env::consts::DLL_SUFFIX
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// The library does not export the entry symbol.
    #[error(
        "`{}` is a shared library but not a rig plugin of this ABI: it does not export \
         `rig_plugin_entry_v1` ({reason}). A plugin exports it with \
         `rig_core::export_plugin!(<role>, <backend>)`; rebuild it against this rig's rig-core, \
         or remove the file",
        .path.display()
    )]
    MissingEntry {
        /// The file.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// The entry symbol returned a table the host cannot use.
    #[error("`{}` is not a usable rig plugin: {reason}; rebuild it against this rig's rig-core", .path.display())]
    BadTable {
        /// The file.
        path: PathBuf,
        /// What is wrong with the table.
        reason: String,
    },
    /// The plugin's table has another ABI version.
    #[error(
        "`{}` uses plugin ABI version {plugin}, but this rig speaks plugin ABI version {host}; \
         rebuild the plugin against the rig-core of this rig (protocol {})",
        .path.display(),
        rig_core::PROTOCOL_VERSION
    )]
    AbiMismatch {
        /// The file.
        path: PathBuf,
        /// The plugin's ABI version.
        plugin: u32,
        /// The host's ABI version.
        host: u32,
    },
    /// The plugin's protocol version is not one this host can talk to.
    #[error("plugin `{id}` at `{}` cannot be used: {reason}", .path.display())]
    Incompatible {
        /// The file.
        path: PathBuf,
        /// The plugin's id.
        id: String,
        /// The protocol the plugin was built against.
        plugin_protocol: String,
        /// The protocol of this host.
        host_protocol: String,
        /// The verdict, naming both versions.
        reason: String,
    },
    /// The plugin's manifest could not be read or breaks a rule.
    #[error("`{}` has an unusable manifest: {reason}", .path.display())]
    BadManifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The plugin fills another role than the one asked for.
    #[error(
        "plugin `{id}` at `{}` is a {actual} backend, not a {wanted} backend; use it as \
         `backend = \"{id}\"` under `[{actual}]`, or choose a {wanted} backend \
         (`rig plugins list` shows them all)",
        .path.display()
    )]
    RoleMismatch {
        /// The plugin's id.
        id: String,
        /// The file.
        path: PathBuf,
        /// The role asked for.
        wanted: Role,
        /// The role the plugin fills.
        actual: Role,
    },
}

impl HostError {
    /// The library file the error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            HostError::NotFound { .. }
            | HostError::InvalidId { .. }
            | HostError::UnknownSettingsTable { .. } => None,
            HostError::GivenMissing { path }
            | HostError::Open { path, .. }
            | HostError::MissingEntry { path, .. }
            | HostError::BadTable { path, .. }
            | HostError::AbiMismatch { path, .. }
            | HostError::Incompatible { path, .. }
            | HostError::BadManifest { path, .. }
            | HostError::RoleMismatch { path, .. } => Some(path),
        }
    }
}

fn not_found(
    role: Role,
    id: &str,
    file_name: &str,
    searched: &[SearchEntry],
    skipped: &[String],
    known: &[String],
) -> String {
    let mut s = format!("no {role} plugin `{id}` found.");
    if let Some(near) = closest(id, known) {
        let _ = write!(s, " Did you mean `{near}`?");
    }
    if known.is_empty() {
        let _ = write!(s, " rig found no {role} plugin at all.");
    } else {
        let _ = write!(s, " The {role} backends rig found: {}.", known.join(", "));
    }
    if searched.is_empty() {
        s.push_str(" The plugin search path is empty.");
    } else {
        let _ = write!(s, " rig looked for `{file_name}` in:");
        for e in searched {
            let _ = write!(s, "\n  - {e}");
        }
    }
    if !skipped.is_empty() {
        s.push_str("\nand could not load:");
        for k in skipped {
            let _ = write!(s, "\n  - {k}");
        }
    }
    let _ = write!(
        s,
        "\nTo make rig find it: build the plugin with `cargo build --release`, then copy \
         `{file_name}` into the project's `.rig/plugins/` folder, or add the folder holding it \
         to RIG_PLUGIN_PATH, or name the file with `--plugin PATH` (or in rig.toml's \
         `[plugins] paths = [\"PATH\"]`). `rig plugins list` shows every plugin rig can see."
    );
    s
}

/// The id in `known` nearest to `id` (Jaro-Winkler similarity of at least 0.8), for "did you
/// mean".
pub fn closest<'a>(id: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(id, k), k))
        .filter(|(score, k)| *score >= 0.8 && k.as_str() != id)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.as_str())
}
