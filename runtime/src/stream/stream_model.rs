//! A loaded model prepared for streaming: the engine's kernels, the normalisation and the
//! motif vocabulary, shared by every track. Built from an artifact (what the node does), or
//! by `a4mer-burn-model` from a loaded burn model through [`StreamModel::from_parts`]
//! (training, evaluation, calibration and the parity tests).

use std::path::Path;

use crate::artifact::{Artifact, ArtifactError, DampingTau, anticipation_note};
use crate::model::config::A4merConfig;
use crate::model::features::NormStats;
use crate::model::native::NativeNet;
use crate::model::{AnticipationPrior, MotifVocab};
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
    /// τ of the guard's damped-velocity source, and whether the model stated it.
    pub(super) damping_tau: DampingTau,
    /// The next-motif prior; without one the engine publishes "it stays".
    pub(super) anticipation: Option<AnticipationPrior>,
}

/// Why an artifact did not become a [`StreamModel`]: the file (every check the loader
/// makes), or a model this engine cannot run. Kept apart so callers report each as before.
#[derive(Debug, thiserror::Error)]
pub enum StreamLoadError {
    #[error(transparent)]
    Artifact(ArtifactError),
    #[error(transparent)]
    Engine(EngineError),
}

impl StreamModel {
    /// The engine over `net`, checked against the engine's fixed capacities.
    pub fn from_parts(
        net: NativeNet,
        config: A4merConfig,
        norm: NormStats,
        vocab: MotifVocab,
    ) -> Result<Self, EngineError> {
        check_capacity(&config)?;
        let trained = norm.trained_joints();
        Ok(Self {
            net,
            trained,
            trained_count: trained.iter().filter(|t| **t).count(),
            sources: norm.forecast_sources(),
            config,
            norm,
            vocab,
            damping_tau: DampingTau::Default(super::DAMPING_TAU_S),
            anticipation: None,
        })
    }

    /// The next-motif prior the engine mixes with the head (checked against the vocabulary
    /// here too, so a prior from elsewhere cannot index past it).
    pub fn with_anticipation(mut self, prior: Option<AnticipationPrior>) -> Result<Self, EngineError> {
        if let Some(p) = &prior {
            p.check(self.config.n_motifs)
                .map_err(|e| EngineError::Anticipation(e.to_string()))?;
        }
        self.anticipation = prior;
        Ok(self)
    }

    pub fn anticipation(&self) -> Option<&AnticipationPrior> {
        self.anticipation.as_ref()
    }

    /// What to tell a user once when the motifs are published as "it stays" for want of a
    /// prior.
    pub fn anticipation_note(&self) -> Option<String> {
        anticipation_note(self.anticipation.as_ref())
    }

    /// The damped-velocity τ a model's provenance gives (checked at load); built from parts
    /// or from burn modules, a model has the documented default until told.
    pub fn with_damping_tau(mut self, tau: DampingTau) -> Self {
        self.damping_tau = tau;
        self
    }

    pub fn damping_tau(&self) -> DampingTau {
        self.damping_tau
    }

    /// The engine's view of a checked artifact, without burn: the network filled from the
    /// tensors by name, int8 kernels for the layers an int8 artifact quantized. Every check
    /// `Artifact::into_model` makes is made here too, in the same order.
    pub fn from_artifact(art: &Artifact, origin: &str) -> Result<Self, StreamLoadError> {
        let p = &art.payload;
        let (tensors, int8) = art.weights(origin).map_err(StreamLoadError::Artifact)?;
        let mut net = NativeNet::from_tensors(&tensors, &p.config).map_err(|cause| {
            StreamLoadError::Artifact(ArtifactError::Tensors {
                origin: origin.into(),
                cause,
            })
        })?;
        if let Some(q) = &int8 {
            net.set_int8(q).map_err(|message| {
                StreamLoadError::Artifact(ArtifactError::Quant {
                    origin: origin.into(),
                    message,
                })
            })?;
        }
        Self::from_parts(net, p.config.clone(), p.norm.clone(), p.vocab.clone())
            .map_err(StreamLoadError::Engine)?
            .with_damping_tau(art.damping_tau())
            .with_anticipation(p.anticipation.clone())
            .map_err(StreamLoadError::Engine)
    }

    /// An artifact's bytes (`origin` names them in errors).
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, StreamLoadError> {
        let art = Artifact::from_bytes(bytes, origin).map_err(StreamLoadError::Artifact)?;
        Self::from_artifact(&art, origin)
    }

    /// An `.a4m` file.
    pub fn load(path: &Path) -> Result<Self, StreamLoadError> {
        let art = Artifact::load(path).map_err(StreamLoadError::Artifact)?;
        Self::from_artifact(&art, &path.display().to_string())
    }

    /// Whether any layer runs in int8.
    pub fn is_int8(&self) -> bool {
        self.net.int8_layers() > 0
    }

    pub fn config(&self) -> &A4merConfig {
        &self.config
    }

    pub fn net(&self) -> &NativeNet {
        &self.net
    }
}

/// The engine's buffers are fixed-size (`heapless`): a config beyond them cannot stream.
pub fn check_capacity(c: &A4merConfig) -> Result<(), EngineError> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../models")
            .join(name)
    }

    #[test]
    fn the_shipped_models_load_and_stream_without_burn() {
        use crate::stream::{Engine, EngineConfig};
        for (name, int8) in [("a4mer-small.a4m", false), ("a4mer-small-int8.a4m", true)] {
            let m = std::sync::Arc::new(StreamModel::load(&shipped(name)).unwrap());
            assert_eq!(m.is_int8(), int8, "{name}");
            let mut e = Engine::new(m, EngineConfig::default()).unwrap();
            let forecasts = crate::model::test_support::stream_walking(&mut e, 120);
            assert!(forecasts > 60, "{name}: {forecasts}");
        }
    }

    #[test]
    fn without_a_prior_the_motifs_stay_and_with_one_they_move() {
        use crate::stream::{Engine, EngineConfig, MotifBasis};
        let base = StreamModel::load(&shipped("a4mer-small.a4m")).unwrap();
        let k = base.config().n_motifs;
        // 1 % per 0.1 s over 10 s: a change within 0.5 s at 5 %, close enough to the walk's
        // "it stays" not to lose to it live; the median (6.9 s) within range.
        let prior = AnticipationPrior::uniform(k, 0.01, 100, 6.9);
        let mut wrong = prior.clone();
        wrong.k += 1;
        assert!(matches!(
            StreamModel::load(&shipped("a4mer-small.a4m"))
                .unwrap()
                .with_anticipation(Some(wrong)),
            Err(EngineError::Anticipation(_))
        ));
        for (p, basis) in [(None, MotifBasis::StaysNoPrior), (Some(prior), MotifBasis::Model)] {
            let m = StreamModel::load(&shipped("a4mer-small.a4m"))
                .unwrap()
                .with_anticipation(p)
                .unwrap();
            assert_eq!(m.anticipation_note().is_some(), basis == MotifBasis::StaysNoPrior);
            let mut e = Engine::new(std::sync::Arc::new(m), EngineConfig::default()).unwrap();
            crate::model::test_support::stream_walking(&mut e, 120);
            let a = e.latest().unwrap();
            assert!(a.motif_now.is_some());
            assert_eq!(a.motif_next.basis, basis);
            match basis {
                MotifBasis::StaysNoPrior => {
                    assert_eq!(a.motif_next.top.as_slice(), &[(a.motif_now.unwrap().id, 1.0)]);
                    assert_eq!(a.motif_next.transition_in_s, None);
                }
                _ => {
                    assert!(a.motif_next.top.len() > 1);
                    assert!(a.motif_next.transition_in_s.is_some_and(f32::is_finite));
                }
            }
        }
    }

    #[test]
    fn a_bad_artifact_is_the_loaders_error() {
        let bytes = std::fs::read(shipped("a4mer-small.a4m")).unwrap();
        let e = StreamModel::from_bytes(&bytes[..bytes.len() / 2], "half").unwrap_err();
        assert!(matches!(e, StreamLoadError::Artifact(_)), "{e}");
    }
}
