//! Training clips: augmented variants of the training recordings, their features, and
//! window sampling.

use a4mer_runtime::model::features::{
    self, CONT_DIM, FEAT_DIM, FeatureError, FrameFeatures, KIN_DIM, NormStats, POSE_DIM, ROOT_DIM, world_to_heading,
};
use a4mer_runtime::model::segment;
use a4mer_runtime::model::{A4merConfig, batch::WindowInput};
use a4mer_runtime::{Joints, NUM_JOINTS, PoseFrame, frame_period_ns};
use rand::Rng;

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

/// Linear-interpolation resampling to `speed` times the original speed.
pub fn change_speed(frames: &[PoseFrame], speed: f32) -> Vec<PoseFrame> {
    if frames.len() < 2 {
        return frames.to_vec();
    }
    let n_out = (((frames.len() - 1) as f32) / speed).floor() as usize + 1;
    (0..n_out)
        .map(|i| {
            let src = i as f32 * speed;
            let k = (src.floor() as usize).min(frames.len() - 2);
            let a = src - k as f32;
            let (f0, f1) = (&frames[k], &frames[k + 1]);
            let mut j: Joints = [[0.0; 3]; NUM_JOINTS];
            let mut valid = [false; NUM_JOINTS];
            for q in 0..NUM_JOINTS {
                valid[q] = f0.valid[q] && f1.valid[q];
                for c in 0..3 {
                    j[q][c] = f0.joints_in_world[q][c] * (1.0 - a) + f1.joints_in_world[q][c] * a;
                }
            }
            PoseFrame::new(frame_period_ns(i as u64), j, valid)
        })
        .collect()
}

/// Augmented variants of one recording: {as recorded, mirrored} x {speed 1.0, 0.9, 1.1},
/// each rotated by a random yaw about the vertical axis.
pub fn augment(frames: &[PoseFrame], rng: &mut impl Rng) -> Vec<Vec<PoseFrame>> {
    let mirrored: Vec<PoseFrame> = frames.iter().map(features::mirror_frame).collect();
    let mut out = Vec::new();
    for base in [frames.to_vec(), mirrored] {
        for speed in [1.0f32, 0.9, 1.1] {
            let yaw = rng.random_range(-std::f32::consts::PI..std::f32::consts::PI);
            let v = if speed == 1.0 {
                base.clone()
            } else {
                change_speed(&base, speed)
            };
            out.push(v.iter().map(|f| features::rotate_frame(f, yaw)).collect());
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

/// Fit normalization statistics on training clips.
pub fn fit_norm(clips: &[Clip], horizon: usize) -> NormStats {
    let (mut fs, mut fq, mut fnn) = (vec![0.0f64; CONT_DIM], vec![0.0f64; CONT_DIM], vec![0.0f64; CONT_DIM]);
    let (mut kq, mut kn) = (vec![0.0f64; KIN_DIM], vec![0.0f64; KIN_DIM]);
    let (mut dq, mut dn) = (vec![0.0f64; horizon * 3], vec![0.0f64; horizon * 3]);
    for c in clips {
        for (t, f) in c.raw.iter().enumerate() {
            for i in 0..CONT_DIM {
                let ok = i >= POSE_DIM || f.feat[CONT_DIM + i / 3] > 0.0;
                let ok = ok && (i < POSE_DIM || t > 0);
                if ok {
                    let v = f.feat[i] as f64;
                    fs[i] += v;
                    fq[i] += v * v;
                    fnn[i] += 1.0;
                }
            }
            for i in 0..KIN_DIM {
                if f.kin_valid[i / 3] {
                    kq[i] += (f.kin[i] as f64).powi(2);
                    kn[i] += 1.0;
                }
            }
            // Future displacement statistics on a stride (they vary slowly).
            if t % 3 == 0 {
                let p0 = &c.frames[t];
                for h in 0..horizon {
                    let Some(p1) = c.frames.get(t + 1 + h) else { break };
                    for j in 0..NUM_JOINTS {
                        if p0.valid[j] && p1.valid[j] {
                            let a = p0.joints_in_world[j];
                            let b = p1.joints_in_world[j];
                            let d = world_to_heading([b[0] - a[0], b[1] - a[1], b[2] - a[2]], f.yaw_rad);
                            for ax in 0..3 {
                                dq[h * 3 + ax] += (d[ax] as f64).powi(2);
                                dn[h * 3 + ax] += 1.0;
                            }
                        }
                    }
                }
            }
        }
    }
    let (feat_mean, feat_std) = mean_std(&fs, &fq, &fnn);
    let rms = |q: &[f64], n: &[f64]| -> Vec<f32> {
        q.iter()
            .zip(n)
            .map(|(q, n)| ((q / n.max(1.0)).sqrt() as f32).max(1e-3))
            .collect()
    };
    NormStats {
        feat_mean,
        feat_std,
        kin_std: rms(&kq, &kn),
        disp_std: rms(&dq, &dn),
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

/// Forecast targets of a window: displacement `p[t+1+h] - p[t]` in the heading frame of
/// the origin (metres), `[horizon * POSE_DIM]`, and the joint mask `[horizon * NUM_JOINTS]`.
pub fn forecast_target(clip: &Clip, origin: usize, horizon: usize, out: &mut Vec<f32>, mask: &mut Vec<f32>) {
    let p0 = &clip.frames[origin];
    let yaw = clip.raw[origin].yaw_rad;
    for h in 0..horizon {
        let p1 = &clip.frames[origin + 1 + h];
        for j in 0..NUM_JOINTS {
            let ok = p0.valid[j] && p1.valid[j];
            let a = p0.joints_in_world[j];
            let b = p1.joints_in_world[j];
            let d = if ok {
                world_to_heading([b[0] - a[0], b[1] - a[1], b[2] - a[2]], yaw)
            } else {
                [0.0; 3]
            };
            out.extend_from_slice(&d);
            mask.push(if ok { 1.0 } else { 0.0 });
        }
    }
}
