use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use a4mer_runtime::SMPL24;
use a4mer_runtime::joint_map::MappedBy;
use a4mer_train::data::deepmimic::{self, LoopMode};
use a4mer_train::data::{Format, detect_format, import_bvh, import_deepmimic};

use crate::SourceArgs;

#[derive(Args)]
pub struct ImportArgs {
    /// A motion file: BVH, or a DeepMimic clip (JSON); the format is read from the content.
    file: PathBuf,
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
    if !args.info && args.to_bag.is_none() {
        bail!(
            "import: nothing to do; pass --info to inspect {} or --to-bag DIR to convert it",
            args.file.display()
        );
    }
    let options = args.source.import_options();
    let (motion, clip) = match detect_format(&args.file)? {
        Format::Bvh => (import_bvh(&args.file, &options)?, None),
        Format::DeepMimic => {
            let d = import_deepmimic(&args.file, &options)?;
            (d.motion.clone(), Some(d))
        }
    };
    if let Some(dir) = &args.to_bag {
        let source: Vec<a4mer_runtime::PoseFrame> = match args.loop_to_s {
            None => motion.frames.clone(),
            Some(s) => {
                if !(s.is_finite() && s > 0.0 && s <= 48.0 * 3600.0) {
                    bail!("--loop-to-s {s}: expected 0 < seconds <= 172800");
                }
                let takes = [motion.frames.as_slice()];
                let looped = a4mer_train::bench::MocapLoop::new(&takes)
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
        let summary = a4mer_ros::bag::write_pose_frames(dir, &args.topic, &args.frame_id, 1, &frames)
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
    let built_in_map = clip.is_some() && options.joint_map.is_none();
    println!(
        "SMPL-24 mapping: {} of 24 joints mapped; unmapped joints stay invalid",
        info.joint_map.mapped_count()
    );
    for (j, name) in SMPL24.iter().enumerate() {
        let source = info.joint_map.source_name(j).unwrap_or("-");
        let by = match info.joint_map.mapped_by(j) {
            MappedBy::Explicit if built_in_map => deepmimic::BUILT_IN_MAP,
            MappedBy::Explicit => "map file",
            MappedBy::Heuristic => "name heuristic",
            MappedBy::Unmapped => "no source: invalid",
        };
        println!("  {name:<15} <- {source:<24} ({by})");
    }
    let required = a4mer_train::data::min_mapped_joints();
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
