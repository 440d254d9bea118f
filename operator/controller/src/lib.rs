//! The Quarry operator's controllers. So far: the pure planning functions that turn a
//! `QuarryCluster` and its `NodePool`s into the Kubernetes objects they need (`plan`). The
//! reconcilers that apply them (server-side apply, owner references, status) are not built yet.

pub mod plan;
