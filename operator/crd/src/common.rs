//! Pieces every resource's status shares.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A short summary of where a resource stands, for `kubectl get`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum Phase {
    #[default]
    Pending,
    Reconciling,
    Ready,
    Stalled,
    Deleting,
}

/// The condition types the controllers set (`status.conditions[].type`).
pub mod condition_types {
    /// the resource is in the state its spec asks for
    pub const READY: &str = "Ready";
    /// the controller is working towards the spec
    pub const RECONCILING: &str = "Reconciling";
    /// the controller cannot make progress without a change (reason says why, e.g. NotSupported)
    pub const STALLED: &str = "Stalled";
}
