//! A loaded model prepared for streaming: the engine's kernels, the normalisation and the
//! motif vocabulary, shared by every track.

use std::sync::Arc;

use crate::model::Model;
use crate::model::MotifVocab;
use crate::model::features::NormStats;
use crate::model::native::NativeNet;
use crate::model::nn::A4merConfig;
use crate::pose::NUM_JOINTS;

use super::engine::{EngineError, MAX_ATOMS, MAX_HORIZON, MAX_SEGMENT};

/// A loaded model prepared for streaming, shared by every track.
#[derive(Debug)]
pub struct StreamModel {
    pub(super) net: NativeNet,
    pub(super) config: A4merConfig,
    pub(super) norm: NormStats,
    pub(super) vocab: MotifVocab,
    /// Joints the training data had (see [`NormStats::trained_joints`]), and how many.
    pub(super) trained: [bool; NUM_JOINTS],
    pub(super) trained_count: usize,
    /// The joint whose forecast each joint follows (see [`NormStats::forecast_sources`]).
    pub(super) sources: [usize; NUM_JOINTS],
}

impl StreamModel {
    /// The engine's view of a loaded model: int8 kernels for the layers an int8 artifact
    /// quantized, f32 for everything else.
    pub fn new(model: &Model) -> Result<Self, EngineError> {
        let mut s = Self::new_f32(model)?;
        if let Some(q) = &model.quant {
            s.net.set_int8(q).map_err(EngineError::Int8)?;
        }
        Ok(s)
    }

    /// Calibration: the f32 engine with an observer on every layer's input (by layer name).
    pub fn observed(
        model: &Model,
    ) -> Result<
        (
            Self,
            std::collections::BTreeMap<String, Arc<crate::model::quant::ActObserver>>,
        ),
        EngineError,
    > {
        let mut s = Self::new_f32(model)?;
        let obs = s.net.observe();
        Ok((s, obs))
    }

    /// Whether any layer runs in int8.
    pub fn is_int8(&self) -> bool {
        self.net.int8_layers() > 0
    }

    fn new_f32(model: &Model) -> Result<Self, EngineError> {
        let c = &model.config;
        for (field, value, max) in [
            ("segmenter.l_max", c.segmenter.l_max, MAX_SEGMENT),
            ("n_atoms", c.n_atoms, MAX_ATOMS),
            ("horizon", c.horizon, MAX_HORIZON),
            ("n_motifs", c.n_motifs, u16::MAX as usize),
        ] {
            if value > max {
                return Err(EngineError::Capacity { field, value, max });
            }
        }
        let trained = model.norm.trained_joints();
        Ok(Self {
            net: NativeNet::from_burn(&model.net, c),
            config: c.clone(),
            norm: model.norm.clone(),
            vocab: model.vocab.clone(),
            trained,
            trained_count: trained.iter().filter(|t| **t).count(),
            sources: model.norm.forecast_sources(),
        })
    }

    pub fn config(&self) -> &A4merConfig {
        &self.config
    }

    pub fn net(&self) -> &NativeNet {
        &self.net
    }
}
