//! Mapping from a source skeleton (any rig) to the canonical SMPL-24 joints.
//!
//! A map is built either from name heuristics that know the common rig conventions
//! (Mixamo/Blender, CMU, 3ds Max Biped, MotionBuilder/HumanIK, `l_hip`/`hip.L` styles),
//! or from an explicit TOML file. A SMPL joint with no source stays invalid: positions
//! are never invented.

use std::path::Path;

use serde::Deserialize;

use crate::pose::{Joints, NUM_JOINTS};
use crate::skeleton::{SMPL24, Skeleton};

#[derive(Debug, thiserror::Error)]
pub enum JointMapError {
    #[error("joint map {origin}: cannot read: {cause}")]
    Io { origin: String, cause: std::io::Error },
    #[error("joint map {origin}: not valid TOML: {message}")]
    Toml { origin: String, message: String },
    #[error("joint map {origin}: [joints].{target} is not a SMPL-24 joint (expected one of: {})", SMPL24.join(", "))]
    UnknownTarget { origin: String, target: String },
    #[error(
        "joint map {origin}: [joints].{target} = {source_name:?}, but skeleton `{skeleton}` has no joint of that name"
    )]
    UnknownSource {
        origin: String,
        target: String,
        source_name: String,
        skeleton: String,
    },
    #[error("joint map: source frame has {found} joints, skeleton `{skeleton}` has {expected}")]
    WrongJointCount {
        skeleton: String,
        expected: usize,
        found: usize,
    },
}

/// How a SMPL joint got its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappedBy {
    Explicit,
    Heuristic,
    Unmapped,
}

/// A map from source joint indices to SMPL-24.
#[derive(Clone, Debug, PartialEq)]
pub struct JointMap {
    skeleton_name: String,
    source_names: Vec<String>,
    source_of: [Option<usize>; NUM_JOINTS],
    mapped_by: [MappedBy; NUM_JOINTS],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    /// Fill joints the file leaves out with the name heuristics.
    #[serde(default)]
    fill_with_heuristics: bool,
    joints: std::collections::BTreeMap<String, String>,
}

impl JointMap {
    /// Map by joint names, using the conventions of common rigs.
    pub fn from_heuristics(skeleton: &Skeleton) -> Self {
        let source_of = heuristic_sources(skeleton);
        let mapped_by = source_of.map(|s| {
            if s.is_some() {
                MappedBy::Heuristic
            } else {
                MappedBy::Unmapped
            }
        });
        Self {
            skeleton_name: skeleton.name.clone(),
            source_names: skeleton.joint_names.clone(),
            source_of,
            mapped_by,
        }
    }

    /// The identity map for sources already in SMPL-24 order.
    pub fn identity() -> Self {
        Self {
            skeleton_name: "smpl24".into(),
            source_names: SMPL24.iter().map(|s| s.to_string()).collect(),
            source_of: std::array::from_fn(Some),
            mapped_by: [MappedBy::Explicit; NUM_JOINTS],
        }
    }

    /// Read an explicit map file:
    ///
    /// ```toml
    /// fill_with_heuristics = false   # optional
    /// [joints]
    /// pelvis = "Hips"
    /// left_hip = "LeftUpLeg"
    /// left_hand = ""                 # no source: stays invalid
    /// ```
    pub fn from_toml_file(path: &Path, skeleton: &Skeleton) -> Result<Self, JointMapError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| JointMapError::Io {
            origin: origin.clone(),
            cause,
        })?;
        Self::from_toml_str(&text, &origin, skeleton)
    }

    /// As [`JointMap::from_toml_file`]; `origin` names the text in errors.
    pub fn from_toml_str(text: &str, origin: &str, skeleton: &Skeleton) -> Result<Self, JointMapError> {
        let file: MapFile = toml::from_str(text).map_err(|e| JointMapError::Toml {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let mut map = if file.fill_with_heuristics {
            Self::from_heuristics(skeleton)
        } else {
            Self {
                skeleton_name: skeleton.name.clone(),
                source_names: skeleton.joint_names.clone(),
                source_of: [None; NUM_JOINTS],
                mapped_by: [MappedBy::Unmapped; NUM_JOINTS],
            }
        };
        for (target, source_name) in &file.joints {
            let t = SMPL24
                .iter()
                .position(|n| n == target)
                .ok_or_else(|| JointMapError::UnknownTarget {
                    origin: origin.to_string(),
                    target: target.clone(),
                })?;
            if source_name.is_empty() {
                map.source_of[t] = None;
                map.mapped_by[t] = MappedBy::Unmapped;
                continue;
            }
            let s = skeleton
                .index_of(source_name)
                .ok_or_else(|| JointMapError::UnknownSource {
                    origin: origin.to_string(),
                    target: target.clone(),
                    source_name: source_name.clone(),
                    skeleton: skeleton.name.clone(),
                })?;
            map.source_of[t] = Some(s);
            map.mapped_by[t] = MappedBy::Explicit;
        }
        Ok(map)
    }

    /// Source joint index of SMPL joint `j`.
    pub fn source_of(&self, j: usize) -> Option<usize> {
        self.source_of[j]
    }

    pub fn source_name(&self, j: usize) -> Option<&str> {
        self.source_of[j].map(|s| self.source_names[s].as_str())
    }

    pub fn mapped_by(&self, j: usize) -> MappedBy {
        self.mapped_by[j]
    }

    /// Number of SMPL joints with a source.
    pub fn mapped_count(&self) -> usize {
        self.source_of.iter().filter(|s| s.is_some()).count()
    }

    /// Pick the SMPL-24 joints out of one source frame. A joint is valid only if it
    /// has a source, the source is valid, and its position is finite.
    pub fn apply(
        &self,
        source_positions: &[[f32; 3]],
        source_valid: &[bool],
    ) -> Result<(Joints, [bool; NUM_JOINTS]), JointMapError> {
        if source_positions.len() != self.source_names.len() || source_valid.len() != source_positions.len() {
            return Err(JointMapError::WrongJointCount {
                skeleton: self.skeleton_name.clone(),
                expected: self.source_names.len(),
                found: source_positions.len().min(source_valid.len()),
            });
        }
        let mut joints = [[0.0f32; 3]; NUM_JOINTS];
        let mut valid = [false; NUM_JOINTS];
        for j in 0..NUM_JOINTS {
            if let Some(s) = self.source_of[j] {
                let p = source_positions[s];
                if source_valid[s] && p.iter().all(|c| c.is_finite()) {
                    joints[j] = p;
                    valid[j] = true;
                }
            }
        }
        Ok((joints, valid))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Left,
    Right,
    Center,
}

/// A source joint name reduced to its side and a lower-case base without separators,
/// e.g. `mixamorig:LeftUpLeg` → (Left, "upleg"), `Bip01 R Calf` → (Right, "calf"),
/// `hip.L` → (Left, "hip").
fn parse_name(name: &str) -> (Side, String) {
    let name = name.rsplit([':', '|']).next().unwrap_or(name);
    let mut tokens: Vec<String> = Vec::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        tokens.extend(split_camel(part));
    }
    let mut side = Side::Center;
    let mut base = String::new();
    for t in &tokens {
        match t.as_str() {
            "left" | "l" | "lft" => side = Side::Left,
            "right" | "r" | "rt" | "rgt" => side = Side::Right,
            "bip01" | "bip001" | "mixamorig" | "joint" | "jnt" | "bone" | "def" | "bn" => {}
            _ => base.push_str(t),
        }
    }
    // All-lower-case names like `lhip` or `rightknee` carry their side glued on.
    if side == Side::Center {
        for (prefix, s) in [
            ("left", Side::Left),
            ("right", Side::Right),
            ("l", Side::Left),
            ("r", Side::Right),
        ] {
            if let Some(rest) = base.strip_prefix(prefix)
                && KNOWN_SIDED_BASES.contains(&rest)
            {
                return (s, rest.to_string());
            }
        }
    }
    (side, base)
}

/// Splits `LeftUpLeg` → left, up, leg and `LHipJoint` → l, hip, joint; digits stay
/// with the word before them (`Spine1`, `Toe0`).
fn split_camel(part: &str) -> Vec<String> {
    let chars: Vec<char> = part.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = i > 0
            && c.is_ascii_uppercase()
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || (chars[i - 1].is_ascii_uppercase() && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())));
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

const KNOWN_SIDED_BASES: &[&str] = &[
    "hip", "upleg", "upperleg", "thigh", "knee", "leg", "lowerleg", "shin", "calf", "ankle", "foot", "toe", "toes",
    "toebase", "collar", "clavicle", "shoulder", "arm", "upperarm", "elbow", "forearm", "lowerarm", "wrist", "hand",
];

fn heuristic_sources(skeleton: &Skeleton) -> [Option<usize>; NUM_JOINTS] {
    let parsed: Vec<(Side, String)> = skeleton.joint_names.iter().map(|n| parse_name(n)).collect();
    let find = |side: Side, bases: &[&str]| -> Option<usize> {
        bases
            .iter()
            .find_map(|b| parsed.iter().position(|(s, base)| *s == side && base == b))
    };
    let has = |side: Side, bases: &[&str]| find(side, bases).is_some();

    let mut out = [None; NUM_JOINTS];
    let idx = |name: &str| SMPL24.iter().position(|n| *n == name).unwrap_or(0);

    for (side, prefix) in [(Side::Left, "left_"), (Side::Right, "right_")] {
        let hip = find(side, &["upleg", "upperleg", "thigh", "hip", "femur"]);
        let knee = find(side, &["knee", "lowerleg", "shin", "calf", "tibia", "leg"]);
        // With a separate ankle joint, `foot` is the SMPL foot; otherwise `foot` is the ankle.
        let has_ankle = has(side, &["ankle"]);
        let ankle = find(side, if has_ankle { &["ankle"] } else { &["foot"] });
        let foot = if has_ankle {
            find(side, &["foot", "toebase", "toe", "toes", "toe0", "ball"])
        } else {
            find(side, &["toebase", "toe", "toes", "toe0", "ball"])
        };
        // `Shoulder` is the collar when the rig also has an upper-arm joint (Mixamo, CMU);
        // it is the shoulder when the rig names its collar `Collar`/`Clavicle`.
        let has_upper_arm = has(side, &["upperarm", "arm", "humerus"]);
        let has_collar = has(side, &["collar", "clavicle", "scapula"]);
        let collar = if has_collar {
            find(side, &["collar", "clavicle", "scapula"])
        } else if has_upper_arm {
            find(side, &["shoulder"])
        } else {
            None
        };
        let shoulder = if has_upper_arm {
            find(side, &["upperarm", "arm", "humerus"])
        } else {
            find(side, &["shoulder"])
        };
        let elbow = find(side, &["elbow", "forearm", "lowerarm"]);
        let has_wrist = has(side, &["wrist"]);
        let wrist = find(side, if has_wrist { &["wrist"] } else { &["hand"] });
        let hand = if has_wrist {
            find(side, &["hand", "handmiddle1", "middle1", "fingerbase"])
        } else {
            find(side, &["handmiddle1", "middle1", "fingerbase"])
        };
        for (role, src) in [
            ("hip", hip),
            ("knee", knee),
            ("ankle", ankle),
            ("foot", foot),
            ("collar", collar),
            ("shoulder", shoulder),
            ("elbow", elbow),
            ("wrist", wrist),
            ("hand", hand),
        ] {
            out[idx(&format!("{prefix}{role}"))] = src;
        }
    }

    let pelvis = find(Side::Center, &["hips", "pelvis", "hip"]);
    let head = find(Side::Center, &["head", "skull"]);
    let neck = parsed
        .iter()
        .position(|(s, b)| *s == Side::Center && b.starts_with("neck"));
    out[idx("pelvis")] = pelvis;
    out[idx("head")] = head;
    out[idx("neck")] = neck;

    // Spine: the joints strictly between pelvis and neck (or head) on the kinematic path.
    if let (Some(p), Some(top)) = (pelvis, neck.or(head)) {
        let mut chain = Vec::new();
        let mut j = skeleton.parents.get(top).copied().flatten();
        while let Some(k) = j {
            if k == p {
                break;
            }
            chain.push(k);
            j = skeleton.parents.get(k).copied().flatten();
        }
        if j == Some(p) {
            chain.reverse();
            let (s1, s2, s3) = match chain.len() {
                0 => (None, None, None),
                1 => (None, Some(chain[0]), None),
                2 => (Some(chain[0]), None, Some(chain[1])),
                n => (Some(chain[0]), Some(chain[n / 2]), Some(chain[n - 1])),
            };
            out[idx("spine1")] = s1;
            out[idx("spine2")] = s2;
            out[idx("spine3")] = s3;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skel(names: &[(&str, Option<usize>)]) -> Skeleton {
        Skeleton {
            name: "test".into(),
            joint_names: names.iter().map(|(n, _)| n.to_string()).collect(),
            parents: names.iter().map(|(_, p)| *p).collect(),
        }
    }

    fn mapping(map: &JointMap) -> Vec<(&'static str, Option<String>)> {
        (0..NUM_JOINTS)
            .map(|j| (SMPL24[j], map.source_name(j).map(str::to_string)))
            .collect()
    }

    fn get(map: &JointMap, smpl: &str) -> Option<String> {
        let j = SMPL24.iter().position(|n| *n == smpl).unwrap();
        map.source_name(j).map(str::to_string)
    }

    #[test]
    fn parses_common_naming_styles() {
        assert_eq!(parse_name("mixamorig:LeftUpLeg"), (Side::Left, "upleg".into()));
        assert_eq!(parse_name("LHipJoint"), (Side::Left, "hip".into()));
        assert_eq!(parse_name("Bip01 R Calf"), (Side::Right, "calf".into()));
        assert_eq!(parse_name("hip.L"), (Side::Left, "hip".into()));
        assert_eq!(parse_name("r_elbow"), (Side::Right, "elbow".into()));
        assert_eq!(parse_name("rightknee"), (Side::Right, "knee".into()));
        assert_eq!(parse_name("Spine1"), (Side::Center, "spine1".into()));
        assert_eq!(parse_name("LeftHandMiddle1"), (Side::Left, "handmiddle1".into()));
    }

    /// The rig of the bundled recordings (and of Mixamo exports).
    #[test]
    fn mixamo_style_rig() {
        let s = skel(&[
            ("Hips", None),
            ("LeftUpLeg", Some(0)),
            ("LeftLeg", Some(1)),
            ("LeftFoot", Some(2)),
            ("LeftToe", Some(3)),
            ("RightUpLeg", Some(0)),
            ("RightLeg", Some(5)),
            ("RightFoot", Some(6)),
            ("RightToe", Some(7)),
            ("Spine", Some(0)),
            ("Spine1", Some(9)),
            ("Spine2", Some(10)),
            ("Neck", Some(11)),
            ("Head", Some(12)),
            ("LeftShoulder", Some(11)),
            ("LeftArm", Some(14)),
            ("LeftForeArm", Some(15)),
            ("LeftHand", Some(16)),
            ("RightShoulder", Some(11)),
            ("RightArm", Some(18)),
            ("RightForeArm", Some(19)),
            ("RightHand", Some(20)),
        ]);
        let m = JointMap::from_heuristics(&s);
        let want = [
            ("pelvis", "Hips"),
            ("left_hip", "LeftUpLeg"),
            ("left_knee", "LeftLeg"),
            ("left_ankle", "LeftFoot"),
            ("left_foot", "LeftToe"),
            ("spine1", "Spine"),
            ("spine2", "Spine1"),
            ("spine3", "Spine2"),
            ("neck", "Neck"),
            ("head", "Head"),
            ("left_collar", "LeftShoulder"),
            ("left_shoulder", "LeftArm"),
            ("left_elbow", "LeftForeArm"),
            ("left_wrist", "LeftHand"),
            ("right_wrist", "RightHand"),
        ];
        for (smpl, src) in want {
            assert_eq!(get(&m, smpl).as_deref(), Some(src), "{smpl}: {:?}", mapping(&m));
        }
        assert_eq!(get(&m, "left_hand"), None, "no finger joint: hand must stay unmapped");
        assert_eq!(m.mapped_count(), 22);
    }

    /// Rigs that name the clavicle `Collar` use `Shoulder` for the upper arm.
    #[test]
    fn collar_shoulder_elbow_wrist_rig() {
        let s = skel(&[
            ("Hips", None),
            ("Chest", Some(0)),
            ("Neck", Some(1)),
            ("Head", Some(2)),
            ("LeftCollar", Some(1)),
            ("LeftShoulder", Some(4)),
            ("LeftElbow", Some(5)),
            ("LeftWrist", Some(6)),
            ("LeftHip", Some(0)),
            ("LeftKnee", Some(8)),
            ("LeftAnkle", Some(9)),
        ]);
        let m = JointMap::from_heuristics(&s);
        assert_eq!(get(&m, "left_collar").as_deref(), Some("LeftCollar"));
        assert_eq!(get(&m, "left_shoulder").as_deref(), Some("LeftShoulder"));
        assert_eq!(get(&m, "left_wrist").as_deref(), Some("LeftWrist"));
        assert_eq!(get(&m, "left_hip").as_deref(), Some("LeftHip"));
        assert_eq!(get(&m, "left_ankle").as_deref(), Some("LeftAnkle"));
        assert_eq!(get(&m, "spine2").as_deref(), Some("Chest"));
        assert_eq!(get(&m, "spine1"), None);
        assert_eq!(get(&m, "right_hip"), None, "absent side stays unmapped");
    }

    /// CMU: `LHipJoint` sits at the pelvis; the hip proper is `LeftUpLeg`.
    #[test]
    fn cmu_rig_prefers_upleg_over_hipjoint() {
        let s = skel(&[
            ("Hips", None),
            ("LHipJoint", Some(0)),
            ("LeftUpLeg", Some(1)),
            ("LeftLeg", Some(2)),
            ("LeftFoot", Some(3)),
            ("LeftToeBase", Some(4)),
            ("LowerBack", Some(0)),
            ("Spine", Some(6)),
            ("Spine1", Some(7)),
            ("Neck", Some(8)),
            ("Neck1", Some(9)),
            ("Head", Some(10)),
        ]);
        let m = JointMap::from_heuristics(&s);
        assert_eq!(get(&m, "left_hip").as_deref(), Some("LeftUpLeg"));
        assert_eq!(get(&m, "left_foot").as_deref(), Some("LeftToeBase"));
        assert_eq!(get(&m, "neck").as_deref(), Some("Neck"));
        assert_eq!(get(&m, "spine1").as_deref(), Some("LowerBack"));
        assert_eq!(get(&m, "spine3").as_deref(), Some("Spine1"));
    }

    #[test]
    fn explicit_map_overrides_and_names_bad_entries() {
        let s = skel(&[("Root", None), ("Thing", Some(0))]);
        let m = JointMap::from_toml_str("[joints]\npelvis = \"Root\"\nhead = \"Thing\"\n", "m.toml", &s).unwrap();
        assert_eq!(get(&m, "pelvis").as_deref(), Some("Root"));
        assert_eq!(m.mapped_by(15), MappedBy::Explicit);
        assert_eq!(m.mapped_count(), 2);

        let e = JointMap::from_toml_str("[joints]\npelvis = \"Nope\"\n", "m.toml", &s).unwrap_err();
        assert!(matches!(e, JointMapError::UnknownSource { .. }));
        assert!(
            e.to_string().contains("m.toml") && e.to_string().contains("Nope"),
            "{e}"
        );
        let e = JointMap::from_toml_str("[joints]\ntorso = \"Root\"\n", "m.toml", &s).unwrap_err();
        assert!(matches!(e, JointMapError::UnknownTarget { .. }), "{e}");
        let e = JointMap::from_toml_str("[joints\n", "m.toml", &s).unwrap_err();
        assert!(matches!(e, JointMapError::Toml { .. }), "{e}");
    }

    #[test]
    fn apply_marks_unmapped_invalid_and_nan_invalid() {
        let s = skel(&[("Hips", None), ("Head", Some(0))]);
        let m = JointMap::from_heuristics(&s);
        let (joints, valid) = m
            .apply(&[[1.0, 2.0, 3.0], [f32::NAN, 0.0, 0.0]], &[true, true])
            .unwrap();
        assert!(valid[0] && !valid[15]);
        assert_eq!(joints[0], [1.0, 2.0, 3.0]);
        assert_eq!(valid.iter().filter(|v| **v).count(), 1);
        assert!(matches!(
            m.apply(&[[0.0; 3]], &[true]),
            Err(JointMapError::WrongJointCount {
                expected: 2,
                found: 1,
                ..
            })
        ));
    }
}
