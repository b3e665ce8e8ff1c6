//! Self-supervised pre-training and head fine-tuning of A4Mer.
//!
//! Pre-training (JEPA style): masked atom and masked motif prediction in latent space
//! against an EMA target encoder, an atom decoder reconstructing each segment's frames,
//! and the frame predictor whose error drives segmentation. Fine-tuning: the encoders are
//! frozen (so the motif vocabulary stays valid) and the forecast, next-motif and
//! interpolation heads are trained on their outputs.
//!
//! Determinism: every random choice comes from a ChaCha RNG seeded by (seed, stage, epoch),
//! parameters are initialised from the seed, and ndarray runs single-threaded (no rayon), so
//! a run is a function of its data and seed.

// Index loops here mirror the row-major tensor layouts they fill; iterators would hide that.
#![allow(clippy::needless_range_loop)]

pub mod checkpoint;
pub mod dataset;
pub mod kmeans;
pub mod report;

use std::path::Path;
use std::time::Instant;

use a4mer_runtime::artifact::fresh_model;
use a4mer_runtime::device::{inference_device, training_device};
use a4mer_runtime::model::batch::{Batch, WindowInput};
use a4mer_runtime::model::features::{CONT_DIM, FEAT_DIM, NormStats, POSE_DIM};
use a4mer_runtime::model::nn::A4mer;
use a4mer_runtime::model::{
    self, A4merConfig, Model, MotifVocab, host, interp_base, interp_extra, motif_embeddings, params,
};
use a4mer_runtime::{NUM_JOINTS, PoseFrame};
use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use dataset::{Clip, WindowRef, forecast_target, window_input, window_refs};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: A4merConfig,
    pub seed: u64,
    pub pretrain_epochs: usize,
    pub finetune_epochs: usize,
    pub batch: usize,
    /// Frames between pre-training window origins (per clip).
    pub pretrain_stride: usize,
    /// Frames between fine-tuning window origins; must divide `motif_lookahead_frames`.
    pub finetune_stride: usize,
    pub pretrain_lr: f64,
    pub finetune_lr: f64,
    pub ema_momentum: f32,
    /// Surprise quantile used as the segmentation threshold.
    pub tau_quantile: f32,
    /// Share of each recording's training part (at its end) used for validation.
    pub val_fraction: f64,
    /// Probability that a joint is dropped for a whole window (augmentation).
    pub joint_dropout: f64,
    /// Augment with mirrored, rotated and speed-changed copies.
    pub augment: bool,
}

impl TrainConfig {
    pub fn small(seed: u64) -> Self {
        Self {
            model: A4merConfig::small(),
            seed,
            pretrain_epochs: 6,
            finetune_epochs: 30,
            batch: 32,
            pretrain_stride: 6,
            finetune_stride: 3,
            pretrain_lr: 1e-3,
            finetune_lr: 1e-3,
            ema_momentum: 0.99,
            tau_quantile: 0.8,
            val_fraction: 0.1,
            joint_dropout: 0.05,
            augment: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training data: {0}")]
    Data(String),
    #[error(transparent)]
    Feature(#[from] a4mer_runtime::model::features::FeatureError),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
    #[error("optimizer state: {0}")]
    Optimizer(String),
}

/// What a progress callback sees.
pub struct Progress<'a> {
    pub stage: &'static str,
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
    pub losses: &'a [(&'static str, f32)],
    pub windows_per_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Mean total pre-training loss per epoch, and every step's loss.
    pub pretrain_epoch_loss: Vec<f32>,
    pub pretrain_step_loss: Vec<f32>,
    pub pretrain_terms: Vec<Vec<(String, f32)>>,
    pub finetune_epoch_loss: Vec<f32>,
    /// Validation world MPJPE (mm, mean over all 30 steps) per fine-tune epoch.
    pub val_mpjpe_mm: Vec<f32>,
    pub best_epoch: usize,
    pub tau: f32,
    pub windows: usize,
    pub wall_s: f64,
}

fn rng_for(seed: u64, stage: u64, epoch: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (stage << 56) ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn t2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn t3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn scalar(t: Tensor<1>) -> f32 {
    host(t).first().copied().unwrap_or(f32::NAN)
}

/// Standardize each row (a parameter-free layer norm) for latent targets.
fn standardize(x: Tensor<2>) -> Tensor<2> {
    let mean = x.clone().mean_dim(1);
    let c = x - mean;
    let var = c.clone().powi_scalar(2).mean_dim(1);
    c / (var + 1e-5).sqrt()
}

/// Split recordings into training and validation frames.
fn split_train_val(recordings: &[Vec<PoseFrame>], val_fraction: f64) -> (Vec<Vec<PoseFrame>>, Vec<Vec<PoseFrame>>) {
    let mut tr = Vec::new();
    let mut va = Vec::new();
    for r in recordings {
        let cut = ((r.len() as f64) * (1.0 - val_fraction)).round() as usize;
        tr.push(r[..cut].to_vec());
        if cut < r.len() {
            va.push(r[cut..].to_vec());
        }
    }
    (tr, va)
}

/// Recompute every clip's surprise with the current frame predictor.
fn refresh_surprise(net: &A4mer, clips: &mut [Clip], norm: &NormStats, device: &Device) {
    for c in clips.iter_mut() {
        let mut feats = vec![[0.0f32; FEAT_DIM]; c.raw.len()];
        for (f, o) in c.raw.iter().zip(feats.iter_mut()) {
            norm.normalize_feat(f, o);
        }
        c.surprise = model::surprise(net, &feats, device);
    }
}

fn calibrate_tau(clips: &[Clip], q: f32) -> f32 {
    let mut all: Vec<f32> = clips.iter().flat_map(|c| c.surprise.iter().skip(2).copied()).collect();
    if all.is_empty() {
        return 1.0;
    }
    all.sort_by(f32::total_cmp);
    all[((all.len() - 1) as f32 * q) as usize]
}

fn dropout_mask(rng: &mut impl Rng, p: f64) -> [bool; NUM_JOINTS] {
    // The pelvis is never dropped: the model needs it (and so does every caller).
    std::array::from_fn(|j| j != 0 && p > 0.0 && rng.random_bool(p))
}

/// Pre-training losses for one batch. Returns (total, named terms).
#[allow(clippy::too_many_arguments)]
fn pretrain_loss(
    net: &A4mer,
    target: &A4mer,
    inputs: &[WindowInput],
    cfg: &A4merConfig,
    rng: &mut impl Rng,
    device: &Device,
    inner: &Device,
) -> (Tensor<1>, Vec<(&'static str, Tensor<1>)>) {
    let batch = Batch::build(inputs, cfg.n_atoms, device);
    let tbatch = Batch::build(inputs, cfg.n_atoms, inner);
    let (b, a, d) = (batch.len(), batch.a, cfg.d_model);
    // Masks: one span of `motif_span` atoms (masked motif) plus random single atoms.
    let mut masked = vec![false; b * a];
    let mut span_pos = Vec::new();
    for w in 0..b {
        let n = batch.n_atoms[w];
        if n < 2 {
            continue;
        }
        let span = cfg.motif_span.min(n - 1);
        let start = rng.random_range(1..=n - span);
        for i in start..start + span {
            masked[w * a + i] = true;
            span_pos.push((w * a + i) as i64);
        }
        for i in 0..n {
            if !masked[w * a + i] && rng.random_bool(0.15) {
                masked[w * a + i] = true;
            }
        }
    }
    let atom_pos: Vec<i64> = masked
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| i as i64)
        .collect();

    let seg_tokens = net.atom.forward(batch.segs.clone(), &batch.seg_lens);
    let grid = batch.atom_grid(seg_tokens.clone());
    let ctx = net
        .motif
        .forward(net.motif.apply_mask(grid, &masked), &batch.n_atoms)
        .reshape([b * a, d]);

    let t_tokens = target.atom.forward(tbatch.segs.clone(), &tbatch.seg_lens);
    let t_grid = tbatch.atom_grid(t_tokens);
    let t_states = target
        .motif
        .forward(t_grid.clone(), &tbatch.n_atoms)
        .reshape([b * a, d]);
    let t_grid = t_grid.reshape([b * a, d]);

    let mut terms: Vec<(&'static str, Tensor<1>)> = Vec::new();
    if !atom_pos.is_empty() {
        let idx = ints(atom_pos.clone(), device);
        let pred = net.pred_atom.forward(ctx.clone().select(0, idx));
        let tgt = standardize(t_grid.select(0, ints(atom_pos, inner))).autodiff();
        terms.push(("atom", (pred - tgt).powi_scalar(2).mean()));
    }
    if !span_pos.is_empty() {
        let idx = ints(span_pos.clone(), device);
        let pred = net.pred_motif.forward(ctx.select(0, idx));
        let tgt = standardize(t_states.select(0, ints(span_pos, inner))).autodiff();
        terms.push(("motif", (pred - tgt).powi_scalar(2).mean()));
    }

    // Atom decoder: reconstruct every segment's continuous features from its token.
    let [s, l, _] = batch.segs.dims();
    let recon = net.decoder.forward(seg_tokens, l);
    let segs_host = host(batch.segs.clone());
    let mut m = vec![0.0f32; s * l * CONT_DIM];
    for (i, &n) in batch.seg_lens.iter().enumerate() {
        for k in 0..n {
            let o = (i * l + k) * FEAT_DIM;
            let mo = (i * l + k) * CONT_DIM;
            m[mo + POSE_DIM..mo + CONT_DIM].fill(1.0);
            for j in 0..NUM_JOINTS {
                let v = segs_host[o + CONT_DIM + j];
                m[mo + j * 3..mo + j * 3 + 3].fill(v);
            }
        }
    }
    let msum: f32 = m.iter().sum::<f32>().max(1.0);
    let m = t3(m, [s, l, CONT_DIM], device);
    let tgt = batch.segs.clone().narrow(2, 0, CONT_DIM);
    terms.push(("recon", ((recon - tgt).powi_scalar(2) * m).sum().div_scalar(msum)));

    // Frame predictor (drives segmentation).
    let mut p1 = Vec::new();
    let mut p2 = Vec::new();
    let mut tg = Vec::new();
    let mut fm = Vec::new();
    for w in inputs {
        for t in 2..w.feats.len() {
            p1.extend_from_slice(&w.feats[t - 1][..CONT_DIM]);
            p2.extend_from_slice(&w.feats[t - 2][..CONT_DIM]);
            tg.extend_from_slice(&w.feats[t][..CONT_DIM]);
            fm.extend(model::surprise_mask(&w.feats[t - 2], &w.feats[t - 1], &w.feats[t]));
        }
    }
    let rows = p1.len() / CONT_DIM;
    if rows > 0 {
        let fsum: f32 = fm.iter().sum::<f32>().max(1.0);
        let pred = net.predict_frame(t2(p1, [rows, CONT_DIM], device), t2(p2, [rows, CONT_DIM], device));
        let e = (pred - t2(tg, [rows, CONT_DIM], device)).powi_scalar(2) * t2(fm, [rows, CONT_DIM], device);
        terms.push(("frame", e.sum().div_scalar(fsum)));
    }
    let mut total = terms[0].1.clone();
    for (_, t) in terms.iter().skip(1) {
        total = total + t.clone();
    }
    (total, terms)
}

/// Everything the heads need for one fine-tuning window, precomputed with frozen encoders.
struct HeadSample {
    win: WindowRef,
    input: Vec<f32>,
    motif_now: Option<usize>,
}

/// Encode windows with the frozen encoders (inference device, batched).
fn encode_windows(model: &Model, clips: &[Clip], refs: &[WindowRef]) -> Vec<HeadSample> {
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

/// Train a model on the training recordings (frames already at 30 Hz, canonical).
pub fn train(
    recordings: &[Vec<PoseFrame>],
    cfg: &TrainConfig,
    checkpoint_path: Option<&Path>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Model, TrainReport), TrainError> {
    let started = Instant::now();
    let mcfg = &cfg.model;
    let device = training_device();
    let inner = inference_device();
    let (train_recs, val_recs) = split_train_val(recordings, cfg.val_fraction);
    let mut rng = rng_for(cfg.seed, 0, 0);
    let mut clips = Vec::new();
    for r in &train_recs {
        let variants = if cfg.augment {
            dataset::augment(r, &mut rng)
        } else {
            vec![r.clone()]
        };
        // A short take slowed down can still fill a window; one sped up may not.
        for v in variants
            .into_iter()
            .filter(|v| v.len() > mcfg.obs_frames + mcfg.horizon)
        {
            clips.push(Clip::new(v)?);
        }
    }
    if clips.is_empty() {
        return Err(TrainError::Data(format!(
            "no recording has {} frames ({} s) in its training part",
            mcfg.obs_frames + mcfg.horizon + 1,
            (mcfg.obs_frames + mcfg.horizon + 1) as f32 / 30.0
        )));
    }
    let val_clips: Vec<Clip> = val_recs
        .into_iter()
        .filter(|r| r.len() > mcfg.obs_frames + mcfg.horizon)
        .map(Clip::new)
        .collect::<Result<_, _>>()?;
    let norm = dataset::fit_norm(&clips, mcfg.horizon);

    let mut report = TrainReport::default();
    let mut m = fresh_model(mcfg.clone(), cfg.seed, &device);
    m.norm = norm.clone();
    let mut net = m.net;
    let mut target = net.valid();
    let mut opt = AdamWConfig::new()
        .with_weight_decay(1e-4)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let mut start_epoch = 0;
    let mut stage_done = 0u8;
    let mut tau = mcfg.segmenter.tau;
    if let Some(p) = checkpoint_path.filter(|p| p.exists()) {
        let ck = checkpoint::Checkpoint::load(p)?;
        if ck.config != *cfg {
            return Err(TrainError::Checkpoint {
                path: p.display().to_string(),
                message: "was written with a different training config; use the same --seed/--epochs or delete it"
                    .into(),
            });
        }
        net = params::fill(A4mer::new(mcfg, &device), &ck.online, &device).map_err(|e| TrainError::Checkpoint {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        target = params::fill(A4mer::new(mcfg, &inner), &ck.target, &inner).map_err(|e| TrainError::Checkpoint {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        opt = opt
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(ck.optimizer.clone()))
            .map_err(|e| TrainError::Optimizer(format!("{e:?}")))?;
        start_epoch = ck.epoch;
        stage_done = ck.stage;
        tau = ck.tau;
        report = ck.report.clone();
    }

    // ---- Stage 1: self-supervised pre-training ----
    if stage_done == 0 {
        for epoch in start_epoch..cfg.pretrain_epochs {
            let mut erng = rng_for(cfg.seed, 1, epoch as u64);
            let eval_net = net.valid();
            refresh_surprise(&eval_net, &mut clips, &norm, &inner);
            tau = calibrate_tau(&clips, cfg.tau_quantile);
            let mut mc = mcfg.clone();
            mc.segmenter.tau = tau;
            let mut refs = window_refs(&clips, mc.obs_frames, mc.horizon + 1, cfg.pretrain_stride);
            refs.shuffle(&mut erng);
            let steps = refs.len().div_ceil(cfg.batch);
            let t0 = Instant::now();
            let mut sum = 0.0f32;
            let mut term_sum: Vec<(&'static str, f32)> = Vec::new();
            for (step, chunk) in refs.chunks(cfg.batch).enumerate() {
                let inputs: Vec<WindowInput> = chunk
                    .iter()
                    .map(|w| {
                        let drop = dropout_mask(&mut erng, cfg.joint_dropout);
                        window_input(&clips[w.clip], w.origin, &mc, &norm, &drop)
                    })
                    .collect();
                let (loss, terms) = pretrain_loss(&net, &target, &inputs, &mc, &mut erng, &device, &inner);
                let lv = scalar(loss.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = opt.step(cfg.pretrain_lr, net, grads);
                target = params::ema_update(target, &net, cfg.ema_momentum);
                report.pretrain_step_loss.push(lv);
                sum += lv;
                let tv: Vec<(&'static str, f32)> = terms.iter().map(|(n, t)| (*n, scalar(t.clone()))).collect();
                for (n, v) in &tv {
                    match term_sum.iter_mut().find(|(k, _)| k == n) {
                        Some(e) => e.1 += v,
                        None => term_sum.push((n, *v)),
                    }
                }
                let mut shown = vec![("loss", lv)];
                shown.extend(tv);
                progress(&Progress {
                    stage: "pretrain",
                    epoch: epoch + 1,
                    epochs: cfg.pretrain_epochs,
                    step: step + 1,
                    steps,
                    losses: &shown,
                    windows_per_s: ((step + 1) * cfg.batch) as f64 / t0.elapsed().as_secs_f64().max(1e-9),
                });
                report.windows += chunk.len();
            }
            report.pretrain_epoch_loss.push(sum / steps.max(1) as f32);
            report.pretrain_terms.push(
                term_sum
                    .iter()
                    .map(|(n, v)| (n.to_string(), v / steps.max(1) as f32))
                    .collect(),
            );
            report.tau = tau;
            if let Some(p) = checkpoint_path {
                checkpoint::Checkpoint::save_from(p, cfg, 0, epoch + 1, tau, &net, &target, &opt, &report)?;
            }
        }
        start_epoch = 0;
    }

    // ---- Motif vocabulary (k-means over motif embeddings of the frozen encoder) ----
    let mut config = mcfg.clone();
    config.segmenter.tau = tau;
    let frozen = net.valid();
    refresh_surprise(&frozen, &mut clips, &norm, &inner);
    if cfg.pretrain_epochs == 0 {
        // Without pre-training (the ablation's baseline) the threshold is still placed on
        // this network's surprise, as pre-training would have placed it.
        tau = calibrate_tau(&clips, cfg.tau_quantile);
    }
    let mut model = Model {
        net: frozen,
        config: config.clone(),
        norm: norm.clone(),
        vocab: MotifVocab {
            k: config.n_motifs,
            d: config.d_model,
            centroids: vec![0.0; config.n_motifs * config.d_model],
            temperature: 1.0,
            mirror_of: (0..config.n_motifs as u32).collect(),
        },
        skeleton: a4mer_runtime::Skeleton::smpl24(),
        device: inner.clone(),
        quant: None,
    };
    model.vocab = build_vocab(&model, &train_recs, cfg.seed)?;

    // ---- Stage 2: head fine-tuning on frozen encoders ----
    let mut ft_net = if stage_done == 1 {
        net
    } else {
        model.net.clone().train()
    };
    if stage_done == 0 {
        opt = AdamWConfig::new()
            .with_weight_decay(1e-4)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
            .init();
    }
    let refs = window_refs(&clips, config.obs_frames, config.horizon + 1, cfg.finetune_stride);
    let samples = encode_windows(&model, &clips, &refs);
    let look = config.motif_lookahead_frames / cfg.finetune_stride.max(1);
    let next_of: Vec<Option<usize>> = (0..samples.len())
        .map(|i| {
            let j = i + look;
            (j < samples.len()
                && samples[j].win.clip == samples[i].win.clip
                && samples[j].win.origin == samples[i].win.origin + config.motif_lookahead_frames)
                .then(|| samples[j].motif_now)
                .flatten()
        })
        .collect();
    let val_refs = window_refs(&val_clips, config.obs_frames, config.horizon + 1, 5);
    let val_samples = encode_windows(&model, &val_clips, &val_refs);
    let h = config.horizon;
    let disp_std = t3(norm.disp_std.clone(), [1, h, 3], &device)
        .reshape([1, h, 1, 3])
        .repeat_dim(2, NUM_JOINTS)
        .reshape([1, h * NUM_JOINTS, 3]);
    let mut best: Option<(f32, A4mer)> = None;
    for epoch in start_epoch..cfg.finetune_epochs {
        let mut erng = rng_for(cfg.seed, 2, epoch as u64);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        order.shuffle(&mut erng);
        let steps = order.len().div_ceil(cfg.batch);
        let t0 = Instant::now();
        let mut sum = 0.0f32;
        let lr =
            cfg.finetune_lr * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / cfg.finetune_epochs as f64).cos());
        for (step, chunk) in order.chunks(cfg.batch).enumerate() {
            let (loss, terms) = finetune_loss(
                &ft_net, &samples, &next_of, chunk, &clips, &config, &norm, &disp_std, &mut erng, &device,
            );
            let lv = scalar(loss.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &ft_net);
            ft_net = opt.step(lr, ft_net, grads);
            sum += lv;
            let mut shown = vec![("loss", lv)];
            shown.extend(terms);
            progress(&Progress {
                stage: "finetune",
                epoch: epoch + 1,
                epochs: cfg.finetune_epochs,
                step: step + 1,
                steps,
                losses: &shown,
                windows_per_s: ((step + 1) * cfg.batch) as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            });
        }
        report.finetune_epoch_loss.push(sum / steps.max(1) as f32);
        // Validation (recordings' training part, end; never the held-out split).
        let val_net = ft_net.valid();
        let v = validate(&val_net, &val_samples, &val_clips, &config, &norm, &inner);
        report.val_mpjpe_mm.push(v);
        if best.as_ref().is_none_or(|(b, _)| v < *b || !b.is_finite()) {
            best = Some((v, val_net));
            report.best_epoch = epoch + 1;
        }
        if let Some(p) = checkpoint_path {
            checkpoint::Checkpoint::save_from(p, cfg, 1, epoch + 1, tau, &ft_net, &target, &opt, &report)?;
        }
    }
    let final_net = match best {
        Some((_, n)) => n,
        None => ft_net.valid(),
    };
    // The heads come from fine-tuning; the encoders are the frozen pre-trained ones (same values).
    model.net = final_net;
    report.wall_s = started.elapsed().as_secs_f64();
    Ok((model, report))
}

#[allow(clippy::too_many_arguments)]
fn finetune_loss(
    net: &A4mer,
    samples: &[HeadSample],
    next_of: &[Option<usize>],
    chunk: &[usize],
    clips: &[Clip],
    cfg: &A4merConfig,
    norm: &NormStats,
    disp_std: &Tensor<3>,
    rng: &mut impl Rng,
    device: &Device,
) -> (Tensor<1>, Vec<(&'static str, f32)>) {
    let b = chunk.len();
    let h = cfg.horizon;
    let dim = samples[chunk[0]].input.len();
    let mut x = Vec::with_capacity(b * dim);
    let mut tgt = Vec::with_capacity(b * h * POSE_DIM);
    let mut mask = Vec::with_capacity(b * h * NUM_JOINTS);
    let mut extra = Vec::with_capacity(b * (POSE_DIM + NUM_JOINTS + 1));
    let mut itgt = Vec::with_capacity(b * h * POSE_DIM);
    let mut imask = Vec::with_capacity(b * h * NUM_JOINTS);
    let mut cls = Vec::new();
    let mut cls_rows = Vec::new();
    for (r, &i) in chunk.iter().enumerate() {
        let s = &samples[i];
        x.extend_from_slice(&s.input);
        let clip = &clips[s.win.clip];
        forecast_target(clip, s.win.origin, h, norm, &mut tgt, &mut mask);
        if let Some(c) = next_of[i] {
            cls.push(c as i64);
            cls_rows.push(r as i64);
        }
        // Interpolation: a random gap after the origin, closed by the frame after it.
        let gap = rng.random_range(1..h);
        let last = &clip.frames[s.win.origin];
        let after = &clip.frames[s.win.origin + gap + 1];
        let yaw = clip.raw[s.win.origin].yaw_rad;
        extra.extend_from_slice(&interp_extra(last, yaw, after, gap, h));
        let base = interp_base(last, after, gap);
        for step in 0..h {
            for j in 0..NUM_JOINTS {
                if step < gap {
                    let p = clip.frames[s.win.origin + 1 + step];
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
    let x = t2(x, [b, dim], device);
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
fn validate(
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

/// k-means over the motif embeddings of the training recordings (and their mirror
/// images), and the code map mirrored clips induce.
fn build_vocab(model: &Model, recordings: &[Vec<PoseFrame>], seed: u64) -> Result<MotifVocab, TrainError> {
    let cfg = &model.config;
    let d = cfg.d_model;
    let mut emb = Vec::new();
    for r in recordings {
        for clip in [
            r.clone(),
            r.iter().map(a4mer_runtime::model::features::mirror_frame).collect(),
        ] {
            emb.extend(report::clip_embeddings(model, &clip)?);
        }
    }
    if emb.len() < cfg.n_motifs * d {
        return Err(TrainError::Data(format!(
            "only {} motif embeddings for {} codes",
            emb.len() / d,
            cfg.n_motifs
        )));
    }
    let mut rng = rng_for(seed, 3, 0);
    let centroids = kmeans::kmeans(&emb, d, cfg.n_motifs, 40, &mut rng);
    let n = emb.len() / d;
    let mean_d2: f32 = (0..n)
        .map(|i| kmeans::nearest(&centroids, d, &emb[i * d..(i + 1) * d]).1)
        .sum::<f32>()
        / n as f32;
    let mut vocab = MotifVocab {
        k: cfg.n_motifs,
        d,
        centroids,
        temperature: mean_d2.max(1e-6),
        mirror_of: (0..cfg.n_motifs as u32).collect(),
    };
    // Mirror map: the code a mirrored clip gets, frame by frame, most often.
    let mut m = model.clone();
    m.vocab = vocab.clone();
    let mut co = vec![0u64; cfg.n_motifs * cfg.n_motifs];
    for r in recordings {
        let a = report::frame_motifs(&m, r)?;
        let mir: Vec<PoseFrame> = r.iter().map(a4mer_runtime::model::features::mirror_frame).collect();
        let b = report::frame_motifs(&m, &mir)?;
        for (x, y) in a.iter().zip(&b) {
            if let (Some(x), Some(y)) = (x, y) {
                co[x * cfg.n_motifs + y] += 1;
            }
        }
    }
    for k in 0..cfg.n_motifs {
        let row = &co[k * cfg.n_motifs..(k + 1) * cfg.n_motifs];
        if row.iter().any(|&c| c > 0) {
            let best = row
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
                .unwrap_or(k);
            vocab.mirror_of[k] = best as u32;
        }
    }
    Ok(vocab)
}

#[cfg(test)]
mod tests;
