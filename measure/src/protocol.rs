//! What every scored forecast shares, whichever report it lands in (the forecast protocol
//! in `eval`, the interpolation check in `interp_eval`): the windows' lengths, the horizons,
//! the held-out split and the per-pose error.

use a4mer_runtime::{Joints, NUM_JOINTS, PoseFrame};
use serde::Serialize;

/// Forecast length in frames (1 s at 30 Hz).
pub const HORIZON_STEPS: usize = 30;
/// Most past frames a forecaster is shown (2 s).
pub const OBSERVE_FRAMES: usize = 60;
/// Horizons reported, in milliseconds: the engine's own, which its guard scores live.
pub use a4mer_runtime::stream::HORIZONS_MS;
/// Share of each recording, at its end, held out from training.
pub const HOLDOUT_FRACTION: f64 = 0.2;

/// Which part of each recording to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    All,
    /// The first 80 % of each recording.
    Train,
    /// The last 20 % of each recording.
    Heldout,
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Split::All),
            "train" => Ok(Split::Train),
            "heldout" | "held-out" | "test" => Ok(Split::Heldout),
            _ => Err(format!("unknown split {s:?} (expected all, train or heldout)")),
        }
    }
}

impl Split {
    pub fn frames<'a>(&self, frames: &'a [PoseFrame]) -> &'a [PoseFrame] {
        let cut = ((frames.len() as f64) * (1.0 - HOLDOUT_FRACTION)).round() as usize;
        match self {
            Split::All => frames,
            Split::Train => &frames[..cut],
            Split::Heldout => &frames[cut..],
        }
    }
}

/// Mean joint distance in metres over `scored` joints (0 when none), in the world frame or
/// relative to each pose's own pelvis.
pub(crate) fn mean_error(pred: &Joints, gt: &Joints, scored: &[bool; NUM_JOINTS], pelvis_relative: bool) -> f64 {
    a4mer_runtime::stats::mpjpe_m(pred, gt, scored, pelvis_relative).unwrap_or(0.0)
}
