//! a4mer-train: motion import, the evaluation protocol, training and export.

pub mod bench;
pub mod data;
pub mod eval;
pub mod fit;
pub mod forecaster;
pub mod gaps;
pub mod interp_eval;
pub mod online;
pub mod perturb;
pub mod soak;
