use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use a4mer_runtime::SMPL24;
use a4mer_runtime::joint_map::MappedBy;
use a4mer_train::data::import_bvh;

use crate::SourceArgs;

#[derive(Args)]
pub struct ImportArgs {
    /// A BVH file.
    file: PathBuf,
    /// Print what was found and how it maps to SMPL-24.
    #[arg(long)]
    info: bool,
    #[command(flatten)]
    source: SourceArgs,
}

pub fn run(args: ImportArgs) -> Result<()> {
    if !args.info {
        bail!("import: nothing to do; pass --info to inspect {}", args.file.display());
    }
    let motion = import_bvh(&args.file, &args.source.import_options())?;
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
    println!(
        "SMPL-24 mapping: {} of 24 joints mapped; unmapped joints stay invalid",
        info.joint_map.mapped_count()
    );
    for (j, name) in SMPL24.iter().enumerate() {
        let source = info.joint_map.source_name(j).unwrap_or("-");
        let by = match info.joint_map.mapped_by(j) {
            MappedBy::Explicit => "map file",
            MappedBy::Heuristic => "name heuristic",
            MappedBy::Unmapped => "no source: invalid",
        };
        println!("  {name:<15} <- {source:<24} ({by})");
    }
    if !(0.4..=2.5).contains(&info.skeleton_height_m) {
        eprintln!(
            "warning: a {:.2} m skeleton is implausible for a person; check --units",
            info.skeleton_height_m
        );
    }
    Ok(())
}
