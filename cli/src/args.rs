//! What the subcommands share: how source recordings are read, and JSON on stdout.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use a4mer_motion::bvh::{ImportOptions, Units, UpAxis};

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
    /// Frame rate of sources that do not state one: a .npy joint-position array whose
    /// sidecar has no "fps_hz" (10..=1000 Hz). A stated rate that differs is an error; BVH
    /// and DeepMimic files state their own.
    #[arg(long, value_name = "HZ")]
    pub fps: Option<f64>,
}

impl SourceArgs {
    pub fn import_options(&self) -> ImportOptions {
        ImportOptions {
            units: self.units,
            up_axis: self.up,
            joint_map: self.joint_map.clone(),
            loop_wrap_to_s: self.loop_wrap_to_s,
            fps: self.fps,
        }
    }
}

/// Print exactly one JSON object on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).context("serialising JSON output")?;
    println!("{text}");
    Ok(())
}

/// The recordings (by SHA-256 of their file) among `paths` that a model's training read.
pub fn recordings_trained_on<'a>(
    paths: impl IntoIterator<Item = &'a std::path::Path>,
    prov: &a4mer_runtime::artifact::Provenance,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for path in paths {
        let sha = a4mer_runtime::digest::sha256_file(path).with_context(|| format!("reading {}", path.display()))?;
        if prov.data.iter().any(|d| d.sha256 == sha) {
            out.push(path.display().to_string());
        }
    }
    Ok(out)
}
