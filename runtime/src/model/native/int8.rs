//! The engine's int8 layers: weights int8 per output channel (the kernels of
//! `a4mer-kernels`), each input vector quantized with its own scale at run time.
//!
//! Why per vector: one scale per layer, calibrated on the training recordings, clips the
//! inputs of bodies, rigs and speeds those recordings never showed, and int8 then drifts
//! from f32 exactly where a user meets the model. A vector's own `max|x| / 127` cannot
//! clip; finding it is one pass over a vector of at most a few hundred values.
//!
//! The kernel quantizes with a scale fixed at construction. Built with scale 1, it is fed
//! the row already divided by its scale (`quantize_value(x * inv, 1)` is bit for bit
//! `quantize_value(x, inv)`, since multiplying by 1 is exact) and zero bias, and the row's
//! scale and the bias are applied afterwards: `y = b + (acc * s_w) * s_x`, the same
//! product as `acc * (s_x * s_w)` up to one rounding.

use a4mer_kernels::{Int8Dense, QMAX_IN};

use super::Dense;
use crate::model::quant::{ActScale, Int8Layer, vector_scale};

#[derive(Clone, Debug)]
pub(super) struct QDense {
    kernel: Int8Dense,
    input: ActScale,
    n_in: usize,
    /// The kernel's bias when the input scale is applied after it (dynamic inputs).
    zeros: Vec<f32>,
}

impl QDense {
    /// `rows` rows of `x` into `y`, `b` added in f32.
    pub(super) fn forward(&self, b: &[f32], x: &[f32], y: &mut [f32]) {
        match self.input {
            ActScale::Static(_) => self.kernel.forward(b, x, y),
            // The scaled row lives on the stack, sized for the layer: `push` allocates
            // nothing, and a narrow layer does not clear 16 KiB per row.
            ActScale::Dynamic => match self.n_in {
                0..=256 => self.dynamic::<256>(b, x, y),
                257..=1024 => self.dynamic::<1024>(b, x, y),
                _ => self.dynamic::<QMAX_IN>(b, x, y),
            },
        }
    }

    fn dynamic<const N: usize>(&self, b: &[f32], x: &[f32], y: &mut [f32]) {
        let n_out = b.len();
        let mut buf = [0.0f32; N];
        let scaled = &mut buf[..self.n_in];
        for (xr, yr) in x.chunks_exact(self.n_in).zip(y.chunks_exact_mut(n_out)) {
            let Some(s) = vector_scale(xr) else {
                // Quantizes to all zeros: every product is 0.
                yr.copy_from_slice(b);
                continue;
            };
            let inv = 1.0 / s;
            for (o, v) in scaled.iter_mut().zip(xr) {
                *o = v * inv;
            }
            self.kernel.forward(&self.zeros, scaled, yr);
            for (yj, bj) in yr.iter_mut().zip(b) {
                *yj = bj + *yj * s;
            }
        }
    }

    #[cfg(test)]
    fn portable(mut self) -> Self {
        self.kernel = self.kernel.portable();
        self
    }
}

impl Dense {
    /// Run this layer in int8 from now on.
    pub(super) fn set_int8(&mut self, layer: &Int8Layer) -> Result<(), String> {
        let w = &layer.weight;
        if (w.n_in, w.n_out) != (self.n_in, self.n_out) {
            return Err(format!(
                "int8 layer `{}` is [{}, {}], the model's is [{}, {}]",
                self.name, w.n_in, w.n_out, self.n_in, self.n_out
            ));
        }
        w.check().map_err(|m| format!("int8 layer `{}`: {m}", self.name))?;
        let kernel_scale = match layer.input {
            ActScale::Dynamic => 1.0,
            ActScale::Static(s) if s.is_finite() && s > 0.0 => s,
            ActScale::Static(s) => {
                return Err(format!(
                    "int8 layer `{}`: input scale {s} must be finite and > 0",
                    self.name
                ));
            }
        };
        if w.n_in > QMAX_IN {
            return Err(format!(
                "int8 layer `{}` has {} inputs; the int8 kernel takes at most {QMAX_IN}",
                self.name, w.n_in
            ));
        }
        self.q = Some(QDense {
            kernel: Int8Dense::new(&w.values, w.n_in, w.n_out, &w.scales, kernel_scale),
            input: layer.input,
            n_in: w.n_in,
            zeros: vec![0.0; w.n_out],
        });
        Ok(())
    }
}

// The NaN-safe comparison every crate's tests share.
#[cfg(test)]
#[path = "../../../../test-support/compare.rs"]
mod compare;

#[cfg(test)]
mod tests {
    use super::super::tests::{Lcg, dense};
    use super::compare;
    use super::*;
    use crate::model::quant::{QTensor, quantize_vector};

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|f| f.to_bits()).collect()
    }

    fn int8(f: &Dense, input: ActScale) -> Dense {
        let mut q = f.clone();
        q.set_int8(&Int8Layer {
            weight: QTensor::quantize(&f.w, f.n_in, f.n_out),
            input,
        })
        .unwrap();
        assert!(q.is_int8() && !f.is_int8());
        q
    }

    /// Largest |int8 - f32| over the largest |x W| (the bias, added exactly in both, would
    /// hide the error of small inputs).
    fn rel_error(f: &Dense, q: &Dense, x: &[f32]) -> f32 {
        let rows = x.len() / f.n_in;
        let mut yf = vec![0.0; rows * f.n_out];
        let mut yq = vec![0.0; rows * f.n_out];
        f.forward(x, &mut yf);
        q.forward(x, &mut yq);
        let b = f.b.iter().cycle();
        let scale = compare::finite_max(
            "f32 outputs less the bias",
            yf.iter().zip(b).map(|(v, b)| (v - b).abs()),
        );
        let d = compare::diff("int8 against f32", yq.iter().copied(), yf.iter().copied());
        (d.abs / scale) as f32
    }

    /// The engine's int8 layers run the kernel `A4MER_EXPECT_INT8_KERNEL` names, when set:
    /// CI sets it from /proc/cpuinfo on x86-64 and runs these tests for aarch64 under qemu on
    /// a core without dotprod (`portable`) and on one with it (`sdot`); a run on the other
    /// path would prove nothing.
    #[test]
    fn the_int8_layers_run_the_expected_kernel() {
        let q = int8(&dense(&mut Lcg(5), 32, 16), ActScale::Dynamic);
        let picked = q.q.as_ref().map(|q| q.kernel.kernel().name());
        eprintln!("engine int8 kernel: {picked:?}");
        assert_eq!(picked, Some(a4mer_kernels::Kernel::best().name()));
        if let Ok(want) = std::env::var("A4MER_EXPECT_INT8_KERNEL") {
            assert_eq!(picked, Some(want.as_str()), "A4MER_EXPECT_INT8_KERNEL");
        }
    }

    #[test]
    fn int8_dense_tracks_the_f32_dense() {
        let mut r = Lcg(3);
        // The second shape spans several input and output chunks and the widest buffers.
        for (n_in, n_out, rows) in [(64, 192, 5), (300, 40, 3), (1500, 600, 2)] {
            let f = dense(&mut r, n_in, n_out);
            let x: Vec<f32> = (0..rows * n_in).map(|_| r.f32() * 3.0).collect();
            let x_max = compare::finite_max("inputs", x.iter().map(|v| v.abs())) as f32;
            for input in [ActScale::Dynamic, ActScale::Static(x_max / 127.0)] {
                let q = int8(&f, input);
                let mut yq = vec![0.0; rows * n_out];
                q.forward(&x, &mut yq);
                // The SIMD kernel this machine picked and the portable one give the same bits.
                let mut portable = q.clone();
                portable.q = portable.q.map(QDense::portable);
                let mut yp = vec![0.0; rows * n_out];
                portable.forward(&x, &mut yp);
                assert_eq!(bits(&yq), bits(&yp));
                // Two half-steps of rounding per product, summed with random signs.
                let e = rel_error(&f, &q, &x);
                assert!(e < 0.02, "[{n_in}, {n_out}] {input:?}: worst {e} of the range");
                assert!(e > 0.0, "int8 should not be bit-identical to f32");
            }
        }
    }

    #[test]
    fn dynamic_inputs_stay_faithful_far_outside_any_calibrated_range() {
        let mut r = Lcg(11);
        let (n_in, n_out) = (96, 48);
        let f = dense(&mut r, n_in, n_out);
        let q = int8(&f, ActScale::Dynamic);
        // Rows 1e-4x to 1e4x the typical magnitude, one with a single spike 40x the rest,
        // and one where every input is 0 but one.
        let mut x = Vec::new();
        for gain in [1e-4f32, 0.05, 1.0, 25.0, 1e4] {
            x.extend((0..n_in).map(|_| r.f32() * gain));
        }
        let mut spike: Vec<f32> = (0..n_in).map(|_| r.f32()).collect();
        spike[7] = 40.0;
        x.extend(&spike);
        let mut one_hot = vec![0.0f32; n_in];
        one_hot[n_in - 1] = -3.0;
        x.extend(&one_hot);
        for (i, row) in x.chunks_exact(n_in).enumerate() {
            // Each row on its own: its error is relative to its own output range, so a
            // scale borrowed from another row (or a calibration) would show here.
            let e = rel_error(&f, &q, row);
            assert!(e < 0.03, "row {i}: worst {e} of the range");
        }
        // The rows of one call are independent: quantizing them together gives the bits
        // of quantizing each alone.
        let mut together = vec![0.0; x.len() / n_in * n_out];
        q.forward(&x, &mut together);
        for (row, y) in x.chunks_exact(n_in).zip(together.chunks_exact(n_out)) {
            let mut alone = vec![0.0; n_out];
            q.forward(row, &mut alone);
            assert_eq!(bits(&alone), bits(y));
        }
    }

    #[test]
    fn dynamic_layer_is_the_exact_integer_product_of_the_quantized_vector() {
        let mut r = Lcg(17);
        let (n_in, n_out) = (37, 21);
        let f = dense(&mut r, n_in, n_out);
        let w = QTensor::quantize(&f.w, n_in, n_out);
        let q = int8(&f, ActScale::Dynamic);
        let x: Vec<f32> = (0..n_in).map(|_| r.f32() * 250.0).collect();
        let mut xq = vec![0i8; n_in];
        let s = quantize_vector(&x, &mut xq);
        let mut y = vec![0.0; n_out];
        q.forward(&x, &mut y);
        for (j, yj) in y.iter().enumerate() {
            let acc: i64 = (0..n_in).map(|i| xq[i] as i64 * w.values[i * n_out + j] as i64).sum();
            let product = acc as f32 * (s * w.scales[j]);
            let want = f.b[j] + product;
            // `(acc * s_w) * s_x` against `acc * (s_x * s_w)`, then the bias: a few roundings
            // apart, never a quantization step (about 1 % of |product| here).
            assert!(
                (yj - want).abs() <= 4.0 * f32::EPSILON * (product.abs() + f.b[j].abs()),
                "output {j}: {yj} vs {want}"
            );
        }
    }

    #[test]
    fn zero_and_non_finite_inputs_give_the_bias_not_garbage() {
        let mut r = Lcg(23);
        let f = dense(&mut r, 8, 5);
        let q = int8(&f, ActScale::Dynamic);
        let mut y = vec![f32::NAN; 5];
        q.forward(&[0.0; 8], &mut y);
        assert_eq!(bits(&y), bits(&f.b));
        q.forward(&[f32::NAN; 8], &mut y);
        assert_eq!(bits(&y), bits(&f.b));
        // Finite values keep their scale; NaN counts as 0.
        let mut x = [0.5f32, -0.25, 0.0, 0.125, 1.0, -1.0, 0.75, 0.0];
        let mut clean = vec![0.0; 5];
        q.forward(&x, &mut clean);
        x[2] = f32::NAN;
        q.forward(&x, &mut y);
        assert_eq!(bits(&y), bits(&clean));
        assert!(y.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn int8_layers_that_do_not_fit_are_refused_by_name() {
        let mut r = Lcg(5);
        let mut f = dense(&mut r, 4, 3);
        let wrong = Int8Layer {
            weight: QTensor::quantize(&[0.5; 12], 3, 4),
            input: ActScale::Dynamic,
        };
        let e = f.set_int8(&wrong).unwrap_err();
        assert!(e.contains("test.layer") && e.contains("[3, 4]"), "{e}");
        let mut wide = dense(&mut r, QMAX_IN + 1, 2);
        let e = wide
            .set_int8(&Int8Layer {
                weight: QTensor::quantize(&vec![0.5; (QMAX_IN + 1) * 2], QMAX_IN + 1, 2),
                input: ActScale::Dynamic,
            })
            .unwrap_err();
        assert!(e.contains("at most 4096"), "{e}");
        for bad in [f32::NAN, 0.0, -1.0, f32::INFINITY] {
            let bad_scale = Int8Layer {
                weight: QTensor::quantize(&[0.5; 12], 4, 3),
                input: ActScale::Static(bad),
            };
            assert!(f.set_int8(&bad_scale).unwrap_err().contains("input scale"), "{bad}");
        }
        assert!(!f.is_int8());
    }
}
