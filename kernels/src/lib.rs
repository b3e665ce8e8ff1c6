//! The int8 kernels of the a4mer streaming engine.
//!
//! An int8 layer keeps its weights blocked for the dot-product instruction: 16 outputs by 4
//! inputs per 64 bytes. On x86-64 with AVX-512 VNNI one `vpdpbusd` does 64 multiply-adds;
//! on aarch64 with the Armv8.2 dot-product extension (Jetson Orin's Cortex-A78AE) four
//! `sdot` do the same; elsewhere a portable kernel, compiled for AVX2 and NEON through
//! `multiversion`, gives the same integers. The kernel is chosen once per layer at run
//! time ([`Kernel::best`]; [`with_portable_kernel`] forces the portable one). These two
//! kernels are the only `unsafe` code in the a4mer runtime; they live here so
//! AddressSanitizer and Miri (x86-64) and qemu-user (aarch64) can run them without
//! building burn (`scripts/ci-unsafe.sh`, `.ci/run`).

#![cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), forbid(unsafe_code))]

use std::cell::Cell;

use multiversion::multiversion;

/// Largest magnitude of a symmetric int8 value (-128 is never produced).
pub const QMAX: f32 = 127.0;

/// 1.5 * 2^23: adding and subtracting it rounds an f32 of magnitude < 2^22 to the nearest
/// integer, ties to even, in plain IEEE arithmetic.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `clamp(round(x * inv_scale), -127, 127)`, ties to even; NaN maps to 0.
///
/// Not `f32::round`: without SSE4.1 (the x86_64 baseline) that is a libm call per value,
/// which made quantizing a layer's input cost more than the layer. The magic-number
/// rounding vectorizes on every target and gives the same bits everywhere (Rust does not
/// reassociate float arithmetic).
///
/// After adding the magic number the integer sits in the low mantissa bits, so it is read
/// from the bits (no float-to-int conversion with its saturation fix-ups either).
#[inline(always)]
pub fn quantize_value(x: f32, inv_scale: f32) -> i8 {
    let v = x * inv_scale;
    let v = if v.is_nan() { 0.0 } else { v.clamp(-QMAX, QMAX) };
    ((v + ROUND_MAGIC).to_bits() as i32 - ROUND_MAGIC.to_bits() as i32) as i8
}

/// Widest int8 layer input: the quantized row lives on the stack, and the i32 sums stay
/// exact (4096 * 255 * 127 < 2^31). The shipped models' widest input is under 300.
pub const QMAX_IN: usize = 4096;
/// Outputs per block: one AVX-512 register of i32 sums.
pub const QBLOCK: usize = 16;
/// Inputs per group: one `vpdpbusd` lane multiplies 4 bytes.
pub const QGROUP: usize = 4;

/// An int8 layer: the input row is quantized with the calibrated per-tensor scale, each
/// output is an exact i32 dot product with its int8 weight column, then scaled back in f32.
///
/// Weights are blocked for the kernel: 16 outputs by 4 inputs per 64 bytes, so one
/// AVX-512 VNNI instruction does 64 multiply-adds (a fused f32 multiply-add does 16).
#[derive(Clone, Debug)]
pub struct Int8Dense {
    n_in: usize,
    n_out: usize,
    /// Input groups of 4 (zero-padded) and output blocks of 16 (zero-padded).
    groups: usize,
    blocks: usize,
    /// `[blocks][groups][16 outputs][4 inputs]`.
    wb: Vec<i8>,
    /// `128 * sum_i w[i][j]` per (padded) output: VNNI multiplies unsigned by signed bytes,
    /// so the kernel feeds `x + 128` and subtracts this. (Only the x86-64 kernel reads it.)
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    colsum128: Vec<i32>,
    inv_x_scale: f32,
    /// `x_scale * w_scale[j]`.
    out_scale: Vec<f32>,
    /// Chosen at construction from what the CPU reports.
    kernel: Kernel,
}

/// Which integer dot-product kernel a layer runs. Every kernel gives the same bits: the sums
/// are exact in i32, and the f32 epilogue is shared code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `block_dot_portable` compiled per target by `multiversion` (AVX2, NEON with and
    /// without dotprod, baseline).
    Portable,
    /// x86-64 AVX-512 VNNI `vpdpbusd`.
    Vnni,
    /// aarch64 Armv8.2 dot product (FEAT_DotProd) `sdot`.
    Sdot,
}

thread_local! {
    /// Set inside [`with_portable_kernel`].
    static FORCE_PORTABLE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every int8 layer built on this thread meanwhile on the portable kernel,
/// whatever the CPU offers. The kernel is fixed when a layer is built, so a model loaded
/// inside `f` keeps the portable kernel afterwards, on any thread. This is how a test on a
/// VNNI or `sdot` machine produces what a CPU without them would (the replay fixture); a
/// per-thread switch, so tests running beside it keep their own kernel.
pub fn with_portable_kernel<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCE_PORTABLE.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FORCE_PORTABLE.with(|c| c.replace(true)));
    f()
}

impl Kernel {
    /// The kernel a layer built now on this thread runs: [`Kernel::best`], or the portable
    /// one inside [`with_portable_kernel`].
    pub fn for_new_layers() -> Self {
        if FORCE_PORTABLE.with(Cell::get) {
            Kernel::Portable
        } else {
            Kernel::best()
        }
    }

    /// The fastest kernel this CPU runs.
    pub fn best() -> Self {
        if vnni_available() {
            Kernel::Vnni
        } else if sdot_available() {
            Kernel::Sdot
        } else {
            Kernel::Portable
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Vnni => "avx512-vnni",
            Kernel::Sdot => "sdot",
        }
    }
}

impl Int8Dense {
    /// `values` is `[n_in, n_out]` row-major, one weight scale per output, and the
    /// calibrated scale of the input.
    ///
    /// # Panics
    /// If the shapes disagree or `n_in > QMAX_IN`: callers validate untrusted layers first
    /// (the artifact loader names the layer).
    pub fn new(values: &[i8], n_in: usize, n_out: usize, w_scales: &[f32], x_scale: f32) -> Self {
        assert!(n_in <= QMAX_IN && values.len() == n_in * n_out && w_scales.len() == n_out);
        let groups = n_in.div_ceil(QGROUP);
        let blocks = n_out.div_ceil(QBLOCK);
        let mut wb = vec![0i8; blocks * groups * QBLOCK * QGROUP];
        let mut colsum128 = vec![0i32; blocks * QBLOCK];
        for (i, row) in values.chunks_exact(n_out).enumerate() {
            let (g, k) = (i / QGROUP, i % QGROUP);
            for (j, &v) in row.iter().enumerate() {
                let (b, jj) = (j / QBLOCK, j % QBLOCK);
                wb[((b * groups + g) * QBLOCK + jj) * QGROUP + k] = v;
                colsum128[j] += 128 * v as i32;
            }
        }
        Self {
            n_in,
            n_out,
            groups,
            blocks,
            wb,
            colsum128,
            inv_x_scale: 1.0 / x_scale,
            out_scale: w_scales.iter().map(|ws| ws * x_scale).collect(),
            kernel: Kernel::for_new_layers(),
        }
    }

    /// Use the portable kernel even where a dot-product instruction is present (tests
    /// compare the two).
    pub fn portable(mut self) -> Self {
        self.kernel = Kernel::Portable;
        self
    }

    /// The kernel this layer runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// `y = x W + b` for every row of `x` (`rows * n_in`) into `y` (`rows * n_out`).
    pub fn forward(&self, b: &[f32], x: &[f32], y: &mut [f32]) {
        // Stack buffers sized for the layer, so a narrow layer does not zero 4 KiB per call.
        match self.groups * QGROUP {
            0..=256 => self.forward_n::<256>(b, x, y),
            257..=1024 => self.forward_n::<1024>(b, x, y),
            _ => self.forward_n::<QMAX_IN>(b, x, y),
        }
    }

    fn forward_n<const N: usize>(&self, b: &[f32], x: &[f32], y: &mut [f32]) {
        let groups = self.groups;
        // Zero padding past n_in stays zero for every row.
        let mut xq = [0i8; N];
        let xq = &mut xq[..groups * QGROUP];
        let mut xg = [0i32; N];
        let mut acc = [0i32; QCHUNK_BLOCKS * QBLOCK];
        for (xr, yr) in x.chunks_exact(self.n_in).zip(y.chunks_exact_mut(self.n_out)) {
            quantize_row(xr, self.inv_x_scale, &mut xq[..self.n_in]);
            if self.kernel == Kernel::Vnni {
                // Four input bytes per lane, offset to unsigned (x ^ 0x80 = x + 128).
                for (g, x4) in xg.iter_mut().zip(xq.chunks_exact(QGROUP)) {
                    *g = i32::from_le_bytes([x4[0] as u8, x4[1] as u8, x4[2] as u8, x4[3] as u8])
                        ^ 0x8080_8080u32 as i32;
                }
            }
            for c0 in (0..self.blocks).step_by(QCHUNK_BLOCKS) {
                let c1 = (c0 + QCHUNK_BLOCKS).min(self.blocks);
                let acc = &mut acc[..(c1 - c0) * QBLOCK];
                self.blocks_dot(xq, &xg[..groups], c0, c1, acc);
                let (j0, j1) = (c0 * QBLOCK, (c1 * QBLOCK).min(self.n_out));
                for (((yj, bj), a), s) in yr[j0..j1]
                    .iter_mut()
                    .zip(&b[j0..j1])
                    .zip(acc.iter())
                    .zip(&self.out_scale[j0..j1])
                {
                    *yj = bj + *a as f32 * s;
                }
            }
        }
    }

    /// `acc` = the exact i32 sums of output blocks `c0..c1` (16 outputs each).
    #[inline]
    fn blocks_dot(&self, xq: &[i8], xg: &[i32], c0: usize, c1: usize, acc: &mut [i32]) {
        let span = self.groups * QBLOCK * QGROUP;
        #[cfg(target_arch = "x86_64")]
        if self.kernel == Kernel::Vnni {
            // SAFETY: `Kernel::Vnni` is chosen only when the CPU reports avx512f and
            // avx512vnni; the kernel checks the slice lengths it reads.
            unsafe { vnni::blocks_dot(xg, &self.wb, self.groups, c0, c1, &self.colsum128, acc) };
            return;
        }
        #[cfg(target_arch = "aarch64")]
        if self.kernel == Kernel::Sdot {
            for (blk, a) in (c0..c1).zip(acc.chunks_exact_mut(QBLOCK)) {
                // SAFETY: `Kernel::Sdot` is chosen only when the CPU reports dotprod; the
                // kernel checks the slice lengths it reads.
                unsafe { sdot::block_dot(xq, &self.wb[blk * span..(blk + 1) * span], a) };
            }
            return;
        }
        let _ = xg;
        for (blk, a) in (c0..c1).zip(acc.chunks_exact_mut(QBLOCK)) {
            block_dot_dispatch(xq, &self.wb[blk * span..(blk + 1) * span], a);
        }
    }
}

/// Output blocks per pass (the i32 sums of 256 outputs on the stack).
const QCHUNK_BLOCKS: usize = 16;

/// A layer input to int8 with the calibrated scale (same bits on every target).
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512vnni", "x86_64+avx2+fma", "aarch64+neon"))]
fn quantize_row(x: &[f32], inv_scale: f32, out: &mut [i8]) {
    for (q, v) in out.iter_mut().zip(x) {
        *q = quantize_value(*v, inv_scale);
    }
}

/// Whether this CPU runs the AVX-512 VNNI kernel.
pub fn vnni_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU runs the `sdot` kernel (Armv8.2 FEAT_DotProd: Cortex-A75/A76/A78,
/// Carmel in Jetson Xavier, Neoverse; not the Cortex-A57 of Jetson Nano and TX2).
pub fn sdot_available() -> bool {
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("dotprod")
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        false
    }
}

/// The portable kernel, compiled for AVX2 and NEON as well (autovectorized over the 16
/// outputs); the reference the VNNI kernel is tested against.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon+dotprod", "aarch64+neon"))]
fn block_dot_dispatch(xq: &[i8], wblk: &[i8], acc: &mut [i32]) {
    block_dot_portable(xq, wblk, acc)
}

#[inline(always)]
fn block_dot_portable(xq: &[i8], wblk: &[i8], acc: &mut [i32]) {
    acc.fill(0);
    for (x4, w) in xq.chunks_exact(QGROUP).zip(wblk.chunks_exact(QBLOCK * QGROUP)) {
        for (a, w4) in acc.iter_mut().zip(w.chunks_exact(QGROUP)) {
            // Wrapping adds: the sum cannot overflow (QMAX_IN * 127 * 127 < 2^31), and the
            // overflow checks of debug builds would stop the loop from vectorizing.
            let d = (x4[0] as i32 * w4[0] as i32)
                .wrapping_add(x4[1] as i32 * w4[1] as i32)
                .wrapping_add(x4[2] as i32 * w4[2] as i32)
                .wrapping_add(x4[3] as i32 * w4[3] as i32);
            *a = a.wrapping_add(d);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{QBLOCK, QGROUP};

    /// Output blocks `c0..c1` of the blocked weights `wb` (`groups` groups of 64 bytes
    /// per block) against the input `xg` (4 bytes per lane, already `x + 128`), minus
    /// `128 * column sum`: exactly `sum_i x[i] * w[i][j]` (`vpdpbusd` multiplies unsigned
    /// by signed bytes). Four blocks at a time, so four independent accumulators hide the
    /// instruction's latency and share each broadcast input.
    ///
    /// # Safety
    /// The CPU must support avx512f and avx512vnni.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn blocks_dot(
        xg: &[i32],
        wb: &[i8],
        groups: usize,
        c0: usize,
        c1: usize,
        colsum128: &[i32],
        acc: &mut [i32],
    ) {
        let span = groups * QBLOCK * QGROUP;
        assert!(
            xg.len() >= groups
                && wb.len() >= c1 * span
                && colsum128.len() >= c1 * QBLOCK
                && acc.len() >= (c1 - c0) * QBLOCK
        );
        let store = |acc: &mut [i32], b: usize, sum: __m512i| {
            // SAFETY: block b < c1: 16 i32 inside `colsum128` and `acc` (asserted above).
            unsafe {
                let c = _mm512_loadu_si512(colsum128.as_ptr().add(b * QBLOCK).cast());
                _mm512_storeu_si512(acc.as_mut_ptr().add((b - c0) * QBLOCK).cast(), _mm512_sub_epi32(sum, c));
            }
        };
        let mut b = c0;
        while b + 4 <= c1 {
            let p = wb[b * span..].as_ptr();
            let (mut s0, mut s1, mut s2, mut s3) = (
                _mm512_setzero_si512(),
                _mm512_setzero_si512(),
                _mm512_setzero_si512(),
                _mm512_setzero_si512(),
            );
            for (g, &x) in xg[..groups].iter().enumerate() {
                let x = _mm512_set1_epi32(x);
                let o = g * QBLOCK * QGROUP;
                // SAFETY: blocks b..b+4 < c1, group g < groups: inside `wb` (asserted above).
                unsafe {
                    s0 = _mm512_dpbusd_epi32(s0, x, _mm512_loadu_si512(p.add(o).cast()));
                    s1 = _mm512_dpbusd_epi32(s1, x, _mm512_loadu_si512(p.add(span + o).cast()));
                    s2 = _mm512_dpbusd_epi32(s2, x, _mm512_loadu_si512(p.add(2 * span + o).cast()));
                    s3 = _mm512_dpbusd_epi32(s3, x, _mm512_loadu_si512(p.add(3 * span + o).cast()));
                }
            }
            store(acc, b, s0);
            store(acc, b + 1, s1);
            store(acc, b + 2, s2);
            store(acc, b + 3, s3);
            b += 4;
        }
        while b < c1 {
            let p = wb[b * span..].as_ptr();
            let mut s0 = _mm512_setzero_si512();
            for (g, &x) in xg[..groups].iter().enumerate() {
                // SAFETY: block b < c1, group g < groups: inside `wb` (asserted above).
                let w = unsafe { _mm512_loadu_si512(p.add(g * QBLOCK * QGROUP).cast()) };
                s0 = _mm512_dpbusd_epi32(s0, _mm512_set1_epi32(x), w);
            }
            store(acc, b, s0);
            b += 1;
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod sdot {
    use std::arch::aarch64::*;
    use std::arch::asm;

    use super::{QBLOCK, QGROUP};

    /// One output block (16 outputs) of the blocked weights `wblk` against the int8 input
    /// `xq`: the exact i32 sums. Each group of 4 inputs is broadcast to every 32-bit lane;
    /// the group's 64 weight bytes are four registers of 4 outputs × 4 inputs, the order
    /// `sdot` (signed × signed, 4 products per lane) reads them in, so no offset is needed
    /// (unlike VNNI's unsigned × signed).
    ///
    /// Inline assembly because the `vdotq_s32` intrinsic is not stable Rust yet.
    ///
    /// # Safety
    /// The CPU must support the dot-product extension (FEAT_DotProd).
    #[target_feature(enable = "neon,dotprod")]
    pub unsafe fn block_dot(xq: &[i8], wblk: &[i8], acc: &mut [i32]) {
        let groups = xq.len() / QGROUP;
        assert!(acc.len() == QBLOCK && wblk.len() == groups * QBLOCK * QGROUP);
        let (mut a0, mut a1, mut a2, mut a3) = (vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0));
        for (x4, w) in xq.chunks_exact(QGROUP).zip(wblk.chunks_exact(QBLOCK * QGROUP)) {
            let x = vreinterpretq_s8_s32(vdupq_n_s32(i32::from_le_bytes([
                x4[0] as u8,
                x4[1] as u8,
                x4[2] as u8,
                x4[3] as u8,
            ])));
            // SAFETY: `w` is one group's 64 bytes (chunks_exact): four 16-byte loads.
            let (w0, w1, w2, w3) = unsafe {
                let p = w.as_ptr();
                (
                    vld1q_s8(p),
                    vld1q_s8(p.add(16)),
                    vld1q_s8(p.add(32)),
                    vld1q_s8(p.add(48)),
                )
            };
            // SAFETY: register-only arithmetic; dotprod is enabled for this function.
            unsafe {
                asm!(
                    "sdot {a0:v}.4s, {w0:v}.16b, {x:v}.16b",
                    "sdot {a1:v}.4s, {w1:v}.16b, {x:v}.16b",
                    "sdot {a2:v}.4s, {w2:v}.16b, {x:v}.16b",
                    "sdot {a3:v}.4s, {w3:v}.16b, {x:v}.16b",
                    a0 = inout(vreg) a0,
                    a1 = inout(vreg) a1,
                    a2 = inout(vreg) a2,
                    a3 = inout(vreg) a3,
                    w0 = in(vreg) w0,
                    w1 = in(vreg) w1,
                    w2 = in(vreg) w2,
                    w3 = in(vreg) w3,
                    x = in(vreg) x,
                    options(pure, nomem, nostack),
                );
            }
        }
        // SAFETY: `acc` holds 16 i32 (asserted above): four 4-lane stores.
        unsafe {
            let p = acc.as_mut_ptr();
            vst1q_s32(p, a0);
            vst1q_s32(p.add(4), a1);
            vst1q_s32(p.add(8), a2);
            vst1q_s32(p.add(12), a3);
        }
    }
}

#[cfg(test)]
mod tests;
