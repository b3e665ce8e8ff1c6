use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use a4mer_runtime::artifact::Artifact;

use crate::bundle::{
    Contents, Manifest, ModelEntry, binary_arch, cargo_target_dir, default_bin_dir, holds_private_key, mcu_memory_map,
    precision, sha256_hex, triple_arch, write_bundle,
};

/// Binaries a device bundle carries: the node, and the CLI for selftest and verify.
const BINARIES: &[&str] = &["a4mer_node", "a4mer"];
/// Where `cargo build --release -p a4mer-mcu-mps2-an386 --target thumbv7em-none-eabihf` leaves
/// the safety MCU's image (MPS2 AN386), under the target dir.
const FIRMWARE_BUILD: &str = "thumbv7em-none-eabihf/release/a4mer-mcu-mps2-an386";
/// Read by the systemd unit (`EnvironmentFile=`): the node runs the bundle's model, not the
/// one built into the binary.
const UNIT_ENV: &str = "launch/systemd/a4mer-node.env";
/// Where the unit expects the bundle unpacked.
const INSTALL_DIR: &str = "/opt/a4mer";

#[derive(Args)]
pub struct BundleArgs {
    /// Target triple of the device.
    #[arg(long, default_value = "aarch64-unknown-linux-gnu")]
    target: String,
    /// The model artifact to ship.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Output file; default `a4mer-<version>-jetson.tar.zst` (aarch64) or
    /// `a4mer-<version>-<target>.tar.zst`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Where the built binaries are; default `$CARGO_TARGET_DIR/<target>/dist`
    /// (`cargo build --profile dist --target <target>`).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Launch files, parameter files and the systemd unit.
    #[arg(long, value_name = "DIR", default_value = "launch")]
    launch_dir: PathBuf,
    /// Real mocap for `a4mer selftest` on the device (BVH files and their licence), placed
    /// at `data/mocap/`.
    #[arg(long, value_name = "DIR", default_value = "data/mocap")]
    clips: PathBuf,
    /// Safety MCU firmware image (ELF) to include, linked for the MPS2 AN386's memory map;
    /// default `$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/a4mer-mcu-mps2-an386`.
    #[arg(long, value_name = "FILE")]
    firmware: Option<PathBuf>,
    /// Ship without a firmware image (robots without the safety MCU link).
    #[arg(long, conflicts_with = "firmware")]
    no_firmware: bool,
    /// An SROS2 enclave directory (`<keystore>/enclaves/<enclave>`, as
    /// `scripts/make-keystore.sh` or `ros2 security create_enclave` make it): its public
    /// artifacts (certificates, signed governance and permissions) ship under
    /// `sros2/enclaves/<enclave>/`. Its `key.pem` never ships; it is provisioned on the
    /// device (README, deployment).
    #[arg(long, value_name = "DIR")]
    enclave: Option<PathBuf>,
    /// zstd level (1-22); the output is reproducible at any level.
    #[arg(long, default_value_t = 19, value_parser = clap::value_parser!(i32).range(1..=22))]
    zstd_level: i32,
}

pub fn run(args: BundleArgs) -> Result<()> {
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| default_bin_dir(&args.target));
    let want_arch = triple_arch(&args.target);
    let mut contents = Contents::new();
    for name in BINARIES {
        let path = bin_dir.join(name);
        if !path.exists() {
            bail!(
                "{} not found; build it first: cargo build --profile dist --target {} --bin a4mer --bin a4mer_node",
                path.display(),
                args.target
            );
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

    // A model this a4mer cannot load never ships.
    let model_bytes = std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let artifact = Artifact::from_bytes(&model_bytes, &args.model.display().to_string())?;
    let model_name = args
        .model
        .file_name()
        .context("--model names no file")?
        .to_string_lossy()
        .into_owned();
    let model_path = format!("models/{model_name}");
    let model_sha = sha256_hex(&model_bytes);
    let model = ModelEntry {
        path: model_path.clone(),
        id: model_sha[..16].to_string(),
        sha256: model_sha,
        format_version: artifact.format_version,
        precision: precision(&artifact).into(),
    };
    contents.add_bytes(&model_path, model_bytes, false);

    if args.launch_dir.is_dir() {
        contents.add_dir("launch", &args.launch_dir)?;
        contents.add_bytes(
            UNIT_ENV,
            format!(
                "# Written by `a4mer bundle`: the model this bundle ships (id {}).\nA4MER_MODEL={INSTALL_DIR}/{model_path}\n",
                model.id
            )
            .into_bytes(),
            false,
        );
    } else {
        eprintln!(
            "note: no {} directory, bundle goes without launch files",
            args.launch_dir.display()
        );
    }

    // The selftest's clip (MIT: its licence file travels with it).
    if !args.clips.is_dir() {
        bail!(
            "{}: no clips for the device's selftest (pass --clips DIR)",
            args.clips.display()
        );
    }
    contents.add_dir("data/mocap", &args.clips)?;

    if !args.no_firmware {
        let fw = args
            .firmware
            .clone()
            .unwrap_or_else(|| cargo_target_dir().join(FIRMWARE_BUILD));
        if !fw.exists() {
            bail!(
                "{} not found; build the MCU image first (cargo build --release -p a4mer-mcu-mps2-an386 --target thumbv7em-none-eabihf), pass --firmware FILE, or --no-firmware",
                fw.display()
            );
        }
        contents.add_file("firmware/a4mer-mcu.elf", &fw, false)?;
        let arch = binary_arch(&contents.files["firmware/a4mer-mcu.elf"].0).unwrap_or("not an ELF image");
        if arch != "arm" {
            bail!(
                "{}: firmware built for {arch}, the safety MCU is arm (thumbv7em)",
                fw.display()
            );
        }
        if let Err(e) = mcu_memory_map(&contents.files["firmware/a4mer-mcu.elf"].0) {
            bail!("{}: {e}", fw.display());
        }
    }

    if let Some(dir) = &args.enclave {
        add_enclave(&mut contents, dir)?;
    }

    let out = args.out.clone().unwrap_or_else(|| {
        let version = env!("CARGO_PKG_VERSION");
        PathBuf::from(if want_arch == "aarch64" {
            format!("a4mer-{version}-jetson.tar.zst")
        } else {
            format!("a4mer-{version}-{}.tar.zst", args.target)
        })
    });
    let base = Manifest {
        format: crate::bundle::FORMAT,
        name: "a4mer".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_revision: env!("A4MER_GIT_REVISION").into(),
        target: args.target.clone(),
        model,
        files: Vec::new(),
    };
    let manifest = write_bundle(&out, base, &contents, args.zstd_level)?;
    let bytes = std::fs::metadata(&out)?.len();
    println!(
        "wrote {} ({} files, {:.1} MB), model id {}",
        out.display(),
        manifest.files.len() + 1,
        bytes as f64 / 1e6,
        manifest.model.id
    );
    for f in &manifest.files {
        println!("  {:<40} {:>10} bytes  sha256 {}", f.path, f.bytes, &f.sha256[..16]);
    }
    Ok(())
}

/// The enclave's public files, under `sros2/enclaves/<enclave>/` where `<enclave>` is the
/// path below the keystore's `enclaves/`.
fn add_enclave(contents: &mut Contents, dir: &std::path::Path) -> Result<()> {
    let parts: Vec<String> = dir
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let Some(at) = parts.iter().rposition(|p| p == "enclaves") else {
        bail!(
            "--enclave {}: not under a keystore's enclaves/ directory",
            dir.display()
        );
    };
    let enclave = parts[at + 1..].join("/");
    for name in a4mer_ros::security::ENCLAVE_FILES.iter().filter(|f| **f != "key.pem") {
        let path = dir.join(name);
        let inside = if enclave.is_empty() {
            format!("sros2/enclaves/{name}")
        } else {
            format!("sros2/enclaves/{enclave}/{name}")
        };
        contents
            .add_file(&inside, &path, false)
            .with_context(|| format!("--enclave {}: {name}", dir.display()))?;
        if holds_private_key(&contents.files[&inside].0) {
            bail!("{}: holds a private key; only public artifacts ship", path.display());
        }
    }
    eprintln!(
        "note: enclave /{enclave}: public artifacts bundled; provision its key.pem on the device (never in a bundle)"
    );
    Ok(())
}
