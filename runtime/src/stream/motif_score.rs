//! Anticipation, scored live: each frame's distribution over the motif `lookahead` frames
//! ahead (`MotifNext`, the current motif included) against the motif the engine assigned
//! when that frame came, and each `transition_in_s` against when the motif then changed.
//!
//! The comparison every score needs is "the motif stays": predicting the current motif
//! `horizon_s` ahead. A model that does not beat it anticipates nothing, so the scorer also
//! keeps an exponentially weighted Brier score of the model's distribution and of "it
//! stays" per track: where the model is losing, the engine publishes "it stays" (the
//! guard's rule, applied to the motifs).

use super::anticipation::MotifNow;
use super::guard::Sum;

/// Most frames a transition prediction waits for its motif to change (10 s at 30 Hz);
/// older ones are censored (counted, not scored).
const TRANSITION_WINDOW: usize = 300;
/// Reliability bins of the expected calibration error (by the top motif's probability).
pub const ECE_BINS: usize = 10;
/// Time constant of the live Brier scores, in scored distributions (10 s at 30 Hz).
pub const MOTIF_EW_FRAMES: f64 = 300.0;
/// Scored distributions before the live comparison may call the model losing.
pub const MOTIF_LOSING_MIN_SCORED: u64 = 30;
/// The model is losing when its live Brier score exceeds that of "it stays" by this much;
/// it wins again below half that margin (hysteresis, so the published source does not
/// flap).
pub const MOTIF_LOSING_MARGIN: f64 = 0.02;

/// What a run's anticipation adds up to. Tracks and recordings merge.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MotifScores {
    /// Distributions scored (a motif was current when made and when due).
    pub scored: u64,
    /// Of the published distribution.
    pub top1: u64,
    pub top3: u64,
    /// The current motif was still the motif `horizon_s` later.
    pub stay_top1: u64,
    /// Scored distributions whose motif did change by the time they were due, and how
    /// often the published top 3 held the motif it changed into.
    pub change_scored: u64,
    pub change_top3: u64,
    /// Sum of multi-class Brier scores `Σ_k (p_k − [k = truth])²` of what was published.
    pub brier_sum: f64,
    /// The same of the model's own distribution, also where "it stays" was published.
    pub model_brier_sum: f64,
    /// Brier sum of "the motif stays" (probability 1 on the current motif): 2 per miss.
    pub stay_brier_sum: f64,
    /// Scored distributions published as "it stays" (no prior, or the model was losing).
    pub published_stays: u64,
    /// Per reliability bin of the published top probability: count, sum of that
    /// probability, and how often the top motif was right.
    pub ece_count: [u64; ECE_BINS],
    pub ece_confidence: [f64; ECE_BINS],
    pub ece_hits: [u64; ECE_BINS],
    /// Distributions dropped unscored: no motif at either end, or a restart.
    pub unscored: u64,
    /// |predicted − actual| time to the next change of motif, seconds.
    pub transition_abs_err_s: Sum,
    /// The same for the baseline: the current motif's median training duration minus the
    /// time already spent in it (at least 0), over the same predictions.
    pub transition_baseline_abs_err_s: Sum,
    /// Transition predictions whose change never came within the window or the stream.
    pub transition_censored: u64,
}

/// One published distribution scored when it fell due.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Where the motif it fell due in ranks in what was published (`usize::MAX`: not in it).
    pub rank: usize,
    /// The published top probability.
    pub confidence: f64,
    /// Multi-class Brier score of what was published, and of the model's own distribution.
    pub brier: f64,
    pub model_brier: f64,
    /// The motif current when it was made was still current when it fell due.
    pub stayed: bool,
    /// What was published was "it stays".
    pub published_stays: bool,
}

impl MotifScores {
    /// Count one scored distribution.
    pub fn record(&mut self, o: Outcome) {
        let hit = |r: usize| u64::from(o.rank < r);
        self.scored += 1;
        self.top1 += hit(1);
        self.top3 += hit(3);
        self.stay_top1 += u64::from(o.stayed);
        if !o.stayed {
            self.change_scored += 1;
            self.change_top3 += hit(3);
        }
        self.brier_sum += o.brier;
        self.model_brier_sum += o.model_brier;
        self.stay_brier_sum += if o.stayed { 0.0 } else { 2.0 };
        self.published_stays += u64::from(o.published_stays);
        let bin = ((o.confidence * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        self.ece_count[bin] += 1;
        self.ece_confidence[bin] += o.confidence;
        self.ece_hits[bin] += hit(1);
    }

    pub fn merge(&mut self, o: &MotifScores) {
        self.scored += o.scored;
        self.top1 += o.top1;
        self.top3 += o.top3;
        self.stay_top1 += o.stay_top1;
        self.change_scored += o.change_scored;
        self.change_top3 += o.change_top3;
        self.brier_sum += o.brier_sum;
        self.model_brier_sum += o.model_brier_sum;
        self.stay_brier_sum += o.stay_brier_sum;
        self.published_stays += o.published_stays;
        for b in 0..ECE_BINS {
            self.ece_count[b] += o.ece_count[b];
            self.ece_confidence[b] += o.ece_confidence[b];
            self.ece_hits[b] += o.ece_hits[b];
        }
        self.unscored += o.unscored;
        self.transition_abs_err_s.merge(&o.transition_abs_err_s);
        self.transition_baseline_abs_err_s
            .merge(&o.transition_baseline_abs_err_s);
        self.transition_censored += o.transition_censored;
    }

    fn rate(&self, n: u64) -> Option<f64> {
        (self.scored > 0).then(|| n as f64 / self.scored as f64)
    }

    pub fn top1_rate(&self) -> Option<f64> {
        self.rate(self.top1)
    }

    pub fn top3_rate(&self) -> Option<f64> {
        self.rate(self.top3)
    }

    pub fn stay_top1_rate(&self) -> Option<f64> {
        self.rate(self.stay_top1)
    }

    pub fn change_top3_rate(&self) -> Option<f64> {
        (self.change_scored > 0).then(|| self.change_top3 as f64 / self.change_scored as f64)
    }

    pub fn brier(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.brier_sum / self.scored as f64)
    }

    pub fn model_brier(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.model_brier_sum / self.scored as f64)
    }

    pub fn stay_brier(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.stay_brier_sum / self.scored as f64)
    }

    /// `1 − Brier / Brier of "it stays"`: above 0 beats saying nothing new.
    pub fn brier_skill(&self) -> Option<f64> {
        (self.scored > 0 && self.stay_brier_sum > 0.0).then(|| 1.0 - self.brier_sum / self.stay_brier_sum)
    }

    /// The same for the model's own distribution.
    pub fn model_brier_skill(&self) -> Option<f64> {
        (self.scored > 0 && self.stay_brier_sum > 0.0).then(|| 1.0 - self.model_brier_sum / self.stay_brier_sum)
    }

    /// Expected calibration error of the published top probability.
    pub fn ece(&self) -> Option<f64> {
        let n: u64 = self.ece_count.iter().sum();
        (n > 0).then(|| {
            (0..ECE_BINS)
                .map(|b| (self.ece_confidence[b] - self.ece_hits[b] as f64).abs())
                .sum::<f64>()
                / n as f64
        })
    }
}

#[derive(Clone, Copy, Debug)]
struct Made {
    frame: u64,
    motif_now: Option<u16>,
    /// "It stays" was published instead of the stored distribution.
    stays: bool,
}

/// One pending transition prediction: when it was made, and its and the baseline's
/// seconds to the change.
#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    stamp_ns: i64,
    predicted_s: f32,
    baseline_s: f32,
}

/// One track's anticipation scoring; sized at construction.
#[derive(Clone, Debug)]
pub struct MotifScorer {
    lookahead: u64,
    n_motifs: usize,
    /// The model's distributions of the last `lookahead + 1` emitting frames, ring of
    /// `n_motifs` rows.
    probs: Vec<f32>,
    made: Vec<Made>,
    head: usize,
    len: usize,
    frame: u64,
    /// Transition predictions since the current motif began.
    transitions: Vec<Pending>,
    t_head: usize,
    t_len: usize,
    current: Option<u16>,
    /// Stamp of the newest frame, which the next `publish` is about.
    last_stamp_ns: i64,
    /// Live (exponentially weighted) Brier of the model and of "it stays".
    ew_model: f64,
    ew_stay: f64,
    ew_weight: f64,
    live_scored: u64,
    losing: bool,
    scores: MotifScores,
}

/// What was published for one frame, as the scorer keeps it.
#[derive(Clone, Copy, Debug)]
pub struct Published<'a> {
    /// The model's distribution over every motif.
    pub model: &'a [f32],
    /// "It stays" went out instead.
    pub stays: bool,
    pub motif_now: Option<MotifNow>,
    /// Seconds to the change as scored (a "beyond" prediction as the curve's range), and
    /// the baseline's.
    pub transition_s: Option<(f32, f32)>,
}

impl MotifScorer {
    pub fn new(lookahead_frames: usize, n_motifs: usize) -> Self {
        let slots = lookahead_frames + 1;
        Self {
            lookahead: lookahead_frames as u64,
            n_motifs,
            probs: vec![0.0; slots * n_motifs],
            made: vec![
                Made {
                    frame: 0,
                    motif_now: None,
                    stays: false,
                };
                slots
            ],
            head: 0,
            len: 0,
            frame: 0,
            transitions: vec![Pending::default(); TRANSITION_WINDOW],
            t_head: 0,
            t_len: 0,
            current: None,
            last_stamp_ns: 0,
            ew_model: 0.0,
            ew_stay: 0.0,
            ew_weight: 0.0,
            live_scored: 0,
            losing: false,
            scores: MotifScores::default(),
        }
    }

    pub fn scores(&self) -> &MotifScores {
        &self.scores
    }

    /// Whether the model's distribution is losing to "it stays" on this track, live.
    pub fn losing(&self) -> bool {
        self.losing
    }

    /// The live Brier scores of the model and of "it stays", once any were scored.
    pub fn live_brier(&self) -> Option<(f64, f64)> {
        (self.ew_weight > 0.0).then(|| (self.ew_model / self.ew_weight, self.ew_stay / self.ew_weight))
    }

    /// The stream restarted: pending distributions and transitions are dropped, counted.
    pub fn restart(&mut self) {
        self.scores.unscored += self.len as u64;
        self.scores.transition_censored += self.t_len as u64;
        self.len = 0;
        self.t_len = 0;
        self.current = None;
    }

    /// A model-rate frame was processed and `motif_now` is the motif as of it.
    pub fn on_frame(&mut self, stamp_ns: i64, motif_now: Option<MotifNow>) {
        self.frame += 1;
        self.last_stamp_ns = stamp_ns;
        let now = motif_now.map(|m| m.id);
        let slots = self.made.len();
        while self.len > 0 {
            let made = self.made[self.head];
            if made.frame + self.lookahead > self.frame {
                break;
            }
            if made.frame + self.lookahead == self.frame
                && let (Some(then), Some(truth)) = (made.motif_now, now)
            {
                let row = &self.probs[self.head * self.n_motifs..(self.head + 1) * self.n_motifs];
                let model_brier = score(&mut self.scores, row, made.stays, then, truth);
                self.live(model_brier, if then == truth { 0.0 } else { 2.0 });
            } else {
                self.scores.unscored += 1;
            }
            self.head = (self.head + 1) % slots;
            self.len -= 1;
        }
        if now != self.current {
            if let (Some(_), Some(_)) = (self.current, now) {
                for i in 0..self.t_len {
                    let p = self.transitions[(self.t_head + i) % TRANSITION_WINDOW];
                    let actual_s = (stamp_ns - p.stamp_ns) as f64 / 1e9;
                    self.scores
                        .transition_abs_err_s
                        .add((p.predicted_s as f64 - actual_s).abs());
                    self.scores
                        .transition_baseline_abs_err_s
                        .add((p.baseline_s as f64 - actual_s).abs());
                }
            } else {
                self.scores.transition_censored += self.t_len as u64;
            }
            self.t_len = 0;
            self.current = now;
        }
    }

    fn live(&mut self, model_brier: f64, stay_brier: f64) {
        let keep = 1.0 - 1.0 / MOTIF_EW_FRAMES;
        self.ew_model = self.ew_model * keep + model_brier;
        self.ew_stay = self.ew_stay * keep + stay_brier;
        self.ew_weight = self.ew_weight * keep + 1.0;
        self.live_scored += 1;
        let (m, s) = (self.ew_model / self.ew_weight, self.ew_stay / self.ew_weight);
        self.losing = self.live_scored >= MOTIF_LOSING_MIN_SCORED
            && if self.losing {
                m >= s + MOTIF_LOSING_MARGIN / 2.0
            } else {
                m > s + MOTIF_LOSING_MARGIN
            };
    }

    /// The heads ran on the newest frame: keep its distribution and transition time.
    pub fn publish(&mut self, p: Published<'_>) {
        let slots = self.made.len();
        if self.len == slots {
            self.scores.unscored += 1;
            self.head = (self.head + 1) % slots;
            self.len -= 1;
        }
        let tail = (self.head + self.len) % slots;
        let n = self.n_motifs.min(p.model.len());
        self.probs[tail * self.n_motifs..tail * self.n_motifs + n].copy_from_slice(&p.model[..n]);
        self.made[tail] = Made {
            frame: self.frame,
            motif_now: p.motif_now.map(|m| m.id),
            stays: p.stays,
        };
        self.len += 1;
        if let (Some(_), Some((predicted_s, baseline_s))) = (p.motif_now, p.transition_s)
            && predicted_s.is_finite()
            && baseline_s.is_finite()
        {
            if self.t_len == TRANSITION_WINDOW {
                self.scores.transition_censored += 1;
                self.t_head = (self.t_head + 1) % TRANSITION_WINDOW;
                self.t_len -= 1;
            }
            let at = (self.t_head + self.t_len) % TRANSITION_WINDOW;
            self.transitions[at] = Pending {
                stamp_ns: self.last_stamp_ns,
                predicted_s,
                baseline_s,
            };
            self.t_len += 1;
        }
    }
}

/// Where `truth` ranks in `probs`, ties broken as the published top list breaks them (the
/// lower id first).
fn rank(probs: &[f32], truth: u16) -> usize {
    let t = truth as usize;
    let p_truth = probs.get(t).copied().unwrap_or(0.0);
    probs
        .iter()
        .enumerate()
        .filter(|&(j, &p)| p > p_truth || (p == p_truth && j < t))
        .count()
}

fn brier(probs: &[f32], truth: u16) -> f64 {
    let p_truth = probs.get(truth as usize).copied().unwrap_or(0.0);
    let sq: f64 = probs.iter().map(|&p| (p as f64) * (p as f64)).sum();
    sq - 2.0 * p_truth as f64 + 1.0
}

/// Scores what was published (the model's distribution, or "it stays" when `stays`);
/// returns the model's own Brier score for the live comparison.
fn score(s: &mut MotifScores, model: &[f32], stays: bool, then: u16, truth: u16) -> f64 {
    let model_brier = brier(model, truth);
    let (rank, confidence, published_brier) = if stays {
        (
            if then == truth { 0 } else { usize::MAX },
            1.0,
            if then == truth { 0.0 } else { 2.0 },
        )
    } else {
        let top = model.iter().copied().fold(0.0f32, f32::max);
        (rank(model, truth), top as f64, model_brier)
    };
    s.record(Outcome {
        rank,
        confidence,
        brier: published_brier,
        model_brier,
        stayed: then == truth,
        published_stays: stays,
    });
    model_brier
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u16) -> Option<MotifNow> {
        Some(MotifNow { id, confidence: 1.0 })
    }

    fn model<'a>(probs: &'a [f32], now: u16, transition_s: Option<(f32, f32)>) -> Published<'a> {
        Published {
            model: probs,
            stays: false,
            motif_now: m(now),
            transition_s,
        }
    }

    #[test]
    fn distributions_are_scored_against_the_motif_lookahead_frames_on() {
        let mut s = MotifScorer::new(2, 3);
        // Frame 1: motif 0, the head says motif 1 in two frames (it will be right).
        s.on_frame(0, m(0));
        s.publish(model(&[0.2, 0.7, 0.1], 0, Some((0.05, 1.0))));
        s.on_frame(33_000_000, m(0));
        s.publish(model(&[0.9, 0.05, 0.05], 0, None));
        s.on_frame(66_000_000, m(1));
        let r = *s.scores();
        assert_eq!((r.scored, r.top1, r.top3, r.stay_top1), (1, 1, 1, 0));
        assert_eq!((r.change_scored, r.change_top3), (1, 1));
        assert!((r.brier_sum - (0.04 + 0.09 + 0.01)).abs() < 1e-6, "{}", r.brier_sum);
        assert_eq!(r.stay_brier_sum, 2.0);
        // The change came 66 ms after a prediction of 50 ms; the baseline said 1 s.
        assert_eq!(r.transition_abs_err_s.count, 1);
        assert!((r.transition_abs_err_s.total - 0.016).abs() < 1e-6);
        assert!((r.transition_baseline_abs_err_s.total - 0.934).abs() < 1e-6);
        // The second distribution (motif 0 at 0.9) is due at the next frame: motif 1 → miss.
        s.on_frame(99_000_000, m(1));
        let r = *s.scores();
        assert_eq!((r.scored, r.top1, r.top3, r.stay_top1), (2, 1, 2, 0));
        // Skill against "it stays" (Brier 2 per miss): 1 − (0.14 + 1.715) / 4.
        assert!((r.brier_skill().unwrap() - (1.0 - 1.855 / 4.0)).abs() < 1e-5);
        // Calibration: 0.7 right (bin 7), 0.9 wrong (bin 9).
        assert!((r.ece().unwrap() - (0.3 + 0.9) / 2.0).abs() < 1e-6, "{:?}", r.ece());
    }

    #[test]
    fn ties_rank_as_the_published_list_orders_them() {
        // Four motifs all at 0.25: only ids 0..3 are in a published top 3.
        assert_eq!(rank(&[0.25; 4], 2), 2);
        assert_eq!(rank(&[0.25; 4], 3), 3);
    }

    #[test]
    fn published_stays_is_scored_as_stays_and_the_model_beside_it() {
        let mut s = MotifScorer::new(1, 3);
        s.on_frame(0, m(0));
        s.publish(Published {
            model: &[0.1, 0.8, 0.1],
            stays: true,
            motif_now: m(0),
            transition_s: None,
        });
        s.on_frame(33_000_000, m(1));
        let r = *s.scores();
        assert_eq!((r.top1, r.top3, r.change_top3, r.published_stays), (0, 0, 0, 1));
        assert_eq!(r.brier_sum, 2.0);
        assert!((r.model_brier_sum - (0.01 + 0.04 + 0.01)).abs() < 1e-6);
    }

    #[test]
    fn a_model_worse_than_it_stays_is_losing_live_and_recovers() {
        let mut s = MotifScorer::new(1, 2);
        let mut t = 0;
        let mut run = |s: &mut MotifScorer, probs: &[f32], frames: usize| {
            for _ in 0..frames {
                s.on_frame(t, m(0));
                s.publish(model(probs, 0, None));
                t += 33_000_000;
            }
        };
        // The person stays in motif 0; a model that says "motif 1" loses to "it stays".
        run(&mut s, &[0.2, 0.8], MOTIF_LOSING_MIN_SCORED as usize);
        assert!(!s.losing(), "not before enough were scored");
        run(&mut s, &[0.2, 0.8], 5);
        assert!(s.losing());
        run(&mut s, &[1.0, 0.0], 1200);
        assert!(!s.losing());
    }

    #[test]
    fn a_restart_drops_pending_counted() {
        let mut s = MotifScorer::new(15, 4);
        for i in 0..5 {
            s.on_frame(i * 33, m(0));
            s.publish(model(&[0.25; 4], 0, Some((1.0, 1.0))));
        }
        s.restart();
        assert_eq!(s.scores().unscored, 5);
        assert_eq!(s.scores().transition_censored, 5);
        for i in 0..20 {
            s.on_frame(1000 + i * 33, m(1));
        }
        assert_eq!(s.scores().scored, 0);
    }
}
