//! Training checkpoints (CBOR through the runtime codec): online and target parameters,
//! optimizer state, stage and epoch. Written atomically after every epoch.

use std::collections::BTreeMap;
use std::path::Path;

use a4mer_burn_model::nn::A4mer;
use a4mer_burn_model::params::{NamedTensor, named_tensors};
use a4mer_runtime::artifact::TensorRecord;
use a4mer_runtime::codec;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use super::{TrainConfig, TrainError, TrainReport};

#[derive(Serialize, Deserialize)]
struct Stored {
    config: TrainConfig,
    stage: u8,
    epoch: usize,
    tau: f32,
    online: BTreeMap<String, TensorRecord>,
    target: BTreeMap<String, TensorRecord>,
    #[serde(with = "serde_bytes")]
    optimizer: Vec<u8>,
    report: TrainReport,
}

pub struct Checkpoint {
    pub config: TrainConfig,
    /// 0: pre-training in progress; 1: fine-tuning in progress.
    pub stage: u8,
    /// Epochs completed in `stage`.
    pub epoch: usize,
    pub tau: f32,
    pub online: BTreeMap<String, NamedTensor>,
    pub target: BTreeMap<String, NamedTensor>,
    pub optimizer: Vec<u8>,
    pub report: TrainReport,
}

fn err(path: &Path, message: impl ToString) -> TrainError {
    TrainError::Checkpoint {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn records(m: &A4mer) -> BTreeMap<String, TensorRecord> {
    named_tensors(m)
        .iter()
        .map(|(k, v)| (k.clone(), TensorRecord::from_f32(v)))
        .collect()
}

fn tensors(path: &Path, r: &BTreeMap<String, TensorRecord>) -> Result<BTreeMap<String, NamedTensor>, TrainError> {
    r.iter()
        .map(|(k, v)| {
            v.to_f32()
                .map(|t| (k.clone(), t))
                .map_err(|e| err(path, format!("tensor {k}: {e}")))
        })
        .collect()
}

impl Checkpoint {
    #[allow(clippy::too_many_arguments)]
    pub fn save_from(
        path: &Path,
        config: &TrainConfig,
        stage: u8,
        epoch: usize,
        tau: f32,
        online: &A4mer,
        target: &A4mer,
        opt: &ModuleOptimizer,
        report: &TrainReport,
    ) -> Result<(), TrainError> {
        let optimizer = opt
            .into_bytes()
            .map_err(|e| err(path, format!("optimizer state: {e:?}")))?
            .to_vec();
        let s = Stored {
            config: config.clone(),
            stage,
            epoch,
            tau,
            online: records(online),
            target: records(target),
            optimizer,
            report: report.clone(),
        };
        let bytes = codec::encode(&s, "checkpoint").map_err(|e| err(path, e))?;
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, bytes).map_err(|e| err(path, e))?;
        std::fs::rename(&tmp, path).map_err(|e| err(path, e))
    }

    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| err(path, e))?;
        let s: Stored = codec::decode(&bytes, "checkpoint").map_err(|e| err(path, e))?;
        Ok(Self {
            online: tensors(path, &s.online)?,
            target: tensors(path, &s.target)?,
            config: s.config,
            stage: s.stage,
            epoch: s.epoch,
            tau: s.tau,
            optimizer: s.optimizer,
            report: s.report,
        })
    }
}
