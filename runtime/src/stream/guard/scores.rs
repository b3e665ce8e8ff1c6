//! What the guard keeps of its scoring: run totals that tracks and recordings merge, and the
//! exponentially weighted means that drive the blend.

use super::{EW_TIME_CONSTANT_FRAMES, NUM_HORIZONS, NUM_SOURCES};

/// An error sum and its count, for means over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sum {
    pub total: f64,
    pub count: u64,
}

impl Sum {
    pub(crate) fn add(&mut self, v: f64) {
        self.total += v;
        self.count += 1;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.total / self.count as f64)
    }

    pub fn merge(&mut self, o: &Sum) {
        self.total += o.total;
        self.count += o.count;
    }
}

/// A bias-corrected exponentially weighted mean: early values are plain means.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Ew {
    num: f64,
    den: f64,
}

impl Ew {
    pub(super) fn add(&mut self, v: f64) {
        let keep = 1.0 - 1.0 / EW_TIME_CONSTANT_FRAMES;
        self.num = self.num * keep + v;
        self.den = self.den * keep + 1.0;
    }

    pub(super) fn get(&self) -> Option<f64> {
        (self.den > 0.0).then(|| self.num / self.den)
    }
}

/// What a run's scoring adds up to, per horizon. Tracks and recordings merge.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GuardScores {
    /// Mean joint error (m) of each of [`SOURCES`] and, last, of what was published.
    pub error_m: [[Sum; NUM_SOURCES + 1]; NUM_HORIZONS],
    /// Joints inside the published radius / joints scored.
    pub covered: [Sum; NUM_HORIZONS],
    /// Scored forecasts whose published forecast followed each source most.
    pub followed: [[u64; NUM_SOURCES]; NUM_HORIZONS],
    /// Pending forecast-horizons dropped unscored by a restart or a stamp mismatch.
    pub discarded: u64,
}

impl GuardScores {
    pub fn merge(&mut self, o: &GuardScores) {
        for h in 0..NUM_HORIZONS {
            for (sum, o) in self.error_m[h].iter_mut().zip(&o.error_m[h]) {
                sum.merge(o);
            }
            self.covered[h].merge(&o.covered[h]);
            for (n, o) in self.followed[h].iter_mut().zip(&o.followed[h]) {
                *n += o;
            }
        }
        self.discarded += o.discarded;
    }

    /// Fraction of scored joints inside the published radius, per horizon.
    pub fn coverage(&self) -> [Option<f64>; NUM_HORIZONS] {
        std::array::from_fn(|h| self.covered[h].mean())
    }
}
