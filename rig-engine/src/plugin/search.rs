//! Where rig looks for plugin libraries, as plain data.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Environment variable holding extra plugin directories (OS path-list separated).
pub const PLUGIN_PATH_VAR: &str = "RIG_PLUGIN_PATH";

/// Why a place is on the search path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Given by the user: `--plugin PATH` or `[plugins] paths` in the configuration.
    Explicit,
    /// A directory of `RIG_PLUGIN_PATH`.
    EnvVar,
    /// The project's own `.rig/plugins` folder.
    Project,
    /// The user's data folder (`$XDG_DATA_HOME/rig/plugins` or `~/.local/share/rig/plugins`).
    UserData,
    /// The folder of the running `rig` executable.
    BesideExecutable,
}

impl Origin {
    /// A short phrase for messages, e.g. `from RIG_PLUGIN_PATH`.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Explicit => "given explicitly",
            Origin::EnvVar => "from RIG_PLUGIN_PATH",
            Origin::Project => "the project's plugin folder",
            Origin::UserData => "the user's data folder",
            Origin::BesideExecutable => "beside the rig executable",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Whether a search entry names one library or a folder of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// One library file, whatever its name.
    File,
    /// A folder searched for `librig_plugin_<id>.so` (platform naming).
    Dir,
}

/// One place on the search path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SearchEntry {
    /// File or folder.
    pub kind: EntryKind,
    /// Its path, as given.
    pub path: PathBuf,
    /// Why it is searched.
    pub origin: Origin,
}

impl fmt::Display for SearchEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            EntryKind::File => "file",
            EntryKind::Dir => "folder",
        };
        write!(f, "{kind} {} ({})", self.path.display(), self.origin)
    }
}

/// What [`SearchPath::standard`] reads from the process environment, gathered in one value so
/// the search order can be computed (and tested) without touching the real environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchEnv {
    /// `RIG_PLUGIN_PATH`.
    pub rig_plugin_path: Option<OsString>,
    /// `XDG_DATA_HOME`.
    pub xdg_data_home: Option<OsString>,
    /// `HOME`.
    pub home: Option<OsString>,
    /// The running executable (`std::env::current_exe()`).
    pub exe: Option<PathBuf>,
}

impl SearchEnv {
    /// Reads the current process's environment.
    pub fn current() -> Self {
        SearchEnv {
            rig_plugin_path: std::env::var_os(PLUGIN_PATH_VAR),
            xdg_data_home: std::env::var_os("XDG_DATA_HOME"),
            home: std::env::var_os("HOME"),
            exe: std::env::current_exe().ok(),
        }
    }

    /// `$XDG_DATA_HOME/rig/plugins` when that variable holds an absolute path, else
    /// `$HOME/.local/share/rig/plugins`, else nothing.
    pub fn user_plugin_dir(&self) -> Option<PathBuf> {
        let non_empty =
            |v: &Option<OsString>| v.as_ref().filter(|s| !s.is_empty()).map(PathBuf::from);
        if let Some(xdg) = non_empty(&self.xdg_data_home).filter(|p| p.is_absolute()) {
            return Some(xdg.join("rig").join("plugins"));
        }
        non_empty(&self.home).map(|h| h.join(".local").join("share").join("rig").join("plugins"))
    }
}

/// The ordered places rig searches for plugins; the first compatible match wins.
///
/// The standard order is: explicit files (or folders) given by the user, each folder of
/// `RIG_PLUGIN_PATH`, the project's `.rig/plugins`, the user's data folder, and the folder of
/// the `rig` executable (where `cargo build` puts the workspace's own plugins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SearchPath {
    entries: Vec<SearchEntry>,
}

impl SearchPath {
    /// An empty search path (finds nothing).
    pub fn empty() -> Self {
        SearchPath::default()
    }

    /// The standard search path, reading `RIG_PLUGIN_PATH`, `XDG_DATA_HOME`, `HOME` and the
    /// executable's location from the process.
    ///
    /// `explicit` holds paths the user named (`--plugin PATH`, `plugin = "PATH"`); a path that is
    /// a folder is searched like one, anything else is taken as a library file.
    /// `project_dir` is the folder holding the project's `rig.toml`, if any.
    pub fn standard(explicit: Vec<PathBuf>, project_dir: Option<&Path>) -> Self {
        Self::from_env(explicit, project_dir, &SearchEnv::current())
    }

    /// The standard search path computed from `env` instead of the process environment.
    pub fn from_env(explicit: Vec<PathBuf>, project_dir: Option<&Path>, env: &SearchEnv) -> Self {
        let mut sp = SearchPath::empty();
        for p in explicit {
            if p.is_dir() {
                sp.push(EntryKind::Dir, p, Origin::Explicit);
            } else {
                sp.push(EntryKind::File, p, Origin::Explicit);
            }
        }
        if let Some(list) = env.rig_plugin_path.as_deref().filter(|s| !s.is_empty()) {
            for dir in std::env::split_paths(list).filter(|d| !d.as_os_str().is_empty()) {
                sp.push(EntryKind::Dir, dir, Origin::EnvVar);
            }
        }
        if let Some(project) = project_dir {
            sp.push(
                EntryKind::Dir,
                project.join(".rig").join("plugins"),
                Origin::Project,
            );
        }
        if let Some(user) = env.user_plugin_dir() {
            sp.push(EntryKind::Dir, user, Origin::UserData);
        }
        if let Some(dir) = env.exe.as_deref().and_then(Path::parent) {
            sp.push(EntryKind::Dir, dir.to_path_buf(), Origin::BesideExecutable);
        }
        sp
    }

    /// A search path of the given folders only, in order (each marked as explicit).
    pub fn from_dirs<I, P>(dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let mut sp = SearchPath::empty();
        for d in dirs {
            sp.push(EntryKind::Dir, d.into(), Origin::Explicit);
        }
        sp
    }

    /// Appends one library file (searched in order with the rest).
    pub fn with_file(mut self, path: impl Into<PathBuf>, origin: Origin) -> Self {
        self.push(EntryKind::File, path.into(), origin);
        self
    }

    /// Appends one folder.
    pub fn with_dir(mut self, path: impl Into<PathBuf>, origin: Origin) -> Self {
        self.push(EntryKind::Dir, path.into(), origin);
        self
    }

    /// The places, in search order.
    pub fn entries(&self) -> &[SearchEntry] {
        &self.entries
    }

    fn push(&mut self, kind: EntryKind, path: PathBuf, origin: Origin) {
        if self
            .entries
            .iter()
            .any(|e| e.kind == kind && e.path == path)
        {
            return;
        }
        self.entries.push(SearchEntry { kind, path, origin });
    }
}

/// The file name of plugin `id` on this platform: `librig_plugin_<id>.so` on Linux (with `-`
/// in the id written `_`), `librig_plugin_<id>.dylib` on macOS, `rig_plugin_<id>.dll` on Windows.
pub fn plugin_file_name(id: &str) -> OsString {
    libloading::library_filename(format!("rig_plugin_{}", id.replace('-', "_")))
}

/// If `name` follows the plugin naming scheme, the id it implies (`_` read back as `-`).
pub fn id_from_file_name(name: &OsStr) -> Option<String> {
    let name = name.to_str()?;
    let prefix = format!("{}rig_plugin_", std::env::consts::DLL_PREFIX);
    let stem = name
        .strip_prefix(&prefix)?
        .strip_suffix(std::env::consts::DLL_SUFFIX)?;
    (!stem.is_empty()).then(|| stem.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        let name = plugin_file_name("rds-postgres");
        assert_eq!(id_from_file_name(&name).as_deref(), Some("rds-postgres"));
        assert_eq!(id_from_file_name(OsStr::new("librig_engine.rlib")), None);
        #[cfg(target_os = "linux")]
        assert_eq!(name, "librig_plugin_rds_postgres.so");
    }

    #[test]
    fn xdg_must_be_absolute() {
        let env = SearchEnv {
            xdg_data_home: Some("relative".into()),
            home: Some("/home/u".into()),
            ..SearchEnv::default()
        };
        assert_eq!(
            env.user_plugin_dir(),
            Some(PathBuf::from("/home/u/.local/share/rig/plugins"))
        );
    }
}
