//! The A4Mer model: its config and tensors by name, per-frame features, segmentation, the
//! network the streaming engine runs (`native`, built from tensors by name). The burn
//! modules and the offline (batch) inference API live in `a4mer-burn-model`.

pub mod config;
pub mod features;
pub mod interp;
pub mod motif_prior;
pub mod native;
pub mod prior;
pub mod quant;
pub mod segment;
pub mod tensors;

use serde::{Deserialize, Serialize};

use crate::pose::{Joints, NUM_JOINTS, PoseFrame};
use features::{CONT_DIM, FEAT_DIM, FeatureError, POSE_DIM, world_to_heading};

pub use config::A4merConfig;
pub use motif_prior::{AnticipationPrior, PriorError};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error(transparent)]
    Feature(#[from] FeatureError),
    #[error("need at least {need} frames of history, got {got}")]
    TooFewFrames { need: usize, got: usize },
    #[error("gap of {gap} frames is outside 1..={max}")]
    Gap { gap: usize, max: usize },
}

/// Motif vocabulary: K centroids over motif embeddings (k-means after pre-training).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MotifVocab {
    pub k: usize,
    pub d: usize,
    /// `k * d`, row-major.
    pub centroids: Vec<f32>,
    /// Softmax temperature over squared distances for the confidence.
    pub temperature: f32,
    /// The code a mirrored copy of each code's motifs most often gets (measured on training data).
    pub mirror_of: Vec<u32>,
}

impl MotifVocab {
    /// Nearest code and its softmax confidence. Allocation-free (the engine calls it per
    /// closed atom): the distances are computed twice rather than stored.
    pub fn assign(&self, e: &[f32]) -> (usize, f32) {
        let d2 = |c: usize| -> f32 {
            let row = &self.centroids[c * self.d..(c + 1) * self.d];
            row.iter().zip(e).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()
        };
        let (best, bd) = (0..self.k)
            .map(d2)
            .enumerate()
            .fold((0, f32::INFINITY), |acc, (i, v)| if v < acc.1 { (i, v) } else { acc });
        let z: f32 = (0..self.k).map(|c| (-(d2(c) - bd) / self.temperature).exp()).sum();
        (best, 1.0 / z)
    }

    pub fn check(&self, d_model: usize, n_motifs: usize) -> Result<(), String> {
        if self.k != n_motifs || self.d != d_model {
            return Err(format!(
                "vocab is {}x{}, config needs {}x{}",
                self.k, self.d, n_motifs, d_model
            ));
        }
        if self.centroids.len() != self.k * self.d {
            return Err(format!(
                "vocab.centroids has {} values, expected {}",
                self.centroids.len(),
                self.k * self.d
            ));
        }
        if self.mirror_of.len() != self.k || self.mirror_of.iter().any(|&m| m as usize >= self.k) {
            return Err("vocab.mirror_of is not a map of codes".into());
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) || self.centroids.iter().any(|v| !v.is_finite()) {
            return Err("vocab has non-finite values".into());
        }
        Ok(())
    }
}

/// Motif embedding of each atom: the mean state over the span of the last `span` atoms.
pub fn motif_embeddings(states: &[f32], n: usize, d: usize, span: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n * d];
    for i in 0..n {
        let lo = (i + 1).saturating_sub(span);
        let m = (i + 1 - lo) as f32;
        for j in lo..=i {
            for c in 0..d {
                out[i * d + c] += states[j * d + c] / m;
            }
        }
    }
    out
}

/// One forecast step: joints in the world frame, and the expected per-joint error (m).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecastStep {
    pub dt_s: f32,
    pub joints_in_world: Joints,
    pub spread_m: f32,
}

/// Output of the offline model for one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    pub steps: Vec<ForecastStep>,
    /// Validity of the forecast joints (those valid in the last observed frame).
    pub valid: [bool; NUM_JOINTS],
    pub motif_now: Option<(usize, f32)>,
    /// Probability of each motif id `motif_lookahead_frames` ahead.
    pub motif_next: Vec<f32>,
}

/// An atom over a clip, with the motif current when it closed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AtomSpan {
    pub start_frame: usize,
    pub end_frame: usize,
    pub motif: usize,
    pub confidence: f32,
}

/// Which continuous dimensions a surprise value may score: joints valid in all three
/// frames, and the root terms.
pub fn surprise_mask(a: &[f32; FEAT_DIM], b: &[f32; FEAT_DIM], c: &[f32; FEAT_DIM]) -> [f32; CONT_DIM] {
    let mut m = [1.0f32; CONT_DIM];
    for j in 0..NUM_JOINTS {
        let v = a[CONT_DIM + j] * b[CONT_DIM + j] * c[CONT_DIM + j];
        m[j * 3..j * 3 + 3].fill(v);
    }
    m
}

/// Linear interpolation between the last frame before a gap and the first after it, for the
/// `gap` missing frames (the interpolation head predicts a residual over it).
pub fn interp_base(last: &PoseFrame, after: &PoseFrame, gap: usize) -> Vec<Joints> {
    (1..=gap)
        .map(|s| {
            let a = s as f32 / (gap + 1) as f32;
            let mut j = last.joints_in_world;
            for (k, p) in j.iter_mut().enumerate() {
                if last.valid[k] && after.valid[k] {
                    let q = after.joints_in_world[k];
                    *p = [
                        p[0] + a * (q[0] - p[0]),
                        p[1] + a * (q[1] - p[1]),
                        p[2] + a * (q[2] - p[2]),
                    ];
                }
            }
            j
        })
        .collect()
}

/// Extra inputs of the interpolation head: the pose after the gap relative to the last
/// pelvis in the last heading frame, its validity, and the gap as a fraction of the horizon.
pub fn interp_extra(
    last: &PoseFrame,
    yaw: f32,
    after: &PoseFrame,
    gap: usize,
    horizon: usize,
) -> [f32; POSE_DIM + NUM_JOINTS + 1] {
    let mut out = [0.0f32; POSE_DIM + NUM_JOINTS + 1];
    let pelvis = last.joints_in_world[0];
    for j in 0..NUM_JOINTS {
        if after.valid[j] {
            let p = after.joints_in_world[j];
            let r = world_to_heading([p[0] - pelvis[0], p[1] - pelvis[1], p[2] - pelvis[2]], yaw);
            out[j * 3..j * 3 + 3].copy_from_slice(&r);
            out[POSE_DIM + j] = 1.0;
        }
    }
    out[POSE_DIM + NUM_JOINTS] = gap as f32 / horizon as f32;
    out
}

/// What the tests here and in the burn model's crate share: a tiny config and an artifact
/// of it, made without burn.
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
