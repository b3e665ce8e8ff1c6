//! Turning segmented windows into the tensors the network consumes, shared by training
//! and offline inference.

use std::ops::Range;

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::nn::{A4mer, head_input_dim};
use a4mer_runtime::model::features::{FEAT_DIM, KIN_DIM};

/// One window: normalized frame features and its segmentation.
#[derive(Clone, Debug)]
pub struct WindowInput {
    pub feats: Vec<[f32; FEAT_DIM]>,
    /// Normalized joint velocities of the last frame.
    pub kin_last: [f32; KIN_DIM],
    /// Closed segments (frame ranges into `feats`), oldest first.
    pub closed: Vec<Range<usize>>,
    /// The open segment; ends at `feats.len()`.
    pub open: Range<usize>,
}

/// Tensors for a batch of windows.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[s, l, FEAT_DIM]`: every closed segment of every window, then each window's open one.
    pub segs: Tensor<3>,
    pub seg_lens: Vec<usize>,
    /// `[b * a]` row of `segs` for atom `i` of window `b`; `s` (a zero row) for padding.
    pub atom_rows: Tensor<1, Int>,
    pub atom_rows_host: Vec<usize>,
    /// Row of each window's open segment.
    pub open_rows: Tensor<1, Int>,
    pub n_atoms: Vec<usize>,
    pub a: usize,
    /// `[b, FEAT_DIM]` and `[b, KIN_DIM]`.
    pub last_feat: Tensor<2>,
    pub kin: Tensor<2>,
}

impl Batch {
    /// `max_atoms`: keep at most this many newest closed atoms per window.
    pub fn build(windows: &[WindowInput], max_atoms: usize, device: &Device) -> Self {
        let b = windows.len();
        let mut rows: Vec<(usize, Range<usize>)> = Vec::new();
        let mut n_atoms = Vec::with_capacity(b);
        for (w, win) in windows.iter().enumerate() {
            let skip = win.closed.len().saturating_sub(max_atoms);
            let kept = &win.closed[skip..];
            n_atoms.push(kept.len());
            rows.extend(kept.iter().map(|r| (w, r.clone())));
        }
        let n_closed = rows.len();
        for (w, win) in windows.iter().enumerate() {
            rows.push((w, win.open.clone()));
        }
        let l = rows.iter().map(|(_, r)| r.len()).max().unwrap_or(1).max(1);
        let s = rows.len();
        let mut segs = vec![0.0f32; s * l * FEAT_DIM];
        let mut seg_lens = Vec::with_capacity(s);
        for (i, (w, r)) in rows.iter().enumerate() {
            for (k, t) in r.clone().enumerate() {
                let o = (i * l + k) * FEAT_DIM;
                segs[o..o + FEAT_DIM].copy_from_slice(&windows[*w].feats[t]);
            }
            seg_lens.push(r.len());
        }
        let a = n_atoms.iter().copied().max().unwrap_or(0).max(1);
        let mut atom_rows_host = vec![s; b * a];
        let mut next = 0;
        for (w, &n) in n_atoms.iter().enumerate() {
            for i in 0..n {
                atom_rows_host[w * a + i] = next;
                next += 1;
            }
        }
        let open_rows: Vec<i64> = (0..b).map(|w| (n_closed + w) as i64).collect();
        let mut last_feat = Vec::with_capacity(b * FEAT_DIM);
        let mut kin = Vec::with_capacity(b * KIN_DIM);
        for win in windows {
            last_feat.extend_from_slice(win.feats.last().map(|f| &f[..]).unwrap_or(&[0.0; FEAT_DIM]));
            kin.extend_from_slice(&win.kin_last);
        }
        let ints = |v: Vec<i64>| {
            let n = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [n]), device)
        };
        Self {
            segs: Tensor::from_data(TensorData::new(segs, [s, l, FEAT_DIM]), device),
            seg_lens,
            atom_rows: ints(atom_rows_host.iter().map(|&r| r as i64).collect()),
            atom_rows_host,
            open_rows: ints(open_rows),
            n_atoms,
            a,
            last_feat: Tensor::from_data(TensorData::new(last_feat, [b, FEAT_DIM]), device),
            kin: Tensor::from_data(TensorData::new(kin, [b, KIN_DIM]), device),
        }
    }

    pub fn len(&self) -> usize {
        self.n_atoms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.n_atoms.is_empty()
    }

    /// Atom tokens laid out `[b, a, d]` (padding rows are zero), from tokens of every segment row.
    pub fn atom_grid(&self, seg_tokens: Tensor<2>) -> Tensor<3> {
        let [_, d] = seg_tokens.dims();
        let zero = Tensor::<2>::zeros([1, d], &seg_tokens.device());
        Tensor::cat(vec![seg_tokens, zero], 0)
            .select(0, self.atom_rows.clone())
            .reshape([self.len(), self.a, d])
    }

    /// State of each window's newest closed atom `[b, d]` (zero where there is none).
    pub fn last_state(&self, states: Tensor<3>) -> Tensor<2> {
        let [b, a, d] = states.dims();
        let device = states.device();
        let idx: Vec<i64> = self
            .n_atoms
            .iter()
            .enumerate()
            .map(|(w, &n)| if n == 0 { (b * a) as i64 } else { (w * a + n - 1) as i64 })
            .collect();
        let zero = Tensor::<2>::zeros([1, d], &device);
        Tensor::cat(vec![states.reshape([b * a, d]), zero], 0)
            .select(0, Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &device))
    }
}

/// What the encoders produce for a batch.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub seg_tokens: Tensor<2>,
    pub states: Tensor<3>,
    pub last_state: Tensor<2>,
    pub open_token: Tensor<2>,
}

impl Encoded {
    /// The heads' input `[b, head_input_dim]`.
    pub fn head_input(&self, batch: &Batch) -> Tensor<2> {
        let x = Tensor::cat(
            vec![
                self.last_state.clone(),
                self.open_token.clone(),
                batch.last_feat.clone(),
                batch.kin.clone(),
            ],
            1,
        );
        debug_assert_eq!(x.dims()[1], head_input_dim(self.last_state.dims()[1]));
        x
    }
}

impl A4mer {
    /// Encode a batch: atom tokens, contextual motif states (causal, windowed) and the
    /// pieces the heads need.
    pub fn encode(&self, batch: &Batch) -> Encoded {
        let seg_tokens = self.atom.forward(batch.segs.clone(), &batch.seg_lens);
        let grid = batch.atom_grid(seg_tokens.clone());
        let states = self.motif.forward(grid, &batch.n_atoms);
        let last_state = batch.last_state(states.clone());
        let open_token = seg_tokens.clone().select(0, batch.open_rows.clone());
        Encoded {
            seg_tokens,
            states,
            last_state,
            open_token,
        }
    }
}
