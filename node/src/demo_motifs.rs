//! The demo's score of the motifs it received: each published next-motif distribution
//! against the motif the same person is in when it falls due, with the scores the engine
//! keeps (`runtime::stream::MotifScores`), computed from the messages as a subscriber sees
//! them. A message carries the top few motifs only; the probability it leaves out is
//! counted as on none of them, so the Brier score here is the engine's minus that mass's
//! squares (at most the left-out mass squared per distribution).

use std::collections::{HashMap, VecDeque};

use a4mer_ros::msg::MotifAnticipation;
use a4mer_runtime::stream::MotifScores;
use a4mer_runtime::stream::motif_score::Outcome;
use a4mer_runtime::stream::report::AnticipationReport;

/// How far past its due stamp a distribution may still be scored (a frame and a bit): the
/// person's next message after it is the one that says where they were.
const DUE_SLACK_NS: i64 = 40_000_000;

struct Pending {
    due_ns: i64,
    now: i32,
    ids: Vec<i32>,
    probabilities: Vec<f32>,
}

#[derive(Default)]
pub struct MotifScorer {
    pending: HashMap<u32, VecDeque<Pending>>,
    pub scores: MotifScores,
    /// The horizon the distributions were published for (the last message's).
    pub horizon_s: f32,
}

impl MotifScorer {
    pub fn on_message(&mut self, m: &MotifAnticipation) {
        let stamp_ns = m.header.stamp.to_ns();
        let queue = self.pending.entry(m.person_id).or_default();
        while queue.front().is_some_and(|p| p.due_ns <= stamp_ns) {
            let Some(p) = queue.pop_front() else { break };
            if m.motif_now >= 0 && stamp_ns - p.due_ns <= DUE_SLACK_NS {
                score(&mut self.scores, &p, m.motif_now);
            } else {
                self.scores.unscored += 1;
            }
        }
        self.horizon_s = m.next_motif_horizon_s;
        let horizon_ns = (f64::from(m.next_motif_horizon_s) * 1e9) as i64;
        if m.motif_now >= 0 && horizon_ns > 0 && !m.next_motif_ids.is_empty() {
            queue.push_back(Pending {
                due_ns: stamp_ns + horizon_ns,
                now: m.motif_now,
                ids: m.next_motif_ids.clone(),
                probabilities: m.next_motif_probabilities.clone(),
            });
        }
    }
}

fn score(s: &mut MotifScores, p: &Pending, truth: i32) {
    let rank = p.ids.iter().position(|id| *id == truth).unwrap_or(usize::MAX);
    let listed: f64 = p
        .ids
        .iter()
        .zip(&p.probabilities)
        .map(|(id, q)| (f64::from(*q) - f64::from(u8::from(*id == truth))).powi(2))
        .sum();
    let brier = listed + if rank == usize::MAX { 1.0 } else { 0.0 };
    s.record(Outcome {
        rank,
        confidence: f64::from(p.probabilities.iter().copied().fold(0.0f32, f32::max)),
        brier,
        // A subscriber never sees the model's own distribution where "it stays" went out;
        // the summary leaves it out.
        model_brier: brier,
        stayed: p.now == truth,
        published_stays: p.ids.len() == 1 && p.ids[0] == p.now && p.probabilities.first().is_some_and(|q| *q >= 1.0),
    });
}

/// The summary's report: the engine's, without what a subscriber cannot know (the model's
/// own distribution where "it stays" was published, and the transition times).
pub fn summary(scorer: &MotifScorer) -> AnticipationReport {
    AnticipationReport {
        model_brier: None,
        model_brier_skill: None,
        ..AnticipationReport::new(&scorer.scores, scorer.horizon_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use a4mer_ros::msg::{Header, Time};

    fn msg(person_id: u32, t_ms: i64, now: i32, ids: &[i32], probabilities: &[f32]) -> MotifAnticipation {
        MotifAnticipation {
            header: Header {
                stamp: Time::from_ns(t_ms * 1_000_000).unwrap(),
                frame_id: "world".into(),
            },
            person_id,
            motif_now: now,
            motif_now_confidence: 0.9,
            next_motif_ids: ids.to_vec(),
            next_motif_probabilities: probabilities.to_vec(),
            expected_time_to_transition_s: f32::INFINITY,
            health: MotifAnticipation::HEALTH_OK,
            next_motif_horizon_s: 0.5,
        }
    }

    #[test]
    fn each_distribution_is_scored_against_the_motif_when_it_falls_due() {
        let mut s = MotifScorer::default();
        // Person 1 is in motif 4 and the message gives 7 a 60 % chance of coming next.
        s.on_message(&msg(1, 0, 4, &[7, 4], &[0.6, 0.4]));
        // "It stays" for person 2, who does stay.
        s.on_message(&msg(2, 0, 9, &[9], &[1.0]));
        // Not yet due: nothing scored.
        s.on_message(&msg(1, 400, 4, &[4], &[1.0]));
        assert_eq!(s.scores.scored, 0);
        // Due at 500 ms: person 1 is in motif 7 now, person 2 still in 9.
        s.on_message(&msg(1, 510, 7, &[7], &[1.0]));
        s.on_message(&msg(2, 520, 9, &[9], &[1.0]));
        let r = &s.scores;
        assert_eq!(
            (r.scored, r.top1, r.stay_top1, r.change_scored, r.change_top3),
            (2, 2, 1, 1, 1)
        );
        assert_eq!(r.published_stays, 1);
        // Person 1: (0.6 − 1)² + 0.4² = 0.32; person 2: 0. "It stays": 2 + 0.
        assert!((r.brier_sum - 0.32).abs() < 1e-6, "{}", r.brier_sum);
        assert!((summary(&s).brier_skill.unwrap() - 0.84).abs() < 1e-6);
        // A message that comes long after the due stamp cannot say where the person was.
        s.on_message(&msg(3, 0, 1, &[1], &[1.0]));
        s.on_message(&msg(3, 2_000, 2, &[2], &[1.0]));
        assert_eq!((s.scores.scored, s.scores.unscored), (2, 1));
    }
}
