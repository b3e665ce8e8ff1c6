//! Where a forecast step lies among the reported horizons: what the blend's weights, the
//! radius and the adapted gains interpolate by.

use super::NUM_HORIZONS;

/// Where forecast step `k` (1-based) lies among the horizons' steps `steps`.
pub(super) enum Between {
    /// At or outside the reported ones: that nearest horizon's value.
    At(usize),
    /// Between horizon `lo` and `lo + 1`, `t` of the way to the upper.
    Lerp(usize, f32),
}

pub(super) fn between_horizons(steps: &[usize; NUM_HORIZONS], k: usize) -> Between {
    if k <= steps[0] {
        return Between::At(0);
    }
    for h in 1..NUM_HORIZONS {
        if k <= steps[h] {
            return Between::Lerp(h - 1, (k - steps[h - 1]) as f32 / (steps[h] - steps[h - 1]) as f32);
        }
    }
    Between::At(NUM_HORIZONS - 1)
}
