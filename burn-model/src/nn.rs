//! The A4Mer network as plain burn modules. One definition serves training (on an
//! autodiff device), offline batch inference and the streaming engine's cached steps.

use a4mer_runtime::model::features::{CONT_DIM, FEAT_DIM, POSE_DIM};
use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
// The config is plain data (the engine reads it without burn); these paths stay for callers.
pub use a4mer_runtime::model::config::{A4merConfig, MAX_LAYERS, MAX_PARAMS, head_input_dim, interp_input_dim};

/// Additive attention bias for disallowed keys. Large enough that `exp` underflows to
/// exactly zero, so a masked key contributes nothing (not merely little).
pub const MASKED: f32 = -1.0e9;

fn linear(i: usize, o: usize, device: &Device) -> Linear {
    LinearConfig::new(i, o).init(device)
}

fn layer_norm(d: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d).init(device)
}

fn table(rows: usize, d: usize, device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::zeros([rows, d], device))
}

/// Multi-head self-attention with an additive bias (masks) and a cached single-step path.
#[derive(Module, Debug)]
pub struct Attention {
    pub qkv: Linear,
    pub out: Linear,
    #[module(skip)]
    pub n_heads: usize,
}

/// Keys and values of one attention layer for the tokens seen so far (at most `n_atoms`).
#[derive(Clone, Debug, Default)]
pub struct LayerCache {
    /// `[1, heads, n, d_head]`
    pub k: Option<Tensor<4>>,
    pub v: Option<Tensor<4>>,
}

impl LayerCache {
    pub fn len(&self) -> usize {
        self.k.as_ref().map(|k| k.dims()[2]).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Attention {
    fn attend(&self, q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, bias: Option<Tensor<4>>) -> Tensor<3> {
        let [b, h, t, dh] = q.dims();
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / (dh as f32).sqrt());
        let scores = match bias {
            Some(bias) => scores + bias,
            None => scores,
        };
        let att = softmax(scores, 3);
        let y = att.matmul(v).swap_dims(1, 2).reshape([b, t, h * dh]);
        self.out.forward(y)
    }

    /// `x`: `[b, t, d]`; `bias`: `[b, heads, t, t]` (0 allowed, [`MASKED`] disallowed).
    pub fn forward(&self, x: Tensor<3>, bias: Option<Tensor<4>>) -> Tensor<3> {
        let (q, k, v) = self.split_d(x);
        self.attend(q, k, v, bias)
    }

    fn split_d(&self, x: Tensor<3>) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, t, _] = x.dims();
        let qkv = self.qkv.forward(x);
        let d = qkv.dims()[2] / 3;
        let h = self.n_heads;
        let dh = d / h;
        let q = qkv.clone().narrow(2, 0, d).reshape([b, t, h, dh]).swap_dims(1, 2);
        let k = qkv.clone().narrow(2, d, d).reshape([b, t, h, dh]).swap_dims(1, 2);
        let v = qkv.narrow(2, 2 * d, d).reshape([b, t, h, dh]).swap_dims(1, 2);
        (q, k, v)
    }

    /// One new token `x: [1, 1, d]` attending to the cached tokens and itself; the cache
    /// keeps the newest `window` tokens. Equals [`Attention::forward`] with a causal band mask.
    pub fn step(&self, x: Tensor<3>, cache: &mut LayerCache, window: usize) -> Tensor<3> {
        let (q, k, v) = self.split_d(x);
        let mut k = match cache.k.take() {
            Some(old) => Tensor::cat(vec![old, k], 2),
            None => k,
        };
        let mut v = match cache.v.take() {
            Some(old) => Tensor::cat(vec![old, v], 2),
            None => v,
        };
        let n = k.dims()[2];
        if n > window {
            k = k.narrow(2, n - window, window);
            v = v.narrow(2, n - window, window);
        }
        cache.k = Some(k.clone());
        cache.v = Some(v.clone());
        self.attend(q, k, v, None)
    }
}

/// Pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block {
    pub ln1: LayerNorm,
    pub attn: Attention,
    pub ln2: LayerNorm,
    pub ff1: Linear,
    pub ff2: Linear,
}

impl Block {
    fn new(d: usize, heads: usize, d_ff: usize, device: &Device) -> Self {
        Self {
            ln1: layer_norm(d, device),
            attn: Attention {
                qkv: linear(d, 3 * d, device),
                out: linear(d, d, device),
                n_heads: heads,
            },
            ln2: layer_norm(d, device),
            ff1: linear(d, d_ff, device),
            ff2: linear(d_ff, d, device),
        }
    }

    pub fn forward(&self, x: Tensor<3>, bias: Option<Tensor<4>>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln1.forward(x), bias);
        x.clone() + self.ff2.forward(gelu(self.ff1.forward(self.ln2.forward(x))))
    }

    pub fn step(&self, x: Tensor<3>, cache: &mut LayerCache, window: usize) -> Tensor<3> {
        let x = x.clone() + self.attn.step(self.ln1.forward(x), cache, window);
        x.clone() + self.ff2.forward(gelu(self.ff1.forward(self.ln2.forward(x))))
    }
}

/// Encodes one segment of frames into one Action Atom token. Attention stays inside the
/// segment (each segment is its own batch row; padding keys are masked).
#[derive(Module, Debug)]
pub struct AtomEncoder {
    pub embed: Linear,
    pub pos: Param<Tensor<2>>,
    pub blocks: Vec<Block>,
    pub ln: LayerNorm,
    pub dur: Param<Tensor<2>>,
    pub proj: Linear,
}

/// Key-padding bias for segments of the given lengths, padded to `l`: `[s, heads, l, l]`.
pub fn padding_bias(lens: &[usize], l: usize, heads: usize, device: &Device) -> Tensor<4> {
    let mut v = vec![0.0f32; lens.len() * l * l];
    for (s, &n) in lens.iter().enumerate() {
        for i in 0..l {
            for j in n..l {
                v[(s * l + i) * l + j] = MASKED;
            }
        }
    }
    Tensor::<4>::from_data(TensorData::new(v, [lens.len(), 1, l, l]), device).repeat_dim(1, heads)
}

impl AtomEncoder {
    /// `segs`: `[s, l, FEAT_DIM]` normalized frames, zero-padded after each length.
    /// Returns `[s, d]` atom tokens.
    pub fn forward(&self, segs: Tensor<3>, lens: &[usize]) -> Tensor<2> {
        let [s, l, _] = segs.dims();
        let device = segs.device();
        let heads = self.blocks.first().map(|b| b.attn.n_heads).unwrap_or(1);
        let pos = self.pos.val().narrow(0, 0, l).unsqueeze_dim::<3>(0);
        let mut x = self.embed.forward(segs) + pos;
        let bias = padding_bias(lens, l, heads, &device);
        for b in &self.blocks {
            x = b.forward(x, Some(bias.clone()));
        }
        let x = self.ln.forward(x);
        let mut w = vec![0.0f32; s * l];
        for (i, &n) in lens.iter().enumerate() {
            for j in 0..n.min(l) {
                w[i * l + j] = 1.0 / n as f32;
            }
        }
        let w = Tensor::<3>::from_data(TensorData::new(w, [s, l, 1]), &device);
        let pooled = (x * w).sum_dim(1).reshape([s, self.proj.weight.dims()[0]]);
        let idx: Vec<i64> = lens.iter().map(|&n| n as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [lens.len()]), &device);
        self.proj.forward(pooled + self.dur.val().select(0, idx))
    }
}

/// Causal transformer over atom tokens with a sliding window of `n_atoms`.
#[derive(Module, Debug)]
pub struct MotifEncoder {
    pub blocks: Vec<Block>,
    pub ln: LayerNorm,
    pub mask_token: Param<Tensor<1>>,
    #[module(skip)]
    pub window: usize,
}

/// Causal band bias: query `i` sees keys `j` with `i - window < j <= i` and `j < n_valid`.
pub fn causal_bias(n_valid: &[usize], a: usize, window: usize, heads: usize, device: &Device) -> Tensor<4> {
    let mut v = vec![MASKED; n_valid.len() * a * a];
    for (b, &n) in n_valid.iter().enumerate() {
        for i in 0..a {
            for j in 0..a {
                if j <= i && i < j + window && j < n {
                    v[(b * a + i) * a + j] = 0.0;
                }
            }
        }
    }
    Tensor::<4>::from_data(TensorData::new(v, [n_valid.len(), 1, a, a]), device).repeat_dim(1, heads)
}

impl MotifEncoder {
    /// `tokens`: `[b, a, d]` right-padded; returns contextual atom states `[b, a, d]`.
    pub fn forward(&self, tokens: Tensor<3>, n_valid: &[usize]) -> Tensor<3> {
        let [_, a, _] = tokens.dims();
        let heads = self.blocks.first().map(|b| b.attn.n_heads).unwrap_or(1);
        let bias = causal_bias(n_valid, a, self.window, heads, &tokens.device());
        let mut x = tokens;
        for b in &self.blocks {
            x = b.forward(x, Some(bias.clone()));
        }
        self.ln.forward(x)
    }

    /// Streaming: the state of one new atom token `[1, d]`, updating the per-layer caches.
    pub fn step(&self, token: Tensor<2>, caches: &mut [LayerCache]) -> Tensor<2> {
        let d = token.dims()[1];
        let mut x = token.reshape([1, 1, d]);
        for (b, c) in self.blocks.iter().zip(caches.iter_mut()) {
            x = b.step(x, c, self.window);
        }
        self.ln.forward(x).reshape([1, d])
    }

    /// Replace the tokens where `masked[b * a + i]` with the learned mask token.
    pub fn apply_mask(&self, tokens: Tensor<3>, masked: &[bool]) -> Tensor<3> {
        let [b, a, d] = tokens.dims();
        let device = tokens.device();
        let keep: Vec<f32> = masked.iter().map(|m| if *m { 0.0 } else { 1.0 }).collect();
        let keep = Tensor::<3>::from_data(TensorData::new(keep, [b, a, 1]), &device);
        let mtok = self.mask_token.val().reshape([1, 1, d]);
        // Multiplying by exactly 0.0 removes the masked token's content (and its gradient).
        tokens * keep.clone() + mtok * (keep.neg() + 1.0)
    }
}

/// Two-layer MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    pub l1: Linear,
    pub l2: Linear,
}

impl Mlp {
    fn new(i: usize, h: usize, o: usize, device: &Device) -> Self {
        Self {
            l1: linear(i, h, device),
            l2: linear(h, o, device),
        }
    }
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.l2.forward(gelu(self.l1.forward(x)))
    }
}

/// Reconstructs a segment's continuous frame features from its atom token.
#[derive(Module, Debug)]
pub struct AtomDecoder {
    pub from_token: Linear,
    pub pos: Param<Tensor<2>>,
    pub out: Linear,
}

impl AtomDecoder {
    /// `tokens: [s, d]` -> `[s, l, CONT_DIM]`.
    pub fn forward(&self, tokens: Tensor<2>, l: usize) -> Tensor<3> {
        let h = self.from_token.forward(tokens).unsqueeze_dim::<3>(1);
        let h = h + self.pos.val().narrow(0, 0, l).unsqueeze_dim::<3>(0);
        self.out.forward(gelu(h))
    }
}

/// Future poses: per step, joint displacement from the last observed frame in its heading
/// frame (scaled by `disp_std`), plus a per-step log spread.
#[derive(Module, Debug)]
pub struct ForecastHead {
    pub l1: Linear,
    pub l2: Linear,
    pub mean: Linear,
    pub log_spread: Linear,
}

impl ForecastHead {
    /// `x: [b, head_in]` -> (`[b, horizon * POSE_DIM]`, `[b, horizon]`).
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = gelu(self.l2.forward(gelu(self.l1.forward(x))));
        (self.mean.forward(h.clone()), self.log_spread.forward(h))
    }
}

/// The whole model. Pre-training parts (frame predictor, decoder, latent predictors) are
/// kept in the artifact too: they are small and keep one module tree for every use.
#[derive(Module, Debug)]
pub struct A4mer {
    pub atom: AtomEncoder,
    pub motif: MotifEncoder,
    pub frame_pred: Linear,
    pub decoder: AtomDecoder,
    pub pred_atom: Mlp,
    pub pred_motif: Mlp,
    pub forecast: ForecastHead,
    pub next_motif: Mlp,
    pub interp: ForecastHead,
}

impl A4mer {
    /// Build with burn's default initialization (callers that need determinism
    /// overwrite the parameters, see `params::init_params`).
    pub fn new(cfg: &A4merConfig, device: &Device) -> Self {
        let d = cfg.d_model;
        let l = cfg.segmenter.l_max;
        let hh = cfg.head_hidden;
        let blocks = |n: usize| (0..n).map(|_| Block::new(d, cfg.n_heads, cfg.d_ff, device)).collect();
        Self {
            atom: AtomEncoder {
                embed: linear(FEAT_DIM, d, device),
                pos: table(l, d, device),
                blocks: blocks(cfg.atom_layers),
                ln: layer_norm(d, device),
                dur: table(l + 1, d, device),
                proj: linear(d, d, device),
            },
            motif: MotifEncoder {
                blocks: blocks(cfg.motif_layers),
                ln: layer_norm(d, device),
                mask_token: Param::from_tensor(Tensor::zeros([d], device)),
                window: cfg.n_atoms,
            },
            frame_pred: linear(2 * CONT_DIM, CONT_DIM, device),
            decoder: AtomDecoder {
                from_token: linear(d, 2 * d, device),
                pos: table(l, 2 * d, device),
                out: linear(2 * d, CONT_DIM, device),
            },
            pred_atom: Mlp::new(d, 2 * d, d, device),
            pred_motif: Mlp::new(d, 2 * d, d, device),
            forecast: ForecastHead {
                l1: linear(head_input_dim(d), hh, device),
                l2: linear(hh, hh, device),
                mean: linear(hh, cfg.horizon * POSE_DIM, device),
                log_spread: linear(hh, cfg.horizon, device),
            },
            next_motif: Mlp::new(2 * d, hh, cfg.n_motifs, device),
            interp: ForecastHead {
                l1: linear(interp_input_dim(d), hh, device),
                l2: linear(hh, hh, device),
                mean: linear(hh, cfg.horizon * POSE_DIM, device),
                log_spread: linear(hh, cfg.horizon, device),
            },
        }
    }

    /// Frame predictor: predicts normalized continuous features of frame t from t-1 and
    /// t-2 as a learned correction to constant-velocity extrapolation.
    /// `prev1, prev2: [n, CONT_DIM]` -> `[n, CONT_DIM]`.
    pub fn predict_frame(&self, prev1: Tensor<2>, prev2: Tensor<2>) -> Tensor<2> {
        let vel = prev1.clone() - prev2;
        let base = prev1.clone() + vel.clone();
        base + self.frame_pred.forward(Tensor::cat(vec![prev1, vel], 1))
    }
}
