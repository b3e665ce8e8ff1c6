//! An SROS2 keystore as integrators make one (`scripts/make-keystore.sh`: sros2's layout,
//! default governance, the node's least-privilege permissions), for tests.
//!
//! Included with `#[path]` (see `compare.rs` beside it for why not a crate).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Makes a keystore in `dir` granting DDS domain `domain` (sros2 writes it into governance
/// and permissions), with the node's enclave and `enclaves`; `options` go to the script
/// (`--expired`, `--force`, ...).
///
/// # Panics
/// When the script fails (it needs bash and openssl), with its stderr.
pub fn make_keystore(dir: &Path, domain: u16, enclaves: &[&str], options: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-keystore.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(options)
        .arg(dir)
        .args(enclaves)
        .env("ROS_DOMAIN_ID", domain.to_string())
        .output()
        .expect("bash runs make-keystore.sh");
    assert!(
        out.status.success(),
        "make-keystore.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
