//! Latency of the streaming engine on real mocap: what `a4mer bench` and the criterion
//! benches report. Heavy measurements live here, never in timed tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use a4mer_burn_model::nn::head_input_dim;
use a4mer_burn_model::{Model, host};
use a4mer_runtime::model::ModelError;
use a4mer_runtime::stream::{Engine, EngineConfig, EngineError, StreamError, StreamModel};
use a4mer_runtime::{PoseFrame, frame_period_ns};

/// An endless stream of one person from real takes: each take is played forwards, then
/// backwards, so the stream never jumps (a jump would reset the engine and bench warm-up
/// instead of steady state). Every take is shifted on the ground so that it starts where
/// the first one does, which keeps the change of take continuous too. Stamps run on the
/// 30 Hz grid from zero.
pub struct MocapLoop<'a> {
    takes: Vec<&'a [PoseFrame]>,
    offsets: Vec<[f32; 2]>,
    take: usize,
    pos: usize,
    forward: bool,
    k: u64,
}

impl<'a> MocapLoop<'a> {
    /// `None` when no take has at least two frames.
    pub fn new(takes: &[&'a [PoseFrame]]) -> Option<Self> {
        let takes: Vec<&[PoseFrame]> = takes.iter().copied().filter(|t| t.len() >= 2).collect();
        let origin = takes.first()?[0].joints_in_world[0];
        let offsets = takes
            .iter()
            .map(|t| {
                let p = t[0].joints_in_world[0];
                [origin[0] - p[0], origin[1] - p[1]]
            })
            .collect();
        (!takes.is_empty()).then_some(Self {
            takes,
            offsets,
            take: 0,
            pos: 0,
            forward: true,
            k: 0,
        })
    }
}

impl Iterator for MocapLoop<'_> {
    type Item = PoseFrame;

    fn next(&mut self) -> Option<PoseFrame> {
        let t = self.takes[self.take];
        let mut f = t[self.pos];
        f.stamp_ns = frame_period_ns(self.k);
        let o = self.offsets[self.take];
        for p in f.joints_in_world.iter_mut() {
            p[0] += o[0];
            p[1] += o[1];
        }
        self.k += 1;
        if self.forward {
            if self.pos + 1 == t.len() {
                self.forward = false;
            } else {
                self.pos += 1;
            }
        } else if self.pos == 0 {
            // The next take starts where the person is: shift it there.
            self.take = (self.take + 1) % self.takes.len();
            self.forward = true;
        } else {
            self.pos -= 1;
        }
        Some(f)
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Stats {
    pub count: usize,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    /// From durations in nanoseconds, reported in microseconds.
    pub fn from_ns(samples: &mut [u32]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| a4mer_runtime::stats::nearest_rank(samples, q).map_or(0.0, |ns| f64::from(ns) / 1e3);
        Self {
            count: samples.len(),
            median: at(0.5),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub frames: usize,
    pub push_us: Stats,
    /// Frames that closed a segment (atom encoder + motif step on top of the usual work).
    pub close_us: Stats,
    pub steady_us: Stats,
    /// Resident memory at the end, and after the first 10 000 frames.
    pub rss_mb: f64,
    pub rss_mb_at_10k: Option<f64>,
    pub fps: f64,
    /// Multiply-accumulates of an ordinary frame (open segment at its mean length) and
    /// the extra of a closing frame.
    pub macs_steady: usize,
    pub macs_close_extra: usize,
    pub mean_open_len: f64,
    pub dropped: u64,
}

/// What the guard's sources and adaptation cost, old against new in one run: `push` with the
/// three-source guard, the four-source guard, and the four-source guard adapting to the
/// person, alternating rounds on the same frames.
#[derive(Clone, Debug, Serialize)]
pub struct DampedSourceCost {
    pub rounds: usize,
    pub frames_per_round: usize,
    /// The median round's `push` statistics (by p99), each guard.
    pub three_sources_us: Stats,
    pub four_sources_us: Stats,
    pub adapted_us: Stats,
    /// Four minus three at p99 and at the median (µs).
    pub p99_cost_us: f64,
    pub median_cost_us: f64,
    /// Adapted minus four at p99 and at the median (µs).
    pub adapt_p99_cost_us: f64,
    pub adapt_median_cost_us: f64,
}

/// The round whose p99 is the median of `rounds` (a default round when there is none):
/// one round's statistics, not a mix of rounds'.
pub fn median_round(mut rounds: Vec<Stats>) -> Stats {
    rounds.sort_by(|a, b| a.p99.total_cmp(&b.p99));
    rounds.get(rounds.len() / 2).copied().unwrap_or_default()
}

/// Measure [`DampedSourceCost`] over `rounds` alternating rounds of `frames` frames.
pub fn damped_source_cost(
    model: Arc<StreamModel>,
    takes: &[&[PoseFrame]],
    frames: usize,
    rounds: usize,
) -> Result<DampedSourceCost, BenchError> {
    let config = |damped_source, adapt| {
        let mut c = EngineConfig::default();
        c.guard.damped_source = damped_source;
        c.guard.adapt = adapt;
        c
    };
    let (mut three, mut four, mut adapted) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        three.push(bench_engine_with(model.clone(), config(false, false), takes, frames)?.push_us);
        four.push(bench_engine_with(model.clone(), config(true, false), takes, frames)?.push_us);
        adapted.push(bench_engine_with(model.clone(), config(true, true), takes, frames)?.push_us);
    }
    let (three, four, adapted) = (median_round(three), median_round(four), median_round(adapted));
    Ok(DampedSourceCost {
        rounds: rounds.max(1),
        frames_per_round: frames,
        p99_cost_us: four.p99 - three.p99,
        median_cost_us: four.median - three.median,
        adapt_p99_cost_us: adapted.p99 - four.p99,
        adapt_median_cost_us: adapted.median - four.median,
        three_sources_us: three,
        four_sources_us: four,
        adapted_us: adapted,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the bench data has no take with two or more frames")]
    NoData,
    #[error("frame {frame}: {cause}")]
    Stream { frame: usize, cause: StreamError },
    #[error("the bench recordings need a take of {0} frames")]
    TakeTooShort(usize),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Frames of history the whole model sees per forecast in the window benchmarks: the 2 s
/// of the evaluation protocol.
const WINDOW: usize = 60;

/// The model's burn modules at batch 1 beside our kernels: where the per-frame time would
/// go without them.
#[derive(Clone, Debug, Serialize)]
pub struct BurnComparison {
    /// The forecast head alone: burn modules, then our kernels, on the same input.
    pub heads_burn_us: Stats,
    pub heads_native_us: Stats,
    /// `Model::forecast` on a 2 s (60-frame) window per frame: no streaming cache.
    pub window_burn_us: Stats,
}

pub fn compare_burn(model: &Model, stream: &StreamModel, takes: &[&[PoseFrame]]) -> Result<BurnComparison, BenchError> {
    use burn::tensor::{Tensor, TensorData};
    const WINDOWS: usize = 200;
    let n_in = head_input_dim(model.config.d_model);
    let input: Vec<f32> = (0..n_in).map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5).collect();
    let reps = 2000;
    let mut burn_ns = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let x = Tensor::<2>::from_data(TensorData::new(input.clone(), [1, n_in]), &model.device);
        let (mean, spread) = model.net.forecast.forward(x);
        std::hint::black_box((host(mean), host(spread)));
        burn_ns.push(t.elapsed().as_nanos() as u32);
    }
    let mut state = stream.net().new_state();
    let h = model.config.horizon;
    let mut mean = vec![0.0; h * a4mer_runtime::model::features::POSE_DIM];
    let mut spread = vec![0.0; h];
    let mut native_ns = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        stream.net().forecast(&input, &mut state, &mut mean, &mut spread);
        std::hint::black_box(&mean);
        native_ns.push(t.elapsed().as_nanos() as u32);
    }
    let take = takes
        .iter()
        .find(|t| t.len() >= WINDOW + WINDOWS)
        .ok_or(BenchError::TakeTooShort(WINDOW + WINDOWS))?;
    let mut window_ns = Vec::with_capacity(WINDOWS);
    for i in 0..WINDOWS {
        let t = Instant::now();
        std::hint::black_box(model.forecast(&take[i..i + WINDOW])?);
        window_ns.push(t.elapsed().as_nanos() as u32);
    }
    Ok(BurnComparison {
        heads_burn_us: Stats::from_ns(&mut burn_ns),
        heads_native_us: Stats::from_ns(&mut native_ns),
        window_burn_us: Stats::from_ns(&mut window_ns),
    })
}

/// The whole model on a 2 s window per frame on one backend (what runs on libtorch: the
/// streaming engine's kernels are CPU code), and batches of windows across tracks.
#[derive(Clone, Debug, Serialize)]
pub struct WindowBench {
    pub window_frames: usize,
    /// One person: `Model::forecast` on the window ending at each frame.
    pub per_frame_us: Stats,
    pub batches: Vec<BatchThroughput>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BatchThroughput {
    /// People forecast in one call (`Model::forecast_batch`).
    pub tracks: usize,
    pub call_us: Stats,
    pub windows_per_s: f64,
}

/// Track counts of the batch runs.
pub const BENCH_TRACKS: [usize; 4] = [1, 2, 4, 8];

pub fn bench_windows(model: &Model, takes: &[&[PoseFrame]], frames: usize) -> Result<WindowBench, BenchError> {
    let take = takes
        .iter()
        .copied()
        .max_by_key(|t| t.len())
        .filter(|t| t.len() > WINDOW + 8)
        .ok_or(BenchError::TakeTooShort(WINDOW + 8))?;
    let starts = take.len() - WINDOW;
    let window = |i: usize| &take[i % starts..i % starts + WINDOW];
    // Warm-up: the first calls on a device allocate and (CUDA) load kernels.
    for i in 0..5 {
        model.forecast(window(i))?;
    }
    let mut per_frame = Vec::with_capacity(frames);
    for i in 0..frames {
        let t = Instant::now();
        std::hint::black_box(model.forecast(window(i))?);
        per_frame.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
    }
    let mut batches = Vec::new();
    for tracks in BENCH_TRACKS {
        let calls = (frames / tracks).max(10);
        let mut call_ns = Vec::with_capacity(calls);
        let started = Instant::now();
        for c in 0..calls {
            // Each track at its own place in the take, as different people would be.
            let windows: Vec<&[PoseFrame]> = (0..tracks).map(|k| window(c + k * starts / tracks)).collect();
            let t = Instant::now();
            std::hint::black_box(model.forecast_batch(&windows)?);
            call_ns.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        }
        let secs = started.elapsed().as_secs_f64();
        batches.push(BatchThroughput {
            tracks,
            call_us: Stats::from_ns(&mut call_ns),
            windows_per_s: (calls * tracks) as f64 / secs,
        });
    }
    Ok(WindowBench {
        window_frames: WINDOW,
        per_frame_us: Stats::from_ns(&mut per_frame),
        batches,
    })
}

/// Stream `frames` frames of `takes` through one engine, timing every `push`.
pub fn bench_engine(model: Arc<StreamModel>, takes: &[&[PoseFrame]], frames: usize) -> Result<BenchReport, BenchError> {
    bench_engine_with(model, EngineConfig::default(), takes, frames)
}

/// [`bench_engine`] with these engine settings.
pub fn bench_engine_with(
    model: Arc<StreamModel>,
    config: EngineConfig,
    takes: &[&[PoseFrame]],
    frames: usize,
) -> Result<BenchReport, BenchError> {
    let mut engine = Engine::new(model.clone(), config)?;
    let mut source = MocapLoop::new(takes).ok_or(BenchError::NoData)?;
    // Every buffer is allocated and touched before the first frame, so RSS growth after
    // that is the engine's.
    let mut push = vec![1u32; frames];
    // `vec![false; n]` would be calloc'd, its pages mapped as the loop writes them.
    let mut is_close = vec![true; frames];
    let mut open_sum = 0u64;
    let mut rss_at_10k = None;
    let start = Instant::now();
    for i in 0..frames {
        let Some(f) = source.next() else { break };
        let closes_before = engine.atoms_closed();
        let t = Instant::now();
        let r = engine.push_ref(&f).map(|a| a.forecast.len());
        let dt = t.elapsed();
        if let Err(cause) = r {
            return Err(BenchError::Stream { frame: i, cause });
        }
        push[i] = dt.as_nanos().min(u32::MAX as u128) as u32;
        is_close[i] = engine.atoms_closed() != closes_before;
        open_sum += engine.open_len() as u64;
        if i + 1 == 10_000 {
            rss_at_10k = a4mer_runtime::stats::rss_mib(None, false);
        }
    }
    let wall = start.elapsed().max(Duration::from_nanos(1));
    // Before the statistics below allocate their copies of the samples.
    let rss_end = a4mer_runtime::stats::rss_mib(None, false).unwrap_or(f64::NAN);
    let mut close: Vec<u32> = push
        .iter()
        .zip(&is_close)
        .filter(|(_, c)| **c)
        .map(|(p, _)| *p)
        .collect();
    let mut steady: Vec<u32> = push
        .iter()
        .zip(&is_close)
        .filter(|(_, c)| !**c)
        .map(|(p, _)| *p)
        .collect();
    let mean_open = open_sum as f64 / frames.max(1) as f64;
    let (macs_steady, macs_close_extra) = model.net().macs(mean_open.round().max(1.0) as usize);
    let dropped = engine.health().frames_dropped;
    Ok(BenchReport {
        frames,
        push_us: Stats::from_ns(&mut push),
        close_us: Stats::from_ns(&mut close),
        steady_us: Stats::from_ns(&mut steady),
        rss_mb: rss_end,
        rss_mb_at_10k: rss_at_10k,
        fps: frames as f64 / wall.as_secs_f64(),
        macs_steady,
        macs_close_extra,
        mean_open_len: mean_open,
        dropped,
    })
}
