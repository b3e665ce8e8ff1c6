use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use a4mer_train::data::load_motions;
use a4mer_train::eval::{EvalReport, MethodScores, Split, evaluate};

use a4mer_runtime::artifact::load_model;
use a4mer_runtime::device::{Backend, backend_device};
use a4mer_runtime::stream::StreamModel;
use a4mer_train::forecaster::{EngineForecaster, ModelForecaster};

use crate::{SourceArgs, print_json};

#[derive(Args)]
pub struct EvalArgs {
    /// Recordings: BVH files or directories of them.
    #[arg(long, required = true, num_args = 1.., value_name = "FILE|DIR")]
    data: Vec<PathBuf>,
    /// Part of each recording to score: all, train (first 80 %) or heldout (last 20 %).
    #[arg(long, default_value = "all")]
    split: Split,
    /// Frames between window origins.
    #[arg(long, default_value_t = 5)]
    stride: usize,
    /// A trained model (.a4m) to score next to the baselines (adds the `model` key).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Backend that runs the model: ndarray, tch-cpu or tch-cuda (the tch ones need a build
    /// with `--features tch`).
    #[arg(long, default_value_t = Backend::Ndarray, value_name = "BACKEND")]
    backend: Backend,
    /// Forecast through the streaming engine (what the node runs) instead of the offline
    /// batch model. Always on for an int8 model: its int8 kernels run only in the engine.
    #[arg(long)]
    engine: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let motions = load_motions(&args.data, &args.source.import_options()).context("loading recordings")?;
    let loaded = match &args.model {
        Some(p) => {
            let device = backend_device(args.backend)?;
            Some(
                load_model(p, &device)
                    .with_context(|| format!("loading model {} on {}", p.display(), args.backend))?
                    .0,
            )
        }
        None => None,
    };
    let int8 = loaded.as_ref().is_some_and(|m| m.quant.is_some());
    let use_engine = args.engine || int8;
    let mut batch = None;
    let mut streamed = None;
    if let Some(m) = &loaded {
        if use_engine {
            let stream = StreamModel::new(m).context("preparing the model for the streaming engine")?;
            streamed = Some(EngineForecaster::new(std::sync::Arc::new(stream)));
        } else {
            batch = Some(ModelForecaster::new(m));
        }
    }
    let forecaster: Option<&mut dyn a4mer_train::eval::Forecaster> = match (&mut batch, &mut streamed) {
        (Some(b), _) => Some(b),
        (_, Some(s)) => Some(s),
        _ => None,
    };
    let report = evaluate(&motions, args.split, args.stride, forecaster)?;
    let (failures, last_error) = match (&batch, &streamed) {
        (Some(b), _) => (b.failures, b.last_error.clone()),
        (_, Some(s)) => (s.failures, s.last_error.clone()),
        _ => (0, None),
    };
    if failures > 0 {
        eprintln!(
            "a4mer eval: the model rejected {} window(s) (scored as zero velocity); last error: {}",
            failures,
            last_error.as_deref().unwrap_or("?")
        );
    }
    if args.json {
        return print_json(&report);
    }
    println!(
        "a4mer eval: {} recording(s), split {:?}, {} windows (stride {}), {} joints, {} Hz",
        motions.len(),
        args.split,
        report.windows,
        args.stride,
        report.joints,
        report.fps
    );
    if loaded.is_some() {
        println!(
            "model runs: {}",
            match (use_engine, int8) {
                (true, true) => "streaming engine, int8 kernels",
                (true, false) => "streaming engine, f32",
                _ => "offline batch model (burn), f32",
            }
        );
    }
    print_table(&report);
    Ok(())
}

fn print_table(report: &EvalReport) {
    print!("{:<18} {:<16}", "MPJPE (mm)", "frame");
    for ms in &report.horizons_ms {
        print!("{:>9}", format!("{ms} ms"));
    }
    println!();
    let t = &report.mpjpe_mm;
    let rows: Vec<(&str, &MethodScores)> = [
        Some(("zero_velocity", &t.zero_velocity)),
        Some(("constant_velocity", &t.constant_velocity)),
        t.model.as_ref().map(|m| ("model", m)),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (name, scores) in rows {
        for (frame, values) in [("world", &scores.world), ("pelvis_relative", &scores.pelvis_relative)] {
            print!("{name:<18} {frame:<16}");
            for v in values {
                print!("{v:>9.1}");
            }
            println!();
        }
    }
}
