//! `a4mer`: the command-line tool for integrators, field engineers, safety teams and ML
//! engineers.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use a4mer_train::data::bvh::{ImportOptions, Units, UpAxis};

mod bundle;
mod cmd_bench;
mod cmd_bundle;
mod cmd_demo;
mod cmd_eval;
mod cmd_forecast;
mod cmd_import;
mod cmd_quantize;
mod cmd_replay;
mod cmd_selftest;
mod cmd_soak;
mod cmd_verify;
mod selftest_extra;
// Model issue: training, motif inspection.
mod cmd_motifs;
mod cmd_train;

#[derive(Parser)]
#[command(
    name = "a4mer",
    version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("A4MER_GIT_REVISION"), ")"),
    about = "A4Mer human-motion anticipation: import, evaluate, bundle and verify device bundles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score forecasts on recordings with the standard protocol (MPJPE at 100..1000 ms).
    Eval(cmd_eval::EvalArgs),
    /// Inspect a motion file (--info: joints, SMPL-24 mapping, units, up axis, rate) or convert it
    /// to a rosbag2 bag (--to-bag).
    Import(cmd_import::ImportArgs),
    /// Pack binaries, model, launch files and a SHA-256 manifest into a reproducible device bundle.
    Bundle(cmd_bundle::BundleArgs),
    /// Check a bundle: every hash, nothing missing or extra, binaries built for this machine.
    Verify(cmd_verify::VerifyArgs),
    /// Train A4Mer (self-supervised pre-training + heads) and export an .a4m artifact.
    Train(cmd_train::TrainArgs),
    /// Print a recording's atom segments and motif ids over time.
    Motifs(cmd_motifs::MotifsArgs),
    /// Time the streaming engine per frame on real mocap (median, p99, max; memory; FLOPs).
    Bench(cmd_bench::BenchArgs),
    /// Run the offline model on one window of a recording (the reference for the Python peers).
    Forecast(cmd_forecast::ForecastArgs),
    /// Replay real mocap to the node over DDS on loopback and watch it anticipate (live view).
    Demo(cmd_demo::DemoArgs),
    /// Replay a rosbag2 bag through the node's engine by bag time: output bag, scores, events,
    /// HTML audit report. Deterministic for the bag and the model.
    Replay(cmd_replay::ReplayArgs),
    /// Soak: millions of frames of looped, augmented real mocap through the per-person engines
    /// with people coming and going; RSS drift, p99 per million frames, non-finite outputs.
    Soak(cmd_soak::SoakArgs),
    /// On the device after flashing: the model loads intact, forecasts the bundled clip as well
    /// as recorded when it was made, and keeps up with 30 Hz. PASS/FAIL and a JSON report.
    Selftest(cmd_selftest::SelftestArgs),
    /// int8 post-training quantization: calibrate through the engine, write an int8 .a4m, report
    /// size, held-out MPJPE, motif agreement and per-frame latency against f32.
    Quantize(cmd_quantize::QuantizeArgs),
}

/// How source recordings are read; everything here is detected when not given.
#[derive(Args, Clone, Debug, Default)]
pub struct SourceArgs {
    /// Length unit of the source (m, cm, mm, in). Detected from skeleton height if absent.
    #[arg(long, value_name = "UNIT")]
    pub units: Option<Units>,
    /// Up axis of the source (y, z, x, optionally signed: -y). Detected if absent.
    #[arg(long, value_name = "AXIS", allow_hyphen_values = true)]
    pub up: Option<UpAxis>,
    /// Explicit joint map (TOML: [joints] smpl_name = "source name"). Name heuristics if absent.
    #[arg(long, value_name = "FILE")]
    pub joint_map: Option<PathBuf>,
    /// Repeat cyclic DeepMimic clips ("Loop": "wrap") to at least this many seconds,
    /// carrying the root's displacement and heading from pass to pass.
    #[arg(long, value_name = "SECONDS")]
    pub loop_wrap_to_s: Option<f64>,
}

impl SourceArgs {
    pub fn import_options(&self) -> ImportOptions {
        ImportOptions {
            units: self.units,
            up_axis: self.up,
            joint_map: self.joint_map.clone(),
            loop_wrap_to_s: self.loop_wrap_to_s,
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => cmd_eval::run(args),
        Command::Import(args) => cmd_import::run(args),
        Command::Bundle(args) => cmd_bundle::run(args),
        Command::Verify(args) => cmd_verify::run(args),
        Command::Train(args) => cmd_train::run(args),
        Command::Motifs(args) => cmd_motifs::run(args),
        Command::Bench(args) => cmd_bench::run(args),
        Command::Demo(args) => cmd_demo::run(args),
        Command::Replay(args) => cmd_replay::run(args),
        Command::Soak(args) => cmd_soak::run(args),
        Command::Selftest(args) => cmd_selftest::run(args),
        Command::Forecast(args) => cmd_forecast::run(args),
        Command::Quantize(args) => cmd_quantize::run(args),
    };
    if let Err(e) = result {
        eprintln!("a4mer: error: {e:#}");
        std::process::exit(1);
    }
}

/// Print exactly one JSON object on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).context("serialising JSON output")?;
    println!("{text}");
    Ok(())
}
