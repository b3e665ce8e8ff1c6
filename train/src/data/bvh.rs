//! BVH motion import: parse, forward kinematics, unit and up-axis detection, mapping to
//! SMPL-24 and resampling to the model rate.
//!
//! Real files differ in ways toy files don't: Euler channel order per joint, translation
//! channels on non-root joints (they replace OFFSET, as for the root), centimetres or
//! metres, Y-up or Z-up, 24 to 120 Hz. All of these are handled here; what cannot be
//! detected reliably can be forced with [`ImportOptions`].

use std::path::{Path, PathBuf};

use a4mer_runtime::{FPS, JointMap, JointMapError, PoseFrame, Skeleton};

use super::resample::resample_to_model_rate;

/// An import failure. Every variant names the file, and the line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum BvhError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
    #[error("{path}: {source}")]
    JointMap {
        path: PathBuf,
        #[source]
        source: JointMapError,
    },
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

/// Length unit of a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    Metres,
    Centimetres,
    Millimetres,
    Inches,
}

impl Units {
    pub fn metres_per_unit(self) -> f64 {
        match self {
            Units::Metres => 1.0,
            Units::Centimetres => 0.01,
            Units::Millimetres => 0.001,
            Units::Inches => 0.0254,
        }
    }

    /// Guess from a skeleton height given in source units (people are 0.4–2.5 m).
    /// Inches are never guessed: a 65-inch person would pass for a 65 cm child.
    fn detect(height_src: f64) -> Units {
        if height_src < 4.0 {
            Units::Metres
        } else if height_src < 400.0 {
            Units::Centimetres
        } else {
            Units::Millimetres
        }
    }
}

impl std::str::FromStr for Units {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "m" | "metres" | "meters" => Ok(Units::Metres),
            "cm" | "centimetres" | "centimeters" => Ok(Units::Centimetres),
            "mm" | "millimetres" | "millimeters" => Ok(Units::Millimetres),
            "in" | "inch" | "inches" => Ok(Units::Inches),
            _ => Err(format!("unknown unit {s:?} (expected m, cm, mm or in)")),
        }
    }
}

/// The source axis that points up, with its sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpAxis {
    pub axis: usize,
    pub positive: bool,
}

impl UpAxis {
    pub const Y: UpAxis = UpAxis {
        axis: 1,
        positive: true,
    };
    pub const Z: UpAxis = UpAxis {
        axis: 2,
        positive: true,
    };

    /// Rotation taking source coordinates to REP-103 (z up). For the usual BVH Y-up
    /// convention (character faces +z, +x is its left) this gives x forward, y left.
    /// The horizontal axes of Z-up sources are kept as they are: only the up direction
    /// is fixed by the data.
    pub(crate) fn to_rep103(self) -> [[f64; 3]; 3] {
        // Cyclic permutation bringing `axis` to z keeps handedness.
        let (a, b, c) = match self.axis {
            0 => (1, 2, 0), // x up: (y, z, x)
            1 => (2, 0, 1), // y up: (z, x, y)
            _ => (0, 1, 2),
        };
        let mut m = [[0.0; 3]; 3];
        m[0][a] = 1.0;
        m[1][b] = 1.0;
        m[2][c] = 1.0;
        if !self.positive {
            // Turn upside down about the new x axis: still a proper rotation.
            for v in &mut m[1] {
                *v = -*v;
            }
            for v in &mut m[2] {
                *v = -*v;
            }
        }
        m
    }
}

impl std::fmt::Display for UpAxis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.positive { "+" } else { "-" };
        write!(f, "{sign}{}", ["x", "y", "z"][self.axis])
    }
}

impl std::str::FromStr for UpAxis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (positive, rest) = match s.strip_prefix('-') {
            Some(r) => (false, r),
            None => (true, s.strip_prefix('+').unwrap_or(s)),
        };
        let axis = match rest.to_ascii_lowercase().as_str() {
            "x" => 0,
            "y" => 1,
            "z" => 2,
            _ => return Err(format!("unknown up axis {s:?} (expected y, z, x, optionally signed)")),
        };
        Ok(UpAxis { axis, positive })
    }
}

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
    fn parse(s: &str) -> Option<Channel> {
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
    let text = std::fs::read_to_string(path).map_err(|source| BvhError::Io {
        path: path.to_path_buf(),
        source,
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
    .map_err(|source| BvhError::JointMap {
        path: path.to_path_buf(),
        source,
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
            .map_err(|source| BvhError::JointMap {
                path: path.to_path_buf(),
                source,
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

/// The up axis from where the head is relative to the feet, averaged over the take;
/// the axis of largest extent when the rig has no head or feet.
fn detect_up(positions: &[[f64; 3]], n: usize, map: &JointMap) -> (UpAxis, &'static str) {
    let num_frames = positions.len() / n.max(1);
    let head = map.source_of(15).or(map.source_of(12));
    let feet: Vec<usize> = [7, 8, 10, 11].iter().filter_map(|&j| map.source_of(j)).collect();
    let frames = 0..num_frames;
    if let (Some(h), false) = (head, feet.is_empty()) {
        let mut v = [0.0; 3];
        for f in frames {
            let base = &positions[f * n..(f + 1) * n];
            for k in 0..3 {
                let foot = feet.iter().map(|&j| base[j][k]).sum::<f64>() / feet.len() as f64;
                v[k] += base[h][k] - foot;
            }
        }
        let axis = (0..3).max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs())).unwrap_or(1);
        return (
            UpAxis {
                axis,
                positive: v[axis] >= 0.0,
            },
            "head above feet",
        );
    }
    let mut extent = [0.0; 3];
    for f in frames {
        let base = &positions[f * n..(f + 1) * n];
        for (k, e) in extent.iter_mut().enumerate() {
            let (lo, hi) = base
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p[k]), hi.max(p[k])));
            *e += hi - lo;
        }
    }
    let axis = (0..3).max_by(|&a, &b| extent[a].total_cmp(&extent[b])).unwrap_or(1);
    (UpAxis { axis, positive: true }, "largest extent")
}

fn mat_mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

fn mat_vec(a: &[[f64; 3]; 3], v: &[f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| a[i][0] * v[0] + a[i][1] * v[1] + a[i][2] * v[2])
}

fn axis_rotation(axis: usize, degrees: f64) -> [[f64; 3]; 3] {
    let (s, c) = degrees.to_radians().sin_cos();
    match axis {
        0 => [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
        1 => [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        _ => [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

impl BvhFile {
    pub fn num_frames(&self) -> usize {
        self.values.len() / self.num_channels.max(1)
    }

    /// The hierarchy as a skeleton; End Sites appear as `<parent>_EndSite`.
    pub fn skeleton(&self) -> Skeleton {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bvh".into());
        Skeleton {
            name: stem,
            joint_names: self.nodes.iter().map(|n| n.name.clone()).collect(),
            parents: self.nodes.iter().map(|n| n.parent).collect(),
        }
    }

    /// Local translation of a node in frame `f`: position channels replace OFFSET
    /// components (root and non-root alike); End Sites and rotation-only joints use OFFSET.
    fn local(&self, node: &BvhNode, frame: &[f64]) -> ([f64; 3], [[f64; 3]; 3]) {
        let mut t = node.offset;
        let mut r = IDENTITY;
        for (k, ch) in node.channels.iter().enumerate() {
            let v = frame[node.channel_start + k];
            match ch {
                Channel::XPosition => t[0] = v,
                Channel::YPosition => t[1] = v,
                Channel::ZPosition => t[2] = v,
                Channel::XRotation => r = mat_mul(&r, &axis_rotation(0, v)),
                Channel::YRotation => r = mat_mul(&r, &axis_rotation(1, v)),
                Channel::ZRotation => r = mat_mul(&r, &axis_rotation(2, v)),
            }
        }
        (t, r)
    }

    /// World positions of every node in frame `f`, source units and axes.
    pub fn forward_kinematics(&self, f: usize, out: &mut [[f64; 3]]) {
        let frame = &self.values[f * self.num_channels..(f + 1) * self.num_channels];
        let mut world_rot = vec![IDENTITY; self.nodes.len()];
        for (j, node) in self.nodes.iter().enumerate() {
            let (t, r) = self.local(node, frame);
            match node.parent {
                None => {
                    out[j] = t;
                    world_rot[j] = r;
                }
                Some(p) => {
                    let d = mat_vec(&world_rot[p], &t);
                    out[j] = [out[p][0] + d[0], out[p][1] + d[1], out[p][2] + d[2]];
                    world_rot[j] = mat_mul(&world_rot[p], &r);
                }
            }
        }
    }

    /// Pelvis→head plus pelvis→ankle bone lengths in source units (first frame's local
    /// translations, so posture does not matter). Falls back to the longest root-to-leaf
    /// chain, doubled, when the rig lacks those joints.
    fn skeleton_height(&self, map: &JointMap) -> f64 {
        let first: &[f64] = self.values.get(..self.num_channels).unwrap_or(&[]);
        let bone = |j: usize| -> f64 {
            if first.len() < self.num_channels || self.nodes[j].parent.is_none() {
                return 0.0;
            }
            let (t, _) = self.local(&self.nodes[j], first);
            (t[0] * t[0] + t[1] * t[1] + t[2] * t[2]).sqrt()
        };
        let chain_to = |from: usize, to: usize| -> Option<f64> {
            let mut len = 0.0;
            let mut j = to;
            while j != from {
                len += bone(j);
                j = self.nodes[j].parent?;
            }
            Some(len)
        };
        let pelvis = map.source_of(0);
        let head = map.source_of(15).or(map.source_of(12));
        let ankle = [7, 8]
            .iter()
            .filter_map(|&j| map.source_of(j))
            .filter_map(|a| pelvis.and_then(|p| chain_to(p, a)))
            .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))));
        if let (Some(p), Some(h), Some(leg)) = (pelvis, head, ankle)
            && let Some(torso) = chain_to(p, h)
        {
            return torso + leg;
        }
        let longest = (0..self.nodes.len()).filter_map(|j| chain_to(0, j)).fold(0.0, f64::max);
        2.0 * longest
    }
}

/// Parse BVH text. Errors name `path` and the line.
pub fn parse_bvh(text: &str, path: &Path) -> Result<BvhFile, BvhError> {
    let mut p = Parser {
        path,
        lines: text.lines().enumerate().peekable(),
        tokens: Vec::new(),
        last_line: 1,
    };
    p.expect("HIERARCHY")?;
    let mut nodes = Vec::new();
    let mut num_channels = 0;
    p.expect("ROOT")?;
    p.joint(None, 0, &mut nodes, &mut num_channels)?;
    if p.peek()?.is_some_and(|t| t.eq_ignore_ascii_case("ROOT")) {
        return Err(p.syntax("a second ROOT: only single-skeleton files are supported"));
    }

    match p.next_token()? {
        Some(t) if t.eq_ignore_ascii_case("MOTION") => {}
        Some(t) => return Err(p.syntax(&format!("expected MOTION, found {t:?}"))),
        None => {
            return Err(BvhError::MissingMotion {
                path: path.to_path_buf(),
            });
        }
    }
    // Header lines: `Frames: N` and `Frame Time: t`, each on its own line.
    let (frames_line, frames_text) = p.header_line("Frames:")?;
    let declared: usize = frames_text.parse().map_err(|_| BvhError::Syntax {
        path: path.to_path_buf(),
        line: frames_line,
        message: format!("frame count {frames_text:?} is not a non-negative integer"),
    })?;
    let (time_line, time_text) = p.header_line("Frame Time:")?;
    let frame_time_s: f64 = time_text.parse().map_err(|_| BvhError::BadNumber {
        path: path.to_path_buf(),
        line: time_line,
        column: 1,
        text: time_text.to_string(),
    })?;
    if !(MIN_FRAME_TIME_S..=MAX_FRAME_TIME_S).contains(&frame_time_s) {
        return Err(BvhError::BadFrameTime {
            path: path.to_path_buf(),
            line: time_line,
            value: frame_time_s,
        });
    }

    // Each value takes at least two characters: never reserve more than the text holds.
    let mut values = Vec::with_capacity(declared.saturating_mul(num_channels).min(text.len() / 2));
    let mut found = 0usize;
    let mut last_line = time_line;
    while let Some((i, line)) = p.lines.next() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if found == declared {
            return Err(BvhError::ExtraFrames {
                path: path.to_path_buf(),
                line: line_no,
                declared,
            });
        }
        let start = values.len();
        for (col, tok) in line.split_whitespace().enumerate() {
            let v: f64 = tok.parse().map_err(|_| BvhError::BadNumber {
                path: path.to_path_buf(),
                line: line_no,
                column: col + 1,
                text: tok.to_string(),
            })?;
            if !v.is_finite() {
                let (joint, channel) = channel_at(&nodes, col);
                return Err(BvhError::NonFinite {
                    path: path.to_path_buf(),
                    line: line_no,
                    column: col + 1,
                    joint,
                    channel,
                    value: v,
                });
            }
            values.push(v);
        }
        let got = values.len() - start;
        if got < num_channels && p.lines.peek().is_none() {
            // A file cut off inside its last frame.
            return Err(BvhError::TruncatedMotion {
                path: path.to_path_buf(),
                line: line_no,
                declared,
                found,
            });
        }
        if got != num_channels {
            return Err(BvhError::ChannelCountMismatch {
                path: path.to_path_buf(),
                line: line_no,
                expected: num_channels,
                found: got,
            });
        }
        found += 1;
        last_line = line_no;
    }
    if found < declared || declared == 0 {
        return Err(BvhError::TruncatedMotion {
            path: path.to_path_buf(),
            line: last_line,
            declared,
            found,
        });
    }
    Ok(BvhFile {
        path: path.to_path_buf(),
        nodes,
        frame_time_s,
        num_channels,
        values,
    })
}

fn channel_at(nodes: &[BvhNode], col: usize) -> (String, &'static str) {
    nodes
        .iter()
        .find(|n| col >= n.channel_start && col < n.channel_start + n.channels.len())
        .map(|n| (n.name.clone(), n.channels[col - n.channel_start].name()))
        .unwrap_or_else(|| ("?".into(), "?"))
}

struct Parser<'a, I: Iterator<Item = (usize, &'a str)>> {
    path: &'a Path,
    lines: std::iter::Peekable<I>,
    /// Tokens left on the current line, reversed.
    tokens: Vec<&'a str>,
    last_line: usize,
}

impl<'a, I: Iterator<Item = (usize, &'a str)>> Parser<'a, I> {
    fn syntax(&self, message: &str) -> BvhError {
        BvhError::Syntax {
            path: self.path.to_path_buf(),
            line: self.last_line,
            message: message.to_string(),
        }
    }

    fn fill(&mut self) {
        while self.tokens.is_empty() {
            let Some((i, line)) = self.lines.next() else { return };
            self.last_line = i + 1;
            self.tokens = line.split_whitespace().rev().collect();
        }
    }

    fn peek(&mut self) -> Result<Option<&'a str>, BvhError> {
        self.fill();
        Ok(self.tokens.last().copied())
    }

    fn next_token(&mut self) -> Result<Option<&'a str>, BvhError> {
        self.fill();
        Ok(self.tokens.pop())
    }

    fn token(&mut self, what: &str) -> Result<&'a str, BvhError> {
        self.next_token()?
            .ok_or_else(|| self.syntax(&format!("file ends in the hierarchy, expected {what}")))
    }

    fn expect(&mut self, word: &str) -> Result<(), BvhError> {
        let t = self.token(word)?;
        if t.eq_ignore_ascii_case(word) {
            Ok(())
        } else {
            Err(self.syntax(&format!("expected {word}, found {t:?}")))
        }
    }

    fn number(&mut self, what: &str) -> Result<f64, BvhError> {
        let t = self.token(what)?;
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.syntax(&format!("{what} {t:?} is not a finite number"))),
        }
    }

    /// After the hierarchy, a header line such as `Frame Time: 0.0333`.
    fn header_line(&mut self, label: &str) -> Result<(usize, &'a str), BvhError> {
        if !self.tokens.is_empty() {
            return Err(self.syntax(&format!("unexpected text before {label:?}")));
        }
        for (i, line) in self.lines.by_ref() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            self.last_line = i + 1;
            return match trimmed.get(..label.len()) {
                Some(head) if head.eq_ignore_ascii_case(label) => Ok((i + 1, trimmed[label.len()..].trim())),
                _ => Err(self.syntax(&format!("expected {label:?}, found {trimmed:?}"))),
            };
        }
        Err(BvhError::TruncatedMotion {
            path: self.path.to_path_buf(),
            line: self.last_line,
            declared: 0,
            found: 0,
        })
    }

    /// `<name> { OFFSET x y z CHANNELS n ... (JOINT ... | End Site {...})* }`, after ROOT/JOINT.
    fn joint(
        &mut self,
        parent: Option<usize>,
        depth: usize,
        nodes: &mut Vec<BvhNode>,
        num_channels: &mut usize,
    ) -> Result<(), BvhError> {
        if depth >= MAX_DEPTH || nodes.len() >= MAX_NODES {
            return Err(BvhError::TooLarge {
                path: self.path.to_path_buf(),
                line: self.last_line,
                what: if depth >= MAX_DEPTH {
                    "joint nesting depth"
                } else {
                    "number of joints and End Sites"
                },
                limit: if depth >= MAX_DEPTH { MAX_DEPTH } else { MAX_NODES },
            });
        }
        // Names may contain spaces (`Bip01 L Thigh`): everything up to `{` on the line.
        let mut name_parts = Vec::new();
        loop {
            let t = self.token("a joint name")?;
            if t == "{" {
                break;
            }
            name_parts.push(t);
        }
        if name_parts.is_empty() {
            return Err(self.syntax("joint without a name"));
        }
        let index = nodes.len();
        nodes.push(BvhNode {
            name: name_parts.join(" "),
            parent,
            offset: [0.0; 3],
            channels: Vec::new(),
            channel_start: *num_channels,
            end_site: false,
        });
        let mut seen_offset = false;
        loop {
            let t = self.token("}")?;
            match t.to_ascii_uppercase().as_str() {
                "OFFSET" => {
                    let o = [
                        self.number("OFFSET x")?,
                        self.number("OFFSET y")?,
                        self.number("OFFSET z")?,
                    ];
                    nodes[index].offset = o;
                    seen_offset = true;
                }
                "CHANNELS" => {
                    if !nodes[index].channels.is_empty() {
                        return Err(self.syntax(&format!("joint {:?} declares CHANNELS twice", nodes[index].name)));
                    }
                    let n = self.token("channel count")?;
                    let n: usize = n
                        .parse()
                        .ok()
                        .filter(|n| *n <= 6)
                        .ok_or_else(|| self.syntax(&format!("channel count {n:?} is not 0..6")))?;
                    for _ in 0..n {
                        let c = self.token("a channel name")?;
                        let ch = Channel::parse(c).ok_or_else(|| BvhError::UnknownChannel {
                            path: self.path.to_path_buf(),
                            line: self.last_line,
                            channel: c.to_string(),
                        })?;
                        nodes[index].channels.push(ch);
                    }
                    nodes[index].channel_start = *num_channels;
                    *num_channels += n;
                }
                "JOINT" => self.joint(Some(index), depth + 1, nodes, num_channels)?,
                "END" => {
                    self.expect("Site")?;
                    self.expect("{")?;
                    self.expect("OFFSET")?;
                    let o = [
                        self.number("OFFSET x")?,
                        self.number("OFFSET y")?,
                        self.number("OFFSET z")?,
                    ];
                    self.expect("}")?;
                    if nodes.len() >= MAX_NODES {
                        return Err(BvhError::TooLarge {
                            path: self.path.to_path_buf(),
                            line: self.last_line,
                            what: "number of joints and End Sites",
                            limit: MAX_NODES,
                        });
                    }
                    let name = format!("{}_EndSite", nodes[index].name);
                    nodes.push(BvhNode {
                        name,
                        parent: Some(index),
                        offset: o,
                        channels: Vec::new(),
                        channel_start: *num_channels,
                        end_site: true,
                    });
                }
                "}" => break,
                _ => return Err(self.syntax(&format!("unexpected {t:?} in joint {:?}", nodes[index].name))),
            }
        }
        if !seen_offset {
            return Err(self.syntax(&format!("joint {:?} has no OFFSET", nodes[index].name)));
        }
        Ok(())
    }
}
