//! The `.a4m` model artifact: one CBOR document.
//!
//! ```text
//! envelope { magic: "a4mer-model", format_version: u32, payload: bytes, sha256: bytes[32] }
//! payload  { config, skeleton, norm, vocab, tensors: { name: { shape, values } }, provenance }
//! sha256 = SHA-256(format_version as u32 LE || payload)
//! ```
//! Version 2 adds `provenance.damping_tau_s`, the damped-velocity baseline's τ fitted on the
//! model's training recordings; version 1 files still load, with the documented default τ
//! ([`DAMPING_TAU_S`]) and [`Artifact::damping_tau`] saying so. Version 3 adds
//! `anticipation`, the next-motif prior ([`AnticipationPrior`]) fitted on the training
//! recordings; versions 1 and 2 still load, and their motifs are published as "it stays"
//! ([`anticipation_note`] says so). A model without a prior is written as version 2.
//! `interpolation` ([`InterpCalibration`]), optional in every version, says how the
//! interpolation head fills a gap of each length; a model without it fills with the head as
//! it was trained.
//!
//! Loading checks, in order: readable, CBOR envelope, magic, version, hash, payload, config,
//! skeleton, normalization, vocabulary, provenance, every tensor's dtype/length/shape against
//! the model built from the config. Each failure is its own [`ArtifactError`] variant; a model is
//! returned only when every check passed (never half-loaded).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{self, CodecError};
use crate::model::features::NormStats;
use crate::model::quant::{Int8Layer, Int8Weights};
use crate::model::tensors::{FillError, TensorMap};

/// The `quantization` section of an int8 artifact.
mod quantization;
/// One tensor's stored form (f32 or int8).
mod tensors;
use crate::model::interp::InterpCalibration;
use crate::model::{A4merConfig, AnticipationPrior, MotifVocab, PriorError};
use crate::skeleton::Skeleton;
use crate::stream::{DAMPING_TAU_S, damping_tau_is_valid};
pub use quantization::{ACTIVATIONS_DYNAMIC, ACTIVATIONS_STATIC, Quantization};
pub use tensors::{TensorRecord, TensorValues};

pub const MAGIC: &str = "a4mer-model";
/// The version this build writes.
pub const FORMAT_VERSION: u32 = 3;
/// The first version that requires the anticipation prior.
pub const ANTICIPATION_FORMAT_VERSION: u32 = 3;
/// The oldest version this build reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{path}: cannot read: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: cannot write: {cause}")]
    Write { path: String, cause: std::io::Error },
    #[error("{origin}: artifact is truncated (CBOR ends early at byte {offset})")]
    Truncated { origin: String, offset: usize },
    #[error("{origin}: not an a4mer artifact ({what}): {message}")]
    Malformed {
        origin: String,
        what: &'static str,
        message: String,
    },
    #[error("{origin}: magic is {found:?}, expected {MAGIC:?}")]
    Magic { origin: String, found: String },
    #[error(
        "{origin}: format version {found} is not supported (this build reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})"
    )]
    Version { origin: String, found: u32 },
    #[error(
        "{origin}: SHA-256 mismatch: payload hashes to {computed}, the artifact says {stored} (corrupt or tampered)"
    )]
    Hash {
        origin: String,
        stored: String,
        computed: String,
    },
    #[error("{origin}: invalid model config: {message}")]
    Config { origin: String, message: String },
    #[error("{origin}: invalid skeleton: {message}")]
    Skeleton { origin: String, message: String },
    #[error("{origin}: invalid normalization statistics: {message}")]
    Norm { origin: String, message: String },
    #[error("{origin}: invalid motif vocabulary: {message}")]
    Vocab { origin: String, message: String },
    #[error("{origin}: `provenance.{field}`: {message}")]
    Provenance {
        origin: String,
        field: &'static str,
        message: String,
    },
    #[error("{origin}: {cause}")]
    Anticipation { origin: String, cause: PriorError },
    #[error("{origin}: `interpolation`: {message}")]
    Interpolation { origin: String, message: String },
    #[error("{origin}: tensor `{name}`: {message}")]
    TensorData {
        origin: String,
        name: String,
        message: String,
    },
    #[error("{origin}: tensors do not fit the model built from its config: {cause}")]
    Tensors { origin: String, cause: FillError },
    #[error("{origin}: int8 quantization: {message}")]
    Quant { origin: String, message: String },
    #[error(
        "{origin}: this is an int8 artifact; the libtorch (tch) backend cannot run it (burn-tch has no quantized tensors). Run it on the ndarray backend (the engine's int8 kernels), or load the f32 model on tch"
    )]
    Int8OnLibtorch { origin: String },
    #[error("cannot encode artifact: {0}")]
    Encode(String),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    magic: String,
    format_version: u32,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    #[serde(with = "serde_bytes")]
    sha256: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    pub path: String,
    pub sha256: String,
    pub frames: u64,
}

/// Where a model came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub created_by: String,
    pub git_revision: String,
    pub data: Vec<DataFile>,
    pub seed: u64,
    pub pretrain_epochs: u32,
    pub finetune_epochs: u32,
    pub train_wall_s: f64,
    /// Evaluation on the held-out split (the JSON of `a4mer eval`), if it was run.
    pub eval_json: Option<String>,
    /// Free-form measurements (motif usage, invariance agreement, ...), JSON.
    pub notes_json: Option<String>,
    /// τ (s) of the damped-velocity baseline, fitted on the training recordings: the guard's
    /// fourth source and the evaluation's third baseline. Required from format version 2;
    /// absent in version 1 files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damping_tau_s: Option<f32>,
}

/// Where a model's damping τ came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DampingTau {
    /// Fitted on the model's training recordings and stored with it.
    Fitted(f32),
    /// The model predates the stored τ (format version 1): the documented default.
    Default(f32),
}

impl DampingTau {
    pub fn seconds(self) -> f32 {
        match self {
            DampingTau::Fitted(t) | DampingTau::Default(t) => t,
        }
    }

    /// What to tell a user once, for a model that predates the stored τ.
    pub fn note(self) -> Option<String> {
        match self {
            DampingTau::Fitted(_) => None,
            DampingTau::Default(t) => Some(format!(
                "the model predates a fitted damping time constant (artifact format 1): the damped-velocity baseline uses the documented default, tau {t} s"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub config: A4merConfig,
    pub skeleton: Skeleton,
    pub norm: NormStats,
    pub vocab: MotifVocab,
    pub tensors: BTreeMap<String, TensorRecord>,
    pub provenance: Provenance,
    /// The next-motif prior (format 3); absent in older files, whose motifs then stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anticipation: Option<AnticipationPrior>,
    /// How gaps are filled at each length, fitted on the training recordings; absent in
    /// models from before it, which fill with the interpolation head as trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpolation: Option<InterpCalibration>,
    /// Present exactly when the artifact is int8. Absent (not null) in f32 artifacts, so
    /// their bytes are what they were before int8 existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
}

/// A validated artifact in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub payload: Payload,
    /// The version it was read as (when built here, the one it will be written as); saving
    /// writes [`Artifact::write_version`].
    pub format_version: u32,
}

impl Provenance {
    /// The damped-velocity baseline's τ: the stored one, or the default for a model that
    /// predates it (a loaded artifact's provenance is checked; see [`Artifact::from_bytes`]).
    pub fn damping_tau(&self) -> DampingTau {
        match self.damping_tau_s {
            Some(t) => DampingTau::Fitted(t),
            None => DampingTau::Default(DAMPING_TAU_S),
        }
    }
}

/// A stored τ must be finite and positive; from version 2 it must be there at all.
fn check_damping_tau(tau_s: Option<f32>, version: u32) -> Result<(), String> {
    match tau_s {
        Some(t) if !damping_tau_is_valid(t) => Err(format!(
            "the damped-velocity time constant must be finite and positive, not {t}"
        )),
        None if version >= 2 => Err(format!(
            "missing: format version {version} stores the damped-velocity time constant fitted on the training recordings"
        )),
        _ => Ok(()),
    }
}

/// A stored prior must fit the vocabulary; from version 3 it must be there at all.
fn check_anticipation(prior: Option<&AnticipationPrior>, n_motifs: usize, version: u32) -> Result<(), PriorError> {
    match prior {
        Some(p) => p.check(n_motifs),
        None if version >= ANTICIPATION_FORMAT_VERSION => Err(PriorError {
            field: "anticipation",
            message: format!(
                "missing: format version {version} stores the next-motif prior fitted on the training recordings"
            ),
        }),
        None => Ok(()),
    }
}

/// What to tell a user once about a model without an anticipation prior (formats 1–2).
pub fn anticipation_note(prior: Option<&AnticipationPrior>) -> Option<String> {
    prior.is_none().then(|| {
        "the model predates the anticipation prior (artifact format 1 or 2): the next motifs are published as \"it stays\" (the current motif, probability 1) and the transition time as unknown".to_string()
    })
}

fn hash(version: u32, payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(version.to_le_bytes());
    h.update(payload);
    h.finalize().into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn codec_err(origin: &str, e: CodecError) -> ArtifactError {
    match e {
        CodecError::Truncated { offset } => ArtifactError::Truncated {
            origin: origin.into(),
            offset,
        },
        CodecError::Malformed { what, message } => ArtifactError::Malformed {
            origin: origin.into(),
            what,
            message,
        },
        CodecError::Encode { message, .. } => ArtifactError::Encode(message),
    }
}

impl Artifact {
    /// True for an int8 artifact (a quantization section or any int8 tensor).
    pub fn is_int8(&self) -> bool {
        self.payload.quantization.is_some() || self.payload.tensors.values().any(TensorRecord::is_int8)
    }

    /// The version this payload is written as: the current one with an anticipation
    /// prior, 2 (which does not require one) without.
    pub fn write_version(&self) -> u32 {
        if self.payload.anticipation.is_some() {
            FORMAT_VERSION
        } else {
            ANTICIPATION_FORMAT_VERSION - 1
        }
    }

    /// Encode as [`Self::write_version`]; a provenance without a valid damping τ, or an
    /// unusable prior, is refused, so this build never writes a file it would not load.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        let version = self.write_version();
        check_damping_tau(self.payload.provenance.damping_tau_s, version)
            .map_err(|message| ArtifactError::Encode(format!("provenance.damping_tau_s: {message}")))?;
        check_anticipation(
            self.payload.anticipation.as_ref(),
            self.payload.config.n_motifs,
            version,
        )
        .map_err(|e| ArtifactError::Encode(e.to_string()))?;
        if let Some(cal) = &self.payload.interpolation {
            cal.check()
                .map_err(|message| ArtifactError::Encode(format!("interpolation: {message}")))?;
        }
        let payload = codec::encode(&self.payload, "artifact payload").map_err(|e| codec_err("", e))?;
        let sha = hash(version, &payload);
        let env = Envelope {
            magic: MAGIC.into(),
            format_version: version,
            payload,
            sha256: sha.to_vec(),
        };
        codec::encode(&env, "artifact envelope").map_err(|e| codec_err("", e))
    }

    pub fn save(&self, path: &Path) -> Result<(), ArtifactError> {
        let bytes = self.to_bytes()?;
        // Write then rename, so a crash never leaves a half-written artifact under the name.
        let tmp = path.with_extension("a4m.partial");
        let werr = |cause| ArtifactError::Write {
            path: path.display().to_string(),
            cause,
        };
        std::fs::write(&tmp, &bytes).map_err(werr)?;
        std::fs::rename(&tmp, path).map_err(werr)
    }

    /// Decode and check the envelope, hash and payload (not yet the tensors against a model).
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, ArtifactError> {
        let env: Envelope = codec::decode(bytes, "artifact envelope").map_err(|e| codec_err(origin, e))?;
        if env.magic != MAGIC {
            return Err(ArtifactError::Magic {
                origin: origin.into(),
                found: env.magic,
            });
        }
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&env.format_version) {
            return Err(ArtifactError::Version {
                origin: origin.into(),
                found: env.format_version,
            });
        }
        let computed = hash(env.format_version, &env.payload);
        if env.sha256 != computed {
            return Err(ArtifactError::Hash {
                origin: origin.into(),
                stored: hex(&env.sha256),
                computed: hex(&computed),
            });
        }
        let payload: Payload = codec::decode(&env.payload, "artifact payload").map_err(|e| codec_err(origin, e))?;
        let o = || origin.to_string();
        payload
            .config
            .validate()
            .map_err(|message| ArtifactError::Config { origin: o(), message })?;
        if payload.skeleton != Skeleton::smpl24() {
            return Err(ArtifactError::Skeleton {
                origin: o(),
                message: format!(
                    "`{}` is not the canonical SMPL-24 tree this runtime feeds",
                    payload.skeleton.name
                ),
            });
        }
        payload
            .norm
            .check_dims(payload.config.horizon)
            .map_err(|message| ArtifactError::Norm { origin: o(), message })?;
        payload
            .vocab
            .check(payload.config.d_model, payload.config.n_motifs)
            .map_err(|message| ArtifactError::Vocab { origin: o(), message })?;
        check_damping_tau(payload.provenance.damping_tau_s, env.format_version).map_err(|message| {
            ArtifactError::Provenance {
                origin: o(),
                field: "damping_tau_s",
                message,
            }
        })?;
        check_anticipation(
            payload.anticipation.as_ref(),
            payload.config.n_motifs,
            env.format_version,
        )
        .map_err(|cause| ArtifactError::Anticipation { origin: o(), cause })?;
        if let Some(cal) = &payload.interpolation {
            cal.check()
                .map_err(|message| ArtifactError::Interpolation { origin: o(), message })?;
        }
        Ok(Self {
            payload,
            format_version: env.format_version,
        })
    }

    /// Said once to a user when the model has no anticipation prior.
    pub fn anticipation_note(&self) -> Option<String> {
        anticipation_note(self.payload.anticipation.as_ref())
    }

    /// The damped-velocity baseline's τ this model runs with.
    pub fn damping_tau(&self) -> DampingTau {
        self.payload.provenance.damping_tau()
    }

    /// The tensors as f32 by name (int8 ones dequantized, every value finite) and, for an
    /// int8 artifact, the int8 layers with their input scheme: what both the burn modules
    /// and the engine's network are filled from. Checks the quantization section against the
    /// tensors; shapes are checked against the model by whoever fills it.
    pub fn weights(&self, origin: &str) -> Result<(TensorMap, Option<Int8Weights>), ArtifactError> {
        let p = &self.payload;
        let quant_err = |message: String| ArtifactError::Quant {
            origin: origin.into(),
            message,
        };
        let mut int8 = Int8Weights::default();
        match &p.quantization {
            Some(q) => {
                for (layer, input) in q.int8_inputs().map_err(quant_err)? {
                    let name = format!("{layer}.weight");
                    let weight = p
                        .tensors
                        .get(&name)
                        .ok_or_else(|| quant_err(format!("int8 layer `{layer}` has no tensor `{name}`")))?
                        .to_qtensor()
                        .map_err(|message| ArtifactError::TensorData {
                            origin: origin.into(),
                            name: name.clone(),
                            message,
                        })?
                        .ok_or_else(|| quant_err(format!("int8 layer `{layer}`: `{name}` is not int8")))?;
                    int8.layers.insert(layer, Int8Layer { weight, input });
                }
            }
            None => {
                if let Some((name, _)) = p.tensors.iter().find(|(_, t)| t.is_int8()) {
                    return Err(quant_err(format!(
                        "tensor `{name}` is int8 but the artifact has no quantization section"
                    )));
                }
            }
        }
        let mut tensors = BTreeMap::new();
        for (name, rec) in &p.tensors {
            let t = rec.to_f32().map_err(|message| ArtifactError::TensorData {
                origin: origin.into(),
                name: name.clone(),
                message,
            })?;
            if t.values.iter().any(|v| !v.is_finite()) {
                return Err(ArtifactError::TensorData {
                    origin: origin.into(),
                    name: name.clone(),
                    message: "contains NaN or Inf".into(),
                });
            }
            tensors.insert(name.clone(), t);
        }
        Ok((tensors, p.quantization.is_some().then_some(int8)))
    }

    pub fn load(path: &Path) -> Result<Self, ArtifactError> {
        let bytes = std::fs::read(path).map_err(|cause| ArtifactError::Io {
            path: path.display().to_string(),
            cause,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests;
