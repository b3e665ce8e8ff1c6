//! The evaluation protocol every reported forecast number uses.
//!
//! Sliding windows over 30 Hz recordings: each window observes the last 2 s (60 frames)
//! up to its origin and forecasts the next H = 30 frames (1 s). MPJPE is scored in
//! millimetres over the joints valid both in the ground truth and at the origin, at
//! 100/200/400/600/1000 ms, two ways:
//! - `world`: absolute positions in the world frame (what a safety controller needs);
//! - `pelvis_relative`: each pose minus its own pelvis (the literature's protocol).
//!
//! Baselines run through the same [`Forecaster`] interface on the same windows.

use a4mer_runtime::{FPS, Joints, NUM_JOINTS, PoseFrame};
use serde::Serialize;

use a4mer_runtime::stream::OnlineReport;

use crate::online::Online;
use a4mer_motion::Motion;
use a4mer_motion::perturb::Perturbation;

use crate::protocol::mean_error;
pub use crate::protocol::{HOLDOUT_FRACTION, HORIZON_STEPS, HORIZONS_MS, OBSERVE_FRAMES, Split};

/// A forecast of `HORIZON_STEPS` poses, step `k` at origin + (k+1)/30 s.
pub type Forecast = [Joints; HORIZON_STEPS];

/// Anything that forecasts future poses from the observed past.
pub trait Forecaster {
    /// `observed` is oldest first and ends at the forecast origin.
    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast;

    /// The last window was refused (the model gave no forecast of its own): the protocol
    /// counts it apart and scores no method on it, rather than scoring a stand-in under
    /// the model's name.
    fn refused_last(&self) -> bool {
        false
    }

    /// The damped-velocity τ this forecaster's model was fitted with: the protocol's third
    /// baseline then uses it. `None` (no model, or a model that states none) keeps
    /// [`DEFAULT_DAMPING_TAU_S`].
    fn damping_tau_s(&self) -> Option<f32> {
        None
    }
}

/// The last observed pose, held.
pub struct ZeroVelocity;

impl Forecaster for ZeroVelocity {
    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
        let last = observed
            .last()
            .map(|f| f.joints_in_world)
            .unwrap_or([[0.0; 3]; NUM_JOINTS]);
        [last; HORIZON_STEPS]
    }
}

/// The last frame-to-frame velocity, extrapolated.
pub struct ConstantVelocity;

impl Forecaster for ConstantVelocity {
    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
        let n = observed.len();
        if n < 2 {
            return ZeroVelocity.forecast(observed);
        }
        let (prev, last) = (&observed[n - 2], &observed[n - 1]);
        // A joint missing from either frame has no velocity: it is held.
        let moving: [bool; NUM_JOINTS] = std::array::from_fn(|j| prev.valid[j] && last.valid[j]);
        let (prev, last) = (&prev.joints_in_world, &last.joints_in_world);
        std::array::from_fn(|k| {
            std::array::from_fn(|j| {
                if !moving[j] {
                    // Not `0 * (last - prev)`: a missing joint's coordinates may be NaN.
                    return last[j];
                }
                let s = (k + 1) as f32;
                std::array::from_fn(|c| last[j][c] + s * (last[j][c] - prev[j][c]))
            })
        })
    }
}

/// The last frame-to-frame velocity, decaying with time constant `tau_s`: at `h` ahead,
/// x + v τ (1 − e^(−h/τ)). Missing joints are held, as in [`ConstantVelocity`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DampedVelocity {
    pub tau_s: f32,
}

/// τ of the protocol's damped velocity without a model: the documented default
/// (`a4mer_runtime::stream::DAMPING_TAU_S`). With a model, the model's own.
pub const DEFAULT_DAMPING_TAU_S: f32 = a4mer_runtime::stream::DAMPING_TAU_S;

impl Forecaster for DampedVelocity {
    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
        let cv = ConstantVelocity.forecast(observed);
        let Some(last) = observed.last() else { return cv };
        let tau = self.tau_s;
        // Constant velocity at step k is last + (k + 1) v_frame; damping scales the
        // displacement from (k + 1) frames to τ (1 − e^(−h/τ)) seconds of velocity.
        std::array::from_fn(|k| {
            let frames = (k + 1) as f32;
            let scale = a4mer_runtime::stream::damped_frames(frames, tau) / frames;
            std::array::from_fn(|j| {
                let (p, q) = (last.joints_in_world[j], cv[k][j]);
                if p == q {
                    return q;
                }
                std::array::from_fn(|c| p[c] + (q[c] - p[c]) * scale)
            })
        })
    }
}

/// τ from a log grid (0.05–5 s) with the least world MPJPE, averaged over the protocol's
/// horizons, on `streams`; give it training recordings only.
pub fn fit_damping_tau(streams: &[Scored<'_>], stride: usize) -> Option<f32> {
    let grid: Vec<f32> = (0..=40).map(|i| 0.05 * 100f32.powf(i as f32 / 40.0)).collect();
    let mut sums = vec![0.0f64; grid.len()];
    let mut windows = 0usize;
    for (observed, future, scored) in protocol_windows(streams, stride) {
        windows += 1;
        for (sum, tau_s) in sums.iter_mut().zip(&grid) {
            let f = DampedVelocity { tau_s: *tau_s }.forecast(observed);
            for ms in HORIZONS_MS {
                let k = horizon_step(ms);
                *sum += mean_error(&f[k], &future[k].joints_in_world, &scored, false);
            }
        }
    }
    if windows == 0 {
        return None;
    }
    let best = (0..grid.len()).min_by(|a, b| sums[*a].total_cmp(&sums[*b]))?;
    Some(grid[best])
}

/// Window origins of a recording of `len` frames: every `stride` frames, with a full
/// 2 s of past and 1 s of future available.
pub fn window_origins(len: usize, stride: usize) -> impl Iterator<Item = usize> {
    let first = OBSERVE_FRAMES - 1;
    let end = len.saturating_sub(HORIZON_STEPS);
    (first..end).step_by(stride.max(1))
}

/// Every window of `streams`: the 2 s observed, the 1 s that followed, and the joints
/// scored (valid at the origin, in its truth and all through the future).
#[allow(clippy::type_complexity)]
fn protocol_windows<'a>(
    streams: &'a [Scored<'a>],
    stride: usize,
) -> impl Iterator<Item = (&'a [PoseFrame], &'a [PoseFrame], [bool; NUM_JOINTS])> + 'a {
    streams.iter().flat_map(move |s| {
        let len = s.observed.len().min(s.truth.len());
        window_origins(len, stride).map(move |t| {
            let future = &s.truth[t + 1..=t + HORIZON_STEPS];
            let scored = std::array::from_fn(|j| {
                s.observed[t].valid[j] && s.truth[t].valid[j] && future.iter().all(|f| f.valid[j])
            });
            (&s.observed[t + 1 - OBSERVE_FRAMES..=t], future, scored)
        })
    })
}

/// MPJPE per horizon for one method, millimetres.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MethodScores {
    pub world: Vec<f64>,
    pub pelvis_relative: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MpjpeTable {
    pub zero_velocity: MethodScores,
    pub constant_velocity: MethodScores,
    /// [`DampedVelocity`] at `damping_tau_s`.
    pub damped_velocity: MethodScores,
    pub damping_tau_s: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<MethodScores>,
}

/// The protocol's result; serialises to the documented `--json` object.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EvalReport {
    pub fps: u32,
    pub horizons_ms: Vec<u32>,
    pub windows: usize,
    /// Windows the model refused (e.g. too few joints to forecast): left out of every
    /// method's scores, counted here.
    pub windows_refused_by_model: usize,
    pub joints: usize,
    pub mpjpe_mm: MpjpeTable,
    /// Recordings too short for one window in this split (they add nothing to the scores).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub too_short: Vec<String>,
    /// The perturbation suite (`--perturb`), absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub perturbations: Vec<PerturbationScores>,
    /// The engine's live scores on the same recordings (`calibration`, `anticipation`,
    /// `guard`), when a model was streamed.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineReport>,
    /// The interpolation head against linear interpolation (`--interpolation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpolation: Option<crate::interp_eval::InterpolationReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(
        "no evaluation windows: every recording in the {split:?} split is shorter than {} frames ({} s observed + {} s forecast): {}",
        OBSERVE_FRAMES + HORIZON_STEPS,
        OBSERVE_FRAMES as u32 / FPS,
        HORIZON_STEPS as u32 / FPS,
        files.join(", ")
    )]
    NoWindows { split: Split, files: Vec<String> },
}

#[derive(Default, Clone)]
struct Accumulator {
    world: [f64; HORIZONS_MS.len()],
    pelvis: [f64; HORIZONS_MS.len()],
    windows: usize,
    pelvis_windows: usize,
}

impl Accumulator {
    fn add(&mut self, forecast: &Forecast, future: &[PoseFrame], scored: &[bool; NUM_JOINTS]) {
        self.windows += 1;
        let pelvis_ok = scored[0];
        if pelvis_ok {
            self.pelvis_windows += 1;
        }
        for (h, ms) in HORIZONS_MS.iter().enumerate() {
            let step = horizon_step(*ms);
            let (pred, gt) = (&forecast[step], &future[step].joints_in_world);
            self.world[h] += mean_error(pred, gt, scored, false);
            if pelvis_ok {
                self.pelvis[h] += mean_error(pred, gt, scored, true);
            }
        }
    }

    fn scores(&self) -> MethodScores {
        let mm = |sum: &[f64; 5], n: usize| sum.iter().map(|s| s / n.max(1) as f64 * 1000.0).collect();
        MethodScores {
            world: mm(&self.world, self.windows),
            pelvis_relative: mm(&self.pelvis, self.pelvis_windows),
        }
    }
}

/// Index into a forecast of the step at `ms` after the origin.
pub fn horizon_step(ms: u32) -> usize {
    (ms as usize * FPS as usize).div_ceil(1000) - 1
}

/// Run the protocol over `motions` with the baselines and, if given, a model.
pub fn evaluate<'m>(
    motions: &[Motion],
    split: Split,
    stride: usize,
    model: Option<&mut (dyn Forecaster + 'm)>,
) -> Result<EvalReport, EvalError> {
    let streams: Vec<Scored<'_>> = motions
        .iter()
        .map(|m| {
            let f = split.frames(&m.frames);
            Scored { observed: f, truth: f }
        })
        .collect();
    let mut report = evaluate_streams(&streams, stride, model).ok_or_else(|| EvalError::NoWindows {
        split,
        files: motions.iter().map(|m| m.source.display().to_string()).collect(),
    })?;
    report.too_short = motions
        .iter()
        .filter(|m| window_origins(split.frames(&m.frames).len(), 1).next().is_none())
        .map(|m| m.source.display().to_string())
        .collect();
    Ok(report)
}

/// A recording as the model observes it and the truth it is scored against (equal
/// lengths; the same slice unless a sensor effect was simulated).
pub struct Scored<'a> {
    pub observed: &'a [PoseFrame],
    pub truth: &'a [PoseFrame],
}

/// The protocol over prepared streams; `None` when no stream is long enough for a window.
pub fn evaluate_streams<'m>(
    streams: &[Scored<'_>],
    stride: usize,
    mut model: Option<&mut (dyn Forecaster + 'm)>,
) -> Option<EvalReport> {
    let mut zero = Accumulator::default();
    let mut cv = Accumulator::default();
    let mut damped = Accumulator::default();
    let mut damper = DampedVelocity {
        tau_s: model
            .as_deref()
            .and_then(|m| m.damping_tau_s())
            .unwrap_or(DEFAULT_DAMPING_TAU_S),
    };
    let mut ours = Accumulator::default();
    let mut refused = 0;
    let mut joints_seen = [false; NUM_JOINTS];
    for (observed, future, scored) in protocol_windows(streams, stride) {
        // The model first: every method is scored on the windows it forecast.
        if let Some(m) = model.as_deref_mut() {
            let forecast = m.forecast(observed);
            if m.refused_last() {
                refused += 1;
                continue;
            }
            ours.add(&forecast, future, &scored);
        }
        for (seen, s) in joints_seen.iter_mut().zip(&scored) {
            *seen |= *s;
        }
        zero.add(&ZeroVelocity.forecast(observed), future, &scored);
        cv.add(&ConstantVelocity.forecast(observed), future, &scored);
        damped.add(&damper.forecast(observed), future, &scored);
    }
    if zero.windows == 0 && refused == 0 {
        return None;
    }
    Some(EvalReport {
        fps: FPS,
        horizons_ms: HORIZONS_MS.to_vec(),
        windows: zero.windows,
        windows_refused_by_model: refused,
        joints: joints_seen.iter().filter(|s| **s).count(),
        mpjpe_mm: MpjpeTable {
            zero_velocity: zero.scores(),
            constant_velocity: cv.scores(),
            damped_velocity: damped.scores(),
            damping_tau_s: damper.tau_s,
            model: model.is_some().then(|| ours.scores()),
        },
        too_short: Vec::new(),
        perturbations: Vec::new(),
        online: None,
        interpolation: None,
    })
}

/// One condition of the perturbation suite, scored like the top-level table.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PerturbationScores {
    pub name: String,
    pub condition: Perturbation,
    pub windows: usize,
    /// Windows the model refused, left out of every method's scores.
    pub windows_refused_by_model: usize,
    pub joints: usize,
    pub mpjpe_mm: MpjpeTable,
    /// The engine's live scores under this condition, streamed on what it observes.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineReport>,
}

/// Score every condition of `conditions` on `motions` (each condition built from each
/// recording's `split`). A condition whose recordings are all too short after it is applied
/// (e.g. twice the speed halves their length) is left out, not scored on nothing.
pub fn evaluate_perturbations<'m>(
    motions: &[Motion],
    split: Split,
    stride: usize,
    conditions: &[Perturbation],
    mut model: Option<&mut (dyn Forecaster + 'm)>,
    online: Option<&Online>,
) -> Vec<PerturbationScores> {
    let mut out = Vec::new();
    for (ci, cond) in conditions.iter().enumerate() {
        let built: Vec<_> = motions
            .iter()
            .enumerate()
            .map(|(mi, m)| cond.apply(split.frames(&m.frames), 0x5eed ^ ((ci as u64) << 16) ^ mi as u64))
            .collect();
        let streams: Vec<Scored<'_>> = built
            .iter()
            .map(|p| Scored {
                observed: &p.observed,
                truth: &p.truth,
            })
            .collect();
        if let Some(r) = evaluate_streams(&streams, stride, model.as_deref_mut()) {
            out.push(PerturbationScores {
                name: cond.name(),
                condition: *cond,
                windows: r.windows,
                windows_refused_by_model: r.windows_refused_by_model,
                joints: r.joints,
                mpjpe_mm: r.mpjpe_mm,
                online: online.map(|o| o.score(&built.iter().map(|p| p.observed.as_slice()).collect::<Vec<_>>())),
            });
        }
    }
    out
}

impl MpjpeTable {
    /// World MPJPE of the best baseline (zero, constant and damped velocity) per horizon.
    pub fn best_baseline_world(&self) -> Vec<f64> {
        self.best_trivial_baseline_world()
            .iter()
            .zip(&self.damped_velocity.world)
            .map(|(t, d)| t.min(*d))
            .collect()
    }

    /// World MPJPE of the better of zero and constant velocity: the figure gains were
    /// reported against before the damped baseline, kept for continuity.
    pub fn best_trivial_baseline_world(&self) -> Vec<f64> {
        self.zero_velocity
            .world
            .iter()
            .zip(&self.constant_velocity.world)
            .map(|(z, c)| z.min(*c))
            .collect()
    }

    /// The model's world gain over the best of the three baselines at each horizon, in
    /// percent (positive: the model is better).
    pub fn model_gain_pct(&self) -> Option<Vec<f64>> {
        Some(gain_pct(&self.best_baseline_world(), &self.model.as_ref()?.world))
    }

    /// The same against the better of zero and constant velocity only.
    pub fn model_gain_vs_trivial_pct(&self) -> Option<Vec<f64>> {
        Some(gain_pct(
            &self.best_trivial_baseline_world(),
            &self.model.as_ref()?.world,
        ))
    }
}

fn gain_pct(baseline: &[f64], model: &[f64]) -> Vec<f64> {
    baseline
        .iter()
        .zip(model)
        .map(|(b, m)| if *b > 0.0 { (b - m) / b * 100.0 } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests;
