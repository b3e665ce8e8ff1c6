//! `a4mer_msgs/Skeleton3DArray`, the reference input: several named bodies per message.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use a4mer_runtime::{JointMap, PoseFrame, SMPL24};

use super::{Adapted, AdapterError, MapFile, Person, flat_skeleton, map_by_names, stamp_ns, to_f32};
use crate::msg::{RosMessage, Skeleton3D, Skeleton3DArray};

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
            match self.adapt_body(stamp_ns, index, body, true) {
                Ok(p) => out.people.push(p),
                Err(e) => {
                    // Confidences that do not line up with the joints say nothing usable about
                    // them, but the joints themselves still place the person for the MCU.
                    if matches!(
                        e,
                        AdapterError::Lengths {
                            field: "confidences",
                            ..
                        }
                    ) && let Ok(p) = self.adapt_body(stamp_ns, index, body, false)
                    {
                        out.observed_only.push(p);
                    }
                    out.rejected.push(e);
                }
            }
        }
        Ok(out)
    }

    /// `use_confidences: false` takes every finite joint as observed.
    fn adapt_body(
        &mut self,
        stamp_ns: i64,
        index: usize,
        body: &Skeleton3D,
        use_confidences: bool,
    ) -> Result<Person, AdapterError> {
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
        if use_confidences && !body.confidences.is_empty() && body.confidences.len() != n {
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
                .map_err(|cause| AdapterError::JointMap {
                    type_name: type_name(),
                    index,
                    id,
                    cause: Box::new(cause),
                })?;
                e.insert(map)
            }
        };
        let positions: Vec<[f32; 3]> = body.joints.iter().map(to_f32).collect();
        let valid: Vec<bool> = if body.confidences.is_empty() || !use_confidences {
            vec![true; n]
        } else {
            body.confidences
                .iter()
                .map(|c| c.is_finite() && *c > self.min_confidence)
                .collect()
        };
        let (joints, valid) = map.apply(&positions, &valid).map_err(|cause| AdapterError::JointMap {
            type_name: type_name(),
            index,
            id,
            cause: Box::new(cause),
        })?;
        Ok(Person {
            id: body.id,
            frame: PoseFrame::new(stamp_ns, joints, valid),
        })
    }
}
