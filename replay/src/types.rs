//! What a replay reports: the JSON's shape (everything but `timing` is deterministic).

use a4mer_runtime::stream::OnlineReport;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorTable {
    pub world: Vec<Option<f64>>,
    pub pelvis_relative: Vec<Option<f64>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Scores {
    pub horizons_ms: Vec<u32>,
    /// Forecasts scored at each horizon.
    pub scored: Vec<u64>,
    pub model: ErrorTable,
    pub zero_velocity: ErrorTable,
    pub constant_velocity: ErrorTable,
    pub damped_velocity: ErrorTable,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorOverTime {
    pub t_s: f64,
    /// Model world MPJPE of forecasts made in this second, at 400 and 1000 ms.
    pub mpjpe_400ms: Option<f64>,
    pub mpjpe_1000ms: Option<f64>,
}

/// What the guard published in one second of bag time, over every person's forecasts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GuardOverTime {
    pub t_s: f64,
    /// Mean weight of the model in the published forecast, per horizon.
    pub model_weight: Vec<f64>,
    /// Share of forecasts whose link frame was degraded because the model was losing.
    pub model_losing: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MotifSpan {
    pub person_id: u32,
    pub motif: i32,
    pub start_s: f64,
    pub end_s: f64,
}

/// The MCU's decision, at most one point per 100 ms of bag time (the most restrictive).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SsmPoint {
    pub t_s: f64,
    pub mode: String,
    pub scale: f32,
    /// Separation from the nearest person to the robot, metres (None: nobody tracked).
    pub separation_m: Option<f32>,
    /// People on the link held after dropping out of view, most in this tenth of a second.
    pub people_held: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SsmSummary {
    pub robot_position_in_base_m: [f32; 3],
    pub programmed_speed_mps: f32,
    pub timeline: Vec<SsmPoint>,
    /// Seconds of bag time in each mode.
    pub seconds_run: f64,
    pub seconds_fallback: f64,
    pub seconds_protective_stop: f64,
    pub min_separation_m: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub t_s: f64,
    pub person_id: Option<u32>,
    pub kind: String,
    pub detail: String,
}

/// Compute time per `push`; not deterministic, so kept apart from everything else.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timing {
    pub pushes: u64,
    pub push_p50_us: Option<u32>,
    pub push_p99_us: Option<u32>,
    pub push_max_us: Option<u32>,
    /// Pushes per 10 µs bin (the last bin holds everything from 10 ms).
    pub push_histogram_10us: Vec<u64>,
    pub wall_s: f64,
    /// Bag seconds replayed per wall second.
    pub realtime_factor: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplayReport {
    pub bag: String,
    pub bag_sha256: String,
    pub model: String,
    pub model_sha256: String,
    /// τ (s) of the damped-velocity baseline, the guard's and the scoring's: the model's.
    pub damping_tau_s: f32,
    /// Set when the model predates a fitted τ and the documented default was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damping_tau_note: Option<String>,
    /// Set when the model has no anticipation prior and its motifs went out as "it stays".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anticipation_note: Option<String>,
    pub topic: String,
    pub input_type: String,
    /// The node parameters the replay ran with, and where each was set.
    pub settings: Vec<a4mer_ros::config::Setting>,
    pub messages: u64,
    pub frames: u64,
    pub people: Vec<u32>,
    pub duration_s: f64,
    pub forecasts: u64,
    /// Forecasts from the baselines for frames the engine refused (too few joints), in the
    /// output bag beside the model's.
    #[serde(skip_serializing_if = "is_zero")]
    pub forecasts_from_baselines: u64,
    /// Pose messages whose people could not be placed in `output.frame_id` (no usable
    /// transform in the bag's `/tf` and `/tf_static`); each is an event too.
    pub unplaced_messages: u64,
    /// What was published (after the guard) against the baselines, scored from the bag.
    pub mpjpe_mm: Scores,
    /// The engines' own live scores: `calibration`, `anticipation` and `guard`.
    #[serde(flatten)]
    pub online: Option<OnlineReport>,
    pub error_over_time: Vec<ErrorOverTime>,
    pub guard_over_time: Vec<GuardOverTime>,
    pub motif_timeline: Vec<MotifSpan>,
    pub events: Vec<Event>,
    pub events_dropped: u64,
    /// With [`ReplayOptions::safety`]: what the safety MCU would have commanded.
    pub ssm: Option<SsmSummary>,
    /// The error that ended the replay early; the report covers what came before it.
    pub stopped_at: Option<String>,
    pub output_bag: Option<String>,
    pub timing: Timing,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
