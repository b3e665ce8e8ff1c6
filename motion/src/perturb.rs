//! The perturbation suite: conditions a deployed model meets that its training takes do
//! not show, each built from a real recording.
//!
//! Every condition yields two streams of equal length at the model rate: what the model
//! observes, and the truth it is scored against. They differ only for sensor effects
//! (camera jitter, dropped joints), where the person did not move the way the camera says;
//! for body, speed, rate, mirror and rig conditions the recording itself changes.

use a4mer_runtime::model::features::mirror_frame;
use a4mer_runtime::skeleton::SMPL24_PARENTS;
use a4mer_runtime::{FPS, Joints, NUM_JOINTS, PoseFrame, frame_period_ns};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::resample::resample_to_model_rate;

/// SMPL-24 joint sets a rig may lack.
const HEAD_HANDS_FEET_SPINE2: [usize; 6] = [15, 22, 23, 10, 11, 6];
const LEGS_AND_PELVIS: [usize; 9] = [0, 1, 2, 4, 5, 7, 8, 10, 11];
const UPPER_BODY: [usize; 16] = [0, 3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];

/// Which joints a rig delivers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RigSet {
    NoHeadHandsFeetSpine2,
    LegsAndPelvis,
    UpperBody,
}

impl RigSet {
    pub fn keeps(&self, joint: usize) -> bool {
        match self {
            RigSet::NoHeadHandsFeetSpine2 => !HEAD_HANDS_FEET_SPINE2.contains(&joint),
            RigSet::LegsAndPelvis => LEGS_AND_PELVIS.contains(&joint),
            RigSet::UpperBody => UPPER_BODY.contains(&joint),
        }
    }

    /// The recording as this rig delivers it: the joints it lacks are invalid.
    pub fn restrict(&self, frames: &[PoseFrame]) -> Vec<PoseFrame> {
        frames
            .iter()
            .map(|f| {
                let mut g = *f;
                for j in 0..NUM_JOINTS {
                    g.valid[j] &= self.keeps(j);
                }
                g
            })
            .collect()
    }
}

/// One condition of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Perturbation {
    AsRecorded,
    /// The skeleton retargeted to `factor` times its size: bones and strides scale, about
    /// the ground point under the first pelvis, so the feet stay on the ground.
    BodyScale {
        factor: f32,
    },
    /// Time-warped: the same motion performed `factor` times as fast.
    Speed {
        factor: f32,
    },
    /// Delivered by a source at `hz`, then brought to the model rate as the importer and
    /// the engine's conditioner do (linear interpolation).
    SourceRate {
        hz: u32,
    },
    Mirror,
    Rig {
        set: RigSet,
    },
    /// Per-joint, per-frame Gaussian noise of `sigma_m` on each axis of what is observed.
    Jitter {
        sigma_m: f32,
    },
    /// Each joint but the pelvis missing from a frame with probability `p`, independently.
    DroppedJoints {
        p: f32,
    },
}

impl Perturbation {
    /// The standard suite `a4mer eval --perturb` and `a4mer quantize` report.
    pub fn suite() -> Vec<Perturbation> {
        use Perturbation::*;
        vec![
            AsRecorded,
            BodyScale { factor: 0.6 },
            BodyScale { factor: 0.8 },
            BodyScale { factor: 1.25 },
            Speed { factor: 0.25 },
            Speed { factor: 0.5 },
            Speed { factor: 1.5 },
            Speed { factor: 2.0 },
            SourceRate { hz: 24 },
            SourceRate { hz: 60 },
            Mirror,
            Rig {
                set: RigSet::NoHeadHandsFeetSpine2,
            },
            Rig {
                set: RigSet::LegsAndPelvis,
            },
            Rig { set: RigSet::UpperBody },
            Jitter { sigma_m: 0.01 },
            Jitter { sigma_m: 0.03 },
            DroppedJoints { p: 0.05 },
        ]
    }

    /// A short stable name for tables and JSON.
    pub fn name(&self) -> String {
        match self {
            Perturbation::AsRecorded => "as_recorded".into(),
            Perturbation::BodyScale { factor } => format!("body_scale_{factor}x"),
            Perturbation::Speed { factor } => format!("speed_{factor}x"),
            Perturbation::SourceRate { hz } => format!("source_rate_{hz}hz"),
            Perturbation::Mirror => "mirrored".into(),
            Perturbation::Rig { set } => match set {
                RigSet::NoHeadHandsFeetSpine2 => "rig_no_head_hands_feet_spine2".into(),
                RigSet::LegsAndPelvis => "rig_legs_and_pelvis".into(),
                RigSet::UpperBody => "rig_upper_body".into(),
            },
            Perturbation::Jitter { sigma_m } => format!("jitter_{}cm", sigma_m * 100.0),
            Perturbation::DroppedJoints { p } => format!("dropped_joints_{}pct", p * 100.0),
        }
    }

    /// Apply to a recording at the model rate. `seed` fixes the noise, so a condition is
    /// the same on every run.
    pub fn apply(&self, frames: &[PoseFrame], seed: u64) -> Perturbed {
        let same = |observed: Vec<PoseFrame>| Perturbed {
            truth: observed.clone(),
            observed,
        };
        match *self {
            Perturbation::AsRecorded => same(frames.to_vec()),
            Perturbation::BodyScale { factor } => same(body_scale(frames, factor)),
            Perturbation::Speed { factor } => same(change_speed(frames, factor)),
            Perturbation::SourceRate { hz } => same(source_rate(frames, hz)),
            Perturbation::Mirror => same(frames.iter().map(mirror_frame).collect()),
            Perturbation::Rig { set } => same(set.restrict(frames)),
            Perturbation::Jitter { sigma_m } => Perturbed {
                observed: jitter(frames, sigma_m, seed),
                truth: frames.to_vec(),
            },
            Perturbation::DroppedJoints { p } => Perturbed {
                observed: drop_joints(frames, p, seed),
                truth: frames.to_vec(),
            },
        }
    }
}

/// What the model sees and what it is scored against, frame for frame.
pub struct Perturbed {
    pub observed: Vec<PoseFrame>,
    pub truth: Vec<PoseFrame>,
}

/// Lowest valid joint height over a recording: the ground it stands on.
fn ground_z(frames: &[PoseFrame]) -> f32 {
    let z = frames
        .iter()
        .flat_map(|f| {
            (0..NUM_JOINTS)
                .filter(|&j| f.valid[j])
                .map(move |j| f.joints_in_world[j][2])
        })
        .filter(|z| z.is_finite())
        .fold(f32::INFINITY, f32::min);
    if z.is_finite() { z } else { 0.0 }
}

/// Retarget a recording to a body `factor` times as large (see [`Perturbation::BodyScale`]).
pub fn body_scale(frames: &[PoseFrame], factor: f32) -> Vec<PoseFrame> {
    let Some(first) = frames.first() else {
        return Vec::new();
    };
    let anchor = [
        first.joints_in_world[0][0],
        first.joints_in_world[0][1],
        ground_z(frames),
    ];
    frames
        .iter()
        .map(|f| {
            let mut g = *f;
            for p in g.joints_in_world.iter_mut() {
                for c in 0..3 {
                    p[c] = anchor[c] + factor * (p[c] - anchor[c]);
                }
            }
            g
        })
        .collect()
}

/// Retarget a recording to a body whose every bone is `factor[j]` times as long (the bone
/// from joint `j`'s parent to `j`; the pelvis entry is unused): people differ in proportions,
/// not only in size. Each frame is rebuilt from the pelvis down, so a joint moves with every
/// bone above it. A joint whose parent is not seen keeps its displacement from the nearest
/// seen ancestor, moved with that ancestor.
pub fn bone_lengths(frames: &[PoseFrame], factor: &[f32; NUM_JOINTS]) -> Vec<PoseFrame> {
    frames
        .iter()
        .map(|f| {
            let mut g = *f;
            // Where each joint moved to (its shift), for the joints below it.
            let mut shift = [[0.0f32; 3]; NUM_JOINTS];
            for j in 1..NUM_JOINTS {
                let Some(parent) = SMPL24_PARENTS[j] else { continue };
                let p = f.joints_in_world[j];
                let q = f.joints_in_world[parent];
                let scaled = f.valid[j] && f.valid[parent] && factor[j].is_finite() && factor[j] > 0.0;
                shift[j] = std::array::from_fn(|c| {
                    if scaled {
                        shift[parent][c] + (factor[j] - 1.0) * (p[c] - q[c])
                    } else {
                        shift[parent][c]
                    }
                });
                if f.valid[j] {
                    g.joints_in_world[j] = std::array::from_fn(|c| p[c] + shift[j][c]);
                }
            }
            g
        })
        .collect()
}

/// Linear-interpolation time warp to `speed` times the original speed, restamped at the
/// model rate.
pub fn change_speed(frames: &[PoseFrame], speed: f32) -> Vec<PoseFrame> {
    if frames.len() < 2 || !(speed.is_finite() && speed > 0.0) {
        return frames.to_vec();
    }
    let n_out = (((frames.len() - 1) as f32) / speed).floor() as usize + 1;
    (0..n_out)
        .map(|i| {
            let src = i as f32 * speed;
            let k = (src.floor() as usize).min(frames.len() - 2);
            let a = src - k as f32;
            let (f0, f1) = (&frames[k], &frames[k + 1]);
            let j: Joints = std::array::from_fn(|q| {
                std::array::from_fn(|c| f0.joints_in_world[q][c] * (1.0 - a) + f1.joints_in_world[q][c] * a)
            });
            let valid = std::array::from_fn(|q| f0.valid[q] && f1.valid[q]);
            PoseFrame::new(frame_period_ns(i as u64), j, valid)
        })
        .collect()
}

/// The recording as a `hz` source would deliver it, brought back to the model rate.
pub fn source_rate(frames: &[PoseFrame], hz: u32) -> Vec<PoseFrame> {
    if hz == 0 || frames.len() < 2 {
        return frames.to_vec();
    }
    let model_hz = FPS as f64;
    let duration_s = (frames.len() - 1) as f64 / model_hz;
    let n = (duration_s * hz as f64).floor() as usize + 1;
    let at_rate: Vec<(Joints, [bool; NUM_JOINTS])> = (0..n)
        .map(|k| {
            let x = k as f64 / hz as f64 * model_hz;
            let i = (x.floor() as usize).min(frames.len() - 1);
            let w = (x - i as f64) as f32;
            let a = &frames[i];
            match frames.get(i + 1).filter(|_| w > 1e-6) {
                Some(b) => (
                    std::array::from_fn(|j| {
                        std::array::from_fn(|c| {
                            a.joints_in_world[j][c] + w * (b.joints_in_world[j][c] - a.joints_in_world[j][c])
                        })
                    }),
                    std::array::from_fn(|j| a.valid[j] && b.valid[j]),
                ),
                None => (a.joints_in_world, a.valid),
            }
        })
        .collect();
    resample_to_model_rate(&at_rate, hz as f64)
}

/// Per-joint Gaussian noise on every valid joint of every frame.
pub fn jitter(frames: &[PoseFrame], sigma_m: f32, seed: u64) -> Vec<PoseFrame> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sigma_m = if sigma_m.is_finite() { sigma_m.max(0.0) } else { 0.0 };
    frames
        .iter()
        .map(|f| {
            let mut g = *f;
            for j in 0..NUM_JOINTS {
                if g.valid[j] {
                    for c in 0..3 {
                        g.joints_in_world[j][c] += sigma_m * standard_normal(&mut rng);
                    }
                }
            }
            g
        })
        .collect()
}

/// One standard normal draw (Box-Muller).
pub fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Joints other than the pelvis missing per frame with probability `p`; a missing joint's
/// coordinates are NaN, as a camera SDK reports them, so any code that reads an invalid
/// joint shows it.
pub fn drop_joints(frames: &[PoseFrame], p: f32, seed: u64) -> Vec<PoseFrame> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    frames
        .iter()
        .map(|f| {
            let mut g = *f;
            for j in 1..NUM_JOINTS {
                if rng.random::<f32>() < p {
                    g.valid[j] = false;
                    g.joints_in_world[j] = [f32::NAN; 3];
                }
            }
            g
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(n: usize) -> Vec<PoseFrame> {
        (0..n)
            .map(|k| {
                let x = k as f32 * 0.04;
                let mut j: Joints = [[0.0; 3]; NUM_JOINTS];
                for (q, p) in j.iter_mut().enumerate() {
                    *p = [x + 0.01 * q as f32, 0.02 * (q % 3) as f32, 0.05 + 0.07 * q as f32];
                }
                j[0] = [x, 0.0, 0.9];
                PoseFrame::new(frame_period_ns(k as u64), j, [true; NUM_JOINTS])
            })
            .collect()
    }

    #[test]
    fn bone_lengths_scale_each_bone_alone_and_keep_the_pelvis() {
        let f = walk(5);
        let len = |g: &PoseFrame, j: usize| {
            let (p, q) = (g.joints_in_world[j], g.joints_in_world[SMPL24_PARENTS[j].unwrap()]);
            (0..3).map(|c| (p[c] - q[c]).powi(2)).sum::<f32>().sqrt()
        };
        let factor: [f32; NUM_JOINTS] = std::array::from_fn(|j| 0.8 + 0.02 * j as f32);
        let g = bone_lengths(&f, &factor);
        for (a, b) in f.iter().zip(&g) {
            assert_eq!(a.joints_in_world[0], b.joints_in_world[0], "the pelvis stays");
            for (j, k) in factor.iter().enumerate().skip(1) {
                let want = k * len(a, j);
                assert!((len(b, j) - want).abs() < 1e-4, "joint {j}: {} vs {want}", len(b, j));
            }
        }
        assert_eq!(bone_lengths(&f, &[1.0; NUM_JOINTS]), f);
        // The left knee not seen: the ankle keeps its place relative to the hip, moved with it.
        let mut h = f.clone();
        h[0].valid[4] = false;
        let g = bone_lengths(&h, &factor);
        let moved =
            |j: usize| -> [f32; 3] { std::array::from_fn(|c| g[0].joints_in_world[j][c] - h[0].joints_in_world[j][c]) };
        let (ankle, hip) = (moved(7), moved(1));
        assert!((0..3).all(|c| (ankle[c] - hip[c]).abs() < 1e-5), "{ankle:?} {hip:?}");
        assert!(hip.iter().any(|d| d.abs() > 1e-3), "the hip did move: {hip:?}");
    }

    #[test]
    fn body_scale_scales_bones_and_strides_and_keeps_the_ground() {
        let f = walk(30);
        let s = body_scale(&f, 0.5);
        let bone = |g: &PoseFrame| {
            let (a, b) = (g.joints_in_world[0], g.joints_in_world[15]);
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        };
        assert!((bone(&s[7]) - 0.5 * bone(&f[7])).abs() < 1e-5);
        let stride = |v: &[PoseFrame]| v[29].joints_in_world[0][0] - v[0].joints_in_world[0][0];
        assert!((stride(&s) - 0.5 * stride(&f)).abs() < 1e-5);
        assert!((ground_z(&s) - ground_z(&f)).abs() < 1e-6);
    }

    #[test]
    fn speed_and_rate_keep_the_model_rate_and_the_path() {
        let f = walk(91);
        assert_eq!(change_speed(&f, 0.5).len(), 181);
        assert_eq!(change_speed(&f, 2.0).len(), 46);
        // A linear walk survives any rate round trip exactly.
        for hz in [24, 60] {
            let r = source_rate(&f, hz);
            assert!(r.len() >= 89 && r.len() <= 91, "{hz} Hz: {}", r.len());
            for (a, b) in r.iter().zip(&f) {
                assert!((a.joints_in_world[0][0] - b.joints_in_world[0][0]).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn sensor_conditions_perturb_only_what_is_observed_and_are_seeded() {
        let f = walk(40);
        let a = Perturbation::Jitter { sigma_m: 0.03 }.apply(&f, 7);
        let b = Perturbation::Jitter { sigma_m: 0.03 }.apply(&f, 7);
        assert_eq!(a.truth, f);
        assert_eq!(a.observed, b.observed);
        let rms = (a
            .observed
            .iter()
            .zip(&f)
            .flat_map(|(o, t)| (0..3).map(move |c| (o.joints_in_world[5][c] - t.joints_in_world[5][c]).powi(2)))
            .sum::<f32>()
            / 120.0)
            .sqrt();
        assert!((0.02..0.04).contains(&rms), "rms {rms}");
        let d = Perturbation::DroppedJoints { p: 0.05 }.apply(&f, 3);
        let dropped = d.observed.iter().flat_map(|g| g.valid.iter()).filter(|v| !**v).count();
        assert!(dropped > 10 && dropped < 100, "{dropped} of 960");
        assert!(d.observed.iter().all(|g| g.valid[0]));
        for g in &d.observed {
            for j in 0..NUM_JOINTS {
                assert_eq!(g.valid[j], g.joints_in_world[j][0].is_finite());
            }
        }
    }

    #[test]
    fn rig_sets_keep_the_pelvis_and_the_suite_names_are_unique() {
        for set in [RigSet::NoHeadHandsFeetSpine2, RigSet::LegsAndPelvis, RigSet::UpperBody] {
            assert!(set.keeps(0));
        }
        assert!(!RigSet::UpperBody.keeps(4) && RigSet::UpperBody.keeps(20));
        assert!(RigSet::LegsAndPelvis.keeps(7) && !RigSet::LegsAndPelvis.keeps(16));
        let names: std::collections::BTreeSet<String> = Perturbation::suite().iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Perturbation::suite().len());
        assert!(names.contains("jitter_3cm") && names.contains("dropped_joints_5pct"));
    }
}
