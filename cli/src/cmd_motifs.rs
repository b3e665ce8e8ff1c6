//! `a4mer motifs`: atom segments and motif ids over time for one recording.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use a4mer_burn_model::device::{Backend, backend_device};
use a4mer_burn_model::load_model;
use a4mer_motion::import_motion;
use a4mer_runtime::FPS;

use crate::args::{SourceArgs, print_json};

#[derive(Args)]
pub struct MotifsArgs {
    /// The model artifact (.a4m).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// A BVH recording.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Backend that runs the model: ndarray, tch-cpu or tch-cuda (the tch ones need a build
    /// with `--features tch`).
    #[arg(long, default_value_t = Backend::Ndarray, value_name = "BACKEND")]
    backend: Backend,
    /// Print `[{"start_s","end_s","atoms","motif","confidence"}]`: runs of atoms sharing a motif.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Serialize)]
struct MotifRun {
    start_s: f64,
    end_s: f64,
    atoms: usize,
    motif: usize,
    confidence: f32,
}

pub fn run(args: MotifsArgs) -> Result<()> {
    let device = backend_device(args.backend)?;
    let (model, _) = load_model(&args.model, &device)
        .with_context(|| format!("loading model {} on {}", args.model.display(), args.backend))?;
    let motion = import_motion(&args.data, &args.source.import_options())?;
    let atoms = model
        .motifs(&motion.frames)
        .with_context(|| format!("segmenting {}", args.data.display()))?;
    let secs = |f: usize| f as f64 / FPS as f64;
    let mut runs: Vec<MotifRun> = Vec::new();
    let mut conf_sum = 0.0f32;
    for a in &atoms {
        match runs.last_mut() {
            Some(r) if r.motif == a.motif => {
                r.end_s = secs(a.end_frame);
                r.atoms += 1;
                conf_sum += a.confidence;
                r.confidence = conf_sum / r.atoms as f32;
            }
            _ => {
                conf_sum = a.confidence;
                runs.push(MotifRun {
                    start_s: secs(a.start_frame),
                    end_s: secs(a.end_frame),
                    atoms: 1,
                    motif: a.motif,
                    confidence: a.confidence,
                });
            }
        }
    }
    if args.json {
        return print_json(&runs);
    }
    println!(
        "a4mer motifs: {} ({} frames, {:.1} s): {} atoms, {} motif runs",
        args.data.display(),
        motion.frames.len(),
        secs(motion.frames.len()),
        atoms.len(),
        runs.len()
    );
    println!(
        "{:>8} {:>8} {:>6} {:>6} {:>6}",
        "start_s", "end_s", "frames", "motif", "conf"
    );
    for a in &atoms {
        println!(
            "{:>8.2} {:>8.2} {:>6} {:>6} {:>6.2}",
            secs(a.start_frame),
            secs(a.end_frame),
            a.end_frame - a.start_frame,
            a.motif,
            a.confidence
        );
    }
    Ok(())
}
