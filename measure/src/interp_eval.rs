//! Filling gaps cut out of real recordings: what `a4mer eval --interpolation` reports, and
//! how `a4mer train` calibrates the fill per gap length ([`fit_interpolation`]).
//!
//! At every `stride`-th origin `t` with 2 s of history, frames `t+1 ..= t+gap` are hidden;
//! every method sees the history and the frames after the gap and fills the hidden frames,
//! which are then scored (world MPJPE, mm) on the joints valid at both ends and in truth.
//! The methods: linear interpolation; the cubic Hermite curve at each tangent scale of
//! [`SCALE_GRID`]; and each curve plus each share of the head's residual. The head's residual
//! is taken on linear interpolation, as it was trained. A curve that would have filled the
//! same gap worse than the line in the window's own history gives way to the line
//! (`FillChoice::checked_against`), as it does when a model fills a recording.

use a4mer_burn_model::Model;
use a4mer_runtime::model::interp::{FillChoice, GapFit, InterpCalibration, SCALE_GRID};
use a4mer_runtime::model::interp_base;
use a4mer_runtime::{FPS, Joints, NUM_JOINTS, PoseFrame};
use serde::Serialize;

use crate::protocol::{OBSERVE_FRAMES, Split, mean_error};
use a4mer_motion::Motion;

/// The gaps scored and calibrated, in milliseconds. The head fills at most `horizon - 1`
/// frames, so the longest gap it can take is 29 frames (967 ms) at the shipped horizon of 30.
pub const GAPS_MS: [u32; 5] = [200, 300, 400, 500, 1000];

const N: usize = SCALE_GRID.len();

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GapScores {
    pub gap_ms: u32,
    /// Frames actually hidden (the gap in model frames, capped to what the head takes).
    pub gap_frames: usize,
    pub windows: usize,
    pub linear_mm: Option<f64>,
    /// The fill the model's calibration chooses at this length (the head as trained for a
    /// model without one).
    pub model_mm: Option<f64>,
    /// The curve alone at the calibrated tangent scale.
    pub curve_mm: Option<f64>,
    /// The head as trained: its whole residual on linear interpolation.
    pub head_as_trained_mm: Option<f64>,
    pub tangent_scale: f32,
    pub head_scale: f32,
    /// Windows the head refused (scored as the curve).
    pub model_failures: usize,
    /// Model error below linear, percent (positive: the model is better).
    pub model_gain_pct: Option<f64>,
    pub head_as_trained_gain_pct: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct InterpolationReport {
    /// Where the fill per gap length came from: the model's calibration, or none (the head
    /// as trained).
    pub calibration: &'static str,
    pub gaps: Vec<GapScores>,
    /// The same per recording (those with at least one window), so a recording on which
    /// the fill loses is not hidden by the pool.
    pub by_recording: Vec<RecordingGaps>,
    /// The shortest scored gap from which the model's fill beats linear interpolation at
    /// that gap and every longer one; `None` when it loses at the longest.
    pub head_wins_from_ms: Option<u32>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RecordingGaps {
    pub recording: String,
    pub gaps: Vec<GapScores>,
}

/// Summed window errors (m) of every method at one gap length.
#[derive(Clone, Default)]
struct Sums {
    windows: usize,
    failures: usize,
    linear: f64,
    head_as_trained: f64,
    /// `[tangent scale][head scale]`, when fitting; a refused head counts as its curve.
    grid: [[f64; N]; N],
    /// The fill `score_gap` was asked about, and its curve alone, when evaluating.
    chosen: f64,
    chosen_curve: f64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.windows += o.windows;
        self.failures += o.failures;
        self.linear += o.linear;
        self.head_as_trained += o.head_as_trained;
        self.chosen += o.chosen;
        self.chosen_curve += o.chosen_curve;
        for (row, orow) in self.grid.iter_mut().zip(&o.grid) {
            for (v, ov) in row.iter_mut().zip(orow) {
                *v += ov;
            }
        }
    }

    fn scores(&self, gap_ms: u32, gap_frames: usize, choice: FillChoice) -> GapScores {
        let mean = |sum: f64| (self.windows > 0).then(|| sum / self.windows as f64 * 1000.0);
        let gain = |m: Option<f64>| match (mean(self.linear), m) {
            (Some(l), Some(m)) if l > 0.0 => Some((l - m) / l * 100.0),
            _ => None,
        };
        GapScores {
            gap_ms,
            gap_frames,
            windows: self.windows,
            linear_mm: mean(self.linear),
            model_mm: mean(self.chosen),
            curve_mm: mean(self.chosen_curve),
            head_as_trained_mm: mean(self.head_as_trained),
            tangent_scale: choice.tangent_scale,
            head_scale: choice.head_scale,
            model_failures: self.failures,
            model_gain_pct: gain(mean(self.chosen)),
            head_as_trained_gain_pct: gain(mean(self.head_as_trained)),
        }
    }
}

fn gap_frames(model: &Model, ms: u32) -> usize {
    ((ms * FPS) as usize)
        .div_ceil(1000)
        .min(model.config.horizon.saturating_sub(1))
}

/// Every window of `motions` at one gap length, each method's error summed per recording:
/// the line, the head as trained, and `choice` (the model's fill and its curve alone), or
/// without a choice every fill of the grid (what fitting chooses from).
fn score_gap(
    model: &Model,
    motions: &[Motion],
    split: Split,
    stride: usize,
    gap: usize,
    choice: Option<FillChoice>,
) -> Vec<Sums> {
    let mut all = Vec::with_capacity(motions.len());
    for m in motions {
        let mut sums = Sums::default();
        let frames = split.frames(&m.frames);
        let mut t = OBSERVE_FRAMES - 1;
        while gap > 0 && t + gap + 1 < frames.len() {
            let before = &frames[t + 1 - OBSERVE_FRAMES..=t];
            let (last, after) = (&frames[t], &frames[t + gap + 1]);
            let truth = &frames[t + 1..=t + gap];
            let scored: Vec<[bool; NUM_JOINTS]> = truth
                .iter()
                .map(|gt| std::array::from_fn(|j| gt.valid[j] && last.valid[j] && after.valid[j]))
                .collect();
            if scored.iter().any(|s| s.iter().any(|v| *v)) {
                let err = |fill: &[Joints]| window_error(fill, truth, &scored);
                let linear = interp_base(last, after, gap);
                let head = model.interpolate(before, after, gap).ok();
                sums.failures += usize::from(head.is_none());
                sums.linear += err(&linear);
                sums.head_as_trained += err(head.as_deref().unwrap_or(&linear));
                let (prev, next) = (t.checked_sub(1).map(|i| &frames[i]), frames.get(t + gap + 2));
                let fill = |c: FillChoice, head: Option<&[Joints]>| {
                    c.checked_against(before, gap).fill(prev, last, after, next, gap, head)
                };
                match choice {
                    Some(c) => {
                        sums.chosen_curve += err(&fill(c, None));
                        sums.chosen += err(&fill(c, head.as_deref()));
                    }
                    None => {
                        for (i, &tangent_scale) in SCALE_GRID.iter().enumerate() {
                            for (k, &head_scale) in SCALE_GRID.iter().enumerate() {
                                let c = FillChoice {
                                    tangent_scale,
                                    head_scale,
                                };
                                sums.grid[i][k] += err(&fill(c, head.as_deref()));
                            }
                        }
                    }
                }
                sums.windows += 1;
            }
            t += stride.max(1);
        }
        all.push(sums);
    }
    all
}

fn pooled(per_recording: &[Sums]) -> Sums {
    let mut total = Sums::default();
    for s in per_recording {
        total.add(s);
    }
    total
}

fn window_error(fill: &[Joints], truth: &[PoseFrame], scored: &[[bool; NUM_JOINTS]]) -> f64 {
    let (mut sum, mut n) = (0.0, 0);
    for ((f, gt), s) in fill.iter().zip(truth).zip(scored) {
        if s.iter().any(|v| *v) {
            sum += mean_error(f, &gt.joints_in_world, s, false);
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// Score the fills against linear interpolation on `motions`, the model's fill as its
/// calibration chooses per gap length.
pub fn evaluate_interpolation(model: &Model, motions: &[Motion], split: Split, stride: usize) -> InterpolationReport {
    let mut gaps = Vec::new();
    let mut by_recording: Vec<RecordingGaps> = motions
        .iter()
        .map(|m| RecordingGaps {
            recording: m.source.display().to_string(),
            gaps: Vec::new(),
        })
        .collect();
    for ms in GAPS_MS {
        let gap = gap_frames(model, ms);
        let choice = model
            .interpolation
            .as_ref()
            .map_or(FillChoice::HEAD_AS_TRAINED, |c| c.choice(gap));
        let per = score_gap(model, motions, split, stride, gap, Some(choice));
        for (r, s) in by_recording.iter_mut().zip(&per) {
            r.gaps.push(s.scores(ms, gap, choice));
        }
        gaps.push(pooled(&per).scores(ms, gap, choice));
    }
    by_recording.retain(|r| r.gaps.iter().any(|g| g.windows > 0));
    let wins = |g: &GapScores| g.model_gain_pct.is_some_and(|p| p > 0.0);
    let winning_tail = gaps.iter().rev().take_while(|g| wins(g)).count();
    InterpolationReport {
        calibration: if model.interpolation.is_some() {
            "the model's, per gap length"
        } else {
            "none (the model predates it): the head as trained"
        },
        head_wins_from_ms: (winning_tail > 0).then(|| gaps[gaps.len() - winning_tail].gap_ms),
        gaps,
        by_recording,
    }
}

/// Choose, per gap length of [`GAPS_MS`], the tangent and head scales with the lowest mean
/// error on `motions` (the training recordings' part the heads did not train on). The
/// straight line is on the grid, so the choice never scores worse than it there. `None`
/// when no recording is long enough for one window.
pub fn fit_interpolation(model: &Model, motions: &[Motion], split: Split, stride: usize) -> Option<InterpCalibration> {
    let mut fits = Vec::new();
    for ms in GAPS_MS {
        let gap = gap_frames(model, ms);
        if fits.last().is_some_and(|f: &GapFit| f.gap_frames as usize == gap) {
            continue;
        }
        let s = pooled(&score_gap(model, motions, split, stride, gap, None));
        if s.windows == 0 {
            continue;
        }
        // Ties go to the smaller head share, then the smaller tangent scale: the simpler fill.
        let mut best = (0, 0);
        for k in 0..N {
            for i in 0..N {
                if s.grid[i][k] < s.grid[best.0][best.1] {
                    best = (i, k);
                }
            }
        }
        fits.push(GapFit {
            gap_frames: gap as u16,
            tangent_scale: SCALE_GRID[best.0],
            head_scale: SCALE_GRID[best.1],
            windows: s.windows as u32,
        });
    }
    (!fits.is_empty()).then_some(InterpCalibration { gaps: fits })
}
