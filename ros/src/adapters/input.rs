//! The configured input: message type names (`input.type`, bag topic types), one decoded
//! message of any supported type, and the adapter that serves it.

use super::{Adapted, AdapterError, MapFile, PoseArrayAdapter, SkeletonArrayAdapter, ZedAdapter};
use crate::msg::{Header, ObjectsStamped, PoseArray, RosMessage, Skeleton3DArray};

/// The pose message types the node accepts (`input.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    /// `a4mer_msgs/msg/Skeleton3DArray`, the reference input.
    Skeleton3DArray,
    /// `geometry_msgs/msg/PoseArray`, one person.
    PoseArray,
    /// `zed_msgs/msg/ObjectsStamped` body tracking.
    ZedObjects,
}

impl InputType {
    pub const ALL: [InputType; 3] = [Self::Skeleton3DArray, Self::PoseArray, Self::ZedObjects];

    /// The `input.type` parameter value.
    pub fn param_value(self) -> &'static str {
        match self {
            Self::Skeleton3DArray => "skeleton3d_array",
            Self::PoseArray => "pose_array",
            Self::ZedObjects => "zed_objects",
        }
    }

    pub fn from_param_value(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.param_value() == v)
    }

    /// `pkg/msg/Name`.
    pub fn ros_type_name(self) -> String {
        match self {
            Self::Skeleton3DArray => Skeleton3DArray::ros_type_name(),
            Self::PoseArray => PoseArray::ros_type_name(),
            Self::ZedObjects => ObjectsStamped::ros_type_name(),
        }
    }

    /// The input type a bag topic of type `pkg/msg/Name` carries, if we read it. ZED's
    /// older package name `zed_interfaces` has the same layout.
    pub fn from_ros_type_name(name: &str) -> Option<Self> {
        match name {
            "zed_interfaces/msg/ObjectsStamped" => Some(Self::ZedObjects),
            _ => Self::ALL.into_iter().find(|t| t.ros_type_name() == name),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Cdr(#[from] crate::msg::CdrError),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error("expected a {expected} message, got {got}")]
    WrongType { expected: String, got: String },
}

/// One adapter for whichever input type is configured: serialized message in, people out.
#[derive(Debug)]
pub enum InputAdapter {
    Skeleton3DArray(SkeletonArrayAdapter),
    PoseArray(Box<PoseArrayAdapter>),
    ZedObjects(Box<ZedAdapter>),
}

impl InputAdapter {
    /// `joint_order` applies to `PoseArray` (empty: SMPL-24); `map_file` replaces the
    /// name-based or built-in joint maps.
    pub fn new(kind: InputType, joint_order: &[String], map_file: Option<MapFile>) -> Result<Self, AdapterError> {
        Ok(match kind {
            InputType::Skeleton3DArray => Self::Skeleton3DArray(SkeletonArrayAdapter::new(map_file)),
            InputType::PoseArray => Self::PoseArray(Box::new(PoseArrayAdapter::new(joint_order, map_file.as_ref())?)),
            InputType::ZedObjects => Self::ZedObjects(Box::new(ZedAdapter::new(map_file.as_ref())?)),
        })
    }

    pub fn input_type(&self) -> InputType {
        match self {
            Self::Skeleton3DArray(_) => InputType::Skeleton3DArray,
            Self::PoseArray(_) => InputType::PoseArray,
            Self::ZedObjects(_) => InputType::ZedObjects,
        }
    }

    /// Decode a CDR payload (with its 4-byte header) of the configured type and adapt it.
    pub fn adapt_cdr(&mut self, payload: &[u8]) -> Result<Adapted, InputError> {
        let msg = InputMessage::decode(payload, self.input_type())?;
        self.adapt(&msg)
    }

    /// Adapt a decoded message; a message of another type than configured is an error.
    pub fn adapt(&mut self, msg: &InputMessage) -> Result<Adapted, InputError> {
        Ok(match (self, msg) {
            (Self::Skeleton3DArray(a), InputMessage::Skeleton3DArray(m)) => a.adapt(m)?,
            (Self::PoseArray(a), InputMessage::PoseArray(m)) => Adapted {
                people: vec![a.adapt(m)?],
                ..Adapted::default()
            },
            (Self::ZedObjects(a), InputMessage::ZedObjects(m)) => a.adapt(m)?,
            (a, m) => {
                return Err(InputError::WrongType {
                    expected: a.input_type().ros_type_name(),
                    got: m.input_type().ros_type_name(),
                });
            }
        })
    }
}

/// One decoded input message of any supported type.
#[derive(Clone, Debug, PartialEq)]
pub enum InputMessage {
    Skeleton3DArray(Skeleton3DArray),
    PoseArray(PoseArray),
    ZedObjects(Box<ObjectsStamped>),
}

impl InputMessage {
    /// Decode a CDR payload (with its 4-byte header) as `kind`.
    pub fn decode(payload: &[u8], kind: InputType) -> Result<Self, crate::msg::CdrError> {
        Ok(match kind {
            InputType::Skeleton3DArray => Self::Skeleton3DArray(crate::msg::decode(payload)?),
            InputType::PoseArray => Self::PoseArray(crate::msg::decode(payload)?),
            InputType::ZedObjects => Self::ZedObjects(Box::new(crate::msg::decode(payload)?)),
        })
    }

    pub fn input_type(&self) -> InputType {
        match self {
            Self::Skeleton3DArray(_) => InputType::Skeleton3DArray,
            Self::PoseArray(_) => InputType::PoseArray,
            Self::ZedObjects(_) => InputType::ZedObjects,
        }
    }

    pub fn header(&self) -> &Header {
        match self {
            Self::Skeleton3DArray(m) => &m.header,
            Self::PoseArray(m) => &m.header,
            Self::ZedObjects(m) => &m.header,
        }
    }
}
