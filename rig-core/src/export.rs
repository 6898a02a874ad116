//! Support code for [`crate::export_plugin!`]. Not part of the public API.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::model::{EnvRequest, PipelineRequest, Settings};
use crate::protocol::{method, Manifest, Response, RigBuffer, WireError};
use crate::traits::{Compute, Database, Foundation, Pipeline, PluginError};

/// The role-specific dispatch the macro selects.
pub trait Dispatch: Send + Sync {
    fn manifest(&self) -> Manifest;
    fn call(&self, method: &str, input: &[u8]) -> Result<serde_json::Value, WireError>;
}

fn bad_input(e: serde_json::Error) -> WireError {
    WireError {
        kind: "invalid-input".into(),
        message: format!("request is not valid JSON for this method: {e}"),
    }
}

fn plugin_err(e: PluginError) -> WireError {
    let kind = match e {
        PluginError::InvalidInput(_) => "invalid-input",
        PluginError::Panic(_) => "panic",
        PluginError::Protocol(_) => "protocol",
        PluginError::Plan(_) => "plan",
    };
    let message = match e {
        PluginError::InvalidInput(m)
        | PluginError::Panic(m)
        | PluginError::Protocol(m)
        | PluginError::Plan(m) => m,
    };
    WireError {
        kind: kind.into(),
        message,
    }
}

fn to_value<T: serde::Serialize>(v: T) -> Result<serde_json::Value, WireError> {
    serde_json::to_value(v).map_err(|e| WireError {
        kind: "protocol".into(),
        message: format!("could not encode the answer: {e}"),
    })
}

macro_rules! dispatcher {
    ($name:ident, $trait:ident, $req:ty, $plan:ident) => {
        #[doc(hidden)]
        pub struct $name<T>(pub T);
        impl<T: $trait> Dispatch for $name<T> {
            fn manifest(&self) -> Manifest {
                self.0.manifest()
            }
            fn call(&self, m: &str, input: &[u8]) -> Result<serde_json::Value, WireError> {
                match m {
                    method::VALIDATE => {
                        let settings: Settings =
                            serde_json::from_slice(input).map_err(bad_input)?;
                        to_value(self.0.validate(&settings))
                    }
                    method::PLAN => {
                        let req: $req = serde_json::from_slice(input).map_err(bad_input)?;
                        to_value(self.0.$plan(&req).map_err(plugin_err)?)
                    }
                    other => Err(WireError {
                        kind: "unknown-method".into(),
                        message: format!("method `{other}` is not known to this plugin"),
                    }),
                }
            }
        }
    };
}

dispatcher!(FoundationDispatch, Foundation, EnvRequest, plan_foundation);
dispatcher!(ComputeDispatch, Compute, EnvRequest, plan_compute);
dispatcher!(DatabaseDispatch, Database, EnvRequest, plan_database);
dispatcher!(PipelineDispatch, Pipeline, PipelineRequest, plan_pipeline);

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

fn encode(resp: &Response) -> RigBuffer {
    let bytes = serde_json::to_vec(resp).unwrap_or_else(|e| {
        format!(r#"{{"err":{{"kind":"protocol","message":"could not encode response: {e}"}}}}"#)
            .into_bytes()
    });
    RigBuffer::from_vec(bytes)
}

/// Body of the exported `manifest` function.
pub fn manifest_entry(get: impl FnOnce() -> Manifest) -> RigBuffer {
    match catch_unwind(AssertUnwindSafe(get)) {
        Ok(m) => encode(&Response::Ok(serde_json::to_value(m).unwrap_or_default())),
        Err(p) => encode(&Response::Err(WireError {
            kind: "panic".into(),
            message: panic_message(p),
        })),
    }
}

/// Body of the exported `call` function.
///
/// # Safety
/// `method`/`input` must point to `method_len`/`input_len` readable bytes (or be null with 0).
pub unsafe fn call_entry(
    d: &dyn Dispatch,
    method: *const u8,
    method_len: usize,
    input: *const u8,
    input_len: usize,
) -> RigBuffer {
    let m = if method.is_null() {
        &[][..]
    } else {
        std::slice::from_raw_parts(method, method_len)
    };
    let i = if input.is_null() {
        &[][..]
    } else {
        std::slice::from_raw_parts(input, input_len)
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let m = std::str::from_utf8(m).map_err(|_| WireError {
            kind: "protocol".into(),
            message: "method name is not UTF-8".into(),
        })?;
        d.call(m, i)
    }));
    let resp = match result {
        Ok(Ok(v)) => Response::Ok(v),
        Ok(Err(e)) => Response::Err(e),
        Err(p) => Response::Err(WireError {
            kind: "panic".into(),
            message: panic_message(p),
        }),
    };
    encode(&resp)
}

/// Body of the exported `free` function.
pub fn free_entry(b: RigBuffer) {
    // Freeing cannot meaningfully fail; a panic must still not cross the boundary.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe { drop(b.into_vec()) }));
}

/// Exports a backend as a rig plugin.
///
/// ```ignore
/// rig_core::export_plugin!(database, MyDatabase::default());
/// ```
///
/// The first argument is the role (`foundation`, `compute`, `database` or `pipeline`), the second
/// an expression building the backend (evaluated once, on first use). The macro defines the one
/// C-ABI entry symbol `rig_plugin_entry_v1`; every call is guarded against panics.
#[macro_export]
macro_rules! export_plugin {
    (foundation, $ctor:expr) => {
        $crate::export_plugin!(@impl FoundationDispatch, $ctor);
    };
    (compute, $ctor:expr) => {
        $crate::export_plugin!(@impl ComputeDispatch, $ctor);
    };
    (database, $ctor:expr) => {
        $crate::export_plugin!(@impl DatabaseDispatch, $ctor);
    };
    (pipeline, $ctor:expr) => {
        $crate::export_plugin!(@impl PipelineDispatch, $ctor);
    };
    (@impl $dispatch:ident, $ctor:expr) => {
        fn __rig_plugin_instance() -> &'static dyn $crate::export::Dispatch {
            static INSTANCE: ::std::sync::OnceLock<::std::boxed::Box<dyn $crate::export::Dispatch>> =
                ::std::sync::OnceLock::new();
            INSTANCE
                .get_or_init(|| ::std::boxed::Box::new($crate::export::$dispatch($ctor)))
                .as_ref()
        }
        extern "C" fn __rig_plugin_manifest() -> $crate::protocol::RigBuffer {
            $crate::export::manifest_entry(|| __rig_plugin_instance().manifest())
        }
        extern "C" fn __rig_plugin_call(
            method: *const u8,
            method_len: usize,
            input: *const u8,
            input_len: usize,
        ) -> $crate::protocol::RigBuffer {
            // The instance is built inside the guarded call so a panicking constructor is caught.
            let guarded = ::std::panic::catch_unwind(|| __rig_plugin_instance());
            match guarded {
                Ok(d) => unsafe { $crate::export::call_entry(d, method, method_len, input, input_len) },
                Err(_) => $crate::export::constructor_panicked(),
            }
        }
        extern "C" fn __rig_plugin_free(b: $crate::protocol::RigBuffer) {
            $crate::export::free_entry(b)
        }
        static __RIG_PLUGIN_VTABLE: $crate::protocol::PluginVTableV1 = $crate::protocol::PluginVTableV1 {
            abi_version: $crate::protocol::ABI_VERSION,
            struct_size: ::std::mem::size_of::<$crate::protocol::PluginVTableV1>(),
            manifest: __rig_plugin_manifest,
            call: __rig_plugin_call,
            free: __rig_plugin_free,
        };
        /// The plugin's one entry symbol.
        #[no_mangle]
        pub extern "C" fn rig_plugin_entry_v1() -> *const $crate::protocol::PluginVTableV1 {
            &__RIG_PLUGIN_VTABLE
        }
    };
}

/// Answer when the backend's constructor panicked.
pub fn constructor_panicked() -> RigBuffer {
    encode(&Response::Err(WireError {
        kind: "panic".into(),
        message: "the plugin's constructor panicked".into(),
    }))
}
