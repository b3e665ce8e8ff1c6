//! Evaluation protocol (in progress)
