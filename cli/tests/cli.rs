//! The `a4mer` binary as users run it.

#[path = "../../test-support/keystore.rs"]
mod keystore;

use std::path::PathBuf;
use std::process::Command;

fn a4mer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_a4mer"))
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn mocap_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mocap")
}

#[test]
fn eval_json_is_exactly_one_object_with_the_documented_keys() {
    let out = a4mer()
        .args(["eval", "--json", "--data"])
        .arg(mocap_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["fps"], 30);
    assert_eq!(v["horizons_ms"], serde_json::json!([100, 200, 400, 600, 1000]));
    assert_eq!(v["joints"], 22);
    assert!(v["windows"].as_u64().unwrap() > 1000);
    assert!(v["mpjpe_mm"].get("model").is_none(), "no model given, no model key");
    for method in ["zero_velocity", "constant_velocity"] {
        for frame in ["world", "pelvis_relative"] {
            let xs: Vec<f64> = v["mpjpe_mm"][method][frame]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(xs.len(), 5, "{method} {frame}");
            assert!(
                xs.windows(2).all(|w| w[0] < w[1]),
                "{method} {frame} grows with horizon: {xs:?}"
            );
        }
    }
    // Plausibility: a cm/m mix-up would be 100x off. Holding the last pose for 1 s of
    // mostly walking misses by a few hundred millimetres.
    let zero_1s = v["mpjpe_mm"]["zero_velocity"]["world"][4].as_f64().unwrap();
    assert!((200.0..1500.0).contains(&zero_1s), "{zero_1s}");
}

#[test]
fn eval_table_and_import_info_are_readable() {
    let out = a4mer()
        .args(["eval", "--split", "heldout", "--data"])
        .arg(mocap_dir())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("constant_velocity") && text.contains("1000 ms"), "{text}");

    let out = a4mer()
        .args(["import", "--info"])
        .arg(mocap_dir().join("bvhtools_test2.bvh"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Centimetres (detected",
        "+y (head above feet)",
        "22 of 24",
        "left_knee       <- LeftLeg",
        "left_hand       <- -",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn bad_input_exits_nonzero_with_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("cut.bvh");
    let text = std::fs::read_to_string(mocap_dir().join("bvhtools_test2.bvh")).unwrap();
    std::fs::write(&bad, &text[..text.len() - 5000]).unwrap();
    let out = a4mer().args(["eval", "--data"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cut.bvh:") && err.contains("truncated"), "{err}");

    let out = a4mer()
        .args(["eval", "--units", "furlong", "--data"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().contains("furlong"));
}

/// Builds a bundle from this test binary's own `a4mer` (host architecture) and a model
/// file, then checks reproducibility, verification, and each kind of damage.
#[test]
fn bundles_are_reproducible_and_verify_catches_damage() {
    let dir = tempfile::tempdir().unwrap();
    let bins = dir.path().join("bins");
    std::fs::create_dir(&bins).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_a4mer"), bins.join("a4mer")).unwrap();
    // The node from the same build (cargo builds every workspace binary for the tests).
    let node = std::path::Path::new(env!("CARGO_BIN_EXE_a4mer")).with_file_name("a4mer_node");
    std::fs::copy(&node, bins.join("a4mer_node")).unwrap();
    let model = dir.path().join("model.a4m");
    std::fs::copy(repo_root().join("models/a4mer-small-int8.a4m"), &model).unwrap();
    let launch = dir.path().join("launch");
    std::fs::create_dir_all(launch.join("params")).unwrap();
    std::fs::write(launch.join("params/a4mer.yaml"), "a4mer_node:\n  ros__parameters: {}\n").unwrap();
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    // An SROS2 keystore as integrators make it: the node's enclave ships without its key.
    let keystore = dir.path().join("keystore");
    keystore::make_keystore(&keystore, 0, &[], &[]);
    let enclave = keystore.join("enclaves/a4mer/a4mer_node");
    let bundle = |out: &std::path::Path| {
        let st = a4mer()
            .args(["bundle", "--target", &target, "--model"])
            .arg(&model)
            .arg("--out")
            .arg(out)
            .arg("--bin-dir")
            .arg(&bins)
            .arg("--launch-dir")
            .arg(&launch)
            .arg("--enclave")
            .arg(&enclave)
            .arg("--clips")
            .arg(mocap_dir())
            .args(["--no-firmware", "--zstd-level", "1"])
            .output()
            .unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    };
    let (a, b) = (dir.path().join("a.tar.zst"), dir.path().join("b.tar.zst"));
    bundle(&a);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a different wall-clock second
    bundle(&b);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same inputs, same bytes"
    );

    let out = a4mer().arg("verify").arg(&a).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for want in [
        "bin/a4mer architecture",
        "bin/a4mer_node architecture",
        "bin/a4mer_node C library: needs glibc 2.",
        "models/model.a4m",
        "model integrity: models/model.a4m: SHA-256 verified, format version 1, int8",
        "launch/params/a4mer.yaml",
        "launch/systemd/a4mer-node.env",
        "data/mocap/bvhtools_test2.bvh",
        "data/mocap/LICENSE-bvhTools",
        "sros2/enclaves/a4mer/a4mer_node/cert.pem",
        "sros2/enclaves/a4mer/a4mer_node/permissions.p7s",
        "private keys: none",
        "all ",
    ] {
        assert!(text.contains(want), "missing {want:?}:\n{text}");
    }

    let fails = |path: &std::path::Path, args: &[&str]| -> String {
        let out = a4mer().arg("verify").arg(path).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    // Wrong architecture for the device.
    let wrong = fails(&a, &["--arch", "riscv64"]);
    assert!(
        wrong.contains(&format!("built for {}, --arch is riscv64", std::env::consts::ARCH)),
        "{wrong}"
    );
    // Truncated.
    let bytes = std::fs::read(&a).unwrap();
    let cut = dir.path().join("cut.tar.zst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = fails(&cut, &[]);
    assert!(msg.contains("cut.tar.zst"), "{msg}");
    // Tampered: unpack, change the model, verify the directory.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let file = std::fs::File::open(&a).unwrap();
    tar::Archive::new(zstd::stream::Decoder::new(file).unwrap())
        .unpack(&unpacked)
        .unwrap();
    let out = a4mer().arg("verify").arg(&unpacked).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // The unit's env file points the node at the bundle's model.
    let env = std::fs::read_to_string(unpacked.join("launch/systemd/a4mer-node.env")).unwrap();
    assert!(env.contains("A4MER_MODEL=/opt/a4mer/models/model.a4m"), "{env}");
    std::fs::write(unpacked.join("models/model.a4m"), b"model bytez").unwrap();
    let msg = fails(&unpacked, &[]);
    assert!(msg.contains("FAIL  models/model.a4m: sha256"), "{msg}");
    assert!(msg.contains("FAIL  model integrity: models/model.a4m"), "{msg}");
    std::fs::write(unpacked.join("extra.sh"), b"#!/bin/sh\n").unwrap();
    assert!(fails(&unpacked, &[]).contains("extra.sh: present but not in the manifest"));
    assert!(
        !text.contains("a4mer_node/key.pem"),
        "an enclave's key never ships:\n{text}"
    );
    std::fs::copy(
        enclave.join("key.pem"),
        unpacked.join("sros2/enclaves/a4mer/a4mer_node/key.pem"),
    )
    .unwrap();
    let msg = fails(&unpacked, &[]);
    assert!(
        msg.contains("FAIL  private keys: sros2/enclaves/a4mer/a4mer_node/key.pem hold a private key"),
        "{msg}"
    );
    // A public file with a key pasted in is refused when bundling.
    let leaky = keystore.join("enclaves/leaky");
    std::fs::create_dir(&leaky).unwrap();
    for f in std::fs::read_dir(&enclave).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, leaky.join(f.file_name().unwrap())).unwrap();
    }
    let mut cert = std::fs::read(leaky.join("cert.pem")).unwrap();
    cert.extend(std::fs::read(leaky.join("key.pem")).unwrap());
    std::fs::write(leaky.join("cert.pem"), cert).unwrap();
    let st = a4mer()
        .args(["bundle", "--target", &target, "--no-firmware", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(dir.path().join("leaky.tar.zst"))
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--enclave")
        .arg(&leaky)
        .arg("--clips")
        .arg(mocap_dir())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        !st.status.success() && err.contains("cert.pem: holds a private key"),
        "{err}"
    );
}

/// A model written by a newer a4mer: `verify` says which version in one line, and
/// `bundle` refuses to ship it.
#[test]
fn a_model_from_a_newer_format_version_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(repo_root().join("models/a4mer-small-int8.a4m")).unwrap();
    // The envelope's `format_version` key is followed by its value, a one-byte CBOR integer.
    let key = b"format_version";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    assert!(bytes[at] < 0x04, "a version this build reads");
    bytes[at] = 0x04;
    let newer = dir.path().join("newer.a4m");
    std::fs::write(&newer, &bytes).unwrap();

    let out = a4mer().arg("verify").arg(&newer).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("newer.a4m") && err.contains("format version 4 is not supported"),
        "{err}"
    );

    let bins = dir.path().join("bins");
    std::fs::create_dir(&bins).unwrap();
    for name in ["a4mer", "a4mer_node"] {
        let from = std::path::Path::new(env!("CARGO_BIN_EXE_a4mer")).with_file_name(name);
        std::fs::copy(from, bins.join(name)).unwrap();
    }
    let out = a4mer()
        .args([
            "bundle",
            "--target",
            &format!("{}-unknown-linux-gnu", std::env::consts::ARCH),
        ])
        .arg("--model")
        .arg(&newer)
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--out")
        .arg(dir.path().join("b.tar.zst"))
        .arg("--clips")
        .arg(mocap_dir())
        .arg("--no-firmware")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("format version 4 is not supported"), "{err}");
    assert!(!dir.path().join("b.tar.zst").exists());
}

#[test]
fn import_to_bag_writes_real_motion_at_its_timing() {
    use a4mer_bag::BagReader;
    use a4mer_ros::msg::Skeleton3DArray;

    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("take2");
    let out = a4mer()
        .arg("import")
        .arg(mocap_dir().join("bvhtools_test2.bvh"))
        .args([
            "--topic",
            "/mocap/poses",
            "--start-ns",
            "1700000000000000000",
            "--to-bag",
        ])
        .arg(&bag)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // 3945 frames at 30 Hz: 131.47 s.
    assert!(
        text.contains("wrote 3945 Skeleton3DArray messages (131.47 s at 30 Hz) on /mocap/poses"),
        "{text}"
    );

    let reader = BagReader::open(&bag).unwrap();
    let topic = reader.topic_index("/mocap/poses").unwrap();
    assert_eq!(reader.topics()[topic].message_count, Some(3945));
    let mut stamps = Vec::new();
    for m in reader.messages() {
        let m = m.unwrap();
        let s: Skeleton3DArray = reader.decode(&m).unwrap();
        assert_eq!(s.header.frame_id, "world");
        assert_eq!(s.bodies.len(), 1);
        assert_eq!(s.bodies[0].joints.len(), 24);
        assert_eq!(m.log_time_ns, s.header.stamp.to_ns());
        stamps.push(m.log_time_ns);
    }
    assert_eq!(stamps[0], 1_700_000_000_000_000_000);
    assert_eq!(stamps[3], 1_700_000_000_100_000_000);
    assert!(
        stamps
            .windows(2)
            .all(|w| (33_333_333..=33_333_334).contains(&(w[1] - w[0])))
    );

    // The bag is not overwritten.
    let out = a4mer()
        .arg("import")
        .arg(mocap_dir().join("bvhtools_test2.bvh"))
        .arg("--to-bag")
        .arg(&bag)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("take2") && err.contains("not empty"), "{err}");
}
