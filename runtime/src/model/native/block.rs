//! Transformer blocks over preallocated scratch, and the per-layer key/value rings the
//! motif encoder attends over one atom at a time.

use super::dense::{Dense, Norm, gelu, softmax};

#[derive(Clone, Debug)]
pub(super) struct NBlock {
    pub(super) ln1: Norm,
    pub(super) qkv: Dense,
    pub(super) out: Dense,
    pub(super) ln2: Norm,
    pub(super) ff1: Dense,
    pub(super) ff2: Dense,
    pub(super) heads: usize,
}

/// Scratch for a block over at most `rows` tokens.
#[derive(Clone, Debug)]
pub(super) struct BlockScratch {
    pub(super) h: Vec<f32>,
    pub(super) qkv: Vec<f32>,
    pub(super) att: Vec<f32>,
    pub(super) y: Vec<f32>,
    pub(super) ff: Vec<f32>,
    pub(super) scores: Vec<f32>,
}

impl BlockScratch {
    pub(super) fn new(rows: usize, d: usize, d_ff: usize, keys: usize) -> Self {
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
    pub(super) fn macs(&self) -> usize {
        self.qkv.macs() + self.out.macs() + self.ff1.macs() + self.ff2.macs()
    }

    /// The feed-forward half, in place on `x` (`rows * d`).
    pub(super) fn feed_forward(&self, x: &mut [f32], s: &mut BlockScratch) {
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
    pub(super) fn forward(&self, x: &mut [f32], s: &mut BlockScratch) {
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
    pub(super) fn step(&self, x: &mut [f32], cache: &mut KvRing, s: &mut BlockScratch) {
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
    pub(super) len: usize,
    next: usize,
}

impl KvRing {
    pub(super) fn new(window: usize, d: usize) -> Self {
        Self {
            kv: vec![0.0; window * 2 * d],
            d,
            window,
            len: 0,
            next: 0,
        }
    }

    pub(super) fn push(&mut self, k: &[f32], v: &[f32]) {
        let d = self.d;
        let row = &mut self.kv[self.next * 2 * d..(self.next + 1) * 2 * d];
        row[..d].copy_from_slice(k);
        row[d..].copy_from_slice(v);
        self.next = (self.next + 1) % self.window;
        self.len = (self.len + 1).min(self.window);
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }
}
