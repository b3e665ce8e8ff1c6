//! `geometry_msgs/PoseArray`: one person, joints in a configured order.

use a4mer_runtime::{JointMap, PoseFrame, SMPL24};

use super::{AdapterError, MapFile, Person, flat_skeleton, map_by_names, stamp_ns, to_f32};
use crate::msg::{PoseArray, RosMessage};

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
            Some(f) => f.build(&skeleton).map_err(|cause| AdapterError::MapFile {
                origin: f.origin.clone(),
                cause: Box::new(cause),
            })?,
            None if joint_order.iter().map(String::as_str).eq(SMPL24) => JointMap::identity(),
            None => map_by_names(&skeleton).map_err(|cause| AdapterError::MapFile {
                origin: "input.joint_order".into(),
                cause: Box::new(cause),
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
            .map_err(|cause| AdapterError::JointMap {
                type_name: PoseArray::ros_type_name(),
                index: 0,
                id: 0,
                cause: Box::new(cause),
            })?;
        Ok(Person {
            id: 0,
            frame: PoseFrame::new(stamp_ns, joints, valid),
        })
    }
}
