//! Training clips: augmented variants of the training recordings, their features, and
//! window sampling.

use a4mer_burn_model::batch::WindowInput;
use a4mer_runtime::model::A4merConfig;
use a4mer_runtime::model::features::{
    self, CONT_DIM, FEAT_DIM, FeatureError, FrameFeatures, KIN_DIM, NormStats, POSE_DIM, ROOT_DIM, world_to_heading,
};
use a4mer_runtime::model::segment;
use a4mer_runtime::{NUM_JOINTS, PoseFrame};
use rand::Rng;

pub use a4mer_motion::perturb::change_speed;

/// One (augmented) contiguous clip with its per-frame features.
pub struct Clip {
    pub frames: Vec<PoseFrame>,
    pub raw: Vec<FrameFeatures>,
    pub surprise: Vec<f32>,
}

impl Clip {
    pub fn new(frames: Vec<PoseFrame>) -> Result<Self, FeatureError> {
        let raw = features::sequence_features(&frames)?;
        let n = frames.len();
        Ok(Self {
            frames,
            raw,
            surprise: vec![0.0; n],
        })
    }
}

/// Random variants per recording and mirror side, besides the recording as it is.
pub const RANDOM_VARIANTS: usize = 3;

/// Augmented variants of one recording, for a model that follows what it sees rather than
/// one actor on one rig: as recorded and mirrored, each also in [`RANDOM_VARIANTS`] random
/// variants combining a body scale (0.6–1.3×, retargeted), a speed (0.25–2×, log-uniform,
/// so near-stillness is seen), and with some probability camera jitter (0.5–3 cm), a rig
/// that lacks a joint set, and joints dropped per frame. With `rig`, each variant also gets
/// its own bone lengths (each 0.8–1.25×, log-uniform: proportions differ between people and
/// between rigs' joint placements) and, half the time, a source rate (as a 24, 60 or 120 Hz
/// camera would deliver it); without it the random stream is what it always was, so a
/// recipe without `rig` reproduces its model. Every variant is turned by a random yaw about
/// the vertical axis.
pub fn augment(frames: &[PoseFrame], rig: bool, rng: &mut impl Rng) -> Vec<Vec<PoseFrame>> {
    use a4mer_motion::perturb::{RigSet, body_scale, bone_lengths, drop_joints, jitter, source_rate};
    let mirrored: Vec<PoseFrame> = frames.iter().map(features::mirror_frame).collect();
    let mut out = Vec::new();
    for base in [frames.to_vec(), mirrored] {
        for k in 0..=RANDOM_VARIANTS {
            let mut v = base.clone();
            if k > 0 {
                let speed = (rng.random_range(0.25f32.ln()..2.0f32.ln())).exp();
                v = change_speed(&v, speed);
                v = body_scale(&v, rng.random_range(0.6f32..1.3));
                if rig {
                    let bones: [f32; a4mer_runtime::NUM_JOINTS] =
                        std::array::from_fn(|_| rng.random_range(0.8f32.ln()..1.25f32.ln()).exp());
                    v = bone_lengths(&v, &bones);
                    if rng.random_bool(0.5) {
                        v = source_rate(&v, [24, 60, 120][rng.random_range(0..3usize)]);
                    }
                }
                if rng.random_bool(0.4) {
                    v = jitter(&v, rng.random_range(0.005f32..0.03), rng.random());
                }
                if rng.random_bool(0.3) {
                    let set = [RigSet::NoHeadHandsFeetSpine2, RigSet::LegsAndPelvis, RigSet::UpperBody]
                        [rng.random_range(0..3usize)];
                    v = set.restrict(&v);
                }
                if rng.random_bool(0.3) {
                    v = drop_joints(&v, rng.random_range(0.01f32..0.08), rng.random());
                }
            }
            let yaw = rng.random_range(-std::f32::consts::PI..std::f32::consts::PI);
            out.push(v.iter().map(|f| features::rotate_frame(f, yaw)).collect());
        }
    }
    out
}

/// Clips of the `recordings` long enough for one window (`obs_frames` observed, `horizon`
/// ahead); the others are left out.
pub fn clips_with_a_window(
    recordings: impl IntoIterator<Item = Vec<PoseFrame>>,
    cfg: &A4merConfig,
) -> Result<Vec<Clip>, FeatureError> {
    recordings
        .into_iter()
        .filter(|r| r.len() > cfg.obs_frames + cfg.horizon)
        .map(Clip::new)
        .collect()
}

/// Speeds each training recording is also slowed to, as recorded and mirrored, for the
/// calibrated decode's fit alone. Near stillness the decode must learn how long a slow
/// velocity carries on, and the random variants' warps (log-uniform 0.25–2×) go below 0.3×
/// in one variant in eight: too few windows for the slow regimes, whose gains then come
/// from natural slow motion (swaying, the turn of a gesture), where velocity stops within a
/// second. The heads do not train on these: they would more than triple fine-tuning. Chosen
/// on the validation protocol (docs/model-selection.md).
pub const DECODE_SLOW_SPEEDS: [f32; 3] = [0.2, 0.25, 0.3];

/// `frames` slowed to each of [`DECODE_SLOW_SPEEDS`], as recorded and mirrored, each turned
/// by its own fixed yaw: no random draw, so the random variants the heads trained on stay
/// the same for a seed.
pub fn slowed_for_decode(frames: &[PoseFrame]) -> Vec<Vec<PoseFrame>> {
    let mirrored: Vec<PoseFrame> = frames.iter().map(features::mirror_frame).collect();
    let mut out = Vec::new();
    for base in [frames, &mirrored[..]] {
        for speed in DECODE_SLOW_SPEEDS {
            // Golden-angle steps spread the variants' headings evenly.
            let yaw = (out.len() as f32 * 2.399_963).rem_euclid(std::f32::consts::TAU) - std::f32::consts::PI;
            out.push(
                change_speed(base, speed)
                    .iter()
                    .map(|f| features::rotate_frame(f, yaw))
                    .collect(),
            );
        }
    }
    out
}

fn mean_std(sum: &[f64], sq: &[f64], n: &[f64]) -> (Vec<f32>, Vec<f32>) {
    let mut m = Vec::with_capacity(sum.len());
    let mut s = Vec::with_capacity(sum.len());
    for i in 0..sum.len() {
        let k = n[i].max(1.0);
        let mean = sum[i] / k;
        let var = (sq[i] / k - mean * mean).max(0.0);
        m.push(mean as f32);
        s.push((var.sqrt() as f32).max(1e-3));
    }
    (m, s)
}

/// Fit normalization statistics on training clips: the reference skeleton, feature and
/// velocity statistics in reference-body units, the damped-velocity prior, and the spread
/// of what the prior leaves.
pub fn fit_norm(clips: &[Clip], horizon: usize) -> NormStats {
    // Reference bone lengths: mean over every frame where a joint and its parent are seen.
    let (mut bl, mut bn) = ([0.0f64; NUM_JOINTS], [0.0f64; NUM_JOINTS]);
    for f in clips.iter().flat_map(|c| &c.raw) {
        for (j, len) in features::bone_lengths(f) {
            bl[j] += len as f64;
            bn[j] += 1.0;
        }
    }
    let mut norm = NormStats::identity(horizon);
    norm.ref_bone_m = (0..NUM_JOINTS)
        .map(|j| if bn[j] > 0.0 { (bl[j] / bn[j]) as f32 } else { 0.0 })
        .collect();

    let (mut fs, mut fq, mut fnn) = (vec![0.0f64; CONT_DIM], vec![0.0f64; CONT_DIM], vec![0.0f64; CONT_DIM]);
    let (mut kq, mut kn) = (vec![0.0f64; KIN_DIM], vec![0.0f64; KIN_DIM]);
    // Least-squares gain of the prior per step: sum(d . v) / sum(v . v).
    let (mut gdv, mut gvv) = (vec![0.0f64; horizon], vec![0.0f64; horizon]);
    for c in clips {
        for (t, f) in c.raw.iter().enumerate() {
            let inv = 1.0 / norm.body_scale(f) as f64;
            for i in 0..CONT_DIM {
                let ok = i >= POSE_DIM || f.feat[CONT_DIM + i / 3] > 0.0;
                let ok = ok && (i < POSE_DIM || t > 0);
                if ok {
                    let v = f.feat[i] as f64 * if i < POSE_DIM + 3 { inv } else { 1.0 };
                    fs[i] += v;
                    fq[i] += v * v;
                    fnn[i] += 1.0;
                }
            }
            for i in 0..KIN_DIM {
                if f.kin_valid[i / 3] {
                    kq[i] += (f.kin[i] as f64 * inv).powi(2);
                    kn[i] += 1.0;
                }
            }
            // Future displacements on a stride (they vary slowly).
            if t % 3 == 0 {
                for_each_future(c, t, horizon, |h, j, d| {
                    if f.kin_valid[j] {
                        for ax in 0..3 {
                            let v = f.kin[j * 3 + ax] as f64;
                            gdv[h] += d[ax] as f64 * v;
                            gvv[h] += v * v;
                        }
                    }
                });
            }
        }
    }
    norm.prior_gain_s = gdv
        .iter()
        .zip(&gvv)
        .map(|(dv, vv)| if *vv > 0.0 { (dv / vv).max(0.0) as f32 } else { 0.0 })
        .collect();

    // The spread of the residual the head forecasts, in reference-body metres.
    let (mut dq, mut dn) = (vec![0.0f64; horizon * 3], vec![0.0f64; horizon * 3]);
    for c in clips {
        for (t, f) in c.raw.iter().enumerate().step_by(3) {
            let inv = 1.0 / norm.body_scale(f) as f64;
            for_each_future(c, t, horizon, |h, j, d| {
                let prior = if f.kin_valid[j] {
                    norm.prior_disp(&f.kin[j * 3..j * 3 + 3], h)
                } else {
                    [0.0; 3]
                };
                for ax in 0..3 {
                    dq[h * 3 + ax] += (((d[ax] - prior[ax]) as f64) * inv).powi(2);
                    dn[h * 3 + ax] += 1.0;
                }
            });
        }
    }
    let (feat_mean, feat_std) = mean_std(&fs, &fq, &fnn);
    let rms = |q: &[f64], n: &[f64]| -> Vec<f32> {
        q.iter()
            .zip(n)
            .map(|(q, n)| ((q / n.max(1.0)).sqrt() as f32).max(1e-3))
            .collect()
    };
    norm.feat_mean = feat_mean;
    norm.feat_std = feat_std;
    norm.kin_std = rms(&kq, &kn);
    norm.disp_std = rms(&dq, &dn);
    norm
}

/// Call `each(step, joint, displacement)` for every future step of the window at `t`
/// whose joint is seen at both ends; the displacement is in the heading frame of `t`.
pub(super) fn for_each_future(c: &Clip, t: usize, horizon: usize, mut each: impl FnMut(usize, usize, [f32; 3])) {
    let p0 = &c.frames[t];
    let yaw = c.raw[t].yaw_rad;
    for h in 0..horizon {
        let Some(p1) = c.frames.get(t + 1 + h) else { break };
        for j in 0..NUM_JOINTS {
            if p0.valid[j] && p1.valid[j] {
                let a = p0.joints_in_world[j];
                let b = p1.joints_in_world[j];
                each(h, j, world_to_heading([b[0] - a[0], b[1] - a[1], b[2] - a[2]], yaw));
            }
        }
    }
}

/// A training window: clip index and origin (last observed frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowRef {
    pub clip: usize,
    pub origin: usize,
}

/// Window origins with full history and `horizon` future frames.
pub fn window_refs(clips: &[Clip], obs: usize, horizon: usize, stride: usize) -> Vec<WindowRef> {
    let mut out = Vec::new();
    for (c, clip) in clips.iter().enumerate() {
        let n = clip.frames.len();
        let mut t = obs - 1;
        while t + horizon < n {
            out.push(WindowRef { clip: c, origin: t });
            t += stride;
        }
    }
    out
}

/// The model input of a window, exactly as offline inference builds it from the observed
/// frames alone (the first frame has no history), with optional joint dropout.
pub fn window_input(
    clip: &Clip,
    origin: usize,
    cfg: &A4merConfig,
    norm: &NormStats,
    dropped: &[bool; NUM_JOINTS],
) -> WindowInput {
    let start = origin + 1 - cfg.obs_frames;
    let mut feats = vec![[0.0f32; FEAT_DIM]; cfg.obs_frames];
    for (k, out) in feats.iter_mut().enumerate() {
        let mut f = clip.raw[start + k].clone();
        if k == 0 {
            // No history inside the window: no velocity, exactly as at inference.
            f.feat[POSE_DIM..POSE_DIM + ROOT_DIM].fill(0.0);
        }
        for j in 0..NUM_JOINTS {
            if dropped[j] {
                f.feat[CONT_DIM + j] = 0.0;
            }
        }
        norm.normalize_feat(&f, out);
    }
    let mut last = clip.raw[origin].clone();
    for j in 0..NUM_JOINTS {
        if dropped[j] {
            last.kin_valid[j] = false;
        }
    }
    let mut kin_last = [0.0f32; KIN_DIM];
    norm.normalize_kin(&last, &mut kin_last);
    let mut s: Vec<f32> = clip.surprise[start..=origin].to_vec();
    s[0] = 0.0;
    if s.len() > 1 {
        s[1] = 0.0;
    }
    let (closed, open) = segment::segment(&s, &cfg.segmenter);
    WindowInput {
        feats,
        kin_last,
        closed,
        open,
    }
}

/// Forecast targets of a window: what the prior leaves of the displacement
/// `p[t+1+h] - p[t]` (heading frame of the origin), in reference-body metres,
/// `[horizon * POSE_DIM]`, and the joint mask `[horizon * NUM_JOINTS]`.
pub fn forecast_target(
    clip: &Clip,
    origin: usize,
    horizon: usize,
    norm: &NormStats,
    out: &mut Vec<f32>,
    mask: &mut Vec<f32>,
) {
    let p0 = &clip.frames[origin];
    let raw = &clip.raw[origin];
    let inv = 1.0 / norm.body_scale(raw);
    for h in 0..horizon {
        let p1 = &clip.frames[origin + 1 + h];
        for j in 0..NUM_JOINTS {
            let ok = p0.valid[j] && p1.valid[j];
            let a = p0.joints_in_world[j];
            let b = p1.joints_in_world[j];
            let d = if ok {
                let d = world_to_heading([b[0] - a[0], b[1] - a[1], b[2] - a[2]], raw.yaw_rad);
                let prior = if raw.kin_valid[j] {
                    norm.prior_disp(&raw.kin[j * 3..j * 3 + 3], h)
                } else {
                    [0.0; 3]
                };
                [
                    (d[0] - prior[0]) * inv,
                    (d[1] - prior[1]) * inv,
                    (d[2] - prior[2]) * inv,
                ]
            } else {
                [0.0; 3]
            };
            out.extend_from_slice(&d);
            mask.push(if ok { 1.0 } else { 0.0 });
        }
    }
}
