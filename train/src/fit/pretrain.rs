//! Pre-training: the masked atom and motif losses against the EMA target, the atom
//! decoder's reconstruction, the frame predictor, and the surprise threshold it sets.

use a4mer_burn_model::batch::{Batch, WindowInput};
use a4mer_burn_model::host;
use a4mer_burn_model::nn::A4mer;
use a4mer_runtime::NUM_JOINTS;
use a4mer_runtime::model::features::{CONT_DIM, FEAT_DIM, NormStats, POSE_DIM};
use a4mer_runtime::model::{self, A4merConfig};
use burn::tensor::{Device, Tensor};
use rand::Rng;

use super::dataset::Clip;
use super::tensors::{ints, t2, t3};

/// Standardize each row (a parameter-free layer norm) for latent targets.
fn standardize(x: Tensor<2>) -> Tensor<2> {
    let mean = x.clone().mean_dim(1);
    let c = x - mean;
    let var = c.clone().powi_scalar(2).mean_dim(1);
    c / (var + 1e-5).sqrt()
}

/// Recompute every clip's surprise with the current frame predictor.
pub(super) fn refresh_surprise(net: &A4mer, clips: &mut [Clip], norm: &NormStats, device: &Device) {
    for c in clips.iter_mut() {
        let mut feats = vec![[0.0f32; FEAT_DIM]; c.raw.len()];
        for (f, o) in c.raw.iter().zip(feats.iter_mut()) {
            norm.normalize_feat(f, o);
        }
        c.surprise = a4mer_burn_model::surprise(net, &feats, device);
    }
}

pub(super) fn calibrate_tau(clips: &[Clip], q: f32) -> f32 {
    let mut all: Vec<f32> = clips.iter().flat_map(|c| c.surprise.iter().skip(2).copied()).collect();
    if all.is_empty() {
        return 1.0;
    }
    all.sort_by(f32::total_cmp);
    all[((all.len() - 1) as f32 * q) as usize]
}

pub(super) fn dropout_mask(rng: &mut impl Rng, p: f64) -> [bool; NUM_JOINTS] {
    // The pelvis is never dropped: the model needs it (and so does every caller).
    std::array::from_fn(|j| j != 0 && p > 0.0 && rng.random_bool(p))
}

/// Pre-training losses for one batch. Returns (total, named terms).
#[allow(clippy::too_many_arguments)]
pub(super) fn pretrain_loss(
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
