use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use a4mer_burn_model::device::{Backend, BackendError, backend_device, inference_device};
use a4mer_burn_model::load_model;
use a4mer_measure::bench::{
    BenchReport, BurnComparison, DampedSourceCost, WindowBench, bench_engine, bench_windows, compare_burn,
    damped_source_cost,
};
use a4mer_motion::load_motions;

use crate::args::{SourceArgs, print_json};

#[derive(Args)]
pub struct BenchArgs {
    /// The model (.a4m) to stream.
    #[arg(long, default_value = "models/a4mer-small.a4m", value_name = "FILE")]
    model: PathBuf,
    /// Recordings streamed (looped): BVH files or directories of them.
    #[arg(long, default_value = "data/mocap", num_args = 1.., value_name = "FILE|DIR")]
    data: Vec<PathBuf>,
    /// Frames to stream through the engine.
    #[arg(long, default_value_t = 20_000)]
    frames: usize,
    /// Also time the burn modules at batch 1 (heads alone, and the whole model re-run on a
    /// 2 s window per frame, as a runtime without a streaming cache would).
    #[arg(long)]
    compare_burn: bool,
    /// Also time the guard's damped-velocity source and its adaptation to the person: `push`
    /// with the three-source guard, the four-source one, and the four-source one adapting,
    /// in this many alternating rounds of --frames each.
    #[arg(long, value_name = "ROUNDS")]
    guard_cost: Option<usize>,
    /// ndarray: the streaming engine (what the node runs). tch-cpu, tch-cuda: the model on
    /// libtorch, a 2 s window per frame and batches across tracks (needs a build with
    /// `--features tch`). tch-cuda without a CUDA device prints why it skips and exits 0.
    #[arg(long, default_value_t = Backend::Ndarray, value_name = "BACKEND")]
    backend: Backend,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Serialize)]
struct Output {
    #[serde(flatten)]
    engine: BenchReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    burn: Option<BurnComparison>,
    #[serde(skip_serializing_if = "Option::is_none")]
    damped_source: Option<DampedSourceCost>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.backend != Backend::Ndarray {
        return run_backend(args);
    }
    let (model, prov) = load_model(&args.model, &inference_device())
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let stream = Arc::new(
        a4mer_burn_model::stream_model(&model)
            .with_context(|| format!("model {}", args.model.display()))?
            .with_damping_tau(prov.damping_tau()),
    );
    let motions = load_motions(&args.data, &args.source.import_options()).context("loading bench recordings")?;
    let takes: Vec<&[a4mer_runtime::PoseFrame]> = motions.iter().map(|m| m.frames.as_slice()).collect();
    anyhow::ensure!(args.frames > 0, "--frames must be > 0");
    let engine = bench_engine(stream.clone(), &takes, args.frames).context("streaming the bench recordings")?;
    let burn = if args.compare_burn {
        Some(compare_burn(&model, &stream, &takes).context("timing the burn modules")?)
    } else {
        None
    };
    let damped_source = match args.guard_cost {
        Some(rounds) => Some(
            damped_source_cost(stream.clone(), &takes, args.frames, rounds)
                .context("timing the guard's damped-velocity source")?,
        ),
        None => None,
    };
    let out = Output {
        engine,
        burn,
        damped_source,
    };
    if args.json {
        return print_json(&out);
    }
    print_table(&out);
    Ok(())
}

#[derive(Serialize)]
struct BackendOutput {
    backend: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    windows: Option<WindowBench>,
}

/// The model on a libtorch device: per-frame latency and batch throughput across tracks.
fn run_backend(args: BenchArgs) -> Result<()> {
    let device = match backend_device(args.backend) {
        Ok(d) => d,
        // No GPU here: a clear reason and success, so fleet scripts run on any machine.
        Err(e @ (BackendError::NoCuda(_) | BackendError::NotBuilt(Backend::TchCuda))) => {
            let reason = e.to_string();
            if args.json {
                return print_json(&BackendOutput {
                    backend: args.backend.to_string(),
                    skipped: Some(reason),
                    windows: None,
                });
            }
            println!("SKIP a4mer bench --backend {}: {reason}", args.backend);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    anyhow::ensure!(args.frames > 0, "--frames must be > 0");
    let (model, _) = load_model(&args.model, &device)
        .with_context(|| format!("loading model {} on {}", args.model.display(), args.backend))?;
    let motions = load_motions(&args.data, &args.source.import_options()).context("loading bench recordings")?;
    let takes: Vec<&[a4mer_runtime::PoseFrame]> = motions.iter().map(|m| m.frames.as_slice()).collect();
    let w = bench_windows(&model, &takes, args.frames).with_context(|| format!("benchmarking on {}", args.backend))?;
    if args.json {
        return print_json(&BackendOutput {
            backend: args.backend.to_string(),
            skipped: None,
            windows: Some(w),
        });
    }
    println!(
        "a4mer bench --backend {}: the model on a {}-frame window per frame ({} frames)",
        args.backend, w.window_frames, w.per_frame_us.count
    );
    let s = &w.per_frame_us;
    println!(
        "per frame (us)        median {:.1}  p99 {:.1}  max {:.1}",
        s.median, s.p99, s.max
    );
    println!(
        "{:<8} {:>12} {:>12} {:>14}",
        "tracks", "median us", "p99 us", "windows/s"
    );
    for b in &w.batches {
        println!(
            "{:<8} {:>12.1} {:>12.1} {:>14.0}",
            b.tracks, b.call_us.median, b.call_us.p99, b.windows_per_s
        );
    }
    Ok(())
}

fn print_table(out: &Output) {
    print_engine(&out.engine);
    if let Some(d) = &out.damped_source {
        println!(
            "guard's damped source  push p99 {:.1} us with it, {:.1} us without: {:+.1} us at p99, {:+.1} us at the median ({} alternating rounds of {} frames)",
            d.four_sources_us.p99,
            d.three_sources_us.p99,
            d.p99_cost_us,
            d.median_cost_us,
            d.rounds,
            d.frames_per_round
        );
        println!(
            "adapting to the person  push p99 {:.1} us with it, {:.1} us without: {:+.1} us at p99, {:+.1} us at the median",
            d.adapted_us.p99, d.four_sources_us.p99, d.adapt_p99_cost_us, d.adapt_median_cost_us
        );
    }
    if let Some(b) = &out.burn {
        print_burn(b);
    }
}

fn print_engine(e: &BenchReport) {
    println!("a4mer bench: {} frames, one engine, single thread", e.frames);
    println!(
        "{:<22} {:>8} {:>10} {:>10} {:>10}",
        "per frame (us)", "frames", "median", "p99", "max"
    );
    for (name, s) in [
        ("push (all)", &e.push_us),
        ("segment-closing", &e.close_us),
        ("ordinary", &e.steady_us),
    ] {
        println!(
            "{:<22} {:>8} {:>10.1} {:>10.1} {:>10.1}",
            name, s.count, s.median, s.p99, s.max
        );
    }
    println!("throughput            {:.0} frames/s", e.fps);
    match e.rss_mb_at_10k {
        Some(at) => println!(
            "resident memory       {:.1} MiB after 10 000 frames, {:.1} MiB at the end",
            at, e.rss_mb
        ),
        None => println!("resident memory       {:.1} MiB at the end", e.rss_mb),
    }
    println!(
        "arithmetic            {:.2} M multiply-adds per ordinary frame (open segment {:.1} frames), +{:.2} M on a close",
        e.macs_steady as f64 / 1e6,
        e.mean_open_len,
        e.macs_close_extra as f64 / 1e6
    );
}

fn print_burn(b: &BurnComparison) {
    println!("batch-1 comparison (median / p99 us):");
    println!(
        "  forecast head, burn ndarray   {:>8.1} / {:.1}",
        b.heads_burn_us.median, b.heads_burn_us.p99
    );
    println!(
        "  forecast head, a4mer kernels  {:>8.1} / {:.1}",
        b.heads_native_us.median, b.heads_native_us.p99
    );
    println!(
        "  whole model on a 2 s window   {:>8.1} / {:.1}  (burn, no streaming cache)",
        b.window_burn_us.median, b.window_burn_us.p99
    );
}
