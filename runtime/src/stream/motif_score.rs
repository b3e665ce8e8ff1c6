//! Anticipation, scored live: each frame's distribution over the motif `lookahead` frames
//! ahead (`MotifNext`, the current motif included) against the motif the engine assigned
//! when that frame came, and each `transition_in_s` against when the motif then changed.
//!
//! The comparison every score needs is "the motif stays": predicting the current motif
//! `horizon_s` ahead. A model that does not beat it anticipates nothing.

use super::engine::MotifNow;
use super::guard::Sum;

/// Most frames a transition prediction waits for its motif to change (10 s at 30 Hz);
/// older ones are censored (counted, not scored).
const TRANSITION_WINDOW: usize = 300;

/// What a run's anticipation adds up to. Tracks and recordings merge.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MotifScores {
    /// Distributions scored (a motif was current when made and when due).
    pub scored: u64,
    pub top1: u64,
    pub top3: u64,
    /// The current motif was still the motif `horizon_s` later.
    pub stay_top1: u64,
    /// Sum of multi-class Brier scores `Σ_k (p_k − [k = truth])²`.
    pub brier_sum: f64,
    /// Brier sum of "the motif stays" (probability 1 on the current motif): 2 per miss.
    pub stay_brier_sum: f64,
    /// Distributions dropped unscored: no motif at either end, or a restart.
    pub unscored: u64,
    /// |predicted − actual| time to the next change of motif, seconds.
    pub transition_abs_err_s: Sum,
    /// Transition predictions whose change never came within the window or the stream.
    pub transition_censored: u64,
}

impl MotifScores {
    pub fn merge(&mut self, o: &MotifScores) {
        self.scored += o.scored;
        self.top1 += o.top1;
        self.top3 += o.top3;
        self.stay_top1 += o.stay_top1;
        self.brier_sum += o.brier_sum;
        self.stay_brier_sum += o.stay_brier_sum;
        self.unscored += o.unscored;
        self.transition_abs_err_s.merge(&o.transition_abs_err_s);
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

    pub fn brier(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.brier_sum / self.scored as f64)
    }

    pub fn stay_brier(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.stay_brier_sum / self.scored as f64)
    }
}

#[derive(Clone, Copy, Debug)]
struct Made {
    frame: u64,
    motif_now: Option<u16>,
}

/// One track's anticipation scoring; sized at construction.
#[derive(Clone, Debug)]
pub struct MotifScorer {
    lookahead: u64,
    n_motifs: usize,
    /// Distributions of the last `lookahead + 1` emitting frames, ring of `n_motifs` rows.
    probs: Vec<f32>,
    made: Vec<Made>,
    head: usize,
    len: usize,
    frame: u64,
    /// Transition predictions since the current motif began: (stamp_ns, seconds).
    transitions: Vec<(i64, f32)>,
    t_head: usize,
    t_len: usize,
    current: Option<u16>,
    /// Stamp of the newest frame, which the next `publish` is about.
    last_stamp_ns: i64,
    scores: MotifScores,
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
                    motif_now: None
                };
                slots
            ],
            head: 0,
            len: 0,
            frame: 0,
            transitions: vec![(0, 0.0); TRANSITION_WINDOW],
            t_head: 0,
            t_len: 0,
            current: None,
            last_stamp_ns: 0,
            scores: MotifScores::default(),
        }
    }

    pub fn scores(&self) -> &MotifScores {
        &self.scores
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
                score(&mut self.scores, row, then, truth);
            } else {
                self.scores.unscored += 1;
            }
            self.head = (self.head + 1) % slots;
            self.len -= 1;
        }
        if now != self.current {
            if let (Some(_), Some(_)) = (self.current, now) {
                for i in 0..self.t_len {
                    let (t0, predicted_s) = self.transitions[(self.t_head + i) % TRANSITION_WINDOW];
                    let actual_s = (stamp_ns - t0) as f64 / 1e9;
                    self.scores
                        .transition_abs_err_s
                        .add((predicted_s as f64 - actual_s).abs());
                }
            } else {
                self.scores.transition_censored += self.t_len as u64;
            }
            self.t_len = 0;
            self.current = now;
        }
    }
}

fn score(s: &mut MotifScores, probs: &[f32], then: u16, truth: u16) {
    let p_truth = probs.get(truth as usize).copied().unwrap_or(0.0);
    let rank = probs.iter().filter(|&&p| p > p_truth).count();
    s.scored += 1;
    s.top1 += (rank == 0) as u64;
    s.top3 += (rank < 3) as u64;
    s.stay_top1 += (then == truth) as u64;
    let sq: f64 = probs.iter().map(|&p| (p as f64) * (p as f64)).sum();
    s.brier_sum += sq - 2.0 * p_truth as f64 + 1.0;
    s.stay_brier_sum += if then == truth { 0.0 } else { 2.0 };
}

impl MotifScorer {
    /// The heads ran on the newest frame: keep its distribution and transition time.
    pub fn publish(&mut self, probs: &[f32], motif_now: Option<MotifNow>, transition_in_s: Option<f32>) {
        let slots = self.made.len();
        if self.len == slots {
            self.scores.unscored += 1;
            self.head = (self.head + 1) % slots;
            self.len -= 1;
        }
        let tail = (self.head + self.len) % slots;
        let n = self.n_motifs.min(probs.len());
        self.probs[tail * self.n_motifs..tail * self.n_motifs + n].copy_from_slice(&probs[..n]);
        self.made[tail] = Made {
            frame: self.frame,
            motif_now: motif_now.map(|m| m.id),
        };
        self.len += 1;
        if let (Some(_), Some(t)) = (motif_now, transition_in_s)
            && t.is_finite()
        {
            if self.t_len == TRANSITION_WINDOW {
                self.scores.transition_censored += 1;
                self.t_head = (self.t_head + 1) % TRANSITION_WINDOW;
                self.t_len -= 1;
            }
            let at = (self.t_head + self.t_len) % TRANSITION_WINDOW;
            self.transitions[at] = (self.last_stamp_ns, t);
            self.t_len += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u16) -> Option<MotifNow> {
        Some(MotifNow { id, confidence: 1.0 })
    }

    #[test]
    fn distributions_are_scored_against_the_motif_lookahead_frames_on() {
        let mut s = MotifScorer::new(2, 3);
        // Frame 1: motif 0, the head says motif 1 in two frames (it will be right).
        s.on_frame(0, m(0));
        s.publish(&[0.2, 0.7, 0.1], m(0), Some(0.05));
        s.on_frame(33_000_000, m(0));
        s.publish(&[0.9, 0.05, 0.05], m(0), None);
        s.on_frame(66_000_000, m(1));
        let r = *s.scores();
        assert_eq!((r.scored, r.top1, r.top3, r.stay_top1), (1, 1, 1, 0));
        assert!((r.brier_sum - (0.04 + 0.09 + 0.01)).abs() < 1e-6, "{}", r.brier_sum);
        assert_eq!(r.stay_brier_sum, 2.0);
        // The change came 66 ms after a prediction of 50 ms.
        assert_eq!(r.transition_abs_err_s.count, 1);
        assert!((r.transition_abs_err_s.total - 0.016).abs() < 1e-6);
        // The second distribution (motif 0 at 0.9) is due at the next frame: motif 1 → miss.
        s.on_frame(99_000_000, m(1));
        let r = *s.scores();
        assert_eq!((r.scored, r.top1, r.top3, r.stay_top1), (2, 1, 2, 0));
    }

    #[test]
    fn a_restart_drops_pending_counted() {
        let mut s = MotifScorer::new(15, 4);
        for i in 0..5 {
            s.on_frame(i * 33, m(0));
            s.publish(&[0.25; 4], m(0), Some(1.0));
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
