//! The arithmetic kernels: dense layers (f32 through `multiversion`, or int8), layer
//! norm, GELU and softmax, all on caller-provided buffers.

use std::sync::Arc;

use multiversion::multiversion;

use super::int8::QDense;
use crate::model::quant::ActObserver;

/// `y = x W + b` with `W` stored `[n_in, n_out]` row-major (burn's `Linear` layout); in
/// int8 when the model was quantized (see [`QDense`]).
#[derive(Clone, Debug)]
pub struct Dense {
    /// The burn module path (`forecast.l1`): the artifact's tensor names are `{name}.weight`
    /// and `{name}.bias`, and int8 scales are keyed by it.
    pub name: String,
    pub n_in: usize,
    pub n_out: usize,
    pub(super) w: Vec<f32>,
    pub(super) b: Vec<f32>,
    pub(super) q: Option<QDense>,
    /// Calibration only: records every input this layer sees.
    pub(super) observer: Option<Arc<ActObserver>>,
}

impl Dense {
    /// A layer from its weight (`[n_in, n_out]` row-major) and bias (`n_out`), whose
    /// lengths the caller has checked.
    pub(super) fn from_parts(name: impl Into<String>, n_in: usize, n_out: usize, w: Vec<f32>, b: Vec<f32>) -> Self {
        Self {
            name: name.into(),
            n_in,
            n_out,
            w,
            b,
            q: None,
            observer: None,
        }
    }

    /// Multiply-accumulates per call (for FLOP counts).
    pub fn macs(&self) -> usize {
        self.n_in * self.n_out
    }

    pub fn is_int8(&self) -> bool {
        self.q.is_some()
    }

    /// `rows` rows of `x` (`rows * n_in`) into `y` (`rows * n_out`).
    pub fn forward(&self, x: &[f32], y: &mut [f32]) {
        debug_assert_eq!(x.len() / self.n_in, y.len() / self.n_out);
        if let Some(o) = &self.observer {
            o.record(x);
        }
        if let Some(q) = &self.q {
            q.forward(&self.b, x, y);
            return;
        }
        for (xr, yr) in x.chunks_exact(self.n_in).zip(y.chunks_exact_mut(self.n_out)) {
            yr.copy_from_slice(&self.b);
            gemv_acc(xr, &self.w, yr);
        }
    }
}

/// `y += x W` for one row. Four input rows per pass, so `y` is loaded and stored a quarter
/// as often (it does not fit in registers for the wide heads).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn gemv_acc(x: &[f32], w: &[f32], y: &mut [f32]) {
    let n = y.len();
    let mut rows = w.chunks_exact(n);
    let mut xs = x.chunks_exact(4);
    for x4 in &mut xs {
        let (Some(r0), Some(r1), Some(r2), Some(r3)) = (rows.next(), rows.next(), rows.next(), rows.next()) else {
            return;
        };
        let (a, b, c, d) = (x4[0], x4[1], x4[2], x4[3]);
        for ((((yj, w0), w1), w2), w3) in y.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
            *yj += a * w0 + b * w1 + c * w2 + d * w3;
        }
    }
    for (&xi, row) in xs.remainder().iter().zip(rows) {
        for (yj, wj) in y.iter_mut().zip(row) {
            *yj += xi * wj;
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// burn's `LayerNormConfig` default, which every layer norm of the model uses.
const LN_EPS: f32 = 1e-5;

impl Norm {
    pub(super) fn from_parts(gamma: Vec<f32>, beta: Vec<f32>) -> Self {
        Self { gamma, beta }
    }

    pub(super) fn forward(&self, x: &[f32], y: &mut [f32]) {
        let d = self.gamma.len();
        for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
            let mean = xr.iter().sum::<f32>() / d as f32;
            let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            let inv = 1.0 / (var + LN_EPS).sqrt();
            for (((o, v), g), b) in yr.iter_mut().zip(xr).zip(&self.gamma).zip(&self.beta) {
                *o = (v - mean) * inv * g + b;
            }
        }
    }
}

/// Exact (erf) GELU, as burn's `gelu`.
pub(super) fn gelu(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + libm::erff(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

pub(super) fn softmax(x: &mut [f32]) {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut z = 0.0;
    for v in x.iter_mut() {
        *v = (*v - m).exp();
        z += *v;
    }
    for v in x.iter_mut() {
        *v /= z;
    }
}
