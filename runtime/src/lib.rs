//! a4mer-runtime: the canonical pose types, skeletons and joint maps that every other
//! crate speaks, the A4Mer model (burn modules, the `.a4m` artifact, the per-frame kernels)
//! and the streaming engine.
//!
//! Canonical conventions: SMPL-24 joints, metres, REP-103 axes (x forward, y left, z up),
//! timestamps in nanoseconds.

pub mod artifact;
pub mod codec;
pub mod device;
pub mod joint_map;
pub mod model;
pub mod pose;
pub mod skeleton;
pub mod stream;

pub use joint_map::{JointMap, JointMapError};
pub use pose::{FPS, Joints, NUM_JOINTS, PoseFrame, frame_period_ns};
pub use skeleton::{SMPL24, Skeleton};
