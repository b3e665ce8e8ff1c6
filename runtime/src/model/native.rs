//! The per-frame inference path in plain Rust: the same weights as the burn modules, run
//! by small kernels on preallocated buffers.
//!
//! Why not burn here: at batch 1 the streaming engine runs about forty tiny ops per frame
//! (a 16-row atom encoder, a few matrix-vector products in the heads). burn-ndarray spends
//! more time per op dispatching, allocating and copying than computing, so the per-frame
//! budget goes to overhead (measured in `a4mer bench --backend burn`). These kernels do
//! the arithmetic only, allocate nothing after construction, and use AVX2/NEON through
//! run-time dispatch (`multiversion`). The burn modules stay the definition: training,
//! offline batch inference and the parity tests use them (`a4mer-burn-model`). `NativeNet`
//! is built from tensors by name (`from_tensors`), from an artifact or from the burn
//! modules' named tensors, so this crate links no burn; a changed module that this code does
//! not follow fails the parity tests there.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::features::{CONT_DIM, FEAT_DIM};
use super::quant::{ActObserver, Int8Weights};

/// The int8 layers: weights per output channel, each input vector with its own scale.
mod int8;

mod block;
mod dense;
/// Built from an artifact's tensors by name, without burn (what the node runs).
mod from_tensors;

pub use block::KvRing;
pub use dense::Dense;

use block::{BlockScratch, NBlock};
use dense::{Norm, gelu, softmax};

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

/// The inference weights of the A4Mer network, laid out for the kernels.
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
}
