//! The reverse direction: canonical frames → the reference input message, for bags,
//! the demo publisher and tests.

use a4mer_runtime::{NUM_JOINTS, PoseFrame, SMPL24};

use crate::msg::{Header, Point, Skeleton3D, Skeleton3DArray, Time};

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
