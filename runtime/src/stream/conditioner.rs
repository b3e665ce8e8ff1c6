//! One person's input timeline, conditioned for the model.
//!
//! Producers publish at 15–120 Hz, with jitter, duplicates, reordering, gaps and broken
//! joints. The model wants a steady 30 Hz grid of frames with enough valid joints. The
//! conditioner sits between them: every accepted input frame yields the grid frames that
//! fall between the previous input and it (zero, one or a few), interpolated linearly;
//! every refused frame yields a [`Reject`] with its reason. Nothing here allocates.

use crate::pose::{FPS, NUM_JOINTS, PoseFrame};

/// Most grid frames one input can produce: a gap just under the 1 s maximum gap limit.
pub const MAX_FRAMES_PER_INPUT: usize = FPS as usize;

const GRID_NS: f64 = 1e9 / FPS as f64;

/// A grid frame this close after an input is taken from that input rather than waiting
/// a whole input period for the next one: stamps of a steady 30 Hz producer round to
/// the nanosecond and would otherwise sit 1 ns short of the grid every other frame.
const SNAP_NS: i64 = 2_000_000;

/// A frame older than the newest accepted one by more than this restarts the timeline
/// instead of being rejected as out of order.
pub const MAX_BACKWARDS_NS: i64 = 1_000_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct ConditionerConfig {
    /// A gap between accepted frames longer than this resets the stream.
    pub gap_limit_ns: i64,
    /// Frames with fewer valid (finite, present) joints are rejected. The default, 7, is
    /// the legs and pelvis of a rig without foot joints (pelvis, hips, knees, ankles): a
    /// camera that sees a person from the legs down still gets a forecast (the guard
    /// judges it against the baselines, as any other). Fewer than 7 is no body.
    pub min_valid_joints: usize,
}

impl Default for ConditionerConfig {
    fn default() -> Self {
        Self {
            gap_limit_ns: 200_000_000,
            min_valid_joints: 7,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("gap_limit_ns = {0}: must be between one model frame (33.3 ms) and 1 s")]
    GapLimit(i64),
    #[error("min_valid_joints = {0}: must be 1..={NUM_JOINTS}")]
    MinValidJoints(usize),
}

impl ConditionerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(GRID_NS as i64 + 1..=1_000_000_000).contains(&self.gap_limit_ns) {
            return Err(ConfigError::GapLimit(self.gap_limit_ns));
        }
        if !(1..=NUM_JOINTS).contains(&self.min_valid_joints) {
            return Err(ConfigError::MinValidJoints(self.min_valid_joints));
        }
        Ok(())
    }
}

/// Why an input frame was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("duplicate stamp {stamp_ns} ns")]
    Duplicate { stamp_ns: i64 },
    #[error("out of order: stamp {stamp_ns} ns is older than the newest accepted {newest_ns} ns")]
    OutOfOrder { stamp_ns: i64, newest_ns: i64 },
    #[error("only {valid} valid joints, {required} required")]
    TooFewValidJoints { valid: usize, required: usize },
}

/// What one accepted input produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Conditioned {
    /// The stream restarted before these frames (first frame, or a gap over the limit):
    /// whatever was built on earlier frames is stale.
    pub reset: bool,
    /// Gap that caused the reset, if any.
    pub gap_ns: Option<i64>,
    /// New model-rate frames, oldest first (possibly none at high input rates).
    pub frames: heapless::Vec<PoseFrame, MAX_FRAMES_PER_INPUT>,
}

#[derive(Clone, Debug)]
pub struct Conditioner {
    config: ConditionerConfig,
    /// Last accepted input (cleaned).
    last: Option<PoseFrame>,
    /// Stamp of the grid's first frame and index of the next grid frame to emit.
    grid_origin_ns: i64,
    next_k: u64,
}

impl Conditioner {
    pub fn new(config: ConditionerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            last: None,
            grid_origin_ns: 0,
            next_k: 0,
        })
    }

    pub fn config(&self) -> &ConditionerConfig {
        &self.config
    }

    /// Stamp of the newest accepted input.
    pub fn newest_ns(&self) -> Option<i64> {
        self.last.map(|f| f.stamp_ns)
    }

    /// Forget the timeline; the next frame starts a new one.
    pub fn reset(&mut self) {
        self.last = None;
    }

    fn grid_stamp(&self, k: u64) -> i64 {
        self.grid_origin_ns + (k as f64 * GRID_NS).round() as i64
    }

    pub fn push(&mut self, frame: &PoseFrame) -> Result<Conditioned, Reject> {
        let mut clean = *frame;
        for j in 0..NUM_JOINTS {
            if !clean.joints_in_world[j].iter().all(|c| c.is_finite()) {
                clean.valid[j] = false;
                clean.joints_in_world[j] = [0.0; 3];
            }
        }
        let mut jumped_back = false;
        if let Some(last) = &self.last {
            if frame.stamp_ns == last.stamp_ns {
                return Err(Reject::Duplicate {
                    stamp_ns: frame.stamp_ns,
                });
            }
            if frame.stamp_ns < last.stamp_ns {
                // Far older than anything reordering explains: the producer's clock jumped
                // back (restart, bag loop, clock reset, or one bogus future stamp before).
                // Rejecting would reject every later frame too, so the timeline restarts.
                if last.stamp_ns.saturating_sub(frame.stamp_ns) <= MAX_BACKWARDS_NS {
                    return Err(Reject::OutOfOrder {
                        stamp_ns: frame.stamp_ns,
                        newest_ns: last.stamp_ns,
                    });
                }
                jumped_back = true;
            }
        }
        let valid = clean.valid_count();
        if valid < self.config.min_valid_joints {
            return Err(Reject::TooFewValidJoints {
                valid,
                required: self.config.min_valid_joints,
            });
        }

        let mut out = Conditioned {
            reset: false,
            gap_ns: None,
            frames: heapless::Vec::new(),
        };
        let prev = match self.last {
            Some(prev) if !jumped_back && clean.stamp_ns - prev.stamp_ns <= self.config.gap_limit_ns => prev,
            other => {
                out.reset = true;
                out.gap_ns = other.map(|p| clean.stamp_ns - p.stamp_ns);
                self.grid_origin_ns = clean.stamp_ns;
                self.next_k = 1;
                self.last = Some(clean);
                let mut first = clean;
                first.stamp_ns = self.grid_origin_ns;
                // Capacity is at least one.
                let _ = out.frames.push(first);
                return Ok(out);
            }
        };
        let span = (clean.stamp_ns - prev.stamp_ns) as f64;
        loop {
            let t = self.grid_stamp(self.next_k);
            if t > clean.stamp_ns + SNAP_NS {
                break;
            }
            let w = ((t - prev.stamp_ns) as f64 / span).min(1.0) as f32;
            let mut f = PoseFrame::new(t, [[0.0; 3]; NUM_JOINTS], [false; NUM_JOINTS]);
            for j in 0..NUM_JOINTS {
                let (a, b) = (prev.joints_in_world[j], clean.joints_in_world[j]);
                // At the input's own stamp, its joints stand on their own.
                let use_prev = w < 1.0 - 1e-6;
                f.valid[j] = clean.valid[j] && (prev.valid[j] || !use_prev);
                if f.valid[j] {
                    f.joints_in_world[j] = if use_prev {
                        std::array::from_fn(|c| a[c] + w * (b[c] - a[c]))
                    } else {
                        b
                    };
                }
            }
            if out.frames.push(f).is_err() {
                // Unreachable while the gap limit is ≤ 1 s; drop rather than grow.
                break;
            }
            self.next_k += 1;
        }
        self.last = Some(clean);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// Joint 0 at x = t (1 m/s), every joint valid.
    fn at(stamp_ns: i64) -> PoseFrame {
        let mut j = [[0.0f32; 3]; NUM_JOINTS];
        for p in j.iter_mut() {
            p[0] = stamp_ns as f32 / 1e9;
        }
        PoseFrame::new(stamp_ns, j, [true; NUM_JOINTS])
    }

    fn run(c: &mut Conditioner, stamps: impl Iterator<Item = i64>) -> Vec<PoseFrame> {
        stamps.flat_map(|s| c.push(&at(s)).unwrap().frames).collect()
    }

    fn check_grid(frames: &[PoseFrame], origin_ns: i64) {
        for (k, f) in frames.iter().enumerate() {
            let want = origin_ns + (k as f64 * GRID_NS).round() as i64;
            assert_eq!(f.stamp_ns, want, "frame {k}");
            let x = f.joints_in_world[0][0];
            // Within SNAP_NS of an input the input is held: up to 2 mm at 1 m/s.
            assert!((x - want as f32 / 1e9).abs() < 2.1e-3, "frame {k}: x {x}");
        }
    }

    #[test]
    fn any_rate_from_15_to_120_hz_lands_on_the_30_hz_grid() {
        for hz in [15.0, 24.0, 30.0, 50.0, 60.0, 120.0] {
            let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
            let period = 1e9 / hz;
            let t0 = 5_000 * MS;
            let frames = run(&mut c, (0..=(2.0 * hz) as i64).map(|i| t0 + (i as f64 * period) as i64));
            assert_eq!(frames.len(), 61, "{hz} Hz");
            check_grid(&frames, t0);
        }
    }

    #[test]
    fn a_steady_30_hz_producer_gets_one_grid_frame_per_input_without_delay() {
        let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
        // Stamps truncated to the nanosecond fall just short of the rounded grid.
        for i in 0..300i64 {
            let out = c.push(&at(i * 1_000_000_000 / 30)).unwrap();
            assert_eq!(out.frames.len(), 1, "input {i}");
        }
    }

    #[test]
    fn jittery_input_is_regularised() {
        let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
        // ±8 ms deterministic jitter around 30 Hz.
        let stamps = (0..91).map(|i| i * 33_333_333 + [0, 8, -6, 3, -8, 5][i as usize % 6] * MS + 100 * MS);
        let frames = run(&mut c, stamps);
        check_grid(&frames, 100 * MS);
        assert!(frames.len() >= 89, "{}", frames.len());
    }

    #[test]
    fn duplicates_and_reordering_are_rejected_with_reasons() {
        let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
        c.push(&at(0)).unwrap();
        c.push(&at(33 * MS)).unwrap();
        assert_eq!(c.push(&at(33 * MS)), Err(Reject::Duplicate { stamp_ns: 33 * MS }));
        assert_eq!(
            c.push(&at(10 * MS)),
            Err(Reject::OutOfOrder {
                stamp_ns: 10 * MS,
                newest_ns: 33 * MS
            })
        );
        assert!(c.push(&at(67 * MS)).is_ok(), "stream continues after rejects");
    }

    #[test]
    fn a_clock_jumping_back_restarts_the_timeline_instead_of_rejecting_forever() {
        let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
        let year_ns = 365 * 24 * 3600 * 1_000 * MS;
        c.push(&at(0)).unwrap();
        c.push(&at(33 * MS)).unwrap();
        // One bogus stamp ten years ahead: a gap, the stream restarts there.
        assert!(c.push(&at(10 * year_ns)).unwrap().reset);
        // The producer's real time again: far behind, so a restart, not a reject.
        let back = c.push(&at(67 * MS)).unwrap();
        assert!(back.reset && back.gap_ns.is_some_and(|g| g < 0));
        assert!(!c.push(&at(100 * MS)).unwrap().reset, "and the stream continues");
        // Within a second back is still reordering.
        assert!(matches!(c.push(&at(50 * MS)), Err(Reject::OutOfOrder { .. })));
    }

    #[test]
    fn a_gap_over_the_limit_resets_and_restarts_the_grid() {
        let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
        let first = c.push(&at(0)).unwrap();
        assert!(first.reset && first.gap_ns.is_none());
        run(&mut c, (1..10).map(|i| i * 33_333_333));
        // 195 ms: interpolated across (grid 333..466 ms), no reset.
        let t = 9 * 33_333_333 + 195 * MS;
        let r = c.push(&at(t)).unwrap();
        assert!(!r.reset);
        assert_eq!(r.frames.len(), 5);
        assert_eq!(r.frames[0].stamp_ns, 333_333_333);
        // 250 ms: reset, grid re-anchored on the new frame.
        let r = c.push(&at(t + 250 * MS)).unwrap();
        assert!(r.reset);
        assert_eq!(r.gap_ns, Some(250 * MS));
        assert_eq!(r.frames.len(), 1);
        assert_eq!(r.frames[0].stamp_ns, t + 250 * MS);
        // A 10-year jump is just a long gap.
        let far = t + 250 * MS + 10 * 365 * 86_400 * 1_000 * MS;
        assert!(c.push(&at(far)).unwrap().reset);
    }

    #[test]
    fn non_finite_joints_are_invalid_and_too_few_valid_joints_is_rejected() {
        let mut c = Conditioner::new(ConditionerConfig::default()).unwrap();
        c.push(&at(0)).unwrap();
        let mut f = at(33_333_333);
        f.joints_in_world[3] = [f32::NAN, 0.0, 0.0];
        f.joints_in_world[4][2] = f32::INFINITY;
        let out = c.push(&f).unwrap();
        assert_eq!(out.frames.len(), 1);
        let g = &out.frames[0];
        assert!(!g.valid[3] && !g.valid[4] && g.valid[5]);
        assert!(
            g.joints_in_world.iter().flatten().all(|v| v.is_finite()),
            "no NaN leaks out"
        );

        let mut f = at(66_666_667);
        for j in 0..18 {
            f.joints_in_world[j][1] = f32::NAN;
        }
        assert_eq!(c.push(&f), Err(Reject::TooFewValidJoints { valid: 6, required: 7 }));
    }

    #[test]
    fn bad_config_is_refused_by_name() {
        let e = Conditioner::new(ConditionerConfig {
            gap_limit_ns: 5_000_000_000,
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("gap_limit_ns"));
        let e = Conditioner::new(ConditionerConfig {
            min_valid_joints: 0,
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("min_valid_joints"));
    }
}
