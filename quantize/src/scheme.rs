//! Which tensor becomes what. Every tensor of the artifact must match exactly one rule;
//! a tensor the scheme does not know is an error, never silently kept or dropped.

use std::collections::BTreeMap;

use a4mer_runtime::artifact::{Artifact, Quantization, TensorRecord};
use a4mer_runtime::model::quant::QTensor;

use crate::QuantError;

/// What the scheme does with one tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The weight of a layer the streaming engine runs: int8 per output channel, and the
    /// layer's input int8 (per vector at run time, or per tensor with a calibrated scale).
    Int8Layer { layer: String },
    /// The weight of a layer only offline code runs (pre-training decoder and predictors,
    /// the interpolation head): int8 per output channel for size, dequantized at load.
    WeightOnly,
    /// Kept in f32, with the reason.
    F32(&'static str),
}

/// Layers of the pre-training and offline heads: their weights are stored int8, but the
/// engine never runs them.
const OFFLINE_PREFIXES: [&str; 4] = ["decoder.", "pred_atom.", "pred_motif.", "interp."];
/// Embedding tables and tokens: added to activations, not multiplied; small.
const TABLES: [&str; 4] = ["atom.pos", "atom.dur", "motif.mask_token", "decoder.pos"];

/// The rule for tensor `name` of `shape`. `engine_layers`: the layer names the engine runs;
/// `kept_f32`: engine layers the user keeps in f32.
pub fn classify(
    name: &str,
    shape: &[u64],
    engine_layers: &[String],
    kept_f32: &BTreeMap<String, String>,
) -> Result<Rule, QuantError> {
    let unknown = || QuantError::UnknownTensor {
        name: name.to_string(),
        shape: shape.to_vec(),
    };
    if TABLES.contains(&name) {
        return Ok(Rule::F32("embedding table (added, not multiplied; small)"));
    }
    let (module, param) = name.rsplit_once('.').ok_or_else(unknown)?;
    let is_engine = engine_layers.iter().any(|l| l == module);
    let is_offline = OFFLINE_PREFIXES.iter().any(|p| module.starts_with(p));
    let is_norm = module.ends_with(".ln") || module.ends_with(".ln1") || module.ends_with(".ln2");
    match param {
        "weight" if shape.len() == 2 && is_engine => Ok(if kept_f32.contains_key(module) {
            Rule::F32("engine layer kept in f32 (--keep-f32)")
        } else {
            Rule::Int8Layer {
                layer: module.to_string(),
            }
        }),
        "weight" if shape.len() == 2 && is_offline => Ok(Rule::WeightOnly),
        "bias" if shape.len() == 1 && (is_engine || is_offline) => {
            Ok(Rule::F32("bias (added in f32 after the i32 accumulation; small)"))
        }
        "gamma" | "beta" if shape.len() == 1 && is_norm => Ok(Rule::F32("layer norm (statistics need f32 range)")),
        _ => Err(unknown()),
    }
}

/// The int8 artifact: `f32` with its tensors converted by [`classify`] and the
/// quantization section filled (without the report, which is measured on this artifact).
/// `activation_scales`: the calibrated input scale of every int8 layer for static
/// activations; `None` for dynamic (the layers are listed in `int8_layers`).
pub fn quantize_artifact(
    f32_art: &Artifact,
    engine_layers: &[String],
    activation_scales: Option<&BTreeMap<String, f32>>,
    mut section: Quantization,
) -> Result<Artifact, QuantError> {
    let mut out = f32_art.clone();
    let mut tensors = BTreeMap::new();
    let mut scales = BTreeMap::new();
    let mut dynamic = Vec::new();
    for (name, rec) in &f32_art.payload.tensors {
        if rec.is_int8() {
            return Err(QuantError::AlreadyInt8 { name: name.clone() });
        }
        let rule = classify(name, &rec.shape, engine_layers, &section.kept_f32)?;
        let new = match rule {
            Rule::F32(_) => rec.clone(),
            Rule::Int8Layer { .. } | Rule::WeightOnly => {
                let t = rec.to_f32().map_err(|message| QuantError::Tensor {
                    name: name.clone(),
                    message,
                })?;
                let q = QTensor::quantize(&t.values, t.shape[0], t.shape[1]);
                if let Rule::Int8Layer { layer } = &rule {
                    match activation_scales {
                        Some(a) => {
                            let s = a
                                .get(layer)
                                .ok_or_else(|| QuantError::NoScale { layer: layer.clone() })?;
                            scales.insert(layer.clone(), *s);
                        }
                        None => dynamic.push(layer.clone()),
                    }
                }
                TensorRecord::from_qtensor(&q)
            }
        };
        tensors.insert(name.clone(), new);
    }
    for layer in section.kept_f32.keys() {
        if !engine_layers.contains(layer) {
            return Err(QuantError::KeepUnknown {
                layer: layer.clone(),
                known: engine_layers.join(", "),
            });
        }
    }
    section.activation_scales = scales;
    section.int8_layers = dynamic;
    out.payload.tensors = tensors;
    out.payload.quantization = Some(section);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<String> {
        ["forecast.l1", "atom.blocks.0.attn.qkv"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn every_kind_of_tensor_has_its_rule() {
        let none = BTreeMap::new();
        let c = |n: &str, s: &[u64]| classify(n, s, &layers(), &none);
        assert_eq!(
            c("forecast.l1.weight", &[4, 8]).unwrap(),
            Rule::Int8Layer {
                layer: "forecast.l1".into()
            }
        );
        assert_eq!(c("interp.mean.weight", &[4, 8]).unwrap(), Rule::WeightOnly);
        assert!(matches!(c("forecast.l1.bias", &[8]).unwrap(), Rule::F32(_)));
        assert!(matches!(c("atom.blocks.0.ln1.gamma", &[8]).unwrap(), Rule::F32(_)));
        assert!(matches!(c("atom.pos", &[16, 8]).unwrap(), Rule::F32(_)));
        let mut keep = BTreeMap::new();
        keep.insert("forecast.l1".to_string(), "sensitive".to_string());
        assert!(matches!(
            classify("forecast.l1.weight", &[4, 8], &layers(), &keep).unwrap(),
            Rule::F32(_)
        ));
    }

    #[test]
    fn unknown_tensors_are_errors_that_name_them() {
        let none = BTreeMap::new();
        for (name, shape) in [
            ("atom.mystery.weight", vec![4, 8]),
            ("gate", vec![3]),
            // A known layer with a parameter of the wrong rank is not guessed at either.
            ("forecast.l1.weight", vec![4, 8, 2]),
            ("forecast.l1.scale", vec![8]),
        ] {
            let e = classify(name, &shape, &layers(), &none).unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, QuantError::UnknownTensor { .. }), "{msg}");
            assert!(msg.contains(name), "{msg}");
        }
    }
}
