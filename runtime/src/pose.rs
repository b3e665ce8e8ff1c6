//! The canonical pose frame every producer is converted to.

use serde::{Deserialize, Serialize};

/// Number of joints in the canonical SMPL-24 skeleton.
pub const NUM_JOINTS: usize = 24;

/// The model's frame rate; every source is resampled to it.
pub const FPS: u32 = 30;

/// Joint positions of one body, SMPL-24 order, metres.
pub type Joints = [[f32; 3]; NUM_JOINTS];

/// Period of frame `k` at the model rate, in nanoseconds, without drift over long takes.
pub fn frame_period_ns(k: u64) -> i64 {
    // k * 1e9 / 30 rounded; i128 keeps hour-long takes exact.
    ((k as i128 * 1_000_000_000 + (FPS as i128 / 2)) / FPS as i128) as i64
}

/// One body at one instant, in the canonical frame: SMPL-24 joints, metres,
/// REP-103 axes (x forward, y left, z up).
///
/// `valid[j] == false` means the source had no such joint (or it was unusable);
/// the position of an invalid joint is meaningless and must not be scored or fed
/// to the model unmasked.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoseFrame {
    pub stamp_ns: i64,
    pub joints_in_world: Joints,
    pub valid: [bool; NUM_JOINTS],
}

impl PoseFrame {
    pub fn new(stamp_ns: i64, joints_in_world: Joints, valid: [bool; NUM_JOINTS]) -> Self {
        Self {
            stamp_ns,
            joints_in_world,
            valid,
        }
    }

    /// Joint `j` is valid and its position finite: a position anything may use.
    pub fn is_seen(&self, j: usize) -> bool {
        self.valid[j] && self.joints_in_world[j].iter().all(|v| v.is_finite())
    }

    pub fn valid_count(&self) -> usize {
        self.valid.iter().filter(|v| **v).count()
    }

    /// The pelvis position, if the pelvis is valid.
    pub fn pelvis(&self) -> Option<[f32; 3]> {
        self.valid[0].then_some(self.joints_in_world[0])
    }
}
