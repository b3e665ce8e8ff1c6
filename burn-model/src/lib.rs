//! a4mer-burn-model: the A4Mer network as burn modules. Training builds and fits it,
//! `export` packs it into an `.a4m` artifact, evaluation and `a4mer motifs` run its offline
//! (batch) path, and calibration and the parity tests build the streaming engine from it.
//!
//! What ships is `a4mer-runtime`, which links no burn: the engine fills its kernels from
//! the same tensors by name. This crate is the definition those names come from.

pub mod artifact;
pub mod batch;
pub mod device;
pub mod engine;
pub mod nn;
mod offline;
pub mod params;

pub use artifact::{BurnArtifact, fresh_model, load_model};
pub use engine::{observed_stream_model, stream_model};
pub use nn::A4mer;
pub use offline::{Model, Prepared, host, prepare, surprise};

#[cfg(test)]
mod tests;
