//! Does burn's own int8 give a speedup on the ndarray backend? Timed on the engine's
//! shapes: burn-ndarray 0.22 dequantizes an int8 operand and runs the f32 matmul (its
//! `q_matmul` has a fast path for ternary weights only), so int8 there saves memory, not
//! time. This measures it rather than trusting the source.

use std::time::Instant;

use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue};
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

use a4mer_burn_model::host;
use a4mer_measure::bench::Stats;

#[derive(Clone, Debug, Serialize)]
pub struct BurnInt8Row {
    /// `[m, k] x [k, n]`.
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub f32_us: Stats,
    pub int8_us: Stats,
    pub max_abs_diff: f32,
    /// Set when burn could not run the int8 product (it panicked).
    pub error: Option<String>,
}

/// The forecast head's widest layer at batch 1, an atom-encoder layer over a 16-frame
/// segment, and a head's hidden layer.
pub const SHAPES: [(usize, usize, usize); 3] = [(1, 128, 2160), (16, 64, 192), (1, 256, 128)];

pub fn measure(device: &Device, reps: usize) -> Vec<BurnInt8Row> {
    SHAPES.iter().map(|&(m, k, n)| row(device, m, k, n, reps)).collect()
}

fn row(device: &Device, m: usize, k: usize, n: usize, reps: usize) -> BurnInt8Row {
    let val = |i: usize| ((i * 7919 % 1009) as f32 / 504.5) - 1.0;
    let x = Tensor::<2>::from_data(
        TensorData::new((0..m * k).map(val).collect::<Vec<f32>>(), [m, k]),
        device,
    );
    let w = Tensor::<2>::from_data(
        TensorData::new((0..k * n).map(|i| val(i + 17) * 0.1).collect::<Vec<f32>>(), [k, n]),
        device,
    );
    let time = |w: &Tensor<2>| {
        let mut ns = Vec::with_capacity(reps);
        let mut out = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            out = host(x.clone().matmul(w.clone()));
            ns.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        }
        (Stats::from_ns(&mut ns), out)
    };
    let (f32_us, yf) = time(&w);
    // burn panics on schemes a backend does not support; report that instead of dying.
    let q = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // Per-tensor symmetric int8, stored unpacked: what burn-ndarray implements.
        let scheme = QuantScheme::default()
            .with_value(QuantValue::Q8S)
            .with_store(QuantStore::Native);
        let wq = w.clone().quantize_dynamic(&scheme);
        time(&wq)
    }));
    match q {
        Ok((int8_us, yq)) => BurnInt8Row {
            m,
            k,
            n,
            f32_us,
            int8_us,
            max_abs_diff: yf.iter().zip(&yq).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max),
            error: None,
        },
        Err(p) => BurnInt8Row {
            m,
            k,
            n,
            f32_us,
            int8_us: Stats::default(),
            max_abs_diff: f32::NAN,
            error: Some(
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into()),
            ),
        },
    }
}
