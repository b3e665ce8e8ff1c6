//! Per-frame model inputs, computed in plain Rust so the trainer, the offline model and
//! the streaming engine share one definition.
//!
//! Every frame is described in its *own* heading frame (pelvis-relative joints rotated by
//! the frame's yaw, root velocity in that frame, yaw rate). That makes an atom token a
//! function of its own frames only, which is what lets the motif level keep a key/value
//! cache while streaming: nothing already encoded has to be recomputed when a frame arrives.

use serde::{Deserialize, Serialize};

use crate::pose::{FPS, Joints, NUM_JOINTS, PoseFrame};
use crate::skeleton::{SMPL24_MIRROR, SMPL24_PARENTS};

use super::prior::{DECODE_TERMS, DecodeCalibration, Kinematics};

/// Pelvis-relative joint positions in the heading frame.
pub const POSE_DIM: usize = NUM_JOINTS * 3;
/// Root velocity (3, m/s, heading frame) and yaw rate (rad/s).
pub const ROOT_DIM: usize = 4;
/// The continuous part of a frame's features.
pub const CONT_DIM: usize = POSE_DIM + ROOT_DIM;
/// Continuous features plus one validity bit per joint.
pub const FEAT_DIM: usize = CONT_DIM + NUM_JOINTS;
/// Joint velocities in the heading frame of the latest frame (m/s), the heads' kinematic state.
pub const KIN_DIM: usize = NUM_JOINTS * 3;

const LEFT_HIP: usize = 1;
const RIGHT_HIP: usize = 2;
const LEFT_SHOULDER: usize = 16;
const RIGHT_SHOULDER: usize = 17;
const PELVIS: usize = 0;

#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq)]
pub enum FeatureError {
    #[error("frame at stamp_ns {stamp_ns}: pelvis is invalid; the model needs a pelvis")]
    PelvisInvalid { stamp_ns: i64 },
    #[error("frame at stamp_ns {stamp_ns}: joint {joint} has a non-finite coordinate but is marked valid")]
    NonFinite { stamp_ns: i64, joint: usize },
}

/// Raw (unnormalized) features of one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameFeatures {
    /// `CONT_DIM` continuous values followed by `NUM_JOINTS` validity bits (0/1).
    pub feat: [f32; FEAT_DIM],
    /// Joint velocities in this frame's heading frame, zero where unknown.
    pub kin: [f32; KIN_DIM],
    /// Validity of each `kin` joint (valid in this and the previous frame).
    pub kin_valid: [bool; NUM_JOINTS],
    /// Heading (yaw about +z, radians) of this frame.
    pub yaw_rad: f32,
}

/// Heading of a body: the direction perpendicular to the hip (or shoulder) line, in the
/// ground plane. Falls back to `prev_yaw_rad` when neither line is usable.
pub fn heading_yaw(frame: &PoseFrame, prev_yaw_rad: f32) -> f32 {
    for (l, r) in [(LEFT_HIP, RIGHT_HIP), (LEFT_SHOULDER, RIGHT_SHOULDER)] {
        if frame.valid[l] && frame.valid[r] {
            let a = frame.joints_in_world[l];
            let b = frame.joints_in_world[r];
            let (lx, ly) = (a[0] - b[0], a[1] - b[1]);
            if lx.hypot(ly) > 1e-4 {
                // Left is +y in the body frame, so forward is left rotated by -90 degrees.
                return ly.atan2(lx) - std::f32::consts::FRAC_PI_2;
            }
        }
    }
    prev_yaw_rad
}

/// Rotate a world vector into the frame whose heading is `yaw_rad` (rotation by -yaw about z).
#[inline]
pub fn world_to_heading(v: [f32; 3], yaw_rad: f32) -> [f32; 3] {
    let (s, c) = yaw_rad.sin_cos();
    [c * v[0] + s * v[1], -s * v[0] + c * v[1], v[2]]
}

/// Inverse of [`world_to_heading`].
#[inline]
pub fn heading_to_world(v: [f32; 3], yaw_rad: f32) -> [f32; 3] {
    let (s, c) = yaw_rad.sin_cos();
    [c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]]
}

pub fn wrap_angle(a: f32) -> f32 {
    let two_pi = std::f32::consts::TAU;
    let mut x = (a + std::f32::consts::PI) % two_pi;
    if x < 0.0 {
        x += two_pi;
    }
    x - std::f32::consts::PI
}

fn check_frame(frame: &PoseFrame) -> Result<(), FeatureError> {
    if !frame.valid[PELVIS] {
        return Err(FeatureError::PelvisInvalid {
            stamp_ns: frame.stamp_ns,
        });
    }
    for j in 0..NUM_JOINTS {
        if frame.valid[j] && frame.joints_in_world[j].iter().any(|x| !x.is_finite()) {
            return Err(FeatureError::NonFinite {
                stamp_ns: frame.stamp_ns,
                joint: j,
            });
        }
    }
    Ok(())
}

/// Features of `cur`, given the previous frame and its features (None at a stream start).
pub fn frame_features(
    cur: &PoseFrame,
    prev: Option<(&PoseFrame, &FrameFeatures)>,
) -> Result<FrameFeatures, FeatureError> {
    check_frame(cur)?;
    let prev_yaw = prev.map(|(_, f)| f.yaw_rad).unwrap_or(0.0);
    let yaw = heading_yaw(cur, prev_yaw);
    let pelvis = cur.joints_in_world[PELVIS];
    let mut feat = [0.0f32; FEAT_DIM];
    for j in 0..NUM_JOINTS {
        if cur.valid[j] {
            let p = cur.joints_in_world[j];
            let r = world_to_heading([p[0] - pelvis[0], p[1] - pelvis[1], p[2] - pelvis[2]], yaw);
            feat[j * 3..j * 3 + 3].copy_from_slice(&r);
            feat[CONT_DIM + j] = 1.0;
        }
    }
    let mut kin = [0.0f32; KIN_DIM];
    let mut kin_valid = [false; NUM_JOINTS];
    if let Some((pf, pfeat)) = prev {
        let fps = FPS as f32;
        let pp = pf.joints_in_world[PELVIS];
        let v = world_to_heading(
            [
                (pelvis[0] - pp[0]) * fps,
                (pelvis[1] - pp[1]) * fps,
                (pelvis[2] - pp[2]) * fps,
            ],
            yaw,
        );
        feat[POSE_DIM..POSE_DIM + 3].copy_from_slice(&v);
        feat[POSE_DIM + 3] = wrap_angle(yaw - pfeat.yaw_rad) * fps;
        for j in 0..NUM_JOINTS {
            if cur.valid[j] && pf.valid[j] {
                let a = cur.joints_in_world[j];
                let b = pf.joints_in_world[j];
                let d = world_to_heading([(a[0] - b[0]) * fps, (a[1] - b[1]) * fps, (a[2] - b[2]) * fps], yaw);
                kin[j * 3..j * 3 + 3].copy_from_slice(&d);
                kin_valid[j] = true;
            }
        }
    }
    Ok(FrameFeatures {
        feat,
        kin,
        kin_valid,
        yaw_rad: yaw,
    })
}

/// Features of a whole contiguous sequence (the first frame has no history).
pub fn sequence_features(frames: &[PoseFrame]) -> Result<Vec<FrameFeatures>, FeatureError> {
    let mut out: Vec<FrameFeatures> = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let prev = if i == 0 {
            None
        } else {
            Some((&frames[i - 1], &out[i - 1]))
        };
        let ff = frame_features(f, prev)?;
        out.push(ff);
    }
    Ok(out)
}

/// Left/right mirror image of a frame: swap joint sides and negate y (REP-103 left axis).
pub fn mirror_frame(frame: &PoseFrame) -> PoseFrame {
    let mut joints: Joints = [[0.0; 3]; NUM_JOINTS];
    let mut valid = [false; NUM_JOINTS];
    for j in 0..NUM_JOINTS {
        let m = SMPL24_MIRROR[j];
        let p = frame.joints_in_world[m];
        joints[j] = [p[0], -p[1], p[2]];
        valid[j] = frame.valid[m];
    }
    PoseFrame::new(frame.stamp_ns, joints, valid)
}

/// Rotate a frame about the vertical axis through the world origin.
pub fn rotate_frame(frame: &PoseFrame, yaw_rad: f32) -> PoseFrame {
    let mut out = *frame;
    for j in 0..NUM_JOINTS {
        out.joints_in_world[j] = heading_to_world(frame.joints_in_world[j], yaw_rad);
    }
    out
}

/// Normalization statistics, fitted on training data and stored in the artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormStats {
    /// Mean and standard deviation of each continuous feature (`CONT_DIM`).
    pub feat_mean: Vec<f32>,
    pub feat_std: Vec<f32>,
    /// Standard deviation of each joint-velocity component (`KIN_DIM`; mean taken as zero).
    pub kin_std: Vec<f32>,
    /// Standard deviation of the future displacement `p[t+h] - p[t]` in the heading frame,
    /// per step and axis (`horizon * 3`), used to scale the forecast head's output. With a
    /// velocity prior it is the spread of what the prior leaves (the head's residual), in
    /// reference-body metres.
    pub disp_std: Vec<f32>,
    /// Length (m) of the bone from each SMPL-24 joint to its parent in the training data
    /// (`NUM_JOINTS`; 0 where never observed). A person's body scale is measured against it.
    /// Empty in models without body-scale normalisation: their scale is 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ref_bone_m: Vec<f32>,
    /// The damped-velocity prior: displacement at each forecast step per unit of the
    /// joint's current velocity (seconds, `horizon` values), least-squares fitted on the
    /// (augmented) training data, so it shrinks where velocity does not carry on. The head
    /// forecasts a residual on top. Empty in models without a prior.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prior_gain_s: Vec<f32>,
    /// The calibrated decode (`model::prior`), least-squares fitted on the augmented
    /// training data. None: the damped-velocity prior on the newest velocity plus the
    /// whole residual, and the head's spread as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode: Option<DecodeCalibration>,
}

/// The bones observed in a frame: `(joint, length in m)` of each bone from an SMPL-24
/// joint to its parent where both are valid, from the pelvis-relative positions of `f`.
pub fn bone_lengths(f: &FrameFeatures) -> impl Iterator<Item = (usize, f32)> + '_ {
    SMPL24_PARENTS.iter().enumerate().filter_map(move |(j, parent)| {
        let p = (*parent)?;
        if f.feat[CONT_DIM + j] == 0.0 || f.feat[CONT_DIM + p] == 0.0 {
            return None;
        }
        let (a, b) = (&f.feat[j * 3..j * 3 + 3], &f.feat[p * 3..p * 3 + 3]);
        let len = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        len.is_finite().then_some((j, len))
    })
}

/// Bounds of a measured body scale: outside them the bone lengths describe no person.
pub const BODY_SCALE_RANGE: (f32, f32) = (0.4, 2.5);

impl NormStats {
    /// Identity statistics (used before fitting and in unit tests).
    pub fn identity(horizon: usize) -> Self {
        Self {
            feat_mean: vec![0.0; CONT_DIM],
            feat_std: vec![1.0; CONT_DIM],
            kin_std: vec![1.0; KIN_DIM],
            disp_std: vec![1.0; horizon * 3],
            ref_bone_m: Vec::new(),
            prior_gain_s: Vec::new(),
            decode: None,
        }
    }

    /// The body scale of the person in one frame: the median, over the bones observed in
    /// it (joint and parent valid), of their length against the training reference. 1
    /// without a reference or without an observed bone. Per frame and stateless, so the
    /// streaming engine and the offline model agree exactly; the median keeps a camera's
    /// per-joint jitter and a wrongly placed joint from moving it much.
    pub fn body_scale(&self, f: &FrameFeatures) -> f32 {
        if self.ref_bone_m.len() != NUM_JOINTS {
            return 1.0;
        }
        let mut ratios = [0.0f32; NUM_JOINTS];
        let mut n = 0;
        for (j, len) in bone_lengths(f) {
            let r = self.ref_bone_m[j];
            if r > 1e-3 {
                ratios[n] = len / r;
                n += 1;
            }
        }
        if n == 0 {
            return 1.0;
        }
        let v = &mut ratios[..n];
        v.sort_unstable_by(|a, b| a.total_cmp(b));
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        };
        median.clamp(BODY_SCALE_RANGE.0, BODY_SCALE_RANGE.1)
    }

    /// The prior's displacement (heading frame, m) of a joint moving at `vel` (heading
    /// frame, m/s) at forecast step `s`: the uncalibrated damped-velocity prior, on which
    /// the head's residual is trained.
    #[inline]
    pub fn prior_disp(&self, vel: &[f32], s: usize) -> [f32; 3] {
        let g = self.prior_gain_s.get(s).copied().unwrap_or(0.0);
        [g * vel[0], g * vel[1], g * vel[2]]
    }

    /// The regime of a person's recent kinematics (0 without a calibrated decode).
    #[inline]
    pub fn regime(&self, kin: &Kinematics) -> usize {
        self.decode.as_ref().map_or(0, |d| d.regime(kin))
    }

    /// The decode's coefficients at forecast step `s` in `regime`: the velocity gains
    /// (newest first) and the residual's. Without a calibrated decode: the damped-velocity
    /// prior on the newest velocity and the whole residual.
    #[inline]
    pub fn decode_terms(&self, regime: usize, s: usize) -> [f32; DECODE_TERMS] {
        let horizon = self.disp_std.len() / 3;
        if let Some(t) = self.decode.as_ref().and_then(|d| d.terms(regime, s, horizon)) {
            return t;
        }
        let mut t = [0.0; DECODE_TERMS];
        t[0] = self.prior_gain_s.get(s).copied().unwrap_or(0.0);
        t[DECODE_TERMS - 1] = 1.0;
        t
    }

    /// The factor on the head's spread at step `s` in `regime` (1 without calibration).
    #[inline]
    pub fn spread_gain(&self, regime: usize, s: usize) -> f32 {
        let horizon = self.disp_std.len() / 3;
        match &self.decode {
            Some(d) if s < horizon => d.spread_gain.get(regime * horizon + s).copied().unwrap_or(1.0),
            _ => 1.0,
        }
    }

    /// Joints in the world at forecast step `s`: `last` moved by the calibrated decode of
    /// the person's recent `kin`ematics (in `regime`, [`NormStats::regime`], worked out once
    /// per forecast) and the head's normalized residual `disp_norm` (`horizon * POSE_DIM`)
    /// at this body's `scale`, in the heading `yaw_rad` of the newest frame; each joint
    /// takes its `sources` joint's displacement. A joint without a velocity gets no
    /// velocity terms.
    #[allow(clippy::too_many_arguments)]
    pub fn decode_forecast_step(
        &self,
        last: &Joints,
        sources: &[usize; NUM_JOINTS],
        disp_norm: &[f32],
        s: usize,
        kin: &Kinematics,
        regime: usize,
        yaw_rad: f32,
        scale: f32,
    ) -> Joints {
        let terms = self.decode_terms(regime, s);
        self.decode_with(
            last,
            sources,
            disp_norm,
            s,
            yaw_rad,
            scale * terms[DECODE_TERMS - 1],
            |src| kin.prior_disp(src, &terms),
        )
    }

    /// `last` moved, per joint, by `prior(source)` plus the head's residual times
    /// `residual_gain` (the body scale, times the decode's residual gain), both in the
    /// heading frame `yaw_rad`.
    #[allow(clippy::too_many_arguments)]
    fn decode_with(
        &self,
        last: &Joints,
        sources: &[usize; NUM_JOINTS],
        disp_norm: &[f32],
        s: usize,
        yaw_rad: f32,
        residual_gain: f32,
        prior: impl Fn(usize) -> [f32; 3],
    ) -> Joints {
        let std = &self.disp_std[s * 3..s * 3 + 3];
        let mut joints = *last;
        for (p, &src) in joints.iter_mut().zip(sources) {
            let o = s * POSE_DIM + src * 3;
            let q = prior(src);
            let dw = heading_to_world(
                [
                    q[0] + disp_norm[o] * std[0] * residual_gain,
                    q[1] + disp_norm[o + 1] * std[1] * residual_gain,
                    q[2] + disp_norm[o + 2] * std[2] * residual_gain,
                ],
                yaw_rad,
            );
            *p = [p[0] + dw[0], p[1] + dw[1], p[2] + dw[2]];
        }
        joints
    }

    /// Joints the training data had. A joint never valid in training has no statistics (its
    /// standard deviations sit at the 1e-3 floor); fed to the model it would be normalised
    /// into values hundreds of units large. Another rig may well have it (hands, when
    /// fingers are mapped), so the model treats it as missing, as it was in training.
    /// The pelvis always counts: positions are pelvis-relative, so its own are zero by
    /// construction.
    pub fn trained_joints(&self) -> [bool; NUM_JOINTS] {
        std::array::from_fn(|j| {
            j == PELVIS
                || (0..3).any(|c| {
                    let i = j * 3 + c;
                    self.feat_std.get(i).is_some_and(|s| *s > 1.5e-3)
                        || self.feat_mean.get(i).is_some_and(|m| *m != 0.0)
                })
        })
    }

    /// The joint whose forecast each joint follows: itself when trained, else its nearest
    /// trained ancestor (a hand moves with its wrist): an untrained joint's own head
    /// output was never fitted.
    pub fn forecast_sources(&self) -> [usize; NUM_JOINTS] {
        let trained = self.trained_joints();
        std::array::from_fn(|j| {
            let mut k = j;
            while !trained[k] {
                match SMPL24_PARENTS[k] {
                    Some(p) => k = p,
                    None => break,
                }
            }
            k
        })
    }

    /// Joints in the world at step `s`: `last` moved by the head's normalized
    /// displacements `disp_norm` (`horizon * POSE_DIM`, heading frame `yaw_rad`), each
    /// joint taking its `sources` joint's displacement. No prior, body scale 1: the
    /// interpolation head's decoding.
    pub fn decode_step(
        &self,
        last: &Joints,
        sources: &[usize; NUM_JOINTS],
        disp_norm: &[f32],
        s: usize,
        yaw_rad: f32,
    ) -> Joints {
        self.decode_with(last, sources, disp_norm, s, yaw_rad, 1.0, |_| [0.0; 3])
    }

    /// Normalized model input of one frame (`FEAT_DIM`): invalid joints, and joints the
    /// model was not trained on, are zero and flagged by their validity bit, never silently
    /// zero.
    pub fn normalize_feat(&self, f: &FrameFeatures, out: &mut [f32]) {
        self.normalize_feat_with(f, &self.trained_joints(), out)
    }

    /// [`NormStats::normalize_feat`] with [`NormStats::trained_joints`] computed once by
    /// the caller (the streaming engine, per frame).
    pub fn normalize_feat_with(&self, f: &FrameFeatures, trained: &[bool; NUM_JOINTS], out: &mut [f32]) {
        // Positions and the root's linear velocity are in body lengths; the yaw rate is not.
        let inv = 1.0 / self.body_scale(f);
        for (i, o) in out.iter_mut().enumerate().take(CONT_DIM) {
            let x = if i < POSE_DIM + 3 { f.feat[i] * inv } else { f.feat[i] };
            *o = (x - self.feat_mean[i]) / self.feat_std[i];
        }
        for j in 0..NUM_JOINTS {
            let valid = f.feat[CONT_DIM + j] != 0.0 && trained[j];
            if !valid {
                out[j * 3..j * 3 + 3].fill(0.0);
            }
            out[CONT_DIM + j] = if valid { 1.0 } else { 0.0 };
        }
    }

    pub fn normalize_kin(&self, f: &FrameFeatures, out: &mut [f32]) {
        self.normalize_kin_with(f, &self.trained_joints(), out)
    }

    pub fn normalize_kin_with(&self, f: &FrameFeatures, trained: &[bool; NUM_JOINTS], out: &mut [f32]) {
        let inv = 1.0 / self.body_scale(f);
        for (i, o) in out.iter_mut().enumerate().take(KIN_DIM) {
            *o = if f.kin_valid[i / 3] && trained[i / 3] {
                f.kin[i] * inv / self.kin_std[i]
            } else {
                0.0
            };
        }
    }

    /// Check the dimensions of statistics read from a file.
    pub fn check_dims(&self, horizon: usize) -> Result<(), String> {
        let checks = [
            ("feat_mean", self.feat_mean.len(), CONT_DIM),
            ("feat_std", self.feat_std.len(), CONT_DIM),
            ("kin_std", self.kin_std.len(), KIN_DIM),
            ("disp_std", self.disp_std.len(), horizon * 3),
        ];
        for (name, got, want) in checks {
            if got != want {
                return Err(format!("norm.{name} has {got} values, expected {want}"));
            }
        }
        for (name, got, want) in [
            ("ref_bone_m", self.ref_bone_m.len(), NUM_JOINTS),
            ("prior_gain_s", self.prior_gain_s.len(), horizon),
        ] {
            if got != 0 && got != want {
                return Err(format!("norm.{name} has {got} values, expected {want} (or none)"));
            }
        }
        if self
            .ref_bone_m
            .iter()
            .chain(&self.prior_gain_s)
            .any(|v| !v.is_finite() || *v < 0.0)
        {
            return Err("norm.ref_bone_m or norm.prior_gain_s holds a negative or non-finite value".into());
        }
        if let Some(d) = &self.decode {
            d.check(horizon)?;
        }
        let all = self.feat_std.iter().chain(&self.kin_std).chain(&self.disp_std);
        if all.clone().any(|s| !(s.is_finite() && *s > 0.0)) || self.feat_mean.iter().any(|m| !m.is_finite()) {
            return Err("norm statistics contain a non-finite or non-positive scale".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn standing(yaw: f32, x: f32) -> PoseFrame {
        let mut j: Joints = [[0.0; 3]; NUM_JOINTS];
        for (k, p) in j.iter_mut().enumerate() {
            *p = [0.01 * k as f32, 0.02 * (k % 5) as f32, 0.9 + 0.03 * k as f32];
        }
        j[LEFT_HIP] = [0.0, 0.1, 0.9];
        j[RIGHT_HIP] = [0.0, -0.1, 0.9];
        j[PELVIS] = [0.0, 0.0, 0.9];
        let f = PoseFrame::new(0, j, [true; NUM_JOINTS]);
        let mut f = rotate_frame(&f, yaw);
        for p in f.joints_in_world.iter_mut() {
            p[0] += x;
        }
        f
    }

    #[test]
    fn heading_of_a_body_facing_x_is_zero_and_follows_rotation() {
        let f = standing(0.0, 0.0);
        assert!(heading_yaw(&f, 9.0).abs() < 1e-6);
        let r = rotate_frame(&f, 0.7);
        assert!((heading_yaw(&r, 9.0) - 0.7).abs() < 1e-5);
    }

    #[test]
    fn features_are_invariant_to_rotation_about_z() {
        let a = [standing(0.0, 0.0), standing(0.1, 0.05)];
        let b: Vec<_> = a.iter().map(|f| rotate_frame(f, 1.3)).collect();
        let fa = sequence_features(&a).unwrap();
        let fb = sequence_features(&b).unwrap();
        for (x, y) in fa[1].feat.iter().zip(fb[1].feat.iter()) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
        for (x, y) in fa[1].kin.iter().zip(fb[1].kin.iter()) {
            assert!((x - y).abs() < 1e-3, "{x} vs {y}");
        }
    }

    #[test]
    fn invalid_pelvis_and_nan_are_errors() {
        let mut f = standing(0.0, 0.0);
        f.joints_in_world[5][1] = f32::NAN;
        assert_eq!(
            frame_features(&f, None),
            Err(FeatureError::NonFinite { stamp_ns: 0, joint: 5 })
        );
        f.valid[5] = false;
        assert!(frame_features(&f, None).is_ok());
        f.valid[0] = false;
        assert_eq!(
            frame_features(&f, None),
            Err(FeatureError::PelvisInvalid { stamp_ns: 0 })
        );
    }

    #[test]
    fn mirror_is_an_involution() {
        let f = standing(0.4, 0.2);
        assert_eq!(mirror_frame(&mirror_frame(&f)), f);
    }
}
