//! Test fixtures that need no burn: a tiny config and a sealed artifact of it whose tensors
//! are filled from a fixed-seed sequence, so the artifact and engine tests also run in a
//! build without the `burn` feature (the node's build, and aarch64 under qemu in CI).

use std::collections::BTreeMap;

use super::MotifVocab;
use super::config::A4merConfig;
use super::features::NormStats;
use super::segment::SegmenterConfig;
use crate::artifact::{Artifact, Payload, Provenance, TensorRecord};
use crate::model::tensors::NamedTensor;
use crate::skeleton::Skeleton;

pub fn tiny_config() -> A4merConfig {
    A4merConfig {
        d_model: 16,
        n_heads: 2,
        d_ff: 32,
        atom_layers: 1,
        motif_layers: 2,
        segmenter: SegmenterConfig {
            l_min: 2,
            l_max: 6,
            tau: 0.5,
        },
        n_atoms: 4,
        horizon: 5,
        obs_frames: 20,
        n_motifs: 4,
        motif_span: 2,
        motif_lookahead_frames: 3,
        head_hidden: 32,
    }
}

/// An f32 artifact of `config` with every tensor the config lists (values in ±0.1 from a
/// 64-bit LCG seeded by `seed`), the identity normalisation and a zero vocabulary, as
/// `artifact::fresh_model` packs an untrained model, but without burn.
pub fn artifact_without_burn(config: A4merConfig, seed: u64) -> Artifact {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
    };
    let tensors: BTreeMap<String, TensorRecord> = config
        .tensor_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let values = (0..shape.iter().product::<usize>()).map(|_| next()).collect();
            (name, TensorRecord::from_f32(&NamedTensor { shape, values }))
        })
        .collect();
    let (k, d) = (config.n_motifs, config.d_model);
    Artifact {
        payload: Payload {
            skeleton: Skeleton::smpl24(),
            norm: NormStats::identity(config.horizon),
            vocab: MotifVocab {
                k,
                d,
                centroids: vec![0.0; k * d],
                temperature: 1.0,
                mirror_of: (0..k as u32).collect(),
            },
            tensors,
            provenance: Provenance {
                created_by: "test".into(),
                seed,
                damping_tau_s: Some(crate::stream::DAMPING_TAU_S),
                ..Default::default()
            },
            anticipation: None,
            interpolation: None,
            quantization: None,
            config,
        },
        // Without an anticipation prior it is written as the version before the prior.
        format_version: crate::artifact::ANTICIPATION_FORMAT_VERSION - 1,
    }
}

/// Stream `frames` frames of a synthetic person walking along x at 0.5 m/s through `engine`,
/// checking that every forecast is finite; returns how many frames gave one.
pub fn stream_walking(engine: &mut crate::stream::Engine, frames: i64) -> usize {
    let mut forecasts = 0;
    for t in 0..frames {
        let s = t as f32 / 30.0;
        let joints = std::array::from_fn(|j| {
            [
                0.5 * s + 0.01 * j as f32,
                0.05 * (s + j as f32).sin(),
                0.05 * j as f32 + 0.1,
            ]
        });
        let f = crate::PoseFrame::new(t * crate::frame_period_ns(1), joints, [true; crate::NUM_JOINTS]);
        let a = engine.push(&f).unwrap();
        assert!(
            a.forecast
                .iter()
                .all(|s| s.joints_in_world.iter().flatten().all(|c| c.is_finite()))
        );
        forecasts += usize::from(!a.forecast.is_empty());
    }
    forecasts
}
