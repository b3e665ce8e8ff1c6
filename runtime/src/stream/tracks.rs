//! A bounded table of per-person streams.
//!
//! Pose producers number people themselves (a tracker id); the table gives each id its
//! own stream state, bounded in count: an idle track is evicted after a timeout, and when
//! a new person arrives at a full table the longest-idle track makes room if it has been
//! idle for a while; otherwise the newcomer is refused, so people in view keep their
//! streams instead of taking turns (which would keep every one of them warming up). The
//! table is allocated once, up front.

/// A producer's person/track id.
pub type PersonId = u64;

#[derive(Clone, Debug, PartialEq)]
pub struct TracksConfig {
    /// Most people followed at once.
    pub max_tracks: usize,
    /// A track with no frame for this long (in stamp time) is evicted.
    pub idle_timeout_ns: i64,
    /// At a full table, a newcomer replaces the longest-idle track only if it has had no
    /// frame for this long.
    pub min_idle_to_replace_ns: i64,
}

impl Default for TracksConfig {
    fn default() -> Self {
        Self {
            max_tracks: 4,
            idle_timeout_ns: 2_000_000_000,
            min_idle_to_replace_ns: 500_000_000,
        }
    }
}

/// Why a track left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    IdleTimeout,
    MadeRoomFor(PersonId),
}

struct Slot<S> {
    id: PersonId,
    last_seen_ns: i64,
    state: S,
}

/// Per-person state `S`, created by a factory when a person first appears.
pub struct Tracks<S> {
    config: TracksConfig,
    slots: Vec<Slot<S>>,
    new_state: Box<dyn FnMut() -> S + Send>,
    evicted: Vec<(PersonId, Eviction)>,
}

impl<S> Tracks<S> {
    pub fn new(config: TracksConfig, new_state: impl FnMut() -> S + Send + 'static) -> Self {
        let max = config.max_tracks.max(1);
        Self {
            slots: Vec::with_capacity(max),
            evicted: Vec::with_capacity(max + 1),
            config: TracksConfig {
                max_tracks: max,
                ..config
            },
            new_state: Box::new(new_state),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.slots.iter().map(|s| s.id)
    }

    /// Evictions since the last call, for logging and diagnostics.
    pub fn drain_evictions(&mut self) -> impl Iterator<Item = (PersonId, Eviction)> + '_ {
        self.evicted.drain(..)
    }

    /// Evict tracks idle at `now_ns`.
    pub fn expire(&mut self, now_ns: i64) {
        let timeout = self.config.idle_timeout_ns;
        let evicted = &mut self.evicted;
        self.slots.retain(|s| {
            let keep = now_ns.saturating_sub(s.last_seen_ns) <= timeout;
            if !keep && evicted.len() < evicted.capacity() {
                evicted.push((s.id, Eviction::IdleTimeout));
            }
            keep
        });
    }

    /// The state of `id`, if it is followed.
    pub fn get(&self, id: PersonId) -> Option<&S> {
        self.slots.iter().find(|s| s.id == id).map(|s| &s.state)
    }

    /// The state of `id` at `stamp_ns`, created when new (replacing a track idle for at
    /// least `min_idle_to_replace_ns` if the table is full). `None`: the table is full of
    /// people seen recently, and this newcomer is not followed.
    pub fn get_or_insert(&mut self, id: PersonId, stamp_ns: i64) -> Option<&mut S> {
        self.expire(stamp_ns);
        let index = match self.slots.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                if self.slots.len() >= self.config.max_tracks {
                    let oldest = (0..self.slots.len()).min_by_key(|&i| self.slots[i].last_seen_ns)?;
                    let idle_ns = stamp_ns.saturating_sub(self.slots[oldest].last_seen_ns);
                    if idle_ns < self.config.min_idle_to_replace_ns {
                        return None;
                    }
                    let gone = self.slots.swap_remove(oldest);
                    if self.evicted.len() < self.evicted.capacity() {
                        self.evicted.push((gone.id, Eviction::MadeRoomFor(id)));
                    }
                }
                self.slots.push(Slot {
                    id,
                    last_seen_ns: stamp_ns,
                    state: (self.new_state)(),
                });
                self.slots.len() - 1
            }
        };
        // The latest stamp, not the largest: one bogus future stamp must not pin a track
        // in the table for good.
        let slot = &mut self.slots[index];
        slot.last_seen_ns = stamp_ns;
        Some(&mut slot.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn bounded_with_idle_eviction_and_oldest_idle_makes_room() {
        let mut created = 0u32;
        let mut t: Tracks<u32> = Tracks::new(
            TracksConfig {
                max_tracks: 2,
                idle_timeout_ns: 2 * S,
                min_idle_to_replace_ns: S / 2,
            },
            move || {
                created += 1;
                created
            },
        );
        assert_eq!(t.get_or_insert(10, 0), Some(&mut 1));
        assert_eq!(t.get_or_insert(11, S / 2), Some(&mut 2));
        assert_eq!(t.get_or_insert(10, S), Some(&mut 1), "existing track keeps its state");
        // Table full, everyone seen within 0.5 s: the newcomer is refused.
        assert_eq!(t.get_or_insert(12, S - 1), None);
        assert_eq!(t.drain_evictions().count(), 0);
        // 11 (last seen at 0.5 s) has been idle 0.5 s: it makes room.
        assert_eq!(t.get_or_insert(12, S + 1), Some(&mut 3));
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.drain_evictions().collect::<Vec<_>>(),
            vec![(11, Eviction::MadeRoomFor(12))]
        );
        // 10 was last seen at 1 s; at 3.5 s it has timed out.
        t.expire(3 * S + S / 2);
        assert_eq!(t.ids().collect::<Vec<_>>(), Vec::<u64>::new());
        let ev: Vec<_> = t.drain_evictions().collect();
        assert!(ev.contains(&(10, Eviction::IdleTimeout)) && ev.contains(&(12, Eviction::IdleTimeout)));
    }

    #[test]
    fn a_thousand_people_never_grow_the_table() {
        let mut t: Tracks<[u8; 64]> = Tracks::new(TracksConfig::default(), || [0; 64]);
        for id in 0..1000u64 {
            let followed = t.get_or_insert(id, 0).is_some();
            assert_eq!(followed, id < 4, "the first four are followed, the rest refused");
            assert!(t.len() <= 4);
            t.drain_evictions().for_each(drop);
        }
        assert_eq!(t.len(), 4);
        assert_eq!(t.ids().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    }
}
