//! The motif vocabulary: k-means over the trained encoder's motif embeddings.

use a4mer_burn_model::Model;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::model::MotifVocab;

use super::kmeans;
use super::optim::rng_for;
use super::{TrainError, report};

/// k-means over the motif embeddings of the training recordings (and their mirror
/// images), and the code map mirrored clips induce.
pub(super) fn build_vocab(model: &Model, recordings: &[Vec<PoseFrame>], seed: u64) -> Result<MotifVocab, TrainError> {
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
