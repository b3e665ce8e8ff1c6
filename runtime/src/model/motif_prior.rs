//! The anticipation prior: what the training recordings say about how long a person stays
//! in each motif and which motif follows, and how much to trust the next-motif head beside
//! it. The engine publishes
//! `p(k) = (1 − h)·[k = motif now] + h·q(k | change)`:
//!
//! - `h`, the probability of a change within the horizon: a logistic model over the
//!   duration prior's own probability (a discrete-time hazard per motif over the time
//!   already spent in it, Kaplan–Meier on the training segments so that segments cut off
//!   by the end of a recording count as "lasted at least this long"), the head's
//!   probability of leaving the current motif, and the body's speed;
//! - `q`, over the other motifs only: the smoothed transition counts raised to one
//!   exponent times the head's probabilities raised to another, both fitted on the
//!   training recordings.
//!
//! Everything here is allocation-free: the engine calls it per frame.

use serde::{Deserialize, Serialize};

/// Most duration bins a prior may store (bounds the engine's per-frame walk).
pub const MAX_DURATION_BINS: usize = 1024;
/// Inputs of the change model, in this order (see [`change_features`]).
pub const CHANGE_FEATURES: [&str; 4] = ["bias", "logit_prior_change", "logit_head_change", "ln_speed"];

/// Probabilities are kept this far from 0 and 1 so their logits stay finite.
const P_EPS: f32 = 1e-5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnticipationPrior {
    /// Motifs (the vocabulary's `k`).
    pub k: usize,
    /// Width of one duration bin, seconds.
    pub bin_s: f32,
    /// `k * n_bins`, row-major: the probability that a motif which has lasted to the start
    /// of bin `b` ends within it. Past the last bin the last bin's hazard holds.
    pub hazard: Vec<f32>,
    /// `k`: the median duration of each motif on the training recordings (the survival
    /// curve's), seconds: the transition-time baseline.
    pub median_duration_s: Vec<f32>,
    /// `k * k`, row-major, zero diagonal, rows summing to 1: which motif follows which.
    pub transition: Vec<f32>,
    /// Logistic weights of the change probability over [`CHANGE_FEATURES`].
    pub change_weights: Vec<f32>,
    /// Exponent of the transition prior in `q`.
    pub next_prior_exponent: f32,
    /// Exponent of the head's probabilities in `q` (0: the head is ignored).
    pub next_head_exponent: f32,
}

/// A field of the prior that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`anticipation.{field}`: {message}")]
pub struct PriorError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> PriorError {
    PriorError {
        field,
        message: message.into(),
    }
}

pub fn logit(p: f32) -> f32 {
    let p = p.clamp(P_EPS, 1.0 - P_EPS);
    (p / (1.0 - p)).ln()
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The change model's inputs (see [`CHANGE_FEATURES`]).
pub fn change_features(prior_change: f32, head_change: f32, speed_mps: f32) -> [f32; 4] {
    let speed = if speed_mps.is_finite() { speed_mps.max(0.0) } else { 0.0 };
    [1.0, logit(prior_change), logit(head_change), (0.05 + speed).ln()]
}

impl AnticipationPrior {
    /// A prior for tests: every motif ends at `hazard_per_bin` per 0.1 s over `bins` bins,
    /// with median duration `median_s`, and moves to each other motif alike.
    #[cfg(test)]
    pub(crate) fn uniform(k: usize, hazard_per_bin: f32, bins: usize, median_s: f32) -> Self {
        Self {
            k,
            bin_s: 0.1,
            hazard: vec![hazard_per_bin; k * bins],
            median_duration_s: vec![median_s; k],
            transition: (0..k * k)
                .map(|i| if i / k == i % k { 0.0 } else { 1.0 / (k - 1) as f32 })
                .collect(),
            change_weights: vec![0.0, 1.0, 0.0, 0.0],
            next_prior_exponent: 1.0,
            next_head_exponent: 0.0,
        }
    }

    pub fn n_bins(&self) -> usize {
        self.hazard.len().checked_div(self.k).unwrap_or(0)
    }

    /// How far the survival curve reaches: a median beyond it is "beyond the horizon".
    pub fn range_s(&self) -> f32 {
        self.n_bins() as f32 * self.bin_s
    }

    /// Checked at load: every field the engine reads, with the one that fails named.
    pub fn check(&self, n_motifs: usize) -> Result<(), PriorError> {
        if self.k != n_motifs {
            return Err(err("k", format!("{} motifs, the vocabulary has {n_motifs}", self.k)));
        }
        if !(self.bin_s.is_finite() && self.bin_s > 0.0) {
            return Err(err("bin_s", format!("must be finite and positive, not {}", self.bin_s)));
        }
        let bins = self.n_bins();
        if self.hazard.len() != self.k * bins || !(1..=MAX_DURATION_BINS).contains(&bins) {
            return Err(err(
                "hazard",
                format!(
                    "{} values: must be k ({}) times 1..={MAX_DURATION_BINS} bins",
                    self.hazard.len(),
                    self.k
                ),
            ));
        }
        if let Some(h) = self.hazard.iter().find(|h| !(0.0..=1.0).contains(*h)) {
            return Err(err("hazard", format!("{h} is not a probability")));
        }
        if self.median_duration_s.len() != self.k {
            return Err(err(
                "median_duration_s",
                format!("{} values, expected k = {}", self.median_duration_s.len(), self.k),
            ));
        }
        if let Some(m) = self.median_duration_s.iter().find(|m| !(m.is_finite() && **m >= 0.0)) {
            return Err(err("median_duration_s", format!("{m} is not a duration")));
        }
        if self.transition.len() != self.k * self.k {
            return Err(err(
                "transition",
                format!("{} values, expected k² = {}", self.transition.len(), self.k * self.k),
            ));
        }
        for (from, row) in self.transition.chunks_exact(self.k.max(1)).enumerate() {
            if row.iter().any(|p| !(p.is_finite() && *p >= 0.0)) || row[from] != 0.0 {
                return Err(err(
                    "transition",
                    format!("row {from}: probabilities must be finite, >= 0 and 0 on the diagonal"),
                ));
            }
            let sum: f32 = row.iter().sum();
            if self.k > 1 && (sum - 1.0).abs() > 1e-3 {
                return Err(err("transition", format!("row {from} sums to {sum}, not 1")));
            }
        }
        if self.change_weights.len() != CHANGE_FEATURES.len() || self.change_weights.iter().any(|w| !w.is_finite()) {
            return Err(err(
                "change_weights",
                format!(
                    "must be {} finite weights ({})",
                    CHANGE_FEATURES.len(),
                    CHANGE_FEATURES.join(", ")
                ),
            ));
        }
        for (field, v) in [
            ("next_prior_exponent", self.next_prior_exponent),
            ("next_head_exponent", self.next_head_exponent),
        ] {
            if !(v.is_finite() && (0.0..=10.0).contains(&v)) {
                return Err(err(field, format!("must be in 0..=10, not {v}")));
            }
        }
        Ok(())
    }

    /// `ln(1 − hazard)` of motif `k`'s bin `b`, the last bin's beyond the curve.
    fn log_stay(&self, k: usize, b: usize) -> f32 {
        let n = self.n_bins();
        let h = self.hazard[k * n + b.min(n - 1)];
        (1.0 - h.min(1.0 - P_EPS)).ln()
    }

    /// `ln S(t)` of motif `k`: log survival to duration `t_s`, constant hazard within a bin.
    fn log_survival(&self, k: usize, t_s: f32) -> f32 {
        let x = (t_s.max(0.0) / self.bin_s).min(1e6);
        let whole = x.floor() as usize;
        let mut l = 0.0;
        for b in 0..whole.min(self.n_bins()) {
            l += self.log_stay(k, b);
        }
        if whole > self.n_bins() {
            l += (whole - self.n_bins()) as f32 * self.log_stay(k, self.n_bins());
        }
        l + (x - whole as f32) * self.log_stay(k, whole)
    }

    /// The duration prior's probability that motif `k`, current for `age_s`, ends within
    /// `horizon_s`.
    pub fn prior_change(&self, k: usize, age_s: f32, horizon_s: f32) -> f32 {
        if k >= self.k {
            return 0.0;
        }
        let l = self.log_survival(k, age_s + horizon_s) - self.log_survival(k, age_s);
        1.0 - l.exp()
    }

    /// The probability of a change within the horizon, given what the head sees.
    pub fn change(&self, prior_change: f32, head_change: f32, speed_mps: f32) -> f32 {
        let x = change_features(prior_change, head_change, speed_mps);
        sigmoid(x.iter().zip(&self.change_weights).map(|(x, w)| x * w).sum())
    }

    /// Median time left in motif `k` after `age_s`, the survival curve's hazards scaled so
    /// that it ends within `horizon_s` with probability `change` (proportional hazards);
    /// `None` when the curve stays above one half over [`Self::range_s`] from now.
    pub fn median_remaining_s(&self, k: usize, age_s: f32, horizon_s: f32, change: f32) -> Option<f32> {
        if k >= self.k {
            return None;
        }
        let h0 = self.prior_change(k, age_s, horizon_s).clamp(P_EPS, 1.0 - P_EPS);
        let scale = (1.0 - change.clamp(P_EPS, 1.0 - P_EPS)).ln() / (1.0 - h0).ln();
        // Cumulative hazard (prior's scale) that brings the scaled curve to one half.
        let target = std::f32::consts::LN_2 / scale;
        let mut t = age_s.max(0.0);
        let mut acc = 0.0f32;
        let end = t + self.range_s();
        while t < end {
            let b = (t / self.bin_s).floor();
            let next = ((b + 1.0) * self.bin_s).min(end);
            let rate = -self.log_stay(k, b as usize) / self.bin_s;
            let step = rate * (next - t);
            if acc + step >= target {
                return Some(t - age_s + if rate > 0.0 { (target - acc) / rate } else { 0.0 });
            }
            acc += step;
            t = next;
        }
        None
    }

    /// The next-motif distribution into `out` (length `k`): `1 − change` on `now`, `change`
    /// spread over the others by the transition prior and the head.
    pub fn distribution(&self, now: usize, change: f32, head: &[f32], out: &mut [f32]) {
        let k = self.k.min(out.len()).min(head.len());
        if now >= k {
            out[..k].copy_from_slice(&head[..k]);
            return;
        }
        let row = &self.transition[now * self.k..now * self.k + k];
        let score = |j: usize| {
            self.next_prior_exponent * (row[j] + 1e-9).ln() + self.next_head_exponent * (head[j].max(0.0) + 1e-9).ln()
        };
        let best = (0..k)
            .filter(|&j| j != now)
            .map(score)
            .fold(f32::NEG_INFINITY, f32::max);
        let mut z = 0.0;
        for (j, o) in out[..k].iter_mut().enumerate() {
            *o = if j == now { 0.0 } else { (score(j) - best).exp() };
            z += *o;
        }
        let change = if z > 0.0 { change.clamp(0.0, 1.0) } else { 0.0 };
        for (j, o) in out[..k].iter_mut().enumerate() {
            *o = if j == now {
                1.0 - change
            } else {
                change * *o / z.max(f32::MIN_POSITIVE)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two motifs; motif 0 ends at a constant 10 % per 0.1 s, motif 1 never before 1 s.
    pub(crate) fn two_motifs() -> AnticipationPrior {
        let mut hazard = vec![0.1; 20];
        hazard[10..20].copy_from_slice(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]);
        AnticipationPrior {
            k: 2,
            bin_s: 0.1,
            hazard,
            median_duration_s: vec![0.66, 0.95],
            transition: vec![0.0, 1.0, 1.0, 0.0],
            change_weights: vec![0.0, 1.0, 0.0, 0.0],
            next_prior_exponent: 1.0,
            next_head_exponent: 0.0,
        }
    }

    #[test]
    fn the_prior_reads_the_hazard_from_the_time_already_spent() {
        let p = two_motifs();
        assert!(p.check(2).is_ok());
        let c = p.prior_change(0, 0.3, 0.5);
        assert!((c - (1.0 - 0.9f32.powi(5))).abs() < 1e-4, "{c}");
        assert!(p.prior_change(1, 0.0, 0.5) < 1e-4);
        assert!((p.prior_change(1, 0.5, 0.5) - 0.5).abs() < 1e-3);
        // With the change model reading only the prior, the median is the survival curve's.
        let m = p.median_remaining_s(0, 0.0, 0.5, p.change(c, 0.5, 1.0)).unwrap();
        assert!((m - 0.658).abs() < 0.01, "{m}");
        // A motif whose curve never falls below one half within the range.
        let mut flat = p.clone();
        flat.hazard[..10].fill(0.0);
        assert_eq!(flat.median_remaining_s(0, 0.0, 0.5, 1e-6), None);
    }

    #[test]
    fn the_distribution_stays_or_moves_by_the_change_probability() {
        let p = two_motifs();
        let mut out = [0.0; 2];
        p.distribution(0, 0.3, &[0.9, 0.1], &mut out);
        assert!((out[0] - 0.7).abs() < 1e-6 && (out[1] - 0.3).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn a_malformed_prior_names_its_field() {
        let mut p = two_motifs();
        p.transition[0] = 0.5;
        assert_eq!(p.check(2).unwrap_err().field, "transition");
        let mut p = two_motifs();
        p.hazard.pop();
        assert_eq!(p.check(2).unwrap_err().field, "hazard");
        let mut p = two_motifs();
        p.change_weights[1] = f32::NAN;
        assert_eq!(p.check(2).unwrap_err().field, "change_weights");
        assert_eq!(two_motifs().check(3).unwrap_err().field, "k");
        let mut p = two_motifs();
        p.median_duration_s.clear();
        assert_eq!(p.check(2).unwrap_err().field, "median_duration_s");
    }
}
