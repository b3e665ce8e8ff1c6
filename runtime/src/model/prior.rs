//! What the forecast is decoded from besides the head's residual: the joints' recent
//! velocities and the motion regime they put the person in.
//!
//! The head's residual is learned on motion at ordinary speeds with a clean skeleton. Near
//! stillness it adds centimetres where holding the pose is right, and under camera jitter
//! the last frame-to-frame velocity is mostly noise. Neither is a question for the network:
//! both are visible in the last few velocities. So the decode is calibrated per *regime*
//! (observed speed × roughness, the velocities' frame-to-frame change against their size):
//! in each regime and forecast step, the displacement is a least-squares combination of
//! the last [`PRIOR_FRAMES`] velocities and the head's residual, fitted on the augmented
//! training data. In a smooth regime at ordinary speed it is the damped-velocity prior plus
//! the residual; near stillness the residual shrinks; under jitter the velocities are
//! averaged and the anchor pulled back towards the recent frames.
//!
//! This module and `features` use each other on purpose: the normalisation (`NormStats`,
//! there) carries this calibration, and the kinematics here are read from its frames.

use serde::{Deserialize, Serialize};

use crate::pose::NUM_JOINTS;

use super::features::{FrameFeatures, heading_to_world, world_to_heading};

/// Frames whose velocities the decode combines (newest first).
pub const PRIOR_FRAMES: usize = 4;
/// Terms of the decode per regime and step: the [`PRIOR_FRAMES`] velocities and the residual.
pub const DECODE_TERMS: usize = PRIOR_FRAMES + 1;
/// Most bands per regime axis an artifact may declare.
pub const MAX_BANDS: usize = 16;
/// Speed (m/s) below which roughness is measured against this floor instead: a still
/// person's mocap noise is not jitter.
const SPEED_FLOOR_MPS: f32 = 0.05;

/// The joints' recent velocities in the newest frame's heading, and the regime.
#[derive(Clone, Debug, PartialEq)]
pub struct Kinematics {
    /// `[frame][joint]`, newest first, m/s. A frame where a joint's velocity is unknown
    /// repeats the newer frame's, so a dropped joint does not read as a stop.
    pub vel: [[[f32; 3]; NUM_JOINTS]; PRIOR_FRAMES],
    /// Joints with a velocity in the newest frame; the others get no prior.
    pub moving: [bool; NUM_JOINTS],
    /// RMS joint speed over the observed frames, at the reference body (m/s).
    pub speed_mps: f32,
    /// RMS frame-to-frame change of the velocities against the speed.
    pub roughness: f32,
}

/// The calibrated decode of a model: its regimes (bands of speed × roughness, placed at
/// quantiles of the training windows) and, per regime and forecast step, the gains of
/// the recent velocities (s) and of the head's residual, and the spread's factor (the
/// spread then equals the calibrated decode's mean joint error on the training data).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodeCalibration {
    /// Upper edges of the speed bands (reference-body m/s), increasing.
    pub speed_edges_mps: Vec<f32>,
    /// Upper edges of the roughness bands, increasing.
    pub roughness_edges: Vec<f32>,
    /// `regimes * horizon * DECODE_TERMS`: velocity gains (newest first), residual gain.
    pub gain: Vec<f32>,
    /// `regimes * horizon`.
    pub spread_gain: Vec<f32>,
}

impl DecodeCalibration {
    pub fn regimes(&self) -> usize {
        (self.speed_edges_mps.len() + 1) * (self.roughness_edges.len() + 1)
    }

    /// The regime of a person's recent kinematics.
    pub fn regime(&self, kin: &Kinematics) -> usize {
        let band = |x: f32, edges: &[f32]| edges.iter().take_while(|e| x >= **e).count();
        band(kin.speed_mps, &self.speed_edges_mps) * (self.roughness_edges.len() + 1)
            + band(kin.roughness, &self.roughness_edges)
    }

    /// The gains at step `s` of `regime`, if calibrated there.
    pub fn terms(&self, regime: usize, s: usize, horizon: usize) -> Option<[f32; DECODE_TERMS]> {
        if s >= horizon {
            return None;
        }
        let i = (regime * horizon + s) * DECODE_TERMS;
        let g = self.gain.get(i..i + DECODE_TERMS)?;
        Some(std::array::from_fn(|k| g[k]))
    }

    /// Check what was read from a file against the model's horizon.
    pub fn check(&self, horizon: usize) -> Result<(), String> {
        for (name, edges) in [
            ("speed_edges_mps", &self.speed_edges_mps),
            ("roughness_edges", &self.roughness_edges),
        ] {
            if edges.len() + 1 > MAX_BANDS
                || edges.iter().any(|e| !e.is_finite() || *e < 0.0)
                || edges.windows(2).any(|w| w[0] > w[1])
            {
                return Err(format!(
                    "norm.decode.{name}: at most {} finite, non-negative, increasing edges",
                    MAX_BANDS - 1
                ));
            }
        }
        let r = self.regimes();
        if self.gain.len() != r * horizon * DECODE_TERMS || self.spread_gain.len() != r * horizon {
            return Err(format!(
                "norm.decode holds {} gains and {} spread factors, expected {} and {} for {r} regimes",
                self.gain.len(),
                self.spread_gain.len(),
                r * horizon * DECODE_TERMS,
                r * horizon
            ));
        }
        if self.gain.iter().any(|v| !v.is_finite()) || self.spread_gain.iter().any(|v| !v.is_finite() || *v <= 0.0) {
            return Err("norm.decode holds a non-finite gain or a non-positive spread factor".into());
        }
        Ok(())
    }
}

impl Kinematics {
    /// From the newest frames' features (`recent[0]` newest; up to [`PRIOR_FRAMES`] used)
    /// of a person at body `scale`. Without frames: no velocities, the stillest regime.
    pub fn observe<'a>(recent: impl IntoIterator<Item = &'a FrameFeatures>, scale: f32) -> Self {
        let mut vel = [[[0.0f32; 3]; NUM_JOINTS]; PRIOR_FRAMES];
        let mut known = [[false; NUM_JOINTS]; PRIOR_FRAMES];
        let mut frames = 0;
        let mut yaw_now = 0.0;
        for (i, f) in recent.into_iter().take(PRIOR_FRAMES).enumerate() {
            if i == 0 {
                yaw_now = f.yaw_rad;
            }
            for j in 0..NUM_JOINTS {
                if f.kin_valid[j] {
                    let k = &f.kin[j * 3..j * 3 + 3];
                    vel[i][j] = world_to_heading(heading_to_world([k[0], k[1], k[2]], f.yaw_rad), yaw_now);
                    known[i][j] = true;
                }
            }
            frames = i + 1;
        }
        let moving = known[0];
        let (mut speed_sq, mut speed_n) = (0.0f32, 0usize);
        let (mut change_sq, mut change_n) = (0.0f32, 0usize);
        for i in 0..frames {
            for j in 0..NUM_JOINTS {
                if known[i][j] {
                    speed_sq += norm_sq(vel[i][j]);
                    speed_n += 1;
                    if i + 1 < frames && known[i + 1][j] {
                        let (a, b) = (vel[i][j], vel[i + 1][j]);
                        change_sq += norm_sq([a[0] - b[0], a[1] - b[1], a[2] - b[2]]);
                        change_n += 1;
                    }
                }
            }
        }
        // Fill unknown velocities from the newer frame (after the statistics, which count
        // only what was seen).
        for i in 1..PRIOR_FRAMES {
            for j in 0..NUM_JOINTS {
                if !(known[i][j] && i < frames) {
                    vel[i][j] = vel[i - 1][j];
                }
            }
        }
        let inv = 1.0 / scale.max(1e-3);
        let speed_mps = if speed_n > 0 {
            (speed_sq / speed_n as f32).sqrt() * inv
        } else {
            0.0
        };
        let change = if change_n > 0 {
            (change_sq / change_n as f32).sqrt() * inv
        } else {
            0.0
        };
        let roughness = change / speed_mps.max(SPEED_FLOOR_MPS);
        Self {
            vel,
            moving,
            speed_mps,
            roughness,
        }
    }

    /// The velocity terms of joint `j`'s displacement at one step, given the step's
    /// coefficients (heading frame, m).
    #[inline]
    pub fn prior_disp(&self, j: usize, terms: &[f32; DECODE_TERMS]) -> [f32; 3] {
        if !self.moving[j] {
            return [0.0; 3];
        }
        let mut d = [0.0f32; 3];
        for (i, g) in terms[..PRIOR_FRAMES].iter().enumerate() {
            let v = self.vel[i][j];
            d[0] += g * v[0];
            d[1] += g * v[1];
            d[2] += g * v[2];
        }
        d
    }
}

#[inline]
fn norm_sq(v: [f32; 3]) -> f32 {
    v[0] * v[0] + v[1] * v[1] + v[2] * v[2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::features::{FEAT_DIM, KIN_DIM};

    fn frame(vel: [f32; 3], yaw_rad: f32) -> FrameFeatures {
        let mut kin = [0.0f32; KIN_DIM];
        for j in 0..NUM_JOINTS {
            kin[j * 3..j * 3 + 3].copy_from_slice(&vel);
        }
        FrameFeatures {
            feat: [0.0; FEAT_DIM],
            kin,
            kin_valid: [true; NUM_JOINTS],
            yaw_rad,
        }
    }

    #[test]
    fn older_velocities_are_turned_into_the_newest_heading() {
        let quarter = std::f32::consts::FRAC_PI_2;
        // The same world velocity (+x world) seen in two headings.
        let newest = frame([1.0, 0.0, 0.0], 0.0);
        let older = frame([0.0, -1.0, 0.0], quarter);
        let k = Kinematics::observe([&newest, &older], 1.0);
        for c in 0..3 {
            assert!((k.vel[1][5][c] - k.vel[0][5][c]).abs() < 1e-6, "{:?}", k.vel[1][5]);
        }
        assert!(k.roughness < 1e-5);
    }

    #[test]
    fn regimes_separate_stillness_steady_motion_and_jitter() {
        let still = [frame([0.01, 0.0, 0.0], 0.0), frame([0.0, 0.01, 0.0], 0.0)];
        let steady: Vec<_> = (0..4).map(|_| frame([1.0, 0.0, 0.0], 0.0)).collect();
        let jitter: Vec<_> = (0..4)
            .map(|i| frame([if i % 2 == 0 { 1.0 } else { -1.0 }, 0.0, 0.0], 0.0))
            .collect();
        let s = Kinematics::observe(still.iter(), 1.0);
        let m = Kinematics::observe(steady.iter(), 1.0);
        let j = Kinematics::observe(jitter.iter(), 1.0);
        assert!((m.speed_mps - 1.0).abs() < 1e-6 && m.roughness < 1e-6);
        assert!(j.roughness > 1.5, "{}", j.roughness);
        let cal = DecodeCalibration {
            speed_edges_mps: vec![0.05, 0.5],
            roughness_edges: vec![0.3, 1.2],
            gain: Vec::new(),
            spread_gain: Vec::new(),
        };
        assert_eq!(cal.regimes(), 9);
        assert_eq!(cal.regime(&s), 0, "{s:?}");
        assert_eq!(cal.regime(&m), 6);
        assert_eq!(cal.regime(&j), 8);
        // A bigger body moving the same way reads as slower.
        assert!((Kinematics::observe(steady.iter(), 2.0).speed_mps - 0.5).abs() < 1e-6);
        // What an artifact declares is checked.
        assert!(cal.check(30).is_err());
        let ok = DecodeCalibration {
            gain: vec![0.0; 9 * 30 * DECODE_TERMS],
            spread_gain: vec![1.0; 9 * 30],
            ..cal.clone()
        };
        assert_eq!(ok.check(30), Ok(()));
        assert_eq!(ok.terms(8, 29, 30), Some([0.0; DECODE_TERMS]));
        assert_eq!(ok.terms(9, 0, 30), None);
        let unsorted = DecodeCalibration {
            speed_edges_mps: vec![0.5, 0.05],
            ..ok.clone()
        };
        assert!(unsorted.check(30).is_err());
        let nan = DecodeCalibration {
            spread_gain: vec![f32::NAN; 9 * 30],
            ..ok
        };
        assert!(nan.check(30).is_err());
    }

    #[test]
    fn a_joint_unseen_in_an_older_frame_repeats_the_newer_velocity() {
        let newest = frame([1.0, 0.0, 0.0], 0.0);
        let mut older = frame([3.0, 0.0, 0.0], 0.0);
        older.kin_valid[7] = false;
        let k = Kinematics::observe([&newest, &older], 1.0);
        assert_eq!(k.vel[1][7], [1.0, 0.0, 0.0]);
        assert_eq!(k.vel[1][6], [3.0, 0.0, 0.0]);
        // Frames never observed repeat the oldest observed one.
        assert_eq!(k.vel[3][6], [3.0, 0.0, 0.0]);
        let mut unseen = frame([1.0, 0.0, 0.0], 0.0);
        unseen.kin_valid[2] = false;
        let k = Kinematics::observe([&unseen], 1.0);
        assert!(!k.moving[2] && k.moving[3]);
        assert_eq!(k.prior_disp(2, &[1.0; DECODE_TERMS]), [0.0; 3]);
        assert_eq!(k.prior_disp(3, &[0.1, 0.0, 0.0, 0.0, 1.0]), [0.1, 0.0, 0.0]);
    }
}
