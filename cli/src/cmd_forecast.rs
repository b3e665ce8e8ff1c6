//! `a4mer forecast`: the offline (batch) model on one window of a recording. Its JSON is the
//! reference the Python peers (`peers/`) are checked against, so it carries the input
//! window exactly as the model saw it, the outputs, and the intermediate values that locate
//! a disagreement (features, surprise, segments).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_motion::import_motion;
use a4mer_runtime::{FPS, NUM_JOINTS, PoseFrame};

use crate::args::{SourceArgs, print_json};

#[derive(Args)]
pub struct ForecastArgs {
    /// The model artifact (.a4m).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// A BVH recording (imported as `a4mer eval` does: SMPL-24, metres, REP-103, model rate).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// First frame of the window (at the model rate, after import).
    #[arg(long, default_value_t = 0)]
    start: usize,
    /// Frames in the window; default: the model's observation window (`obs_frames`).
    #[arg(long)]
    frames: Option<usize>,
    /// Print one JSON object: input window, outputs and intermediate values.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Serialize)]
struct InputFrame {
    stamp_ns: i64,
    joints_in_world: [[f32; 3]; NUM_JOINTS],
    valid: [bool; NUM_JOINTS],
}

#[derive(Serialize)]
struct Step {
    dt_s: f32,
    joints_in_world: [[f32; 3]; NUM_JOINTS],
    spread_m: f32,
}

#[derive(Serialize)]
struct MotifNow {
    id: usize,
    confidence: f32,
}

#[derive(Serialize)]
struct Output {
    steps: Vec<Step>,
    valid: [bool; NUM_JOINTS],
    motif_now: Option<MotifNow>,
    motif_next: Vec<f32>,
}

/// What `Model::prepare` computed: enough to tell a feature bug from a segmentation or a
/// network one.
#[derive(Serialize)]
struct Debug {
    /// Normalized model input of each frame (`FEAT_DIM` values).
    norm_feats: Vec<Vec<f32>>,
    /// Normalized joint velocities of the last frame (`KIN_DIM`).
    kin_last: Vec<f32>,
    yaw_rad: Vec<f32>,
    surprise: Vec<f32>,
    tau: f32,
    /// Closed segments `[start, end)` in window frames, oldest first; the heads see the
    /// newest `n_atoms` of them.
    closed: Vec<[usize; 2]>,
    open: [usize; 2],
    atoms_used: usize,
}

#[derive(Serialize)]
struct Report {
    model: String,
    data: String,
    start: usize,
    frames: usize,
    fps: u32,
    input: Vec<InputFrame>,
    output: Output,
    debug: Debug,
}

fn absolute(p: &std::path::Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

pub fn run(args: ForecastArgs) -> Result<()> {
    let (model, _) = load_model(&args.model, &inference_device())?;
    let motion = import_motion(&args.data, &args.source.import_options())?;
    let n = args.frames.unwrap_or(model.config.obs_frames);
    if n < 2 {
        bail!(
            "{}: --frames {n}: the model needs at least 2 frames",
            args.data.display()
        );
    }
    let end = args.start.checked_add(n).filter(|&e| e <= motion.frames.len());
    let Some(end) = end else {
        bail!(
            "{}: window [{}, {} + {}) is past the end of the recording ({} frames at {} Hz)",
            args.data.display(),
            args.start,
            args.start,
            n,
            motion.frames.len(),
            FPS
        );
    };
    let window: &[PoseFrame] = &motion.frames[args.start..end];
    let what = || format!("{} frames [{}, {})", args.data.display(), args.start, end);
    let forecast = model.forecast(window).with_context(what)?;
    let prep = model.prepare(window).with_context(what)?;

    let atoms_used = prep.input.closed.len().min(model.config.n_atoms);
    let report = Report {
        // Absolute, so a fixture still names its model when read from another directory.
        model: absolute(&args.model),
        data: absolute(&args.data),
        start: args.start,
        frames: n,
        fps: FPS,
        input: window
            .iter()
            .map(|f| InputFrame {
                stamp_ns: f.stamp_ns,
                joints_in_world: f.joints_in_world,
                valid: f.valid,
            })
            .collect(),
        output: Output {
            steps: forecast
                .steps
                .iter()
                .map(|s| Step {
                    dt_s: s.dt_s,
                    joints_in_world: s.joints_in_world,
                    spread_m: s.spread_m,
                })
                .collect(),
            valid: forecast.valid,
            motif_now: forecast.motif_now.map(|(id, confidence)| MotifNow { id, confidence }),
            motif_next: forecast.motif_next.clone(),
        },
        debug: Debug {
            norm_feats: prep.input.feats.iter().map(|f| f.to_vec()).collect(),
            kin_last: prep.input.kin_last.to_vec(),
            yaw_rad: prep.raw.iter().map(|f| f.yaw_rad).collect(),
            surprise: prep.surprise.clone(),
            tau: model.config.segmenter.tau,
            closed: prep.input.closed.iter().map(|r| [r.start, r.end]).collect(),
            open: [prep.input.open.start, prep.input.open.end],
            atoms_used,
        },
    };
    if args.json {
        return print_json(&report);
    }

    let secs = |f: usize| f as f64 / FPS as f64;
    println!(
        "a4mer forecast: {} frames [{}, {}) ({:.2}-{:.2} s), {} of {} joints valid in the last frame",
        args.data.display(),
        args.start,
        end,
        secs(args.start),
        secs(end),
        forecast.valid.iter().filter(|v| **v).count(),
        NUM_JOINTS
    );
    println!(
        "segments: {} closed ({} used by the motif level), open {} frames",
        prep.input.closed.len(),
        atoms_used,
        prep.input.open.len()
    );
    match forecast.motif_now {
        Some((id, c)) => println!("motif now: {id} (confidence {c:.2})"),
        None => println!("motif now: none (no closed atom in the window)"),
    }
    let mut next: Vec<(usize, f32)> = forecast.motif_next.iter().copied().enumerate().collect();
    next.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = next.iter().take(3).map(|(i, p)| format!("{i} ({p:.2})")).collect();
    println!("motif next: {}", top.join(", "));
    let last = window[window.len() - 1];
    for s in forecast.steps.iter().filter(|s| {
        let ms = (s.dt_s * 1000.0).round() as i32;
        matches!(ms, 100 | 200 | 400 | 600 | 1000)
    }) {
        let pelvis = s.joints_in_world[0];
        let from = last.joints_in_world[0];
        let moved =
            ((pelvis[0] - from[0]).powi(2) + (pelvis[1] - from[1]).powi(2) + (pelvis[2] - from[2]).powi(2)).sqrt();
        println!(
            "  +{:>4.0} ms: pelvis moves {:.3} m, spread {:.3} m",
            s.dt_s * 1000.0,
            moved,
            s.spread_m
        );
    }
    Ok(())
}
