//! Self-supervised pre-training and head fine-tuning of A4Mer.
//!
//! Pre-training (JEPA style): masked atom and masked motif prediction in latent space
//! against an EMA target encoder, an atom decoder reconstructing each segment's frames,
//! and the frame predictor whose error drives segmentation. Fine-tuning: the encoders are
//! frozen (so the motif vocabulary stays valid) and the forecast, next-motif and
//! interpolation heads are trained on their outputs. Optionally (`end_to_end`) encoders
//! and heads are then trained together, and the vocabulary rebuilt from the moved encoders.
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

mod decode;
mod end_to_end;
mod finetune;
mod foundation;
mod optim;
mod pretrain;
mod tensors;
mod vocab;

pub use decode::DecodeEdges;
pub use foundation::Foundation;

use std::path::Path;
use std::time::Instant;

use a4mer_burn_model::batch::WindowInput;
use a4mer_burn_model::device::{inference_device, training_device};
use a4mer_burn_model::fresh_model;
use a4mer_burn_model::nn::A4mer;
use a4mer_burn_model::{Model, params};
use a4mer_runtime::model::{A4merConfig, MotifVocab};
use a4mer_runtime::{NUM_JOINTS, PoseFrame};
use burn::module::Module;
use burn::optim::GradientsParams;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use dataset::{Clip, window_input, window_refs};
use finetune::heads_samples;
use finetune::{HeadData, encode_windows, finetune_loss, validate};
use optim::{adamw, cosine_lr, rng_for};
use pretrain::{calibrate_tau, dropout_mask, pretrain_loss, refresh_surprise};
use tensors::{scalar, t3};
use vocab::build_vocab;

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
    /// Also augment each bone's length and the source's frame rate (`dataset::augment`).
    #[serde(default)]
    pub augment_rig: bool,
    /// Regimes of the calibrated decode (`model::prior`).
    pub decode_edges: DecodeEdges,
    /// End-to-end fine-tuning: the encoders' learning rate as a share of the heads' in
    /// the epochs that train both after the heads are fitted on frozen encoders. 0 keeps
    /// the encoders frozen throughout.
    #[serde(default)]
    pub finetune_encoders_lr_scale: f64,
    /// Epochs of end-to-end fine-tuning (only when `finetune_encoders_lr_scale` > 0).
    #[serde(default)]
    pub finetune_encoders_epochs: usize,
}

impl TrainConfig {
    /// Whether the encoders are fine-tuned with the heads after the frozen stage.
    pub fn end_to_end(&self) -> bool {
        self.finetune_encoders_lr_scale > 0.0 && self.finetune_encoders_epochs > 0
    }

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
            augment_rig: false,
            decode_edges: DecodeEdges::default(),
            finetune_encoders_lr_scale: 0.0,
            finetune_encoders_epochs: 3,
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
    /// Training windows per regime of the calibrated decode (`model::prior`).
    #[serde(default)]
    pub decode_windows_per_regime: Vec<u64>,
    pub pretrain_terms: Vec<Vec<(String, f32)>>,
    pub finetune_epoch_loss: Vec<f32>,
    /// Validation world MPJPE (mm, mean over all 30 steps) per fine-tune epoch.
    pub val_mpjpe_mm: Vec<f32>,
    pub best_epoch: usize,
    /// Validation world MPJPE (mm) per end-to-end epoch, and the one kept (0: none beat
    /// the heads fitted on frozen encoders).
    #[serde(default)]
    pub encoder_finetune_val_mpjpe_mm: Vec<f32>,
    #[serde(default)]
    pub encoder_finetune_best_epoch: usize,
    pub tau: f32,
    pub windows: usize,
    pub wall_s: f64,
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

/// The training part of each recording, its augmented clips (deterministic for the seed)
/// and the validation clips (each recording's end).
struct TrainingClips {
    train_recs: Vec<Vec<PoseFrame>>,
    clips: Vec<Clip>,
    val_clips: Vec<Clip>,
}

fn training_clips(recordings: &[Vec<PoseFrame>], cfg: &TrainConfig) -> Result<TrainingClips, TrainError> {
    let mcfg = &cfg.model;
    let (train_recs, val_recs) = split_train_val(recordings, cfg.val_fraction);
    let mut rng = rng_for(cfg.seed, 0, 0);
    let mut clips = Vec::new();
    for r in &train_recs {
        let variants = if cfg.augment {
            dataset::augment(r, cfg.augment_rig, &mut rng)
        } else {
            vec![r.clone()]
        };
        // A short take slowed down can still fill a window; one sped up may not.
        clips.extend(dataset::clips_with_a_window(variants, mcfg)?);
    }
    if clips.is_empty() {
        return Err(TrainError::Data(format!(
            "no recording has {} frames ({} s) in its training part",
            mcfg.obs_frames + mcfg.horizon + 1,
            (mcfg.obs_frames + mcfg.horizon + 1) as f32 / 30.0
        )));
    }
    let val_clips = dataset::clips_with_a_window(val_recs, mcfg)?;
    Ok(TrainingClips {
        train_recs,
        clips,
        val_clips,
    })
}

/// Refit only the calibrated decode of a trained `model` on the training windows of
/// `recordings`, augmented as `cfg` would for training (same seed, same clips): the
/// network, vocabulary and normalisation stay as they are.
pub fn refit_decode(
    model: &mut Model,
    recordings: &[Vec<PoseFrame>],
    cfg: &TrainConfig,
) -> Result<Vec<u64>, TrainError> {
    let TrainingClips {
        train_recs, mut clips, ..
    } = training_clips(recordings, cfg)?;
    let inner = inference_device();
    let samples = heads_samples(model, &mut clips, cfg, &inner);
    decode::fit_decode_with_slowed(model, clips, samples, &train_recs, cfg, &inner)
}

/// For each sample, the motif code of the window `motif_lookahead_frames` later on the
/// same clip (the next-motif head's target), if there is one.
fn next_codes(samples: &[finetune::HeadSample], config: &A4merConfig, stride: usize) -> Vec<Option<usize>> {
    let look = config.motif_lookahead_frames / stride.max(1);
    (0..samples.len())
        .map(|i| {
            let j = i + look;
            (j < samples.len()
                && samples[j].win.clip == samples[i].win.clip
                && samples[j].win.origin == samples[i].win.origin + config.motif_lookahead_frames)
                .then(|| samples[j].motif_now)
                .flatten()
        })
        .collect()
}

/// Train a model on the training recordings (frames already at 30 Hz, canonical).
pub fn train(
    recordings: &[Vec<PoseFrame>],
    cfg: &TrainConfig,
    checkpoint_path: Option<&Path>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Model, TrainReport), TrainError> {
    train_from(recordings, cfg, None, checkpoint_path, progress)
}

/// [`train`], or with a `foundation` its heads, vocabulary and decode on the foundation's
/// encoders and normalisation, without pre-training (and without checkpoints: the run is
/// the heads' stage alone).
pub fn train_from(
    recordings: &[Vec<PoseFrame>],
    cfg: &TrainConfig,
    foundation: Option<&Foundation>,
    checkpoint_path: Option<&Path>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Model, TrainReport), TrainError> {
    let started = Instant::now();
    let mcfg = &cfg.model;
    let device = training_device();
    let inner = inference_device();
    if let Some(f) = foundation {
        f.check(cfg)?;
    }
    let checkpoint_path = checkpoint_path.filter(|_| foundation.is_none());
    let TrainingClips {
        train_recs,
        mut clips,
        val_clips,
    } = training_clips(recordings, cfg)?;
    let norm = match foundation {
        Some(f) => f.norm(),
        None => dataset::fit_norm(&clips, mcfg.horizon),
    };

    let mut report = TrainReport::default();
    let mut net = match foundation {
        Some(f) => f.start_net(cfg, &device)?,
        None => fresh_model(mcfg.clone(), cfg.seed, &device).net,
    };
    let mut target = net.valid();
    let mut opt = adamw().init();
    let mut start_epoch = 0;
    let mut stage_done = 0u8;
    let mut tau = mcfg.segmenter.tau;
    if let Some(p) = checkpoint_path.filter(|p| p.exists()) {
        if cfg.end_to_end() {
            return Err(TrainError::Checkpoint {
                path: p.display().to_string(),
                message: "resuming is not supported with end-to-end fine-tuning of the encoders \
                          (--finetune-encoders-lr-scale > 0): its stage keeps no checkpoint; delete it to start over"
                    .into(),
            });
        }
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
    let frozen = net.valid();
    refresh_surprise(&frozen, &mut clips, &norm, &inner);
    if let Some(t) = foundation.and_then(Foundation::tau) {
        tau = t;
    } else if cfg.pretrain_epochs == 0 {
        // Without pre-training (the ablation's baseline) the threshold is still placed on
        // this network's surprise, as pre-training would have placed it.
        tau = calibrate_tau(&clips, cfg.tau_quantile);
    }
    report.tau = tau;
    let mut config = mcfg.clone();
    config.segmenter.tau = tau;
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
        anticipation: None,
        interpolation: None,
    };
    model.vocab = build_vocab(&model, &train_recs, cfg.seed)?;

    // ---- Stage 2: head fine-tuning on frozen encoders ----
    let mut ft_net = if stage_done == 1 {
        net
    } else {
        model.net.clone().train()
    };
    if stage_done == 0 {
        opt = adamw().init();
    }
    let refs = window_refs(&clips, config.obs_frames, config.horizon + 1, cfg.finetune_stride);
    let mut samples = encode_windows(&model, &clips, &refs);
    let next_of = next_codes(&samples, &config, cfg.finetune_stride);
    let val_refs = window_refs(&val_clips, config.obs_frames, config.horizon + 1, 5);
    let val_samples = encode_windows(&model, &val_clips, &val_refs);
    let h = config.horizon;
    let disp_std = t3(norm.disp_std.clone(), [1, h, 3], &device)
        .reshape([1, h, 1, 3])
        .repeat_dim(2, NUM_JOINTS)
        .reshape([1, h * NUM_JOINTS, 3]);
    let heads = HeadData {
        clips: &clips,
        cfg: &config,
        norm: &norm,
        disp_std: &disp_std,
        device: &device,
    };
    let mut best: Option<(f32, A4mer)> = None;
    for epoch in start_epoch..cfg.finetune_epochs {
        let mut erng = rng_for(cfg.seed, 2, epoch as u64);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        order.shuffle(&mut erng);
        let steps = order.len().div_ceil(cfg.batch);
        let t0 = Instant::now();
        let mut sum = 0.0f32;
        let lr = cosine_lr(cfg.finetune_lr, epoch, cfg.finetune_epochs);
        for (step, chunk) in order.chunks(cfg.batch).enumerate() {
            let (loss, terms) = finetune_loss(&ft_net, &samples, &next_of, chunk, &heads, &mut erng);
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
    let (best_val, final_net) = match best {
        Some(b) => b,
        None => (f32::NAN, ft_net.valid()),
    };
    // The heads come from fine-tuning; the encoders are the frozen pre-trained ones (same values).
    model.net = final_net;
    if cfg.end_to_end() {
        let setup = end_to_end::Setup {
            cfg,
            heads,
            inner: &inner,
        };
        model.net = end_to_end::finetune_encoders(&setup, &model, best_val, &val_clips, &mut report, progress);
        if report.encoder_finetune_best_epoch > 0 {
            // The encoders moved: new codes from their embeddings, and the next-motif head
            // (the only head that reads codes) refitted on them.
            model.vocab = build_vocab(&model, &train_recs, cfg.seed)?;
            samples = encode_windows(&model, &clips, &refs);
            let next_of = next_codes(&samples, &config, cfg.finetune_stride);
            let epochs = cfg.finetune_epochs.div_ceil(3);
            model.net = end_to_end::refit_next_motif(&setup, model.net.clone(), &samples, &next_of, epochs, progress);
        }
    }
    report.decode_windows_per_regime =
        decode::fit_decode_with_slowed(&mut model, clips, samples, &train_recs, cfg, &inner)?;
    report.wall_s = started.elapsed().as_secs_f64();
    Ok((model, report))
}

#[cfg(test)]
mod tests;
