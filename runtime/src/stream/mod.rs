//! Streaming: from pose messages at whatever rate and quality producers deliver them, to
//! clean model-rate frames per person.
//!
//! - [`conditioner`]: one person's input timeline: validation, duplicates, out-of-order
//!   frames, gaps and resampling onto the 30 Hz model grid.
//! - [`engine`]: the model streamed over one person's frames, an anticipation per frame.
//! - [`tracks`]: a bounded table of per-person streams with idle eviction.

pub mod conditioner;
pub mod engine;
pub mod tracks;

pub use conditioner::{Conditioned, Conditioner, ConditionerConfig, ConfigError, Reject};
pub use engine::{
    Anticipation, AtomBuffer, AtomRecord, Engine, EngineConfig, EngineError, ForecastStep, Health, HealthState,
    MotifNext, MotifNow, StreamError, StreamModel,
};
pub use tracks::{Eviction, PersonId, Tracks, TracksConfig};
