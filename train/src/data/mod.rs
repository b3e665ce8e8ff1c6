//! Motion data import.

pub mod bvh;
pub mod resample;

use std::path::{Path, PathBuf};

pub use bvh::{BvhError, ImportOptions, Motion, import_bvh};

/// Every `.bvh` file under the given files and directories, sorted, so runs see data in
/// the same order on every machine.
pub fn collect_bvh_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, BvhError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|source| BvhError::Io {
                path: input.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_bvh(p))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn is_bvh(p: &Path) -> bool {
    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("bvh"))
}

/// Import every BVH file under `inputs` (files or directories).
pub fn load_motions(inputs: &[PathBuf], options: &ImportOptions) -> Result<Vec<Motion>, BvhError> {
    collect_bvh_files(inputs)?
        .iter()
        .map(|p| import_bvh(p, options))
        .collect()
}
