//! The model's shape: [`A4merConfig`], its checks, and every tensor it has by name and
//! shape. Plain data, so the engine can be built from an artifact without burn; the burn
//! modules (`a4mer-burn-model`'s `nn`) are built from the same config, and a test there checks
//! that they have exactly the tensors [`A4merConfig::tensor_shapes`] lists.

use serde::{Deserialize, Serialize};

use super::features::{CONT_DIM, FEAT_DIM, KIN_DIM, POSE_DIM};
use super::segment::SegmenterConfig;
use crate::pose::NUM_JOINTS;

/// Largest model a config may build: 32 M parameters (128 MiB of f32), 40x the shipped
/// model. A corrupt or hostile artifact must not make the loader allocate gigabytes.
pub const MAX_PARAMS: usize = 32 << 20;

/// Most transformer layers per encoder. A layer of a tiny width has few parameters but
/// still costs a module each: the parameter bound alone would allow millions of them.
pub const MAX_LAYERS: usize = 64;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct A4merConfig {
    pub d_model: usize,
    pub n_heads: usize,
    pub d_ff: usize,
    pub atom_layers: usize,
    pub motif_layers: usize,
    pub segmenter: SegmenterConfig,
    /// Motif context: each atom attends to itself and the previous `n_atoms - 1` atoms.
    pub n_atoms: usize,
    /// Forecast steps at the model rate.
    pub horizon: usize,
    /// Frames of history the heads are trained with.
    pub obs_frames: usize,
    /// Motif vocabulary size (k-means codes).
    pub n_motifs: usize,
    /// Atoms pooled into one motif embedding.
    pub motif_span: usize,
    /// How far ahead (frames) the next-motif head looks.
    pub motif_lookahead_frames: usize,
    pub head_hidden: usize,
}

impl A4merConfig {
    pub fn small() -> Self {
        Self {
            d_model: 64,
            n_heads: 4,
            d_ff: 128,
            atom_layers: 1,
            motif_layers: 2,
            segmenter: SegmenterConfig {
                l_min: 4,
                l_max: 16,
                tau: 1.0,
            },
            n_atoms: 16,
            horizon: 30,
            obs_frames: 60,
            n_motifs: 64,
            motif_span: 4,
            motif_lookahead_frames: 15,
            head_hidden: 128,
        }
    }

    /// Checks that must hold before modules are built from a config read from a file.
    pub fn validate(&self) -> Result<(), String> {
        let c = self;
        let pos = [
            ("d_model", c.d_model),
            ("n_heads", c.n_heads),
            ("d_ff", c.d_ff),
            ("atom_layers", c.atom_layers),
            ("motif_layers", c.motif_layers),
            ("n_atoms", c.n_atoms),
            ("horizon", c.horizon),
            ("obs_frames", c.obs_frames),
            ("n_motifs", c.n_motifs),
            ("motif_span", c.motif_span),
            ("head_hidden", c.head_hidden),
            ("segmenter.l_min", c.segmenter.l_min),
        ];
        for (name, v) in pos {
            if v == 0 {
                return Err(format!("config.{name} must be > 0"));
            }
        }
        if !c.d_model.is_multiple_of(c.n_heads) {
            return Err(format!(
                "config.d_model {} is not a multiple of n_heads {}",
                c.d_model, c.n_heads
            ));
        }
        if c.segmenter.l_max < c.segmenter.l_min {
            return Err("config.segmenter.l_max < l_min".into());
        }
        if !c.segmenter.tau.is_finite() {
            return Err("config.segmenter.tau is not finite".into());
        }
        if c.d_model > 4096 || c.head_hidden > 65536 || c.horizon > 1024 || c.segmenter.l_max > 1024 {
            return Err("config dimensions are implausibly large".into());
        }
        for (name, v) in [("atom_layers", c.atom_layers), ("motif_layers", c.motif_layers)] {
            if v > MAX_LAYERS {
                return Err(format!("config.{name} {v} is more than {MAX_LAYERS}"));
            }
        }
        // The per-field limits above still allow gigabytes of modules (d_ff, layer counts and
        // n_motifs are free): bound what building this config would allocate.
        match c.param_count() {
            Some(n) if n <= MAX_PARAMS => Ok(()),
            Some(n) => Err(format!(
                "config would build {n} parameters ({} MiB), more than the {MAX_PARAMS} this runtime accepts",
                n / (1 << 18)
            )),
            None => Err("config parameter count overflows".into()),
        }
    }

    /// Every tensor the model has for this config, by name (the burn module path joined by
    /// dots, as the artifact stores them) and shape (`[n_in, n_out]` for a linear layer's
    /// weight, burn's layout). Loading checks an artifact's tensors against this list
    /// whichever way the model is built, so both refuse the same files.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let c = self;
        let (d, l, hh) = (c.d_model, c.segmenter.l_max, c.head_hidden);
        let mut out = Vec::new();
        let mut linear = |name: &str, i: usize, o: usize| {
            out.push((format!("{name}.weight"), vec![i, o]));
            out.push((format!("{name}.bias"), vec![o]));
        };
        let mut tables: Vec<(String, Vec<usize>)> = Vec::new();
        let mut norm = |name: &str| {
            tables.push((format!("{name}.gamma"), vec![d]));
            tables.push((format!("{name}.beta"), vec![d]));
        };
        for (enc, n) in [("atom", c.atom_layers), ("motif", c.motif_layers)] {
            for i in 0..n {
                let b = format!("{enc}.blocks.{i}");
                norm(&format!("{b}.ln1"));
                norm(&format!("{b}.ln2"));
                linear(&format!("{b}.attn.qkv"), d, 3 * d);
                linear(&format!("{b}.attn.out"), d, d);
                linear(&format!("{b}.ff1"), d, c.d_ff);
                linear(&format!("{b}.ff2"), c.d_ff, d);
            }
            norm(&format!("{enc}.ln"));
        }
        linear("atom.embed", FEAT_DIM, d);
        linear("atom.proj", d, d);
        linear("frame_pred", 2 * CONT_DIM, CONT_DIM);
        linear("decoder.from_token", d, 2 * d);
        linear("decoder.out", 2 * d, CONT_DIM);
        for p in ["pred_atom", "pred_motif"] {
            linear(&format!("{p}.l1"), d, 2 * d);
            linear(&format!("{p}.l2"), 2 * d, d);
        }
        for (head, input) in [("forecast", head_input_dim(d)), ("interp", interp_input_dim(d))] {
            linear(&format!("{head}.l1"), input, hh);
            linear(&format!("{head}.l2"), hh, hh);
            linear(&format!("{head}.mean"), hh, c.horizon * POSE_DIM);
            linear(&format!("{head}.log_spread"), hh, c.horizon);
        }
        linear("next_motif.l1", 2 * d, hh);
        linear("next_motif.l2", hh, c.n_motifs);
        out.extend(tables);
        out.push(("atom.pos".into(), vec![l, d]));
        out.push(("atom.dur".into(), vec![l + 1, d]));
        out.push(("motif.mask_token".into(), vec![d]));
        out.push(("decoder.pos".into(), vec![l, 2 * d]));
        out
    }

    /// Number of f32 parameters [`A4mer::new`] builds for this config (`None` on overflow),
    /// computed without building anything. A test checks it against the built modules.
    pub fn param_count(&self) -> Option<usize> {
        let c = self;
        let add = |xs: &[Option<usize>]| xs.iter().try_fold(0usize, |a, x| a.checked_add((*x)?));
        let mul = |a: usize, b: usize| a.checked_mul(b);
        let linear = |i: usize, o: usize| mul(i, o)?.checked_add(o);
        let (d, l, hh, dff) = (c.d_model, c.segmenter.l_max, c.head_hidden, c.d_ff);
        let d2 = mul(2, d)?;
        let d3 = mul(3, d)?;
        let block = add(&[mul(4, d), linear(d, d3), linear(d, d), linear(d, dff), linear(dff, d)])?;
        let blocks = mul(block, c.atom_layers.checked_add(c.motif_layers)?)?;
        let out = mul(c.horizon, POSE_DIM)?;
        // head_input_dim and interp_input_dim, without their overflow on absurd d
        let head_in = d2.checked_add(FEAT_DIM + KIN_DIM)?;
        let head = |i: usize| add(&[linear(i, hh), linear(hh, hh), linear(hh, out), linear(hh, c.horizon)]);
        add(&[
            Some(blocks),
            // atom encoder: embed, pos, ln, dur, proj
            linear(FEAT_DIM, d),
            mul(l, d),
            Some(d2),
            mul(l.checked_add(1)?, d),
            linear(d, d),
            // motif encoder: ln, mask token
            Some(d3),
            linear(2 * CONT_DIM, CONT_DIM),
            // decoder
            linear(d, d2),
            mul(l, d2),
            linear(d2, CONT_DIM),
            // pred_atom, pred_motif
            mul(2, add(&[linear(d, d2), linear(d2, d)])?),
            head(head_in),
            add(&[linear(d2, hh), linear(hh, c.n_motifs)]),
            head(head_in.checked_add(POSE_DIM + NUM_JOINTS + 1)?),
        ])
    }
}

/// Size of the heads' input: motif state, open-segment token, last frame, joint velocities.
pub fn head_input_dim(d: usize) -> usize {
    2 * d + FEAT_DIM + KIN_DIM
}

/// Size of the interpolation head's input: head input, the pose after the gap (heading
/// frame, relative to the last pelvis), its validity, and the gap length.
pub fn interp_input_dim(d: usize) -> usize {
    head_input_dim(d) + POSE_DIM + NUM_JOINTS + 1
}
