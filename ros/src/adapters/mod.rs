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

mod input;
mod pose_array;
mod reverse;
mod skeleton_array;
mod zed;
mod zed_formats;

pub use input::{InputAdapter, InputError, InputMessage, InputType};
pub use pose_array::PoseArrayAdapter;
pub use reverse::{skeleton_array, skeleton_from_frame};
pub use skeleton_array::SkeletonArrayAdapter;
pub use zed::ZedAdapter;

use a4mer_runtime::{JointMap, JointMapError, PoseFrame, SMPL24, Skeleton};

use crate::msg::{Header, Point, RosMessage};

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
    #[error("{type_name}: body {index} (id {id}): {cause}")]
    JointMap {
        type_name: String,
        index: usize,
        id: i64,
        cause: Box<JointMapError>,
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
    #[error("input.joint_map {origin}: {cause}")]
    MapFile { origin: String, cause: Box<JointMapError> },
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
    /// Rejected bodies (each also in `rejected`) whose joints can still be placed: not fit
    /// for the engine, but the safety link must see them.
    pub observed_only: Vec<Person>,
}

pub(super) fn stamp_ns<M: RosMessage>(header: &Header) -> Result<i64, AdapterError> {
    if header.stamp.nanosec >= 1_000_000_000 {
        return Err(AdapterError::BadStamp {
            type_name: M::ros_type_name(),
            nanosec: header.stamp.nanosec,
        });
    }
    Ok(header.stamp.to_ns())
}

pub(super) fn to_f32(p: &Point) -> [f32; 3] {
    [p.x as f32, p.y as f32, p.z as f32]
}

/// A map for joints named by the source: exact SMPL-24 names map to themselves, the
/// rest by the rig-name heuristics.
pub(super) fn map_by_names(skeleton: &Skeleton) -> Result<JointMap, JointMapError> {
    let mut toml = String::from("fill_with_heuristics = true\n[joints]\n");
    for name in SMPL24 {
        if skeleton.joint_names.iter().any(|n| n == name) {
            toml.push_str(&format!("{name} = \"{name}\"\n"));
        }
    }
    JointMap::from_toml_str(&toml, "joint names", skeleton)
}

pub(super) fn flat_skeleton(name: &str, joint_names: &[String]) -> Skeleton {
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
        let text = std::fs::read_to_string(path).map_err(|cause| AdapterError::MapFile {
            origin: origin.clone(),
            cause: Box::new(JointMapError::Io {
                origin: origin.clone(),
                cause,
            }),
        })?;
        Ok(Self { origin, text })
    }

    pub(super) fn build(&self, skeleton: &Skeleton) -> Result<JointMap, JointMapError> {
        JointMap::from_toml_str(&self.text, &self.origin, skeleton)
    }
}

#[cfg(test)]
mod tests;
