//! Mirrors of the Stereolabs ZED wrapper's `zed_msgs` (formerly `zed_interfaces`) object and
//! body-tracking messages, in the field order of the wrapper's `.msg` files.
//!
//! Only `skeleton_3d` and `body_format` matter to us, but CDR has no field names: every
//! field before them must be decoded to find them.

use serde::{Deserialize, Serialize};

use super::BigArray;
use super::std_msgs::{Header, ros_message};

/// zed_msgs/Keypoint2Di.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Keypoint2Di {
    pub kp: [u32; 2],
}
ros_message!(Keypoint2Di, "zed_msgs", "Keypoint2Di");

/// zed_msgs/Keypoint2Df.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Keypoint2Df {
    pub kp: [f32; 2],
}
ros_message!(Keypoint2Df, "zed_msgs", "Keypoint2Df");

/// zed_msgs/Keypoint3D: metres, in the header's frame; NaN when the joint was not seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Keypoint3D {
    pub kp: [f32; 3],
}
ros_message!(Keypoint3D, "zed_msgs", "Keypoint3D");

/// zed_msgs/BoundingBox2Di.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox2Di {
    pub corners: [Keypoint2Di; 4],
}
ros_message!(BoundingBox2Di, "zed_msgs", "BoundingBox2Di");

/// zed_msgs/BoundingBox2Df.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox2Df {
    pub corners: [Keypoint2Df; 4],
}
ros_message!(BoundingBox2Df, "zed_msgs", "BoundingBox2Df");

/// zed_msgs/BoundingBox3D.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox3D {
    pub corners: [Keypoint3D; 8],
}
ros_message!(BoundingBox3D, "zed_msgs", "BoundingBox3D");

/// zed_msgs/Skeleton2D: 70 slots; the body format says how many are used.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skeleton2D {
    #[serde(with = "BigArray")]
    pub keypoints: [Keypoint2Df; 70],
}
ros_message!(Skeleton2D, "zed_msgs", "Skeleton2D");

impl Default for Skeleton2D {
    fn default() -> Self {
        Self {
            keypoints: [Keypoint2Df::default(); 70],
        }
    }
}

/// zed_msgs/Skeleton3D: 70 slots; the first 18, 34 or 38 hold the body format's keypoints.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skeleton3D {
    #[serde(with = "BigArray")]
    pub keypoints: [Keypoint3D; 70],
}
ros_message!(Skeleton3D, "zed_msgs", "Skeleton3D");

impl Default for Skeleton3D {
    fn default() -> Self {
        Self {
            keypoints: [Keypoint3D::default(); 70],
        }
    }
}

pub(crate) const OBJECT_DEFINITION: &str = "\
string label
int16 label_id
string sublabel
float32 confidence
float32[3] position
float32[6] position_covariance
float32[3] velocity
bool tracking_available
int8 tracking_state
int8 action_state
zed_msgs/BoundingBox2Di bounding_box_2d
zed_msgs/BoundingBox3D bounding_box_3d
float32[3] dimensions_3d
bool skeleton_available
int8 body_format
zed_msgs/BoundingBox2Df head_bounding_box_2d
zed_msgs/BoundingBox3D head_bounding_box_3d
float32[3] head_position
zed_msgs/Skeleton2D skeleton_2d
zed_msgs/Skeleton3D skeleton_3d
";

/// zed_msgs/Object: one detected object or body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub label: String,
    /// The wrapper uses this as the tracking id.
    pub label_id: i16,
    pub sublabel: String,
    pub confidence: f32,
    pub position: [f32; 3],
    pub position_covariance: [f32; 6],
    pub velocity: [f32; 3],
    pub tracking_available: bool,
    /// 0 OFF, 1 OK, 2 SEARCHING, 3 TERMINATE.
    pub tracking_state: i8,
    pub action_state: i8,
    pub bounding_box_2d: BoundingBox2Di,
    pub bounding_box_3d: BoundingBox3D,
    pub dimensions_3d: [f32; 3],
    pub skeleton_available: bool,
    /// 0 BODY_18, 1 BODY_34, 2 BODY_38.
    pub body_format: i8,
    pub head_bounding_box_2d: BoundingBox2Df,
    pub head_bounding_box_3d: BoundingBox3D,
    pub head_position: [f32; 3],
    pub skeleton_2d: Skeleton2D,
    pub skeleton_3d: Skeleton3D,
}
ros_message!(Object, "zed_msgs", "Object");

/// zed_msgs/ObjectsStamped: everything detected in one camera frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectsStamped {
    pub header: Header,
    pub objects: Vec<Object>,
}
ros_message!(ObjectsStamped, "zed_msgs", "ObjectsStamped");
