//! The engine's next-motif output: the anticipation prior applied to what the head sees
//! now, or "it stays" where there is no prior or the model is losing to it live.

use crate::model::AnticipationPrior;

use super::anticipation::MotifBasis;
use super::engine::MAX_TOP_K;

/// What the heads saw on a frame that the next-motif output is made from.
#[derive(Clone, Copy, Debug)]
pub struct MotifInputs<'a> {
    /// The current motif, if any.
    pub now: Option<u16>,
    /// Time since the current motif became current, seconds.
    pub age_s: f32,
    /// RMS joint speed over the last frames (the decode's), m/s.
    pub speed_mps: f32,
    /// The next-motif head's distribution.
    pub head: &'a [f32],
    pub horizon_s: f32,
}

/// The model's distribution (into `model_out`) and its transition times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotifOutput {
    pub basis: MotifBasis,
    /// Published median time to the change (`f32::INFINITY`: beyond the prior's range).
    pub transition_in_s: Option<f32>,
    /// The same as scored ("beyond" as the range) and the baseline's: the current motif's
    /// median training duration minus the time spent in it.
    pub transition_scored_s: Option<(f32, f32)>,
}

/// The model's distribution of the motif `horizon_s` ahead into `model_out` (length `k`).
pub fn anticipate(prior: Option<&AnticipationPrior>, x: MotifInputs<'_>, model_out: &mut [f32]) -> MotifOutput {
    let none = MotifOutput {
        basis: MotifBasis::Head,
        transition_in_s: None,
        transition_scored_s: None,
    };
    let Some(now) = x.now.map(usize::from).filter(|&n| n < model_out.len()) else {
        let n = model_out.len().min(x.head.len());
        model_out[..n].copy_from_slice(&x.head[..n]);
        return none;
    };
    let Some(prior) = prior else {
        model_out.fill(0.0);
        model_out[now] = 1.0;
        return MotifOutput {
            basis: MotifBasis::StaysNoPrior,
            ..none
        };
    };
    let head_change = 1.0 - x.head.get(now).copied().unwrap_or(0.0);
    let prior_change = prior.prior_change(now, x.age_s, x.horizon_s);
    let change = prior.change(prior_change, head_change, x.speed_mps);
    prior.distribution(now, change, x.head, model_out);
    let median = prior.median_remaining_s(now, x.age_s, x.horizon_s, change);
    let baseline = (prior.median_duration_s[now] - x.age_s).max(0.0);
    MotifOutput {
        basis: MotifBasis::Model,
        transition_in_s: Some(median.unwrap_or(f32::INFINITY)),
        transition_scored_s: Some((median.unwrap_or(prior.range_s()), baseline)),
    }
}

/// The `k` most likely motifs, most likely first; ties go to the lower id.
pub fn top_k(probs: &[f32], k: usize, out: &mut heapless::Vec<(u16, f32), MAX_TOP_K>) {
    out.clear();
    for (i, &p) in probs.iter().enumerate() {
        let pos = out.iter().position(|&(_, q)| p > q).unwrap_or(out.len());
        if pos < k {
            if out.len() == k {
                out.pop();
            }
            // len < k <= MAX_TOP_K after the pop.
            let _ = out.insert(pos, (i as u16, p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_sorted_and_bounded() {
        let mut out = heapless::Vec::new();
        top_k(&[0.1, 0.4, 0.05, 0.3, 0.15], 3, &mut out);
        assert_eq!(out.as_slice(), &[(1, 0.4), (3, 0.3), (4, 0.15)]);
        top_k(&[0.5, 0.5], 3, &mut out);
        assert_eq!(out.as_slice(), &[(0, 0.5), (1, 0.5)]);
    }

    fn prior() -> AnticipationPrior {
        // Motif 0 ends at 20 % per 0.1 s, motif 1 at 1 % per 0.1 s; a 1 s curve each.
        let mut hazard = vec![0.2; 20];
        hazard[10..].fill(0.01);
        AnticipationPrior {
            k: 2,
            bin_s: 0.1,
            hazard,
            median_duration_s: vec![0.31, 6.9],
            transition: vec![0.0, 1.0, 1.0, 0.0],
            change_weights: vec![0.0, 1.0, 0.0, 0.0],
            next_prior_exponent: 1.0,
            next_head_exponent: 0.0,
        }
    }

    fn inputs(now: Option<u16>, age_s: f32, head: &[f32]) -> MotifInputs<'_> {
        MotifInputs {
            now,
            age_s,
            speed_mps: 1.0,
            head,
            horizon_s: 0.5,
        }
    }

    #[test]
    fn without_a_prior_it_stays_and_says_so() {
        let mut out = [0.0; 2];
        let o = anticipate(None, inputs(Some(1), 0.0, &[0.9, 0.1]), &mut out);
        assert_eq!(o.basis, MotifBasis::StaysNoPrior);
        assert_eq!(out, [0.0, 1.0]);
        assert_eq!(o.transition_in_s, None);
    }

    #[test]
    fn the_prior_splits_stay_and_change_and_times_the_transition() {
        let p = prior();
        let mut out = [0.0; 2];
        let o = anticipate(Some(&p), inputs(Some(0), 0.2, &[0.5, 0.5]), &mut out);
        assert_eq!(o.basis, MotifBasis::Model);
        let change = 1.0 - 0.8f32.powi(5);
        assert!((out[1] - change).abs() < 1e-4, "{out:?}");
        let t = o.transition_in_s.unwrap();
        assert!((t - 0.1 * 2f32.ln() / -(0.8f32.ln())).abs() < 0.01, "{t}");
        assert!((o.transition_scored_s.unwrap().1 - 0.11).abs() < 1e-6);
        // Motif 1's curve stays above one half over the 1 s range: beyond the horizon,
        // scored as the range.
        let o = anticipate(Some(&p), inputs(Some(1), 0.0, &[0.5, 0.5]), &mut out);
        assert_eq!(o.transition_in_s, Some(f32::INFINITY));
        assert_eq!(o.transition_scored_s.unwrap().0, p.range_s());
    }
}
