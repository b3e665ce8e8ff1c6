//! One person's next-motif output in `/diagnostics`.

use a4mer_runtime::stream::{Engine, MotifBasis, MotifScores};

use super::diagnostics::kv;
use a4mer_ros::msg::KeyValue;

/// One person's next-motif output as `/diagnostics` shows it: what was published, the
/// live comparison with "it stays" that decides it, and the scores so far.
#[derive(Clone, Copy, Debug)]
pub struct MotifStatus {
    pub basis: Option<MotifBasis>,
    /// Live Brier scores of the model's distribution and of "it stays".
    pub live_brier: Option<(f64, f64)>,
    pub scores: MotifScores,
}

impl MotifStatus {
    pub fn of(engine: &Engine) -> Self {
        Self {
            basis: engine.latest().map(|a| a.motif_next.basis),
            live_brier: engine.motif_live().1,
            scores: *engine.motif_scores(),
        }
    }

    pub(super) fn values(&self) -> Vec<KeyValue> {
        let pct = |v: Option<f64>| v.map(|v| format!("{:.1} %", v * 100.0)).unwrap_or_else(|| "n/a".into());
        let sec = |v: Option<f64>| v.map(|v| format!("{v:.2} s")).unwrap_or_else(|| "n/a".into());
        let s = &self.scores;
        vec![
            kv(
                "motifs.published",
                self.basis.map(MotifBasis::describe).unwrap_or("nothing yet"),
            ),
            kv(
                "motifs.live_brier",
                match self.live_brier {
                    Some((m, st)) => format!("model {m:.3}, it stays {st:.3}"),
                    None => "n/a".into(),
                },
            ),
            kv(
                "motifs.scores",
                format!(
                    "{} scored: Brier skill against it stays {}, top-1 {} (it stays {}), top-3 {}, top-3 where it changed {}, ECE {}",
                    s.scored,
                    pct(s.brier_skill()),
                    pct(s.top1_rate()),
                    pct(s.stay_top1_rate()),
                    pct(s.top3_rate()),
                    pct(s.change_top3_rate()),
                    s.ece().map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into()),
                ),
            ),
            kv(
                "motifs.transition_error",
                format!(
                    "{} (baseline: median duration minus time spent {}) over {} predictions",
                    sec(s.transition_abs_err_s.mean()),
                    sec(s.transition_baseline_abs_err_s.mean()),
                    s.transition_abs_err_s.count
                ),
            ),
        ]
    }
}
