//! ZED `zed_msgs/ObjectsStamped` body tracking → people.

use a4mer_runtime::{JointMap, PoseFrame};

use super::zed_formats::{ZED_BODY_18, ZED_BODY_34, ZED_BODY_38, ZedFormat};
use super::{Adapted, AdapterError, MapFile, Person, stamp_ns};
use crate::msg::{ObjectsStamped, RosMessage};

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
                Some(m) => m.build(&f.skeleton()).map_err(|cause| AdapterError::MapFile {
                    origin: m.origin.clone(),
                    cause: Box::new(cause),
                }),
                None => f.builtin_map().map_err(|cause| AdapterError::MapFile {
                    origin: format!("built-in {}", f.name),
                    cause: Box::new(cause),
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
                Err(cause) => out.rejected.push(AdapterError::JointMap {
                    type_name: type_name(),
                    index,
                    id,
                    cause: Box::new(cause),
                }),
            }
        }
        Ok(out)
    }
}
