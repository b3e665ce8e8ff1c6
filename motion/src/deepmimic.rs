//! DeepMimic motion import (`humanoid3d_*.txt`, as shipped in `pybullet_data`).
//!
//! A clip is JSON: `{"Loop": "wrap" | "none", "Frames": [[dt, root pos xyz, root rot wxyz,
//! chest wxyz, neck wxyz, right hip wxyz, right knee, right ankle wxyz, right shoulder
//! wxyz, right elbow, left hip wxyz, left knee, left ankle wxyz, left shoulder wxyz, left
//! elbow], ...]}`. Rotations are local to the parent link; knees and elbows are revolute
//! about the link's z axis (radians). The character is y-up, metres, facing +x with its
//! right side towards +z. `dt` is the time from a frame to the next, so the last frame's
//! `dt` is unused (the files write 0 there).
//!
//! Link offsets are those of `pybullet_data/humanoid/humanoid.urdf`, which pybullet loads
//! at a global scale of 0.25; the values below are the URDF's times 0.25.

use std::path::{Path, PathBuf};

use a4mer_runtime::{FPS, JointMap, JointMapError, Skeleton};

use super::bvh::{
    ImportInfo, ImportOptions, MAX_FRAME_TIME_S, MAX_MODEL_FRAMES, MIN_FRAME_TIME_S, Motion, Units, UpAxis, snap_rate,
};
use super::resample::resample_timed;

/// Values per frame in the humanoid3d format.
pub const VALUES_PER_FRAME: usize = 44;
/// Longest loop target accepted: 1 h.
pub const MAX_LOOP_S: f64 = 3600.0;

/// An import failure. Every variant names the file, and the frame and field where there is one.
#[derive(Debug, thiserror::Error)]
pub enum DeepMimicError {
    #[error("{path}: cannot read: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    /// Also what non-finite values give: JSON has no NaN or infinity, and serde_json
    /// refuses numbers beyond f64's range.
    #[error("{path}: not a DeepMimic motion: {message}")]
    Json { path: PathBuf, message: String },
    #[error("{path}: \"Loop\" is {value:?}; expected \"wrap\" or \"none\"")]
    BadLoop { path: PathBuf, value: String },
    #[error("{path}: frame {frame} has {found} values; the humanoid3d format has {VALUES_PER_FRAME}")]
    WrongValueCount { path: PathBuf, frame: usize, found: usize },
    #[error(
        "{path}: frame {frame}, dt is {value} s; it must be {MIN_FRAME_TIME_S}..={MAX_FRAME_TIME_S} s (only the last frame's dt is unused)"
    )]
    BadFrameTime { path: PathBuf, frame: usize, value: f64 },
    #[error("{path}: frame {frame}, {field} quaternion has length {norm:.3}; expected a unit quaternion (w, x, y, z)")]
    BadQuaternion {
        path: PathBuf,
        frame: usize,
        field: &'static str,
        norm: f64,
    },
    #[error("{path}: {found} frames; a motion needs at least 2")]
    TooFewFrames { path: PathBuf, found: usize },
    #[error("{path}: {what} exceeds the importer's limit of {limit}")]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        limit: f64,
    },
    #[error("{path}: {cause}")]
    JointMap { path: PathBuf, cause: JointMapError },
}

/// How the clip is meant to be played.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopMode {
    /// Cyclic: played again from the start, carrying the root's displacement and heading.
    Wrap,
    /// Played once.
    None,
}

/// A parsed clip, in source units and axes.
#[derive(Clone, Debug)]
pub struct DeepMimicClip {
    pub path: PathBuf,
    pub loop_mode: LoopMode,
    /// `VALUES_PER_FRAME` values per frame.
    pub frames: Vec<[f64; VALUES_PER_FRAME]>,
}

/// What `import_deepmimic` decided beyond the BVH-shaped [`ImportInfo`].
#[derive(Clone, Debug)]
pub struct DeepMimicImport {
    pub motion: Motion,
    pub loop_mode: LoopMode,
    /// Length of one pass through the clip, seconds.
    pub clip_duration_s: f64,
    /// How many passes the imported motion holds (1 unless looped).
    pub cycles: usize,
}

#[derive(serde::Deserialize)]
struct RawClip {
    #[serde(rename = "Loop")]
    loop_mode: Option<String>,
    #[serde(rename = "Frames")]
    frames: Vec<Vec<f64>>,
}

/// How a source node moves relative to its parent.
#[derive(Clone, Copy)]
enum Dof {
    /// The root: world position at `pos`, world rotation at `rot`.
    Root { pos: usize, rot: usize },
    /// Quaternion (w, x, y, z) starting at this value index.
    Spherical(usize),
    /// Angle about the link's z axis, radians, at this value index.
    RevoluteZ(usize),
    /// A point rigidly attached to the parent link.
    Fixed,
}

struct Node {
    name: &'static str,
    parent: Option<usize>,
    offset_m: [f64; 3],
    dof: Dof,
}

/// Hip, shoulder and foot offsets for the right side; the left mirrors z.
const fn side(right: bool, v: [f64; 3]) -> [f64; 3] {
    if right { v } else { [v[0], v[1], -v[2]] }
}

/// The humanoid3d tree. `head` is the centre of the head sphere on the neck link; the
/// feet are on the sole of the foot box below the ball of the foot. Both are rigid points
/// whose motion the neck and ankle rotations in the data determine.
const NODES: [Node; 18] = [
    node("root", None, [0.0, 0.0, 0.0], Dof::Root { pos: 1, rot: 4 }),
    node("chest", Some(0), [0.0, 0.236151, 0.0], Dof::Spherical(8)),
    node("neck", Some(1), [0.0, 0.223894, 0.0], Dof::Spherical(12)),
    node("head", Some(2), [0.0, 0.175, 0.0], Dof::Fixed),
    node(
        "right_hip",
        Some(0),
        side(true, [0.0, 0.0, 0.084887]),
        Dof::Spherical(16),
    ),
    node("right_knee", Some(4), [0.0, -0.421546, 0.0], Dof::RevoluteZ(20)),
    node("right_ankle", Some(5), [0.0, -0.40987, 0.0], Dof::Spherical(21)),
    node("right_foot", Some(6), [0.12, -0.05, 0.0], Dof::Fixed),
    node(
        "right_shoulder",
        Some(1),
        side(true, [-0.02405, 0.2435, 0.18311]),
        Dof::Spherical(25),
    ),
    node("right_elbow", Some(8), [0.0, -0.274788, 0.0], Dof::RevoluteZ(29)),
    node("right_wrist", Some(9), [0.0, -0.258947, 0.0], Dof::Fixed),
    node(
        "left_hip",
        Some(0),
        side(false, [0.0, 0.0, 0.084887]),
        Dof::Spherical(30),
    ),
    node("left_knee", Some(11), [0.0, -0.421546, 0.0], Dof::RevoluteZ(34)),
    node("left_ankle", Some(12), [0.0, -0.40987, 0.0], Dof::Spherical(35)),
    node("left_foot", Some(13), [0.12, -0.05, 0.0], Dof::Fixed),
    node(
        "left_shoulder",
        Some(1),
        side(false, [-0.02405, 0.2435, 0.18311]),
        Dof::Spherical(39),
    ),
    node("left_elbow", Some(15), [0.0, -0.274788, 0.0], Dof::RevoluteZ(43)),
    node("left_wrist", Some(16), [0.0, -0.258947, 0.0], Dof::Fixed),
];

const fn node(name: &'static str, parent: Option<usize>, offset_m: [f64; 3], dof: Dof) -> Node {
    Node {
        name,
        parent,
        offset_m,
        dof,
    }
}

/// The built-in map to SMPL-24. The single chest joint is spine2, as the name heuristics
/// place a lone spine joint between pelvis and neck.
const SMPL_MAP_TOML: &str = r#"
[joints]
pelvis = "root"
spine2 = "chest"
neck = "neck"
head = "head"
right_hip = "right_hip"
right_knee = "right_knee"
right_ankle = "right_ankle"
right_foot = "right_foot"
right_shoulder = "right_shoulder"
right_elbow = "right_elbow"
right_wrist = "right_wrist"
left_hip = "left_hip"
left_knee = "left_knee"
left_ankle = "left_ankle"
left_foot = "left_foot"
left_shoulder = "left_shoulder"
left_elbow = "left_elbow"
left_wrist = "left_wrist"
"#;

/// Origin named in errors about the built-in map.
pub const BUILT_IN_MAP: &str = "built-in DeepMimic humanoid3d map";

/// The source skeleton as the importer sees it (DeepMimic names, plus the derived head
/// and feet).
pub fn skeleton() -> Skeleton {
    Skeleton {
        name: "deepmimic_humanoid3d".into(),
        joint_names: NODES.iter().map(|n| n.name.to_string()).collect(),
        parents: NODES.iter().map(|n| n.parent).collect(),
    }
}

/// Whether `text` looks like a DeepMimic clip: a JSON object (anything else is not JSON
/// motion this importer knows).
pub fn looks_like_deepmimic(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Parse and check a clip. Errors name `path` and, where there is one, the frame and field.
pub fn parse_deepmimic(text: &str, path: &Path) -> Result<DeepMimicClip, DeepMimicError> {
    let raw: RawClip = serde_json::from_str(text).map_err(|e| DeepMimicError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let loop_mode = match raw.loop_mode.as_deref() {
        Some("wrap") => LoopMode::Wrap,
        Some("none") | None => LoopMode::None,
        Some(other) => {
            return Err(DeepMimicError::BadLoop {
                path: path.to_path_buf(),
                value: other.to_string(),
            });
        }
    };
    if raw.frames.len() < 2 {
        return Err(DeepMimicError::TooFewFrames {
            path: path.to_path_buf(),
            found: raw.frames.len(),
        });
    }
    let last = raw.frames.len() - 1;
    let mut frames = Vec::with_capacity(raw.frames.len());
    for (f, values) in raw.frames.iter().enumerate() {
        let row: [f64; VALUES_PER_FRAME] =
            values
                .as_slice()
                .try_into()
                .map_err(|_| DeepMimicError::WrongValueCount {
                    path: path.to_path_buf(),
                    frame: f,
                    found: values.len(),
                })?;
        let dt_ok = if f == last {
            row[0] >= 0.0
        } else {
            (MIN_FRAME_TIME_S..=MAX_FRAME_TIME_S).contains(&row[0])
        };
        if !dt_ok {
            return Err(DeepMimicError::BadFrameTime {
                path: path.to_path_buf(),
                frame: f,
                value: row[0],
            });
        }
        let mut row = row;
        if f != last {
            // Written rounded (0.033332 for 30 Hz): snapped as BVH frame times are, so a
            // 30 Hz clip passes through resampling unchanged.
            row[0] = 1.0 / snap_rate(1.0 / row[0]);
        }
        for n in &NODES {
            let start = match n.dof {
                Dof::Root { rot, .. } => rot,
                Dof::Spherical(s) => s,
                _ => continue,
            };
            let norm = row[start..start + 4].iter().map(|v| v * v).sum::<f64>().sqrt();
            // The published clips are not all normalised (backflip has a 1.118 at frame 18),
            // so a quaternion near unit length is normalised; one far from it (or zero) is
            // not a rotation at all.
            if !(0.5..=2.0).contains(&norm) {
                return Err(DeepMimicError::BadQuaternion {
                    path: path.to_path_buf(),
                    frame: f,
                    field: n.name,
                    norm,
                });
            }
            for v in &mut row[start..start + 4] {
                *v /= norm;
            }
        }
        frames.push(row);
    }
    Ok(DeepMimicClip {
        path: path.to_path_buf(),
        loop_mode,
        frames,
    })
}

type Quat = [f64; 4];

fn quat_mul(a: &Quat, b: &Quat) -> Quat {
    [
        a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
        a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
        a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
        a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
    ]
}

fn quat_rotate(q: &Quat, v: &[f64; 3]) -> [f64; 3] {
    let p = quat_mul(&quat_mul(q, &[0.0, v[0], v[1], v[2]]), &[q[0], -q[1], -q[2], -q[3]]);
    [p[1], p[2], p[3]]
}

fn normalized(v: &[f64]) -> Quat {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    [v[0] / n, v[1] / n, v[2] / n, v[3] / n]
}

impl DeepMimicClip {
    /// Start time of each frame, seconds from the first.
    pub fn frame_times_s(&self) -> Vec<f64> {
        let mut t = 0.0;
        self.frames
            .iter()
            .map(|row| {
                let now = t;
                t += row[0];
                now
            })
            .collect()
    }

    /// One pass through the clip, seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames[..self.frames.len() - 1].iter().map(|r| r[0]).sum()
    }

    /// World positions (source axes, metres) of every node in frame `f`, and the root's
    /// world rotation.
    fn forward_kinematics(&self, f: usize) -> ([[f64; 3]; NODES.len()], Quat) {
        let row = &self.frames[f];
        let mut pos = [[0.0; 3]; NODES.len()];
        let mut rot = [[1.0, 0.0, 0.0, 0.0]; NODES.len()];
        for (j, n) in NODES.iter().enumerate() {
            let local = match n.dof {
                Dof::Root { pos: p, rot: r } => {
                    pos[j] = [row[p], row[p + 1], row[p + 2]];
                    rot[j] = normalized(&row[r..r + 4]);
                    continue;
                }
                Dof::Spherical(s) => normalized(&row[s..s + 4]),
                Dof::RevoluteZ(s) => {
                    let (sin, cos) = (row[s] * 0.5).sin_cos();
                    [cos, 0.0, 0.0, sin]
                }
                Dof::Fixed => [1.0, 0.0, 0.0, 0.0],
            };
            let Some(p) = n.parent else { continue };
            let d = quat_rotate(&rot[p], &n.offset_m);
            pos[j] = [pos[p][0] + d[0], pos[p][1] + d[1], pos[p][2] + d[2]];
            rot[j] = quat_mul(&rot[p], &local);
        }
        (pos, rot[0])
    }
}

/// Source axes (y up, facing +x, right +z) to REP-103 (x forward, y left, z up): a proper
/// rotation, so handedness is kept.
const DEEPMIMIC_TO_REP103: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]];

fn mat_vec(m: &[[f64; 3]; 3], v: &[f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

/// A rigid motion about the vertical axis: yaw, then a horizontal shift (REP-103).
#[derive(Clone, Copy)]
struct YawShift {
    yaw_rad: f64,
    shift_m: [f64; 2],
}

impl YawShift {
    const IDENTITY: YawShift = YawShift {
        yaw_rad: 0.0,
        shift_m: [0.0, 0.0],
    };

    fn apply(&self, p: &[f64; 3]) -> [f64; 3] {
        let (s, c) = self.yaw_rad.sin_cos();
        [
            c * p[0] - s * p[1] + self.shift_m[0],
            s * p[0] + c * p[1] + self.shift_m[1],
            p[2],
        ]
    }

    /// `self` after `first`.
    fn compose(&self, first: &YawShift) -> YawShift {
        let t = self.apply(&[first.shift_m[0], first.shift_m[1], 0.0]);
        YawShift {
            yaw_rad: self.yaw_rad + first.yaw_rad,
            shift_m: [t[0], t[1]],
        }
    }
}

/// Heading of the root (its forward axis projected on the ground), radians in REP-103.
fn heading_rad(root_rot: &Quat, to_rep: &[[f64; 3]; 3]) -> f64 {
    let fwd = mat_vec(to_rep, &quat_rotate(root_rot, &[1.0, 0.0, 0.0]));
    fwd[1].atan2(fwd[0])
}

/// Read, convert and resample one DeepMimic clip.
pub fn import_deepmimic(path: &Path, options: &ImportOptions) -> Result<DeepMimicImport, DeepMimicError> {
    let text = std::fs::read_to_string(path).map_err(|cause| DeepMimicError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    import_deepmimic_str(&text, path, options)
}

/// As [`import_deepmimic`], from text; `path` names the source in errors.
pub fn import_deepmimic_str(
    text: &str,
    path: &Path,
    options: &ImportOptions,
) -> Result<DeepMimicImport, DeepMimicError> {
    let clip = parse_deepmimic(text, path)?;
    let skeleton = skeleton();
    let joint_map = match &options.joint_map {
        Some(map_path) => JointMap::from_toml_file(map_path, &skeleton),
        None => JointMap::from_toml_str(SMPL_MAP_TOML, BUILT_IN_MAP, &skeleton),
    }
    .map_err(|cause| DeepMimicError::JointMap {
        path: path.to_path_buf(),
        cause,
    })?;
    // The format fixes metres and y-up; flags still win, as for BVH.
    let units = options.units.unwrap_or(Units::Metres);
    let scale = units.metres_per_unit();
    let (up_axis, up_axis_basis, to_rep) = match options.up_axis {
        Some(up) => (up, "flag", up.to_rep103()),
        None => (UpAxis::Y, "DeepMimic format (y up)", DEEPMIMIC_TO_REP103),
    };

    let clip_duration_s = clip.duration_s();
    let cycles = match (clip.loop_mode, options.loop_wrap_to_s) {
        (LoopMode::Wrap, Some(target_s)) => {
            if !(target_s.is_finite() && target_s <= MAX_LOOP_S) {
                return Err(DeepMimicError::TooLarge {
                    path: path.to_path_buf(),
                    what: "loop target (seconds)",
                    limit: MAX_LOOP_S,
                });
            }
            (target_s / clip_duration_s - 1e-9).ceil().max(1.0) as usize
        }
        _ => 1,
    };
    let total_s = clip_duration_s * cycles as f64;
    if total_s * FPS as f64 >= MAX_MODEL_FRAMES as f64 {
        return Err(DeepMimicError::TooLarge {
            path: path.to_path_buf(),
            what: "recording length at 30 Hz (frames)",
            limit: MAX_MODEL_FRAMES as f64,
        });
    }

    let times_s = clip.frame_times_s();
    let mut one_pass = Vec::with_capacity(clip.frames.len());
    for f in 0..clip.frames.len() {
        let (pos, root_rot) = clip.forward_kinematics(f);
        let rep: Vec<[f64; 3]> = pos.iter().map(|p| mat_vec(&to_rep, p).map(|c| c * scale)).collect();
        one_pass.push((rep, heading_rad(&root_rot, &to_rep)));
    }
    // Each further pass starts where the previous one ended, as DeepMimic plays a wrap
    // clip: the root's horizontal displacement and heading change over one pass carry on.
    let (first, last) = (&one_pass[0], &one_pass[one_pass.len() - 1]);
    let yaw_rad = last.1 - first.1;
    let rotated = YawShift {
        yaw_rad,
        shift_m: [0.0, 0.0],
    }
    .apply(&first.0[0]);
    let per_pass = YawShift {
        yaw_rad,
        shift_m: [last.0[0][0] - rotated[0], last.0[0][1] - rotated[1]],
    };

    let valid_src = vec![true; NODES.len()];
    let mut samples = Vec::with_capacity(clip.frames.len() * cycles);
    let mut pass = YawShift::IDENTITY;
    for c in 0..cycles {
        // A later pass's first frame takes the place of the earlier pass's last frame.
        let frames = if c + 1 == cycles {
            0..one_pass.len()
        } else {
            0..one_pass.len() - 1
        };
        for f in frames {
            let joints: Vec<[f32; 3]> = one_pass[f].0.iter().map(|p| pass.apply(p).map(|v| v as f32)).collect();
            let (smpl, valid) = joint_map
                .apply(&joints, &valid_src)
                .map_err(|cause| DeepMimicError::JointMap {
                    path: path.to_path_buf(),
                    cause,
                })?;
            samples.push((c as f64 * clip_duration_s + times_s[f], smpl, valid));
        }
        pass = per_pass.compose(&pass);
    }

    let frames = resample_timed(&samples);
    let median_dt = {
        let mut dts: Vec<f64> = clip.frames[..clip.frames.len() - 1].iter().map(|r| r[0]).collect();
        dts.sort_by(f64::total_cmp);
        dts[dts.len() / 2]
    };
    let chain = |mut j: usize| {
        let mut len = 0.0;
        while let Some(p) = NODES[j].parent {
            len += NODES[j].offset_m.iter().map(|v| v * v).sum::<f64>().sqrt();
            j = p;
        }
        len
    };
    let info = ImportInfo {
        source_frames: clip.frames.len(),
        source_fps: snap_rate(1.0 / median_dt),
        duration_s: total_s,
        units,
        units_detected: false,
        up_axis,
        up_axis_basis,
        skeleton_height_m: (chain(3) + chain(6)) * scale,
        skeleton,
        joint_map,
    };
    Ok(DeepMimicImport {
        motion: Motion {
            source: path.to_path_buf(),
            frames,
            info,
        },
        loop_mode: clip.loop_mode,
        clip_duration_s,
        cycles,
    })
}
