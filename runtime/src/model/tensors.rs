//! Tensors by name, as the artifact stores them and as the model is filled from them, and
//! the check that a set of them fits a model: burn-free, shared by the burn modules
//! (`params::fill`) and the engine's network (`NativeNet::from_tensors`).

use std::collections::BTreeMap;

/// A parameter's shape and values (row-major f32).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Every tensor of a model by name.
pub type TensorMap = BTreeMap<String, NamedTensor>;

/// Why a set of named tensors does not fit a module.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FillError {
    #[error("tensor `{0}` is required by the model but missing")]
    Missing(String),
    #[error("tensor `{0}` is not a parameter of the model")]
    Unexpected(String),
    #[error("tensor `{name}` has shape {found:?}, the model expects {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor `{name}` has {found} values for shape {shape:?}")]
    Length {
        name: String,
        shape: Vec<usize>,
        found: usize,
    },
}

/// Check that `tensors` has exactly the tensors `shapes` lists (name and shape), each with as
/// many values as its shape holds, and nothing else.
pub fn check_shapes(shapes: &[(String, Vec<usize>)], tensors: &TensorMap) -> Result<(), FillError> {
    for (name, shape) in shapes {
        let t = tensors.get(name).ok_or_else(|| FillError::Missing(name.clone()))?;
        if &t.shape != shape {
            return Err(FillError::Shape {
                name: name.clone(),
                expected: shape.clone(),
                found: t.shape.clone(),
            });
        }
        if t.values.len() != shape.iter().product::<usize>() {
            return Err(FillError::Length {
                name: name.clone(),
                shape: shape.clone(),
                found: t.values.len(),
            });
        }
    }
    if let Some(extra) = tensors.keys().find(|k| !shapes.iter().any(|(n, _)| n == *k)) {
        return Err(FillError::Unexpected(extra.clone()));
    }
    Ok(())
}
