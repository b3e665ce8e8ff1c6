//! Motion data import: BVH, DeepMimic clips and joint-position arrays (`.npy` with a JSON
//! sidecar), detected by content, each converted to the canonical [`Motion`] (SMPL-24,
//! metres, REP-103, 30 Hz); and the transforms ([`perturb`]) the evaluation suite and
//! training's augmentation apply to it.

pub mod bvh;
pub mod deepmimic;
pub mod npy;
pub mod perturb;
pub mod resample;

use std::io::Read;
use std::path::{Path, PathBuf};

use a4mer_runtime::FPS;

pub use bvh::{BvhError, ImportOptions, Motion, import_bvh};
pub use deepmimic::{DeepMimicError, import_deepmimic};
pub use npy::{NpyError, import_npy};

/// A data failure. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Bvh(#[from] BvhError),
    #[error(transparent)]
    DeepMimic(#[from] DeepMimicError),
    #[error(transparent)]
    Npy(#[from] NpyError),
    #[error("{path}: cannot read: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error(
        "{path}: unknown motion data format (starts with {start:?}); expected BVH (\"HIERARCHY\"), a DeepMimic JSON clip ({{\"Loop\": ..., \"Frames\": [...]}}) or a .npy joint-position array"
    )]
    UnknownFormat { path: PathBuf, start: String },
    #[error(
        "{path}: is the sidecar of a joint-position array (its rate, joints, units and up axis); import the .npy file beside it"
    )]
    Sidecar { path: PathBuf },
    #[error(
        "{path}: the rig maps {mapped} of 24 SMPL joints; at least {required} are needed (pass --joint-map to map more); no source joint for: {missing}"
    )]
    TooFewJoints {
        path: PathBuf,
        mapped: usize,
        required: usize,
        /// The SMPL-24 joints the rig gives no source for, comma-separated.
        missing: String,
    },
    #[error(
        "{path}: {frames} frames at 30 Hz ({duration_s:.2} s) is shorter than one window of {required} frames ({required_s:.2} s){hint}"
    )]
    TooShort {
        path: PathBuf,
        frames: usize,
        duration_s: f64,
        required: usize,
        required_s: f64,
        hint: &'static str,
    },
}

/// A motion file format this crate imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Bvh,
    DeepMimic,
    /// A `.npy` joint-position array (frames, joints, 3) with its JSON sidecar.
    Npy,
}

/// Bytes read to tell formats apart.
const SNIFF_BYTES: u64 = 512;

/// The format of `path`, from its content (extensions lie: DeepMimic clips are `.txt`).
pub fn detect_format(path: &Path) -> Result<Format, DataError> {
    let io = |cause| DataError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let mut head = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.starts_with(npy::MAGIC) {
        return Ok(Format::Npy);
    }
    // A sidecar is a JSON object too; read as a DeepMimic clip it would fail on a field
    // it was never meant to have.
    if npy::is_sidecar(path) {
        return Err(DataError::Sidecar {
            path: path.to_path_buf(),
        });
    }
    let text = String::from_utf8_lossy(&head);
    let start = text.trim_start();
    // A UTF-8 byte-order mark is common in files written on Windows.
    let start = start.strip_prefix('\u{feff}').unwrap_or(start).trim_start();
    let first_word = start.split_whitespace().next().unwrap_or("");
    if first_word.eq_ignore_ascii_case("HIERARCHY") {
        Ok(Format::Bvh)
    } else if deepmimic::looks_like_deepmimic(start) {
        Ok(Format::DeepMimic)
    } else {
        Err(DataError::UnknownFormat {
            path: path.to_path_buf(),
            start: start.chars().take(24).collect(),
        })
    }
}

/// Every `.bvh` file under the given files and directories, sorted, so runs see data in
/// the same order on every machine. See [`collect_motion_files`] for every format.
pub fn collect_bvh_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, BvhError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|cause| BvhError::Io {
                path: input.clone(),
                cause,
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
    p.is_file() && has_extension(p, "bvh")
}

fn has_extension(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Every motion file under the given files and directories, sorted per directory. In a
/// directory: `.bvh` files, `.npy` arrays, and `.txt`/`.json` files whose content is a
/// JSON object (DeepMimic clips) other than arrays' sidecars (`*.npy.json`); READMEs,
/// licences and checksum lists beside them are skipped. A file named explicitly is always
/// taken, and its format is checked when it is imported.
pub fn collect_motion_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            out.push(input.clone());
            continue;
        }
        let entries = std::fs::read_dir(input).map_err(|cause| DataError::Io {
            path: input.clone(),
            cause,
        })?;
        let mut found = Vec::new();
        for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if !p.is_file() {
                continue;
            }
            let deepmimic = || {
                (has_extension(&p, "txt") || has_extension(&p, "json"))
                    && !npy::is_sidecar(&p)
                    && matches!(detect_format(&p), Ok(Format::DeepMimic))
            };
            if has_extension(&p, "bvh") || has_extension(&p, "npy") || deepmimic() {
                found.push(p);
            }
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Import one file of any supported format, without the checks training needs (for
/// inspection: `a4mer import --info` shows a rig that maps too few joints).
pub fn import_any(path: &Path, options: &ImportOptions) -> Result<Motion, DataError> {
    Ok(match detect_format(path)? {
        Format::Bvh => import_bvh(path, options)?,
        Format::DeepMimic => import_deepmimic(path, options)?.motion,
        Format::Npy => import_npy(path, options)?,
    })
}

/// Fewest SMPL joints a rig must map: the engine's default conditioner rejects frames with
/// fewer valid joints, so such a recording could never be used.
pub fn min_mapped_joints() -> usize {
    a4mer_runtime::stream::ConditionerConfig::default().min_valid_joints
}

/// Import one file of any supported format and check that its rig maps enough joints.
pub fn import_motion(path: &Path, options: &ImportOptions) -> Result<Motion, DataError> {
    let motion = import_any(path, options)?;
    let mapped = motion.info.joint_map.mapped_count();
    let required = min_mapped_joints();
    if mapped < required {
        let map = &motion.info.joint_map;
        let missing: Vec<&str> = (0..a4mer_runtime::NUM_JOINTS)
            .filter(|j| map.source_of(*j).is_none())
            .map(|j| a4mer_runtime::SMPL24[j])
            .collect();
        return Err(DataError::TooFewJoints {
            path: path.to_path_buf(),
            mapped,
            required,
            missing: missing.join(", "),
        });
    }
    Ok(motion)
}

/// Import every motion file under `inputs` (files or directories), in any supported format.
pub fn load_motions(inputs: &[PathBuf], options: &ImportOptions) -> Result<Vec<Motion>, DataError> {
    collect_motion_files(inputs)?
        .iter()
        .map(|p| import_motion(p, options))
        .collect()
}

/// Refuse a recording shorter than one window of `window_frames` frames at 30 Hz, naming
/// the file: for evaluation (observed + forecast) and training windows.
pub fn require_window(motion: &Motion, window_frames: usize) -> Result<(), DataError> {
    if motion.frames.len() >= window_frames {
        return Ok(());
    }
    let frames = motion.frames.len();
    let is_deepmimic = motion.info.skeleton.name == deepmimic::skeleton().name;
    Err(DataError::TooShort {
        path: motion.source.clone(),
        frames,
        duration_s: frames.saturating_sub(1) as f64 / FPS as f64,
        required: window_frames,
        required_s: window_frames.saturating_sub(1) as f64 / FPS as f64,
        hint: if is_deepmimic {
            "; a cyclic DeepMimic clip (\"Loop\": \"wrap\") can be repeated to length with --loop-wrap-to-s, a \"none\" clip cannot"
        } else {
            ""
        },
    })
}
