//! The bundle as installed on a device: `a4mer verify`, `a4mer selftest` with the bundle's
//! model, and the node started from the systemd unit's own command line (READY=1, watchdog
//! pings, a clean stop on SIGTERM).

use std::path::PathBuf;
use std::process::Command;

use a4mer_hw_tests::install::{Checked, Latency, check, unpack};
use a4mer_hw_tests::{BIN_DIR_VAR, BUNDLE_VAR, build_dir, env_var, jetson_release, repo_root, skip};

fn domain_id() -> u32 {
    150 + std::process::id() % 60
}

fn report(what: &str, c: &Checked) {
    println!(
        "{what}: verify ok ({} checks), selftest {} (node over DDS p99 {} ms), node ready after {:.2} s, {} watchdog pings, {}",
        c.verify.lines().filter(|l| l.starts_with("ok")).count(),
        if c.selftest["pass"] == true { "PASS" } else { "FAIL" },
        c.selftest["node_e2e_p99_ms"],
        c.ready_after_s,
        c.watchdog_pings,
        c.node_banner
    );
}

fn assert_checked(c: &Checked) {
    assert!(c.verify.contains("all ") && !c.verify.contains("FAIL"), "{}", c.verify);
    assert_eq!(
        if c.selftest["pass"] == true { "PASS" } else { "FAIL" },
        "PASS",
        "{}",
        c.selftest
    );
    // The selftest's DDS run through the bundle's own node took place and was timed.
    assert!(c.selftest["node_e2e_p99_ms"].is_number(), "{}", c.selftest);
    // The node runs the bundle's model (named by the unit's env file), not the built-in one.
    assert!(
        c.node_banner.contains(&c.model_path) && c.node_banner.contains(&c.model_id),
        "{c:#?}"
    );
    assert!(c.watchdog_pings >= 2, "{c:#?}");
}

#[test]
fn on_a_jetson_the_installed_bundle_verifies_selftests_and_starts() {
    let release = match jetson_release() {
        Ok(r) => r,
        Err(reason) => return skip("jetson install", &reason),
    };
    let root = PathBuf::from(env_var(BUNDLE_VAR).unwrap_or_else(|| "/opt/a4mer".into()));
    println!("L4T: {release}; bundle at {}", root.display());
    let c = check(&root, domain_id(), Latency::DeviceBudgets).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    report("jetson", &c);
    assert_checked(&c);
}

/// The same checks on a bundle built here from this build's binaries and unpacked into a
/// scratch directory standing in for `/opt/a4mer`.
#[test]
fn host_twin_a_bundle_unpacked_here_verifies_selftests_and_starts() {
    let bins = build_dir();
    for name in ["a4mer", "a4mer_node"] {
        assert!(
            bins.join(name).exists(),
            "{}/{name} is missing: build the binaries first (cargo build --bin a4mer --bin a4mer_node, \
             `cargo test --workspace` does) or point {BIN_DIR_VAR} at them",
            bins.display()
        );
    }
    let scratch = tempfile::tempdir().unwrap();
    let bundle = scratch.path().join("a4mer-host.tar.zst");
    let model = repo_root().join("models/a4mer-small-int8.a4m");
    let out = Command::new(bins.join("a4mer"))
        .arg("bundle")
        .args(["--target", &format!("{}-unknown-linux-gnu", std::env::consts::ARCH)])
        .arg("--model")
        .arg(&model)
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--launch-dir")
        .arg(repo_root().join("launch"))
        .arg("--clips")
        .arg(repo_root().join("data/mocap"))
        .args(["--no-firmware", "--zstd-level", "1", "--out"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a4mer bundle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = scratch.path().join("opt-a4mer");
    std::fs::create_dir(&root).unwrap();
    unpack(&bundle, &root).unwrap();
    let c = check(&root, domain_id(), Latency::Recorded).unwrap_or_else(|e| panic!("{e}"));
    report("host twin", &c);
    assert_eq!(c.model_path, "models/a4mer-small-int8.a4m");
    assert_checked(&c);
}
