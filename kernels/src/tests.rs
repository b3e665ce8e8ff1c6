//! The kernels against the exact integer dot product, against each other, and against the
//! bits recorded on x86-64 (which CI checks on aarch64 under qemu).

use super::*;

/// Deterministic values without a dependency: a 64-bit LCG.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn f32(&mut self) -> f32 {
        self.next() as f32 / (1u64 << 31) as f32 - 1.0
    }
}

fn random_i8(r: &mut Lcg, n: usize) -> Vec<i8> {
    (0..n).map(|_| ((r.next() % 255) as i32 - 127) as i8).collect()
}

/// Four input bytes per lane, offset to unsigned, as the VNNI kernel reads them.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn offset_groups(xq: &[i8]) -> Vec<i32> {
    xq.chunks_exact(QGROUP)
        .map(|x4| i32::from_le_bytes([x4[0] as u8, x4[1] as u8, x4[2] as u8, x4[3] as u8]) ^ 0x8080_8080u32 as i32)
        .collect()
}

/// FNV-1a over 32-bit words: a fingerprint of exact results small enough to write down.
struct Fnv(u64);
impl Fnv {
    fn word(&mut self, w: u32) {
        for b in w.to_le_bytes() {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// The exact i32 sums of every output of `q` for one input row, through the layer's
/// own kernel.
fn layer_sums(q: &Int8Dense, xr: &[f32]) -> Vec<i32> {
    let mut xq = vec![0i8; q.groups * QGROUP];
    quantize_row(xr, q.inv_x_scale, &mut xq[..q.n_in]);
    let xg = offset_groups(&xq);
    let mut acc = vec![0i32; q.blocks * QBLOCK];
    q.blocks_dot(&xq, &xg, 0, q.blocks, &mut acc);
    acc
}

/// Which kernel the machine running the tests must pick (`portable`, `sdot`,
/// `avx512-vnni`), when `A4MER_EXPECT_INT8_KERNEL` says: CI sets it from /proc/cpuinfo
/// (`scripts/expected-int8-kernel.sh`) and runs the aarch64 tests under qemu once on a
/// core without dotprod and once with it; a run that silently fell back to the portable
/// kernel would prove nothing about VNNI or `sdot`.
#[test]
fn the_expected_kernel_is_chosen() {
    let best = Kernel::best().name();
    eprintln!("int8 kernel on this machine: {best}");
    if let Ok(want) = std::env::var("A4MER_EXPECT_INT8_KERNEL") {
        assert_eq!(best, want, "A4MER_EXPECT_INT8_KERNEL");
    }
}

/// Fixed-seed layers give exactly these i32 sums and f32 output bits on every
/// architecture and kernel. Recorded on x86-64 (AVX-512 VNNI and the AVX2 portable
/// kernel agree); CI checks them for aarch64 under qemu-user, with the NEON portable
/// kernel and with `sdot`.
#[test]
fn fixed_vectors_give_the_recorded_bits_on_every_architecture() {
    const SUMS_FNV: u64 = 0xa83e_10ac_9901_32ff;
    const OUTPUTS_FNV: u64 = 0x5424_920d_167a_ee2c;
    let mut r = Lcg(2026);
    let (mut sums, mut outputs) = (Fnv(0xcbf2_9ce4_8422_2325), Fnv(0xcbf2_9ce4_8422_2325));
    let shapes: &[(usize, usize, usize)] = if cfg!(miri) {
        &[(7, 3, 1), (64, 80, 2)]
    } else {
        &[
            (7, 3, 1),
            (64, 80, 2),
            (127, 17, 3),
            (64, 192, 4),
            (250, 2160, 1),
            (1500, 600, 2),
        ]
    };
    for &(n_in, n_out, rows) in shapes {
        let w = random_i8(&mut r, n_in * n_out);
        let w_scales: Vec<f32> = (0..n_out).map(|_| 0.001 + (r.next() % 100) as f32 * 1e-4).collect();
        let b: Vec<f32> = (0..n_out).map(|_| r.f32()).collect();
        // Some inputs past the clamp, so saturation is part of the fingerprint.
        let x: Vec<f32> = (0..rows * n_in).map(|_| r.f32() * 2.5).collect();
        let q = Int8Dense::new(&w, n_in, n_out, &w_scales, 2.0 / QMAX);
        let portable = q.clone().portable();
        for xr in x.chunks_exact(n_in) {
            let s = layer_sums(&q, xr);
            assert_eq!(
                s,
                layer_sums(&portable, xr),
                "[{n_in}, {n_out}] {} vs portable",
                q.kernel().name()
            );
            s.iter().for_each(|v| sums.word(*v as u32));
        }
        let mut y = vec![f32::NAN; rows * n_out];
        q.forward(&b, &x, &mut y);
        y.iter().for_each(|v| outputs.word(v.to_bits()));
    }
    eprintln!(
        "kernel {}: sums fnv {:#018x}, outputs fnv {:#018x}",
        Kernel::best().name(),
        sums.0,
        outputs.0
    );
    if !cfg!(miri) {
        assert_eq!(sums.0, SUMS_FNV, "exact i32 sums differ from the recorded ones");
        assert_eq!(outputs.0, OUTPUTS_FNV, "f32 output bits differ from the recorded ones");
    }
}

#[test]
fn int8_kernels_agree_exactly_with_the_integer_dot_product() {
    let mut r = Lcg(7);
    // Odd sizes (every padding case), the head's widest layer, and the widest input
    // allowed with every product at its extreme (the overflow bound).
    // Miri interprets every instruction: small shapes that still take every path (five
    // blocks: the four-block loop and the remainder).
    let shapes: &[(usize, usize)] = if cfg!(miri) {
        &[(1, 1), (7, 3), (64, 80), (127, 17)]
    } else {
        &[(1, 1), (7, 3), (64, 192), (127, 17), (250, 2160), (QMAX_IN, 16)]
    };
    for &(n_in, n_out) in shapes {
        let mut values = random_i8(&mut r, n_in * n_out);
        let mut x = random_i8(&mut r, n_in);
        if n_in == QMAX_IN {
            values.fill(-127);
            x.fill(-127);
        }
        let q = Int8Dense::new(&values, n_in, n_out, &vec![0.01; n_out], 0.05);
        let mut xq = vec![0i8; q.groups * QGROUP];
        xq[..n_in].copy_from_slice(&x);
        let span = q.groups * QBLOCK * QGROUP;
        for blk in 0..q.blocks {
            let wblk = &q.wb[blk * span..(blk + 1) * span];
            let (mut portable, mut dispatched) = ([0i32; QBLOCK], [1i32; QBLOCK]);
            block_dot_portable(&xq, wblk, &mut portable);
            block_dot_dispatch(&xq, wblk, &mut dispatched);
            assert_eq!(portable, dispatched, "[{n_in}, {n_out}] block {blk}");
            // The VNNI kernel over this block alone, and over all blocks from here
            // (its four-block path).
            #[cfg(target_arch = "x86_64")]
            if q.kernel == Kernel::Vnni {
                let xg = offset_groups(&xq);
                let mut v = vec![2i32; (q.blocks - blk) * QBLOCK];
                // SAFETY: Kernel::Vnni says the CPU has avx512f + avx512vnni.
                unsafe { vnni::blocks_dot(&xg, &q.wb, q.groups, blk, blk + 1, &q.colsum128, &mut v[..QBLOCK]) };
                assert_eq!(&portable[..], &v[..QBLOCK], "VNNI [{n_in}, {n_out}] block {blk}");
                unsafe { vnni::blocks_dot(&xg, &q.wb, q.groups, blk, q.blocks, &q.colsum128, &mut v) };
                assert_eq!(&portable[..], &v[..QBLOCK], "VNNI x4 [{n_in}, {n_out}] block {blk}");
            }
            #[cfg(target_arch = "aarch64")]
            if q.kernel == Kernel::Sdot {
                let mut v = [3i32; QBLOCK];
                // SAFETY: Kernel::Sdot says the CPU has dotprod.
                unsafe { sdot::block_dot(&xq, wblk, &mut v) };
                assert_eq!(portable, v, "sdot [{n_in}, {n_out}] block {blk}");
            }
            for (jj, got) in portable.iter().enumerate() {
                let j = blk * QBLOCK + jj;
                let exact: i64 = if j < n_out {
                    (0..n_in).map(|i| x[i] as i64 * values[i * n_out + j] as i64).sum()
                } else {
                    0
                };
                assert_eq!(*got as i64, exact, "[{n_in}, {n_out}] output {j}");
            }
        }
    }
    eprintln!("AVX-512 VNNI on this machine: {}", vnni_available());
    eprintln!("int8 kernel on this machine: {}", Kernel::best().name());
    // The Miri job enables the features statically: it must take the unsafe path.
    if cfg!(all(miri, target_feature = "avx512vnni")) {
        assert!(vnni_available(), "Miri would test only the portable kernel");
    }
}

#[test]
fn the_layer_gives_the_same_bits_on_both_kernels_and_follows_the_f32_product() {
    let mut r = Lcg(11);
    // Several input and output chunks, odd sizes, more than one row.
    let shapes: &[(usize, usize, usize)] = if cfg!(miri) {
        &[(3, 5, 1), (64, 80, 2)]
    } else {
        &[(3, 5, 1), (64, 192, 5), (1500, 600, 2)]
    };
    for &(n_in, n_out, rows) in shapes {
        let w: Vec<i8> = random_i8(&mut r, n_in * n_out);
        let w_scales: Vec<f32> = (0..n_out).map(|_| 0.001 + (r.next() % 100) as f32 * 1e-4).collect();
        let b: Vec<f32> = (0..n_out).map(|_| r.f32()).collect();
        let x: Vec<f32> = (0..rows * n_in).map(|_| r.f32() * 2.0).collect();
        let x_scale = 2.0 / QMAX;
        let q = Int8Dense::new(&w, n_in, n_out, &w_scales, x_scale);
        let mut y = vec![f32::NAN; rows * n_out];
        q.forward(&b, &x, &mut y);
        let mut yp = vec![f32::NAN; rows * n_out];
        q.clone().portable().forward(&b, &x, &mut yp);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&yp), "[{n_in}, {n_out}]");
        for (row, yr) in y.chunks_exact(n_out).enumerate() {
            let xr = &x[row * n_in..(row + 1) * n_in];
            for (j, got) in yr.iter().enumerate() {
                // The exact product of the quantized input and weights.
                let dot: i64 = (0..n_in)
                    .map(|i| quantize_value(xr[i], 1.0 / x_scale) as i64 * w[i * n_out + j] as i64)
                    .sum();
                let want = b[j] + dot as f32 * (w_scales[j] * x_scale);
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "[{n_in}, {n_out}] row {row} out {j}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn with_portable_kernel_forces_the_portable_kernel_on_this_thread_only() {
    let layer = || Int8Dense::new(&[1, 2, 3, 4], 2, 2, &[0.1, 0.1], 0.5).kernel();
    let inside = with_portable_kernel(|| {
        let other_thread = std::thread::spawn(layer).join().unwrap();
        (layer(), with_portable_kernel(layer), layer(), other_thread)
    });
    assert_eq!(
        inside,
        (Kernel::Portable, Kernel::Portable, Kernel::Portable, Kernel::best())
    );
    assert_eq!(layer(), Kernel::best(), "the override ends with the call");
    // And after a panic inside it.
    let _ = std::panic::catch_unwind(|| with_portable_kernel(|| panic!("inside")));
    assert_eq!(layer(), Kernel::best());
}

#[test]
fn quantize_value_saturates_and_maps_nan_to_zero() {
    assert_eq!(quantize_value(1e9, 1.0), 127);
    assert_eq!(quantize_value(-1e9, 1.0), -127);
    assert_eq!(quantize_value(f32::NAN, 1.0), 0);
    assert_eq!(quantize_value(2.5, 1.0), 2);
    assert_eq!(quantize_value(-2.5, 1.0), -2);
    assert_eq!(quantize_value(3.5, 1.0), 4);
    assert_eq!(quantize_value(2.6, 1.0), 3);
    assert_eq!(quantize_value(-0.4, 1.0), 0);
    assert_eq!(quantize_value(126.5, 1.0), 126);
    assert_eq!(quantize_value(126.51, 1.0), 127);
}
