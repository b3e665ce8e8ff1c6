//! Whether a CUDA test must run here, decided without the code under test.
//!
//! A test that asks libtorch whether CUDA is there and skips when it says no passes on
//! both branches: a CUDA path broken into "no CUDA device" skips and passes. The GPU is
//! found from the device nodes its driver creates instead, so where it exists the CUDA
//! test runs and a refusal fails it.
//!
//! Included with `#[path]` (see `compare.rs` beside it for why not a crate).

#![allow(dead_code)]

/// Overrides the probe: `1` where a GPU must be used, `0` where one is present but not
/// meant for these tests (e.g. a CPU-only libtorch on a GPU machine).
pub const EXPECT_CUDA_VAR: &str = "A4MER_EXPECT_CUDA";

/// `/dev/nvidia0` (a desktop or server GPU), `/dev/nvhost-ctrl-gpu` (a Jetson's integrated
/// GPU), or what `A4MER_EXPECT_CUDA` says.
pub fn cuda_expected() -> Result<bool, String> {
    match std::env::var(EXPECT_CUDA_VAR).ok().as_deref().map(str::trim) {
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        Some(other) if !other.is_empty() => Err(format!("{EXPECT_CUDA_VAR}={other}: expected 0 or 1")),
        _ => Ok(["/dev/nvidia0", "/dev/nvhost-ctrl-gpu"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())),
    }
}
