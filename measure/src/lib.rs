//! a4mer-measure: one home for how a4mer is measured. The evaluation protocol and its
//! baselines (`eval`), the engine's live scores over whole recordings (`online`), the
//! interpolation head against linear interpolation (`interp_eval`), a pose bag's gaps
//! repaired (`gaps`), the model as a forecaster (`forecaster`), engine latency (`bench`),
//! long runs (`soak`) and how motifs line up with action labels (`motif_labels`).

pub mod bench;
pub mod eval;
pub mod forecaster;
pub mod gaps;
pub mod interp_eval;
pub mod motif_labels;
pub mod online;
pub mod protocol;
pub mod soak;
