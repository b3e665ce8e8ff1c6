//! Pose messages → canonical [`PoseFrame`]s (SMPL-24, metres, REP-103, `stamp_ns` from the
//! header), through a [`JointMap`].
//!
//! Positions are taken as metres in the header's frame, which for every supported producer
//! is REP-103 (the ZED wrapper publishes in its ROS frames, x forward, z up). A joint the
//! producer did not see (NaN, zero confidence, no source in the map) is `valid = false`.
//!
//! One bad body in a multi-person message is rejected on its own (with the reason) and the
//! others go through; an unusable message as a whole (bad stamp, wrong pose count) is an
//! error. Nothing here panics on input.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use a4mer_runtime::{JointMap, JointMapError, NUM_JOINTS, PoseFrame, SMPL24, Skeleton};

use crate::msg::{
    Header, ObjectsStamped, Point, PoseArray, RosMessage, Skeleton3D, Skeleton3DArray, Time, zed::Object,
};

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("{type_name}: header stamp has nanosec = {nanosec} (must be < 1e9)")]
    BadStamp { type_name: String, nanosec: u32 },
    #[error("{type_name}: {found} poses, but input.joint_order lists {expected} joints")]
    PoseCount {
        type_name: String,
        expected: usize,
        found: usize,
    },
    #[error("{type_name}: body {index} (id {id}): {field} has {found} entries, joints has {expected}")]
    Lengths {
        type_name: String,
        index: usize,
        id: i64,
        field: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{type_name}: body {index} (id {id}): layout `{layout}` with no joint_names (only smpl24 may omit them)")]
    NoJointNames {
        type_name: String,
        index: usize,
        id: i64,
        layout: String,
    },
    #[error("{type_name}: body {index} (id {id}): {source}")]
    JointMap {
        type_name: String,
        index: usize,
        id: i64,
        #[source]
        source: Box<JointMapError>,
    },
    #[error(
        "{type_name}: object {index} (label_id {id}): body_format {body_format} is not BODY_18 (0), BODY_34 (1) or BODY_38 (2)"
    )]
    BodyFormat {
        type_name: String,
        index: usize,
        id: i64,
        body_format: i8,
    },
    #[error("{type_name}: object {index}: label_id {id} is negative, so it is no track id")]
    NegativeId { type_name: String, index: usize, id: i64 },
    #[error("input.joint_map {origin}: {source}")]
    MapFile {
        origin: String,
        #[source]
        source: Box<JointMapError>,
    },
}

/// One person at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub id: u32,
    pub frame: PoseFrame,
}

/// What one message gave: the people that could be used and the bodies that could not.
#[derive(Debug, Default)]
pub struct Adapted {
    pub people: Vec<Person>,
    pub rejected: Vec<AdapterError>,
}

fn stamp_ns<M: RosMessage>(header: &Header) -> Result<i64, AdapterError> {
    if header.stamp.nanosec >= 1_000_000_000 {
        return Err(AdapterError::BadStamp {
            type_name: M::ros_type_name(),
            nanosec: header.stamp.nanosec,
        });
    }
    Ok(header.stamp.to_ns())
}

fn to_f32(p: &Point) -> [f32; 3] {
    [p.x as f32, p.y as f32, p.z as f32]
}

/// A map for joints named by the source: exact SMPL-24 names map to themselves, the
/// rest by the rig-name heuristics.
fn map_by_names(skeleton: &Skeleton) -> Result<JointMap, JointMapError> {
    let mut toml = String::from("fill_with_heuristics = true\n[joints]\n");
    for name in SMPL24 {
        if skeleton.joint_names.iter().any(|n| n == name) {
            toml.push_str(&format!("{name} = \"{name}\"\n"));
        }
    }
    JointMap::from_toml_str(&toml, "joint names", skeleton)
}

fn flat_skeleton(name: &str, joint_names: &[String]) -> Skeleton {
    Skeleton {
        name: name.to_string(),
        joint_names: joint_names.to_vec(),
        parents: vec![None; joint_names.len()],
    }
}

/// An explicit map file (`input.joint_map`), applied to whatever joint names arrive.
#[derive(Clone, Debug)]
pub struct MapFile {
    pub origin: String,
    pub text: String,
}

impl MapFile {
    pub fn read(path: &std::path::Path) -> Result<Self, AdapterError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AdapterError::MapFile {
            origin: origin.clone(),
            source: Box::new(JointMapError::Io {
                origin: origin.clone(),
                source,
            }),
        })?;
        Ok(Self { origin, text })
    }

    fn build(&self, skeleton: &Skeleton) -> Result<JointMap, JointMapError> {
        JointMap::from_toml_str(&self.text, &self.origin, skeleton)
    }
}

const MAX_CACHED_LAYOUTS: usize = 16;

/// `a4mer_msgs/Skeleton3DArray` (multi-person, the reference input).
#[derive(Debug, Default)]
pub struct SkeletonArrayAdapter {
    map_file: Option<MapFile>,
    /// Bodies with confidence at or below this are not observed.
    pub min_confidence: f32,
    maps: HashMap<Vec<String>, JointMap>,
}

impl SkeletonArrayAdapter {
    pub fn new(map_file: Option<MapFile>) -> Self {
        Self {
            map_file,
            min_confidence: 0.0,
            maps: HashMap::new(),
        }
    }

    pub fn adapt(&mut self, msg: &Skeleton3DArray) -> Result<Adapted, AdapterError> {
        let stamp_ns = stamp_ns::<Skeleton3DArray>(&msg.header)?;
        let mut out = Adapted::default();
        for (index, body) in msg.bodies.iter().enumerate() {
            match self.adapt_body(stamp_ns, index, body) {
                Ok(p) => out.people.push(p),
                Err(e) => out.rejected.push(e),
            }
        }
        Ok(out)
    }

    fn adapt_body(&mut self, stamp_ns: i64, index: usize, body: &Skeleton3D) -> Result<Person, AdapterError> {
        let type_name = Skeleton3DArray::ros_type_name;
        let id = body.id as i64;
        let n = body.joints.len();
        let lengths = |field, found| AdapterError::Lengths {
            type_name: type_name(),
            index,
            id,
            field,
            expected: n,
            found,
        };
        if !body.confidences.is_empty() && body.confidences.len() != n {
            return Err(lengths("confidences", body.confidences.len()));
        }
        let names: Vec<String> = if body.joint_names.is_empty() {
            if body.layout != "smpl24" {
                return Err(AdapterError::NoJointNames {
                    type_name: type_name(),
                    index,
                    id,
                    layout: body.layout.clone(),
                });
            }
            SMPL24.iter().map(|s| s.to_string()).collect()
        } else {
            body.joint_names.clone()
        };
        if names.len() != n {
            return Err(lengths("joint_names", names.len()));
        }
        // A publisher that keeps changing its joint names must not grow this without bound.
        if self.maps.len() >= MAX_CACHED_LAYOUTS && !self.maps.contains_key(&names) {
            self.maps.clear();
        }
        let map = match self.maps.entry(names) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let skeleton = flat_skeleton(&body.layout, e.key());
                let map = match &self.map_file {
                    Some(f) => f.build(&skeleton),
                    None if e.key().iter().map(String::as_str).eq(SMPL24) => Ok(JointMap::identity()),
                    None => map_by_names(&skeleton),
                }
                .map_err(|source| AdapterError::JointMap {
                    type_name: type_name(),
                    index,
                    id,
                    source: Box::new(source),
                })?;
                e.insert(map)
            }
        };
        let positions: Vec<[f32; 3]> = body.joints.iter().map(to_f32).collect();
        let valid: Vec<bool> = if body.confidences.is_empty() {
            vec![true; n]
        } else {
            body.confidences
                .iter()
                .map(|c| c.is_finite() && *c > self.min_confidence)
                .collect()
        };
        let (joints, valid) = map.apply(&positions, &valid).map_err(|source| AdapterError::JointMap {
            type_name: type_name(),
            index,
            id,
            source: Box::new(source),
        })?;
        Ok(Person {
            id: body.id,
            frame: PoseFrame::new(stamp_ns, joints, valid),
        })
    }
}

/// `geometry_msgs/PoseArray`: one person, one pose per joint in `input.joint_order`.
#[derive(Debug)]
pub struct PoseArrayAdapter {
    joint_order: Vec<String>,
    map: JointMap,
}

impl PoseArrayAdapter {
    /// `joint_order` defaults to SMPL-24 when empty.
    pub fn new(joint_order: &[String], map_file: Option<&MapFile>) -> Result<Self, AdapterError> {
        let joint_order: Vec<String> = if joint_order.is_empty() {
            SMPL24.iter().map(|s| s.to_string()).collect()
        } else {
            joint_order.to_vec()
        };
        let skeleton = flat_skeleton("input.joint_order", &joint_order);
        let map = match map_file {
            Some(f) => f.build(&skeleton).map_err(|source| AdapterError::MapFile {
                origin: f.origin.clone(),
                source: Box::new(source),
            })?,
            None if joint_order.iter().map(String::as_str).eq(SMPL24) => JointMap::identity(),
            None => map_by_names(&skeleton).map_err(|source| AdapterError::MapFile {
                origin: "input.joint_order".into(),
                source: Box::new(source),
            })?,
        };
        Ok(Self { joint_order, map })
    }

    pub fn joint_map(&self) -> &JointMap {
        &self.map
    }

    pub fn adapt(&self, msg: &PoseArray) -> Result<Person, AdapterError> {
        let stamp_ns = stamp_ns::<PoseArray>(&msg.header)?;
        if msg.poses.len() != self.joint_order.len() {
            return Err(AdapterError::PoseCount {
                type_name: PoseArray::ros_type_name(),
                expected: self.joint_order.len(),
                found: msg.poses.len(),
            });
        }
        let positions: Vec<[f32; 3]> = msg.poses.iter().map(|p| to_f32(&p.position)).collect();
        let (joints, valid) = self
            .map
            .apply(&positions, &vec![true; positions.len()])
            .map_err(|source| AdapterError::JointMap {
                type_name: PoseArray::ros_type_name(),
                index: 0,
                id: 0,
                source: Box::new(source),
            })?;
        Ok(Person {
            id: 0,
            frame: PoseFrame::new(stamp_ns, joints, valid),
        })
    }
}

/// A ZED body format: its keypoints in SDK order, joints we derive as the midpoint of two
/// keypoints (where the format has no keypoint at a SMPL joint), and the SMPL-24 map.
struct ZedFormat {
    name: &'static str,
    keypoints: &'static [&'static str],
    midpoints: &'static [(&'static str, &'static str, &'static str)],
    map: &'static [(&'static str, &'static str)],
}

const ZED_BODY_18: ZedFormat = ZedFormat {
    name: "zed_body_18",
    keypoints: &[
        "NOSE",
        "NECK",
        "RIGHT_SHOULDER",
        "RIGHT_ELBOW",
        "RIGHT_WRIST",
        "LEFT_SHOULDER",
        "LEFT_ELBOW",
        "LEFT_WRIST",
        "RIGHT_HIP",
        "RIGHT_KNEE",
        "RIGHT_ANKLE",
        "LEFT_HIP",
        "LEFT_KNEE",
        "LEFT_ANKLE",
        "RIGHT_EYE",
        "LEFT_EYE",
        "RIGHT_EAR",
        "LEFT_EAR",
    ],
    midpoints: &[
        ("PELVIS_MID", "LEFT_HIP", "RIGHT_HIP"),
        ("HEAD_MID", "LEFT_EAR", "RIGHT_EAR"),
    ],
    map: &[
        ("pelvis", "PELVIS_MID"),
        ("left_hip", "LEFT_HIP"),
        ("right_hip", "RIGHT_HIP"),
        ("left_knee", "LEFT_KNEE"),
        ("right_knee", "RIGHT_KNEE"),
        ("left_ankle", "LEFT_ANKLE"),
        ("right_ankle", "RIGHT_ANKLE"),
        ("neck", "NECK"),
        ("head", "HEAD_MID"),
        ("left_shoulder", "LEFT_SHOULDER"),
        ("right_shoulder", "RIGHT_SHOULDER"),
        ("left_elbow", "LEFT_ELBOW"),
        ("right_elbow", "RIGHT_ELBOW"),
        ("left_wrist", "LEFT_WRIST"),
        ("right_wrist", "RIGHT_WRIST"),
    ],
};

const ZED_BODY_34: ZedFormat = ZedFormat {
    name: "zed_body_34",
    keypoints: &[
        "PELVIS",
        "NAVAL_SPINE",
        "CHEST_SPINE",
        "NECK",
        "LEFT_CLAVICLE",
        "LEFT_SHOULDER",
        "LEFT_ELBOW",
        "LEFT_WRIST",
        "LEFT_HAND",
        "LEFT_HANDTIP",
        "LEFT_THUMB",
        "RIGHT_CLAVICLE",
        "RIGHT_SHOULDER",
        "RIGHT_ELBOW",
        "RIGHT_WRIST",
        "RIGHT_HAND",
        "RIGHT_HANDTIP",
        "RIGHT_THUMB",
        "LEFT_HIP",
        "LEFT_KNEE",
        "LEFT_ANKLE",
        "LEFT_FOOT",
        "RIGHT_HIP",
        "RIGHT_KNEE",
        "RIGHT_ANKLE",
        "RIGHT_FOOT",
        "HEAD",
        "NOSE",
        "LEFT_EYE",
        "LEFT_EAR",
        "RIGHT_EYE",
        "RIGHT_EAR",
        "LEFT_HEEL",
        "RIGHT_HEEL",
    ],
    midpoints: &[],
    // Two spine joints: like the rig heuristics, the lower is spine1 and the upper spine3.
    map: &[
        ("pelvis", "PELVIS"),
        ("spine1", "NAVAL_SPINE"),
        ("spine3", "CHEST_SPINE"),
        ("neck", "NECK"),
        ("head", "HEAD"),
        ("left_collar", "LEFT_CLAVICLE"),
        ("right_collar", "RIGHT_CLAVICLE"),
        ("left_shoulder", "LEFT_SHOULDER"),
        ("right_shoulder", "RIGHT_SHOULDER"),
        ("left_elbow", "LEFT_ELBOW"),
        ("right_elbow", "RIGHT_ELBOW"),
        ("left_wrist", "LEFT_WRIST"),
        ("right_wrist", "RIGHT_WRIST"),
        ("left_hand", "LEFT_HAND"),
        ("right_hand", "RIGHT_HAND"),
        ("left_hip", "LEFT_HIP"),
        ("right_hip", "RIGHT_HIP"),
        ("left_knee", "LEFT_KNEE"),
        ("right_knee", "RIGHT_KNEE"),
        ("left_ankle", "LEFT_ANKLE"),
        ("right_ankle", "RIGHT_ANKLE"),
        ("left_foot", "LEFT_FOOT"),
        ("right_foot", "RIGHT_FOOT"),
    ],
};

const ZED_BODY_38: ZedFormat = ZedFormat {
    name: "zed_body_38",
    keypoints: &[
        "PELVIS",
        "SPINE_1",
        "SPINE_2",
        "SPINE_3",
        "NECK",
        "NOSE",
        "LEFT_EYE",
        "RIGHT_EYE",
        "LEFT_EAR",
        "RIGHT_EAR",
        "LEFT_CLAVICLE",
        "RIGHT_CLAVICLE",
        "LEFT_SHOULDER",
        "RIGHT_SHOULDER",
        "LEFT_ELBOW",
        "RIGHT_ELBOW",
        "LEFT_WRIST",
        "RIGHT_WRIST",
        "LEFT_HIP",
        "RIGHT_HIP",
        "LEFT_KNEE",
        "RIGHT_KNEE",
        "LEFT_ANKLE",
        "RIGHT_ANKLE",
        "LEFT_BIG_TOE",
        "RIGHT_BIG_TOE",
        "LEFT_SMALL_TOE",
        "RIGHT_SMALL_TOE",
        "LEFT_HEEL",
        "RIGHT_HEEL",
        "LEFT_HAND_THUMB_4",
        "RIGHT_HAND_THUMB_4",
        "LEFT_HAND_INDEX_1",
        "RIGHT_HAND_INDEX_1",
        "LEFT_HAND_MIDDLE_4",
        "RIGHT_HAND_MIDDLE_4",
        "LEFT_HAND_PINKY_1",
        "RIGHT_HAND_PINKY_1",
    ],
    // SMPL's head joint sits between the ears, its hand joint at the knuckles, its foot
    // joint across the toes.
    midpoints: &[
        ("HEAD_MID", "LEFT_EAR", "RIGHT_EAR"),
        ("LEFT_KNUCKLES", "LEFT_HAND_INDEX_1", "LEFT_HAND_PINKY_1"),
        ("RIGHT_KNUCKLES", "RIGHT_HAND_INDEX_1", "RIGHT_HAND_PINKY_1"),
        ("LEFT_TOES", "LEFT_BIG_TOE", "LEFT_SMALL_TOE"),
        ("RIGHT_TOES", "RIGHT_BIG_TOE", "RIGHT_SMALL_TOE"),
    ],
    map: &[
        ("pelvis", "PELVIS"),
        ("spine1", "SPINE_1"),
        ("spine2", "SPINE_2"),
        ("spine3", "SPINE_3"),
        ("neck", "NECK"),
        ("head", "HEAD_MID"),
        ("left_collar", "LEFT_CLAVICLE"),
        ("right_collar", "RIGHT_CLAVICLE"),
        ("left_shoulder", "LEFT_SHOULDER"),
        ("right_shoulder", "RIGHT_SHOULDER"),
        ("left_elbow", "LEFT_ELBOW"),
        ("right_elbow", "RIGHT_ELBOW"),
        ("left_wrist", "LEFT_WRIST"),
        ("right_wrist", "RIGHT_WRIST"),
        ("left_hand", "LEFT_KNUCKLES"),
        ("right_hand", "RIGHT_KNUCKLES"),
        ("left_hip", "LEFT_HIP"),
        ("right_hip", "RIGHT_HIP"),
        ("left_knee", "LEFT_KNEE"),
        ("right_knee", "RIGHT_KNEE"),
        ("left_ankle", "LEFT_ANKLE"),
        ("right_ankle", "RIGHT_ANKLE"),
        ("left_foot", "LEFT_TOES"),
        ("right_foot", "RIGHT_TOES"),
    ],
};

impl ZedFormat {
    fn skeleton(&self) -> Skeleton {
        let names: Vec<String> = self
            .keypoints
            .iter()
            .chain(self.midpoints.iter().map(|(n, _, _)| n))
            .map(|s| s.to_string())
            .collect();
        flat_skeleton(self.name, &names)
    }

    fn builtin_map(&self) -> Result<JointMap, JointMapError> {
        let mut toml = String::from("[joints]\n");
        for (smpl, src) in self.map {
            toml.push_str(&format!("{smpl} = \"{src}\"\n"));
        }
        JointMap::from_toml_str(&toml, &format!("built-in {} map", self.name), &self.skeleton())
    }

    /// Keypoint positions followed by the midpoints (NaN unless both ends are finite).
    fn positions(&self, object: &Object) -> Vec<[f32; 3]> {
        let mut out: Vec<[f32; 3]> = object.skeleton_3d.keypoints[..self.keypoints.len()]
            .iter()
            .map(|k| k.kp)
            .collect();
        for (_, a, b) in self.midpoints {
            let at = |n: &str| self.keypoints.iter().position(|k| *k == n).map(|i| out[i]);
            let mid = match (at(a), at(b)) {
                (Some(pa), Some(pb)) => std::array::from_fn(|k| 0.5 * (pa[k] + pb[k])),
                _ => [f32::NAN; 3],
            };
            out.push(mid);
        }
        out
    }
}

/// ZED `zed_msgs/ObjectsStamped` body keypoints (BODY_18, BODY_34, BODY_38).
///
/// Objects without a skeleton, or whose tracking state is OFF ("object not valid"), are
/// skipped silently: the ZED publishes them routinely. The track id is `label_id`.
#[derive(Debug)]
pub struct ZedAdapter {
    maps: [JointMap; 3],
}

const ZED_FORMATS: [&ZedFormat; 3] = [&ZED_BODY_18, &ZED_BODY_34, &ZED_BODY_38];

impl ZedAdapter {
    /// With `map_file`, that map replaces the built-in ones; its source names are the ZED
    /// keypoint names (`LEFT_HIP`, ...) plus the derived `HEAD_MID`, `PELVIS_MID`,
    /// `LEFT_KNUCKLES`, `LEFT_TOES` (and right) of the format at hand.
    pub fn new(map_file: Option<&MapFile>) -> Result<Self, AdapterError> {
        let build = |f: &ZedFormat| -> Result<JointMap, AdapterError> {
            match map_file {
                Some(m) => m.build(&f.skeleton()).map_err(|source| AdapterError::MapFile {
                    origin: m.origin.clone(),
                    source: Box::new(source),
                }),
                None => f.builtin_map().map_err(|source| AdapterError::MapFile {
                    origin: format!("built-in {}", f.name),
                    source: Box::new(source),
                }),
            }
        };
        Ok(Self {
            maps: [build(&ZED_BODY_18)?, build(&ZED_BODY_34)?, build(&ZED_BODY_38)?],
        })
    }

    pub fn joint_map(&self, body_format: usize) -> Option<&JointMap> {
        self.maps.get(body_format)
    }

    pub fn adapt(&self, msg: &ObjectsStamped) -> Result<Adapted, AdapterError> {
        let type_name = ObjectsStamped::ros_type_name;
        let stamp_ns = stamp_ns::<ObjectsStamped>(&msg.header)?;
        let mut out = Adapted::default();
        for (index, object) in msg.objects.iter().enumerate() {
            if !object.skeleton_available || object.tracking_state == 0 {
                continue;
            }
            let id = object.label_id as i64;
            let Ok(format) = usize::try_from(object.body_format) else {
                out.rejected.push(AdapterError::BodyFormat {
                    type_name: type_name(),
                    index,
                    id,
                    body_format: object.body_format,
                });
                continue;
            };
            let (Some(zed), Some(map)) = (ZED_FORMATS.get(format), self.maps.get(format)) else {
                out.rejected.push(AdapterError::BodyFormat {
                    type_name: type_name(),
                    index,
                    id,
                    body_format: object.body_format,
                });
                continue;
            };
            let Ok(person_id) = u32::try_from(object.label_id) else {
                out.rejected.push(AdapterError::NegativeId {
                    type_name: type_name(),
                    index,
                    id,
                });
                continue;
            };
            let positions = zed.positions(object);
            match map.apply(&positions, &vec![true; positions.len()]) {
                Ok((joints, valid)) => out.people.push(Person {
                    id: person_id,
                    frame: PoseFrame::new(stamp_ns, joints, valid),
                }),
                Err(source) => out.rejected.push(AdapterError::JointMap {
                    type_name: type_name(),
                    index,
                    id,
                    source: Box::new(source),
                }),
            }
        }
        Ok(out)
    }
}

/// The pose message types the node accepts (`input.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    /// `a4mer_msgs/msg/Skeleton3DArray`, the reference input.
    Skeleton3DArray,
    /// `geometry_msgs/msg/PoseArray`, one person.
    PoseArray,
    /// `zed_msgs/msg/ObjectsStamped` body tracking.
    ZedObjects,
}

impl InputType {
    pub const ALL: [InputType; 3] = [Self::Skeleton3DArray, Self::PoseArray, Self::ZedObjects];

    /// The `input.type` parameter value.
    pub fn param_value(self) -> &'static str {
        match self {
            Self::Skeleton3DArray => "skeleton3d_array",
            Self::PoseArray => "pose_array",
            Self::ZedObjects => "zed_objects",
        }
    }

    pub fn from_param_value(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.param_value() == v)
    }

    /// `pkg/msg/Name`.
    pub fn ros_type_name(self) -> String {
        match self {
            Self::Skeleton3DArray => Skeleton3DArray::ros_type_name(),
            Self::PoseArray => PoseArray::ros_type_name(),
            Self::ZedObjects => ObjectsStamped::ros_type_name(),
        }
    }

    /// The input type a bag topic of type `pkg/msg/Name` carries, if we read it. ZED's
    /// older package name `zed_interfaces` has the same layout.
    pub fn from_ros_type_name(name: &str) -> Option<Self> {
        match name {
            "zed_interfaces/msg/ObjectsStamped" => Some(Self::ZedObjects),
            _ => Self::ALL.into_iter().find(|t| t.ros_type_name() == name),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Cdr(#[from] crate::msg::CdrError),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error("expected a {expected} message, got {got}")]
    WrongType { expected: String, got: String },
}

/// One adapter for whichever input type is configured: serialized message in, people out.
#[derive(Debug)]
pub enum InputAdapter {
    Skeleton3DArray(SkeletonArrayAdapter),
    PoseArray(Box<PoseArrayAdapter>),
    ZedObjects(Box<ZedAdapter>),
}

impl InputAdapter {
    /// `joint_order` applies to `PoseArray` (empty: SMPL-24); `map_file` replaces the
    /// name-based or built-in joint maps.
    pub fn new(kind: InputType, joint_order: &[String], map_file: Option<MapFile>) -> Result<Self, AdapterError> {
        Ok(match kind {
            InputType::Skeleton3DArray => Self::Skeleton3DArray(SkeletonArrayAdapter::new(map_file)),
            InputType::PoseArray => Self::PoseArray(Box::new(PoseArrayAdapter::new(joint_order, map_file.as_ref())?)),
            InputType::ZedObjects => Self::ZedObjects(Box::new(ZedAdapter::new(map_file.as_ref())?)),
        })
    }

    pub fn input_type(&self) -> InputType {
        match self {
            Self::Skeleton3DArray(_) => InputType::Skeleton3DArray,
            Self::PoseArray(_) => InputType::PoseArray,
            Self::ZedObjects(_) => InputType::ZedObjects,
        }
    }

    /// Decode a CDR payload (with its 4-byte header) of the configured type and adapt it.
    pub fn adapt_cdr(&mut self, payload: &[u8]) -> Result<Adapted, InputError> {
        let msg = InputMessage::decode(payload, self.input_type())?;
        self.adapt(&msg)
    }

    /// Adapt a decoded message; a message of another type than configured is an error.
    pub fn adapt(&mut self, msg: &InputMessage) -> Result<Adapted, InputError> {
        Ok(match (self, msg) {
            (Self::Skeleton3DArray(a), InputMessage::Skeleton3DArray(m)) => a.adapt(m)?,
            (Self::PoseArray(a), InputMessage::PoseArray(m)) => Adapted {
                people: vec![a.adapt(m)?],
                rejected: Vec::new(),
            },
            (Self::ZedObjects(a), InputMessage::ZedObjects(m)) => a.adapt(m)?,
            (a, m) => {
                return Err(InputError::WrongType {
                    expected: a.input_type().ros_type_name(),
                    got: m.input_type().ros_type_name(),
                });
            }
        })
    }
}

/// One decoded input message of any supported type.
#[derive(Clone, Debug, PartialEq)]
pub enum InputMessage {
    Skeleton3DArray(Skeleton3DArray),
    PoseArray(PoseArray),
    ZedObjects(Box<ObjectsStamped>),
}

impl InputMessage {
    /// Decode a CDR payload (with its 4-byte header) as `kind`.
    pub fn decode(payload: &[u8], kind: InputType) -> Result<Self, crate::msg::CdrError> {
        Ok(match kind {
            InputType::Skeleton3DArray => Self::Skeleton3DArray(crate::msg::decode(payload)?),
            InputType::PoseArray => Self::PoseArray(crate::msg::decode(payload)?),
            InputType::ZedObjects => Self::ZedObjects(Box::new(crate::msg::decode(payload)?)),
        })
    }

    pub fn input_type(&self) -> InputType {
        match self {
            Self::Skeleton3DArray(_) => InputType::Skeleton3DArray,
            Self::PoseArray(_) => InputType::PoseArray,
            Self::ZedObjects(_) => InputType::ZedObjects,
        }
    }

    pub fn header(&self) -> &Header {
        match self {
            Self::Skeleton3DArray(m) => &m.header,
            Self::PoseArray(m) => &m.header,
            Self::ZedObjects(m) => &m.header,
        }
    }
}

/// The reference message for one canonical frame: layout `smpl24`, SMPL-24 names, NaN and
/// confidence 0 for invalid joints.
pub fn skeleton_from_frame(id: u32, frame: &PoseFrame) -> Skeleton3D {
    Skeleton3D {
        id,
        layout: "smpl24".into(),
        joint_names: SMPL24.iter().map(|s| s.to_string()).collect(),
        joints: (0..NUM_JOINTS)
            .map(|j| {
                let p = frame.joints_in_world[j];
                if frame.valid[j] {
                    Point {
                        x: p[0] as f64,
                        y: p[1] as f64,
                        z: p[2] as f64,
                    }
                } else {
                    Point {
                        x: f64::NAN,
                        y: f64::NAN,
                        z: f64::NAN,
                    }
                }
            })
            .collect(),
        confidences: frame.valid.iter().map(|v| if *v { 1.0 } else { 0.0 }).collect(),
    }
}

/// A `Skeleton3DArray` holding `people` at `stamp_ns` in `frame_id`; `None` if the stamp
/// does not fit a ROS time.
pub fn skeleton_array(stamp_ns: i64, frame_id: &str, people: &[(u32, &PoseFrame)]) -> Option<Skeleton3DArray> {
    Some(Skeleton3DArray {
        header: Header {
            stamp: Time::from_ns(stamp_ns)?,
            frame_id: frame_id.to_string(),
        },
        bodies: people.iter().map(|(id, f)| skeleton_from_frame(*id, f)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Pose, zed::Keypoint3D};

    fn frame(stamp_ns: i64) -> PoseFrame {
        let joints = std::array::from_fn(|j| [j as f32 * 0.1, -(j as f32) * 0.05, 1.0 + j as f32 * 0.01]);
        let mut valid = [true; NUM_JOINTS];
        valid[22] = false;
        valid[23] = false;
        PoseFrame::new(stamp_ns, joints, valid)
    }

    fn smpl_index(name: &str) -> usize {
        SMPL24.iter().position(|n| *n == name).unwrap()
    }

    #[test]
    fn skeleton_array_round_trips_a_canonical_frame() {
        let f = frame(1_700_000_000_123_456_789);
        let msg = skeleton_array(f.stamp_ns, "world", &[(3, &f), (9, &f)]).unwrap();
        let mut a = SkeletonArrayAdapter::new(None);
        let out = a.adapt(&msg).unwrap();
        assert!(out.rejected.is_empty());
        assert_eq!(out.people.len(), 2);
        assert_eq!(out.people[1].id, 9);
        let got = out.people[0].frame;
        assert_eq!(got.stamp_ns, f.stamp_ns);
        assert_eq!(got.valid, f.valid);
        for j in (0..NUM_JOINTS).filter(|j| f.valid[*j]) {
            assert_eq!(got.joints_in_world[j], f.joints_in_world[j]);
        }
    }

    #[test]
    fn one_bad_body_is_rejected_alone_with_a_reason() {
        let f = frame(0);
        let mut msg = skeleton_array(0, "world", &[(1, &f), (2, &f), (3, &f)]).unwrap();
        msg.bodies[1].confidences.pop();
        msg.bodies[2].joint_names.clear();
        msg.bodies[2].layout = "coco17".into();
        let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
        assert_eq!(out.people.len(), 1);
        assert_eq!(out.rejected.len(), 2);
        let e0 = out.rejected[0].to_string();
        assert!(
            e0.contains("body 1 (id 2)") && e0.contains("confidences has 23"),
            "{e0}"
        );
        let e1 = out.rejected[1].to_string();
        assert!(e1.contains("coco17"), "{e1}");
    }

    #[test]
    fn nan_and_zero_confidence_joints_are_invalid_and_smpl_names_may_be_omitted() {
        let f = frame(5);
        let mut msg = skeleton_array(5, "world", &[(1, &f)]).unwrap();
        msg.bodies[0].joint_names.clear();
        msg.bodies[0].joints[0].x = f64::NAN;
        msg.bodies[0].confidences[1] = 0.0;
        msg.bodies[0].confidences[2] = f32::NAN;
        msg.bodies[0].joints[3].y = 1e300; // overflows f32: not finite
        let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
        let v = out.people[0].frame.valid;
        assert!(!v[0] && !v[1] && !v[2] && !v[3] && v[4]);

        // No confidences at all: every finite joint counts.
        msg.bodies[0].confidences.clear();
        let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
        assert_eq!(out.people[0].frame.valid_count(), 20, "22 and 23 are NaN, 0 and 3 too");

        // Empty bodies, empty message: nothing, no error.
        let empty = Skeleton3DArray::default();
        assert!(SkeletonArrayAdapter::new(None).adapt(&empty).unwrap().people.is_empty());
        let mut no_joints = msg.clone();
        no_joints.bodies[0].joints.clear();
        let out = SkeletonArrayAdapter::new(None).adapt(&no_joints).unwrap();
        assert!(
            out.rejected[0]
                .to_string()
                .contains("joint_names has 24 entries, joints has 0")
        );
    }

    #[test]
    fn rig_names_map_by_heuristics_and_bad_stamps_are_errors() {
        let names = ["Hips", "LeftUpLeg", "LeftLeg", "Head"];
        let body = Skeleton3D {
            id: 4,
            layout: "mixamo".into(),
            joint_names: names.iter().map(|s| s.to_string()).collect(),
            joints: (0..4)
                .map(|i| Point {
                    x: i as f64,
                    y: 0.0,
                    z: 0.0,
                })
                .collect(),
            confidences: vec![],
        };
        let mut msg = Skeleton3DArray {
            header: Header::default(),
            bodies: vec![body],
        };
        let out = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap();
        let f = out.people[0].frame;
        assert_eq!(f.joints_in_world[smpl_index("left_knee")], [2.0, 0.0, 0.0]);
        assert_eq!(f.joints_in_world[smpl_index("head")], [3.0, 0.0, 0.0]);
        assert_eq!(f.valid_count(), 4);

        msg.header.stamp.nanosec = 1_000_000_000;
        let e = SkeletonArrayAdapter::new(None).adapt(&msg).unwrap_err();
        assert!(e.to_string().contains("nanosec"), "{e}");
    }

    #[test]
    fn map_file_errors_name_the_file() {
        let map = MapFile {
            origin: "site.toml".into(),
            text: "[joints]\npelvis = \"Nope\"\n".into(),
        };
        let f = frame(0);
        let msg = skeleton_array(0, "w", &[(1, &f)]).unwrap();
        let out = SkeletonArrayAdapter::new(Some(map.clone())).adapt(&msg).unwrap();
        let e = out.rejected[0].to_string();
        assert!(e.contains("site.toml") && e.contains("Nope"), "{e}");
        let e = PoseArrayAdapter::new(&[], Some(&map)).unwrap_err().to_string();
        assert!(e.contains("input.joint_map site.toml"), "{e}");
    }

    fn pose_array(n: usize) -> PoseArray {
        PoseArray {
            header: Header {
                stamp: Time { sec: 2, nanosec: 5 },
                frame_id: "base".into(),
            },
            poses: (0..n)
                .map(|i| Pose {
                    position: Point {
                        x: i as f64,
                        y: 1.0,
                        z: 2.0,
                    },
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn pose_array_uses_the_joint_order() {
        let a = PoseArrayAdapter::new(&[], None).unwrap();
        let p = a.adapt(&pose_array(24)).unwrap();
        assert_eq!(p.frame.stamp_ns, 2_000_000_005);
        assert_eq!(p.frame.joints_in_world[15], [15.0, 1.0, 2.0]);
        assert_eq!(p.frame.valid_count(), 24);
        let e = a.adapt(&pose_array(23)).unwrap_err().to_string();
        assert!(
            e.contains("23 poses") && e.contains("input.joint_order lists 24"),
            "{e}"
        );
        assert!(a.adapt(&pose_array(0)).is_err());

        let order: Vec<String> = ["head", "pelvis", "LeftHand"].iter().map(|s| s.to_string()).collect();
        let a = PoseArrayAdapter::new(&order, None).unwrap();
        let p = a.adapt(&pose_array(3)).unwrap();
        assert_eq!(p.frame.joints_in_world[0], [1.0, 1.0, 2.0]);
        assert_eq!(p.frame.joints_in_world[15], [0.0, 1.0, 2.0]);
        assert_eq!(p.frame.joints_in_world[smpl_index("left_wrist")], [2.0, 1.0, 2.0]);
        assert_eq!(p.frame.valid_count(), 3);
    }

    fn zed_object(format: i8, label_id: i16, n: usize) -> Object {
        let mut o = Object {
            label_id,
            skeleton_available: true,
            tracking_state: 1,
            body_format: format,
            ..Default::default()
        };
        for (i, k) in o.skeleton_3d.keypoints.iter_mut().enumerate() {
            *k = if i < n {
                Keypoint3D {
                    kp: [i as f32, 0.5, 1.0],
                }
            } else {
                Keypoint3D { kp: [f32::NAN; 3] }
            };
        }
        o
    }

    #[test]
    fn zed_body_formats_map_to_smpl24() {
        let z = ZedAdapter::new(None).unwrap();
        assert_eq!(z.joint_map(0).unwrap().mapped_count(), 15);
        assert_eq!(z.joint_map(1).unwrap().mapped_count(), 23);
        assert_eq!(z.joint_map(2).unwrap().mapped_count(), 24);

        let mut msg = ObjectsStamped {
            header: Header {
                stamp: Time { sec: 10, nanosec: 0 },
                frame_id: "zed_left_camera_frame".into(),
            },
            objects: vec![zed_object(0, 1, 18), zed_object(1, 2, 34), zed_object(2, 3, 38)],
        };
        msg.objects[2].skeleton_3d.keypoints[8].kp = [f32::NAN; 3]; // BODY_38 LEFT_EAR unseen
        let out = z.adapt(&msg).unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let [b18, b34, b38] = [&out.people[0], &out.people[1], &out.people[2]];
        assert_eq!((b18.id, b34.id, b38.id), (1, 2, 3));
        assert_eq!(b18.frame.stamp_ns, 10_000_000_000);
        // BODY_18: pelvis is between LEFT_HIP (11) and RIGHT_HIP (8); head between the ears (16, 17).
        assert_eq!(b18.frame.joints_in_world[0], [9.5, 0.5, 1.0]);
        assert_eq!(b18.frame.joints_in_world[15], [16.5, 0.5, 1.0]);
        assert_eq!(b18.frame.joints_in_world[smpl_index("left_wrist")], [7.0, 0.5, 1.0]);
        // BODY_34: HEAD is keypoint 26, LEFT_HAND 8, RIGHT_FOOT 25.
        assert_eq!(b34.frame.joints_in_world[15], [26.0, 0.5, 1.0]);
        assert_eq!(b34.frame.joints_in_world[smpl_index("left_hand")], [8.0, 0.5, 1.0]);
        assert_eq!(b34.frame.joints_in_world[smpl_index("right_foot")], [25.0, 0.5, 1.0]);
        assert!(!b34.frame.valid[smpl_index("spine2")]);
        // BODY_38: the head needs both ears; the hand is between index and pinky knuckles.
        assert!(!b38.frame.valid[15]);
        assert_eq!(b38.frame.joints_in_world[smpl_index("left_hand")], [34.0, 0.5, 1.0]);
        assert_eq!(b38.frame.joints_in_world[smpl_index("right_foot")], [26.0, 0.5, 1.0]);
        assert_eq!(b38.frame.valid_count(), 23);
    }

    #[test]
    fn zed_objects_without_skeletons_are_skipped_and_bad_ones_rejected() {
        let z = ZedAdapter::new(None).unwrap();
        let mut off = zed_object(1, 5, 34);
        off.tracking_state = 0;
        let mut no_skeleton = zed_object(1, 6, 34);
        no_skeleton.skeleton_available = false;
        let msg = ObjectsStamped {
            header: Header::default(),
            objects: vec![
                off,
                no_skeleton,
                zed_object(7, 1, 34),
                zed_object(-1, 1, 34),
                zed_object(1, -3, 34),
            ],
        };
        let out = z.adapt(&msg).unwrap();
        assert!(out.people.is_empty());
        let errs: Vec<String> = out.rejected.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].contains("body_format 7") && errs[1].contains("body_format -1"),
            "{errs:?}"
        );
        assert!(errs[2].contains("label_id -3"), "{errs:?}");
    }

    #[test]
    fn input_adapter_decodes_and_adapts_each_type_and_rejects_the_wrong_one() {
        for t in InputType::ALL {
            assert_eq!(InputType::from_param_value(t.param_value()), Some(t));
            assert_eq!(InputType::from_ros_type_name(&t.ros_type_name()), Some(t));
        }
        assert_eq!(
            InputType::from_ros_type_name("zed_interfaces/msg/ObjectsStamped"),
            Some(InputType::ZedObjects)
        );
        assert_eq!(InputType::from_param_value("kinect"), None);

        let f = frame(42);
        let skel = crate::msg::encode(&skeleton_array(42, "w", &[(5, &f)]).unwrap()).unwrap();
        let poses = crate::msg::encode(&pose_array(24)).unwrap();
        let zed = crate::msg::encode(&ObjectsStamped {
            header: Header::default(),
            objects: vec![zed_object(1, 8, 34)],
        })
        .unwrap();

        let mut a = InputAdapter::new(InputType::Skeleton3DArray, &[], None).unwrap();
        assert_eq!(a.adapt_cdr(&skel).unwrap().people[0].id, 5);
        let e = a.adapt_cdr(&poses).unwrap_err().to_string();
        assert!(e.contains("a4mer_msgs/msg/Skeleton3DArray"), "{e}");
        let mut a = InputAdapter::new(InputType::PoseArray, &[], None).unwrap();
        assert_eq!(a.adapt_cdr(&poses).unwrap().people[0].frame.valid_count(), 24);
        assert!(a.adapt_cdr(&zed).is_err());
        let mut a = InputAdapter::new(InputType::ZedObjects, &[], None).unwrap();
        assert_eq!(a.adapt_cdr(&zed).unwrap().people[0].id, 8);
        assert!(a.adapt_cdr(&skel[..skel.len() / 2]).is_err());
    }
}
