//! Surprise-based atom segmentation.
//!
//! A frame's surprise is the frame predictor's error on it (see `A4mer::surprise`). The
//! open segment closes *before* a frame whose surprise exceeds `tau` (once the segment has
//! `l_min` frames), or when it already holds `l_max` frames. The rule only looks at the
//! current frame, so it runs online with O(1) state and gives the same segments offline.

use std::ops::Range;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmenterConfig {
    pub l_min: usize,
    pub l_max: usize,
    /// Surprise threshold (calibrated on training data as a quantile of surprise).
    pub tau: f32,
}

/// Online segmenter state: the length of the open segment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Segmenter {
    open_len: usize,
}

impl Segmenter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next frame's surprise. Returns the length of the segment that closed
    /// just before this frame, if one did; the frame then starts the new open segment.
    pub fn push(&mut self, cfg: &SegmenterConfig, surprise: f32) -> Option<usize> {
        let close =
            self.open_len > 0 && ((self.open_len >= cfg.l_min && surprise > cfg.tau) || self.open_len >= cfg.l_max);
        if close {
            let closed = self.open_len;
            self.open_len = 1;
            Some(closed)
        } else {
            self.open_len += 1;
            None
        }
    }

    pub fn open_len(&self) -> usize {
        self.open_len
    }
}

/// Offline segmentation of a sequence: the closed segments and the open one (never empty
/// for a non-empty input).
pub fn segment(surprise: &[f32], cfg: &SegmenterConfig) -> (Vec<Range<usize>>, Range<usize>) {
    let mut seg = Segmenter::new();
    let mut closed = Vec::new();
    for (t, s) in surprise.iter().enumerate() {
        if let Some(len) = seg.push(cfg, *s) {
            closed.push(t - len..t);
        }
    }
    let open = surprise.len() - seg.open_len()..surprise.len();
    (closed, open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_respect_lmin_lmax_and_cover_the_sequence() {
        let cfg = SegmenterConfig {
            l_min: 3,
            l_max: 5,
            tau: 1.0,
        };
        // Spikes at 1 (too early: l_min), 6, 7 (too early again), 20+ none -> l_max closes.
        let mut s = vec![0.0f32; 30];
        s[1] = 5.0;
        s[6] = 5.0;
        s[7] = 5.0;
        let (closed, open) = segment(&s, &cfg);
        assert_eq!(closed[0], 0..5, "l_max close, spike at 1 ignored");
        // Spikes at 6 and 7 fall inside l_min of the segment that opened at 5.
        assert_eq!(closed[1], 5..10);
        let mut next = 0;
        for r in closed.iter().chain(std::iter::once(&open)) {
            assert_eq!(r.start, next);
            assert!(!r.is_empty() && r.len() <= cfg.l_max);
            next = r.end;
        }
        assert_eq!(next, 30);
        for r in &closed {
            assert!(r.len() >= cfg.l_min || r.len() == cfg.l_max, "{r:?}");
        }
    }

    #[test]
    fn a_spike_after_lmin_closes_the_segment_before_it() {
        let cfg = SegmenterConfig {
            l_min: 2,
            l_max: 10,
            tau: 1.0,
        };
        let mut s = vec![0.0f32; 8];
        s[4] = 2.0;
        let (closed, open) = segment(&s, &cfg);
        assert_eq!(closed, vec![0..4]);
        assert_eq!(open, 4..8);
    }
}
