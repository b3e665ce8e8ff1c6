//! What the engine says after a frame: the forecast, the motifs, the stream's health and
//! the guard's state.

use crate::model::ForecastStep;
use crate::pose::NUM_JOINTS;

use super::conditioner::Reject;
use super::guard::GuardView;
use crate::model::features::FeatureError;

/// Longest forecast an anticipation carries (the model's `horizon` must fit).
pub const MAX_HORIZON: usize = 60;
/// Most next-motif candidates an anticipation carries.
pub const MAX_TOP_K: usize = 8;

/// Why a frame produced no new anticipation. Every one is counted in [`Health`].
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Rejected(#[from] Reject),
    #[error("frame at stamp_ns {stamp_ns}: the pelvis is missing or not finite")]
    NoPelvis { stamp_ns: i64 },
    #[error("frame at stamp_ns {stamp_ns}: joint {joint} is {distance_m:.0} m from the origin (limit {limit_m} m)")]
    OutOfRange {
        stamp_ns: i64,
        joint: usize,
        distance_m: f32,
        limit_m: f32,
    },
    #[error(transparent)]
    Feature(#[from] FeatureError),
    #[error(
        "frame at stamp_ns {stamp_ns}: the pelvis moved at {speed_mps:.0} m/s; stream reset (not the same person, or a tracking error)"
    )]
    Teleport { stamp_ns: i64, speed_mps: f32 },
    #[error("frame at stamp_ns {stamp_ns}: the model produced a non-finite output; stream reset")]
    NonFiniteOutput { stamp_ns: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthState {
    /// Too little context since the stream (re)started: forecasts are weak.
    Warming,
    Ok,
    /// Recent frames were dropped, or too few of the joints the model knows are valid.
    Degraded,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Health {
    pub state: HealthState,
    pub frames_dropped: u64,
    pub resets: u64,
    pub last_error: Option<StreamError>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotifNow {
    pub id: u16,
    pub confidence: f32,
}

/// What the next-motif distribution was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MotifBasis {
    /// No motif is current yet: the head's distribution as it is (not scored).
    Head,
    /// The model's prior mixed with the head: `(1 − h)` on the current motif, `h` spread
    /// over the others.
    Model,
    /// "It stays" (the current motif, probability 1): the model has no anticipation prior
    /// (artifact format 1 or 2).
    StaysNoPrior,
    /// "It stays": on this track the model's distribution is losing to "it stays", live.
    StaysLosing,
}

impl MotifBasis {
    /// What a user reads about it.
    pub fn describe(self) -> &'static str {
        match self {
            MotifBasis::Head => "head only (no current motif)",
            MotifBasis::Model => "model",
            MotifBasis::StaysNoPrior => "it stays (the model has no anticipation prior)",
            MotifBasis::StaysLosing => "it stays (the model is losing to it live)",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MotifNext {
    /// The distribution over the motif the person will be in `horizon_s` from now, the
    /// current motif included (its probability is that of staying): the most likely
    /// motifs, most likely first. Not "the next different motif".
    pub top: heapless::Vec<(u16, f32), MAX_TOP_K>,
    /// How far ahead the distribution looks.
    pub horizon_s: f32,
    /// Median time until the current motif ends: where the survival curve (the duration
    /// prior for the time already spent, scaled to the change probability published)
    /// falls below one half. `Some(f32::INFINITY)` when it does not within the prior's
    /// range ("beyond the horizon"); `None` without a current motif or a prior.
    pub transition_in_s: Option<f32>,
    pub basis: MotifBasis,
}

/// What the engine says after a frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Anticipation {
    /// Stamp of the model-rate frame the forecast starts from.
    pub stamp_ns: i64,
    /// Model-rate frames the last push advanced (0 when an input faster than 30 Hz fell
    /// between grid frames: this is then the previous anticipation again).
    pub model_frames: u8,
    pub forecast: heapless::Vec<ForecastStep, MAX_HORIZON>,
    /// Joints the forecast covers (valid in the last frame).
    pub valid: [bool; NUM_JOINTS],
    pub motif_now: Option<MotifNow>,
    pub motif_next: MotifNext,
    pub health: Health,
    /// The person's body scale against the model's training reference (bone lengths of the
    /// last frame; 1 for a model without body-scale normalisation). Forecast residuals and
    /// spreads are in this person's size.
    pub body_scale: f32,
    /// The guard behind `forecast`: the sources' weights, the radius factor and whether the
    /// model is losing, per reported horizon.
    pub guard: GuardView,
}

/// A closed Action Atom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtomRecord {
    pub start_ns: i64,
    pub end_ns: i64,
    pub frames: u16,
    /// The motif current when this atom closed.
    pub motif: MotifNow,
}
