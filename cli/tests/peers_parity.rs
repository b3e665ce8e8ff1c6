//! The Python peers (`peers/`: PyTorch eager and its ONNX export in onnxruntime) give
//! our batch model's outputs to 1e-4 relative on windows of real mocap.
//!
//! Needs `python3` with torch, onnx, onnxruntime, cbor2 and numpy (`peers/install.sh`).
//! Without them the test says why and passes, unless `A4MER_REQUIRE_PEERS=1` (set it in CI
//! after the install step) makes a missing package a failure. `A4MER_PEERS_PYTHON` picks the
//! interpreter.

#[path = "../../test-support/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> String {
    std::env::var("A4MER_PEERS_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `None` when the peers can run, else why not.
fn peers_missing() -> Option<String> {
    let out = Command::new(python())
        .args(["-c", "import torch, onnx, onnxruntime, cbor2, numpy"])
        .output();
    match out {
        Err(e) => Some(format!("cannot run {}: {e}", python())),
        Ok(o) if !o.status.success() => Some(format!(
            "{} cannot import the peers' packages (run peers/install.sh): {}",
            python(),
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
        )),
        Ok(_) => None,
    }
}

/// True when the peers can run; otherwise says why (and fails under `A4MER_REQUIRE_PEERS=1`).
fn peers_available(test: &str) -> bool {
    let Some(why) = peers_missing() else {
        return true;
    };
    if std::env::var("A4MER_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
        panic!("A4MER_REQUIRE_PEERS=1 but {why}");
    }
    skip::skip(test, &why);
    false
}

/// A copy of a BVH recording at a lower frame rate (every `step`-th frame), so the importer
/// resamples it back to the model rate: the peers then see interpolated frames.
fn decimated_bvh(src: &Path, step: usize, dst: &Path) {
    let text = std::fs::read_to_string(src).unwrap();
    let (head, motion) = text.split_once("MOTION").unwrap();
    let mut lines = motion.lines().filter(|l| !l.trim().is_empty());
    let frames: usize = lines
        .next()
        .and_then(|l| l.split(':').nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let frame_time: f64 = lines
        .next()
        .and_then(|l| l.split(':').nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let data: Vec<&str> = lines.step_by(step).collect();
    assert_eq!(data.len(), frames.div_ceil(step));
    let mut out = format!(
        "{head}MOTION\nFrames: {}\nFrame Time: {:.6}\n",
        data.len(),
        frame_time * step as f64
    );
    for l in data {
        out.push_str(l);
        out.push('\n');
    }
    std::fs::write(dst, out).unwrap();
}

/// A copy of a BVH recording on a smaller rig: each named leaf joint (one whose only child
/// is an End Site) becomes its parent's End Site, and its channels leave every motion line.
/// The importer then leaves the matching SMPL-24 joints invalid, so the peers run the
/// masked-joint path.
fn bvh_without_leaves(src: &Path, leaves: &[&str], dst: &Path) {
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for leaf in leaves {
        let motion = lines.iter().position(|l| l.trim() == "MOTION").unwrap();
        let start = lines[..motion]
            .iter()
            .position(|l| l.trim() == format!("JOINT {leaf}"))
            .unwrap_or_else(|| panic!("{}: no leaf joint {leaf}", src.display()));
        let channels = |l: &str| -> usize {
            let t = l.trim();
            t.strip_prefix("CHANNELS ")
                .and_then(|r| r.split_whitespace().next())
                .map(|n| n.parse().unwrap())
                .unwrap_or(0)
        };
        let column: usize = lines[..start].iter().map(|l| channels(l)).sum();
        let mut depth = 0usize;
        let mut end = start;
        for (i, l) in lines.iter().enumerate().skip(start + 1) {
            match l.trim() {
                "{" => depth += 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let block = &lines[start..=end];
        let own: usize = block.iter().map(|l| channels(l)).sum();
        assert!(
            block.iter().filter(|l| l.trim().starts_with("JOINT")).count() == 1,
            "{leaf} is not a leaf"
        );
        let offset = block.iter().find(|l| l.trim().starts_with("OFFSET")).unwrap().clone();
        let indent: String = lines[start].chars().take_while(|c| c.is_whitespace()).collect();
        let cr = if lines[start].ends_with('\r') { "\r" } else { "" };
        let site = vec![
            format!("{indent}End Site{cr}"),
            format!("{indent}{{{cr}"),
            offset,
            format!("{indent}}}{cr}"),
        ];
        lines.splice(start..=end, site);
        let motion = lines.iter().position(|l| l.trim() == "MOTION").unwrap();
        for l in lines.iter_mut().skip(motion + 3) {
            let vals: Vec<&str> = l.split_whitespace().collect();
            if vals.is_empty() {
                continue;
            }
            let kept: Vec<&str> = vals[..column].iter().chain(&vals[column + own..]).copied().collect();
            let cr = if l.ends_with('\r') { "\r" } else { "" };
            *l = format!("{}{cr}", kept.join(" "));
        }
    }
    std::fs::write(dst, lines.join("\n")).unwrap();
}

fn fixture(data: &Path, start: usize, frames: Option<usize>, out: &Path) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_a4mer"));
    cmd.args(["forecast", "--json", "--model"])
        .arg(repo().join("models/a4mer-small.a4m"))
        .arg("--data")
        .arg(data)
        .args(["--start", &start.to_string()]);
    if let Some(n) = frames {
        cmd.args(["--frames", &n.to_string()]);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "a4mer forecast {} --start {start}: {}",
        data.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["input"].as_array().unwrap().len(), frames.unwrap_or(60));
    std::fs::write(out, &o.stdout).unwrap();
    v
}

#[test]
fn pytorch_and_onnxruntime_peers_match_the_batch_model_on_real_mocap() {
    if !peers_available("peers parity") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mocap = repo().join("data/mocap");
    let take1 = mocap.join("bvhtools_test.bvh");
    let take2 = mocap.join("bvhtools_test2.bvh");
    let slow = dir.path().join("bvhtools_test2_15hz.bvh");
    decimated_bvh(&take2, 2, &slow);
    let small_rig = dir.path().join("bvhtools_test_no_toes_hands.bvh");
    bvh_without_leaves(&take1, &["LeftToe", "RightToe", "LeftHand", "RightHand"], &small_rig);
    // Full observation windows across both takes (start, middle, near the end), the 15 Hz
    // copy, a smaller rig (no toes, no hands: those SMPL joints are invalid), and short
    // windows: two frames (no surprise, no closed atom) and 20 frames (a few atoms).
    let windows: Vec<(&Path, usize, Option<usize>)> = vec![
        (&take1, 0, None),
        (&take1, 1500, None),
        (&take1, 4321, None),
        (&take1, 7100, None),
        (&take2, 250, None),
        (&take2, 3000, None),
        (&slow, 400, None),
        (&slow, 2500, None),
        (&small_rig, 800, None),
        (&small_rig, 5000, None),
        (&take1, 2000, Some(2)),
        (&take2, 900, Some(20)),
    ];
    let mut args: Vec<String> = vec![repo().join("peers/peers.py").display().to_string(), "parity".into()];
    for (i, (data, start, frames)) in windows.iter().enumerate() {
        let out = dir.path().join(format!("fixture{i}.json"));
        let v = fixture(data, *start, *frames, &out);
        // The smaller rig really lacks the feet (SMPL 10, 11) and wrists (20, 21).
        let valid = &v["input"][0]["valid"];
        let small = *data == small_rig.as_path();
        for j in [10, 11, 20, 21] {
            assert_eq!(valid[j].as_bool(), Some(!small), "{} joint {j}", data.display());
        }
        let closed = v["debug"]["closed"].as_array().unwrap().len();
        match frames {
            Some(2) => assert_eq!(closed, 0),
            _ => assert!(closed >= 1, "{} at {start}: no closed atom", data.display()),
        }
        args.push("--fixture".into());
        args.push(out.display().to_string());
    }
    let o = Command::new(python()).args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The per-output table is the measurement; show it with --nocapture.
    println!("{stdout}");
    assert!(
        o.status.success(),
        "peers parity failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("parity: PASS"), "{stdout}");
    // Both peers were actually compared on every output.
    for peer in ["pytorch", "onnxruntime"] {
        for output in ["steps.joints_in_world", "motif_next", "steps.spread_m", "motif_now.id"] {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(peer) && l.contains(output) && l.ends_with("yes")),
                "{peer} {output} missing:\n{stdout}"
            );
        }
    }
}

/// `a4m.py` verifies the artifact's hash: a flipped payload byte stops the peers, by name.
#[test]
fn peers_reject_a_tampered_artifact() {
    if !peers_available("peers tamper check") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(repo().join("models/a4mer-small.a4m")).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x40;
    let bad = dir.path().join("tampered.a4m");
    std::fs::write(&bad, bytes).unwrap();
    let fx = dir.path().join("f.json");
    fixture(&repo().join("data/mocap/bvhtools_test2.bvh"), 0, Some(20), &fx);
    let o = Command::new(python())
        .arg(repo().join("peers/peers.py"))
        .args(["parity", "--model"])
        .arg(&bad)
        .arg("--fixture")
        .arg(&fx)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tampered.a4m") && stderr.contains("SHA-256 mismatch"),
        "{stderr}"
    );
}
