use super::block::NBlock;
use super::dense::{Dense, Norm};
use super::{NAtom, NHead, NMlp, NMotif, NativeNet};
use crate::model::config::A4merConfig;
use crate::model::tensors::{FillError, TensorMap, check_shapes};

impl NativeNet {
    /// The network from an artifact's tensors, by the names the burn modules give them.
    /// `tensors` must be exactly the model's tensors for `cfg` (the check the burn loader
    /// makes, against [`A4merConfig::tensor_shapes`]), including those only training and
    /// the offline heads use: a file either loads both ways or neither. Values are copied
    /// as they are, bit for bit.
    pub fn from_tensors(tensors: &TensorMap, cfg: &A4merConfig) -> Result<Self, FillError> {
        check_shapes(&cfg.tensor_shapes(), tensors)?;
        let t = Take(tensors);
        let blocks = |enc: &str, n: usize| -> Result<Vec<NBlock>, FillError> {
            (0..n)
                .map(|i| {
                    let p = format!("{enc}.blocks.{i}");
                    Ok(NBlock {
                        ln1: t.norm(&format!("{p}.ln1"))?,
                        qkv: t.dense(&format!("{p}.attn.qkv"))?,
                        out: t.dense(&format!("{p}.attn.out"))?,
                        ln2: t.norm(&format!("{p}.ln2"))?,
                        ff1: t.dense(&format!("{p}.ff1"))?,
                        ff2: t.dense(&format!("{p}.ff2"))?,
                        heads: cfg.n_heads,
                    })
                })
                .collect()
        };
        Ok(Self {
            d_model: cfg.d_model,
            d_ff: cfg.d_ff,
            l_max: cfg.segmenter.l_max,
            horizon: cfg.horizon,
            n_motifs: cfg.n_motifs,
            frame_pred: t.dense("frame_pred")?,
            atom: NAtom {
                embed: t.dense("atom.embed")?,
                pos: t.values("atom.pos")?,
                blocks: blocks("atom", cfg.atom_layers)?,
                ln: t.norm("atom.ln")?,
                dur: t.values("atom.dur")?,
                proj: t.dense("atom.proj")?,
            },
            motif: NMotif {
                blocks: blocks("motif", cfg.motif_layers)?,
                ln: t.norm("motif.ln")?,
                // The burn encoder's window is the motif context (`A4mer::new`).
                window: cfg.n_atoms,
            },
            forecast: NHead {
                l1: t.dense("forecast.l1")?,
                l2: t.dense("forecast.l2")?,
                mean: t.dense("forecast.mean")?,
                log_spread: t.dense("forecast.log_spread")?,
            },
            next_motif: NMlp {
                l1: t.dense("next_motif.l1")?,
                l2: t.dense("next_motif.l2")?,
            },
        })
    }
}

/// Lookups into tensors whose names and shapes `check_shapes` has accepted; a miss is still
/// an error rather than a panic, should the two lists ever disagree.
struct Take<'a>(&'a TensorMap);

impl Take<'_> {
    fn values(&self, name: &str) -> Result<Vec<f32>, FillError> {
        self.0
            .get(name)
            .map(|t| t.values.clone())
            .ok_or_else(|| FillError::Missing(name.to_string()))
    }

    fn dense(&self, layer: &str) -> Result<Dense, FillError> {
        let name = format!("{layer}.weight");
        let w = self.0.get(&name).ok_or(FillError::Missing(name))?;
        let &[n_in, n_out] = w.shape.as_slice() else {
            return Err(FillError::Shape {
                name: format!("{layer}.weight"),
                expected: vec![0, 0],
                found: w.shape.clone(),
            });
        };
        let b = self.values(&format!("{layer}.bias"))?;
        Ok(Dense::from_parts(layer, n_in, n_out, w.values.clone(), b))
    }

    fn norm(&self, layer: &str) -> Result<Norm, FillError> {
        Ok(Norm::from_parts(
            self.values(&format!("{layer}.gamma"))?,
            self.values(&format!("{layer}.beta"))?,
        ))
    }
}
