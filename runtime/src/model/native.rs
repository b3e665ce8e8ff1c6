//! The per-frame inference path in plain Rust: the same weights as the burn modules, run
//! by small kernels on preallocated buffers.
//!
//! Why not burn here: at batch 1 the streaming engine runs about forty tiny ops per frame
//! (a 16-row atom encoder, a few matrix-vector products in the heads). burn-ndarray spends
//! more time per op dispatching, allocating and copying than computing, so the per-frame
//! budget goes to overhead (measured in `a4mer bench --backend burn`). These kernels do
//! the arithmetic only, allocate nothing after construction, and use AVX2/NEON through
//! run-time dispatch (`multiversion`). The burn modules stay the definition: training,
//! offline batch inference and the parity tests use them, and `NativeNet` is built from
//! them by field, so a changed module that this file does not follow fails to build or
//! fails parity.

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::nn::{LayerNorm, Linear};
use multiversion::multiversion;

use super::features::{CONT_DIM, FEAT_DIM};
use super::host;
use super::nn::{A4mer, A4merConfig, AtomEncoder, Block, ForecastHead, Mlp, MotifEncoder};
use super::quant::{ActObserver, Int8Weights};

/// The int8 layers: weights per output channel, each input vector with its own scale.
mod int8;
use int8::QDense;

/// `y = x W + b` with `W` stored `[n_in, n_out]` row-major (burn's `Linear` layout); in
/// int8 when the model was quantized (see [`QDense`]).
#[derive(Clone, Debug)]
pub struct Dense {
    /// The burn module path (`forecast.l1`): the artifact's tensor names are `{name}.weight`
    /// and `{name}.bias`, and int8 scales are keyed by it.
    pub name: String,
    pub n_in: usize,
    pub n_out: usize,
    w: Vec<f32>,
    b: Vec<f32>,
    q: Option<QDense>,
    /// Calibration only: records every input this layer sees.
    observer: Option<Arc<ActObserver>>,
}

impl Dense {
    fn from_burn(l: &Linear, name: impl Into<String>) -> Self {
        let [n_in, n_out] = l.weight.dims();
        let b = match &l.bias {
            Some(b) => host(b.val()),
            None => vec![0.0; n_out],
        };
        Self {
            name: name.into(),
            n_in,
            n_out,
            w: host(l.weight.val()),
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
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// burn's `LayerNormConfig` default, which every layer norm of the model uses.
const LN_EPS: f32 = 1e-5;

impl Norm {
    fn from_burn(l: &LayerNorm) -> Self {
        let gamma = host(l.gamma.val());
        let beta = match &l.beta {
            Some(b) => host(b.val()),
            None => vec![0.0; gamma.len()],
        };
        Self { gamma, beta }
    }

    fn forward(&self, x: &[f32], y: &mut [f32]) {
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
fn gelu(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + libm::erff(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

fn softmax(x: &mut [f32]) {
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

#[derive(Clone, Debug)]
struct NBlock {
    ln1: Norm,
    qkv: Dense,
    out: Dense,
    ln2: Norm,
    ff1: Dense,
    ff2: Dense,
    heads: usize,
}

/// Scratch for a block over at most `rows` tokens.
#[derive(Clone, Debug)]
struct BlockScratch {
    h: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    y: Vec<f32>,
    ff: Vec<f32>,
    scores: Vec<f32>,
}

impl BlockScratch {
    fn new(rows: usize, d: usize, d_ff: usize, keys: usize) -> Self {
        Self {
            h: vec![0.0; rows * d],
            qkv: vec![0.0; rows * 3 * d],
            att: vec![0.0; rows * d],
            y: vec![0.0; rows * d],
            ff: vec![0.0; rows * d_ff],
            scores: vec![0.0; keys],
        }
    }
}

/// One query row `q` (`d`) against `n` keys/values stored with row stride `stride` at
/// offsets `k_off`/`v_off` of `kv`; the result is written to `out` (`d`).
#[allow(clippy::too_many_arguments)]
fn attend_row(
    q: &[f32],
    kv: &[f32],
    stride: usize,
    k_off: usize,
    v_off: usize,
    n: usize,
    heads: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let d = q.len();
    let dh = d / heads;
    let scale = 1.0 / (dh as f32).sqrt();
    for h in 0..heads {
        let qh = &q[h * dh..(h + 1) * dh];
        let s = &mut scores[..n];
        for (j, sj) in s.iter_mut().enumerate() {
            let k = &kv[j * stride + k_off + h * dh..j * stride + k_off + (h + 1) * dh];
            *sj = qh.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
        }
        softmax(s);
        let oh = &mut out[h * dh..(h + 1) * dh];
        oh.fill(0.0);
        for (j, &p) in s.iter().enumerate() {
            let v = &kv[j * stride + v_off + h * dh..j * stride + v_off + (h + 1) * dh];
            for (o, vv) in oh.iter_mut().zip(v) {
                *o += p * vv;
            }
        }
    }
}

impl NBlock {
    fn from_burn(b: &Block, prefix: &str) -> Self {
        Self {
            ln1: Norm::from_burn(&b.ln1),
            qkv: Dense::from_burn(&b.attn.qkv, format!("{prefix}.attn.qkv")),
            out: Dense::from_burn(&b.attn.out, format!("{prefix}.attn.out")),
            ln2: Norm::from_burn(&b.ln2),
            ff1: Dense::from_burn(&b.ff1, format!("{prefix}.ff1")),
            ff2: Dense::from_burn(&b.ff2, format!("{prefix}.ff2")),
            heads: b.attn.n_heads,
        }
    }

    fn macs(&self) -> usize {
        self.qkv.macs() + self.out.macs() + self.ff1.macs() + self.ff2.macs()
    }

    /// The feed-forward half, in place on `x` (`rows * d`).
    fn feed_forward(&self, x: &mut [f32], s: &mut BlockScratch) {
        let rows = x.len() / self.ff1.n_in;
        let h = &mut s.h[..x.len()];
        self.ln2.forward(x, h);
        let ff = &mut s.ff[..rows * self.ff1.n_out];
        self.ff1.forward(h, ff);
        gelu(ff);
        let y = &mut s.y[..x.len()];
        self.ff2.forward(ff, y);
        for (a, b) in x.iter_mut().zip(y.iter()) {
            *a += b;
        }
    }

    /// Full (bidirectional) attention among `rows` tokens, in place on `x`.
    fn forward(&self, x: &mut [f32], s: &mut BlockScratch) {
        let d = self.qkv.n_in;
        let rows = x.len() / d;
        self.ln1.forward(x, &mut s.h[..x.len()]);
        self.qkv.forward(&s.h[..x.len()], &mut s.qkv[..rows * 3 * d]);
        for r in 0..rows {
            let q = &s.qkv[r * 3 * d..r * 3 * d + d];
            attend_row(
                q,
                &s.qkv,
                3 * d,
                d,
                2 * d,
                rows,
                self.heads,
                &mut s.scores,
                &mut s.att[r * d..(r + 1) * d],
            );
        }
        self.out.forward(&s.att[..x.len()], &mut s.y[..x.len()]);
        for (a, b) in x.iter_mut().zip(s.y.iter()) {
            *a += b;
        }
        self.feed_forward(x, s);
    }

    /// One new token `x` (`d`) attending to the cached tokens and itself.
    fn step(&self, x: &mut [f32], cache: &mut KvRing, s: &mut BlockScratch) {
        let d = x.len();
        self.ln1.forward(x, &mut s.h[..d]);
        self.qkv.forward(&s.h[..d], &mut s.qkv[..3 * d]);
        cache.push(&s.qkv[d..2 * d], &s.qkv[2 * d..3 * d]);
        let q = &s.qkv[..d];
        attend_row(
            q,
            &cache.kv,
            2 * d,
            0,
            d,
            cache.len,
            self.heads,
            &mut s.scores,
            &mut s.att[..d],
        );
        self.out.forward(&s.att[..d], &mut s.y[..d]);
        for (a, b) in x.iter_mut().zip(s.y.iter()) {
            *a += b;
        }
        self.feed_forward(x, s);
    }
}

/// Keys and values of one motif layer for the newest `window` atoms. Attention is a sum
/// over keys, so the ring's order does not matter and nothing is ever shifted.
#[derive(Clone, Debug)]
pub struct KvRing {
    /// `window` rows of `[k (d), v (d)]`.
    kv: Vec<f32>,
    d: usize,
    window: usize,
    len: usize,
    next: usize,
}

impl KvRing {
    fn new(window: usize, d: usize) -> Self {
        Self {
            kv: vec![0.0; window * 2 * d],
            d,
            window,
            len: 0,
            next: 0,
        }
    }

    fn push(&mut self, k: &[f32], v: &[f32]) {
        let d = self.d;
        let row = &mut self.kv[self.next * 2 * d..(self.next + 1) * 2 * d];
        row[..d].copy_from_slice(k);
        row[d..].copy_from_slice(v);
        self.next = (self.next + 1) % self.window;
        self.len = (self.len + 1).min(self.window);
    }

    fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }
}

#[derive(Clone, Debug)]
struct NAtom {
    embed: Dense,
    /// `[l_max, d]`
    pos: Vec<f32>,
    blocks: Vec<NBlock>,
    ln: Norm,
    /// `[l_max + 1, d]`
    dur: Vec<f32>,
    proj: Dense,
}

#[derive(Clone, Debug)]
struct NMotif {
    blocks: Vec<NBlock>,
    ln: Norm,
    window: usize,
}

#[derive(Clone, Debug)]
struct NHead {
    l1: Dense,
    l2: Dense,
    mean: Dense,
    log_spread: Dense,
}

#[derive(Clone, Debug)]
struct NMlp {
    l1: Dense,
    l2: Dense,
}

impl NMlp {
    fn from_burn(m: &Mlp, prefix: &str) -> Self {
        Self {
            l1: Dense::from_burn(&m.l1, format!("{prefix}.l1")),
            l2: Dense::from_burn(&m.l2, format!("{prefix}.l2")),
        }
    }
}

/// The inference weights of an [`A4mer`], laid out for the kernels.
#[derive(Clone, Debug)]
pub struct NativeNet {
    pub d_model: usize,
    pub d_ff: usize,
    pub l_max: usize,
    pub horizon: usize,
    pub n_motifs: usize,
    frame_pred: Dense,
    atom: NAtom,
    motif: NMotif,
    forecast: NHead,
    next_motif: NMlp,
}

/// Per-stream mutable state of the network: the motif caches and every scratch buffer.
/// Allocated once per stream; nothing in the per-frame path allocates.
#[derive(Clone, Debug)]
pub struct NetState {
    caches: Vec<KvRing>,
    seg: BlockScratch,
    one: BlockScratch,
    x: Vec<f32>,
    pred_in: Vec<f32>,
    pred: Vec<f32>,
    pooled: Vec<f32>,
    head_h1: Vec<f32>,
    head_h2: Vec<f32>,
    mlp_in: Vec<f32>,
}

impl NetState {
    /// Forget the motif context (after a stream reset).
    pub fn reset(&mut self) {
        for c in &mut self.caches {
            c.clear();
        }
    }

    /// Atoms currently in the motif context.
    pub fn context_atoms(&self) -> usize {
        self.caches.first().map(|c| c.len).unwrap_or(0)
    }
}

impl NativeNet {
    pub fn from_burn(net: &A4mer, cfg: &A4merConfig) -> Self {
        let atom = &net.atom;
        let motif = &net.motif;
        Self {
            d_model: cfg.d_model,
            d_ff: cfg.d_ff,
            l_max: cfg.segmenter.l_max,
            horizon: cfg.horizon,
            n_motifs: cfg.n_motifs,
            frame_pred: Dense::from_burn(&net.frame_pred, "frame_pred"),
            atom: Self::atom_from(atom),
            motif: Self::motif_from(motif),
            forecast: Self::head_from(&net.forecast),
            next_motif: NMlp::from_burn(&net.next_motif, "next_motif"),
        }
    }

    fn atom_from(a: &AtomEncoder) -> NAtom {
        NAtom {
            embed: Dense::from_burn(&a.embed, "atom.embed"),
            pos: host(a.pos.val()),
            blocks: a
                .blocks
                .iter()
                .enumerate()
                .map(|(i, b)| NBlock::from_burn(b, &format!("atom.blocks.{i}")))
                .collect(),
            ln: Norm::from_burn(&a.ln),
            dur: host(a.dur.val()),
            proj: Dense::from_burn(&a.proj, "atom.proj"),
        }
    }

    fn motif_from(m: &MotifEncoder) -> NMotif {
        NMotif {
            blocks: m
                .blocks
                .iter()
                .enumerate()
                .map(|(i, b)| NBlock::from_burn(b, &format!("motif.blocks.{i}")))
                .collect(),
            ln: Norm::from_burn(&m.ln),
            window: m.window,
        }
    }

    fn head_from(h: &ForecastHead) -> NHead {
        NHead {
            l1: Dense::from_burn(&h.l1, "forecast.l1"),
            l2: Dense::from_burn(&h.l2, "forecast.l2"),
            mean: Dense::from_burn(&h.mean, "forecast.mean"),
            log_spread: Dense::from_burn(&h.log_spread, "forecast.log_spread"),
        }
    }

    /// Every matrix layer the engine runs, in a fixed order.
    pub fn layers(&self) -> Vec<&Dense> {
        let mut v = vec![&self.frame_pred, &self.atom.embed];
        for b in self.atom.blocks.iter().chain(&self.motif.blocks) {
            v.extend([&b.qkv, &b.out, &b.ff1, &b.ff2]);
        }
        let h = &self.forecast;
        v.extend([&self.atom.proj, &h.l1, &h.l2, &h.mean, &h.log_spread]);
        v.extend([&self.next_motif.l1, &self.next_motif.l2]);
        v
    }

    fn layers_mut(&mut self) -> Vec<&mut Dense> {
        let mut v = vec![&mut self.frame_pred, &mut self.atom.embed];
        for b in self.atom.blocks.iter_mut().chain(self.motif.blocks.iter_mut()) {
            v.extend([&mut b.qkv, &mut b.out, &mut b.ff1, &mut b.ff2]);
        }
        let h = &mut self.forecast;
        v.extend([
            &mut self.atom.proj,
            &mut h.l1,
            &mut h.l2,
            &mut h.mean,
            &mut h.log_spread,
        ]);
        v.extend([&mut self.next_motif.l1, &mut self.next_motif.l2]);
        v
    }

    /// Switch the layers named in `q` to int8; every name must be a layer of this network.
    pub fn set_int8(&mut self, q: &Int8Weights) -> Result<(), String> {
        let mut layers = self.layers_mut();
        for (name, layer) in &q.layers {
            let dense = layers
                .iter_mut()
                .find(|d| &d.name == name)
                .ok_or_else(|| format!("int8 layer `{name}` is not a layer the engine runs"))?;
            dense.set_int8(layer)?;
        }
        Ok(())
    }

    /// Layers running in int8.
    pub fn int8_layers(&self) -> usize {
        self.layers().iter().filter(|d| d.is_int8()).count()
    }

    /// Calibration: record the input of every layer from now on, by layer name.
    pub fn observe(&mut self) -> BTreeMap<String, Arc<ActObserver>> {
        self.layers_mut()
            .into_iter()
            .map(|d| {
                let o = Arc::new(ActObserver::default());
                d.observer = Some(o.clone());
                (d.name.clone(), o)
            })
            .collect()
    }

    pub fn new_state(&self) -> NetState {
        let d = self.d_model;
        let l = self.l_max;
        let hh = self.forecast.l1.n_out;
        NetState {
            caches: (0..self.motif.blocks.len())
                .map(|_| KvRing::new(self.motif.window, d))
                .collect(),
            seg: BlockScratch::new(l, d, self.d_ff, l),
            one: BlockScratch::new(1, d, self.d_ff, self.motif.window),
            x: vec![0.0; l * d],
            pred_in: vec![0.0; 2 * CONT_DIM],
            pred: vec![0.0; CONT_DIM],
            pooled: vec![0.0; d],
            head_h1: vec![0.0; hh.max(self.next_motif.l1.n_out)],
            head_h2: vec![0.0; hh],
            mlp_in: vec![0.0; 2 * d],
        }
    }

    /// Frame predictor: predicted continuous features of the next frame from the previous
    /// two (normalized), into `s.pred`.
    pub fn predict_frame<'s>(&self, prev1: &[f32], prev2: &[f32], s: &'s mut NetState) -> &'s [f32] {
        let (a, v) = s.pred_in.split_at_mut(CONT_DIM);
        a.copy_from_slice(&prev1[..CONT_DIM]);
        for ((o, p1), p2) in v.iter_mut().zip(&prev1[..CONT_DIM]).zip(&prev2[..CONT_DIM]) {
            *o = p1 - p2;
        }
        self.frame_pred.forward(&s.pred_in, &mut s.pred);
        for ((o, p1), vel) in s.pred.iter_mut().zip(&prev1[..CONT_DIM]).zip(&s.pred_in[CONT_DIM..]) {
            *o += p1 + vel;
        }
        &s.pred
    }

    /// Encode one segment of normalized frames (`n * FEAT_DIM`, `1 <= n <= l_max`) into an
    /// atom token `out` (`d`).
    pub fn encode_atom(&self, frames: &[f32], s: &mut NetState, out: &mut [f32]) {
        let d = self.d_model;
        let n = (frames.len() / FEAT_DIM).min(self.l_max);
        let x = &mut s.x[..n * d];
        self.atom.embed.forward(&frames[..n * FEAT_DIM], x);
        for (xv, p) in x.iter_mut().zip(&self.atom.pos[..n * d]) {
            *xv += p;
        }
        for b in &self.atom.blocks {
            b.forward(x, &mut s.seg);
        }
        let h = &mut s.seg.h[..n * d];
        self.atom.ln.forward(x, h);
        s.pooled.fill(0.0);
        let w = 1.0 / n as f32;
        for row in h.chunks_exact(d) {
            for (p, v) in s.pooled.iter_mut().zip(row) {
                *p += v * w;
            }
        }
        for (p, e) in s.pooled.iter_mut().zip(&self.atom.dur[n * d..(n + 1) * d]) {
            *p += e;
        }
        self.atom.proj.forward(&s.pooled, out);
    }

    /// Contextual state `out` (`d`) of a new atom `token`, updating the motif caches.
    pub fn motif_step(&self, token: &[f32], s: &mut NetState, out: &mut [f32]) {
        let d = self.d_model;
        let x = &mut s.x[..d];
        x.copy_from_slice(token);
        for (b, c) in self.motif.blocks.iter().zip(s.caches.iter_mut()) {
            b.step(x, c, &mut s.one);
        }
        self.motif.ln.forward(x, out);
    }

    /// Forecast head on `input` (`head_input_dim`): normalized displacements
    /// (`horizon * POSE_DIM`) and log spreads (`horizon`).
    pub fn forecast(&self, input: &[f32], s: &mut NetState, mean: &mut [f32], log_spread: &mut [f32]) {
        let h = &self.forecast;
        let h1 = &mut s.head_h1[..h.l1.n_out];
        h.l1.forward(input, h1);
        gelu(h1);
        h.l2.forward(h1, &mut s.head_h2);
        gelu(&mut s.head_h2);
        h.mean.forward(&s.head_h2, mean);
        h.log_spread.forward(&s.head_h2, log_spread);
    }

    /// Next-motif distribution `probs` (`n_motifs`) from the last atom state and the open
    /// segment's token.
    pub fn next_motif(&self, last_state: &[f32], open_token: &[f32], s: &mut NetState, probs: &mut [f32]) {
        let d = self.d_model;
        s.mlp_in[..d].copy_from_slice(last_state);
        s.mlp_in[d..].copy_from_slice(open_token);
        let m = &self.next_motif;
        let h1 = &mut s.head_h1[..m.l1.n_out];
        m.l1.forward(&s.mlp_in, h1);
        gelu(h1);
        m.l2.forward(h1, probs);
        softmax(probs);
    }

    /// Multiply-accumulates of an ordinary frame with an open segment of `n` frames, and
    /// the extra of a frame that closes a segment of `n` frames.
    pub fn macs(&self, n: usize) -> (usize, usize) {
        let d = self.d_model;
        let a = &self.atom;
        let attn = a.blocks.len() * 2 * n * n * d;
        let atom = n * (a.embed.macs() + a.blocks.iter().map(NBlock::macs).sum::<usize>()) + attn + a.proj.macs();
        let heads = self.forecast.l1.macs()
            + self.forecast.l2.macs()
            + self.forecast.mean.macs()
            + self.forecast.log_spread.macs()
            + self.next_motif.l1.macs()
            + self.next_motif.l2.macs();
        let steady = self.frame_pred.macs() + atom + heads;
        let motif = self.motif.blocks.iter().map(NBlock::macs).sum::<usize>()
            + self.motif.blocks.len() * 2 * self.motif.window * d;
        (steady, atom + motif)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values without a dependency: a 64-bit LCG.
    pub(super) struct Lcg(pub(super) u64);
    impl Lcg {
        pub(super) fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
        pub(super) fn f32(&mut self) -> f32 {
            self.next() as f32 / (1u64 << 31) as f32 - 1.0
        }
    }

    pub(super) fn dense(r: &mut Lcg, n_in: usize, n_out: usize) -> Dense {
        Dense {
            name: "test.layer".into(),
            n_in,
            n_out,
            w: (0..n_in * n_out).map(|_| r.f32() * 0.2).collect(),
            b: (0..n_out).map(|_| r.f32()).collect(),
            q: None,
            observer: None,
        }
    }

    #[test]
    fn every_engine_layer_is_named_like_its_tensors() {
        let device = crate::device::inference_device();
        let cfg = crate::model::tests::tiny_config();
        let m = crate::artifact::fresh_model(cfg.clone(), 1, &device);
        let net = NativeNet::from_burn(&m.net, &m.config);
        let tensors = crate::model::params::named_tensors(&m.net);
        for d in net.layers() {
            let w = tensors
                .get(&format!("{}.weight", d.name))
                .unwrap_or_else(|| panic!("no tensor {}.weight", d.name));
            assert_eq!(w.shape, vec![d.n_in, d.n_out], "{}", d.name);
        }
        let blocks = cfg.atom_layers + cfg.motif_layers;
        assert_eq!(net.layers().len(), 2 + 4 * blocks + 5 + 2);
    }
}
