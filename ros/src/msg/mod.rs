//! ROS 2 message mirrors and their CDR wire format.
//!
//! Every struct keeps the field order of its `.msg` definition exactly: CDR has no field
//! names, so order is the whole contract. The interop tests check each type byte for byte
//! against the Python `rosbags` serializer.
//!
//! Type names follow ROS 2: `pkg/msg/Name` for rosbag2 and ros2msg schemas, and
//! `pkg::msg::dds_::Name_` on the DDS wire (what ros2-client builds from its
//! `MessageTypeName::new(pkg, Name)`).

use byteorder::{BigEndian, LittleEndian};
use serde::{Serialize, de::DeserializeOwned};

pub mod a4mer;
pub mod exact;
pub mod std_msgs;
pub mod zed;

pub use a4mer::{MotifAnticipation, PoseForecast, Skeleton3D, Skeleton3DArray};
pub use exact::Exact;
pub use std_msgs::{
    Clock, ColorRGBA, DiagnosticArray, DiagnosticStatus, Duration, Header, KeyValue, Marker, MarkerArray, Point, Pose,
    PoseArray, Quaternion, TFMessage, Time, Transform, TransformStamped, Vector3,
};
pub use zed::ObjectsStamped;

/// A message type with its ROS 2 identity and definition.
pub trait RosMessage: Serialize + DeserializeOwned {
    /// ROS package, e.g. `geometry_msgs`.
    const PACKAGE: &'static str;
    /// Type name inside the package, e.g. `PoseArray`.
    const NAME: &'static str;

    /// `pkg/msg/Name`, as in rosbag2 metadata and MCAP schemas.
    fn ros_type_name() -> String {
        format!("{}/msg/{}", Self::PACKAGE, Self::NAME)
    }

    /// `pkg::msg::dds_::Name_`, the DDS topic type name ROS 2 middlewares use.
    fn dds_type_name() -> String {
        format!("{}::msg::dds_::{}_", Self::PACKAGE, Self::NAME)
    }

    /// The ros2msg schema text: this type's definition followed by every type it uses.
    fn schema_text() -> String {
        // Every type we mirror is in the table, so a miss is a bug caught by the tests.
        schema_text(Self::PACKAGE, Self::NAME).unwrap_or_default()
    }
}

/// The CDR encapsulation header ROS 2 puts before every payload: CDR little-endian, no options.
pub const CDR_LE_HEADER: [u8; 4] = [0x00, 0x01, 0x00, 0x00];

#[derive(Debug, thiserror::Error)]
pub enum CdrError {
    #[error("{type_name}: payload of {len} bytes is shorter than the 4-byte CDR header")]
    TooShort { type_name: String, len: usize },
    #[error("{type_name}: unsupported CDR encapsulation {kind:#06x} (expected plain CDR, 0x0000 or 0x0001)")]
    Encapsulation { type_name: String, kind: u16 },
    #[error("{type_name}: cannot decode CDR payload: {cause}")]
    Decode {
        type_name: String,
        cause: cdr_encoding::Error,
    },
    #[error("{type_name}: {extra} bytes left over after the message (wrong type on this topic?)")]
    TrailingBytes { type_name: String, extra: usize },
    #[error("{type_name}: cannot encode: {cause}")]
    Encode {
        type_name: String,
        cause: cdr_encoding::Error,
    },
}

/// Serialize `msg` as a ROS 2 payload: `00 01 00 00` then little-endian CDR.
pub fn encode<M: RosMessage>(msg: &M) -> Result<Vec<u8>, CdrError> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&CDR_LE_HEADER);
    cdr_encoding::to_writer::<M, LittleEndian, _>(&mut out, msg).map_err(|source| CdrError::Encode {
        type_name: M::ros_type_name(),
        cause: source,
    })?;
    Ok(out)
}

/// Decode a ROS 2 payload (header + CDR, either byte order).
///
/// Up to 3 trailing bytes are accepted: writers may pad the payload to a multiple of 4.
/// More than that means the bytes are not this type.
pub fn decode<M: RosMessage>(payload: &[u8]) -> Result<M, CdrError> {
    let type_name = || M::ros_type_name();
    if payload.len() < 4 {
        return Err(CdrError::TooShort {
            type_name: type_name(),
            len: payload.len(),
        });
    }
    let kind = u16::from_be_bytes([payload[0], payload[1]]);
    let body = &payload[4..];
    let result = match kind {
        0x0001 => cdr_encoding::from_bytes::<M, LittleEndian>(body),
        0x0000 => cdr_encoding::from_bytes::<M, BigEndian>(body),
        _ => {
            return Err(CdrError::Encapsulation {
                type_name: type_name(),
                kind,
            });
        }
    };
    let (msg, used) = result.map_err(|source| CdrError::Decode {
        type_name: type_name(),
        cause: source,
    })?;
    let extra = body.len().saturating_sub(used);
    if extra > 3 {
        return Err(CdrError::TrailingBytes {
            type_name: type_name(),
            extra,
        });
    }
    Ok(msg)
}

/// `.msg` definitions of every type we mirror, keyed `pkg/Name`.
///
/// Comments are left out of the standard ones: readers need the fields, and the original
/// comments are in the ROS sources. Our own messages carry their full files.
const DEFINITIONS: &[(&str, &str)] = &[
    ("builtin_interfaces/Time", "int32 sec\nuint32 nanosec\n"),
    ("builtin_interfaces/Duration", "int32 sec\nuint32 nanosec\n"),
    ("std_msgs/Header", "builtin_interfaces/Time stamp\nstring frame_id\n"),
    ("rosgraph_msgs/Clock", "builtin_interfaces/Time clock\n"),
    ("std_msgs/ColorRGBA", "float32 r\nfloat32 g\nfloat32 b\nfloat32 a\n"),
    ("geometry_msgs/Point", "float64 x\nfloat64 y\nfloat64 z\n"),
    ("geometry_msgs/Vector3", "float64 x\nfloat64 y\nfloat64 z\n"),
    (
        "geometry_msgs/Quaternion",
        "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n",
    ),
    (
        "geometry_msgs/Pose",
        "geometry_msgs/Point position\ngeometry_msgs/Quaternion orientation\n",
    ),
    (
        "geometry_msgs/Transform",
        "geometry_msgs/Vector3 translation\ngeometry_msgs/Quaternion rotation\n",
    ),
    (
        "geometry_msgs/TransformStamped",
        "std_msgs/Header header\nstring child_frame_id\ngeometry_msgs/Transform transform\n",
    ),
    ("tf2_msgs/TFMessage", "geometry_msgs/TransformStamped[] transforms\n"),
    (
        "geometry_msgs/PoseArray",
        "std_msgs/Header header\ngeometry_msgs/Pose[] poses\n",
    ),
    (
        "sensor_msgs/CompressedImage",
        "std_msgs/Header header\nstring format\nuint8[] data\n",
    ),
    ("visualization_msgs/UVCoordinate", "float32 u\nfloat32 v\n"),
    ("visualization_msgs/MeshFile", "string filename\nuint8[] data\n"),
    ("visualization_msgs/Marker", std_msgs::MARKER_DEFINITION),
    (
        "visualization_msgs/MarkerArray",
        "visualization_msgs/Marker[] markers\n",
    ),
    ("diagnostic_msgs/KeyValue", "string key\nstring value\n"),
    (
        "diagnostic_msgs/DiagnosticStatus",
        std_msgs::DIAGNOSTIC_STATUS_DEFINITION,
    ),
    (
        "diagnostic_msgs/DiagnosticArray",
        "std_msgs/Header header\ndiagnostic_msgs/DiagnosticStatus[] status\n",
    ),
    ("a4mer_msgs/Skeleton3D", include_str!("../../msgs/msg/Skeleton3D.msg")),
    (
        "a4mer_msgs/Skeleton3DArray",
        include_str!("../../msgs/msg/Skeleton3DArray.msg"),
    ),
    (
        "a4mer_msgs/PoseForecast",
        include_str!("../../msgs/msg/PoseForecast.msg"),
    ),
    (
        "a4mer_msgs/MotifAnticipation",
        include_str!("../../msgs/msg/MotifAnticipation.msg"),
    ),
    ("zed_msgs/Keypoint2Di", "uint32[2] kp\n"),
    ("zed_msgs/Keypoint2Df", "float32[2] kp\n"),
    ("zed_msgs/Keypoint3D", "float32[3] kp\n"),
    ("zed_msgs/BoundingBox2Di", "zed_msgs/Keypoint2Di[4] corners\n"),
    ("zed_msgs/BoundingBox2Df", "zed_msgs/Keypoint2Df[4] corners\n"),
    ("zed_msgs/BoundingBox3D", "zed_msgs/Keypoint3D[8] corners\n"),
    ("zed_msgs/Skeleton2D", "zed_msgs/Keypoint2Df[70] keypoints\n"),
    ("zed_msgs/Skeleton3D", "zed_msgs/Keypoint3D[70] keypoints\n"),
    ("zed_msgs/Object", zed::OBJECT_DEFINITION),
    (
        "zed_msgs/ObjectsStamped",
        "std_msgs/Header header\nzed_msgs/Object[] objects\n",
    ),
];

/// The `.msg` text of `pkg/Name`, if it is one of ours.
pub fn definition(package: &str, name: &str) -> Option<&'static str> {
    DEFINITIONS
        .iter()
        .find(|(k, _)| k.split_once('/') == Some((package, name)))
        .map(|(_, d)| *d)
}

const PRIMITIVES: &[&str] = &[
    "bool", "byte", "char", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32",
    "float64", "string", "wstring",
];

/// The complex types a definition's fields use, as `pkg/Name`, in order of first use.
pub fn field_types(package: &str, definition: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in definition.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let (Some(ty), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        if name.contains('=') || line.contains('=') {
            continue; // a constant
        }
        let base = ty.split('[').next().unwrap_or(ty);
        let base = base.split("<=").next().unwrap_or(base);
        if PRIMITIVES.contains(&base) {
            continue;
        }
        let full = match base.split_once('/') {
            Some((pkg, n)) => format!("{pkg}/{}", n.trim_start_matches("msg/")),
            None if base == "Header" => "std_msgs/Header".to_string(),
            None => format!("{package}/{base}"),
        };
        if !out.contains(&full) {
            out.push(full);
        }
    }
    out
}

/// A ros2msg schema as rosbag2 writes it: the type's own definition, then each type it
/// depends on (transitively, each once) after a line of 80 `=` and `MSG: pkg/Name`.
pub fn schema_text(package: &str, name: &str) -> Option<String> {
    let root = definition(package, name)?;
    let mut text = root.trim_end().to_string();
    text.push('\n');
    let mut seen: Vec<String> = vec![format!("{package}/{name}")];
    let mut queue = field_types(package, root);
    while let Some(dep) = (!queue.is_empty()).then(|| queue.remove(0)) {
        if seen.contains(&dep) {
            continue;
        }
        let (pkg, n) = dep.split_once('/')?;
        let def = definition(pkg, n)?;
        text.push_str(&"=".repeat(80));
        text.push_str(&format!("\nMSG: {dep}\n"));
        text.push_str(def.trim_end());
        text.push('\n');
        queue.extend(field_types(pkg, def));
        seen.push(dep);
    }
    Some(text)
}

/// Fixed-size arrays longer than serde's built-in 32, e.g. `Keypoint3D[70]`.
pub(crate) use serde_big_array::BigArray;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_carries_every_dependency_once() {
        let text = MarkerArray::schema_text();
        for dep in [
            "visualization_msgs/Marker",
            "std_msgs/Header",
            "builtin_interfaces/Time",
            "builtin_interfaces/Duration",
            "geometry_msgs/Pose",
            "geometry_msgs/Point",
            "geometry_msgs/Quaternion",
            "geometry_msgs/Vector3",
            "std_msgs/ColorRGBA",
            "sensor_msgs/CompressedImage",
            "visualization_msgs/UVCoordinate",
            "visualization_msgs/MeshFile",
        ] {
            assert_eq!(text.matches(&format!("MSG: {dep}\n")).count(), 1, "{dep} in:\n{text}");
        }
        assert!(text.starts_with("visualization_msgs/Marker[] markers\n"));
        let separator = format!("{}\nMSG: ", "=".repeat(80));
        assert_eq!(text.matches(&separator).count(), 12);
    }

    #[test]
    fn every_mirrored_type_resolves_its_dependencies() {
        for (key, _) in DEFINITIONS {
            let (pkg, name) = key.split_once('/').unwrap();
            assert!(
                schema_text(pkg, name).is_some(),
                "{key}: a dependency has no definition"
            );
        }
        let zed = ObjectsStamped::schema_text();
        assert!(zed.contains("MSG: zed_msgs/Keypoint3D\n") && zed.contains("MSG: zed_msgs/Skeleton3D\n"));
        let ours = Skeleton3DArray::schema_text();
        assert!(ours.contains("MSG: a4mer_msgs/Skeleton3D\n") && ours.contains("MSG: geometry_msgs/Point\n"));
    }

    #[test]
    fn type_names_follow_ros2() {
        assert_eq!(Skeleton3DArray::ros_type_name(), "a4mer_msgs/msg/Skeleton3DArray");
        assert_eq!(
            Skeleton3DArray::dds_type_name(),
            "a4mer_msgs::msg::dds_::Skeleton3DArray_"
        );
        assert_eq!(DiagnosticArray::ros_type_name(), "diagnostic_msgs/msg/DiagnosticArray");
    }

    #[test]
    fn cdr_layout_matches_the_spec_by_hand() {
        // Header{stamp{1, 2}, "ab"} + poses[1]: alignment of the f64s is relative to the
        // body after the 4-byte encapsulation header.
        let msg = PoseArray {
            header: Header {
                stamp: Time { sec: 1, nanosec: 2 },
                frame_id: "ab".into(),
            },
            poses: vec![Pose::default()],
        };
        let bytes = encode(&msg).unwrap();
        let mut want = vec![0, 1, 0, 0];
        want.extend(1i32.to_le_bytes());
        want.extend(2u32.to_le_bytes());
        want.extend(3u32.to_le_bytes());
        want.extend(b"ab\0");
        want.push(0); // pad to 4
        want.extend(1u32.to_le_bytes()); // sequence length at body offset 16
        want.extend([0u8; 4]); // pad to 8 for the first f64
        want.extend([0u8; 8 * 6]);
        want.extend(1.0f64.to_le_bytes());
        assert_eq!(bytes, want);
        let back: PoseArray = decode(&bytes).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn decode_rejects_garbage_with_the_type_name() {
        let e = decode::<PoseArray>(&[0, 1]).unwrap_err();
        assert!(e.to_string().contains("geometry_msgs/msg/PoseArray"), "{e}");
        let e = decode::<PoseArray>(&[0, 9, 0, 0, 1, 2, 3]).unwrap_err();
        assert!(matches!(e, CdrError::Encapsulation { .. }), "{e}");
        // A sequence length far beyond the payload: an error, not an allocation.
        let mut bytes = encode(&PoseArray::default()).unwrap();
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode::<PoseArray>(&bytes), Err(CdrError::Decode { .. })));
        // A Point payload is not a PoseArray.
        let e = decode::<Header>(&encode(&MarkerArray::default()).unwrap());
        assert!(e.is_err());
        let long = encode(&Skeleton3DArray {
            bodies: vec![Skeleton3D::default(); 3],
            ..Default::default()
        })
        .unwrap();
        let e = decode::<Header>(&long).unwrap_err();
        assert!(
            matches!(e, CdrError::TrailingBytes { .. } | CdrError::Decode { .. }),
            "{e}"
        );
    }
}
