//! Streaming: from pose messages at whatever rate and quality producers deliver them, to
//! clean model-rate frames per person.
//!
//! - [`conditioner`]: one person's input timeline: validation, duplicates, out-of-order
//!   frames, gaps and resampling onto the 30 Hz model grid.
//! - [`engine`]: the model streamed over one person's frames, an anticipation per frame.
//! - [`guard`]: every published forecast scored against what followed, beside the
//!   zero-, constant- and damped-velocity baselines; the blend and the calibrated radius it
//!   drives.
//! - [`motif_next`]: the next-motif output made from the anticipation prior and the head.
//! - [`motif_score`]: next-motif distributions and transition times, scored the same way.
//! - [`tracks`]: a bounded table of per-person streams with idle eviction.

pub mod anticipation;
pub mod conditioner;
pub mod engine;
pub mod guard;
pub mod motif_next;
pub mod motif_score;
pub mod report;
mod stream_model;
pub mod tracks;
mod window;

pub use conditioner::{Conditioned, Conditioner, ConditionerConfig, ConfigError, Reject};
pub use engine::{
    Anticipation, AtomBuffer, AtomRecord, Engine, EngineConfig, EngineError, ForecastStep, Health, HealthState,
    MotifBasis, MotifNext, MotifNow, StreamError, StreamModel,
};
pub use guard::{
    ADAPT_TIME_CONSTANT_FORECASTS, DAMPING_TAU_S, GuardConfig, GuardScores, GuardView, HORIZONS_MS, NUM_HORIZONS,
    NUM_SOURCES, SHIPPED_GAINS, SOURCES, Sum, damped_frames, damping_tau_is_valid, horizon_step,
};
pub use motif_score::MotifScores;
pub use report::OnlineReport;
pub use stream_model::{StreamLoadError, check_capacity};
pub use tracks::{Eviction, PersonId, Tracks, TracksConfig};
