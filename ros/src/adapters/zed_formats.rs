//! The ZED SDK's body formats (BODY_18, BODY_34, BODY_38): keypoint order, derived
//! midpoints and the built-in SMPL-24 maps.

use a4mer_runtime::{JointMap, JointMapError, Skeleton};

use super::flat_skeleton;
use crate::msg::zed::Object;

/// A ZED body format: its keypoints in SDK order, joints we derive as the midpoint of two
/// keypoints (where the format has no keypoint at a SMPL joint), and the SMPL-24 map.
pub(super) struct ZedFormat {
    pub(super) name: &'static str,
    keypoints: &'static [&'static str],
    midpoints: &'static [(&'static str, &'static str, &'static str)],
    map: &'static [(&'static str, &'static str)],
}

pub(super) const ZED_BODY_18: ZedFormat = ZedFormat {
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

pub(super) const ZED_BODY_34: ZedFormat = ZedFormat {
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

pub(super) const ZED_BODY_38: ZedFormat = ZedFormat {
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
    pub(super) fn skeleton(&self) -> Skeleton {
        let names: Vec<String> = self
            .keypoints
            .iter()
            .chain(self.midpoints.iter().map(|(n, _, _)| n))
            .map(|s| s.to_string())
            .collect();
        flat_skeleton(self.name, &names)
    }

    pub(super) fn builtin_map(&self) -> Result<JointMap, JointMapError> {
        let mut toml = String::from("[joints]\n");
        for (smpl, src) in self.map {
            toml.push_str(&format!("{smpl} = \"{src}\"\n"));
        }
        JointMap::from_toml_str(&toml, &format!("built-in {} map", self.name), &self.skeleton())
    }

    /// Keypoint positions followed by the midpoints (NaN unless both ends are finite).
    pub(super) fn positions(&self, object: &Object) -> Vec<[f32; 3]> {
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
