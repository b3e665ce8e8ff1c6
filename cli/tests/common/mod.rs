//! Helpers shared by the CLI's integration tests.

use std::process::{Command, Output};

/// Run the built `a4mer` from the repository root (where `models/` and `data/` are).
pub fn a4mer_in_repo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_a4mer"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap()
}
