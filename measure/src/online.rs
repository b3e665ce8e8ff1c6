//! The engine's live scores over whole recordings: each stream runs through one engine from
//! its first frame, as the node would see that person, and what its guard and motif
//! scoring add up to becomes the `calibration`, `anticipation` and `guard` of a report.

use std::sync::Arc;

use a4mer_runtime::FPS;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::stream::{
    Engine, EngineConfig, EngineError, GuardScores, MotifScores, NUM_HORIZONS, NUM_SOURCES, OnlineReport, StreamModel,
    Sum,
};
use serde::Serialize;

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
        self.score_with_spans(streams).0
    }
}

/// Where in a recording a score was made: seconds since its first frame.
pub const TIME_SPANS_S: [(f64, Option<f64>); 3] = [(0.0, Some(10.0)), (10.0, Some(30.0)), (30.0, None)];

/// The live scores of one span of time in every recording: how the engine does on a person
/// it has just met, against one it has watched for a while (adaptation's report).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpanScores {
    pub from_s: f64,
    /// `None`: to the recording's end.
    pub to_s: Option<f64>,
    /// Mean joint error (mm) per horizon of the model's forecast (adapted, with adaptation
    /// on), each baseline and what was published; `None` where nothing was scored.
    pub model_mm: Vec<Option<f64>>,
    pub zero_velocity_mm: Vec<Option<f64>>,
    pub constant_velocity_mm: Vec<Option<f64>>,
    pub damped_velocity_mm: Vec<Option<f64>>,
    pub published_mm: Vec<Option<f64>>,
    /// Forecasts scored at each horizon.
    pub scored: Vec<u64>,
}

impl Online {
    /// [`Online::score`], and the guard's scores split by [`TIME_SPANS_S`], from the same
    /// pass.
    pub fn score_with_spans(&self, streams: &[&[PoseFrame]]) -> (OnlineReport, Vec<SpanScores>) {
        let mut guard = GuardScores::default();
        let mut motifs = MotifScores::default();
        let mut spans = [GuardScores::default(); TIME_SPANS_S.len()];
        for s in streams {
            // Validated in `new`; an empty stream adds nothing.
            let (Some(first), Ok(mut e)) = (s.first(), Engine::new(Arc::clone(&self.model), self.config.clone()))
            else {
                continue;
            };
            // Totals when each span began; a span's scores are the difference.
            let mut at_start = [GuardScores::default(); TIME_SPANS_S.len()];
            let mut span = 0;
            for f in *s {
                let t_s = (f.stamp_ns - first.stamp_ns) as f64 / 1e9;
                while span + 1 < TIME_SPANS_S.len() && t_s >= TIME_SPANS_S[span + 1].0 {
                    span += 1;
                    at_start[span] = *e.guard_scores();
                }
                let _ = e.push_ref(f);
            }
            let end = *e.guard_scores();
            guard.merge(&end);
            motifs.merge(e.motif_scores());
            for k in 0..=span {
                let next = if k < span { at_start[k + 1] } else { end };
                spans[k].merge(&difference(&next, &at_start[k]));
            }
        }
        let horizon_s = self.model.config().motif_lookahead_frames as f32 / FPS as f32;
        let spans = TIME_SPANS_S
            .iter()
            .zip(&spans)
            .map(|(&(from_s, to_s), g)| {
                let mm = |source: usize| {
                    (0..NUM_HORIZONS)
                        .map(|h| g.error_m[h][source].mean().map(|m| m * 1000.0))
                        .collect()
                };
                SpanScores {
                    from_s,
                    to_s,
                    model_mm: mm(0),
                    zero_velocity_mm: mm(1),
                    constant_velocity_mm: mm(2),
                    damped_velocity_mm: mm(3),
                    published_mm: mm(NUM_SOURCES),
                    scored: (0..NUM_HORIZONS).map(|h| g.error_m[h][0].count).collect(),
                }
            })
            .collect();
        (OnlineReport::new(&guard, &motifs, horizon_s), spans)
    }
}

/// `later − earlier` for the error sums (the rest is not reported per span).
fn difference(later: &GuardScores, earlier: &GuardScores) -> GuardScores {
    let mut d = GuardScores::default();
    for h in 0..NUM_HORIZONS {
        for s in 0..=NUM_SOURCES {
            let (l, e) = (later.error_m[h][s], earlier.error_m[h][s]);
            d.error_m[h][s] = Sum {
                total: l.total - e.total,
                count: l.count.saturating_sub(e.count),
            };
        }
    }
    d
}
