//! `a4mer soak`: millions of frames through `Tracks<Engine>` with people coming and going.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;

use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_measure::soak::soak;
use a4mer_motion::load_motions;

use crate::args::{SourceArgs, print_json};

#[derive(Args)]
pub struct SoakArgs {
    /// The model (.a4m); the deployed int8 model by default.
    #[arg(long, default_value = "models/a4mer-small-int8.a4m", value_name = "FILE")]
    model: PathBuf,
    /// Recordings looped as the people (BVH files or directories).
    #[arg(long, default_value = "data/mocap", num_args = 1.., value_name = "FILE|DIR")]
    data: Vec<PathBuf>,
    /// Person-frames to push (each person's frame is one).
    #[arg(long, default_value_t = 1_000_000)]
    frames: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

pub fn run(args: SoakArgs) -> Result<()> {
    if args.frames == 0 {
        bail!("--frames must be > 0");
    }
    let (model, prov) = load_model(&args.model, &inference_device())
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let stream = Arc::new(
        a4mer_burn_model::stream_model(&model)
            .with_context(|| format!("model {}", args.model.display()))?
            .with_damping_tau(prov.damping_tau()),
    );
    let motions = load_motions(&args.data, &args.source.import_options()).context("loading soak recordings")?;
    let takes: Vec<&[a4mer_runtime::PoseFrame]> = motions.iter().map(|m| m.frames.as_slice()).collect();
    let json = args.json;
    let r = soak(stream, &takes, args.frames, &mut |n| {
        if !json {
            eprintln!("  {n} frames");
        }
    })
    .context("soak")?;
    if json {
        print_json(&r)?;
    } else {
        println!(
            "frames {} in {:.0} s; people up to {}, {} tracks created, {} evicted",
            r.frames, r.wall_s, r.max_people, r.tracks_created, r.evictions
        );
        let mb = |v: Option<f64>| v.map(|v| format!("{v:.1} MiB")).unwrap_or_else(|| "-".into());
        println!(
            "RSS    {} after 10 000 frames, {} at the end",
            mb(r.rss_start_mb),
            mb(r.rss_end_mb)
        );
        println!("p99 per million frames (µs): {:?}", r.p99_us_per_million);
        println!("non-finite outputs {}, rejected frames {}", r.non_finite, r.rejected);
    }
    if r.non_finite > 0 || r.rejected > 0 {
        bail!(
            "{} non-finite outputs, {} rejected frames on clean input",
            r.non_finite,
            r.rejected
        );
    }
    Ok(())
}
