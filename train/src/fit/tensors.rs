//! Tensors from host values and back, as every training stage builds them.

use a4mer_burn_model::host;
use burn::tensor::{Device, Int, Tensor, TensorData};

pub(super) fn t2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

pub(super) fn t3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

pub(super) fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

pub(super) fn scalar(t: Tensor<1>) -> f32 {
    host(t).first().copied().unwrap_or(f32::NAN)
}
