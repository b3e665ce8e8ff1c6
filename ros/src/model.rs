//! The model the node and replay run: a file named by the `model` parameter, or the one
//! built into the binary, loaded into the engine's own network (no burn).

use std::path::Path;
use std::sync::Arc;

use a4mer_runtime::artifact::ArtifactError;
use a4mer_runtime::stream::{EngineError, StreamLoadError, StreamModel};

/// The model the node runs when the `model` parameter is empty.
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../../models/a4mer-small-int8.a4m");
pub const BUNDLED_MODEL_NAME: &str = "a4mer-small-int8.a4m (bundled)";

/// Why the `model` parameter gave no model.
#[derive(Debug, thiserror::Error)]
pub enum ModelLoadError {
    #[error("parameter `model`: cannot read {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("parameter `model`: {0}")]
    Artifact(ArtifactError),
    #[error("parameter `model`: {0}")]
    Engine(EngineError),
}

impl From<StreamLoadError> for ModelLoadError {
    fn from(e: StreamLoadError) -> Self {
        match e {
            StreamLoadError::Artifact(e) => Self::Artifact(e),
            StreamLoadError::Engine(e) => Self::Engine(e),
        }
    }
}

/// The artifact's bytes and the name errors and diagnostics use: `path`, or the model built
/// into the binary when `None`.
pub fn model_bytes(path: Option<&Path>) -> Result<(Vec<u8>, String), ModelLoadError> {
    Ok(match path {
        Some(p) => (
            std::fs::read(p).map_err(|cause| ModelLoadError::Read {
                path: p.display().to_string(),
                cause,
            })?,
            p.display().to_string(),
        ),
        None => (BUNDLED_MODEL.to_vec(), BUNDLED_MODEL_NAME.to_string()),
    })
}

/// A model ready for the engine, with what identifies it in diagnostics.
#[derive(Clone, Debug)]
pub struct LoadedModel {
    pub stream: Arc<StreamModel>,
    pub origin: String,
    pub sha256_hex: String,
}

impl LoadedModel {
    /// `path`, or the bundled model when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ModelLoadError> {
        let (bytes, origin) = model_bytes(path)?;
        let sha256_hex = a4mer_runtime::digest::sha256_hex(&bytes);
        // The engine's own network, filled from the tensors by name: no burn in the node.
        Ok(Self {
            stream: Arc::new(StreamModel::from_bytes(&bytes, &origin)?),
            origin,
            sha256_hex,
        })
    }
}
