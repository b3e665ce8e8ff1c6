//! Mirrors of `a4mer_msgs` (`ros/msgs/msg/*.msg`), field for field.

use serde::{Deserialize, Serialize};

use super::std_msgs::{Duration, Header, Point, ros_message};

/// a4mer_msgs/Skeleton3D: one person.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Skeleton3D {
    pub id: u32,
    pub layout: String,
    pub joint_names: Vec<String>,
    pub joints: Vec<Point>,
    pub confidences: Vec<f32>,
}
ros_message!(Skeleton3D, "a4mer_msgs", "Skeleton3D");

/// a4mer_msgs/Skeleton3DArray: everyone in one frame (the reference input).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Skeleton3DArray {
    pub header: Header,
    pub bodies: Vec<Skeleton3D>,
}
ros_message!(Skeleton3DArray, "a4mer_msgs", "Skeleton3DArray");

/// a4mer_msgs/PoseForecast: H future poses of one person, step-major.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoseForecast {
    pub header: Header,
    pub person_id: u32,
    pub step_period: Duration,
    pub joint_names: Vec<String>,
    pub num_steps: u32,
    pub points: Vec<Point>,
    pub spread_m: Vec<f32>,
    pub guard_sources: Vec<String>,
    pub guard_horizons_s: Vec<f32>,
    pub guard_weights: Vec<f32>,
    pub model_losing: Vec<bool>,
}
ros_message!(PoseForecast, "a4mer_msgs", "PoseForecast");

/// a4mer_msgs/MotifAnticipation: the motif now and the likely next ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MotifAnticipation {
    pub header: Header,
    pub person_id: u32,
    pub motif_now: i32,
    pub motif_now_confidence: f32,
    pub next_motif_ids: Vec<i32>,
    pub next_motif_probabilities: Vec<f32>,
    pub expected_time_to_transition_s: f32,
    pub health: u8,
    pub next_motif_horizon_s: f32,
}
ros_message!(MotifAnticipation, "a4mer_msgs", "MotifAnticipation");

impl MotifAnticipation {
    pub const HEALTH_OK: u8 = 0;
    pub const HEALTH_WARMING_UP: u8 = 1;
    pub const HEALTH_DEGRADED: u8 = 2;
    pub const HEALTH_STALE: u8 = 3;
}
