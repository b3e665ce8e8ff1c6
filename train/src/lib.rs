//! a4mer-train: self-supervised pre-training, the heads, and the exported `.a4m` (`fit`).
//! Motion import is `a4mer-motion`; how a model is measured is `a4mer-measure`.

pub mod anticipation;
pub mod fit;
