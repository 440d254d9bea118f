//! The proxy's router moved into the engine (`quarry_engine::GrpcRouter`, beside the fan-out
//! and merge); this re-export keeps `service.rs` building until its split lands.

pub use quarry_engine::GrpcRouter;
