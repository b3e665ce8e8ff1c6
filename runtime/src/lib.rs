//! a4mer-runtime: the canonical pose types, skeletons and joint maps that every other
//! crate speaks, the A4Mer model as it ships (the `.a4m` artifact and the per-frame
//! kernels) and the streaming engine.
//!
//! It links no burn: an artifact loads into a `stream::StreamModel` and streams on the
//! engine's own kernels. The burn modules that train, export, run the offline batch model
//! and hold the kernels to parity live in `a4mer-burn-model`.
//!
//! Canonical conventions: SMPL-24 joints, metres, REP-103 axes (x forward, y left, z up),
//! timestamps in nanoseconds.

pub mod artifact;
pub mod codec;
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
