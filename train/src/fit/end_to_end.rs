//! End-to-end fine-tuning: once the heads are fitted on frozen encoders, the atom and
//! motif encoders are trained together with the heads on the heads' own losses (the
//! encoders at a reduced learning rate), so what the encoders learnt is shaped by what
//! the forecast needs. The encoders then no longer give the embeddings the motif
//! vocabulary was clustered on, so the caller rebuilds it from the moved encoders and
//! `refit_next_motif` refits the next-motif head on the new codes, everything else frozen.

use a4mer_burn_model::Model;
use a4mer_burn_model::batch::{Batch, WindowInput};
use a4mer_burn_model::nn::A4mer;
use a4mer_runtime::NUM_JOINTS;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use rand::seq::SliceRandom;
use std::time::Instant;

use super::dataset::{Clip, WindowRef, window_input, window_refs};
use super::finetune::{HeadData, HeadSample, encode_windows, finetune_loss, head_loss, validate};
use super::optim::{adamw, cosine_lr, rng_for};
use super::tensors::scalar;
use super::{Progress, TrainConfig, TrainReport};

/// The heads' learning rate in the end-to-end epochs, as a share of `finetune_lr`: the
/// heads start there already fitted, so they are moved more gently than from scratch.
const HEAD_LR_SHARE: f64 = 0.5;

/// What both end-to-end steps share.
pub(super) struct Setup<'a> {
    pub cfg: &'a TrainConfig,
    pub heads: HeadData<'a>,
    pub inner: &'a Device,
}

/// Train encoders and heads together for `cfg.finetune_encoders_epochs` epochs, starting
/// from `model.net` (heads already fitted, validation MPJPE `start_val_mm`). Returns the
/// network with the best validation MPJPE, which is the starting one if no epoch beats it.
pub(super) fn finetune_encoders(
    s: &Setup,
    model: &Model,
    start_val_mm: f32,
    val_clips: &[Clip],
    report: &mut TrainReport,
    progress: &mut dyn FnMut(&Progress),
) -> A4mer {
    let (cfg, config, h) = (s.cfg, s.heads.cfg, &s.heads);
    let epochs = cfg.finetune_encoders_epochs;
    let refs = window_refs(h.clips, config.obs_frames, config.horizon + 1, cfg.finetune_stride);
    let val_refs = window_refs(val_clips, config.obs_frames, config.horizon + 1, 5);
    let none = [false; NUM_JOINTS];
    let mut net = model.net.clone().train();
    let mut opt = adamw().init();
    let mut best = (start_val_mm, model.net.clone());
    let mut probe = model.clone();
    for epoch in 0..epochs {
        let mut erng = rng_for(cfg.seed, 4, epoch as u64);
        let mut order: Vec<WindowRef> = refs.clone();
        order.shuffle(&mut erng);
        let steps = order.len().div_ceil(cfg.batch);
        let lr = cosine_lr(cfg.finetune_lr * HEAD_LR_SHARE, epoch, epochs);
        let t0 = Instant::now();
        for (step, chunk) in order.chunks(cfg.batch).enumerate() {
            let inputs: Vec<WindowInput> = chunk
                .iter()
                .map(|w| window_input(&h.clips[w.clip], w.origin, config, h.norm, &none))
                .collect();
            let batch = Batch::build(&inputs, config.n_atoms, h.device);
            let x = net.encode(&batch).head_input(&batch);
            // The codes are rebuilt after this stage, so the next-motif head is not trained here.
            let next = vec![None; chunk.len()];
            let (loss, terms) = head_loss(&net, x, chunk, &next, h, &mut erng);
            let lv = scalar(loss.clone());
            let mut grads = loss.backward();
            let atom = GradientsParams::from_module(&mut grads, &net.atom);
            let motif = GradientsParams::from_module(&mut grads, &net.motif);
            let heads = GradientsParams::from_grads(grads, &net);
            // AdamW keeps its moments per parameter, so one optimizer steps the disjoint
            // groups at their own rates.
            net = opt.step(lr, net, heads);
            net = opt.step(lr * cfg.finetune_encoders_lr_scale, net, atom);
            net = opt.step(lr * cfg.finetune_encoders_lr_scale, net, motif);
            let mut shown = vec![("loss", lv)];
            shown.extend(terms);
            progress(&Progress {
                stage: "end-to-end",
                epoch: epoch + 1,
                epochs,
                step: step + 1,
                steps,
                losses: &shown,
                windows_per_s: ((step + 1) * cfg.batch) as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            });
        }
        // Validation windows are re-encoded: the encoders moved.
        probe.net = net.valid();
        let val_samples = encode_windows(&probe, val_clips, &val_refs);
        let v = validate(&probe.net, &val_samples, val_clips, config, h.norm, s.inner);
        report.encoder_finetune_val_mpjpe_mm.push(v);
        if v < best.0 || !best.0.is_finite() {
            best = (v, probe.net.clone());
            report.encoder_finetune_best_epoch = epoch + 1;
        }
    }
    best.1
}

/// Fit only the next-motif head (on inputs and codes of the final encoders and
/// vocabulary), `epochs` epochs; every other parameter stays as it is.
pub(super) fn refit_next_motif(
    s: &Setup,
    net: A4mer,
    samples: &[HeadSample],
    next_of: &[Option<usize>],
    epochs: usize,
    progress: &mut dyn FnMut(&Progress),
) -> A4mer {
    let cfg = s.cfg;
    let mut net = net.train();
    let mut opt = adamw().init();
    for epoch in 0..epochs {
        let mut erng = rng_for(cfg.seed, 5, epoch as u64);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        order.shuffle(&mut erng);
        let steps = order.len().div_ceil(cfg.batch);
        let lr = cosine_lr(cfg.finetune_lr, epoch, epochs);
        let t0 = Instant::now();
        for (step, chunk) in order.chunks(cfg.batch).enumerate() {
            let (loss, terms) = finetune_loss(&net, samples, next_of, chunk, &s.heads, &mut erng);
            let mut grads = loss.backward();
            let head = GradientsParams::from_module(&mut grads, &net.next_motif);
            net = opt.step(lr, net, head);
            progress(&Progress {
                stage: "next-motif",
                epoch: epoch + 1,
                epochs,
                step: step + 1,
                steps,
                losses: &terms,
                windows_per_s: ((step + 1) * cfg.batch) as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            });
        }
    }
    net.valid()
}
