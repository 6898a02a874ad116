//! Opening plugin libraries: `dlopen`, the entry symbol, the table checks and the manifest.
//!
//! Every library opened is kept in a process-wide registry and never closed, and every outcome
//! (success or failure) is remembered by canonical path, so a file is opened at most once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use libloading::Library;
use rig_core::protocol::{
    check_protocol, CallFn, Compatibility, EntryFn, FreeFn, ManifestFn, PluginVTableV1, Response,
    ABI_VERSION, ENTRY_SYMBOL,
};
use rig_core::{Manifest, PROTOCOL_VERSION};
use tracing::debug;

use super::dynamic::DynamicPlugin;
use super::error::HostError;
use super::table::Table;

/// What loading one file gave.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    /// The manifest, whenever it could be read (also for incompatible plugins).
    pub(super) manifest: Option<Manifest>,
    /// The usable plugin, or why there is none.
    pub(super) plugin: Result<Arc<DynamicPlugin>, HostError>,
}

impl Outcome {
    fn failed(e: HostError) -> Self {
        Outcome {
            manifest: None,
            plugin: Err(e),
        }
    }
}

struct Registry {
    /// Every library ever opened. The registry is a static, so they are never dropped and
    /// never `dlclose`d: code and data a plugin handed out stay valid for the whole process.
    libraries: Vec<Library>,
    /// Outcome per canonical path.
    outcomes: HashMap<PathBuf, Outcome>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    Mutex::new(Registry {
        libraries: Vec::new(),
        outcomes: HashMap::new(),
    })
});

/// Loads the library at `path` (once per canonical path for the life of the process).
pub(super) fn load(path: &Path) -> Outcome {
    let canonical = match path.canonicalize() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(HostError::Open {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    let mut reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = reg.outcomes.get(&canonical) {
        debug!(path = %path.display(), "plugin library already loaded");
        return known.clone();
    }
    let outcome = open(path, &mut reg.libraries);
    reg.outcomes.insert(canonical, outcome.clone());
    outcome
}

fn open(path: &Path, libraries: &mut Vec<Library>) -> Outcome {
    debug!(path = %path.display(), "opening plugin library");
    // SAFETY: opening a library runs its initialisers, as running any program does. rig opens
    // only files on the plugin search path, which the user controls like `PATH`. The library is
    // kept open for the rest of the process (pushed into the registry below).
    let lib = match unsafe { Library::new(path) } {
        Ok(lib) => lib,
        Err(e) => {
            return Outcome::failed(HostError::Open {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    // SAFETY: by the protocol, `rig_plugin_entry_v1` has type `EntryFn`. The function pointer
    // is copied out of the `Symbol`; it stays valid because the library is never closed.
    let entry: Result<EntryFn, libloading::Error> =
        unsafe { lib.get::<EntryFn>(ENTRY_SYMBOL) }.map(|sym| *sym);
    libraries.push(lib);
    let entry = match entry {
        Ok(f) => f,
        Err(e) => {
            return Outcome::failed(HostError::MissingEntry {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    let table = match read_table(path, entry) {
        Ok(t) => t,
        Err(e) => return Outcome::failed(e),
    };
    let manifest = match read_manifest(&table) {
        Ok(m) => m,
        Err(reason) => {
            return Outcome::failed(HostError::BadManifest {
                path: path.to_path_buf(),
                reason,
            })
        }
    };
    if let Compatibility::Incompatible(reason) =
        check_protocol(PROTOCOL_VERSION, &manifest.protocol, &manifest.features)
    {
        return Outcome {
            plugin: Err(HostError::Incompatible {
                path: path.to_path_buf(),
                id: manifest.id.clone(),
                plugin_protocol: manifest.protocol.clone(),
                host_protocol: PROTOCOL_VERSION.to_string(),
                reason,
            }),
            manifest: Some(manifest),
        };
    }
    if let Err(reason) = check_manifest(&manifest) {
        return Outcome {
            plugin: Err(HostError::BadManifest {
                path: path.to_path_buf(),
                reason,
            }),
            manifest: Some(manifest),
        };
    }
    debug!(
        path = %path.display(),
        id = %manifest.id,
        role = %manifest.role,
        version = %manifest.version,
        protocol = %manifest.protocol,
        "plugin loaded"
    );
    Outcome {
        plugin: Ok(Arc::new(DynamicPlugin::new(
            path.to_path_buf(),
            manifest.clone(),
            table,
        ))),
        manifest: Some(manifest),
    }
}

/// Calls the entry function and checks the table it returns.
fn read_table(path: &Path, entry: EntryFn) -> Result<Table, HostError> {
    let bad = |reason: String| HostError::BadTable {
        path: path.to_path_buf(),
        reason,
    };
    let ptr = entry();
    if ptr.is_null() {
        return Err(bad(
            "its `rig_plugin_entry_v1` returned no table (a null pointer)".into(),
        ));
    }
    // SAFETY: `ptr` is non-null and, by the protocol, points to a table that lives as long as
    // the library (which is never closed) and begins with `abi_version`, the one field every
    // ABI version keeps first.
    let abi = unsafe { (&raw const (*ptr).abi_version).read() };
    if abi != ABI_VERSION {
        return Err(HostError::AbiMismatch {
            path: path.to_path_buf(),
            plugin: abi,
            host: ABI_VERSION,
        });
    }
    // SAFETY: an ABI-1 table always has `struct_size` as its second field.
    let size = unsafe { (&raw const (*ptr).struct_size).read() };
    let needed = std::mem::size_of::<PluginVTableV1>();
    if size < needed {
        return Err(bad(format!(
            "its table says it is {size} bytes long (`struct_size`), but ABI version \
             {ABI_VERSION} needs at least {needed} bytes"
        )));
    }
    // SAFETY: the plugin declares at least `needed` bytes, so every field of `PluginVTableV1`
    // is present (fields past it, from a newer plugin, are never read). The function pointers
    // are read as `Option`s, which have the same layout, so a null entry is caught instead of
    // being undefined behaviour.
    let (manifest, call, free) = unsafe {
        (
            (&raw const (*ptr).manifest)
                .cast::<Option<ManifestFn>>()
                .read(),
            (&raw const (*ptr).call).cast::<Option<CallFn>>().read(),
            (&raw const (*ptr).free).cast::<Option<FreeFn>>().read(),
        )
    };
    match (manifest, call, free) {
        (Some(manifest), Some(call), Some(free)) => Ok(Table {
            manifest,
            call,
            free,
        }),
        _ => Err(bad(
            "its table has a null `manifest`, `call` or `free` function".into(),
        )),
    }
}

/// Asks the plugin for its manifest and releases the buffer through the plugin's `free`.
fn read_manifest(table: &Table) -> Result<Manifest, String> {
    let buf = (table.manifest)();
    // SAFETY: `buf` was just returned by the plugin's `manifest` and is released only below,
    // by the plugin's own `free`.
    let parsed = parse_manifest(unsafe { buf.as_slice() });
    (table.free)(buf);
    parsed
}

/// Reads a manifest answer: a [`Response`] envelope holding a [`Manifest`] (what
/// `export_plugin!` produces), or a bare manifest object.
fn parse_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "its manifest is not JSON ({e}); it begins with {:?}",
            preview(bytes)
        )
    })?;
    let is_envelope = value.get("ok").is_some() || value.get("err").is_some();
    let inner = if is_envelope {
        match serde_json::from_value::<Response>(value) {
            Ok(Response::Ok(v)) => v,
            Ok(Response::Err(w)) if w.kind == "panic" => {
                return Err(format!("its manifest function panicked: {}", w.message))
            }
            Ok(Response::Err(w)) => {
                return Err(format!(
                    "its manifest function failed ({}): {}",
                    w.kind, w.message
                ))
            }
            Err(e) => return Err(format!("its manifest answer is not a rig response: {e}")),
        }
    } else {
        value
    };
    serde_json::from_value::<Manifest>(inner)
        .map_err(|e| format!("its manifest does not describe a rig plugin: {e}"))
}

/// The rules a manifest must follow beyond its JSON shape.
fn check_manifest(m: &Manifest) -> Result<(), String> {
    rig_core::names::validate_segment("plugin id", &m.id).map_err(|e| e.to_string())?;
    rig_core::names::validate_segment("stack suffix", &m.stack_suffix)
        .map_err(|e| format!("{e} (plugin `{}`)", m.id))?;
    semver::Version::parse(&m.version).map_err(|e| {
        format!(
            "plugin `{}` gives its version as `{}`, which is not a semver version ({e})",
            m.id, m.version
        )
    })?;
    match m.role {
        rig_core::Role::Application => {
            return Err(format!(
                "plugin `{}` declares the role `application`, which rig fills itself from [[apps]]; a plugin is a foundation, compute, database or pipeline backend",
                m.id
            ))
        }
        rig_core::Role::Bastion => {
            return Err(format!(
                "plugin `{}` declares the role `bastion`, which rig fills itself (`rig bastion create`); a plugin is a foundation, compute, database or pipeline backend",
                m.id
            ))
        }
        _ => {}
    }
    if m.stack_suffix == crate::planner::bastion::BASTION_SUFFIX {
        return Err(format!(
            "plugin `{}` gives its stacks the suffix `{}`, which names rig's own bastion stacks; choose another stack suffix",
            m.id, m.stack_suffix
        ));
    }
    Ok(())
}

/// The first bytes of a buffer, for messages.
fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 40;
    let mut s = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).into_owned();
    if bytes.len() > MAX {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_read_with_or_without_the_envelope() {
        let bare = br#"{"id":"x","version":"1.0.0","role":"compute","protocol":"1.0.0","stack_suffix":"compute-x"}"#;
        let m = parse_manifest(bare).unwrap();
        assert_eq!(m.id, "x");
        let wrapped = format!(r#"{{"ok":{}}}"#, std::str::from_utf8(bare).unwrap());
        assert_eq!(parse_manifest(wrapped.as_bytes()).unwrap(), m);
        let err = parse_manifest(br#"{"err":{"kind":"panic","message":"boom"}}"#).unwrap_err();
        assert!(err.contains("panicked: boom"), "{err}");
        let err = parse_manifest(b"garbage").unwrap_err();
        assert!(err.contains("not JSON") && err.contains("garbage"), "{err}");
    }

    #[test]
    fn manifest_rules() {
        let mut m = Manifest {
            id: "rds-postgres".into(),
            version: "0.1.0".into(),
            role: rig_core::Role::Database,
            protocol: PROTOCOL_VERSION.into(),
            description: String::new(),
            stack_suffix: "db-postgres".into(),
            features: Vec::new(),
        };
        assert!(check_manifest(&m).is_ok());
        m.id = "RDS_postgres".into();
        assert!(check_manifest(&m).unwrap_err().contains("plugin id"));
        m.id = "rds".into();
        m.stack_suffix = "db/x".into();
        assert!(check_manifest(&m).unwrap_err().contains("stack suffix"));
        m.stack_suffix = "db".into();
        let mut app = m.clone();
        app.role = rig_core::Role::Application;
        assert!(check_manifest(&app)
            .unwrap_err()
            .contains("rig fills itself"));
        app.role = rig_core::Role::Bastion;
        assert!(check_manifest(&app)
            .unwrap_err()
            .contains("`rig bastion create`"));
        let mut suffix = m.clone();
        suffix.stack_suffix = "bastion".into();
        assert!(check_manifest(&suffix)
            .unwrap_err()
            .contains("rig's own bastion stacks"));
        m.version = "one".into();
        assert!(check_manifest(&m).unwrap_err().contains("semver"));
    }
}
