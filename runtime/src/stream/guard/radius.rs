//! The calibrated radius's histogram of normalised errors.

/// Normalised errors are binned on a log scale from 1e-3 to 1e3, 16 bins per decade (a
/// 15 % step, which bounds how finely the radius can be placed).
pub(super) const BINS: usize = 96;
pub(super) const BIN_LOG10_MIN: f32 = -3.0;
pub(super) const BINS_PER_DECADE: f32 = 16.0;

pub(super) fn bin(score: f32) -> usize {
    // NaN and non-positive scores land in the lowest bin.
    if score.is_nan() || score <= 0.0 {
        return 0;
    }
    let b = ((score.log10() - BIN_LOG10_MIN) * BINS_PER_DECADE).floor();
    b.clamp(0.0, (BINS - 1) as f32) as usize
}

/// The `q` quantile of a log-binned histogram, log-linear within the bin; `None` when empty.
pub(super) fn quantile(hist: &[f32; BINS], q: f32) -> Option<f32> {
    let total: f32 = hist.iter().sum();
    if total <= 1e-6 {
        return None;
    }
    let target = q.clamp(0.0, 1.0) * total;
    let mut acc = 0.0;
    for (i, &c) in hist.iter().enumerate() {
        if c > 0.0 && acc + c >= target {
            let frac = ((target - acc) / c).clamp(0.0, 1.0);
            return Some(10f32.powf(BIN_LOG10_MIN + (i as f32 + frac) / BINS_PER_DECADE));
        }
        acc += c;
    }
    Some(10f32.powf(BIN_LOG10_MIN + BINS as f32 / BINS_PER_DECADE))
}
