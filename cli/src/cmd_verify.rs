use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::bundle::{read_bundle, verify};

#[derive(Args)]
pub struct VerifyArgs {
    /// A bundle (`.tar.zst`) or an unpacked bundle directory.
    path: PathBuf,
    /// Architecture the binaries must be built for; default this machine's.
    #[arg(long, default_value = std::env::consts::ARCH)]
    arch: String,
}

pub fn run(args: VerifyArgs) -> Result<()> {
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
