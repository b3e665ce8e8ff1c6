//! `a4mer_quantize::run` end to end on the shipped model and real mocap, and the bad
//! inputs it must refuse without writing anything.

use std::path::{Path, PathBuf};

use a4mer_burn_model::BurnArtifact;
use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_burn_model::params::NamedTensor;
use a4mer_measure::eval::Split;
use a4mer_motion::bvh::ImportOptions;
use a4mer_motion::import_bvh;
use a4mer_quantize::{Activations, QuantError, Recording, ReportOptions, Request, run};
use a4mer_runtime::artifact::{ACTIVATIONS_DYNAMIC, Artifact, ArtifactError, TensorRecord};
use a4mer_runtime::model::quant::ActScale;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn recording(split: Split, max_frames: usize) -> Recording {
    let p = repo().join("data/mocap/bvhtools_test2.bvh");
    let m = import_bvh(&p, &ImportOptions::default()).unwrap();
    let frames = split.frames(&m.frames);
    Recording {
        source: p.display().to_string(),
        sha256: "test".into(),
        frames: frames[..frames.len().min(max_frames)].to_vec(),
    }
}

fn request(model: &Path, calibration: Vec<Recording>, out: &Path) -> Request {
    Request {
        model: model.to_path_buf(),
        calibration,
        calibration_split: "train".into(),
        activations: Activations::Dynamic,
        keep_f32: a4mer_quantize::default_keep_f32(),
        out: out.to_path_buf(),
        report: ReportOptions {
            data: vec![recording(Split::All, usize::MAX)],
            split: Split::Heldout,
            stride: 15,
            bench_frames: 300,
            bench_rounds: 1,
            burn_int8: false,
            perturb: false,
            unseen: Vec::new(),
        },
    }
}

fn nothing_written(out: &Path) {
    assert!(!out.exists(), "{} was written", out.display());
    assert!(!out.with_extension("a4m.partial").exists());
}

#[test]
fn a_calibration_set_too_small_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int8.a4m");
    let model = repo().join("models/a4mer-small.a4m");
    let e = run(&request(&model, vec![recording(Split::Train, 100)], &out))
        .err()
        .unwrap();
    let msg = e.to_string();
    assert!(matches!(e, QuantError::TooSmall { .. }), "{msg}");
    assert!(
        msg.contains("calibration set too small") && msg.contains("600"),
        "{msg}"
    );
    nothing_written(&out);
    let e = run(&request(&model, vec![], &out)).err().unwrap();
    assert!(matches!(e, QuantError::NoCalibration), "{e}");
    nothing_written(&out);
}

#[test]
fn a_model_with_a_tensor_the_scheme_does_not_know_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut art = Artifact::load(&repo().join("models/a4mer-small.a4m")).unwrap();
    // Saved as the current format, which states the damping τ the shipped model ran with.
    art.payload.provenance.damping_tau_s = Some(art.damping_tau().seconds());
    art.payload.tensors.insert(
        "atom.gate.weight".into(),
        TensorRecord::from_f32(&NamedTensor {
            shape: vec![2, 2],
            values: vec![0.5; 4],
        }),
    );
    let model = dir.path().join("f32-extra.a4m");
    art.save(&model).unwrap();
    let out = dir.path().join("int8.a4m");
    let e = run(&request(&model, vec![recording(Split::Train, 100)], &out))
        .err()
        .unwrap();
    let msg = e.to_string();
    assert!(matches!(e, QuantError::UnknownTensor { .. }), "{msg}");
    assert!(msg.contains("atom.gate.weight"), "{msg}");
    nothing_written(&out);
}

#[test]
fn keep_f32_must_name_an_engine_layer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int8.a4m");
    let mut req = request(
        &repo().join("models/a4mer-small.a4m"),
        vec![recording(Split::Train, 100)],
        &out,
    );
    req.keep_f32.insert("forecast.nope".into(), "test".into());
    // Checked before calibration, so the small set does not matter.
    let e = run(&req).err().unwrap();
    assert!(e.to_string().contains("forecast.nope"), "{e}");
    nothing_written(&out);
}

#[test]
fn int8_artifact_round_trip_streams_in_int8_and_tracks_f32() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int8.a4m");
    let model = repo().join("models/a4mer-small.a4m");
    let outcome = run(&request(&model, vec![recording(Split::Train, usize::MAX)], &out)).unwrap();
    let r = &outcome.report;
    assert!(out.exists());
    assert_eq!(r.int8.size_bytes, std::fs::metadata(&out).unwrap().len());
    assert!(r.size_ratio < 0.30, "size ratio {}", r.size_ratio);
    assert_eq!(r.f32.int8_layers, 0);
    assert!(r.int8.int8_layers >= 10, "{} int8 layers", r.int8.int8_layers);
    for (i, d) in r.mpjpe_drift_pct_world.iter().enumerate() {
        assert!(d.abs() < 5.0, "world drift at horizon {i}: {d} %");
    }
    assert!(
        r.motif_agreement > 0.9 && r.motif_frames > 100,
        "{} of {}",
        r.motif_agreement,
        r.motif_frames
    );

    // One load API: the int8 artifact gives a model whose engine runs int8.
    let (m, _) = load_model(&out, &inference_device()).unwrap();
    assert!(m.quant.is_some());
    assert!(a4mer_burn_model::stream_model(&m).unwrap().is_int8());
    let art = Artifact::load(&out).unwrap();
    let q = art.payload.quantization.clone().unwrap();
    assert_eq!(q.activations, ACTIVATIONS_DYNAMIC);
    assert_eq!(q.method, "none");
    assert!(q.activation_scales.is_empty() && q.percentile.is_none());
    assert_eq!(q.int8_layers.len(), r.int8.int8_layers);
    assert!(q.kept_f32.contains_key("frame_pred") && !q.int8_layers.iter().any(|l| l == "frame_pred"));
    assert!(q.int8_layers.iter().any(|l| l == "forecast.mean"));
    assert!(q.int8_inputs().unwrap().iter().all(|(_, a)| *a == ActScale::Dynamic));
    assert!(q.report_json.unwrap().contains("motif_agreement"));
    assert!(q.calibration_frames >= 600);

    // Tampering: int8 tensors without the quantization section, or a scale whose weight
    // is f32, are refused by name.
    let mut bare = art.clone();
    bare.payload.quantization = None;
    match bare.into_model(&inference_device(), "mem") {
        Err(ArtifactError::Quant { message, .. }) => assert!(message.contains("no quantization section"), "{message}"),
        other => panic!("expected a quantization error, got {other:?}"),
    }
    let mut f32_weight = art.clone();
    let f32_art = Artifact::load(&model).unwrap();
    f32_weight.payload.tensors.insert(
        "forecast.l1.weight".into(),
        f32_art.payload.tensors["forecast.l1.weight"].clone(),
    );
    match f32_weight.into_model(&inference_device(), "mem") {
        Err(ArtifactError::Quant { message, .. }) => assert!(message.contains("forecast.l1"), "{message}"),
        other => panic!("expected a quantization error, got {other:?}"),
    }
    // A section that contradicts itself is refused by the field, never half-run.
    let mut mixed = art.clone();
    let qm = mixed.payload.quantization.as_mut().unwrap();
    qm.activation_scales.insert("forecast.l1".into(), 0.01);
    match mixed.into_model(&inference_device(), "mem") {
        Err(ArtifactError::Quant { message, .. }) => {
            assert!(
                message.contains("forecast.l1") && message.contains("static"),
                "{message}"
            )
        }
        other => panic!("expected a quantization error, got {other:?}"),
    }
    let mut unknown = art.clone();
    unknown.payload.quantization.as_mut().unwrap().activations = "per-token-fp8".into();
    let bytes = unknown.to_bytes().unwrap();
    match Artifact::from_bytes(&bytes, "mem")
        .unwrap()
        .into_model(&inference_device(), "mem")
    {
        Err(ArtifactError::Quant { message, .. }) => assert!(message.contains("per-token-fp8"), "{message}"),
        other => panic!("expected a quantization error, got {other:?}"),
    }
    let mut missing = art.clone();
    let qm = missing.payload.quantization.as_mut().unwrap();
    qm.int8_layers.push("forecast.nope".into());
    match missing.into_model(&inference_device(), "mem") {
        Err(ArtifactError::Quant { message, .. }) => assert!(message.contains("forecast.nope"), "{message}"),
        other => panic!("expected a quantization error, got {other:?}"),
    }
    // Static scales (artifacts made before dynamic ones have `activations` absent, read as
    // empty) still load, run their scales, and a bad one is refused by layer.
    let mut stat = art.clone();
    let qs = stat.payload.quantization.as_mut().unwrap();
    qs.activations = String::new();
    qs.activation_scales = qs.int8_layers.drain(..).map(|l| (l, 0.05)).collect();
    let inputs = qs.int8_inputs().unwrap();
    assert_eq!(inputs.len(), r.int8.int8_layers);
    assert!(inputs.iter().all(|(_, a)| *a == ActScale::Static(0.05)));
    let bytes = stat.to_bytes().unwrap();
    let m = Artifact::from_bytes(&bytes, "mem")
        .unwrap()
        .into_model(&inference_device(), "mem")
        .unwrap();
    assert!(a4mer_burn_model::stream_model(&m).unwrap().is_int8());
    stat.payload
        .quantization
        .as_mut()
        .unwrap()
        .activation_scales
        .insert("forecast.l2".into(), -1.0);
    match stat.into_model(&inference_device(), "mem") {
        Err(ArtifactError::Quant { message, .. }) => {
            assert!(
                message.contains("forecast.l2") && message.contains("input scale"),
                "{message}"
            )
        }
        other => panic!("expected a quantization error, got {other:?}"),
    }
    // Quantizing an int8 artifact again is refused.
    let e = run(&request(
        &out,
        vec![recording(Split::Train, 100)],
        &dir.path().join("again.a4m"),
    ))
    .err()
    .unwrap();
    assert!(matches!(e, QuantError::AlreadyInt8 { .. }), "{e}");
}
