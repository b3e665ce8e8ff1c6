use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::bundle::{
    Contents, Manifest, ModelEntry, binary_arch, default_bin_dir, sha256_hex, triple_arch, write_bundle,
};

/// Binaries a device bundle carries, and whether a bundle without one is refused.
/// `a4mer_node` becomes required once the ROS node exists.
const BINARIES: &[(&str, bool)] = &[("a4mer", true), ("a4mer_node", false)];

#[derive(Args)]
pub struct BundleArgs {
    /// Target triple of the device.
    #[arg(long, default_value = "aarch64-unknown-linux-gnu")]
    target: String,
    /// The model artifact to ship.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Output file (`.tar.zst`).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Where the built binaries are; default `$CARGO_TARGET_DIR/<target>/dist`
    /// (`cargo build --profile dist --target <target>`).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Launch files, parameter files and the systemd unit.
    #[arg(long, value_name = "DIR", default_value = "launch")]
    launch_dir: PathBuf,
    /// Safety MCU firmware image to include.
    #[arg(long, value_name = "FILE")]
    firmware: Option<PathBuf>,
    /// zstd level (1-22); the output is reproducible at any level.
    #[arg(long, default_value_t = 19, value_parser = clap::value_parser!(i32).range(1..=22))]
    zstd_level: i32,
}

pub fn run(args: BundleArgs) -> Result<()> {
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| default_bin_dir(&args.target));
    let want_arch = triple_arch(&args.target);
    let mut contents = Contents::new();
    for (name, required) in BINARIES {
        let path = bin_dir.join(name);
        if !path.exists() {
            if *required {
                bail!(
                    "{} not found; build it first: cargo build --profile dist --target {} --bin {name}",
                    path.display(),
                    args.target
                );
            }
            eprintln!("note: {} not built, bundle goes without it", path.display());
            continue;
        }
        contents.add_file(&format!("bin/{name}"), &path, true)?;
        let arch = binary_arch(&contents.files[&format!("bin/{name}")].0).unwrap_or("not an executable");
        if arch != want_arch {
            bail!(
                "{}: built for {arch}, but the bundle targets {}",
                path.display(),
                args.target
            );
        }
    }
    let model_name = args
        .model
        .file_name()
        .context("--model names no file")?
        .to_string_lossy()
        .into_owned();
    let model_path = format!("models/{model_name}");
    contents.add_file(&model_path, &args.model, false)?;
    if args.launch_dir.is_dir() {
        contents.add_dir("launch", &args.launch_dir)?;
    } else {
        eprintln!(
            "note: no {} directory, bundle goes without launch files",
            args.launch_dir.display()
        );
    }
    if let Some(fw) = &args.firmware {
        contents.add_file("firmware/a4mer-mcu.elf", fw, false)?;
    }
    let base = Manifest {
        format: crate::bundle::FORMAT,
        name: "a4mer".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_revision: env!("A4MER_GIT_REVISION").into(),
        target: args.target.clone(),
        model: ModelEntry {
            sha256: sha256_hex(&contents.files[&model_path].0),
            path: model_path,
        },
        files: Vec::new(),
    };
    let manifest = write_bundle(&args.out, base, &contents, args.zstd_level)?;
    let bytes = std::fs::metadata(&args.out)?.len();
    println!(
        "wrote {} ({} files, {:.1} MB)",
        args.out.display(),
        manifest.files.len() + 1,
        bytes as f64 / 1e6
    );
    for f in &manifest.files {
        println!("  {:<40} {:>10} bytes  sha256 {}", f.path, f.bytes, &f.sha256[..16]);
    }
    Ok(())
}
