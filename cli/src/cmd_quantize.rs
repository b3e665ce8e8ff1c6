//! `a4mer quantize`: int8 post-training quantization (weights per output channel, each
//! layer input per vector at run time), real data streamed through the engine to check the
//! model, and a report (size, held-out MPJPE, motif agreement, per-frame latency).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::{Args, ValueEnum};

use a4mer_measure::eval::Split;
use a4mer_motion::{collect_motion_files, import_motion};
use a4mer_quantize::{Activations, Method, Recording, ReportOptions, Request, sha256_file};

use crate::args::{SourceArgs, print_json};
use crate::bag_input::{is_bag, read_bag_people};

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum ActivationsArg {
    /// Each input vector of an int8 layer gets its own scale (max|x| / 127) at run time:
    /// nothing clips on bodies, rigs or speeds calibration never saw.
    Dynamic,
    /// One calibrated scale per layer input (--method): what artifacts used before
    /// dynamic; clips off-distribution. For comparison.
    Static,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MethodArg {
    /// Scale = largest |x| seen: nothing clips.
    Minmax,
    /// Scale = a percentile of |x| (--percentile): rare outliers clip.
    Percentile,
}

#[derive(Args)]
pub struct QuantizeArgs {
    /// The f32 model (.a4m) to quantize.
    #[arg(long, default_value = "models/a4mer-small.a4m", value_name = "FILE")]
    model: PathBuf,
    /// Calibration recordings: BVH files or directories of them, or rosbag2 bags (a bag
    /// directory, .mcap or .db3; the first pose topic, one recording per person id).
    /// Streamed through the f32 engine: with dynamic activations only to refuse a model
    /// that is non-finite or has a dead layer on real data (and recorded as provenance);
    /// with static activations the scales come from it.
    #[arg(long, required = true, num_args = 1.., value_name = "BVH|DIR|BAG")]
    calib: Vec<PathBuf>,
    /// Part of each calibration recording streamed: train (first 80 %), heldout or all.
    #[arg(long, default_value = "train")]
    calib_split: Split,
    /// Where to write the int8 artifact (written only if everything succeeded).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// How the input of each int8 layer is quantized.
    #[arg(long, value_enum, default_value_t = ActivationsArg::Dynamic)]
    activations: ActivationsArg,
    /// How static activation scales are calibrated (default percentile). Only with
    /// --activations static: dynamic scales are not calibrated, and giving it is an error.
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// The percentile of |x| for --method percentile (default 99.99). Only with
    /// --activations static.
    #[arg(long)]
    percentile: Option<f64>,
    /// Engine layers kept in f32 (`none` for none). The default, the frame predictor, is
    /// what the segmenter thresholds: in int8 it moves atom boundaries, and motif agreement
    /// with f32 drops from 97 % to 90 % (ARCHITECTURE.md, quantization).
    #[arg(long, num_args = 1.., value_name = "LAYER", default_value = "frame_pred")]
    keep_f32: Vec<String>,
    /// Recordings the report scores (their --eval-split part) and the latency bench streams.
    #[arg(long, default_value = "data/mocap", num_args = 1.., value_name = "FILE|DIR")]
    eval_data: Vec<PathBuf>,
    #[arg(long, default_value = "heldout")]
    eval_split: Split,
    /// Frames between evaluation window origins.
    #[arg(long, default_value_t = 5)]
    stride: usize,
    /// Recordings the f32 model's training never read (files or directories), scored whole:
    /// the int8 drift where it matters, on people and rigs the model has not seen.
    #[arg(long, num_args = 1.., value_name = "FILE|DIR")]
    unseen: Vec<PathBuf>,
    /// Skip the perturbation suite (body scale, speed, rate, mirror, rigs, jitter, dropped
    /// joints) in the report.
    #[arg(long)]
    no_perturb: bool,
    /// Frames per latency round (each model, alternating).
    #[arg(long, default_value_t = 20_000)]
    bench_frames: usize,
    /// Latency rounds per model; the round with the median p99 is reported.
    #[arg(long, default_value_t = 3)]
    bench_rounds: usize,
    /// Also time burn's own int8 tensors against f32 (matmul on the engine's shapes).
    #[arg(long)]
    compare_burn_int8: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

/// BVH files (each its own recording) and bags (one recording per person).
fn load_recordings(inputs: &[PathBuf], split: Split, source: &SourceArgs, what: &str) -> Result<Vec<Recording>> {
    let mut out = Vec::new();
    for input in inputs {
        if !input.exists() {
            return Err(anyhow!("{what} {}: no such file or directory", input.display()));
        }
        if is_bag(input) {
            out.extend(read_bag(input, split).with_context(|| format!("{what} bag {}", input.display()))?);
            continue;
        }
        let files =
            collect_motion_files(std::slice::from_ref(input)).with_context(|| format!("{what} {}", input.display()))?;
        for f in files {
            let m = import_motion(&f, &source.import_options())
                .with_context(|| format!("{what} file {} does not parse", f.display()))?;
            out.push(Recording {
                source: f.display().to_string(),
                sha256: sha256_file(&f).with_context(|| format!("{what} file {}", f.display()))?,
                frames: split.frames(&m.frames).to_vec(),
            });
        }
    }
    Ok(out)
}

fn read_bag(path: &Path, split: Split) -> Result<Vec<Recording>> {
    let bag = read_bag_people(path)?;
    Ok(bag
        .people
        .into_iter()
        .map(|(id, frames)| Recording {
            source: format!("{}#{}/person{id}", path.display(), bag.topic),
            sha256: bag.sha256.clone(),
            frames: split.frames(&frames).to_vec(),
        })
        .collect())
}

pub fn run(args: QuantizeArgs) -> Result<()> {
    let activations = match args.activations {
        ActivationsArg::Dynamic => {
            anyhow::ensure!(
                args.method.is_none() && args.percentile.is_none(),
                "--method and --percentile calibrate static activation scales; with --activations dynamic (the default) every input vector is scaled at run time and nothing is calibrated. Drop them, or add --activations static"
            );
            Activations::Dynamic
        }
        ActivationsArg::Static => {
            let percentile = args.percentile.unwrap_or(a4mer_quantize::DEFAULT_PERCENTILE);
            Activations::Static(match args.method.unwrap_or(MethodArg::Percentile) {
                MethodArg::Minmax => {
                    anyhow::ensure!(
                        args.percentile.is_none(),
                        "--percentile applies to --method percentile only"
                    );
                    Method::MinMax
                }
                MethodArg::Percentile => Method::Percentile(percentile),
            })
        }
    };
    let calibration = load_recordings(&args.calib, args.calib_split, &args.source, "calibration")?;
    let data = load_recordings(&args.eval_data, Split::All, &args.source, "evaluation")?;
    let unseen = load_recordings(&args.unseen, Split::All, &args.source, "unseen")?;
    anyhow::ensure!(args.bench_frames > 0, "--bench-frames must be > 0");
    let req = Request {
        model: args.model.clone(),
        calibration,
        calibration_split: format!("{:?}", args.calib_split).to_lowercase(),
        activations,
        keep_f32: args
            .keep_f32
            .iter()
            .filter(|l| l.as_str() != "none")
            .map(|l| {
                let why = if l == "frame_pred" {
                    a4mer_quantize::FRAME_PRED_REASON
                } else {
                    "kept in f32 by --keep-f32"
                };
                (l.clone(), why.to_string())
            })
            .collect(),
        out: args.out.clone(),
        report: ReportOptions {
            data,
            split: args.eval_split,
            stride: args.stride,
            bench_frames: args.bench_frames,
            bench_rounds: args.bench_rounds,
            burn_int8: args.compare_burn_int8,
            perturb: !args.no_perturb,
            unseen,
        },
    };
    let outcome = a4mer_quantize::run(&req).with_context(|| {
        format!(
            "quantizing {} (nothing written to {})",
            args.model.display(),
            args.out.display()
        )
    })?;
    if args.json {
        return print_json(&outcome.report);
    }
    print!("{}", a4mer_quantize::report::table(&outcome.report));
    println!("wrote {}", args.out.display());
    Ok(())
}
