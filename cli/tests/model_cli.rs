//! `a4mer eval --model` and `a4mer motifs` with the shipped model.

use std::path::PathBuf;
use std::process::Command;

#[path = "../../test-support/compare.rs"]
mod compare;
#[path = "../../test-support/cuda.rs"]
mod cuda;
#[path = "../../test-support/skip.rs"]
mod skip;

fn a4mer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_a4mer"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What makes the shipped model worth running instead of a baseline, on the held-out
/// split, through the CLI users run.
#[test]
fn shipped_model_beats_both_baselines_on_heldout_world_mpjpe() {
    let out = a4mer()
        .args(["eval", "--json", "--split", "heldout", "--model"])
        .arg(repo().join("models/a4mer-small.a4m"))
        .arg("--data")
        .arg(repo().join("data/mocap"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let world = |m: &str| -> Vec<f64> {
        v["mpjpe_mm"][m]["world"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (model, zero, cv) = (world("model"), world("zero_velocity"), world("constant_velocity"));
    // Horizons 100/200/400/600/1000 ms: index 2 is 400 ms, 4 is 1000 ms.
    for h in [2, 4] {
        let best = zero[h].min(cv[h]);
        assert!(
            model[h] < best,
            "horizon {h}: model {} vs best baseline {best}",
            model[h]
        );
    }
}

#[test]
fn motifs_json_lists_runs_over_time() {
    let out = a4mer()
        .args(["motifs", "--json", "--model"])
        .arg(repo().join("models/a4mer-small.a4m"))
        .arg("--data")
        .arg(repo().join("data/mocap/bvhtools_test2.bvh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v.as_array().unwrap();
    assert!(runs.len() > 10);
    let mut prev_end = 0.0;
    for r in runs {
        let (s, e) = (r["start_s"].as_f64().unwrap(), r["end_s"].as_f64().unwrap());
        assert!(s >= prev_end - 1e-9 && e > s, "{r}");
        assert!(r["atoms"].as_u64().unwrap() >= 1);
        assert!(r["motif"].as_u64().unwrap() < 64);
        let c = r["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c));
        prev_end = e;
    }
    // Consecutive runs differ in motif (runs are maximal).
    for w in runs.windows(2) {
        assert_ne!(w[0]["motif"], w[1]["motif"]);
    }
}

/// Several recordings: each one's runs, and the label scores over the DeepMimic clips only
/// (a BVH take has no action label and is named as left out).
#[test]
fn motifs_over_several_recordings_score_the_labelled_ones_and_draw_them() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("motifs.svg");
    let out = a4mer()
        .args(["motifs", "--json", "--loop-wrap-to-s", "10", "--model"])
        .arg(repo().join("models/a4mer-small.a4m"))
        .arg("--plot")
        .arg(&svg)
        .arg("--data")
        .arg(repo().join("data/mocap/bvhtools_test2.bvh"))
        .arg(repo().join("data/deepmimic/walker/turn_left0.txt"))
        .arg(repo().join("data/deepmimic/humanoid3d_run.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recordings = v["recordings"].as_array().unwrap();
    let labels: Vec<_> = recordings.iter().map(|r| r["label"].as_str()).collect();
    assert_eq!(labels, [None, Some("turn_left"), Some("run")]);
    for r in recordings {
        assert!(!r["runs"].as_array().unwrap().is_empty(), "{r}");
        assert!(r["frames_in_atoms"].as_u64().unwrap() <= r["frames"].as_u64().unwrap());
    }
    let l = &v["labels"];
    assert_eq!(l["labelled_recordings"], 2);
    let unlabelled = l["unlabelled"].as_array().unwrap();
    assert_eq!(unlabelled.len(), 1);
    assert!(unlabelled[0].as_str().unwrap().ends_with("bvhtools_test2.bvh"));
    assert!(l["note"].as_str().unwrap().contains("left out"), "{l}");
    // Scored frames: exactly the labelled clips' frames inside atoms.
    let in_atoms: u64 = recordings[1..]
        .iter()
        .map(|r| r["frames_in_atoms"].as_u64().unwrap())
        .sum();
    assert_eq!(l["frames"].as_u64(), Some(in_atoms));
    for k in ["nmi", "purity"] {
        let x = l[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k} {x}");
    }
    assert_eq!(l["labels"], 2);
    assert_eq!(l["per_label"].as_array().unwrap().len(), 2);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(80)]);
    for name in ["bvhtools_test2", "turn_left0", "humanoid3d_run"] {
        assert!(text.contains(name), "{name} missing from the plot");
    }
}

#[test]
fn a_tampered_model_is_refused_with_the_check_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.a4m");
    let mut bytes = std::fs::read(repo().join("models/a4mer-small.a4m")).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    std::fs::write(&p, bytes).unwrap();
    let out = a4mer()
        .args(["eval", "--model"])
        .arg(&p)
        .arg("--data")
        .arg(repo().join("data/mocap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("SHA-256 mismatch") && err.contains("bad.a4m"), "{err}");
}

fn motifs_on(backend: &str) -> std::process::Output {
    a4mer()
        .args(["motifs", "--json", "--backend", backend, "--model"])
        .arg(repo().join("models/a4mer-small.a4m"))
        .arg("--data")
        .arg(repo().join("data/mocap/bvhtools_test2.bvh"))
        .output()
        .unwrap()
}

#[test]
fn an_unknown_backend_is_refused_with_the_choices() {
    let out = motifs_on("cuda");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--backend") && err.contains("ndarray, tch-cpu or tch-cuda"),
        "{err}"
    );
}

#[cfg(not(feature = "tch"))]
#[test]
fn tch_backends_in_a_default_build_say_to_rebuild_with_the_feature() {
    for backend in ["tch-cpu", "tch-cuda"] {
        let out = motifs_on(backend);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(backend) && err.contains("--features tch"), "{err}");
    }
}

/// The CLI on libtorch gives the same evaluation as on ndarray (the parity bar of
/// hw-tests/tests/cuda.rs, applied to the MPJPE table).
#[cfg(feature = "tch")]
#[test]
fn libtorch_cpu_eval_matches_ndarray_eval() {
    let eval = |backend: &str| -> serde_json::Value {
        let out = a4mer()
            .args(["eval", "--json", "--split", "heldout", "--backend", backend, "--model"])
            .arg(repo().join("models/a4mer-small.a4m"))
            .arg("--data")
            .arg(repo().join("data/mocap"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (nd, tch) = (eval("ndarray"), eval("tch-cpu"));
    assert_eq!(nd["windows"], tch["windows"]);
    for frame in ["world", "pelvis_relative"] {
        let row = |v: &serde_json::Value| -> Vec<f64> {
            v["mpjpe_mm"]["model"][frame]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let (a, b) = (row(&nd), row(&tch));
        assert_eq!((a.len(), b.len()), (5, 5));
        // Each horizon against its own magnitude: the short ones are the small numbers.
        for (h, (x, y)) in a.iter().zip(&b).enumerate() {
            compare::assert_rel(
                &format!("{frame} MPJPE (mm) [{h}], tch-cpu vs ndarray"),
                [*y],
                [*x],
                1e-4,
            );
        }
        println!("{frame} MPJPE (mm) ndarray {a:?} tch-cpu {b:?}");
    }
}

/// burn-tch has no quantized tensors: an int8 artifact is refused on libtorch, by name,
/// before any module is built.
#[cfg(feature = "tch")]
#[test]
fn libtorch_refuses_int8_artifacts_with_the_reason() {
    let out = a4mer()
        .args([
            "eval",
            "--json",
            "--split",
            "heldout",
            "--backend",
            "tch-cpu",
            "--model",
        ])
        .arg(repo().join("models/a4mer-small-int8.a4m"))
        .arg("--data")
        .arg(repo().join("data/mocap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("a4mer-small-int8.a4m") && err.contains("int8 artifact") && err.contains("libtorch"),
        "{err}"
    );
}

/// `a4mer bench --backend tch-cuda` on a machine without CUDA (or a build without
/// libtorch): one line saying why, exit 0, so fleet scripts run anywhere; with JSON, the
/// reason under `skipped`. On a GPU (found without libtorch) with a libtorch build it must
/// report per-frame latency and batch throughput, not skip.
#[test]
fn libtorch_bench_on_cuda_skips_cleanly_without_a_gpu() {
    let bench = |json: bool| {
        let mut c = a4mer();
        c.args(["bench", "--backend", "tch-cuda", "--frames", "50"]);
        if json {
            c.arg("--json");
        }
        c.current_dir(repo()).output().unwrap()
    };
    let out = bench(false);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    if cfg!(feature = "tch") && cuda::cuda_expected().unwrap() {
        assert!(!text.starts_with("SKIP") && text.contains("windows/s"), "{text}");
        return;
    }
    assert!(text.starts_with("SKIP"), "no GPU here, yet the bench ran: {text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(
        text.contains("tch-cuda") && (text.contains("CUDA") || text.contains("--features tch")),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_slice(&bench(true).stdout).unwrap();
    assert_eq!(v["backend"], "tch-cuda");
    let reason = v["skipped"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "{v}");
    // The refusal was checked; the measurement on a GPU was not.
    skip::skip("a4mer bench --backend tch-cuda", reason);
}

/// The host twin of the CUDA bench: the same measurement on CPU libtorch.
#[cfg(feature = "tch")]
#[test]
fn libtorch_bench_on_cpu_reports_latency_and_batch_throughput() {
    let out = a4mer()
        .args(["bench", "--backend", "tch-cpu", "--frames", "20", "--json"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "tch-cpu");
    assert_eq!(v["per_frame_us"]["count"], 20);
    assert!(v["per_frame_us"]["median"].as_f64().unwrap() > 0.0, "{v}");
    let tracks: Vec<u64> = v["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["tracks"].as_u64().unwrap())
        .collect();
    assert_eq!(tracks, vec![1, 2, 4, 8]);
    assert!(
        v["batches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["windows_per_s"].as_f64().unwrap() > 0.0),
        "{v}"
    );
}

/// Without a GPU (found without libtorch) the CUDA backend is refused with the reason;
/// with one, it runs and finds the motifs ndarray finds.
#[cfg(feature = "tch")]
#[test]
fn libtorch_cuda_runs_or_is_refused_with_the_reason() {
    let out = motifs_on("tch-cuda");
    if !cuda::cuda_expected().unwrap() {
        assert_eq!(out.status.code(), Some(1), "no GPU here, yet tch-cuda ran");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("`tch-cuda`: no CUDA device"), "{err}");
        return skip::skip("a4mer motifs --backend tch-cuda", err.trim());
    }
    assert!(
        out.status.success(),
        "tch-cuda on a GPU: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = |o: std::process::Output| -> Vec<serde_json::Value> {
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let (gpu, reference) = (runs(out), runs(motifs_on("ndarray")));
    assert!(reference.len() > 10, "{} runs", reference.len());
    let spans = |v: &[serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|r| format!("{} {} {}", r["motif"], r["start_s"], r["end_s"]))
            .collect()
    };
    assert_eq!(spans(&gpu), spans(&reference), "motif runs on CUDA vs ndarray");
    let conf = |v: &[serde_json::Value]| -> Vec<f64> { v.iter().map(|r| r["confidence"].as_f64().unwrap()).collect() };
    compare::assert_rel("motif confidence, CUDA vs ndarray", conf(&gpu), conf(&reference), 1e-4);
}

/// Leave-one-source-out refuses before any training: a source that holds none of the
/// recordings (a typo would otherwise train on the rig it meant to leave out), and one that
/// would leave nothing to train on.
#[test]
fn a_left_out_source_that_matches_nothing_or_leaves_nothing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.a4m");
    let run = |args: &[&str]| {
        let o = a4mer()
            .current_dir(repo())
            .arg("train")
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(&["--data", "data/mocap", "--hold-out-source", "data/deepmimic"]);
    assert!(
        e.contains("--hold-out-source data/deepmimic") && e.contains("none of the 2"),
        "{e}"
    );
    let e = run(&["--data", "data/mocap", "--hold-out-source", "data/mocap"]);
    assert!(e.contains("nothing is left to train on"), "{e}");
    assert!(!out.exists(), "nothing was written");
}
