//! int8 post-training quantization: the scheme's arithmetic, shared by the quantizer
//! (`a4mer-quantize`), the artifact loader and the engine's int8 kernels.
//!
//! Scheme:
//! - weights: int8 in -127..=127, symmetric, one scale per output channel
//!   (`w[i][j] ≈ q[i][j] * scale[j]`, burn's `Linear` layout `[n_in, n_out]`);
//! - activations (the input of each int8 layer): int8, symmetric, each input vector with
//!   its own scale `max|x| / 127` found at run time ([`vector_scale`]), so no range
//!   calibrated on training data can clip a person, rig or speed it never saw. Artifacts
//!   made before that carry one calibrated scale per layer ([`ActScale::Static`]) and
//!   still run as they were measured;
//! - accumulation in i32, then `y[j] = b[j] + acc[j] * (x_scale * w_scale[j])` in f32.

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use a4mer_kernels::{QMAX, quantize_value};

/// A weight matrix quantized per output channel.
#[derive(Clone, Debug, PartialEq)]
pub struct QTensor {
    pub n_in: usize,
    pub n_out: usize,
    /// `[n_in, n_out]` row-major, as the f32 weight.
    pub values: Vec<i8>,
    /// One per output channel, > 0.
    pub scales: Vec<f32>,
}

impl QTensor {
    /// Quantize `w` (`[n_in, n_out]` row-major): per output column, scale = max|w| / 127.
    /// An all-zero column gets scale 1 (its values are 0 either way).
    pub fn quantize(w: &[f32], n_in: usize, n_out: usize) -> Self {
        debug_assert_eq!(w.len(), n_in * n_out);
        let mut max = vec![0.0f32; n_out];
        for row in w.chunks_exact(n_out) {
            for (m, v) in max.iter_mut().zip(row) {
                *m = m.max(v.abs());
            }
        }
        let scales: Vec<f32> = max.iter().map(|&m| if m > 0.0 { m / QMAX } else { 1.0 }).collect();
        let values = w
            .chunks_exact(n_out)
            .flat_map(|row| row.iter().zip(&scales).map(|(v, s)| quantize_value(*v, 1.0 / s)))
            .collect();
        Self {
            n_in,
            n_out,
            values,
            scales,
        }
    }

    pub fn dequantize(&self) -> Vec<f32> {
        self.values
            .chunks_exact(self.n_out)
            .flat_map(|row| row.iter().zip(&self.scales).map(|(q, s)| *q as f32 * s))
            .collect()
    }

    /// Checks a tensor read from a file: lengths agree, scales finite and positive.
    pub fn check(&self) -> Result<(), String> {
        if self.values.len() != self.n_in * self.n_out {
            return Err(format!(
                "{} int8 values for shape [{}, {}]",
                self.values.len(),
                self.n_in,
                self.n_out
            ));
        }
        if self.scales.len() != self.n_out {
            return Err(format!(
                "{} scales for {} output channels",
                self.scales.len(),
                self.n_out
            ));
        }
        if let Some((j, s)) = self
            .scales
            .iter()
            .enumerate()
            .find(|(_, s)| !(s.is_finite() && **s > 0.0))
        {
            return Err(format!("scale of channel {j} is {s}: must be finite and > 0"));
        }
        if self.values.contains(&i8::MIN) {
            return Err("contains -128, outside the symmetric range -127..=127".into());
        }
        Ok(())
    }
}

/// The scale of a vector for symmetric int8: `max|x| / 127` over its finite values.
///
/// `None` when no finite value is large enough to give a usable scale (all zero, all
/// non-finite, or so small that `1 / scale` overflows): the vector then quantizes to all
/// zeros, which is within half a step of it. Non-finite values are left out of the maximum
/// so that one NaN or Inf does not zero the rest of the vector; [`quantize_value`] maps
/// them to 0 (NaN) and ±127 (±Inf).
#[inline]
pub fn vector_scale(x: &[f32]) -> Option<f32> {
    let mut max = 0.0f32;
    for v in x {
        let a = v.abs();
        // NaN fails both comparisons; Inf fails the first.
        if a < f32::INFINITY && a > max {
            max = a;
        }
    }
    let scale = max / QMAX;
    (scale > 0.0 && (1.0 / scale).is_finite()).then_some(scale)
}

/// Quantize one vector with its own scale (see [`vector_scale`]); returns the scale, 0 for
/// a vector that quantizes to all zeros. Rounding is [`quantize_value`]'s (ties to even).
pub fn quantize_vector(x: &[f32], out: &mut [i8]) -> f32 {
    debug_assert_eq!(x.len(), out.len());
    match vector_scale(x) {
        Some(s) => {
            let inv = 1.0 / s;
            for (q, v) in out.iter_mut().zip(x) {
                *q = quantize_value(*v, inv);
            }
            s
        }
        None => {
            out.fill(0);
            0.0
        }
    }
}

/// How an int8 layer's input is quantized.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActScale {
    /// Each input vector (each row fed to the layer) with its own scale, at run time.
    Dynamic,
    /// One scale for every input, calibrated offline (artifacts made before dynamic
    /// scales): values beyond `127 * scale` clip.
    Static(f32),
}

/// What the engine needs to run a model in int8: per layer (named like the burn module
/// path, e.g. `forecast.l1`), the quantized weight and how its input is quantized.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Int8Weights {
    pub layers: BTreeMap<String, Int8Layer>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Int8Layer {
    pub weight: QTensor,
    pub input: ActScale,
}

/// Calibration statistics of one layer's input (static scales, and the checks
/// `a4mer quantize` runs on real data before writing an artifact): |x| on a log scale (16 bins per octave
/// from 2^-32 to 2^32), so one pass serves min/max and percentile calibration.
#[derive(Debug, Default)]
pub struct ActObserver {
    inner: Mutex<Hist>,
}

#[derive(Clone, Debug)]
pub struct Hist {
    pub count: u64,
    pub max: f32,
    /// Values that were not finite (a calibration with any is refused).
    pub non_finite: u64,
    bins: Vec<u64>,
}

const BINS_PER_OCTAVE: f32 = 16.0;
const MIN_EXP: f32 = -32.0;
const N_BINS: usize = 64 * 16;

impl Default for Hist {
    fn default() -> Self {
        Self {
            count: 0,
            max: 0.0,
            non_finite: 0,
            bins: vec![0; N_BINS],
        }
    }
}

impl Hist {
    fn add(&mut self, x: &[f32]) {
        for &v in x {
            if !v.is_finite() {
                self.non_finite += 1;
                continue;
            }
            let a = v.abs();
            self.count += 1;
            self.max = self.max.max(a);
            if a > 0.0 {
                let b = ((a.log2() - MIN_EXP) * BINS_PER_OCTAVE).floor();
                let b = b.clamp(0.0, (N_BINS - 1) as f32) as usize;
                self.bins[b] += 1;
            }
        }
    }

    /// The `q`-quantile of |x| (0 < q <= 1), as the upper edge of its bin (at most `max`):
    /// at most 1/16 octave (4.4 %) above the exact value.
    pub fn quantile(&self, q: f64) -> f32 {
        if q >= 1.0 || self.count == 0 {
            return self.max;
        }
        // Values above the quantile that may be clipped.
        let allowed_above = ((1.0 - q) * self.count as f64).floor() as u64;
        let mut above = 0u64;
        for b in (0..N_BINS).rev() {
            above += self.bins[b];
            if above > allowed_above {
                let edge = 2f32.powf((b + 1) as f32 / BINS_PER_OCTAVE + MIN_EXP);
                return edge.min(self.max);
            }
        }
        self.max
    }
}

impl ActObserver {
    pub fn record(&self, x: &[f32]) {
        // A poisoned lock only means another recorder panicked; the counts are still sane.
        let mut h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.add(x);
    }

    pub fn snapshot(&self) -> Hist {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_round_trip_is_within_half_a_step() {
        let (n_in, n_out) = (5, 3);
        let w: Vec<f32> = (0..n_in * n_out)
            .map(|i| ((i * 7919 % 101) as f32 / 50.0 - 1.0) * (1 + i % n_out) as f32)
            .collect();
        let q = QTensor::quantize(&w, n_in, n_out);
        q.check().unwrap();
        let back = q.dequantize();
        for (i, (a, b)) in w.iter().zip(&back).enumerate() {
            let s = q.scales[i % n_out];
            assert!((a - b).abs() <= 0.5 * s + 1e-7, "{i}: {a} vs {b} (scale {s})");
        }
        // Each channel's largest magnitude maps to ±127 exactly.
        for j in 0..n_out {
            assert!(
                q.values.iter().skip(j).step_by(n_out).any(|v| v.abs() == 127),
                "channel {j}"
            );
        }
        let zero = QTensor::quantize(&[0.0; 6], 2, 3);
        assert_eq!(zero.scales, vec![1.0; 3]);
        assert!(zero.values.iter().all(|v| *v == 0));
    }

    #[test]
    fn bad_tensors_are_named() {
        let mut q = QTensor::quantize(&[1.0, -2.0, 3.0, 4.0], 2, 2);
        q.scales[1] = 0.0;
        assert!(q.check().unwrap_err().contains("channel 1"));
        let mut q = QTensor::quantize(&[1.0, -2.0, 3.0, 4.0], 2, 2);
        q.values.pop();
        assert!(q.check().unwrap_err().contains("3 int8 values"));
        let mut q = QTensor::quantize(&[1.0, -2.0, 3.0, 4.0], 2, 2);
        q.values[0] = i8::MIN;
        assert!(q.check().unwrap_err().contains("-128"));
    }

    #[test]
    fn a_vector_gets_its_own_scale_and_its_largest_value_maps_to_127() {
        let x = [0.5f32, -2.0, 1.2, 0.0, 1e-3];
        let mut q = [0i8; 5];
        let s = quantize_vector(&x, &mut q);
        assert_eq!(s, 2.0 / 127.0);
        assert_eq!(q, [32, -127, 76, 0, 0]);
        // Far outside any calibrated range: the scale follows, nothing clips.
        let big: Vec<f32> = x.iter().map(|v| v * 1e4).collect();
        assert_eq!(quantize_vector(&big, &mut q), 2e4 / 127.0);
        assert_eq!(q, [32, -127, 76, 0, 0]);
        // Ties round to even: with max 127 the scale is 1, and 2.5 / 0.5 / -1.5 are ties.
        let ties = [127.0f32, 2.5, 0.5, -1.5, 3.5];
        let mut q = [0i8; 5];
        assert_eq!(quantize_vector(&ties, &mut q), 1.0);
        assert_eq!(q, [127, 2, 0, -2, 4]);
    }

    #[test]
    fn zero_tiny_and_non_finite_vectors_take_the_safe_path() {
        let mut q = [7i8; 4];
        assert_eq!(quantize_vector(&[0.0, -0.0, 0.0, 0.0], &mut q), 0.0);
        assert_eq!(q, [0; 4]);
        assert_eq!(vector_scale(&[]), None);
        // 1 / (1e-37 / 127) overflows (and 1e-44 / 127 is 0): treated as zero rather than
        // blown up to ±127.
        let mut q = [7i8; 2];
        assert_eq!(quantize_vector(&[1e-37, -1e-37], &mut q), 0.0);
        assert_eq!(q, [0; 2]);
        assert_eq!(quantize_vector(&[1e-44, -1e-44], &mut q), 0.0);
        assert_eq!(q, [0; 2]);
        let mut q = [7i8; 3];
        assert_eq!(
            quantize_vector(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY], &mut q),
            0.0
        );
        assert_eq!(q, [0; 3]);
        // One bad value does not flatten the rest: the scale comes from the finite ones.
        let mut q = [0i8; 4];
        let s = quantize_vector(&[f32::NAN, 1.0, f32::INFINITY, -0.25], &mut q);
        assert_eq!(s, 1.0 / 127.0);
        assert_eq!(q, [0, 127, 127, -32]);
        // The largest finite magnitudes still get a finite scale and exact extremes.
        let mut q = [0i8; 3];
        let s = quantize_vector(&[f32::MAX, -f32::MAX, f32::MAX / 4.0], &mut q);
        assert!(s.is_finite() && s > 0.0);
        assert_eq!(q, [127, -127, 32]);
    }

    #[test]
    fn histogram_quantiles_bracket_the_exact_values() {
        let o = ActObserver::default();
        // 10 000 values 0.001..=10.0 and one outlier at 1000.
        let xs: Vec<f32> = (1..=10_000).map(|i| i as f32 / 1000.0).collect();
        o.record(&xs);
        o.record(&[-1000.0, f32::NAN]);
        let h = o.snapshot();
        assert_eq!(h.count, 10_001);
        assert_eq!(h.non_finite, 1);
        assert_eq!(h.max, 1000.0);
        assert_eq!(h.quantile(1.0), 1000.0);
        // The outlier is the top 0.01 %: the 99.99 % quantile ignores it.
        let q = h.quantile(0.9999);
        assert!((9.99..=10.0 * 1.045).contains(&q), "{q}");
        let q = h.quantile(0.5);
        assert!((5.0..=5.0 * 1.045).contains(&q), "{q}");
    }
}
