//! A plugin's C table, as the host keeps it once checked.
//!
//! Shared by `loader` (which reads and checks the table and builds the `DynamicPlugin`) and
//! `dynamic` (which calls through it), so the imports go one way: `loader` → `dynamic` → `table`.

use rig_core::protocol::{CallFn, FreeFn, ManifestFn};

/// The functions of a plugin's table, copied out of it once checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table {
    pub(super) manifest: ManifestFn,
    pub(super) call: CallFn,
    pub(super) free: FreeFn,
}
