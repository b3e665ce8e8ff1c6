//! The live scores as reports read them: the `calibration`, `anticipation` and `guard`
//! objects that `a4mer eval --json` and `a4mer replay --json` share.

use serde::Serialize;

use super::guard::{
    BLEND_TEMPERATURE, EW_TIME_CONSTANT_FRAMES, GuardScores, HORIZONS_MS, LOSING_ENTER, LOSING_MIN_EXCESS_M,
    NOMINAL_COVERAGE, NUM_HORIZONS, NUM_SOURCES,
};
use super::motif_score::MotifScores;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnlineReport {
    pub calibration: CalibrationReport,
    pub anticipation: AnticipationReport,
    pub guard: GuardReport,
}

/// How often the true joint lay inside the published radius.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibrationReport {
    pub nominal: f32,
    pub horizons_ms: Vec<u32>,
    pub coverage: Vec<Option<f64>>,
    /// Joint positions scored per horizon.
    pub joints_scored: Vec<u64>,
}

/// The published next-motif distribution against the motif assigned `horizon_s` later.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnticipationReport {
    pub horizon_s: f32,
    pub top1: Option<f64>,
    pub top3: Option<f64>,
    /// Top-3 over the distributions whose motif did change by the time they were due.
    pub change_top3: Option<f64>,
    pub change_scored: u64,
    /// "The motif stays": the current motif predicted `horizon_s` ahead.
    pub stay_top1: Option<f64>,
    pub brier: Option<f64>,
    pub stay_brier: Option<f64>,
    /// `1 − brier / stay_brier`: above 0 beats "it stays".
    pub brier_skill: Option<f64>,
    /// The model's own distribution, also where "it stays" was published.
    pub model_brier: Option<f64>,
    pub model_brier_skill: Option<f64>,
    /// Expected calibration error of the published top probability (10 bins).
    pub ece: Option<f64>,
    /// Scored distributions published as "it stays" (no prior, or losing live).
    pub published_stays: u64,
    pub scored: u64,
    pub unscored: u64,
    /// Mean |transition_in_s − actual time to the next change of motif| ("beyond the
    /// horizon" scored as the prior's range).
    pub transition_mae_s: Option<f64>,
    /// The same for the baseline: the motif's median training duration minus the time
    /// already spent in it.
    pub transition_baseline_mae_s: Option<f64>,
    /// `transition_mae_s / transition_baseline_mae_s` (below 1 beats the baseline).
    pub transition_over_baseline: Option<f64>,
    pub transition_scored: u64,
    pub transition_censored: u64,
}

/// World MPJPE (mm) per horizon of each source and of what was published.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceErrors {
    pub model: Vec<Option<f64>>,
    pub zero_velocity: Vec<Option<f64>>,
    pub constant_velocity: Vec<Option<f64>>,
    pub damped_velocity: Vec<Option<f64>>,
    pub published: Vec<Option<f64>>,
}

/// Share of scored forecasts whose published blend gave each source the largest weight.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Followed {
    pub model: Vec<Option<f64>>,
    pub zero_velocity: Vec<Option<f64>>,
    pub constant_velocity: Vec<Option<f64>>,
    pub damped_velocity: Vec<Option<f64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GuardReport {
    pub horizons_ms: Vec<u32>,
    /// Forecasts scored per horizon (made after warm-up).
    pub scored: Vec<u64>,
    pub mpjpe_mm: SourceErrors,
    /// Published MPJPE over the best baseline's (zero, constant, damped velocity), per
    /// horizon (≤ 1: no worse).
    pub published_over_best_baseline: Vec<Option<f64>>,
    /// The same over the better of zero and constant velocity, as reported before the
    /// damped baseline.
    pub published_over_better_trivial_baseline: Vec<Option<f64>>,
    pub followed: Followed,
    /// Forecast-horizons dropped unscored (restarts, stamp mismatches).
    pub discarded: u64,
    /// The rule's constants, so a report says what it ran.
    pub time_constant_frames: f64,
    pub blend_temperature: f32,
    pub losing_enter: f64,
    pub losing_min_excess_m: f64,
}

impl AnticipationReport {
    pub fn new(m: &MotifScores, horizon_s: f32) -> Self {
        Self {
            horizon_s,
            top1: m.top1_rate(),
            top3: m.top3_rate(),
            change_top3: m.change_top3_rate(),
            change_scored: m.change_scored,
            stay_top1: m.stay_top1_rate(),
            brier: m.brier(),
            stay_brier: m.stay_brier(),
            brier_skill: m.brier_skill(),
            model_brier: m.model_brier(),
            model_brier_skill: m.model_brier_skill(),
            ece: m.ece(),
            published_stays: m.published_stays,
            scored: m.scored,
            unscored: m.unscored,
            transition_mae_s: m.transition_abs_err_s.mean(),
            transition_baseline_mae_s: m.transition_baseline_abs_err_s.mean(),
            transition_over_baseline: m
                .transition_abs_err_s
                .mean()
                .zip(m.transition_baseline_abs_err_s.mean())
                .filter(|(_, b)| *b > 0.0)
                .map(|(e, b)| e / b),
            transition_scored: m.transition_abs_err_s.count,
            transition_censored: m.transition_censored,
        }
    }
}

impl OnlineReport {
    pub fn new(g: &GuardScores, m: &MotifScores, motif_horizon_s: f32) -> Self {
        let mm = |s: usize| -> Vec<Option<f64>> {
            (0..NUM_HORIZONS)
                .map(|h| g.error_m[h][s].mean().map(|v| v * 1000.0))
                .collect()
        };
        let followed = |s: usize| -> Vec<Option<f64>> {
            (0..NUM_HORIZONS)
                .map(|h| {
                    let n: u64 = g.followed[h].iter().sum();
                    (n > 0).then(|| g.followed[h][s] as f64 / n as f64)
                })
                .collect()
        };
        let mpjpe_mm = SourceErrors {
            model: mm(0),
            zero_velocity: mm(1),
            constant_velocity: mm(2),
            damped_velocity: mm(3),
            published: mm(NUM_SOURCES),
        };
        let over = |baselines: &[&Vec<Option<f64>>]| -> Vec<Option<f64>> {
            (0..NUM_HORIZONS)
                .map(|h| {
                    let best = baselines
                        .iter()
                        .map(|b| b[h])
                        .try_fold(f64::INFINITY, |best, v| v.map(|v| best.min(v)))?;
                    mpjpe_mm.published[h].filter(|_| best > 0.0).map(|p| p / best)
                })
                .collect()
        };
        let ratio = over(&[
            &mpjpe_mm.zero_velocity,
            &mpjpe_mm.constant_velocity,
            &mpjpe_mm.damped_velocity,
        ]);
        let trivial_ratio = over(&[&mpjpe_mm.zero_velocity, &mpjpe_mm.constant_velocity]);
        Self {
            calibration: CalibrationReport {
                nominal: NOMINAL_COVERAGE,
                horizons_ms: HORIZONS_MS.to_vec(),
                coverage: g.coverage().to_vec(),
                joints_scored: g.covered.iter().map(|c| c.count).collect(),
            },
            anticipation: AnticipationReport::new(m, motif_horizon_s),
            guard: GuardReport {
                horizons_ms: HORIZONS_MS.to_vec(),
                scored: g.error_m.iter().map(|e| e[NUM_SOURCES].count).collect(),
                mpjpe_mm,
                published_over_best_baseline: ratio,
                published_over_better_trivial_baseline: trivial_ratio,
                followed: Followed {
                    model: followed(0),
                    zero_velocity: followed(1),
                    constant_velocity: followed(2),
                    damped_velocity: followed(3),
                },
                discarded: g.discarded,
                time_constant_frames: EW_TIME_CONSTANT_FRAMES,
                blend_temperature: BLEND_TEMPERATURE,
                losing_enter: LOSING_ENTER,
                losing_min_excess_m: LOSING_MIN_EXCESS_M,
            },
        }
    }
}
