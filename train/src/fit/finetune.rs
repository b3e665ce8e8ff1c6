//! Head fine-tuning on frozen encoders: the forecast, next-motif and interpolation
//! losses, and the validation MPJPE that picks the best epoch.

use a4mer_burn_model::batch::{Batch, WindowInput};
use a4mer_burn_model::nn::A4mer;
use a4mer_burn_model::{Model, host};
use a4mer_runtime::NUM_JOINTS;
use a4mer_runtime::model::features::{NormStats, POSE_DIM};
use a4mer_runtime::model::{A4merConfig, interp_base, interp_extra, motif_embeddings};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor};
use rand::Rng;

use super::TrainConfig;
use super::dataset::{Clip, WindowRef, forecast_target, window_input, window_refs};
use super::pretrain::refresh_surprise;
use super::tensors::{ints, scalar, t2, t3};

/// Everything the heads need for one fine-tuning window, precomputed with frozen encoders.
pub(super) struct HeadSample {
    pub(super) win: WindowRef,
    pub(super) input: Vec<f32>,
    pub(super) motif_now: Option<usize>,
}

/// Encode windows with the frozen encoders (inference device, batched).
pub(super) fn encode_windows(model: &Model, clips: &[Clip], refs: &[WindowRef]) -> Vec<HeadSample> {
    let cfg = &model.config;
    let mut out = Vec::with_capacity(refs.len());
    let none = [false; NUM_JOINTS];
    for chunk in refs.chunks(128) {
        let inputs: Vec<WindowInput> = chunk
            .iter()
            .map(|w| window_input(&clips[w.clip], w.origin, cfg, &model.norm, &none))
            .collect();
        let batch = Batch::build(&inputs, cfg.n_atoms, &model.device);
        let enc = model.net.encode(&batch);
        let x = host(enc.head_input(&batch));
        let states = host(enc.states);
        let dim = x.len() / chunk.len();
        let d = cfg.d_model;
        for (i, w) in chunk.iter().enumerate() {
            let n = batch.n_atoms[i];
            let motif_now = (n > 0).then(|| {
                let s = &states[i * batch.a * d..(i * batch.a + n) * d];
                let e = motif_embeddings(s, n, d, cfg.motif_span);
                model.vocab.assign(&e[(n - 1) * d..n * d]).0
            });
            out.push(HeadSample {
                win: *w,
                input: x[i * dim..(i + 1) * dim].to_vec(),
                motif_now,
            });
        }
    }
    out
}

/// Per-step mean joint error (metres) `[b, h]` of a displacement prediction.
fn joint_errors(
    pred_norm: Tensor<2>,
    target_m: Tensor<2>,
    mask: Tensor<3>,
    disp_std: Tensor<3>,
    h: usize,
) -> (Tensor<2>, Tensor<2>) {
    let b = pred_norm.dims()[0];
    let pred = pred_norm.reshape([b, h * NUM_JOINTS, 3]) * disp_std;
    let diff = pred - target_m.reshape([b, h * NUM_JOINTS, 3]);
    let dist = (diff.powi_scalar(2).sum_dim(2) + 1e-8).sqrt(); // [b, h*J, 1]
    let dist = dist.reshape([b, h, NUM_JOINTS]) * mask.clone();
    let cnt = mask.sum_dim(2).reshape([b, h]).clamp_min(1.0);
    (dist.sum_dim(2).reshape([b, h]) / cnt.clone(), cnt)
}

/// What the head losses read besides the network and the windows.
pub(super) struct HeadData<'a> {
    pub clips: &'a [Clip],
    pub cfg: &'a A4merConfig,
    pub norm: &'a NormStats,
    pub disp_std: &'a Tensor<3>,
    pub device: &'a Device,
}

/// Head losses on precomputed (frozen-encoder) inputs.
pub(super) fn finetune_loss(
    net: &A4mer,
    samples: &[HeadSample],
    next_of: &[Option<usize>],
    chunk: &[usize],
    d: &HeadData,
    rng: &mut impl Rng,
) -> (Tensor<1>, Vec<(&'static str, f32)>) {
    let b = chunk.len();
    let dim = samples[chunk[0]].input.len();
    let x: Vec<f32> = chunk.iter().flat_map(|&i| samples[i].input.iter().copied()).collect();
    let wins: Vec<WindowRef> = chunk.iter().map(|&i| samples[i].win).collect();
    let next: Vec<Option<usize>> = chunk.iter().map(|&i| next_of[i]).collect();
    head_loss(net, t2(x, [b, dim], d.device), &wins, &next, d, rng)
}

/// The forecast, spread, interpolation and (where a window has a next code) next-motif
/// losses for the heads' input `x` `[b, head_input_dim]` of windows `wins`. `x` may carry
/// the encoders' graph, which is how end-to-end fine-tuning reaches them.
pub(super) fn head_loss(
    net: &A4mer,
    x: Tensor<2>,
    wins: &[WindowRef],
    next: &[Option<usize>],
    d: &HeadData,
    rng: &mut impl Rng,
) -> (Tensor<1>, Vec<(&'static str, f32)>) {
    let HeadData {
        clips,
        cfg,
        norm,
        disp_std,
        device,
    } = *d;
    let b = wins.len();
    let h = cfg.horizon;
    let mut tgt = Vec::with_capacity(b * h * POSE_DIM);
    let mut mask = Vec::with_capacity(b * h * NUM_JOINTS);
    let mut extra = Vec::with_capacity(b * (POSE_DIM + NUM_JOINTS + 1));
    let mut itgt = Vec::with_capacity(b * h * POSE_DIM);
    let mut imask = Vec::with_capacity(b * h * NUM_JOINTS);
    let mut cls = Vec::new();
    let mut cls_rows = Vec::new();
    for (r, (win, next)) in wins.iter().zip(next).enumerate() {
        let clip = &clips[win.clip];
        forecast_target(clip, win.origin, h, norm, &mut tgt, &mut mask);
        if let Some(c) = *next {
            cls.push(c as i64);
            cls_rows.push(r as i64);
        }
        // Interpolation: a random gap after the origin, closed by the frame after it.
        let gap = rng.random_range(1..h);
        let last = &clip.frames[win.origin];
        let after = &clip.frames[win.origin + gap + 1];
        let yaw = clip.raw[win.origin].yaw_rad;
        extra.extend_from_slice(&interp_extra(last, yaw, after, gap, h));
        let base = interp_base(last, after, gap);
        for step in 0..h {
            for j in 0..NUM_JOINTS {
                if step < gap {
                    let p = clip.frames[win.origin + 1 + step];
                    let ok = p.valid[j] && last.valid[j] && after.valid[j];
                    let q = base[step][j];
                    let a = p.joints_in_world[j];
                    let d =
                        a4mer_runtime::model::features::world_to_heading([a[0] - q[0], a[1] - q[1], a[2] - q[2]], yaw);
                    itgt.extend_from_slice(&if ok { d } else { [0.0; 3] });
                    imask.push(if ok { 1.0 } else { 0.0 });
                } else {
                    itgt.extend_from_slice(&[0.0; 3]);
                    imask.push(0.0);
                }
            }
        }
    }
    let (mean, log_spread) = net.forecast.forward(x.clone());
    let mask = t3(mask, [b, h, NUM_JOINTS], device);
    let (err, _) = joint_errors(mean, t2(tgt, [b, h * POSE_DIM], device), mask, disp_std.clone(), h);
    let l_fc = err.clone().mean();
    let e = err.detach();
    let l_sp = (log_spread.clone() + e / log_spread.exp()).mean();
    let ex = t2(extra, [b, POSE_DIM + NUM_JOINTS + 1], device);
    let (imean, _) = net.interp.forward(Tensor::cat(vec![x.clone(), ex], 1));
    let imask = t3(imask, [b, h, NUM_JOINTS], device);
    let (ierr, icnt) = joint_errors(
        imean,
        t2(itgt, [b, h * POSE_DIM], device),
        imask.clone(),
        disp_std.clone(),
        h,
    );
    let valid_steps = imask.sum_dim(2).reshape([b, h]).clamp_max(1.0);
    let _ = icnt;
    let l_in = (ierr * valid_steps.clone()).sum() / valid_steps.sum().clamp_min(1.0);
    let d = cfg.d_model;
    let mut total = l_fc.clone() + l_sp.clone().mul_scalar(0.05) + l_in.clone();
    let mut terms = vec![
        ("forecast_m", scalar(l_fc)),
        ("spread", scalar(l_sp)),
        ("interp_m", scalar(l_in)),
    ];
    if !cls.is_empty() {
        let rows = ints(cls_rows, device);
        let logits = net.next_motif.forward(x.narrow(1, 0, 2 * d).select(0, rows));
        let n = cls.len();
        let lp = log_softmax(logits, 1);
        let picked = lp.gather(1, ints(cls, device).reshape([n, 1]));
        let ce = picked.mean().neg();
        terms.push(("next_motif_ce", scalar(ce.clone())));
        total = total + ce.mul_scalar(0.1);
    }
    (total, terms)
}

/// Mean world MPJPE (mm, over all steps) of the forecast head on validation windows.
pub(super) fn validate(
    net: &A4mer,
    samples: &[HeadSample],
    clips: &[Clip],
    cfg: &A4merConfig,
    norm: &NormStats,
    device: &Device,
) -> f32 {
    if samples.is_empty() {
        return f32::NAN;
    }
    let h = cfg.horizon;
    let disp_std = t3(norm.disp_std.clone(), [1, h, 3], device)
        .reshape([1, h, 1, 3])
        .repeat_dim(2, NUM_JOINTS)
        .reshape([1, h * NUM_JOINTS, 3]);
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for chunk in samples.chunks(256) {
        let b = chunk.len();
        let dim = chunk[0].input.len();
        let x: Vec<f32> = chunk.iter().flat_map(|s| s.input.iter().copied()).collect();
        let mut tgt = Vec::new();
        let mut mask = Vec::new();
        for s in chunk {
            forecast_target(&clips[s.win.clip], s.win.origin, h, norm, &mut tgt, &mut mask);
        }
        let (mean, _) = net.forecast.forward(t2(x, [b, dim], device));
        let (err, _) = joint_errors(
            mean,
            t2(tgt, [b, h * POSE_DIM], device),
            t3(mask, [b, h, NUM_JOINTS], device),
            disp_std.clone(),
            h,
        );
        sum += host(err.sum()).first().copied().unwrap_or(0.0) as f64;
        n += b * h;
    }
    (sum / n.max(1) as f64 * 1000.0) as f32
}

/// The fine-tuning windows of `clips` with the heads' inputs from `model`'s encoders, the
/// clips' surprise first recomputed with its frame predictor (segments depend on it).
pub(super) fn heads_samples(model: &Model, clips: &mut [Clip], cfg: &TrainConfig, device: &Device) -> Vec<HeadSample> {
    refresh_surprise(&model.net, clips, &model.norm, device);
    let refs = window_refs(
        clips,
        model.config.obs_frames,
        model.config.horizon + 1,
        cfg.finetune_stride,
    );
    encode_windows(model, clips, &refs)
}
