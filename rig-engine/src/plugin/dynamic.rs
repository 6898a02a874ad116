//! A loaded plugin behind the rig-core traits.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rig_core::protocol::{method, Response, WireError};
use rig_core::{
    Backend, Compute, Database, EnvRequest, Foundation, Issue, Manifest, Pipeline, PipelineRequest,
    PluginError, Role, Settings, StackPlan,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{debug, warn};

use super::table::Table;

/// A plugin loaded from a library, usable wherever the engine expects a backend.
///
/// It implements [`Backend`] and all four role traits; a method of another role than the
/// manifest's answers [`PluginError::Protocol`]. Each call sends JSON through the plugin's C
/// table and reads the JSON answer back, releasing the plugin's buffer with the plugin's own
/// `free`. Calls into one plugin are serialised. Once the plugin has panicked it is poisoned:
/// it is not called again in this process and every later call answers an error saying so.
#[derive(Debug)]
pub struct DynamicPlugin {
    path: PathBuf,
    manifest: Manifest,
    table: Table,
    state: Mutex<CallState>,
}

#[derive(Debug, Default)]
struct CallState {
    /// The panic message, once the plugin has panicked.
    panicked: Option<String>,
}

impl DynamicPlugin {
    pub(super) fn new(path: PathBuf, manifest: Manifest, table: Table) -> Self {
        DynamicPlugin {
            path,
            manifest,
            table,
            state: Mutex::new(CallState::default()),
        }
    }

    /// The plugin's id (`fargate`, `rds-postgres`, ...).
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// The role the plugin fills.
    pub fn role(&self) -> Role {
        self.manifest.role
    }

    /// The library file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The manifest, without copying it (see also [`Backend::manifest`]).
    pub fn manifest_ref(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether the plugin has panicked in this process (and is therefore no longer called).
    pub fn is_poisoned(&self) -> bool {
        self.lock().panicked.is_some()
    }

    /// Calls `method` with a JSON input and returns the JSON the plugin answered.
    pub fn call_json(
        &self,
        method: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, PluginError> {
        let bytes = serde_json::to_vec(input).map_err(|e| {
            PluginError::Protocol(format!("could not encode the `{method}` request: {e}"))
        })?;
        self.call_bytes(method, &bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CallState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn call<I, O>(&self, method: &str, input: &I) -> Result<O, PluginError>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let bytes = serde_json::to_vec(input).map_err(|e| {
            PluginError::Protocol(format!("could not encode the `{method}` request: {e}"))
        })?;
        let value = self.call_bytes(method, &bytes)?;
        serde_json::from_value(value).map_err(|e| {
            PluginError::Protocol(format!(
                "plugin `{}` answered `{method}` with JSON this rig cannot read ({e}); the \
                 plugin may be built against another protocol than this rig's {}",
                self.manifest.id,
                rig_core::PROTOCOL_VERSION
            ))
        })
    }

    fn call_bytes(&self, method: &str, input: &[u8]) -> Result<serde_json::Value, PluginError> {
        let mut state = self.lock();
        if let Some(msg) = &state.panicked {
            return Err(PluginError::Protocol(format!(
                "plugin `{}` ({}) panicked earlier in this run ({msg}) and is no longer called; \
                 fix the plugin or choose another backend",
                self.manifest.id,
                self.path.display()
            )));
        }
        debug!(plugin = %self.manifest.id, method, "calling plugin");
        let buf = (self.table.call)(method.as_ptr(), method.len(), input.as_ptr(), input.len());
        // SAFETY: `buf` was just returned by this plugin's `call` and is released only below,
        // by the plugin's own `free`.
        let decoded = serde_json::from_slice::<Response>(unsafe { buf.as_slice() });
        (self.table.free)(buf);
        match decoded {
            Ok(Response::Ok(v)) => Ok(v),
            Ok(Response::Err(w)) => {
                if w.kind == "panic" {
                    warn!(
                        plugin = %self.manifest.id,
                        path = %self.path.display(),
                        method,
                        message = %w.message,
                        "plugin panicked; it will not be called again in this run"
                    );
                    state.panicked = Some(w.message.clone());
                }
                Err(self.map_wire_error(method, w))
            }
            Err(e) => Err(PluginError::Protocol(format!(
                "plugin `{}` answered `{method}` with something that is not a rig response ({e}); \
                 the plugin is broken or built against another protocol than this rig's {}",
                self.manifest.id,
                rig_core::PROTOCOL_VERSION
            ))),
        }
    }

    fn map_wire_error(&self, method: &str, w: WireError) -> PluginError {
        let id = &self.manifest.id;
        match w.kind.as_str() {
            "invalid-input" => PluginError::InvalidInput(w.message),
            "plan" => PluginError::Plan(w.message),
            "panic" => PluginError::Panic(format!(
                "{} (in `{method}` of plugin `{id}` at {}; rig will not call this plugin again \
                 in this run)",
                w.message,
                self.path.display()
            )),
            "unknown-method" => PluginError::Protocol(format!(
                "plugin `{id}` does not know the method `{method}` ({}); it may be built against \
                 an older protocol than this rig's {}",
                w.message,
                rig_core::PROTOCOL_VERSION
            )),
            "protocol" => PluginError::Protocol(format!("plugin `{id}`: {}", w.message)),
            other => PluginError::Protocol(format!(
                "plugin `{id}` failed with an error kind this rig does not know (`{other}`): {}",
                w.message
            )),
        }
    }

    fn plan<R: Serialize>(&self, role: Role, req: &R) -> Result<Vec<StackPlan>, PluginError> {
        if self.manifest.role != role {
            return Err(PluginError::Protocol(format!(
                "plugin `{}` is a {} backend; it cannot plan a {role} stack",
                self.manifest.id, self.manifest.role
            )));
        }
        self.call(method::PLAN, req)
    }
}

impl Backend for DynamicPlugin {
    fn manifest(&self) -> Manifest {
        self.manifest.clone()
    }

    /// Asks the plugin; a failure to get an answer (a panic, a poisoned plugin, a broken
    /// answer) becomes one issue with an empty key.
    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        match self.call::<_, Vec<Issue>>(method::VALIDATE, settings) {
            Ok(issues) => issues,
            Err(e) => vec![Issue::new(
                "",
                format!(
                    "the {} plugin `{}` could not check its settings: {e}",
                    self.manifest.role, self.manifest.id
                ),
            )],
        }
    }
}

impl Foundation for DynamicPlugin {
    fn plan_foundation(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        self.plan(Role::Foundation, req)
    }
}

impl Compute for DynamicPlugin {
    fn plan_compute(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        self.plan(Role::Compute, req)
    }
}

impl Database for DynamicPlugin {
    fn plan_database(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        self.plan(Role::Database, req)
    }
}

impl Pipeline for DynamicPlugin {
    fn plan_pipeline(&self, req: &PipelineRequest) -> Result<Vec<StackPlan>, PluginError> {
        self.plan(Role::Pipeline, req)
    }
}
