//! Hardware-in-the-loop tests of a Jetson deployment (`tests/`), and what they share.
//!
//! Each hardware test detects its hardware and, when it is absent, prints
//! `SKIP <test>: <reason>`, adds that line to the `A4MER_SKIP_LOG` file CI lists at the
//! end, and returns; each has a host twin that always runs the same checks on what this
//! machine has (a bundle unpacked here, a pseudo-terminal pair, CPU libtorch). The README's
//! "On the device" section says how a field engineer runs them.

pub mod install;
pub mod serial;

use std::path::PathBuf;

/// Where L4T (JetPack's Linux) records its release; only Jetsons have it.
pub const TEGRA_RELEASE: &str = "/etc/nv_tegra_release";
/// The serial port of the safety-MCU link under test (e.g. `/dev/ttyTHS1`).
pub const SERIAL_VAR: &str = "A4MER_HW_SERIAL";
/// The port wired to its other end (e.g. a USB-UART adapter); unset: a loopback plug
/// (TX to RX) on the port itself.
pub const SERIAL_PEER_VAR: &str = "A4MER_HW_SERIAL_PEER";
/// The installed bundle on a device; default `/opt/a4mer`.
pub const BUNDLE_VAR: &str = "A4MER_HW_BUNDLE";

#[path = "../../test-support/skip.rs"]
mod skip_log;
pub use skip_log::{SKIP_LOG_VAR, skip};

#[path = "../../test-support/cuda.rs"]
mod cuda_probe;
pub use cuda_probe::{EXPECT_CUDA_VAR, cuda_expected};

/// The L4T release line (`# R36 (release), REVISION: 4.0, ...`) on a Jetson.
pub fn jetson_release() -> Result<String, String> {
    let text = std::fs::read_to_string(TEGRA_RELEASE).map_err(|e| format!("not a Jetson: {TEGRA_RELEASE}: {e}"))?;
    Ok(text.lines().next().unwrap_or_default().trim().to_string())
}

/// A non-empty environment variable.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the host twin takes `a4mer` and `a4mer_node` from instead of this build's
/// directory (e.g. `/opt/a4mer/bin` when the test executables were copied to a device).
pub const BIN_DIR_VAR: &str = "A4MER_HW_BIN_DIR";

/// The directory with this build's binaries (`a4mer`, `a4mer_node`): test executables
/// live in its `deps/`. `A4MER_HW_BIN_DIR` overrides it.
pub fn build_dir() -> PathBuf {
    if let Some(dir) = env_var(BIN_DIR_VAR) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(PathBuf::from).unwrap_or_default();
    if deps.ends_with("deps") {
        deps.parent().map(PathBuf::from).unwrap_or(deps)
    } else {
        deps
    }
}

/// The repository root (host twins build from it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bundled recordings (`data/mocap/*.bvh`), sorted.
pub fn bundled_mocap() -> Vec<PathBuf> {
    let dir = repo_root().join("data/mocap");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "bvh"));
    v.sort();
    v
}
