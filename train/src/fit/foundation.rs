//! Training on top of another model's pre-trained encoders: a user with a few recordings of
//! their own cell starts from the encoders (and the normalisation they were trained with) of
//! a model pre-trained on a larger corpus, and trains only the heads, the motif vocabulary
//! and the calibrated decode on their data. No pre-training runs.

use a4mer_burn_model::fresh_model;
use a4mer_burn_model::nn::A4mer;
use a4mer_burn_model::{Model, params};
use a4mer_runtime::model::features::NormStats;
use burn::tensor::Device;

use super::{TrainConfig, TrainError};

/// Modules trained only by the heads' losses: never taken from the foundation.
const HEADS: [&str; 3] = ["forecast.", "next_motif.", "interp."];

/// A trained model a run starts from instead of pre-training.
pub struct Foundation<'a> {
    pub model: &'a Model,
    /// Keep the foundation's normalisation but initialise the encoders from the seed, as a
    /// run without pre-training would: the transfer ablation's baseline.
    pub random_encoders: bool,
}

impl Foundation<'_> {
    /// Refuse a foundation whose network is not the one `cfg` trains, or a run that would
    /// also pre-train.
    pub(super) fn check(&self, cfg: &TrainConfig) -> Result<(), TrainError> {
        if cfg.pretrain_epochs > 0 {
            return Err(TrainError::Data(format!(
                "a run on a foundation's encoders does not pre-train; {} pre-training epochs were asked for",
                cfg.pretrain_epochs
            )));
        }
        let mut theirs = self.model.config.clone();
        theirs.segmenter.tau = cfg.model.segmenter.tau;
        if theirs != cfg.model {
            return Err(TrainError::Data(
                "the foundation model's network (width, layers, heads, horizon, segmenter) is not the one this run trains".into(),
            ));
        }
        Ok(())
    }

    /// The normalisation the run trains with: the foundation's, without its decode (fitted
    /// again on this run's data).
    pub(super) fn norm(&self) -> NormStats {
        let mut norm = self.model.norm.clone();
        norm.decode = None;
        norm
    }

    /// The segmentation threshold, if the encoders are the foundation's.
    pub(super) fn tau(&self) -> Option<f32> {
        (!self.random_encoders).then_some(self.model.config.segmenter.tau)
    }

    /// The network the run starts from: heads initialised from the seed as in any run, and
    /// the foundation's encoders, atom decoder, frame predictor and pretext heads unless
    /// `random_encoders`.
    pub(super) fn start_net(&self, cfg: &TrainConfig, device: &Device) -> Result<A4mer, TrainError> {
        let fresh = fresh_model(cfg.model.clone(), cfg.seed, device).net;
        if self.random_encoders {
            return Ok(fresh);
        }
        let mut tensors = params::named_tensors(&fresh);
        for (name, t) in params::named_tensors(&self.model.net) {
            if !HEADS.iter().any(|h| name.starts_with(h)) {
                tensors.insert(name, t);
            }
        }
        params::fill(fresh, &tensors, device)
            .map_err(|e| TrainError::Data(format!("the foundation model's encoders do not fit this network: {e}")))
    }
}
