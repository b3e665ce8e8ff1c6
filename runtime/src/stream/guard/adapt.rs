//! Learning the person in front of it. The shipped decode was fitted on our sources; a new
//! rig, a new body or a new task moves differently, and the guard sees how on every scored
//! forecast. So, per track and per reported horizon, two gains are fitted online to what
//! the person then did: one on the model's displacement from the last pose, one on the
//! damped velocity's,
//!
//! `adapted = last + a · (model − last) + b · v · τ (1 − e^(−h/τ))`,
//!
//! by exponentially weighted least squares (recursive least squares with forgetting, in
//! its closed form for two unknowns), regularised toward the shipped gains `(1, 0)` and
//! clamped to a bounded range. Steps between horizons interpolate the gains, as the blend
//! does. A track starts, and restarts, from the shipped gains; the guard then scores the
//! adapted forecast as the model's, beside the baselines, so adapting can lose to them but
//! cannot make what is published worse than the blend allows. No allocation: a few numbers
//! per horizon.

use crate::pose::{Joints, NUM_JOINTS, PoseFrame};

use super::NUM_HORIZONS;
use super::between::{Between, between_horizons};

/// Gains of a track that has learnt nothing yet: the model as shipped.
pub const SHIPPED_GAINS: [f32; 2] = [1.0, 0.0];
/// Scored forecasts over which the fit averages (10 s at 30 Hz): long enough to span a few
/// motions, short enough to follow a person who changes task.
pub const ADAPT_TIME_CONSTANT_FORECASTS: f64 = 300.0;
/// Scored forecasts before the fitted gains are used (1 s at 30 Hz).
const MIN_FORECASTS: f64 = 30.0;
/// Ridge toward the shipped gains, per term as a share of that term's own weight (a
/// standardised ridge): motion where the two terms move alike, or one barely moves, leaves
/// the gains near the shipped decode.
const SHRINK: f64 = 0.1;
/// The gains' range: a bound on how far the adapted forecast may stray from the model's.
const GAIN_RANGE: [(f32, f32); 2] = [(0.0, 1.5), (-0.5, 1.5)];

/// One horizon's weighted sums and its current gains.
#[derive(Clone, Copy, Debug)]
struct Fit {
    /// XᵀX as (aa, ab, bb), decayed per scored forecast.
    xx: [f64; 3],
    /// Xᵀy.
    xy: [f64; 2],
    /// Effective number of scored forecasts behind the sums.
    n: f64,
    gains: [f32; 2],
}

impl Default for Fit {
    fn default() -> Self {
        Self {
            xx: [0.0; 3],
            xy: [0.0; 2],
            n: 0.0,
            gains: SHIPPED_GAINS,
        }
    }
}

impl Fit {
    fn solve(&mut self) {
        self.gains = SHIPPED_GAINS;
        if self.n < MIN_FORECASTS {
            return;
        }
        let [aa, ab, bb] = self.xx;
        let (a, c) = (aa * (1.0 + SHRINK), bb * (1.0 + SHRINK));
        let y = [
            self.xy[0] + SHRINK * aa * SHIPPED_GAINS[0] as f64,
            self.xy[1] + SHRINK * bb * SHIPPED_GAINS[1] as f64,
        ];
        let det = a * c - ab * ab;
        if !(det.is_finite() && det > f64::EPSILON * a * c) {
            return;
        }
        let g = [(c * y[0] - ab * y[1]) / det, (a * y[1] - ab * y[0]) / det];
        if g.iter().all(|v| v.is_finite()) {
            self.gains = std::array::from_fn(|k| (g[k] as f32).clamp(GAIN_RANGE[k].0, GAIN_RANGE[k].1));
        }
    }
}

/// One track's adapted decode gains.
#[derive(Clone, Debug, Default)]
pub(super) struct Adapt {
    fits: [Fit; NUM_HORIZONS],
}

impl Adapt {
    /// Back to the shipped gains (a new person, or a stream that restarted).
    pub fn restart(&mut self) {
        *self = Self::default();
    }

    pub fn gains(&self) -> [[f32; 2]; NUM_HORIZONS] {
        self.fits.map(|f| f.gains)
    }

    /// Learn from horizon `h`'s forecast: the model's raw joints `model`, made from `last`
    /// with per-frame velocity `velocity` over the joints `valid`, `damped` frames of
    /// velocity for the damped source, against what happened, `truth`.
    #[allow(clippy::too_many_arguments)]
    pub fn learn(
        &mut self,
        h: usize,
        model: &Joints,
        last: &Joints,
        velocity: &Joints,
        valid: &[bool; NUM_JOINTS],
        damped: f32,
        truth: &PoseFrame,
    ) {
        let mut xx = [0.0f64; 3];
        let mut xy = [0.0f64; 2];
        for j in 0..NUM_JOINTS {
            if !(valid[j] && truth.valid[j]) {
                continue;
            }
            for k in 0..3 {
                let a = (model[j][k] - last[j][k]) as f64;
                let b = (velocity[j][k] * damped) as f64;
                let y = (truth.joints_in_world[j][k] - last[j][k]) as f64;
                if !(a.is_finite() && b.is_finite() && y.is_finite()) {
                    continue;
                }
                xx[0] += a * a;
                xx[1] += a * b;
                xx[2] += b * b;
                xy[0] += a * y;
                xy[1] += b * y;
            }
        }
        let fit = &mut self.fits[h];
        let keep = 1.0 - 1.0 / ADAPT_TIME_CONSTANT_FORECASTS;
        for (s, v) in fit.xx.iter_mut().zip(xx) {
            *s = keep * *s + v;
        }
        for (s, v) in fit.xy.iter_mut().zip(xy) {
            *s = keep * *s + v;
        }
        fit.n = keep * fit.n + 1.0;
        fit.solve();
    }

    /// Move each step of `forecast` (the model's, from `cur`) by the gains at its step;
    /// `steps[h]` is horizon `h`'s step and `damped_by_step[i]` the damped frames at step
    /// `i + 1`.
    pub fn apply(
        &self,
        forecast: &mut [crate::model::ForecastStep],
        cur: &PoseFrame,
        velocity: &Joints,
        steps: &[usize; NUM_HORIZONS],
        damped_by_step: &[f32],
    ) {
        for (i, s) in forecast.iter_mut().enumerate() {
            let [a, b] = self.gains_at(steps, i + 1);
            if [a, b] == SHIPPED_GAINS {
                continue;
            }
            let damped = damped_by_step.get(i).copied().unwrap_or(0.0);
            for (j, p) in s.joints_in_world.iter_mut().enumerate() {
                if !cur.valid[j] {
                    continue;
                }
                let last = cur.joints_in_world[j];
                *p = std::array::from_fn(|k| last[k] + a * (p[k] - last[k]) + b * velocity[j][k] * damped);
            }
        }
    }

    /// The gains at forecast step `k` (1-based): the nearest horizon's outside the reported
    /// ones, linear between them.
    fn gains_at(&self, steps: &[usize; NUM_HORIZONS], k: usize) -> [f32; 2] {
        match between_horizons(steps, k) {
            Between::At(h) => self.fits[h].gains,
            Between::Lerp(lo, t) => {
                let (a, b) = (self.fits[lo].gains, self.fits[lo + 1].gains);
                std::array::from_fn(|g| a[g] * (1.0 - t) + b[g] * t)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ForecastStep;

    /// A pose whose joint `j` sits at `x · (j + 1)` along each axis, every joint valid.
    fn pose(x: f32) -> Joints {
        std::array::from_fn(|j| [x * (j + 1) as f32; 3])
    }

    /// `x` along axis `axis` of every joint, zero elsewhere.
    fn along(axis: usize, x: f32) -> Joints {
        std::array::from_fn(|j| std::array::from_fn(|k| if k == axis { x * (j + 1) as f32 } else { 0.0 }))
    }

    fn frame(joints: Joints) -> PoseFrame {
        PoseFrame::new(0, joints, [true; NUM_JOINTS])
    }

    /// Learn `n` forecasts at horizon `h` where the model moved about `model_m` along x, the
    /// velocity (times one damped frame) about `damped_m` along x and y, and the person
    /// `truth(model, damped)` along each axis: the terms differ in direction and from one
    /// forecast to the next, as limbs do.
    fn learn(a: &mut Adapt, h: usize, n: usize, model_m: f32, damped_m: f32, truth: impl Fn(f32, f32) -> f32) {
        for i in 0..n {
            let i = i as f32;
            let dm = model_m * (1.0 + 0.5 * (0.7 * i).sin());
            let (dvx, dvy) = (damped_m * (0.7 * i).cos(), damped_m * (1.3 * i).sin());
            let model = along(0, dm);
            let velocity: Joints = std::array::from_fn(|j| [dvx * (j + 1) as f32, dvy * (j + 1) as f32, 0.0]);
            let person: Joints = std::array::from_fn(|j| {
                let s = (j + 1) as f32;
                [truth(dm, dvx) * s, truth(0.0, dvy) * s, 0.0]
            });
            a.learn(
                h,
                &model,
                &pose(0.0),
                &velocity,
                &[true; NUM_JOINTS],
                1.0,
                &frame(person),
            );
        }
    }

    #[test]
    fn a_model_that_overshoots_twofold_is_halved() {
        let mut a = Adapt::default();
        learn(&mut a, 2, 600, 0.02, 0.01, |dm, _| 0.5 * dm);
        let [g_model, g_damped] = a.gains()[2];
        // The ridge toward (1, 0) keeps it a little above the exact 0.5.
        assert!((0.5..0.6).contains(&g_model), "{g_model}");
        assert!(g_damped.abs() < 0.1, "{g_damped}");
        // Other horizons learnt nothing.
        assert_eq!(a.gains()[0], SHIPPED_GAINS);
    }

    #[test]
    fn a_person_who_moves_as_the_damped_velocity_says_is_followed() {
        let mut a = Adapt::default();
        learn(&mut a, 4, 600, 0.02, 0.01, |_, dv| dv);
        let [g_model, g_damped] = a.gains()[4];
        assert!(g_model < 0.2 && g_damped > 0.8, "{g_model} {g_damped}");
    }

    #[test]
    fn gains_stay_shipped_until_enough_forecasts_and_within_their_range() {
        let mut a = Adapt::default();
        learn(&mut a, 1, 20, 0.02, 0.01, |dm, _| 3.0 * dm);
        assert_eq!(a.gains()[1], SHIPPED_GAINS, "fewer forecasts than the minimum");
        learn(&mut a, 1, 600, 0.02, 0.01, |dm, _| 3.0 * dm);
        let [g_model, g_damped] = a.gains()[1];
        assert!(
            g_model <= GAIN_RANGE[0].1 && g_damped <= GAIN_RANGE[1].1,
            "{g_model} {g_damped}"
        );
        assert_eq!(g_model, GAIN_RANGE[0].1, "a threefold undershoot saturates");
        a.restart();
        assert_eq!(a.gains(), [SHIPPED_GAINS; NUM_HORIZONS]);
    }

    #[test]
    fn non_finite_joints_are_passed_over() {
        let mut a = Adapt::default();
        learn(&mut a, 0, 600, 0.02, 0.01, |dm, _| 0.5 * dm);
        let before = a.gains()[0];
        let mut bad = pose(0.01);
        bad[3] = [f32::NAN, f32::INFINITY, 0.0];
        a.learn(
            0,
            &bad,
            &pose(0.0),
            &pose(0.0),
            &[true; NUM_JOINTS],
            1.0,
            &frame(pose(0.005)),
        );
        let after = a.gains()[0];
        assert!(after.iter().all(|g| g.is_finite()), "{after:?}");
        assert!((after[0] - before[0]).abs() < 0.05, "{before:?} -> {after:?}");
    }

    #[test]
    fn applied_gains_move_each_step_from_the_last_pose() {
        let mut a = Adapt::default();
        for h in 0..NUM_HORIZONS {
            learn(&mut a, h, 600, 0.02, 0.01, |dm, _| 0.5 * dm);
        }
        let g = a.gains()[0][0];
        let cur = frame(pose(1.0));
        let mut forecast = [ForecastStep {
            dt_s: 1.0 / 30.0,
            joints_in_world: pose(1.1),
            spread_m: 0.1,
        }];
        let steps = crate::stream::guard::HORIZONS_MS.map(crate::stream::guard::horizon_step);
        a.apply(&mut forecast, &cur, &pose(0.0), &steps, &[1.0]);
        let moved = forecast[0].joints_in_world[0][0] - 1.0;
        assert!((moved - 0.1 * g).abs() < 1e-5, "{moved} against {}", 0.1 * g);
    }
}
