//! The artifact to and from the burn modules. The engine's loader
//! (`a4mer_runtime::stream::StreamModel::from_artifact`) makes the same checks in the same
//! order, so a file either loads both ways or neither.

use std::path::Path;
use std::sync::Arc;

use a4mer_runtime::artifact::{
    ANTICIPATION_FORMAT_VERSION, Artifact, ArtifactError, FORMAT_VERSION, Payload, Provenance, TensorRecord,
};
use a4mer_runtime::model::features::NormStats;
use a4mer_runtime::model::native::NativeNet;
use a4mer_runtime::model::{A4merConfig, MotifVocab};
use a4mer_runtime::skeleton::Skeleton;
use burn::tensor::Device;

use crate::{A4mer, Model, params};

/// An artifact packed from, or unpacked into, the burn modules.
pub trait BurnArtifact: Sized {
    /// Package a model.
    fn from_model(model: &Model, provenance: Provenance) -> Self;
    /// Build the modules from the config and fill them by tensor name; every shape is checked.
    fn into_model(self, device: &Device, origin: &str) -> Result<Model, ArtifactError>;
}

impl BurnArtifact for Artifact {
    fn from_model(model: &Model, provenance: Provenance) -> Self {
        let tensors = params::named_tensors(&model.net)
            .iter()
            .map(|(k, v)| (k.clone(), TensorRecord::from_f32(v)))
            .collect();
        Self {
            payload: Payload {
                config: model.config.clone(),
                skeleton: model.skeleton.clone(),
                norm: model.norm.clone(),
                vocab: model.vocab.clone(),
                tensors,
                provenance,
                anticipation: model.anticipation.clone(),
                interpolation: model.interpolation.clone(),
                quantization: None,
            },
            format_version: if model.anticipation.is_some() {
                FORMAT_VERSION
            } else {
                ANTICIPATION_FORMAT_VERSION - 1
            },
        }
    }

    fn into_model(self, device: &Device, origin: &str) -> Result<Model, ArtifactError> {
        if self.is_int8() && crate::device::is_libtorch(device) {
            return Err(ArtifactError::Int8OnLibtorch { origin: origin.into() });
        }
        let (tensors, int8) = self.weights(origin)?;
        let p = self.payload;
        // Cheap for any config that passed `validate` (bounded parameters and layers): burn
        // initializes parameters lazily, so nothing large is allocated before `fill` has
        // checked that the file carries every tensor with its exact shape.
        let net = A4mer::new(&p.config, device);
        let net = params::fill(net, &tensors, device).map_err(|cause| ArtifactError::Tensors {
            origin: origin.into(),
            cause,
        })?;
        let quant = match int8 {
            Some(int8) => {
                // The engine's layers must take every int8 layer; checked now, so a loaded
                // model always streams. `fill` accepted the tensors, so this fills too.
                let mut engine =
                    NativeNet::from_tensors(&tensors, &p.config).map_err(|cause| ArtifactError::Tensors {
                        origin: origin.into(),
                        cause,
                    })?;
                engine.set_int8(&int8).map_err(|message| ArtifactError::Quant {
                    origin: origin.into(),
                    message,
                })?;
                Some(Arc::new(int8))
            }
            None => None,
        };
        Ok(Model {
            net,
            config: p.config,
            norm: p.norm,
            vocab: p.vocab,
            skeleton: p.skeleton,
            device: device.clone(),
            quant,
            anticipation: p.anticipation,
            interpolation: p.interpolation,
        })
    }
}

/// Load a model from an `.a4m` file: all checks, then the modules.
pub fn load_model(path: &Path, device: &Device) -> Result<(Model, Provenance), ArtifactError> {
    let art = Artifact::load(path)?;
    let prov = art.payload.provenance.clone();
    let model = art.into_model(device, &path.display().to_string())?;
    Ok((model, prov))
}

/// A fresh, untrained model (deterministic for a seed). Used by training and tests.
pub fn fresh_model(config: A4merConfig, seed: u64, device: &Device) -> Model {
    let net = params::init_params(A4mer::new(&config, device), seed, device);
    let k = config.n_motifs;
    let d = config.d_model;
    Model {
        net,
        norm: NormStats::identity(config.horizon),
        vocab: MotifVocab {
            k,
            d,
            centroids: vec![0.0; k * d],
            temperature: 1.0,
            mirror_of: (0..k as u32).collect(),
        },
        skeleton: Skeleton::smpl24(),
        config,
        device: device.clone(),
        quant: None,
        anticipation: None,
        interpolation: None,
    }
}
