//! a4mer-runtime: the canonical pose types, skeletons and joint maps that every other
//! crate speaks, the A4Mer model (the `.a4m` artifact, the per-frame kernels, and with the
//! `burn` feature the burn modules) and the streaming engine.
//!
//! Without the `burn` feature (what the node builds) the crate still loads an artifact into
//! a `stream::StreamModel` and streams it: the engine runs its own kernels, so burn is only
//! needed to train, export, run the offline batch model and test parity.
//!
//! Canonical conventions: SMPL-24 joints, metres, REP-103 axes (x forward, y left, z up),
//! timestamps in nanoseconds.

pub mod artifact;
pub mod codec;
#[cfg(feature = "burn")]
pub mod device;
pub mod digest;
pub mod joint_map;
pub mod model;
pub mod pose;
pub mod skeleton;
pub mod stats;
pub mod stream;

pub use joint_map::{JointMap, JointMapError};
pub use pose::{FPS, Joints, NUM_JOINTS, PoseFrame, frame_period_ns};
pub use skeleton::{SMPL24, Skeleton};
