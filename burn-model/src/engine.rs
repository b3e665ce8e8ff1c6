//! The streaming engine built from a loaded burn model: evaluation, calibration and the
//! parity tests stream the very model they hold. The kernels are filled from the modules'
//! named tensors, as the node fills them from an artifact's.

use std::collections::BTreeMap;
use std::sync::Arc;

use a4mer_runtime::model::native::NativeNet;
use a4mer_runtime::model::quant::ActObserver;
use a4mer_runtime::stream::{EngineError, StreamModel, check_capacity};

use crate::{Model, params};

/// The engine's view of a loaded model: int8 kernels for the layers an int8 artifact
/// quantized, f32 for everything else.
pub fn stream_model(model: &Model) -> Result<StreamModel, EngineError> {
    let mut net = f32_net(model)?;
    if let Some(q) = &model.quant {
        net.set_int8(q).map_err(EngineError::Int8)?;
    }
    assemble(net, model)
}

/// Calibration: the f32 engine with an observer on every layer's input (by layer name).
pub fn observed_stream_model(model: &Model) -> Result<(StreamModel, BTreeMap<String, Arc<ActObserver>>), EngineError> {
    let mut net = f32_net(model)?;
    let observers = net.observe();
    Ok((assemble(net, model)?, observers))
}

fn f32_net(model: &Model) -> Result<NativeNet, EngineError> {
    // Checked before the weights are copied out of the modules.
    check_capacity(&model.config)?;
    NativeNet::from_tensors(&params::named_tensors(&model.net), &model.config).map_err(EngineError::Weights)
}

fn assemble(net: NativeNet, model: &Model) -> Result<StreamModel, EngineError> {
    StreamModel::from_parts(net, model.config.clone(), model.norm.clone(), model.vocab.clone())?
        .with_anticipation(model.anticipation.clone())
}
