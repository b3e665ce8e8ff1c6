//! Filling a gap on a sound interpolant: a cubic Hermite curve between the frames either
//! side of the gap, whose end tangents blend the measured velocities with the chord, and
//! the interpolation head's residual on top, each scaled by what the training recordings
//! showed it is worth at that gap length ([`InterpCalibration`]). A tangent scale of 0 is
//! linear interpolation exactly and a head scale of 0 leaves the head out, so the fitted
//! calibration can only choose among the straight line, the curve and the head.

use serde::{Deserialize, Serialize};

use crate::model::interp_base;
use crate::pose::{Joints, NUM_JOINTS, PoseFrame};

/// The tangent and head scales tried when fitting, per gap length: coarse on purpose, so a
/// few hundred windows of training recordings decide each one.
pub const SCALE_GRID: [f32; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// What the training recordings' validation part showed each fill is worth, per gap length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterpCalibration {
    /// Sorted by `gap_frames`, each length once.
    pub gaps: Vec<GapFit>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GapFit {
    /// Missing frames at 30 Hz.
    pub gap_frames: u16,
    /// 0: the chord (linear interpolation); 1: the measured end velocities.
    pub tangent_scale: f32,
    /// Share of the interpolation head's residual added to the curve (0: no head).
    pub head_scale: f32,
    /// Windows the choice was made on.
    pub windows: u32,
}

/// How a gap is filled, from the calibration at its length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillChoice {
    pub tangent_scale: f32,
    pub head_scale: f32,
}

impl FillChoice {
    /// The head as it was trained: its residual on linear interpolation, whole.
    pub const HEAD_AS_TRAINED: FillChoice = FillChoice {
        tangent_scale: 0.0,
        head_scale: 1.0,
    };
    pub const LINEAR: FillChoice = FillChoice {
        tangent_scale: 0.0,
        head_scale: 0.0,
    };

    /// The choice a window gets: the line where the curve at this tangent scale would have
    /// done worse than it on the same gap in the person's `history` ([`line_did_better`]).
    pub fn checked_against(self, history: &[PoseFrame], gap: usize) -> FillChoice {
        if line_did_better(history, gap, self.tangent_scale) {
            FillChoice::LINEAR
        } else {
            self
        }
    }

    /// The gap filled as this choice says: the curve at its tangent scale (velocities from
    /// `before_last` → `last` and `after` → `after_next`) plus its share of the head's
    /// residual on the line; the curve alone without `head` or with a share of 0.
    pub fn fill(
        self,
        before_last: Option<&PoseFrame>,
        last: &PoseFrame,
        after: &PoseFrame,
        after_next: Option<&PoseFrame>,
        gap: usize,
        head: Option<&[Joints]>,
    ) -> Vec<Joints> {
        let curve = hermite_fill(before_last, last, after, after_next, gap, self.tangent_scale);
        match head {
            Some(h) if self.head_scale > 0.0 => {
                add_residual(&curve, h, &interp_base(last, after, gap), self.head_scale)
            }
            _ => curve,
        }
    }
}

impl InterpCalibration {
    /// The fit of the nearest calibrated gap length (the shorter one on a tie).
    pub fn choice(&self, gap_frames: usize) -> FillChoice {
        self.gaps
            .iter()
            .min_by_key(|g| (g.gap_frames as usize).abs_diff(gap_frames))
            .map_or(FillChoice::LINEAR, |g| FillChoice {
                tangent_scale: g.tangent_scale,
                head_scale: g.head_scale,
            })
    }

    /// A stored calibration must be usable: scales finite and within [0, 1], lengths
    /// ascending and at least one frame.
    pub fn check(&self) -> Result<(), String> {
        if self.gaps.is_empty() {
            return Err("no gap length is calibrated".into());
        }
        for (i, g) in self.gaps.iter().enumerate() {
            let ok = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
            if g.gap_frames == 0 || !ok(g.tangent_scale) || !ok(g.head_scale) {
                return Err(format!(
                    "gaps[{i}]: gap_frames {} must be at least 1 and tangent_scale {} and head_scale {} within [0, 1]",
                    g.gap_frames, g.tangent_scale, g.head_scale
                ));
            }
            if i > 0 && self.gaps[i - 1].gap_frames >= g.gap_frames {
                return Err(format!("gaps[{i}]: gap lengths must ascend, each once"));
            }
        }
        Ok(())
    }
}

/// The `gap` missing frames between `last` and `after` on a cubic Hermite curve. The end
/// tangents are `tangent_scale` of the per-frame velocity measured at each end (`before_last`
/// → `last`, `after` → `after_next`) and the rest the chord's slope; an end without a
/// measurable velocity for a joint uses the chord. Joints not valid at both ends keep
/// `last`'s position, as in linear interpolation.
pub fn hermite_fill(
    before_last: Option<&PoseFrame>,
    last: &PoseFrame,
    after: &PoseFrame,
    after_next: Option<&PoseFrame>,
    gap: usize,
    tangent_scale: f32,
) -> Vec<Joints> {
    if tangent_scale == 0.0 {
        // The chord's slope at both ends is the line itself.
        return interp_base(last, after, gap);
    }
    let span = (gap + 1) as f32;
    (1..=gap)
        .map(|s| {
            let u = s as f32 / span;
            let (u2, u3) = (u * u, u * u * u);
            let h00 = 2.0 * u3 - 3.0 * u2 + 1.0;
            let h10 = u3 - 2.0 * u2 + u;
            let h01 = -2.0 * u3 + 3.0 * u2;
            let h11 = u3 - u2;
            let mut out = last.joints_in_world;
            for (j, p) in out.iter_mut().enumerate() {
                if !(last.valid[j] && after.valid[j]) {
                    continue;
                }
                let (p0, p1) = (last.joints_in_world[j], after.joints_in_world[j]);
                for c in 0..3 {
                    let chord = (p1[c] - p0[c]) / span;
                    let measured = |a: Option<&PoseFrame>, b: Option<&PoseFrame>| match (a, b) {
                        (Some(a), Some(b)) if a.valid[j] && b.valid[j] => {
                            b.joints_in_world[j][c] - a.joints_in_world[j][c]
                        }
                        _ => chord,
                    };
                    let m0 = tangent_scale * measured(before_last, Some(last)) + (1.0 - tangent_scale) * chord;
                    let m1 = tangent_scale * measured(Some(after), after_next) + (1.0 - tangent_scale) * chord;
                    p[c] = h00 * p0[c] + h10 * span * m0 + h01 * p1[c] + h11 * span * m1;
                }
            }
            out
        })
        .collect()
}

/// Would the curve at `tangent_scale` have filled a gap of this length in the recent past
/// worse than a straight line? Gaps of `gap` frames are cut out of the end of `history` at up
/// to three offsets (as many as fit) and filled both ways from the frames around them; the
/// sums of their mean joint errors decide. The guard's idea, applied to a gap: a person whose
/// motion turns faster than the gap is long (a run's stride over a 1 s gap) is filled with
/// the line. `false` when the history is too short to try.
pub fn line_did_better(history: &[PoseFrame], gap: usize, tangent_scale: f32) -> bool {
    if tangent_scale == 0.0 {
        return false;
    }
    let n = history.len();
    let (mut curve_err, mut line_err) = (0.0f64, 0.0f64);
    for back in [0, gap.div_ceil(2), gap] {
        // The pseudo-gap's frames: prev, last, gap hidden, after, after_next.
        let Some(start) = n.checked_sub(gap + 4 + back) else {
            break;
        };
        let w = &history[start..start + gap + 4];
        let (prev, last, after, next) = (&w[0], &w[1], &w[gap + 2], &w[gap + 3]);
        let curve = hermite_fill(Some(prev), last, after, Some(next), gap, tangent_scale);
        let line = interp_base(last, after, gap);
        for (k, truth) in w[2..gap + 2].iter().enumerate() {
            for j in 0..NUM_JOINTS {
                if truth.valid[j] && last.valid[j] && after.valid[j] {
                    let d = |p: &[f32; 3]| {
                        let t = truth.joints_in_world[j];
                        (((p[0] - t[0]).powi(2) + (p[1] - t[1]).powi(2) + (p[2] - t[2]).powi(2)) as f64).sqrt()
                    };
                    curve_err += d(&curve[k][j]);
                    line_err += d(&line[k][j]);
                }
            }
        }
    }
    line_err < curve_err
}

/// `curve` plus `head_scale` of the head's residual on linear interpolation (`head` −
/// `linear`), frame by frame.
pub fn add_residual(curve: &[Joints], head: &[Joints], linear: &[Joints], head_scale: f32) -> Vec<Joints> {
    curve
        .iter()
        .zip(head.iter().zip(linear))
        .map(|(c, (h, l))| std::array::from_fn(|j| std::array::from_fn(|a| c[j][a] + head_scale * (h[j][a] - l[j][a]))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(x: f32) -> PoseFrame {
        PoseFrame::new(0, [[x, 2.0 * x, -x]; 24], [true; 24])
    }

    #[test]
    fn a_tangent_scale_of_zero_is_linear_interpolation() {
        let (a, b, c, d) = (frame(0.0), frame(0.1), frame(0.9), frame(1.5));
        let curve = hermite_fill(Some(&a), &b, &c, Some(&d), 7, 0.0);
        let line = interp_base(&b, &c, 7);
        for (k, (h, l)) in curve.iter().zip(&line).enumerate() {
            for j in 0..24 {
                for ax in 0..3 {
                    assert!(
                        (h[j][ax] - l[j][ax]).abs() < 1e-6,
                        "frame {k} joint {j}: {h:?} vs {l:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn measured_tangents_follow_a_curve_a_line_cuts() {
        // x(t) = t², sampled per frame: the gap frames 3..=5 between t = 2 and t = 6.
        let at = |t: f32| frame(t * t);
        let curve = hermite_fill(Some(&at(1.0)), &at(2.0), &at(6.0), Some(&at(7.0)), 3, 1.0);
        let line = interp_base(&at(2.0), &at(6.0), 3);
        for (k, t) in [3.0f32, 4.0, 5.0].iter().enumerate() {
            let truth = t * t;
            let (h, l) = (curve[k][0][0], line[k][0][0]);
            assert!(
                (h - truth).abs() < (l - truth).abs(),
                "t {t}: curve {h}, line {l}, truth {truth}"
            );
        }
    }

    #[test]
    fn the_recent_past_prefers_the_line_for_a_swing_shorter_than_the_gap() {
        let take = |x: &dyn Fn(f32) -> f32| -> Vec<PoseFrame> { (0..60).map(|t| frame(x(t as f32))).collect() };
        // A stride of 10 frames against gaps of 12: the end velocities say nothing about the
        // middle of the gap.
        let swing = take(&|t| (t * std::f32::consts::TAU / 10.0).sin());
        assert!(line_did_better(&swing, 12, 1.0));
        // A steady turn (a parabola) is what the curve is for.
        let turn = take(&|t| 0.01 * t * t);
        assert!(!line_did_better(&turn, 12, 1.0));
        // Too little history to try, and the line itself, are never sent back to the line.
        assert!(!line_did_better(&turn[..10], 12, 1.0));
        assert!(!line_did_better(&swing, 12, 0.0));
    }

    #[test]
    fn a_joint_seen_at_one_end_only_stays_where_it_was() {
        let mut after = frame(1.0);
        after.valid[5] = false;
        let curve = hermite_fill(None, &frame(0.0), &after, None, 4, 1.0);
        assert!(curve.iter().all(|f| f[5] == [0.0, 0.0, 0.0]));
    }

    #[test]
    fn the_nearest_calibrated_length_decides_and_bad_fits_are_named() {
        let fit = |gap_frames, tangent_scale, head_scale| GapFit {
            gap_frames,
            tangent_scale,
            head_scale,
            windows: 10,
        };
        let cal = InterpCalibration {
            gaps: vec![fit(6, 0.5, 0.0), fit(15, 1.0, 0.25)],
        };
        assert!(cal.check().is_ok());
        assert_eq!(cal.choice(2).tangent_scale, 0.5);
        assert_eq!(cal.choice(12).head_scale, 0.25);
        let bad = InterpCalibration {
            gaps: vec![fit(6, f32::NAN, 0.0)],
        };
        assert!(bad.check().unwrap_err().contains("gaps[0]"));
        let unordered = InterpCalibration {
            gaps: vec![fit(9, 0.0, 0.0), fit(6, 0.0, 0.0)],
        };
        assert!(unordered.check().unwrap_err().contains("ascend"));
        assert!(InterpCalibration { gaps: vec![] }.check().is_err());
    }
}
