//! BVH motion import: parse, forward kinematics, unit and up-axis detection, mapping to
//! SMPL-24 and resampling to the model rate.
//!
//! Real files differ in ways toy files don't: Euler channel order per joint, translation
//! channels on non-root joints (they replace OFFSET, as for the root), centimetres or
//! metres, Y-up or Z-up, 24 to 120 Hz. All of these are handled here; what cannot be
//! detected reliably can be forced with [`ImportOptions`].

mod detect;
mod fk;
mod parse;

pub use detect::{Units, UpAxis};
pub use parse::parse_bvh;

use std::path::{Path, PathBuf};

use a4mer_runtime::{FPS, JointMap, JointMapError, PoseFrame, Skeleton};

use super::resample::resample_to_model_rate;
use detect::detect_up;
use fk::mat_vec;

/// An import failure. Every variant names the file, and the line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum BvhError {
    #[error("{path}: cannot read: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}:{line}: unknown channel {channel:?} (expected X/Y/Z position or rotation)")]
    UnknownChannel {
        path: PathBuf,
        line: usize,
        channel: String,
    },
    #[error("{path}: no MOTION block after the hierarchy")]
    MissingMotion { path: PathBuf },
    #[error(
        "{path}:{line}: frame time {value} s is outside {MIN_FRAME_TIME_S}..={MAX_FRAME_TIME_S} s (1 Hz to 10 kHz)"
    )]
    BadFrameTime { path: PathBuf, line: usize, value: f64 },
    #[error("{path}:{line}: {what} exceeds the importer's limit of {limit}")]
    TooLarge {
        path: PathBuf,
        line: usize,
        what: &'static str,
        limit: usize,
    },
    #[error("{path}:{line}: frame has {found} values, the hierarchy declares {expected} channels")]
    ChannelCountMismatch {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("{path}:{line}: motion block truncated: header declares {declared} frames, file ends after {found}")]
    TruncatedMotion {
        path: PathBuf,
        line: usize,
        declared: usize,
        found: usize,
    },
    #[error("{path}:{line}: motion block has more frames than the {declared} its header declares")]
    ExtraFrames {
        path: PathBuf,
        line: usize,
        declared: usize,
    },
    #[error("{path}:{line}: value {column} ({text:?}) is not a number")]
    BadNumber {
        path: PathBuf,
        line: usize,
        column: usize,
        text: String,
    },
    #[error("{path}:{line}: value {column} ({joint} {channel}) is {value}")]
    NonFinite {
        path: PathBuf,
        line: usize,
        column: usize,
        joint: String,
        channel: &'static str,
        value: f64,
    },
    #[error("{path}: {cause}")]
    JointMap { path: PathBuf, cause: JointMapError },
}

/// Shortest and longest frame time accepted (10 kHz, 1 Hz).
pub const MIN_FRAME_TIME_S: f64 = 1e-4;
pub const MAX_FRAME_TIME_S: f64 = 1.0;
/// Most hierarchy nodes (joints and End Sites); full-body rigs with fingers and face
/// have a few hundred.
pub const MAX_NODES: usize = 1024;
/// Deepest joint nesting.
pub const MAX_DEPTH: usize = 128;
/// Longest recording after resampling: 10 h at 30 Hz.
pub const MAX_MODEL_FRAMES: usize = 10 * 3600 * 30;

/// Overrides for what the importer would otherwise detect.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub units: Option<Units>,
    pub up_axis: Option<UpAxis>,
    /// An explicit joint map file (TOML); name heuristics otherwise.
    pub joint_map: Option<PathBuf>,
    /// Repeat cyclic clips (DeepMimic `"Loop": "wrap"`) until they last at least this
    /// many seconds. Other sources are not looped.
    pub loop_wrap_to_s: Option<f64>,
    /// Source frame rate, Hz, for sources that do not state one (a `.npy` joint-position
    /// array whose sidecar has no `fps_hz`). A stated rate that differs is an error, not
    /// overridden; BVH and DeepMimic files always state theirs and do not read this.
    pub fps: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    XPosition,
    YPosition,
    ZPosition,
    XRotation,
    YRotation,
    ZRotation,
}

impl Channel {
    pub(super) fn parse(s: &str) -> Option<Channel> {
        Some(match s.to_ascii_lowercase().as_str() {
            "xposition" => Channel::XPosition,
            "yposition" => Channel::YPosition,
            "zposition" => Channel::ZPosition,
            "xrotation" => Channel::XRotation,
            "yrotation" => Channel::YRotation,
            "zrotation" => Channel::ZRotation,
            _ => return None,
        })
    }

    /// The channel's name as BVH files write it.
    pub fn name(self) -> &'static str {
        match self {
            Channel::XPosition => "Xposition",
            Channel::YPosition => "Yposition",
            Channel::ZPosition => "Zposition",
            Channel::XRotation => "Xrotation",
            Channel::YRotation => "Yrotation",
            Channel::ZRotation => "Zrotation",
        }
    }
}

/// One node of the hierarchy: a joint, or an End Site (no channels).
#[derive(Clone, Debug)]
pub struct BvhNode {
    pub name: String,
    pub parent: Option<usize>,
    pub offset: [f64; 3],
    pub channels: Vec<Channel>,
    /// Index of this node's first channel in a frame's values.
    pub channel_start: usize,
    pub end_site: bool,
}

/// A parsed BVH file, in source units and axes.
#[derive(Clone, Debug)]
pub struct BvhFile {
    pub path: PathBuf,
    pub nodes: Vec<BvhNode>,
    pub frame_time_s: f64,
    pub num_channels: usize,
    /// Frame values, `num_channels` per frame.
    pub values: Vec<f64>,
}

/// What the importer found and decided, for `a4mer import --info` and provenance.
#[derive(Clone, Debug)]
pub struct ImportInfo {
    pub source_frames: usize,
    pub source_fps: f64,
    pub duration_s: f64,
    pub units: Units,
    pub units_detected: bool,
    pub up_axis: UpAxis,
    /// How the up axis was decided: `flag`, `head above feet`, or `largest extent`.
    pub up_axis_basis: &'static str,
    /// Pelvis-to-head plus pelvis-to-ankle bone length, metres.
    pub skeleton_height_m: f64,
    pub skeleton: Skeleton,
    pub joint_map: JointMap,
}

/// A recording in the canonical form: SMPL-24, metres, REP-103, 30 Hz.
#[derive(Clone, Debug)]
pub struct Motion {
    pub source: PathBuf,
    pub frames: Vec<PoseFrame>,
    pub info: ImportInfo,
}

/// Read, convert and resample one BVH file.
pub fn import_bvh(path: &Path, options: &ImportOptions) -> Result<Motion, BvhError> {
    let text = std::fs::read_to_string(path).map_err(|cause| BvhError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    import_bvh_str(&text, path, options)
}

/// As [`import_bvh`], from text; `path` names the source in errors.
pub fn import_bvh_str(text: &str, path: &Path, options: &ImportOptions) -> Result<Motion, BvhError> {
    let bvh = parse_bvh(text, path)?;
    let skeleton = bvh.skeleton();
    let joint_map = match &options.joint_map {
        Some(map_path) => JointMap::from_toml_file(map_path, &skeleton),
        None => Ok(JointMap::from_heuristics(&skeleton)),
    }
    .map_err(|cause| BvhError::JointMap {
        path: path.to_path_buf(),
        cause,
    })?;

    let num_frames = bvh.num_frames();
    let source_fps = snap_rate(1.0 / bvh.frame_time_s);
    let duration_s = num_frames.saturating_sub(1) as f64 / source_fps;
    if duration_s * FPS as f64 >= MAX_MODEL_FRAMES as f64 {
        return Err(BvhError::TooLarge {
            path: path.to_path_buf(),
            line: 0,
            what: "recording length at 30 Hz (frames)",
            limit: MAX_MODEL_FRAMES,
        });
    }
    let n = bvh.nodes.len();
    let mut positions_src = vec![[0.0f64; 3]; n];

    let (up_axis, up_axis_basis) = match options.up_axis {
        Some(up) => (up, "flag"),
        None => {
            // A sample of the take is plenty to tell which way is up.
            let step = (num_frames / 200).max(1);
            let mut sampled = Vec::new();
            for f in (0..num_frames).step_by(step) {
                bvh.forward_kinematics(f, &mut positions_src);
                sampled.extend_from_slice(&positions_src);
            }
            detect_up(&sampled, n, &joint_map)
        }
    };
    let height_src = bvh.skeleton_height(&joint_map);
    let (units, units_detected) = match options.units {
        Some(u) => (u, false),
        None => (Units::detect(height_src), true),
    };
    let scale = units.metres_per_unit();
    let rot = up_axis.to_rep103();

    let valid_src = vec![true; bvh.nodes.len()];
    let mut source_frames = Vec::with_capacity(num_frames);
    let mut joints_f32 = vec![[0.0f32; 3]; bvh.nodes.len()];
    for f in 0..num_frames {
        bvh.forward_kinematics(f, &mut positions_src);
        for (dst, p) in joints_f32.iter_mut().zip(&positions_src) {
            let r = mat_vec(&rot, p);
            *dst = [(r[0] * scale) as f32, (r[1] * scale) as f32, (r[2] * scale) as f32];
        }
        let (joints, valid) = joint_map
            .apply(&joints_f32, &valid_src)
            .map_err(|cause| BvhError::JointMap {
                path: path.to_path_buf(),
                cause,
            })?;
        source_frames.push((joints, valid));
    }

    let frames = resample_to_model_rate(&source_frames, source_fps);
    let info = ImportInfo {
        source_frames: num_frames,
        source_fps,
        duration_s,
        units,
        units_detected,
        up_axis,
        up_axis_basis,
        skeleton_height_m: height_src * scale,
        skeleton,
        joint_map,
    };
    Ok(Motion {
        source: path.to_path_buf(),
        frames,
        info,
    })
}

/// Frame times are written rounded (0.033333, 0.008333): snap rates within 0.1 % of an
/// integer to it, so a 30 Hz take is not needlessly interpolated.
pub(crate) fn snap_rate(fps: f64) -> f64 {
    let r = fps.round();
    if r > 0.0 && ((fps - r) / r).abs() < 1e-3 {
        r
    } else {
        fps
    }
}
