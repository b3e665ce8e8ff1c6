//! Mirrors of the standard ROS 2 messages the node reads or writes (Humble/Jazzy definitions).

use serde::{Deserialize, Serialize};

macro_rules! ros_message {
    ($ty:ident, $pkg:literal, $name:literal) => {
        impl $crate::msg::RosMessage for $ty {
            const PACKAGE: &'static str = $pkg;
            const NAME: &'static str = $name;
        }
    };
}
pub(crate) use ros_message;

/// builtin_interfaces/Time: seconds and nanoseconds since the epoch (or of ROS time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}
ros_message!(Time, "builtin_interfaces", "Time");

impl Time {
    /// From nanoseconds; `None` outside what `int32 sec` can hold (before 1901, after 2038).
    pub fn from_ns(stamp_ns: i64) -> Option<Self> {
        let sec = i32::try_from(stamp_ns.div_euclid(1_000_000_000)).ok()?;
        Some(Self {
            sec,
            nanosec: stamp_ns.rem_euclid(1_000_000_000) as u32,
        })
    }

    /// Nanoseconds; a `nanosec` of 1e9 or more (invalid, but seen in the wild) still adds up.
    pub fn to_ns(self) -> i64 {
        self.sec as i64 * 1_000_000_000 + self.nanosec as i64
    }
}

/// rosgraph_msgs/Clock: simulated time on `/clock` (`use_sim_time`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub clock: Time,
}
ros_message!(Clock, "rosgraph_msgs", "Clock");

/// builtin_interfaces/Duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duration {
    pub sec: i32,
    pub nanosec: u32,
}
ros_message!(Duration, "builtin_interfaces", "Duration");

impl Duration {
    pub fn from_ns(ns: i64) -> Option<Self> {
        Time::from_ns(ns).map(|t| Self {
            sec: t.sec,
            nanosec: t.nanosec,
        })
    }

    pub fn to_ns(self) -> i64 {
        self.sec as i64 * 1_000_000_000 + self.nanosec as i64
    }
}

/// std_msgs/Header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub stamp: Time,
    pub frame_id: String,
}
ros_message!(Header, "std_msgs", "Header");

/// std_msgs/ColorRGBA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColorRGBA {
    pub r: f32,
    pub g: f32,
    pub b: f32,
    pub a: f32,
}
ros_message!(ColorRGBA, "std_msgs", "ColorRGBA");

/// geometry_msgs/Point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}
ros_message!(Point, "geometry_msgs", "Point");

/// geometry_msgs/Vector3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vector3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}
ros_message!(Vector3, "geometry_msgs", "Vector3");

/// geometry_msgs/Quaternion; the default is the identity, as in the `.msg` (`w 1`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quaternion {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub w: f64,
}
ros_message!(Quaternion, "geometry_msgs", "Quaternion");

impl Default for Quaternion {
    fn default() -> Self {
        Self {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

/// geometry_msgs/Transform: the pose of a child frame in its parent (`p_parent = R p_child + t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    pub translation: Vector3,
    pub rotation: Quaternion,
}
ros_message!(Transform, "geometry_msgs", "Transform");

/// geometry_msgs/TransformStamped: `header.frame_id` is the parent, `child_frame_id` the child.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformStamped {
    pub header: Header,
    pub child_frame_id: String,
    pub transform: Transform,
}
ros_message!(TransformStamped, "geometry_msgs", "TransformStamped");

/// tf2_msgs/TFMessage: what `/tf` and `/tf_static` carry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TFMessage {
    pub transforms: Vec<TransformStamped>,
}
ros_message!(TFMessage, "tf2_msgs", "TFMessage");

/// geometry_msgs/Pose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub position: Point,
    pub orientation: Quaternion,
}
ros_message!(Pose, "geometry_msgs", "Pose");

/// geometry_msgs/PoseArray.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoseArray {
    pub header: Header,
    pub poses: Vec<Pose>,
}
ros_message!(PoseArray, "geometry_msgs", "PoseArray");

/// sensor_msgs/CompressedImage (only as the `texture` field of a Marker).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompressedImage {
    pub header: Header,
    pub format: String,
    pub data: Vec<u8>,
}
ros_message!(CompressedImage, "sensor_msgs", "CompressedImage");

/// visualization_msgs/UVCoordinate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UVCoordinate {
    pub u: f32,
    pub v: f32,
}
ros_message!(UVCoordinate, "visualization_msgs", "UVCoordinate");

/// visualization_msgs/MeshFile.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshFile {
    pub filename: String,
    pub data: Vec<u8>,
}
ros_message!(MeshFile, "visualization_msgs", "MeshFile");

pub(crate) const MARKER_DEFINITION: &str = "\
int32 ARROW=0
int32 CUBE=1
int32 SPHERE=2
int32 CYLINDER=3
int32 LINE_STRIP=4
int32 LINE_LIST=5
int32 CUBE_LIST=6
int32 SPHERE_LIST=7
int32 POINTS=8
int32 TEXT_VIEW_FACING=9
int32 MESH_RESOURCE=10
int32 TRIANGLE_LIST=11
int32 ARROW_STRIP=12
int32 ADD=0
int32 MODIFY=0
int32 DELETE=2
int32 DELETEALL=3
std_msgs/Header header
string ns
int32 id
int32 type
int32 action
geometry_msgs/Pose pose
geometry_msgs/Vector3 scale
std_msgs/ColorRGBA color
builtin_interfaces/Duration lifetime
bool frame_locked
geometry_msgs/Point[] points
std_msgs/ColorRGBA[] colors
string texture_resource
sensor_msgs/CompressedImage texture
visualization_msgs/UVCoordinate[] uv_coordinates
string text
string mesh_resource
visualization_msgs/MeshFile mesh_file
bool mesh_use_embedded_materials
";

/// visualization_msgs/Marker (the Humble/Jazzy definition, with texture and mesh_file).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub header: Header,
    pub ns: String,
    pub id: i32,
    #[serde(rename = "type")]
    pub type_: i32,
    pub action: i32,
    pub pose: Pose,
    pub scale: Vector3,
    pub color: ColorRGBA,
    pub lifetime: Duration,
    pub frame_locked: bool,
    pub points: Vec<Point>,
    pub colors: Vec<ColorRGBA>,
    pub texture_resource: String,
    pub texture: CompressedImage,
    pub uv_coordinates: Vec<UVCoordinate>,
    pub text: String,
    pub mesh_resource: String,
    pub mesh_file: MeshFile,
    pub mesh_use_embedded_materials: bool,
}
ros_message!(Marker, "visualization_msgs", "Marker");

impl Marker {
    pub const ARROW: i32 = 0;
    pub const CUBE: i32 = 1;
    pub const SPHERE: i32 = 2;
    pub const CYLINDER: i32 = 3;
    pub const LINE_STRIP: i32 = 4;
    pub const LINE_LIST: i32 = 5;
    pub const CUBE_LIST: i32 = 6;
    pub const SPHERE_LIST: i32 = 7;
    pub const POINTS: i32 = 8;
    pub const TEXT_VIEW_FACING: i32 = 9;
    pub const ADD: i32 = 0;
    pub const DELETE: i32 = 2;
    pub const DELETEALL: i32 = 3;
}

/// visualization_msgs/MarkerArray.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MarkerArray {
    pub markers: Vec<Marker>,
}
ros_message!(MarkerArray, "visualization_msgs", "MarkerArray");

/// diagnostic_msgs/KeyValue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}
ros_message!(KeyValue, "diagnostic_msgs", "KeyValue");

pub(crate) const DIAGNOSTIC_STATUS_DEFINITION: &str = "\
byte OK=0
byte WARN=1
byte ERROR=2
byte STALE=3
byte level
string name
string message
string hardware_id
diagnostic_msgs/KeyValue[] values
";

/// diagnostic_msgs/DiagnosticStatus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticStatus {
    pub level: u8,
    pub name: String,
    pub message: String,
    pub hardware_id: String,
    pub values: Vec<KeyValue>,
}
ros_message!(DiagnosticStatus, "diagnostic_msgs", "DiagnosticStatus");

impl DiagnosticStatus {
    pub const OK: u8 = 0;
    pub const WARN: u8 = 1;
    pub const ERROR: u8 = 2;
    pub const STALE: u8 = 3;
}

/// diagnostic_msgs/DiagnosticArray.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticArray {
    pub header: Header,
    pub status: Vec<DiagnosticStatus>,
}
ros_message!(DiagnosticArray, "diagnostic_msgs", "DiagnosticArray");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips_nanoseconds_including_negative() {
        for ns in [0i64, 1, 999_999_999, 1_700_000_000_123_456_789, -1, -1_500_000_000] {
            let t = Time::from_ns(ns).unwrap();
            assert!(t.nanosec < 1_000_000_000);
            assert_eq!(t.to_ns(), ns);
        }
        assert_eq!(
            Time::from_ns(-1),
            Some(Time {
                sec: -1,
                nanosec: 999_999_999
            })
        );
        assert_eq!(Time::from_ns(i64::MAX), None, "past 2038 does not fit int32 seconds");
    }
}
