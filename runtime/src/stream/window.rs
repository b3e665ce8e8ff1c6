//! The engine's bounded windows: the frames the per-frame work needs and the last closed
//! atoms.

use crate::model::features::{FEAT_DIM, FrameFeatures};
use crate::model::prior::PRIOR_FRAMES;
use crate::pose::PoseFrame;

use super::anticipation::AtomRecord;
use super::engine::{MAX_ATOMS, MAX_SEGMENT};

/// The frames the per-frame work needs: the open segment's normalized inputs and the two
/// frames before the newest (surprise, velocities).
#[derive(Clone, Debug)]
pub(super) struct FrameWindow {
    pub(super) open: heapless::Vec<[f32; FEAT_DIM], MAX_SEGMENT>,
    pub(super) open_start_ns: i64,
    /// Normalized inputs of the last two frames, newest first.
    pub(super) recent: heapless::Deque<[f32; FEAT_DIM], 2>,
    /// The newest frame; its features are `raw`'s front.
    pub(super) last: Option<PoseFrame>,
    /// Raw features of the last frames, newest first: the next frame's velocities and the
    /// decode's.
    pub(super) raw: heapless::Deque<FrameFeatures, PRIOR_FRAMES>,
}

impl FrameWindow {
    pub(super) fn new() -> Self {
        Self {
            open: heapless::Vec::new(),
            open_start_ns: 0,
            recent: heapless::Deque::new(),
            last: None,
            raw: heapless::Deque::new(),
        }
    }

    pub(super) fn clear(&mut self) {
        self.open.clear();
        self.recent.clear();
        self.last = None;
        self.raw.clear();
    }
}

/// `v` as the newest of a newest-first window, the oldest dropped when it is full.
pub(super) fn push_newest<T, const N: usize>(window: &mut heapless::Deque<T, N>, v: T) {
    if window.is_full() {
        window.pop_back();
    }
    // Not full after the pop.
    let _ = window.push_front(v);
}

/// The last closed atoms with their stamps, oldest first.
#[derive(Clone, Debug, Default)]
pub struct AtomBuffer {
    pub(super) atoms: heapless::Deque<AtomRecord, MAX_ATOMS>,
    pub(super) capacity: usize,
}

impl AtomBuffer {
    pub(super) fn push(&mut self, a: AtomRecord) {
        if self.atoms.len() >= self.capacity.max(1) {
            self.atoms.pop_front();
        }
        // Capacity is at most MAX_ATOMS and one slot was just made.
        let _ = self.atoms.push_back(a);
    }

    pub fn iter(&self) -> impl Iterator<Item = &AtomRecord> {
        self.atoms.iter()
    }

    pub fn len(&self) -> usize {
        self.atoms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.atoms.is_empty()
    }

    pub fn newest(&self) -> Option<&AtomRecord> {
        self.atoms.back()
    }
}
