//! The interpolation head against plain linear interpolation, on gaps cut out of real
//! recordings: what `a4mer eval --interpolation` reports, and what decided from which gap
//! length `a4mer import --fill-gaps` uses the head (`gaps::HEAD_MIN_GAP_FRAMES`).
//!
//! At every `stride`-th origin `t` with 2 s of history, frames `t+1 ..= t+gap` are hidden;
//! both methods see the history and the frame after the gap and fill the hidden frames,
//! which are then scored (world MPJPE, mm) on the joints valid at both ends and in truth.

use a4mer_burn_model::Model;
use a4mer_runtime::model::interp_base;
use a4mer_runtime::{FPS, NUM_JOINTS};
use serde::Serialize;

use crate::protocol::{OBSERVE_FRAMES, Split, mean_error};
use a4mer_motion::Motion;

/// The gaps scored, in milliseconds. The head fills at most `horizon - 1` frames, so the
/// longest gap it can take is 29 frames (967 ms) at the shipped horizon of 30.
pub const GAPS_MS: [u32; 5] = [200, 300, 400, 500, 1000];

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GapScores {
    pub gap_ms: u32,
    /// Frames actually hidden (the gap in model frames, capped to what the head takes).
    pub gap_frames: usize,
    pub windows: usize,
    pub linear_mm: Option<f64>,
    pub model_mm: Option<f64>,
    /// Windows the model refused (scored as linear).
    pub model_failures: usize,
    /// Model error below linear, percent (positive: the model is better).
    pub model_gain_pct: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct InterpolationReport {
    pub gaps: Vec<GapScores>,
    /// The shortest scored gap from which the head beats linear interpolation at that gap
    /// and every longer one; `None` when it loses at the longest.
    pub head_wins_from_ms: Option<u32>,
}

/// Score the model's interpolation head against linear interpolation on `motions`.
pub fn evaluate_interpolation(model: &Model, motions: &[Motion], split: Split, stride: usize) -> InterpolationReport {
    let max_gap = model.config.horizon.saturating_sub(1);
    let mut gaps = Vec::new();
    for ms in GAPS_MS {
        let gap = ((ms * FPS) as usize).div_ceil(1000).min(max_gap);
        let (mut lin, mut ours, mut windows, mut failures) = (0.0f64, 0.0f64, 0usize, 0usize);
        for m in motions {
            let frames = split.frames(&m.frames);
            let mut t = OBSERVE_FRAMES - 1;
            while gap > 0 && t + gap + 1 < frames.len() {
                let before = &frames[t + 1 - OBSERVE_FRAMES..=t];
                let after = &frames[t + gap + 1];
                let truth = &frames[t + 1..=t + gap];
                let last = &frames[t];
                let linear = interp_base(last, after, gap);
                let filled = match model.interpolate(before, after, gap) {
                    Ok(f) => f,
                    Err(_) => {
                        failures += 1;
                        linear.clone()
                    }
                };
                let (mut l, mut o, mut n) = (0.0, 0.0, 0);
                for (k, gt) in truth.iter().enumerate() {
                    let scored: [bool; NUM_JOINTS] =
                        std::array::from_fn(|j| gt.valid[j] && last.valid[j] && after.valid[j]);
                    if scored.iter().any(|s| *s) {
                        l += mean_error(&linear[k], &gt.joints_in_world, &scored, false);
                        o += mean_error(&filled[k], &gt.joints_in_world, &scored, false);
                        n += 1;
                    }
                }
                if n > 0 {
                    lin += l / n as f64;
                    ours += o / n as f64;
                    windows += 1;
                }
                t += stride.max(1);
            }
        }
        let mean = |s: f64| (windows > 0).then(|| s / windows as f64 * 1000.0);
        let (linear_mm, model_mm) = (mean(lin), mean(ours));
        gaps.push(GapScores {
            gap_ms: ms,
            gap_frames: gap,
            windows,
            linear_mm,
            model_mm,
            model_failures: failures,
            model_gain_pct: match (linear_mm, model_mm) {
                (Some(l), Some(m)) if l > 0.0 => Some((l - m) / l * 100.0),
                _ => None,
            },
        });
    }
    let wins = |g: &GapScores| g.model_gain_pct.is_some_and(|p| p > 0.0);
    let losing_tail = gaps.iter().rev().take_while(|g| wins(g)).count();
    let head_wins_from_ms = (losing_tail > 0).then(|| gaps[gaps.len() - losing_tail].gap_ms);
    InterpolationReport {
        gaps,
        head_wins_from_ms,
    }
}
