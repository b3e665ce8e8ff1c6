use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use a4mer_burn_model::BurnArtifact;
use a4mer_burn_model::device::inference_device;
use a4mer_runtime::artifact::Artifact;
use clap::Args;

use crate::bundle::{precision, read_bundle, verify};

#[derive(Args)]
pub struct VerifyArgs {
    /// A bundle (`.tar.zst`), an unpacked bundle directory, or a model (`.a4m`).
    path: PathBuf,
    /// Architecture the binaries must be built for; default this machine's.
    #[arg(long, default_value = std::env::consts::ARCH)]
    arch: String,
}

/// A bare model artifact: integrity, format version, and what it is.
fn verify_model(path: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let origin = path.display().to_string();
    let artifact = Artifact::from_bytes(&bytes, &origin)?;
    let p = &artifact.payload;
    println!(
        "ok    integrity: SHA-256 of {} verified, format version {}",
        path.display(),
        artifact.format_version
    );
    if let Some(note) = artifact.damping_tau().note() {
        println!("note  {note}");
    }
    println!(
        "ok    model: {} parameters in {} tensors, {}, vocabulary of {} motifs",
        p.tensors.values().map(|t| t.shape.iter().product::<u64>()).sum::<u64>(),
        p.tensors.len(),
        precision(&artifact),
        p.config.n_motifs
    );
    artifact.into_model(&inference_device(), &origin)?;
    println!("ok    load: every tensor matches the model's config");
    println!("{}: all 3 checks passed", path.display());
    Ok(())
}

pub fn run(args: VerifyArgs) -> Result<()> {
    if args.path.extension().is_some_and(|e| e == "a4m") {
        return verify_model(&args.path);
    }
    let unpacked = read_bundle(&args.path)?;
    let checks = verify(&unpacked, &args.arch);
    let failed = checks.iter().filter(|c| !c.ok).count();
    for c in &checks {
        println!("{}  {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.what, c.detail);
    }
    if failed > 0 {
        bail!("{}: {failed} of {} checks failed", args.path.display(), checks.len());
    }
    println!("{}: all {} checks passed", args.path.display(), checks.len());
    Ok(())
}
