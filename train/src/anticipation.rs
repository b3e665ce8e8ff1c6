//! Fitting the anticipation prior ([`AnticipationPrior`]) of a trained model on its
//! training recordings: the recordings are streamed through the engine as the node would
//! stream them, so the motifs, their durations and the head's distributions are exactly
//! the ones the prior will be applied to.
//!
//! - Duration prior: Kaplan–Meier per motif on bins of [`BIN_S`], the segments cut off by
//!   a recording's end or a stream restart counted as censored; each motif's hazard is
//!   shrunk towards the pooled one by [`SHRINK_AT_RISK`] pseudo-segments, so a rare motif
//!   borrows the common shape rather than a noisy one of its own.
//! - Transition prior: counts of which motif followed which, smoothed towards how often
//!   each motif is entered at all.
//! - The change model: logistic regression of "the motif 0.5 s later differs" on the
//!   prior's probability, the head's and the speed (its weights are the per-output
//!   temperatures); `q`'s two exponents by likelihood on the frames where the motif
//!   changed. Both are fitted on calibration recordings the heads did not train on (the
//!   training recordings' last 20 %): on the frames the next-motif head was trained on it
//!   is far more often right than on new ones, and a change model fitted there trusts it
//!   too much.

use std::sync::Arc;

use a4mer_runtime::FPS;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::model::motif_prior::{CHANGE_FEATURES, change_features, sigmoid};
use a4mer_runtime::model::{AnticipationPrior, PriorError};
use a4mer_runtime::stream::{Engine, EngineConfig, EngineError, StreamModel};
use serde::Serialize;

/// Duration bin width, seconds.
pub const BIN_S: f32 = 0.1;
/// Duration bins: the survival curve reaches 30 s.
pub const N_BINS: usize = 300;
/// Pseudo-segments at risk that pull a motif's hazard towards the pooled one.
pub const SHRINK_AT_RISK: f64 = 2.0;
/// Pseudo-counts of the pooled entry frequencies in each transition row.
pub const TRANSITION_PSEUDO_COUNTS: f64 = 1.0;
/// L2 penalty of the change model's non-bias weights.
const L2: f64 = 1e-2;
/// Exponents tried for `q`.
const EXPONENTS: [f32; 9] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0];

#[derive(Debug, thiserror::Error)]
pub enum AnticipationFitError {
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    #[error("no motif segment in the training recordings: too short for the engine to assign a motif")]
    NoSegments,
    #[error("no frame has a motif both now and {0} s later: the training recordings are too short")]
    NoSamples(f32),
    #[error("the fitted prior is unusable: {0}")]
    Prior(#[from] PriorError),
}

/// What the fit saw and made (the refit's summary).
#[derive(Clone, Debug, Default, Serialize)]
pub struct AnticipationFitReport {
    pub frames: u64,
    pub segments: u64,
    pub segments_censored: u64,
    pub samples: u64,
    /// Share of samples whose motif changed within the horizon.
    pub change_rate: f64,
    pub median_segment_s: f64,
    pub change_weights: Vec<(String, f32)>,
    pub next_prior_exponent: f32,
    pub next_head_exponent: f32,
    /// Samples the change model and `q`'s exponents were fitted on, and whether they came
    /// from the calibration recordings (false: too few there, the training ones instead).
    pub calibration_samples: u64,
    pub calibrated_on_unseen_frames: bool,
    /// On the calibration samples: Brier skill against "it stays", and top-1.
    pub fit_brier_skill: f64,
    pub fit_top1: f64,
    pub fit_stay_top1: f64,
}

struct Record {
    /// Model frames since the sequence began.
    index: u64,
    now: Option<u16>,
    since_ns: i64,
    age_s: f32,
    speed_mps: f32,
    head: Vec<f32>,
}

/// Each stream through a fresh engine: one record per frame the heads ran on, split into
/// sequences at restarts.
fn records(model: &Arc<StreamModel>, streams: &[&[PoseFrame]]) -> Result<Vec<Vec<Record>>, EngineError> {
    let mut out = Vec::new();
    for s in streams {
        let mut e = Engine::new(Arc::clone(model), EngineConfig::default())?;
        let mut seq: Vec<Record> = Vec::new();
        let (mut index, mut resets) = (0u64, 0u64);
        for f in *s {
            let Ok(a) = e.push_ref(f) else { continue };
            let (n, stamp_ns, r) = (a.model_frames as u64, a.stamp_ns, a.health.resets);
            if r != resets {
                resets = r;
                out.push(std::mem::take(&mut seq));
                index = 0;
            }
            if n == 0 {
                continue;
            }
            index += n;
            let (now, age_s, speed_mps, head) = e.motif_inputs();
            seq.push(Record {
                index,
                now,
                since_ns: stamp_ns - (age_s as f64 * 1e9) as i64,
                age_s,
                speed_mps,
                head: head.to_vec(),
            });
        }
        out.push(seq);
    }
    Ok(out)
}

/// A motif's stay: its motif, duration (s) and whether its end was seen.
struct Segment {
    motif: usize,
    duration_s: f32,
    next: Option<usize>,
    censored: bool,
}

fn segments(seqs: &[Vec<Record>]) -> Vec<Segment> {
    let mut out = Vec::new();
    let frame_s = 1.0 / FPS as f32;
    for seq in seqs {
        let mut open: Option<(usize, i64, f32)> = None;
        for r in seq {
            let now = r.now.map(usize::from);
            if let Some((m, since_ns, last_age_s)) = open
                && now != Some(m)
            {
                let complete = now.is_some();
                out.push(Segment {
                    motif: m,
                    duration_s: if complete {
                        (r.since_ns - since_ns) as f32 / 1e9
                    } else {
                        last_age_s + frame_s
                    },
                    next: now,
                    censored: !complete,
                });
                open = None;
            }
            open = match (open, now) {
                (Some((m, since, _)), Some(n)) if m == n => Some((m, since, r.age_s)),
                (_, Some(n)) => Some((n, r.since_ns, r.age_s)),
                _ => None,
            };
        }
        if let Some((m, _, age_s)) = open {
            out.push(Segment {
                motif: m,
                duration_s: age_s + frame_s,
                next: None,
                censored: true,
            });
        }
    }
    out
}

/// Kaplan–Meier hazards per bin, each motif shrunk towards the pooled curve.
fn hazards(segs: &[Segment], k: usize) -> Vec<f32> {
    let bin = |d: f32| ((d / BIN_S).floor().max(0.0) as usize).min(N_BINS);
    // events[m][b], at risk[m][b] (m = k is the pool).
    let mut events = vec![vec![0.0f64; N_BINS + 1]; k + 1];
    let mut exits = vec![vec![0.0f64; N_BINS + 1]; k + 1];
    for s in segs {
        let b = bin(s.duration_s);
        for m in [s.motif, k] {
            exits[m][b] += 1.0;
            if !s.censored {
                events[m][b] += 1.0;
            }
        }
    }
    let at_risk = |m: usize| -> Vec<f64> {
        let mut r = vec![0.0; N_BINS + 1];
        let mut left: f64 = exits[m].iter().sum();
        for b in 0..=N_BINS {
            r[b] = left;
            left -= exits[m][b];
        }
        r
    };
    let pool_risk = at_risk(k);
    let mut pool = vec![0.0f64; N_BINS];
    let mut last = 0.05;
    for b in 0..N_BINS {
        if pool_risk[b] > 0.0 {
            last = events[k][b] / pool_risk[b];
        }
        pool[b] = last;
    }
    let mut out = Vec::with_capacity(k * N_BINS);
    for (m, ev) in events.iter().enumerate().take(k) {
        let risk = at_risk(m);
        for b in 0..N_BINS {
            let h = (ev[b] + SHRINK_AT_RISK * pool[b]) / (risk[b] + SHRINK_AT_RISK);
            out.push(h.clamp(1e-4, 0.999) as f32);
        }
    }
    out
}

fn median_of(hazard: &[f32]) -> f32 {
    let mut s = 1.0f32;
    for (b, h) in hazard.iter().enumerate() {
        let next = s * (1.0 - h);
        if next <= 0.5 {
            return (b as f32 + (s - 0.5) / (s - next).max(1e-9)) * BIN_S;
        }
        s = next;
    }
    hazard.len() as f32 * BIN_S
}

fn transitions(segs: &[Segment], k: usize) -> Vec<f32> {
    let mut counts = vec![0.0f64; k * k];
    let mut entered = vec![1.0f64; k];
    for s in segs {
        if let Some(n) = s.next.filter(|&n| n != s.motif && n < k) {
            counts[s.motif * k + n] += 1.0;
            entered[n] += 1.0;
        }
    }
    let total: f64 = entered.iter().sum();
    let mut out = vec![0.0f32; k * k];
    for from in 0..k {
        let row: Vec<f64> = (0..k)
            .map(|to| {
                if to == from {
                    0.0
                } else {
                    counts[from * k + to] + TRANSITION_PSEUDO_COUNTS * entered[to] / total * k as f64
                }
            })
            .collect();
        let z: f64 = row.iter().sum();
        for to in 0..k {
            out[from * k + to] = if z > 0.0 { (row[to] / z) as f32 } else { 0.0 };
        }
    }
    out
}

/// Logistic regression by Newton's method (4 weights: a 4×4 solve per step).
fn logistic(xs: &[[f32; 4]], ys: &[bool]) -> Vec<f32> {
    let mut w = [0.0f64; 4];
    for _ in 0..30 {
        let mut g = [0.0f64; 4];
        let mut h = [[0.0f64; 4]; 4];
        for (x, &y) in xs.iter().zip(ys) {
            let z: f64 = (0..4).map(|i| w[i] * x[i] as f64).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let r = p - y as u8 as f64;
            let s = (p * (1.0 - p)).max(1e-9);
            for i in 0..4 {
                g[i] += r * x[i] as f64;
                for j in 0..4 {
                    h[i][j] += s * x[i] as f64 * x[j] as f64;
                }
            }
        }
        for i in 1..4 {
            g[i] += L2 * xs.len() as f64 * w[i];
            h[i][i] += L2 * xs.len() as f64;
        }
        h[0][0] += 1e-9;
        let Some(step) = solve4(h, g) else { break };
        for i in 0..4 {
            w[i] -= step[i];
        }
        if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-6 {
            break;
        }
    }
    w.iter().map(|&v| v as f32).collect()
}

fn solve4(mut a: [[f64; 4]; 4], mut b: [f64; 4]) -> Option<[f64; 4]> {
    for c in 0..4 {
        let p = (c..4).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in 0..4 {
            if r != c {
                let f = a[r][c] / a[c][c];
                let pivot = a[c];
                for (x, p) in a[r].iter_mut().zip(pivot).skip(c) {
                    *x -= f * p;
                }
                b[r] -= f * b[c];
            }
        }
    }
    Some(std::array::from_fn(|i| b[i] / a[i][i]))
}

struct Sample<'a> {
    now: usize,
    truth: usize,
    x: [f32; 4],
    head: &'a [f32],
}

/// Samples of "which motif 0.5 s later" over `seqs`: the change model's features and the head.
fn samples<'a>(seqs: &'a [Vec<Record>], prior: &AnticipationPrior, lookahead: u64, horizon_s: f32) -> Vec<Sample<'a>> {
    let mut out = Vec::new();
    for seq in seqs {
        for r in seq {
            let Some(now) = r.now.map(usize::from) else { continue };
            let Ok(at) = seq.binary_search_by_key(&(r.index + lookahead), |q| q.index) else {
                continue;
            };
            let Some(truth) = seq[at].now.map(usize::from) else {
                continue;
            };
            let head_change = 1.0 - r.head.get(now).copied().unwrap_or(0.0);
            out.push(Sample {
                now,
                truth,
                x: change_features(prior.prior_change(now, r.age_s, horizon_s), head_change, r.speed_mps),
                head: &r.head,
            });
        }
    }
    out
}

/// Calibration samples fewer than this fall back to the training ones.
const MIN_CALIBRATION_SAMPLES: usize = 200;

/// Fit the prior: durations and transitions on `streams` (the training recordings'
/// frames), the change model and `q`'s exponents on `calibration` (frames of the training
/// recordings the heads did not train on); never on held-out recordings.
pub fn fit_anticipation(
    model: &Arc<StreamModel>,
    streams: &[&[PoseFrame]],
    calibration: &[&[PoseFrame]],
) -> Result<(AnticipationPrior, AnticipationFitReport), AnticipationFitError> {
    let k = model.config().n_motifs;
    let lookahead = model.config().motif_lookahead_frames as u64;
    let horizon_s = lookahead as f32 / FPS as f32;
    let seqs = records(model, streams)?;
    let segs = segments(&seqs);
    if segs.is_empty() {
        return Err(AnticipationFitError::NoSegments);
    }
    let hazard = hazards(&segs, k);
    let mut prior = AnticipationPrior {
        k,
        bin_s: BIN_S,
        median_duration_s: hazard.chunks_exact(N_BINS).map(median_of).collect(),
        hazard,
        transition: transitions(&segs, k),
        change_weights: vec![0.0, 1.0, 0.0, 0.0],
        next_prior_exponent: 1.0,
        next_head_exponent: 0.0,
    };
    let calibration_seqs = records(model, calibration)?;
    let mut samples = samples(&calibration_seqs, &prior, lookahead, horizon_s);
    let calibrated_on_unseen_frames = samples.len() >= MIN_CALIBRATION_SAMPLES;
    if !calibrated_on_unseen_frames {
        samples = self::samples(&seqs, &prior, lookahead, horizon_s);
    }
    if samples.is_empty() {
        return Err(AnticipationFitError::NoSamples(horizon_s));
    }
    let xs: Vec<[f32; 4]> = samples.iter().map(|s| s.x).collect();
    let ys: Vec<bool> = samples.iter().map(|s| s.truth != s.now).collect();
    prior.change_weights = logistic(&xs, &ys);
    // q's exponents: the likelihood of the motif changed into, on the frames that changed.
    let mut out = vec![0.0f32; k];
    let mut best = (f64::INFINITY, 1.0, 0.0);
    for &a in &EXPONENTS {
        for &b in &EXPONENTS {
            prior.next_prior_exponent = a;
            prior.next_head_exponent = b;
            let mut nll = 0.0f64;
            for s in samples.iter().filter(|s| s.truth != s.now) {
                prior.distribution(s.now, 1.0, s.head, &mut out);
                nll -= (out[s.truth].max(1e-9) as f64).ln();
            }
            if nll < best.0 {
                best = (nll, a, b);
            }
        }
    }
    (prior.next_prior_exponent, prior.next_head_exponent) = (best.1, best.2);
    prior.check(k)?;

    let (mut brier, mut stay_brier, mut top1, mut stay_top1) = (0.0f64, 0.0f64, 0u64, 0u64);
    for s in &samples {
        let h = sigmoid(s.x.iter().zip(&prior.change_weights).map(|(x, w)| x * w).sum());
        prior.distribution(s.now, h, s.head, &mut out);
        let sq: f64 = out.iter().map(|&p| (p as f64).powi(2)).sum();
        brier += sq - 2.0 * out[s.truth] as f64 + 1.0;
        stay_brier += if s.truth == s.now { 0.0 } else { 2.0 };
        let arg = out
            .iter()
            .enumerate()
            .fold(0, |b, (j, &p)| if p > out[b] { j } else { b });
        top1 += (arg == s.truth) as u64;
        stay_top1 += (s.truth == s.now) as u64;
    }
    let n = samples.len() as f64;
    let mut durations: Vec<f32> = segs.iter().filter(|s| !s.censored).map(|s| s.duration_s).collect();
    durations.sort_by(f32::total_cmp);
    let report = AnticipationFitReport {
        frames: seqs.iter().map(|s| s.len() as u64).sum(),
        segments: segs.len() as u64,
        segments_censored: segs.iter().filter(|s| s.censored).count() as u64,
        samples: samples.len() as u64,
        change_rate: ys.iter().filter(|y| **y).count() as f64 / n,
        median_segment_s: durations.get(durations.len() / 2).copied().unwrap_or(0.0) as f64,
        change_weights: CHANGE_FEATURES
            .iter()
            .zip(&prior.change_weights)
            .map(|(n, w)| (n.to_string(), *w))
            .collect(),
        next_prior_exponent: prior.next_prior_exponent,
        next_head_exponent: prior.next_head_exponent,
        calibration_samples: samples.len() as u64,
        calibrated_on_unseen_frames,
        fit_brier_skill: if stay_brier > 0.0 {
            1.0 - brier / stay_brier
        } else {
            0.0
        },
        fit_top1: top1 as f64 / n,
        fit_stay_top1: stay_top1 as f64 / n,
    };
    Ok((prior, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(motif: usize, duration_s: f32, censored: bool) -> Segment {
        Segment {
            motif,
            duration_s,
            next: (!censored).then_some(1 - motif),
            censored,
        }
    }

    #[test]
    fn censored_segments_lengthen_the_survival_curve() {
        // Motif 0 ends at 1 s four times; four more segments were cut off at 2 s. Counted as
        // ends, they would put the median at 1 s; censored, half the segments survive 1 s.
        let complete: Vec<Segment> = (0..4).map(|_| seg(0, 1.05, false)).collect();
        let mut with_cut = (0..4).map(|_| seg(0, 1.05, false)).collect::<Vec<_>>();
        with_cut.extend((0..4).map(|_| seg(0, 2.05, true)));
        let m = median_of(&hazards(&complete, 2)[..N_BINS]);
        let m_cut = median_of(&hazards(&with_cut, 2)[..N_BINS]);
        assert!(m <= 1.06, "{m}");
        assert!(m_cut >= 1.09, "{m_cut}");
    }

    #[test]
    fn transitions_follow_the_counts_and_never_stay() {
        let segs: Vec<Segment> = (0..10).map(|_| seg(0, 1.0, false)).collect();
        let t = transitions(&segs, 3);
        assert_eq!(t[0], 0.0);
        assert!(t[1] > 0.8 && (t[0] + t[1] + t[2] - 1.0).abs() < 1e-6, "{t:?}");
    }

    #[test]
    fn the_change_model_recovers_a_logistic_relation() {
        // y = 1 exactly when the prior's logit is above 0.
        let xs: Vec<[f32; 4]> = (0..400).map(|i| [1.0, (i as f32 - 200.0) / 50.0, 0.0, 0.0]).collect();
        let ys: Vec<bool> = xs.iter().map(|x| x[1] > 0.0).collect();
        let w = logistic(&xs, &ys);
        assert!(w[1] > 2.0, "{w:?}");
        assert!(w[0].abs() < 0.5, "{w:?}");
    }
}
