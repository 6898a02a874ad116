//! The plugin boundary: a tiny C ABI that carries versioned JSON.
//!
//! A plugin library exports exactly one symbol, [`ENTRY_SYMBOL`] (`rig_plugin_entry_v1`), an
//! `extern "C" fn() -> *const PluginVTableV1`. Nothing of `repr(Rust)` crosses the boundary: only
//! the `#[repr(C)]` table below, byte pointers and lengths. Every buffer a plugin hands out is
//! released by calling that plugin's own `free`.
//!
//! Two version numbers exist:
//! - the **ABI version** ([`ABI_VERSION`], in the symbol name and in the table): the shape of the
//!   C table. Fields may only be appended; `struct_size` tells the host how many there are.
//! - the **protocol version** ([`PROTOCOL_VERSION`], semver, in the manifest): the JSON messages.
//!   The host loads a plugin whose protocol has the same major and a minor not newer than its own.

use serde::{Deserialize, Serialize};

/// Version of the C table layout. Part of the entry symbol's name.
pub const ABI_VERSION: u32 = 1;

/// Name of the one symbol a plugin exports, NUL-terminated for `dlsym`.
pub const ENTRY_SYMBOL: &[u8] = b"rig_plugin_entry_v1\0";

/// Version of the JSON protocol this crate speaks. Bump the minor for additive changes
/// (new optional fields, new methods), the major for anything else.
pub const PROTOCOL_VERSION: &str = "1.1.0";

/// A byte buffer allocated by the plugin. Only the plugin's `free` may release it.
#[repr(C)]
#[derive(Debug)]
pub struct RigBuffer {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl RigBuffer {
    /// Hands a vector's allocation over to the caller (who must give it back to `free`).
    pub fn from_vec(v: Vec<u8>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        RigBuffer {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }

    /// Takes the allocation back.
    ///
    /// # Safety
    /// `self` must come from [`RigBuffer::from_vec`] in this same library and not be freed yet.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        Vec::from_raw_parts(self.ptr, self.len, self.cap)
    }

    /// Views the bytes.
    ///
    /// # Safety
    /// The buffer must be live (not freed yet).
    pub unsafe fn as_slice(&self) -> &[u8] {
        if self.ptr.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(self.ptr, self.len)
        }
    }
}

/// Returns the plugin's manifest as a JSON [`Response`] whose `ok` value is a [`Manifest`].
pub type ManifestFn = extern "C" fn() -> RigBuffer;
/// Calls a method: `method` (UTF-8) and `input` (JSON) are borrowed for the call only.
/// Returns a JSON [`Response`].
pub type CallFn = extern "C" fn(
    method: *const u8,
    method_len: usize,
    input: *const u8,
    input_len: usize,
) -> RigBuffer;
/// Releases a buffer the plugin returned.
pub type FreeFn = extern "C" fn(RigBuffer);
/// The type of the entry symbol.
pub type EntryFn = extern "C" fn() -> *const PluginVTableV1;

/// The table a plugin's entry symbol returns. Fields are only ever appended: `abi_version`
/// stays first and `struct_size` second in every ABI, since the host reads them before it
/// knows the layout. Every function pointer must be non-null. The host may call `call` from
/// any thread; it serialises the calls to one plugin, but plugins should not rely on that.
#[repr(C)]
pub struct PluginVTableV1 {
    /// Must equal [`ABI_VERSION`] of the host.
    pub abi_version: u32,
    /// `size_of::<PluginVTableV1>()` as the plugin saw it; the host reads no field past it.
    pub struct_size: usize,
    pub manifest: ManifestFn,
    pub call: CallFn,
    pub free: FreeFn,
}

/// The role a backend fills in a riglet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Foundation,
    Compute,
    Database,
    Pipeline,
    /// An application's stack (target group, listener rules, DNS, ECS service). rig plans these
    /// itself from `[[apps]]`; a plugin declaring this role is refused.
    Application,
    /// An environment's on-demand bastion (`rig bastion create`). rig plans it itself; a plugin
    /// declaring this role is refused.
    Bastion,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Foundation => "foundation",
            Role::Compute => "compute",
            Role::Database => "database",
            Role::Pipeline => "pipeline",
            Role::Application => "application",
            Role::Bastion => "bastion",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Backend id as users type it (`--compute fargate`): lowercase letters, digits and `-`.
    pub id: String,
    /// The plugin's own version (semver).
    pub version: String,
    pub role: Role,
    /// The protocol version the plugin was built against (normally [`PROTOCOL_VERSION`]).
    pub protocol: String,
    /// One line for `rig plugins list`.
    #[serde(default)]
    pub description: String,
    /// Suffix of the stack this backend owns, e.g. `compute-ecs` gives `o-p-e-compute-ecs`.
    pub stack_suffix: String,
    /// Protocol features (beyond the base of its minor) the plugin relies on. A plugin built
    /// against a newer minor than the host loads only if the host knows every listed feature.
    #[serde(default)]
    pub features: Vec<String>,
}

/// Protocol features this host understands (see [`Manifest::features`]).
///
/// - `before-delete` (1.1): [`crate::model::StackPlan::before_delete`].
pub const KNOWN_FEATURES: &[&str] = &["before-delete"];

/// Methods a plugin answers through `call`.
pub mod method {
    /// Input: [`crate::model::Settings`]. Output: `Vec<`[`crate::model::Issue`]`>`.
    pub const VALIDATE: &str = "validate";
    /// Input: [`crate::model::EnvRequest`] (foundation, compute, database) or
    /// [`crate::model::PipelineRequest`] (pipeline). Output: `Vec<`[`crate::model::StackPlan`]`>`.
    pub const PLAN: &str = "plan";
}

/// The envelope of every `call` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(serde_json::Value),
    Err(WireError),
}

/// An error as it crosses the boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// `invalid-input`, `unknown-method`, `plan`, `protocol`, or `panic`.
    pub kind: String,
    pub message: String,
}

/// Outcome of checking a plugin's protocol version against the host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compatibility {
    Compatible,
    Incompatible(String),
}

impl Compatibility {
    pub fn is_compatible(&self) -> bool {
        matches!(self, Compatibility::Compatible)
    }
}

/// The host's rule: same major, and a minor not newer than the host's unless every feature the
/// plugin declares is known to the host. Pre-1.0 majors must match in the minor too.
pub fn check_protocol(host: &str, plugin: &str, plugin_features: &[String]) -> Compatibility {
    let host_v = match semver::Version::parse(host) {
        Ok(v) => v,
        Err(e) => {
            return Compatibility::Incompatible(format!(
                "host protocol `{host}` is not semver: {e}"
            ))
        }
    };
    let plug_v = match semver::Version::parse(plugin) {
        Ok(v) => v,
        Err(e) => {
            return Compatibility::Incompatible(format!(
                "plugin protocol `{plugin}` is not a semver version ({e}); this rig speaks {host}"
            ))
        }
    };
    if plug_v.major != host_v.major || (host_v.major == 0 && plug_v.minor != host_v.minor) {
        return Compatibility::Incompatible(format!(
            "plugin speaks protocol {plug_v}, this rig speaks {host_v}: the major versions differ; \
             rebuild the plugin against rig-core {}.x",
            host_v.major
        ));
    }
    if plug_v.minor > host_v.minor {
        let unknown: Vec<&String> = plugin_features
            .iter()
            .filter(|f| !KNOWN_FEATURES.contains(&f.as_str()))
            .collect();
        if !unknown.is_empty() || plugin_features.is_empty() {
            return Compatibility::Incompatible(format!(
                "plugin speaks protocol {plug_v}, newer than this rig's {host_v}{}; upgrade rig",
                if unknown.is_empty() {
                    String::new()
                } else {
                    format!(
                        " and needs features this rig lacks ({})",
                        unknown
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        }
    }
    Compatibility::Compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_major_older_minor_is_compatible() {
        assert!(check_protocol("1.2.0", "1.0.5", &[]).is_compatible());
        assert!(check_protocol("1.2.0", "1.2.0", &[]).is_compatible());
    }

    #[test]
    fn other_major_is_refused_naming_both_versions() {
        let Compatibility::Incompatible(msg) = check_protocol("1.0.0", "2.0.0", &[]) else {
            panic!("2.0.0 must be refused by a 1.0.0 host")
        };
        assert!(msg.contains("2.0.0") && msg.contains("1.0.0"), "{msg}");
    }

    #[test]
    fn newer_minor_needs_known_features() {
        assert!(!check_protocol("1.0.0", "1.1.0", &[]).is_compatible());
        let Compatibility::Incompatible(msg) =
            check_protocol("1.0.0", "1.1.0", &["streaming-plans".to_string()])
        else {
            panic!("unknown feature must be refused")
        };
        assert!(msg.contains("streaming-plans"), "{msg}");
    }

    #[test]
    fn garbage_version_is_refused() {
        assert!(!check_protocol("1.0.0", "one", &[]).is_compatible());
    }

    #[test]
    fn buffer_round_trip() {
        let b = RigBuffer::from_vec(b"hello".to_vec());
        assert_eq!(unsafe { b.as_slice() }, b"hello");
        assert_eq!(unsafe { b.into_vec() }, b"hello".to_vec());
    }
}
