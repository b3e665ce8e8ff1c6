use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use a4mer_motion::deepmimic::{self, LoopMode};
use a4mer_motion::{Format, detect_format, import_bvh, import_deepmimic, import_npy, npy};
use a4mer_runtime::SMPL24;
use a4mer_runtime::joint_map::MappedBy;

use crate::args::SourceArgs;

#[derive(Args)]
pub struct ImportArgs {
    /// A motion file: BVH, a DeepMimic clip (JSON) or a joint-position array (.npy with a
    /// `<file>.npy.json` sidecar); the format is read from the content.
    /// With --fill-gaps: a rosbag2 bag of poses (directory, .mcap or .db3).
    file: PathBuf,
    /// Repair the bag's gaps (frames the camera dropped) into the --to-bag bag: linear
    /// interpolation up to 8 missing frames, the model's interpolation head from 9 to the
    /// longest it takes (29 at 30 Hz), where it beats linear interpolation; longer gaps are
    /// listed and left. Every gap is listed with what was done.
    #[arg(long, requires_all = ["to_bag", "model"])]
    fill_gaps: bool,
    /// The model whose interpolation head fills gaps (--fill-gaps).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// With --fill-gaps: print the gaps as one JSON object.
    #[arg(long)]
    json: bool,
    /// Print what was found and how it maps to SMPL-24.
    #[arg(long)]
    info: bool,
    /// Write the recording as a rosbag2 bag (MCAP) with an a4mer_msgs/Skeleton3DArray topic,
    /// one message per 30 Hz frame, stamped at the recording's timing.
    #[arg(long, value_name = "DIR")]
    to_bag: Option<PathBuf>,
    /// Topic of the poses in the bag.
    #[arg(long, default_value = "/poses", requires = "to_bag")]
    topic: String,
    /// frame_id of the poses (metres, REP-103).
    #[arg(long, default_value = "world", requires = "to_bag")]
    frame_id: String,
    /// Stamp of the first frame, nanoseconds (ROS time); later frames follow at 30 Hz.
    #[arg(long, default_value_t = 0, value_name = "NS", requires = "to_bag")]
    start_ns: i64,
    /// Loop the recording (forwards, then backwards, seamlessly) to this many seconds: long
    /// bags for soak and memory tests of replay.
    #[arg(long, value_name = "SECONDS", requires = "to_bag")]
    loop_to_s: Option<f64>,
    #[command(flatten)]
    source: SourceArgs,
}

pub fn run(args: ImportArgs) -> Result<()> {
    if args.fill_gaps {
        return fill_gaps(&args);
    }
    if !args.info && args.to_bag.is_none() {
        bail!(
            "import: nothing to do; pass --info to inspect {} or --to-bag DIR to convert it",
            args.file.display()
        );
    }
    let options = args.source.import_options();
    let format = detect_format(&args.file)?;
    let (motion, clip) = match format {
        Format::Bvh => (import_bvh(&args.file, &options)?, None),
        Format::DeepMimic => {
            let d = import_deepmimic(&args.file, &options)?;
            (d.motion.clone(), Some(d))
        }
        Format::Npy => (import_npy(&args.file, &options)?, None),
    };
    if let Some(dir) = &args.to_bag {
        let source: Vec<a4mer_runtime::PoseFrame> = match args.loop_to_s {
            None => motion.frames.clone(),
            Some(s) => {
                if !(s.is_finite() && s > 0.0 && s <= 48.0 * 3600.0) {
                    bail!("--loop-to-s {s}: expected 0 < seconds <= 172800");
                }
                let takes = [motion.frames.as_slice()];
                let looped = a4mer_measure::bench::MocapLoop::new(&takes)
                    .with_context(|| format!("{}: fewer than 2 frames to loop", args.file.display()))?;
                looped.take((s * 30.0).round() as usize).collect()
            }
        };
        let frames: Vec<_> = source
            .iter()
            .map(|f| a4mer_runtime::PoseFrame {
                stamp_ns: args.start_ns.saturating_add(f.stamp_ns),
                ..*f
            })
            .collect();
        let summary = a4mer_bag::write_pose_frames(dir, &args.topic, &args.frame_id, 1, &frames)
            .with_context(|| format!("writing {} as a bag", args.file.display()))?;
        println!(
            "wrote {} Skeleton3DArray messages ({:.2} s at 30 Hz) on {} to {}",
            summary.message_count,
            summary.duration_ns as f64 * 1e-9,
            args.topic,
            summary.mcap_file.display()
        );
        if !args.info {
            return Ok(());
        }
    }
    let info = &motion.info;
    let how = |detected: bool| if detected { "detected" } else { "from flag" };
    let nodes = info.skeleton.len();
    let end_sites = info
        .skeleton
        .joint_names
        .iter()
        .filter(|n| n.ends_with("_EndSite"))
        .count();
    println!("file:            {}", args.file.display());
    println!(
        "joints:          {} ({} End Sites besides)",
        nodes - end_sites,
        end_sites
    );
    println!(
        "frame rate:      {} Hz, {} frames, {:.2} s; resampled to 30 Hz: {} frames",
        info.source_fps,
        info.source_frames,
        info.duration_s,
        motion.frames.len()
    );
    println!(
        "units:           {:?} ({}; skeleton height {:.2} m)",
        info.units,
        how(info.units_detected),
        info.skeleton_height_m
    );
    println!("up axis:         {} ({})", info.up_axis, info.up_axis_basis);
    if let Some(d) = &clip {
        let mode = match d.loop_mode {
            LoopMode::Wrap => "wrap (cyclic)",
            LoopMode::None => "none (played once)",
        };
        println!(
            "DeepMimic loop:  {mode}; one pass {:.3} s, {} pass(es) imported",
            d.clip_duration_s, d.cycles
        );
    }
    let built_in_map = match format {
        _ if options.joint_map.is_some() => None,
        Format::DeepMimic => Some(deepmimic::BUILT_IN_MAP),
        Format::Npy => Some(npy::BUILT_IN_MAP_NAME),
        Format::Bvh => None,
    };
    println!(
        "SMPL-24 mapping: {} of 24 joints mapped; unmapped joints stay invalid",
        info.joint_map.mapped_count()
    );
    for (j, name) in SMPL24.iter().enumerate() {
        let source = info.joint_map.source_name(j).unwrap_or("-");
        let by = match info.joint_map.mapped_by(j) {
            MappedBy::Explicit => built_in_map.unwrap_or("map file"),
            MappedBy::Heuristic => "name heuristic",
            MappedBy::Unmapped => "no source: invalid",
        };
        println!("  {name:<15} <- {source:<24} ({by})");
    }
    let required = a4mer_motion::min_mapped_joints();
    if info.joint_map.mapped_count() < required {
        eprintln!(
            "warning: {} maps fewer than the {required} joints training and evaluation need; pass --joint-map",
            args.file.display()
        );
    }
    if !(0.4..=2.5).contains(&info.skeleton_height_m) {
        eprintln!(
            "warning: a {:.2} m skeleton is implausible for a person; check --units",
            info.skeleton_height_m
        );
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct FilledPerson {
    person_id: u32,
    frames_in: usize,
    frames_out: usize,
    gaps: Vec<a4mer_measure::gaps::Gap>,
}

/// `import <bag> --fill-gaps --model m --to-bag out`: every person's gaps repaired.
fn fill_gaps(args: &ImportArgs) -> Result<()> {
    let (Some(out), Some(model_path)) = (&args.to_bag, &args.model) else {
        bail!("--fill-gaps needs --to-bag DIR and --model FILE");
    };
    if !crate::bag_input::is_bag(&args.file) {
        bail!(
            "{}: --fill-gaps repairs a bag of poses (a directory with metadata.yaml, or .mcap/.db3); motion files have no gaps",
            args.file.display()
        );
    }
    let bag =
        crate::bag_input::read_bag_people(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let device = a4mer_burn_model::device::inference_device();
    let (model, _) = a4mer_burn_model::load_model(model_path, &device)
        .with_context(|| format!("loading model {}", model_path.display()))?;
    let mut report = Vec::new();
    let mut repaired = Vec::new();
    for (id, frames) in &bag.people {
        let name = format!("{}#{}/person{id}", args.file.display(), bag.topic);
        let (filled, gaps) = a4mer_measure::gaps::fill_gaps(&model, frames, &name)?;
        report.push(FilledPerson {
            person_id: *id,
            frames_in: frames.len(),
            frames_out: filled.len(),
            gaps,
        });
        repaired.push((*id, filled));
    }
    let people: Vec<(u32, &[a4mer_runtime::PoseFrame])> = repaired.iter().map(|(id, f)| (*id, f.as_slice())).collect();
    let summary = a4mer_bag::write_people_frames(out, &bag.topic, &args.frame_id, &people)
        .with_context(|| format!("writing {}", out.display()))?;
    if args.json {
        return crate::args::print_json(&serde_json::json!({
            "input": args.file.display().to_string(),
            "output": summary.mcap_file.display().to_string(),
            "people": report,
        }));
    }
    let t0 = bag
        .people
        .values()
        .filter_map(|f| f.first())
        .map(|f| f.stamp_ns)
        .min()
        .unwrap_or(0);
    for p in &report {
        println!(
            "person {}: {} frames in, {} out, {} gap(s)",
            p.person_id,
            p.frames_in,
            p.frames_out,
            p.gaps.len()
        );
        for g in &p.gaps {
            println!(
                "  {:>9.3} s .. {:>9.3} s  {:>3} frames  {:?}",
                (g.after_ns - t0) as f64 / 1e9,
                (g.before_ns - t0) as f64 / 1e9,
                g.frames,
                g.method
            );
        }
    }
    println!(
        "wrote {} Skeleton3DArray messages on {} to {}",
        summary.message_count,
        bag.topic,
        summary.mcap_file.display()
    );
    Ok(())
}
