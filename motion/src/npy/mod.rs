//! Joint-position arrays: a NumPy `.npy` file of shape (frames, joints, 3), float32 or
//! float64, with a JSON sidecar `<file>.npy.json` stating what the array cannot: the frame
//! rate (`fps_hz`), the joint names, the length unit and the up axis.
//!
//! The array alone says nothing about time, so a take without a stated rate is refused
//! unless `--fps` gives one; a guessed rate would silently speed up or slow down every
//! motion learned from it. A sidecar may leave out `joint_names`, `units` and `up_axis`;
//! they then default to the holosoma "mocap" layout (53 joints, metres, z up), the one
//! source of such arrays in `data/`.

mod array;

use std::path::{Path, PathBuf};

use a4mer_runtime::{FPS, JointMap, JointMapError, Joints, NUM_JOINTS, SMPL24, Skeleton};

use super::bvh::{ImportInfo, ImportOptions, MAX_MODEL_FRAMES, Motion, Units, UpAxis, snap_rate};
use super::resample::resample_to_model_rate;
use array::read_array;

/// Lowest and highest frame rate accepted, stated or given: below 10 Hz a recording cannot
/// be resampled to 30 Hz faithfully, above 1 kHz no motion capture records.
pub const MIN_FPS_HZ: f64 = 10.0;
pub const MAX_FPS_HZ: f64 = 1000.0;
/// Most joints per frame: full-body rigs with fingers and face have a few hundred.
pub const MAX_JOINTS: u64 = 1024;
/// Largest array file read: 1 GiB (a 10 h take of 53 joints at 120 Hz is under 9 GB in
/// float32, but nothing near that is needed to train or evaluate).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The first bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// The holosoma-retargeting "mocap" joints, in array order
/// (`holosoma_retargeting/config_types/data_type.py`, `MOCAP_DEMO_JOINTS`).
pub const HOLOSOMA_MOCAP_JOINTS: [&str; 53] = [
    "Hips",
    "Spine",
    "Spine1",
    "Neck",
    "Head",
    "LeftShoulder",
    "LeftArm",
    "LeftForeArm",
    "LeftHand",
    "LeftHandThumb1",
    "LeftHandThumb2",
    "LeftHandThumb3",
    "LeftHandIndex1",
    "LeftHandIndex2",
    "LeftHandIndex3",
    "LeftHandMiddle1",
    "LeftHandMiddle2",
    "LeftHandMiddle3",
    "LeftHandRing1",
    "LeftHandRing2",
    "LeftHandRing3",
    "LeftHandPinky1",
    "LeftHandPinky2",
    "LeftHandPinky3",
    "RightShoulder",
    "RightArm",
    "RightForeArm",
    "RightHand",
    "RightHandThumb1",
    "RightHandThumb2",
    "RightHandThumb3",
    "RightHandIndex1",
    "RightHandIndex2",
    "RightHandIndex3",
    "RightHandMiddle1",
    "RightHandMiddle2",
    "RightHandMiddle3",
    "RightHandRing1",
    "RightHandRing2",
    "RightHandRing3",
    "RightHandPinky1",
    "RightHandPinky2",
    "RightHandPinky3",
    "LeftUpLeg",
    "LeftLeg",
    "LeftFoot",
    "LeftToeBase",
    "RightUpLeg",
    "RightLeg",
    "RightFoot",
    "RightToeBase",
    "LeftFootMod",
    "RightFootMod",
];

/// The built-in map to SMPL-24, (SMPL joint, source joint): what the name heuristics give
/// this Mixamo-style rig (`runtime::joint_map`), written out because an array carries no
/// tree for the heuristics' spine rule. Its two spine joints are spine1 and spine3, as the
/// heuristics place a two-joint spine; spine2 stays invalid. The hand is the middle
/// finger's knuckle. `*FootMod` equals `*Foot` in every frame of the holosoma takes and
/// is not used.
pub const BUILT_IN_MAP: [(&str, &str); 23] = [
    ("pelvis", "Hips"),
    ("spine1", "Spine"),
    ("spine3", "Spine1"),
    ("neck", "Neck"),
    ("head", "Head"),
    ("left_hip", "LeftUpLeg"),
    ("left_knee", "LeftLeg"),
    ("left_ankle", "LeftFoot"),
    ("left_foot", "LeftToeBase"),
    ("left_collar", "LeftShoulder"),
    ("left_shoulder", "LeftArm"),
    ("left_elbow", "LeftForeArm"),
    ("left_wrist", "LeftHand"),
    ("left_hand", "LeftHandMiddle1"),
    ("right_hip", "RightUpLeg"),
    ("right_knee", "RightLeg"),
    ("right_ankle", "RightFoot"),
    ("right_foot", "RightToeBase"),
    ("right_collar", "RightShoulder"),
    ("right_shoulder", "RightArm"),
    ("right_elbow", "RightForeArm"),
    ("right_wrist", "RightHand"),
    ("right_hand", "RightHandMiddle1"),
];

/// Origin named for the built-in map (`a4mer import --info`).
pub const BUILT_IN_MAP_NAME: &str = "built-in joint-position array map";

/// An import failure. Every variant names the array file, and the sidecar or field where
/// the fault is there.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{path}: cannot read: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path}: {bytes} bytes exceeds the importer's limit of {MAX_FILE_BYTES} bytes")]
    FileTooLarge { path: PathBuf, bytes: u64 },
    #[error("{path}: not a readable .npy array: {cause}")]
    Npy { path: PathBuf, cause: String },
    #[error("{path}: array dtype is {dtype}; expected float32 or float64 ('<f4', '<f8')")]
    DType { path: PathBuf, dtype: String },
    #[error(
        "{path}: array shape is {shape:?}; expected (frames, joints, 3) with at least 2 frames and 1..={MAX_JOINTS} joints"
    )]
    Shape { path: PathBuf, shape: Vec<u64> },
    #[error(
        "{path}: truncated or padded: the header's shape {shape:?} needs {expected} data bytes, the file holds {found}"
    )]
    DataLength {
        path: PathBuf,
        shape: Vec<u64>,
        expected: u64,
        found: u64,
    },
    #[error("{sidecar}: not a valid sidecar for {path}: {message}")]
    Sidecar {
        path: PathBuf,
        sidecar: PathBuf,
        message: String,
    },
    #[error(
        "{path}: no frame rate stated ({sidecar} {state}); a joint-position array has no timing of its own: add \"fps_hz\" to the sidecar or pass --fps HZ"
    )]
    NoRate {
        path: PathBuf,
        sidecar: PathBuf,
        state: &'static str,
    },
    #[error("{path}: {origin} gives {value} Hz; a frame rate must be {MIN_FPS_HZ}..={MAX_FPS_HZ} Hz")]
    BadRate { path: PathBuf, origin: String, value: f64 },
    #[error("{path}: {sidecar} states fps_hz = {stated} Hz, but --fps gives {flag} Hz; drop --fps or fix the sidecar")]
    RateConflict {
        path: PathBuf,
        sidecar: PathBuf,
        stated: f64,
        flag: f64,
    },
    #[error("{path}: the array has {array} joints, but {origin} names {named}")]
    JointCount {
        path: PathBuf,
        origin: String,
        array: usize,
        named: usize,
    },
    #[error(
        "{path}: cannot map the joints {origin} names to SMPL-24: missing {}; name them in the sidecar or pass --joint-map",
        missing.join(", ")
    )]
    MissingJoints {
        path: PathBuf,
        origin: String,
        /// Each as `source name (SMPL joint)`.
        missing: Vec<String>,
    },
    #[error("{path}: {what} exceeds the importer's limit of {limit}")]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        limit: f64,
    },
    #[error("{path}: {cause}")]
    JointMap { path: PathBuf, cause: JointMapError },
}

/// What a sidecar may state.
#[derive(Default)]
struct Sidecar {
    fps_hz: Option<f64>,
    units: Option<String>,
    up_axis: Option<String>,
    joint_names: Option<Vec<String>>,
}

/// Fields a sidecar may have. `fps_basis` (how the rate was established) is for people
/// reading the file. Anything else is refused, so a misspelt `"fps"` is not ignored.
const SIDECAR_FIELDS: [&str; 5] = ["fps_hz", "fps_basis", "units", "up_axis", "joint_names"];

/// Parsed field by field, so every message names the field at fault.
fn parse_sidecar(text: &str) -> Result<Sidecar, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let object = value.as_object().ok_or("expected a JSON object")?;
    if let Some(k) = object.keys().find(|k| !SIDECAR_FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field {k:?}; expected {}", SIDECAR_FIELDS.join(", ")));
    }
    let string = |k: &str| -> Result<Option<String>, String> {
        object
            .get(k)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(format!("{k}: expected a string, found {v}"))
            })
            .transpose()
    };
    let mut sidecar = Sidecar {
        units: string("units")?,
        up_axis: string("up_axis")?,
        ..Sidecar::default()
    };
    string("fps_basis")?;
    if let Some(v) = object.get("fps_hz") {
        sidecar.fps_hz = Some(v.as_f64().ok_or(format!("fps_hz: expected a number (Hz), found {v}"))?);
    }
    if let Some(v) = object.get("joint_names") {
        let names = v
            .as_array()
            .ok_or(format!("joint_names: expected an array of strings, found {v}"))?;
        let names: Option<Vec<String>> = names.iter().map(|n| n.as_str().map(str::to_string)).collect();
        sidecar.joint_names = Some(names.ok_or("joint_names: expected an array of strings")?);
    }
    Ok(sidecar)
}

/// The sidecar of an array file: the array's name with `.json` appended.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// Whether `path` is named as an array's sidecar (`*.npy.json`).
pub fn is_sidecar(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".npy.json"))
}

fn read_sidecar(path: &Path) -> Result<Option<Sidecar>, NpyError> {
    let sidecar = sidecar_path(path);
    let text = match std::fs::read_to_string(&sidecar) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => return Err(NpyError::Io { path: sidecar, cause }),
    };
    parse_sidecar(&text).map(Some).map_err(|message| NpyError::Sidecar {
        path: path.to_path_buf(),
        sidecar,
        message,
    })
}

/// The rate of the take: the sidecar's, or `--fps` when the sidecar states none.
fn frame_rate(path: &Path, sidecar: Option<&Sidecar>, flag_hz: Option<f64>) -> Result<f64, NpyError> {
    let sidecar_file = sidecar_path(path);
    let check = |value: f64, origin: String| {
        if value.is_finite() && (MIN_FPS_HZ..=MAX_FPS_HZ).contains(&value) {
            Ok(value)
        } else {
            Err(NpyError::BadRate {
                path: path.to_path_buf(),
                origin,
                value,
            })
        }
    };
    let stated = sidecar.and_then(|s| s.fps_hz);
    match (stated, flag_hz) {
        (Some(stated), Some(flag)) if (stated - flag).abs() > 1e-9 * stated.abs().max(1.0) => {
            Err(NpyError::RateConflict {
                path: path.to_path_buf(),
                sidecar: sidecar_file,
                stated,
                flag,
            })
        }
        (Some(stated), _) => check(stated, format!("{} (fps_hz)", sidecar_file.display())),
        (None, Some(flag)) => check(flag, "--fps".into()),
        (None, None) => Err(NpyError::NoRate {
            path: path.to_path_buf(),
            sidecar: sidecar_file,
            state: if sidecar.is_some() {
                "has no \"fps_hz\""
            } else {
                "is missing"
            },
        }),
    }
}

/// The built-in map, after checking that every source joint it needs is named.
fn built_in_map(path: &Path, origin: &str, skeleton: &Skeleton) -> Result<JointMap, NpyError> {
    let missing: Vec<String> = BUILT_IN_MAP
        .iter()
        .filter(|(_, src)| skeleton.index_of(src).is_none())
        .map(|(smpl, src)| format!("{src} ({smpl})"))
        .collect();
    if !missing.is_empty() {
        return Err(NpyError::MissingJoints {
            path: path.to_path_buf(),
            origin: origin.to_string(),
            missing,
        });
    }
    let toml: String = std::iter::once("[joints]\n".to_string())
        .chain(BUILT_IN_MAP.iter().map(|(smpl, src)| format!("{smpl} = \"{src}\"\n")))
        .collect();
    JointMap::from_toml_str(&toml, BUILT_IN_MAP_NAME, skeleton).map_err(|cause| NpyError::JointMap {
        path: path.to_path_buf(),
        cause,
    })
}

/// Read, convert and resample one joint-position array.
pub fn import_npy(path: &Path, options: &ImportOptions) -> Result<Motion, NpyError> {
    let io = |cause| NpyError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let bytes = std::fs::metadata(path).map_err(io)?.len();
    if bytes > MAX_FILE_BYTES {
        return Err(NpyError::FileTooLarge {
            path: path.to_path_buf(),
            bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let sidecar = read_sidecar(path)?;
    import_npy_bytes(&bytes, sidecar, path, options)
}

/// As [`import_npy`], from the array's bytes and an optional sidecar text; `path` names
/// the source in errors (and its sidecar in sidecar errors).
pub fn import_npy_slice(
    bytes: &[u8],
    sidecar_json: Option<&str>,
    path: &Path,
    options: &ImportOptions,
) -> Result<Motion, NpyError> {
    let sidecar = sidecar_json
        .map(|text| {
            parse_sidecar(text).map_err(|message| NpyError::Sidecar {
                path: path.to_path_buf(),
                sidecar: sidecar_path(path),
                message,
            })
        })
        .transpose()?;
    import_npy_bytes(bytes, sidecar, path, options)
}

fn import_npy_bytes(
    bytes: &[u8],
    sidecar: Option<Sidecar>,
    path: &Path,
    options: &ImportOptions,
) -> Result<Motion, NpyError> {
    let sidecar_file = sidecar_path(path);
    let bad_field = |field: &str, message: String| NpyError::Sidecar {
        path: path.to_path_buf(),
        sidecar: sidecar_file.clone(),
        message: format!("{field}: {message}"),
    };
    let source_fps = snap_rate(frame_rate(path, sidecar.as_ref(), options.fps)?);
    let array = read_array(bytes, path)?;

    let named = sidecar.as_ref().and_then(|s| s.joint_names.clone());
    let names_origin = match &named {
        Some(_) => format!("{} (joint_names)", sidecar_file.display()),
        None => "the holosoma mocap layout (no joint_names stated)".to_string(),
    };
    let joint_names = named.unwrap_or_else(|| HOLOSOMA_MOCAP_JOINTS.iter().map(|s| s.to_string()).collect());
    if joint_names.len() != array.joints {
        return Err(NpyError::JointCount {
            path: path.to_path_buf(),
            origin: names_origin,
            array: array.joints,
            named: joint_names.len(),
        });
    }
    let skeleton = Skeleton {
        name: "joint_positions".into(),
        parents: vec![None; joint_names.len()],
        joint_names,
    };
    let joint_map = match &options.joint_map {
        Some(map_path) => JointMap::from_toml_file(map_path, &skeleton).map_err(|cause| NpyError::JointMap {
            path: path.to_path_buf(),
            cause,
        })?,
        None => built_in_map(path, &names_origin, &skeleton)?,
    };

    let stated_units = sidecar.as_ref().and_then(|s| s.units.as_deref());
    let units = match (options.units, stated_units) {
        (Some(u), _) => u,
        (None, Some(s)) => s.parse::<Units>().map_err(|m| bad_field("units", m))?,
        (None, None) => Units::Metres,
    };
    let stated_up = sidecar.as_ref().and_then(|s| s.up_axis.as_deref());
    let (up_axis, up_axis_basis) = match (options.up_axis, stated_up) {
        (Some(up), _) => (up, "flag"),
        (None, Some(s)) => (s.parse::<UpAxis>().map_err(|m| bad_field("up_axis", m))?, "sidecar"),
        (None, None) => (UpAxis::Z, "holosoma layout (z up)"),
    };
    let scale = units.metres_per_unit();
    let rot = up_axis.to_rep103();

    let duration_s = (array.frames - 1) as f64 / source_fps;
    if duration_s * FPS as f64 >= MAX_MODEL_FRAMES as f64 {
        return Err(NpyError::TooLarge {
            path: path.to_path_buf(),
            what: "recording length at 30 Hz (frames)",
            limit: MAX_MODEL_FRAMES as f64,
        });
    }
    let valid_src = vec![true; array.joints];
    let mut joints_f32 = vec![[0.0f32; 3]; array.joints];
    let mut source_frames = Vec::with_capacity(array.frames);
    for frame in array.values.chunks_exact(array.joints * 3) {
        for (dst, p) in joints_f32.iter_mut().zip(frame.chunks_exact(3)) {
            *dst = std::array::from_fn(|i| ((rot[i][0] * p[0] + rot[i][1] * p[1] + rot[i][2] * p[2]) * scale) as f32);
        }
        // Non-finite positions come out invalid: the map checks every joint it takes.
        let mapped = joint_map
            .apply(&joints_f32, &valid_src)
            .map_err(|cause| NpyError::JointMap {
                path: path.to_path_buf(),
                cause,
            })?;
        source_frames.push(mapped);
    }
    let skeleton_height_m = skeleton_height_m(&source_frames);
    let frames = resample_to_model_rate(&source_frames, source_fps);
    let info = ImportInfo {
        source_frames: array.frames,
        source_fps,
        duration_s,
        units,
        units_detected: false,
        up_axis,
        up_axis_basis,
        skeleton_height_m,
        skeleton,
        joint_map,
    };
    Ok(Motion {
        source: path.to_path_buf(),
        frames,
        info,
    })
}

/// Pelvis→head plus pelvis→ankle along the SMPL-24 tree (the longer leg), the median
/// over the take: an array has no rest pose, and a median ignores frames where a joint
/// is missing or mis-solved. 0 when the map lacks pelvis, head or ankles.
fn skeleton_height_m(frames: &[(Joints, [bool; NUM_JOINTS])]) -> f64 {
    let idx = |name: &str| SMPL24.iter().position(|n| *n == name).unwrap_or(0);
    let torso = ["pelvis", "spine1", "spine2", "spine3", "neck", "head"].map(idx);
    let legs = [
        ["pelvis", "left_hip", "left_knee", "left_ankle"].map(idx),
        ["pelvis", "right_hip", "right_knee", "right_ankle"].map(idx),
    ];
    let chain = |(joints, valid): &(Joints, [bool; NUM_JOINTS]), path: &[usize]| -> Option<f64> {
        let on: Vec<usize> = path.iter().copied().filter(|&j| valid[j]).collect();
        if on.first() != path.first() || on.last() != path.last() {
            return None;
        }
        Some(
            on.windows(2)
                .map(|w| {
                    let (a, b) = (joints[w[0]], joints[w[1]]);
                    (0..3).map(|k| ((a[k] - b[k]) as f64).powi(2)).sum::<f64>().sqrt()
                })
                .sum(),
        )
    };
    let step = (frames.len() / 200).max(1);
    let mut heights: Vec<f64> = frames
        .iter()
        .step_by(step)
        .filter_map(|f| {
            let leg = legs
                .iter()
                .filter_map(|l| chain(f, l))
                .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))))?;
            Some(chain(f, &torso)? + leg)
        })
        .collect();
    if heights.is_empty() {
        return 0.0;
    }
    heights.sort_by(f64::total_cmp);
    heights[heights.len() / 2]
}
