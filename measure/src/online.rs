//! The engine's live scores over whole recordings: each stream runs through one engine from
//! its first frame, as the node would see that person, and what its guard and motif
//! scoring add up to becomes the `calibration`, `anticipation` and `guard` of a report.

use std::sync::Arc;

use a4mer_runtime::FPS;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::stream::{Engine, EngineConfig, EngineError, GuardScores, MotifScores, OnlineReport, StreamModel};

/// A model and the engine settings to stream it with.
#[derive(Clone)]
pub struct Online {
    pub model: Arc<StreamModel>,
    pub config: EngineConfig,
}

impl Online {
    /// Checks the settings once, so scoring cannot fail later.
    pub fn new(model: Arc<StreamModel>, config: EngineConfig) -> Result<Self, EngineError> {
        Engine::new(Arc::clone(&model), config.clone())?;
        Ok(Self { model, config })
    }

    /// Stream every recording through a fresh engine; frames the engine refuses are
    /// skipped, as the node skips them.
    pub fn score(&self, streams: &[&[PoseFrame]]) -> OnlineReport {
        let mut guard = GuardScores::default();
        let mut motifs = MotifScores::default();
        for s in streams {
            // Validated in `new`.
            let Ok(mut e) = Engine::new(Arc::clone(&self.model), self.config.clone()) else {
                continue;
            };
            for f in *s {
                let _ = e.push_ref(f);
            }
            guard.merge(e.guard_scores());
            motifs.merge(e.motif_scores());
        }
        let horizon_s = self.model.config().motif_lookahead_frames as f32 / FPS as f32;
        OnlineReport::new(&guard, &motifs, horizon_s)
    }
}
