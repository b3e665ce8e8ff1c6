//! People who drop out of view are held, not forgotten.
//!
//! Pose estimators flicker: a person is missed for a frame when they turn, the arm passes in
//! front of the camera, the tracker swaps ids. ISO/TS 15066 assumes the human is sensed
//! continuously, so a person who leaves the message is taken to be still there, moving at
//! the ISO 13855 speed since they were last seen: their last observed pose goes on to the
//! MCU, Degraded, with their own age (`unseen_us`), for `link.hold_s`. A person who comes
//! back, by the same id or as a new id within the reach they may have covered, replaces
//! the held one. Memory is fixed: the frame loop allocates nothing here.

use a4mer_runtime::{Joints, NUM_JOINTS};

use super::distance_m;
use super::person::{LinkPerson, LinkSource};

/// Most people held (and remembered from the last message) at once. More vanishing at the
/// same moment than this: the longest-held are released first, and counted.
pub const HOLD_CAPACITY: usize = 32;

/// A new id whose pelvis is this close to where a held person may have got to is taken to
/// be that person: the tracker swapped ids. Pose noise and body size, metres.
pub const REACQUIRE_TOLERANCE_M: f32 = 0.3;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HoldConfig {
    /// `link.hold_s`, nanoseconds; 0 holds nobody.
    pub hold_ns: i64,
    /// `link.human_speed_mps`: how fast a held person may have moved.
    pub human_speed_mps: f32,
}

impl Default for HoldConfig {
    fn default() -> Self {
        Self {
            hold_ns: 1_000_000_000,
            human_speed_mps: 1.6,
        }
    }
}

/// What happened to a held person, for `/diagnostics` and replay's audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldEvent {
    /// `id` left the message; last seen at `last_seen_ns`.
    Held { id: u32, last_seen_ns: i64 },
    /// `id`, held for `held_ns`, is back as `as_id` (the same id, or a new one within reach).
    Reacquired { id: u32, as_id: u32, held_ns: i64 },
    /// `id` was held for `held_ns` and did not come back: the hold ran out, the clock
    /// stepped back, or the table was full.
    Released { id: u32, held_ns: i64, why: ReleaseWhy },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseWhy {
    HoldExpired,
    ClockSteppedBack,
    TableFull,
}

#[derive(Clone, Copy, Debug)]
struct Snapshot {
    id: u32,
    observed: Joints,
    reach_m: [f32; NUM_JOINTS],
    /// When they were last seen.
    stamp_ns: i64,
    /// A stamp went back while they were held: their age is unknown.
    clock_stepped_back: bool,
    /// Their hold was reported.
    announced: bool,
}

impl Snapshot {
    fn of(p: &LinkPerson) -> Self {
        Self {
            id: p.id,
            observed: p.observed,
            reach_m: p.reach_m,
            stamp_ns: p.stamp_ns,
            clock_stepped_back: false,
            announced: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Hold {
    config: HoldConfig,
    /// The people of the previous message.
    last: heapless::Vec<Snapshot, HOLD_CAPACITY>,
    held: heapless::Vec<Snapshot, HOLD_CAPACITY>,
}

impl Hold {
    pub fn new(config: HoldConfig) -> Self {
        Self {
            config,
            last: heapless::Vec::new(),
            held: heapless::Vec::new(),
        }
    }

    pub fn held_count(&self) -> usize {
        self.held.len()
    }

    /// Takes this message's people (`people`, all live, stamped `now_ns`), appends the held
    /// ones, and reports every change.
    pub fn update(&mut self, now_ns: i64, people: &mut Vec<LinkPerson>, mut event: impl FnMut(HoldEvent)) {
        let v = self.config.human_speed_mps;
        // Gone from this message: held (announced below unless they are back at once).
        if self.config.hold_ns > 0 {
            for l in &self.last {
                if people.iter().any(|p| p.id == l.id) || self.held.iter().any(|h| h.id == l.id) {
                    continue;
                }
                if self.held.is_full()
                    && let Some(oldest) = (0..self.held.len()).min_by_key(|&i| self.held[i].stamp_ns)
                {
                    let h = self.held.swap_remove(oldest);
                    event(HoldEvent::Released {
                        id: h.id,
                        held_ns: now_ns - h.stamp_ns,
                        why: ReleaseWhy::TableFull,
                    });
                }
                let _ = self.held.push(Snapshot { announced: false, ..*l });
            }
        }
        // Back, by the same id or, for an id new in this message, within a held person's reach.
        for p in people.iter() {
            let same = self.held.iter().position(|h| h.id == p.id);
            let swapped = || {
                if self.last.iter().any(|l| l.id == p.id) {
                    return None;
                }
                self.held
                    .iter()
                    .enumerate()
                    .filter_map(|(i, h)| {
                        let d = distance_m(&h.observed[0], &p.observed[0]);
                        let reach = v * (now_ns - h.stamp_ns).max(0) as f32 / 1e9 + h.reach_m[0] + p.reach_m[0];
                        (d <= reach + REACQUIRE_TOLERANCE_M).then_some((d, i))
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, i)| i)
            };
            if let Some(i) = same.or_else(swapped) {
                let h = self.held.swap_remove(i);
                event(HoldEvent::Reacquired {
                    id: h.id,
                    as_id: p.id,
                    held_ns: now_ns - h.stamp_ns,
                });
            }
        }
        for h in self.held.iter_mut().filter(|h| !h.announced) {
            h.announced = true;
            event(HoldEvent::Held {
                id: h.id,
                last_seen_ns: h.stamp_ns,
            });
        }
        // Out of hold. A stamp going back means the time since they were seen is unknown:
        // they are sent once as old as the hold allows, then released.
        let mut i = 0;
        while i < self.held.len() {
            let h = &mut self.held[i];
            let held_ns = now_ns - h.stamp_ns;
            let why = if held_ns > self.config.hold_ns {
                Some(if h.clock_stepped_back {
                    ReleaseWhy::ClockSteppedBack
                } else {
                    ReleaseWhy::HoldExpired
                })
            } else {
                if held_ns < 0 {
                    h.stamp_ns = now_ns - self.config.hold_ns;
                    h.clock_stepped_back = true;
                }
                None
            };
            if let Some(why) = why {
                let h = self.held.swap_remove(i);
                event(HoldEvent::Released { id: h.id, held_ns, why });
            } else {
                i += 1;
            }
        }
        self.last.clear();
        for p in people.iter() {
            // Beyond the capacity nobody can be held anyway; the rest are remembered.
            let _ = self.last.push(Snapshot::of(p));
        }
        for h in &self.held {
            people.push(LinkPerson {
                id: h.id,
                observed: h.observed,
                reach_m: h.reach_m,
                forecast: Vec::new(),
                degraded: true,
                source: LinkSource::Held,
                stamp_ns: h.stamp_ns,
                unseen_ns: now_ns - h.stamp_ns,
            });
        }
    }
}
