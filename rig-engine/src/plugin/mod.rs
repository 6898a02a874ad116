//! The plugin host: finds backend plugins on disk, loads them and hands them to the engine as
//! ordinary rig-core backends.
//!
//! A backend plugin is a shared library exporting one C symbol, `rig_plugin_entry_v1`, which
//! returns a small `#[repr(C)]` table (see [`rig_core::protocol`]). The host
//!
//! 1. opens the library with `libloading` and never closes it;
//! 2. checks the table: non-null, `abi_version` equal to this rig's, `struct_size` at least the
//!    size of the table this rig knows (a bigger one, from a newer plugin, is fine);
//! 3. reads the JSON manifest, checks its protocol version with
//!    [`rig_core::protocol::check_protocol`], its id and its stack suffix;
//! 4. wraps the plugin in a [`DynamicPlugin`], which implements [`rig_core::Backend`] and the
//!    role traits by sending JSON through the table.
//!
//! Plugins are looked up along a [`SearchPath`]: explicit files first, then each folder of
//! `RIG_PLUGIN_PATH`, the project's `.rig/plugins`, the user's data folder
//! (`$XDG_DATA_HOME/rig/plugins` or `~/.local/share/rig/plugins`) and the folder of the `rig`
//! executable. In a folder, plugin `id` is the file [`plugin_file_name`]`(id)`, e.g.
//! `librig_plugin_rds_postgres.so` for `rds-postgres` on Linux.
//!
//! ```no_run
//! use rig_engine::plugin::{PluginHost, SearchPath};
//!
//! let host = PluginHost::new(SearchPath::standard(Vec::new(), Some(std::path::Path::new("."))));
//! let compute = host.compute("fargate")?;
//! # Ok::<(), rig_engine::plugin::HostError>(())
//! ```

mod dynamic;
mod error;
mod loader;
mod search;
mod table;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rig_core::{Compute, Database, Foundation, Manifest, Pipeline, Role};
use serde::Serialize;
use tracing::debug;

pub use dynamic::DynamicPlugin;
pub use error::HostError;
pub use search::{
    id_from_file_name, plugin_file_name, EntryKind, Origin, SearchEntry, SearchEnv, SearchPath,
    PLUGIN_PATH_VAR,
};

/// One candidate library, as `rig plugins list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginListing {
    /// The library file.
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    /// Which part of the search path it was found through.
    pub origin: Origin,
    /// Its manifest, when it could be read (also when it is incompatible).
    pub manifest: Option<Manifest>,
    /// Whether rig can use it.
    pub compatible: bool,
    /// A compatible plugin with the same role and id came earlier in the search path, so this
    /// one is never used.
    pub shadowed: bool,
    /// The file that shadows it.
    #[serde(serialize_with = "lossy_opt_path")]
    pub shadowed_by: Option<PathBuf>,
    /// Why it cannot be used (or, for a usable plugin, what else is wrong with it).
    pub problem: Option<String>,
}

fn lossy_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

fn lossy_opt_path<S: serde::Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_some(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// Finds and loads plugins along a [`SearchPath`].
///
/// Loaded libraries are shared by the whole process: loading the same file (by canonical path)
/// twice gives the same [`DynamicPlugin`], and no library is ever unloaded.
#[derive(Debug, Clone)]
pub struct PluginHost {
    search: SearchPath,
}

impl PluginHost {
    /// A host searching `search`.
    pub fn new(search: SearchPath) -> Self {
        PluginHost { search }
    }

    /// The places this host searches, in order.
    pub fn search_path(&self) -> &SearchPath {
        &self.search
    }

    /// Loads the library at `path`, whatever its name and wherever it is.
    pub fn load(&self, path: &Path) -> Result<Arc<DynamicPlugin>, HostError> {
        debug!(path = %path.display(), "trying plugin candidate");
        loader::load(path).plugin
    }

    /// The first compatible plugin in search order whose manifest has this `id` and `role`.
    ///
    /// When there is none, the error is the first problem met with a candidate for `id` (a file
    /// named for it that does not load, an incompatible protocol, a plugin of another role), or
    /// [`HostError::NotFound`] listing every place searched.
    pub fn find(&self, role: Role, id: &str) -> Result<Arc<DynamicPlugin>, HostError> {
        if let Err(e) = rig_core::names::validate_segment("plugin id", id) {
            return Err(HostError::InvalidId {
                id: id.to_string(),
                reason: e.reason,
            });
        }
        let file_name = plugin_file_name(id);
        let mut problem: Option<HostError> = None;
        let mut skipped = Vec::new();
        let mut seen = HashSet::new();
        for entry in self.search.entries() {
            let (candidate, named_for_id) = match entry.kind {
                EntryKind::File => (
                    entry.path.clone(),
                    entry.path.file_name() == Some(file_name.as_os_str()),
                ),
                EntryKind::Dir => {
                    let p = entry.path.join(&file_name);
                    if !p.is_file() {
                        debug!(dir = %entry.path.display(), origin = %entry.origin, file = ?file_name, "plugin not in this folder");
                        continue;
                    }
                    (p, true)
                }
            };
            if !seen.insert(canonical(&candidate)) {
                continue;
            }
            debug!(path = %candidate.display(), origin = %entry.origin, "trying plugin candidate");
            let outcome = loader::load(&candidate);
            let about_id = named_for_id || outcome.manifest.as_ref().is_some_and(|m| m.id == id);
            match outcome.plugin {
                Ok(p) if p.id() == id && p.role() == role => return Ok(p),
                Ok(p) if p.id() == id => {
                    problem.get_or_insert(HostError::RoleMismatch {
                        id: id.to_string(),
                        path: candidate,
                        wanted: role,
                        actual: p.role(),
                    });
                }
                Ok(p) if named_for_id => {
                    problem.get_or_insert(HostError::BadManifest {
                        reason: format!(
                            "its file name is that of plugin `{id}`, but its manifest says it is \
                             `{}`; rename the file to `{}`",
                            p.id(),
                            plugin_file_name(p.id()).to_string_lossy()
                        ),
                        path: candidate,
                    });
                }
                Ok(p) => {
                    debug!(path = %candidate.display(), id = p.id(), "a plugin, not the one asked for")
                }
                Err(e) if about_id => {
                    debug!(path = %candidate.display(), error = %e, "plugin candidate refused");
                    problem.get_or_insert(e);
                }
                Err(e) => {
                    debug!(path = %candidate.display(), error = %e, "plugin candidate refused");
                    skipped.push(e.to_string());
                }
            }
        }
        Err(problem.unwrap_or_else(|| HostError::NotFound {
            role,
            id: id.to_string(),
            file_name: file_name.to_string_lossy().into_owned(),
            searched: self.search.entries().to_vec(),
            skipped,
            known: self.known_ids(role),
        }))
    }

    /// Every plugin file and folder the user named (`--plugin`, `[plugins] paths`) exists, and
    /// each file loads as a rig plugin: a path given by hand is never passed over in silence.
    pub fn check_given(&self) -> Result<(), HostError> {
        for entry in self.search.entries() {
            if entry.origin != Origin::Explicit {
                continue;
            }
            if !entry.path.exists() {
                return Err(HostError::GivenMissing {
                    path: entry.path.clone(),
                });
            }
            if entry.kind == EntryKind::File {
                loader::load(&entry.path).plugin?;
            }
        }
        Ok(())
    }

    /// The ids of the usable plugins of `role` on the search path, sorted, each once.
    pub fn known_ids(&self, role: Role) -> Vec<String> {
        let mut ids: Vec<String> = self
            .list()
            .into_iter()
            .filter(|l| l.compatible)
            .filter_map(|l| l.manifest)
            .filter(|m| m.role == role)
            .map(|m| m.id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The foundation backend `id`.
    pub fn foundation(&self, id: &str) -> Result<Arc<dyn Foundation>, HostError> {
        let p: Arc<dyn Foundation> = self.find(Role::Foundation, id)?;
        Ok(p)
    }

    /// The compute backend `id`.
    pub fn compute(&self, id: &str) -> Result<Arc<dyn Compute>, HostError> {
        let p: Arc<dyn Compute> = self.find(Role::Compute, id)?;
        Ok(p)
    }

    /// The database backend `id`.
    pub fn database(&self, id: &str) -> Result<Arc<dyn Database>, HostError> {
        let p: Arc<dyn Database> = self.find(Role::Database, id)?;
        Ok(p)
    }

    /// The pipeline backend `id`.
    pub fn pipeline(&self, id: &str) -> Result<Arc<dyn Pipeline>, HostError> {
        let p: Arc<dyn Pipeline> = self.find(Role::Pipeline, id)?;
        Ok(p)
    }

    /// Every candidate library in search order: each explicit file, and in each folder every
    /// file named like a plugin (`librig_plugin_*.so`, platform naming), sorted by name. A file
    /// reached twice is listed once. A library that cannot be loaded is listed with its problem;
    /// it never stops the listing.
    pub fn list(&self) -> Vec<PluginListing> {
        let mut rows = Vec::new();
        let mut seen = HashSet::new();
        let mut winners: HashMap<(Role, String), PathBuf> = HashMap::new();
        for entry in self.search.entries() {
            let candidates = match entry.kind {
                EntryKind::File => vec![entry.path.clone()],
                EntryKind::Dir => candidates_in(&entry.path),
            };
            for path in candidates {
                if !seen.insert(canonical(&path)) {
                    continue;
                }
                debug!(path = %path.display(), origin = %entry.origin, "trying plugin candidate");
                let outcome = loader::load(&path);
                let mut row = PluginListing {
                    path,
                    origin: entry.origin,
                    manifest: outcome.manifest,
                    compatible: outcome.plugin.is_ok(),
                    shadowed: false,
                    shadowed_by: None,
                    problem: outcome.plugin.as_ref().err().map(ToString::to_string),
                };
                if let Ok(p) = &outcome.plugin {
                    match winners.get(&(p.role(), p.id().to_string())) {
                        Some(first) => {
                            row.shadowed = true;
                            row.shadowed_by = Some(first.clone());
                        }
                        None => {
                            winners.insert((p.role(), p.id().to_string()), row.path.clone());
                        }
                    }
                    if entry.kind == EntryKind::Dir {
                        let named = row.path.file_name().and_then(id_from_file_name);
                        if named.as_deref() != Some(p.id()) {
                            row.problem = Some(format!(
                                "its manifest id is `{}` but its file name is not `{}`, so rig \
                                 will not find it in a folder; rename it",
                                p.id(),
                                plugin_file_name(p.id()).to_string_lossy()
                            ));
                        }
                    }
                }
                rows.push(row);
            }
        }
        rows
    }
}

/// Files in `dir` named like plugins, sorted by name. A missing or unreadable folder has none.
fn candidates_in(dir: &Path) -> Vec<PathBuf> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            debug!(dir = %dir.display(), error = %e, "plugin folder not readable; skipped");
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(id_from_file_name).is_some() && p.is_file())
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    files
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}
