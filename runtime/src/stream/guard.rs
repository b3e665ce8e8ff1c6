//! The engine's own error, live: every published forecast is scored against what the person
//! then did, beside the three forecasts anyone could make without a model, and that record
//! decides what is published next.
//!
//! Per track and per reported horizon (100, 200, 400, 600 and 1000 ms):
//! - **Scoring.** The forecast made at grid frame `t` is kept until frame `t + step` arrives
//!   and is then scored on the joints valid in both, together with the zero-velocity (hold
//!   the last pose), constant-velocity and damped-velocity (`x + v τ (1 − e^(−h/τ))`, τ the
//!   model's) forecasts made at `t`. Restarts (gaps, clock
//!   jumps, teleports, non-finite output) discard what is pending, counted, so nothing is
//!   scored against frames of another timeline.
//! - **The guard.** An exponentially weighted mean joint error per source, with a time
//!   constant of [`EW_TIME_CONSTANT_FRAMES`] scored forecasts (1 s at 30 Hz): long enough
//!   to average over a gait cycle's phases, short enough to follow a person who stops or
//!   starts walking. The published forecast blends the sources with weights
//!   `exp(-(e_i / e_best - 1) / BLEND_TEMPERATURE)` (normalised), so a source 10 % worse
//!   than the best gets e⁻¹ of its weight and one 30 % worse almost none. A horizon not yet
//!   scored borrows the weights of the nearest shorter one that is; before any score the
//!   model is published as it is. Steps between horizons interpolate the weights linearly.
//! - **A calibrated radius.** `spread_m` becomes `c_h · spread` with `c_h` such that the true
//!   joint lies within it with probability [`NOMINAL_COVERAGE`]. `c_h` is the `1 − α_h`
//!   quantile of recent normalised errors `|published − truth| / spread` (a histogram that
//!   forgets with a half-life of [`HISTOGRAM_HALF_LIFE`] scored forecasts), and `α_h` follows
//!   adaptive conformal inference (Gibbs and Candès, 2021): `α ← α + γ (α_nominal − miss)`,
//!   with `miss` the fraction of joints outside the radius stated when the forecast was
//!   made, so the long-run coverage holds even when the errors' distribution shifts.
//! - **Losing.** The model is *losing* at a horizon when its error exceeds the best
//!   baseline's by [`LOSING_ENTER`] and by [`LOSING_MIN_EXCESS_M`], and stops losing once
//!   it is back at or below it (or within half that margin); the published forecast is
//!   losing when, by the same margins, it is worse than all three. A model that loses is
//!   outvoted by the blend, which is why only the second marks the safety link's frames
//!   Degraded (at a horizon the link carries): then nothing the node publishes can be
//!   trusted more than a formula.
//!
//! Everything is sized when the engine is built; nothing here allocates per frame.

use crate::model::ForecastStep;
use crate::pose::{FPS, Joints, NUM_JOINTS, PoseFrame};

/// Run totals and the weighted means behind the blend.
mod scores;
use scores::Ew;
/// The calibrated radius's histogram.
mod radius;
use radius::{BIN_LOG10_MIN, BINS, BINS_PER_DECADE, bin, quantile};
/// Forecast steps between the reported horizons.
mod between;
use between::{Between, between_horizons};
/// The decode's gains, adapted to the person.
mod adapt;
use adapt::Adapt;
pub use adapt::{ADAPT_TIME_CONSTANT_FORECASTS, SHIPPED_GAINS};
pub use scores::{GuardScores, Sum};

/// The horizons every report uses, in milliseconds.
pub const HORIZONS_MS: [u32; 5] = [100, 200, 400, 600, 1000];
/// Number of reported horizons.
pub const NUM_HORIZONS: usize = HORIZONS_MS.len();

/// Model-rate frames ahead for a horizon in milliseconds (rounded).
pub const fn horizon_step(ms: u32) -> usize {
    ((ms * FPS + 500) / 1000) as usize
}

/// Forecast sources the guard weighs, in the order of [`SourceWeights`].
pub const SOURCES: [&str; NUM_SOURCES] = ["model", "zero_velocity", "constant_velocity", "damped_velocity"];
pub const NUM_SOURCES: usize = 4;
/// Weights for [`SOURCES`], summing to 1.
pub type SourceWeights = [f32; NUM_SOURCES];
const MODEL: SourceWeights = [1.0, 0.0, 0.0, 0.0];

/// Time constant of the damped-velocity baseline, x + v τ (1 − e^(−h/τ)), where neither a
/// model nor the user states one: the value fitted on the shipped model's training
/// recordings, never on a held-out one (`a4mer eval --fit-damping-tau`; README, Evaluation
/// protocol). A trained model carries its own, fitted on its own training recordings.
pub const DAMPING_TAU_S: f32 = 0.792;

/// Whether `tau_s` can be a damping time constant (finite and positive).
pub fn damping_tau_is_valid(tau_s: f32) -> bool {
    tau_s.is_finite() && tau_s > 0.0
}

/// How many frames of the last per-frame velocity the damped baseline moves in `step`
/// frames: τ (1 − e^(−h/τ)) in frames, with h = `step` frames.
pub fn damped_frames(step: f32, tau_s: f32) -> f32 {
    let tau_frames = tau_s * FPS as f32;
    tau_frames * (1.0 - (-step / tau_frames).exp())
}

/// Scored forecasts over which the exponentially weighted errors average (1 s at 30 Hz).
pub const EW_TIME_CONSTANT_FRAMES: f64 = 30.0;
/// How sharply the blend favours the best source (relative error gap for a factor e).
pub const BLEND_TEMPERATURE: f32 = 0.1;
/// The probability the calibrated radius states.
pub const NOMINAL_COVERAGE: f32 = 0.9;
/// Step size of adaptive conformal inference (the value Gibbs and Candès recommend).
pub const ACI_GAMMA: f32 = 0.005;
/// Scored forecasts after which a normalised error counts half in the radius quantile.
pub const HISTOGRAM_HALF_LIFE: f32 = 300.0;
/// Radius factor before any score: the 90 % radius of an isotropic 3-D Gaussian whose mean
/// distance is the model's spread (2.500 σ / 1.596 σ), which is how the spread was trained.
pub const PRIOR_RADIUS_SCALE: f32 = 1.566;
/// The model starts losing at a horizon when its error is this much above the best
/// baseline's, and stops once it is not above it: a model that merely ties does not flap.
/// The published forecast is losing, by the same margins, when it is worse than every one.
pub const LOSING_ENTER: f64 = 1.10;
/// ... and when it is also worse by at least this much (metres). Below a centimetre the
/// difference is inside the intrusion margin the MCU adds anyway (ISO 13855's C), and the
/// published blend already follows the better source; it stops losing below half of it.
pub const LOSING_MIN_EXCESS_M: f64 = 0.01;

/// What the guard does with its scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuardConfig {
    /// Publish the guard's blend; `false` publishes the model's forecast as it is (scores
    /// are still kept), for parity checks and A/B comparisons.
    pub blend: bool,
    /// Publish the calibrated radius as `spread_m`; `false` publishes the model's own spread.
    pub calibrate: bool,
    /// Weigh the damped-velocity source; `false` is the three-source guard (its cost and
    /// its scores, old against new).
    pub damped_source: bool,
    /// Adapt the model's decode gains to the person, per track, from the scored forecasts
    /// (`adapt.rs`); what is scored and blended as the model is then the adapted forecast.
    /// `false`: the model as shipped, for parity checks and the with/without comparison.
    pub adapt: bool,
}

impl GuardConfig {
    /// The model's own forecast and spread, published as they are (parity with the batch
    /// model, f32 against int8).
    pub const MODEL_ONLY: GuardConfig = GuardConfig {
        blend: false,
        calibrate: false,
        damped_source: true,
        adapt: false,
    };
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            blend: true,
            calibrate: true,
            damped_source: true,
            adapt: true,
        }
    }
}

/// The guard's state as published with each forecast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuardView {
    /// Per horizon, the weights the published forecast gives [`SOURCES`].
    pub weights: [SourceWeights; NUM_HORIZONS],
    /// Per horizon, the factor from the model's spread to the published 90 % radius.
    pub radius_scale: [f32; NUM_HORIZONS],
    /// Per horizon, whether the model is losing to a baseline (see [`LOSING_ENTER`]).
    pub model_losing: [bool; NUM_HORIZONS],
    /// Per horizon, whether even the published blend is losing to all three baselines:
    /// the forecast the robot acts on is then worse than any formula would be.
    pub published_losing: [bool; NUM_HORIZONS],
}

impl GuardView {
    /// Whether the model is losing at any horizon no further than `max_step` frames ahead.
    pub fn model_losing_within(&self, max_step: usize) -> bool {
        losing_within(&self.model_losing, max_step)
    }

    /// Whether the published forecast loses to all three baselines at any horizon no
    /// further than `max_step` frames ahead.
    pub fn published_losing_within(&self, max_step: usize) -> bool {
        losing_within(&self.published_losing, max_step)
    }
}

fn losing_within(losing: &[bool; NUM_HORIZONS], max_step: usize) -> bool {
    HORIZONS_MS
        .iter()
        .zip(losing)
        .any(|(ms, losing)| *losing && horizon_step(*ms) <= max_step)
}

impl Default for GuardView {
    fn default() -> Self {
        Self {
            weights: [MODEL; NUM_HORIZONS],
            radius_scale: [PRIOR_RADIUS_SCALE; NUM_HORIZONS],
            model_losing: [false; NUM_HORIZONS],
            published_losing: [false; NUM_HORIZONS],
        }
    }
}

/// The live errors behind the current weights, per horizon: [`SOURCES`], in metres.
pub type LiveErrors = [[Option<f64>; NUM_SOURCES]; NUM_HORIZONS];

/// One forecast waiting for its horizons to arrive.
#[derive(Clone, Copy, Debug)]
struct Pending {
    frame: u64,
    stamp_ns: i64,
    valid: [bool; NUM_JOINTS],
    last: Joints,
    /// Per-frame displacement of each joint (zero where the previous frame lacked it).
    velocity: Joints,
    /// What was scored as the model's: adapted, with adaptation on.
    model: [Joints; NUM_HORIZONS],
    /// The model's own forecast, which adaptation learns from.
    raw: [Joints; NUM_HORIZONS],
    spread_m: [f32; NUM_HORIZONS],
    view: GuardView,
    scored: [bool; NUM_HORIZONS],
    /// Made after warm-up: its scores enter [`GuardScores`] (the live errors learn from all).
    counted: bool,
}

/// One track's scoring, guard and calibration.
#[derive(Clone, Debug)]
pub struct Guard {
    config: GuardConfig,
    /// Frames of velocity the damped-velocity source moves at each forecast step (index
    /// `step − 1`), from its τ: computed once, not per frame.
    damped_by_step: Vec<f32>,
    /// Forecast step of each horizon, and whether the model's horizon reaches it.
    steps: [usize; NUM_HORIZONS],
    active: [bool; NUM_HORIZONS],
    ring: Vec<Pending>,
    head: usize,
    len: usize,
    frame: u64,
    prev: Option<PoseFrame>,
    cur: Option<PoseFrame>,
    /// Per horizon, [`SOURCES`] and, last, what was published.
    ew: [[Ew; NUM_SOURCES + 1]; NUM_HORIZONS],
    alpha: [f32; NUM_HORIZONS],
    hist: [[f32; BINS]; NUM_HORIZONS],
    view: GuardView,
    scores: GuardScores,
    adapt: Adapt,
}

impl Guard {
    /// A guard for forecasts of `horizon` model-rate steps, its damped-velocity source at
    /// `damping_tau_s` (checked by whoever loaded it: see [`damping_tau_is_valid`]).
    pub fn new(config: GuardConfig, horizon: usize, damping_tau_s: f32) -> Self {
        let steps = HORIZONS_MS.map(horizon_step);
        let active = steps.map(|s| s >= 1 && s <= horizon);
        let longest = steps
            .iter()
            .zip(&active)
            .filter(|(_, a)| **a)
            .map(|(s, _)| *s)
            .max()
            .unwrap_or(0);
        let empty = Pending {
            frame: 0,
            stamp_ns: 0,
            valid: [false; NUM_JOINTS],
            last: [[0.0; 3]; NUM_JOINTS],
            velocity: [[0.0; 3]; NUM_JOINTS],
            model: [[[0.0; 3]; NUM_JOINTS]; NUM_HORIZONS],
            raw: [[[0.0; 3]; NUM_JOINTS]; NUM_HORIZONS],
            spread_m: [0.0; NUM_HORIZONS],
            view: GuardView::default(),
            scored: [true; NUM_HORIZONS],
            counted: false,
        };
        Self {
            config,
            damped_by_step: (1..=horizon.max(longest))
                .map(|k| damped_frames(k as f32, damping_tau_s))
                .collect(),
            steps,
            active,
            ring: vec![empty; longest + 1],
            head: 0,
            len: 0,
            frame: 0,
            prev: None,
            cur: None,
            ew: [[Ew::default(); NUM_SOURCES + 1]; NUM_HORIZONS],
            alpha: [1.0 - NOMINAL_COVERAGE; NUM_HORIZONS],
            hist: [[0.0; BINS]; NUM_HORIZONS],
            view: GuardView::default(),
            scores: GuardScores::default(),
            adapt: Adapt::default(),
        }
    }

    pub fn view(&self) -> &GuardView {
        &self.view
    }

    pub fn scores(&self) -> &GuardScores {
        &self.scores
    }

    /// Which horizons the model's forecast reaches (the others are never scored).
    pub fn active(&self) -> &[bool; NUM_HORIZONS] {
        &self.active
    }

    /// The exponentially weighted errors behind the current weights.
    pub fn live_errors_m(&self) -> LiveErrors {
        std::array::from_fn(|h| std::array::from_fn(|s| self.ew[h][s].get()))
    }

    /// The adapted gains per horizon, on the model's displacement and on the damped
    /// velocity's ([`SHIPPED_GAINS`] until adaptation has learnt, or with it off).
    pub fn adapt_gains(&self) -> [[f32; 2]; NUM_HORIZONS] {
        self.adapt.gains()
    }

    /// The stream restarted: what is pending belongs to the old timeline. What was learnt
    /// about this person's errors is kept; the adapted gains start again from the shipped
    /// ones, since whoever the stream resumes on may be someone else.
    pub fn restart(&mut self) {
        self.adapt.restart();
        for i in 0..self.len {
            let p = &self.ring[(self.head + i) % self.ring.len()];
            self.scores.discarded += p.scored.iter().filter(|s| !**s).count() as u64;
        }
        self.len = 0;
        self.prev = None;
        self.cur = None;
    }

    /// A model-rate frame arrived: score every pending forecast whose horizon it is.
    pub fn on_frame(&mut self, f: &PoseFrame) {
        self.frame += 1;
        self.prev = self.cur.replace(*f);
        let cap = self.ring.len();
        for i in 0..self.len {
            let idx = (self.head + i) % cap;
            for h in 0..NUM_HORIZONS {
                let p = &self.ring[idx];
                if p.scored[h] || p.frame + self.steps[h] as u64 != self.frame {
                    continue;
                }
                let expected_ns = p.stamp_ns + (self.steps[h] as i64 * 1_000_000_000) / FPS as i64;
                let p = *p;
                self.ring[idx].scored[h] = true;
                if (f.stamp_ns - expected_ns).abs() > 2_000_000 || !self.score(&p, h, f) {
                    self.scores.discarded += 1;
                }
            }
        }
        // Forecasts whose every horizon is done leave the ring (horizons the model does not
        // reach are marked done when the forecast is made).
        while self.len > 0 && self.ring[self.head].scored.iter().all(|s| *s) {
            self.head = (self.head + 1) % cap;
            self.len -= 1;
        }
    }

    /// Score pending forecast `p` at horizon `h` against frame `truth`. False when no joint
    /// is valid in both.
    fn score(&mut self, p: &Pending, h: usize, truth: &PoseFrame) -> bool {
        let step = self.steps[h] as f32;
        let with_damped = self.config.damped_source;
        let damped = if with_damped {
            self.damped_by_step[self.steps[h] - 1]
        } else {
            0.0
        };
        if self.config.adapt {
            let d = self.damped_by_step[self.steps[h] - 1];
            self.adapt.learn(h, &p.raw[h], &p.last, &p.velocity, &p.valid, d, truth);
        }
        let w = p.view.weights[h];
        let radius_m = p.view.radius_scale[h] * p.spread_m[h];
        let mut err = [0.0f64; NUM_SOURCES + 1];
        let (mut n, mut covered) = (0u32, 0u32);
        let decay = 0.5f32.powf(1.0 / HISTOGRAM_HALF_LIFE);
        self.hist[h].iter_mut().for_each(|b| *b *= decay);
        for j in 0..NUM_JOINTS {
            if !(p.valid[j] && truth.valid[j]) {
                continue;
            }
            let t = truth.joints_in_world[j];
            let m = p.model[h][j];
            let z = p.last[j];
            let c: [f32; 3] = std::array::from_fn(|k| z[k] + p.velocity[j][k] * step);
            let (published, d_damped) = if with_damped {
                let dv: [f32; 3] = std::array::from_fn(|k| z[k] + p.velocity[j][k] * damped);
                let published = std::array::from_fn(|k| w[0] * m[k] + w[1] * z[k] + w[2] * c[k] + w[3] * dv[k]);
                (published, dist(dv, t))
            } else {
                (std::array::from_fn(|k| w[0] * m[k] + w[1] * z[k] + w[2] * c[k]), 0.0)
            };
            let d = [dist(m, t), dist(z, t), dist(c, t), d_damped, dist(published, t)];
            if !d.iter().all(|v| v.is_finite()) {
                continue;
            }
            for (e, v) in err.iter_mut().zip(d) {
                *e += v as f64;
            }
            n += 1;
            if d[NUM_SOURCES] <= radius_m {
                covered += 1;
            }
            if p.spread_m[h] > 0.0 {
                self.hist[h][bin(d[NUM_SOURCES] / p.spread_m[h])] += 1.0;
            }
        }
        if n == 0 {
            return false;
        }
        let n_f = n as f64;
        // Without the damped source its column is neither learnt nor reported.
        let kept = |s: &usize| with_damped || *s != 3;
        for (_, (ew, e)) in self.ew[h].iter_mut().zip(&err).enumerate().filter(|(s, _)| kept(s)) {
            ew.add(e / n_f);
        }
        if p.counted {
            for (_, (sum, e)) in self.scores.error_m[h]
                .iter_mut()
                .zip(&err)
                .enumerate()
                .filter(|(s, _)| kept(s))
            {
                sum.add(e / n_f);
            }
            let followed = (0..NUM_SOURCES).fold(0, |best, s| if w[s] > w[best] { s } else { best });
            self.scores.followed[h][followed] += 1;
            self.scores.covered[h].total += covered as f64;
            self.scores.covered[h].count += n as u64;
        }
        let miss = 1.0 - covered as f32 / n as f32;
        self.alpha[h] = (self.alpha[h] + ACI_GAMMA * ((1.0 - NOMINAL_COVERAGE) - miss)).clamp(-0.5, 1.0);
        self.update_view(h);
        true
    }

    fn update_view(&mut self, h: usize) {
        let [m, z, c, d, p] = self.ew[h].map(|e| e.get());
        // The three-source guard: a damped error that is never learnt stands in as NaN,
        // which `min`, `max` and the weight below then pass over.
        let d = if self.config.damped_source { d } else { Some(f64::NAN) };
        if let (Some(m), Some(z), Some(c), Some(d), Some(p)) = (m, z, c, d, p) {
            let best = m.min(z).min(c).min(d);
            let floor = best.max(1e-3);
            let mut raw = [m, z, c, d].map(|e| (-((e - best) / floor) as f32 / BLEND_TEMPERATURE).exp());
            if !self.config.damped_source {
                raw[3] = 0.0;
            }
            let sum: f32 = raw.iter().sum();
            self.view.weights[h] = raw.map(|r| r / sum);
            self.view.model_losing[h] = losing(self.view.model_losing[h], m, z.min(c).min(d));
            self.view.published_losing[h] = losing(self.view.published_losing[h], p, z.max(c).max(d));
        }
        self.view.radius_scale[h] = if self.alpha[h] <= 0.0 {
            10f32.powf(BIN_LOG10_MIN + BINS as f32 / BINS_PER_DECADE)
        } else {
            quantile(&self.hist[h], 1.0 - self.alpha[h]).unwrap_or(PRIOR_RADIUS_SCALE)
        };
    }

    /// Turn the model's forecast from the newest frame into what is published, in place, and
    /// keep it pending. `steps` holds the model's forecast on entry; `counted` says whether
    /// its scores enter the run's totals (the engine passes "warm-up is over").
    pub fn publish(&mut self, steps: &mut [ForecastStep], counted: bool) {
        let Some(cur) = self.cur else {
            return;
        };
        let velocity: Joints = std::array::from_fn(|j| match &self.prev {
            Some(prev) if prev.valid[j] && cur.valid[j] => {
                std::array::from_fn(|k| cur.joints_in_world[j][k] - prev.joints_in_world[j][k])
            }
            _ => [0.0; 3],
        });
        let view = self.effective_view();
        let mut pending = Pending {
            frame: self.frame,
            stamp_ns: cur.stamp_ns,
            valid: cur.valid,
            last: cur.joints_in_world,
            velocity,
            model: [[[0.0; 3]; NUM_JOINTS]; NUM_HORIZONS],
            raw: [[[0.0; 3]; NUM_JOINTS]; NUM_HORIZONS],
            spread_m: [0.0; NUM_HORIZONS],
            view,
            scored: std::array::from_fn(|h| !self.active[h]),
            counted,
        };
        for h in 0..NUM_HORIZONS {
            if self.active[h]
                && let Some(s) = steps.get(self.steps[h] - 1)
            {
                pending.raw[h] = s.joints_in_world;
            }
        }
        if self.config.adapt {
            self.adapt
                .apply(steps, &cur, &velocity, &self.steps, &self.damped_by_step);
        }
        for h in 0..NUM_HORIZONS {
            if self.active[h]
                && let Some(s) = steps.get(self.steps[h] - 1)
            {
                pending.model[h] = s.joints_in_world;
                pending.spread_m[h] = s.spread_m;
            }
        }
        for (i, s) in steps.iter_mut().enumerate() {
            let (w, c) = self.at_step(&view, i + 1);
            if self.config.calibrate {
                s.spread_m *= c;
            }
            if !self.config.blend {
                continue;
            }
            let k = (i + 1) as f32;
            let damped = match self.damped_by_step.get(i) {
                Some(d) if self.config.damped_source => *d,
                _ => 0.0,
            };
            for (j, (p, v)) in s.joints_in_world.iter_mut().zip(&velocity).enumerate() {
                if !cur.valid[j] {
                    continue;
                }
                let (last, m) = (cur.joints_in_world[j], *p);
                *p = std::array::from_fn(|a| {
                    w[0] * m[a] + w[1] * last[a] + w[2] * (last[a] + v[a] * k) + w[3] * (last[a] + v[a] * damped)
                });
            }
        }
        if self.len == self.ring.len() {
            // Cannot happen (the ring holds the longest horizon's worth of frames), but a
            // full ring must not overwrite unscored forecasts silently.
            self.head = (self.head + 1) % self.ring.len();
            self.len -= 1;
            self.scores.discarded += 1;
        }
        let tail = (self.head + self.len) % self.ring.len();
        self.ring[tail] = pending;
        self.len += 1;
    }

    /// The view as published: what the flags allow, and horizons without scores borrowing
    /// from the nearest shorter scored one.
    fn effective_view(&self) -> GuardView {
        let mut v = self.view;
        let mut borrowed = MODEL;
        for h in 0..NUM_HORIZONS {
            if self.ew[h][0].get().is_some() {
                borrowed = v.weights[h];
            } else {
                v.weights[h] = borrowed;
            }
            if !self.config.blend {
                v.weights[h] = MODEL;
            }
            if !self.config.calibrate {
                v.radius_scale[h] = 1.0;
            }
        }
        v
    }

    /// Weights and radius factor at forecast step `k` (1-based): the nearest horizon's
    /// outside the reported ones, linear between them.
    fn at_step(&self, v: &GuardView, k: usize) -> (SourceWeights, f32) {
        match between_horizons(&self.steps, k) {
            Between::At(h) => (v.weights[h], v.radius_scale[h]),
            Between::Lerp(lo, t) => (
                std::array::from_fn(|s| v.weights[lo][s] * (1.0 - t) + v.weights[lo + 1][s] * t),
                v.radius_scale[lo] * (1.0 - t) + v.radius_scale[lo + 1] * t,
            ),
        }
    }
}

/// Whether an error `e` loses to `baseline`, given whether it was losing: it enters by
/// [`LOSING_ENTER`] and [`LOSING_MIN_EXCESS_M`], and leaves at half the excess.
fn losing(was: bool, e: f64, baseline: f64) -> bool {
    if was {
        e > baseline && e - baseline >= 0.5 * LOSING_MIN_EXCESS_M
    } else {
        e > LOSING_ENTER * baseline && e - baseline >= LOSING_MIN_EXCESS_M
    }
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
