//! Motif measurements: codes in use, usage entropy, and invariance of the motif sequence
//! under rotation and mirroring.

use a4mer_burn_model::Model;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::model::features::{mirror_frame, rotate_frame};
use serde::Serialize;

use super::TrainError;

/// Motif embeddings of every closed atom of a clip (row-major, `d` per atom).
pub fn clip_embeddings(model: &Model, frames: &[PoseFrame]) -> Result<Vec<f32>, TrainError> {
    let (_, e) = model
        .clip_motif_embeddings(frames)
        .map_err(|e| TrainError::Data(e.to_string()))?;
    Ok(e)
}

/// The current motif at every frame: the motif of the newest atom closed by then.
pub fn frame_motifs(model: &Model, frames: &[PoseFrame]) -> Result<Vec<Option<usize>>, TrainError> {
    let atoms = model.motifs(frames).map_err(|e| TrainError::Data(e.to_string()))?;
    let mut out = vec![None; frames.len()];
    let mut k = 0;
    let mut cur = None;
    for (t, o) in out.iter_mut().enumerate() {
        while k < atoms.len() && atoms[k].end_frame <= t {
            cur = Some(atoms[k].motif);
            k += 1;
        }
        *o = cur;
    }
    Ok(out)
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MotifReport {
    pub atoms: usize,
    pub mean_atom_frames: f64,
    pub codes: usize,
    pub codes_in_use: usize,
    /// Shannon entropy of code usage over atoms, bits (max log2(codes)).
    pub usage_entropy_bits: f64,
    pub max_entropy_bits: f64,
    /// Share of frames whose motif is the same on a copy rotated about the vertical axis.
    pub rotated_agreement: f64,
    /// Share of frames whose motif on the mirrored copy is the mirror code of the original's.
    pub mirrored_agreement: f64,
    /// The same, without the mirror code map (identity), for reference.
    pub mirrored_identity_agreement: f64,
}

fn agreement(a: &[Option<usize>], b: &[Option<usize>], map: impl Fn(usize) -> usize) -> (u64, u64) {
    let mut same = 0;
    let mut n = 0;
    for (x, y) in a.iter().zip(b) {
        if let (Some(x), Some(y)) = (x, y) {
            n += 1;
            if map(*x) == *y {
                same += 1;
            }
        }
    }
    (same, n)
}

/// Measure motif usage and invariance on clips (e.g. the held-out split).
pub fn motif_report(model: &Model, clips: &[&[PoseFrame]]) -> Result<MotifReport, TrainError> {
    let k = model.config.n_motifs;
    let mut counts = vec![0u64; k];
    let mut atoms = 0usize;
    let mut frames_in_atoms = 0usize;
    let (mut rs, mut rn, mut ms, mut mn, mut is, mut inn) = (0, 0, 0, 0, 0, 0);
    for clip in clips {
        for a in model.motifs(clip).map_err(|e| TrainError::Data(e.to_string()))? {
            counts[a.motif] += 1;
            atoms += 1;
            frames_in_atoms += a.end_frame - a.start_frame;
        }
        let orig = frame_motifs(model, clip)?;
        let rotated: Vec<PoseFrame> = clip
            .iter()
            .map(|f| {
                let mut r = rotate_frame(f, 1.1);
                for p in r.joints_in_world.iter_mut() {
                    p[0] += 2.0;
                    p[1] -= 1.0;
                }
                r
            })
            .collect();
        let (s, n) = agreement(&orig, &frame_motifs(model, &rotated)?, |x| x);
        rs += s;
        rn += n;
        let mirrored: Vec<PoseFrame> = clip.iter().map(mirror_frame).collect();
        let mo = frame_motifs(model, &mirrored)?;
        let (s, n) = agreement(&orig, &mo, |x| model.vocab.mirror_of[x] as usize);
        ms += s;
        mn += n;
        let (s, n) = agreement(&orig, &mo, |x| x);
        is += s;
        inn += n;
    }
    let total: u64 = counts.iter().sum();
    let entropy = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.log2()
        })
        .sum();
    let frac = |s: u64, n: u64| if n == 0 { 0.0 } else { s as f64 / n as f64 };
    Ok(MotifReport {
        atoms,
        mean_atom_frames: frames_in_atoms as f64 / atoms.max(1) as f64,
        codes: k,
        codes_in_use: counts.iter().filter(|c| **c > 0).count(),
        usage_entropy_bits: entropy,
        max_entropy_bits: (k as f64).log2(),
        rotated_agreement: frac(rs, rn),
        mirrored_agreement: frac(ms, mn),
        mirrored_identity_agreement: frac(is, inn),
    })
}
