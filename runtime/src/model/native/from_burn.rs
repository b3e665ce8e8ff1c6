use super::block::NBlock;
use super::dense::{Dense, Norm};
use super::{NAtom, NHead, NMlp, NMotif, NativeNet};
use crate::model::host;
use crate::model::nn::{A4mer, A4merConfig, AtomEncoder, ForecastHead, Mlp, MotifEncoder};

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
            atom: atom_from(atom),
            motif: motif_from(motif),
            forecast: head_from(&net.forecast),
            next_motif: NMlp::from_burn(&net.next_motif, "next_motif"),
        }
    }
}

impl NMlp {
    fn from_burn(m: &Mlp, prefix: &str) -> Self {
        Self {
            l1: Dense::from_burn(&m.l1, format!("{prefix}.l1")),
            l2: Dense::from_burn(&m.l2, format!("{prefix}.l2")),
        }
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
