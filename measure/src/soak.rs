//! Soak: millions of frames of real mocap, looped and augmented, through `Tracks<Engine>`
//! with people coming and going, watching memory, per-frame latency drift and non-finite
//! outputs. What `a4mer soak` runs.

use std::sync::Arc;
use std::time::Instant;

use a4mer_runtime::stats::{histogram_bin, rss_mib};
use a4mer_runtime::stream::{Engine, EngineConfig, StreamModel, Tracks, TracksConfig};
use a4mer_runtime::{PoseFrame, frame_period_ns};
use serde::Serialize;

use crate::bench::MocapLoop;

/// How many people are in the scene, phase by phase; each phase lasts `PHASE_FRAMES` model
/// frames. Above the table's 4 the longest-idle person is evicted; people who leave are
/// evicted after the idle timeout; people who return come back as new tracks.
const PEOPLE_PHASES: [usize; 8] = [1, 2, 4, 6, 3, 1, 5, 2];
const PHASE_FRAMES: u64 = 3_000;
const BINS: usize = 1_001; // 10 µs bins, the last holds everything from 10 ms
const MILLION: u64 = 1_000_000;

#[derive(Clone, Debug, Serialize)]
pub struct SoakReport {
    /// Engine pushes (one person, one frame each).
    pub frames: u64,
    pub rss_start_mb: Option<f64>,
    pub rss_end_mb: Option<f64>,
    /// p99 of `push` in each successive million frames (the last may be partial), µs.
    pub p99_us_per_million: Vec<u32>,
    /// Forecast values or motif probabilities that were not finite.
    pub non_finite: u64,
    /// Frames the engine did not use (it never should here: the input is clean).
    pub rejected: u64,
    pub tracks_created: u64,
    pub evictions: u64,
    /// Person-frames not followed because the table was full of people in view.
    pub people_refused: u64,
    pub max_people: usize,
    pub wall_s: f64,
}

/// The upper edge of the 10 µs bin holding the p99.
fn p99_of(hist: &[u64]) -> u32 {
    histogram_bin(hist, 0.99).map_or(0, |i| i as u32 * 10 + 10)
}

/// One person: a looped walk through the takes from their own start, turned and moved so
/// no two people overlap and no loop repeats exactly.
struct Walker<'a> {
    source: MocapLoop<'a>,
    yaw: f32,
    offset: [f32; 2],
}

impl Walker<'_> {
    fn next(&mut self, stamp_ns: i64) -> Option<PoseFrame> {
        let mut f = self.source.next()?;
        let (s, c) = self.yaw.sin_cos();
        for p in f.joints_in_world.iter_mut() {
            let (x, y) = (p[0], p[1]);
            p[0] = c * x - s * y + self.offset[0];
            p[1] = s * x + c * y + self.offset[1];
        }
        f.stamp_ns = stamp_ns;
        Some(f)
    }
}

/// Stream `frames` person-frames; `progress` gets the count every 100 000.
pub fn soak(
    model: Arc<StreamModel>,
    takes: &[&[PoseFrame]],
    frames: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<SoakReport, a4mer_runtime::stream::EngineError> {
    let proto = Engine::new(Arc::clone(&model), EngineConfig::default())?;
    let created = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&created);
    let mut tracks: Tracks<Engine> = Tracks::new(TracksConfig::default(), move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        proto.clone()
    });
    let mut hist = vec![0u64; BINS];
    let mut report = SoakReport {
        frames: 0,
        rss_start_mb: None,
        rss_end_mb: None,
        p99_us_per_million: Vec::new(),
        non_finite: 0,
        rejected: 0,
        tracks_created: 0,
        evictions: 0,
        people_refused: 0,
        max_people: 0,
        wall_s: 0.0,
    };
    let wall = Instant::now();
    let mut walkers: Vec<(u32, Walker<'_>)> = Vec::new();
    let mut next_id = 1u32;
    let mut k = 0u64;
    'outer: loop {
        let want = PEOPLE_PHASES[((k / PHASE_FRAMES) as usize) % PEOPLE_PHASES.len()];
        while walkers.len() > want {
            walkers.pop();
        }
        while walkers.len() < want {
            let Some(mut source) = MocapLoop::new(takes) else {
                break 'outer;
            };
            // A different part of the recordings for each newcomer.
            for _ in 0..(next_id as usize * 397) % 5_000 {
                source.next();
            }
            let i = walkers.len() as f32;
            walkers.push((
                next_id,
                Walker {
                    source,
                    yaw: next_id as f32 * 0.7,
                    offset: [2.0 * i, -1.5 * i],
                },
            ));
            next_id += 1;
        }
        report.max_people = report.max_people.max(walkers.len());
        let stamp_ns = frame_period_ns(k);
        for (id, w) in walkers.iter_mut() {
            let Some(f) = w.next(stamp_ns) else { continue };
            let Some(engine) = tracks.get_or_insert(u64::from(*id), stamp_ns) else {
                report.people_refused += 1;
                continue;
            };
            let t = Instant::now();
            let result = engine.push_ref(&f);
            let us = t.elapsed().as_micros() as usize;
            hist[(us / 10).min(BINS - 1)] += 1;
            match result {
                Ok(a) => {
                    let bad = a
                        .forecast
                        .iter()
                        .flat_map(|s| s.joints_in_world.iter().flatten().chain([&s.spread_m]))
                        .chain(a.motif_next.top.iter().map(|(_, p)| p))
                        .filter(|v| !v.is_finite())
                        .count();
                    report.non_finite += bad as u64;
                }
                Err(_) => report.rejected += 1,
            }
            report.frames += 1;
            if report.frames == 10_000 {
                report.rss_start_mb = rss_mib(None, false);
            }
            if report.frames.is_multiple_of(MILLION) {
                report.p99_us_per_million.push(p99_of(&hist));
                hist.iter_mut().for_each(|n| *n = 0);
            }
            if report.frames.is_multiple_of(100_000) {
                progress(report.frames);
            }
            if report.frames >= frames {
                break 'outer;
            }
        }
        report.evictions += tracks.drain_evictions().count() as u64;
        k += 1;
    }
    if hist.iter().any(|n| *n > 0) {
        report.p99_us_per_million.push(p99_of(&hist));
    }
    report.evictions += tracks.drain_evictions().count() as u64;
    report.rss_end_mb = rss_mib(None, false);
    report.tracks_created = created.load(std::sync::atomic::Ordering::Relaxed);
    report.wall_s = wall.elapsed().as_secs_f64();
    Ok(report)
}
