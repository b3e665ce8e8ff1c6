//! The artifact's format and its checks, through the engine's loader (`StreamModel`). The
//! sample is filled from the config's tensor list; the burn model's crate holds the same
//! refusals to its own loader.

use super::*;
use crate::model::test_support::tiny_config;
use crate::stream::{StreamLoadError, StreamModel};

fn sample() -> (Artifact, Vec<u8>) {
    let art = crate::model::test_support::artifact_without_burn(tiny_config(), 11);
    let bytes = art.to_bytes().unwrap();
    (art, bytes)
}

/// Why the engine's loader refuses `art`.
fn refusal(art: Artifact) -> ArtifactError {
    match StreamModel::from_artifact(&art, "mem") {
        Err(StreamLoadError::Artifact(e)) => e,
        other => panic!("the engine's loader: expected an artifact error, got {other:?}"),
    }
}

#[test]
fn round_trip_is_bit_exact() {
    let (art, bytes) = sample();
    let back = Artifact::from_bytes(&bytes, "mem").unwrap();
    assert_eq!(back, art);
    assert_eq!(back.to_bytes().unwrap(), bytes);
    assert!(!StreamModel::from_artifact(&back, "mem").unwrap().is_int8());
}

#[test]
fn file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.a4m");
    let (art, _) = sample();
    art.save(&p).unwrap();
    assert_eq!(Artifact::load(&p).unwrap(), art);
    assert_eq!(StreamModel::load(&p).unwrap().config(), &tiny_config());
    assert!(matches!(
        StreamModel::load(&dir.path().join("nope.a4m")),
        Err(StreamLoadError::Artifact(ArtifactError::Io { .. }))
    ));
}

#[test]
fn tampered_byte_is_a_hash_error() {
    let (_, mut bytes) = sample();
    // Flip a byte in the middle of the payload (tensor data dominates it).
    let i = bytes.len() / 2;
    bytes[i] ^= 0x40;
    match Artifact::from_bytes(&bytes, "mem") {
        Err(ArtifactError::Hash { .. }) => {}
        other => panic!("expected a hash error, got {other:?}"),
    }
}

#[test]
fn truncated_file_is_a_truncation_error() {
    let (_, bytes) = sample();
    for cut in [bytes.len() - 1, bytes.len() / 2, 5] {
        match Artifact::from_bytes(&bytes[..cut], "mem") {
            Err(ArtifactError::Truncated { .. }) => {}
            other => panic!("cut at {cut}: expected truncation, got {other:?}"),
        }
    }
}

#[test]
fn wrong_version_is_a_version_error() {
    let (_, bytes) = sample();
    let mut env: Envelope = codec::decode(&bytes, "t").unwrap();
    env.format_version = FORMAT_VERSION + 1;
    // Re-hash so only the version is wrong.
    env.sha256 = hash(env.format_version, &env.payload).to_vec();
    let bad = codec::encode(&env, "t").unwrap();
    match Artifact::from_bytes(&bad, "mem") {
        Err(ArtifactError::Version { found, .. }) => assert_eq!(found, FORMAT_VERSION + 1),
        other => panic!("expected a version error, got {other:?}"),
    }
}

/// Bytes of `art` written as format `version`, whatever its provenance says (the writer
/// refuses a provenance it would not read back; a test must be able to write one).
fn written_as(art: &Artifact, version: u32) -> Vec<u8> {
    let payload = codec::encode(&art.payload, "t").unwrap();
    let env = Envelope {
        magic: MAGIC.into(),
        format_version: version,
        sha256: hash(version, &payload).to_vec(),
        payload,
    };
    codec::encode(&env, "t").unwrap()
}

#[test]
fn a_missing_or_impossible_damping_tau_is_refused_naming_the_field() {
    let (art, _) = sample();
    let tau_s = art.payload.provenance.damping_tau_s.unwrap();
    assert_eq!(art.damping_tau(), DampingTau::Fitted(tau_s));
    for tau in [None, Some(f32::NAN), Some(f32::INFINITY), Some(0.0), Some(-0.5)] {
        let mut bad = art.clone();
        bad.payload.provenance.damping_tau_s = tau;
        match Artifact::from_bytes(&written_as(&bad, FORMAT_VERSION), "mem") {
            Err(e @ ArtifactError::Provenance { field, .. }) => {
                assert_eq!(field, "damping_tau_s");
                assert!(e.to_string().contains("provenance.damping_tau_s"), "{e}");
            }
            other => panic!("tau {tau:?}: expected a provenance error, got {other:?}"),
        }
        let e = bad.to_bytes().unwrap_err();
        assert!(
            e.to_string().contains("damping_tau_s"),
            "the writer refuses it too: {e}"
        );
        let e = StreamModel::from_bytes(&written_as(&bad, FORMAT_VERSION), "mem").unwrap_err();
        assert!(
            matches!(e, StreamLoadError::Artifact(ArtifactError::Provenance { .. })),
            "{e}"
        );
    }
}

#[test]
fn a_model_from_before_the_stored_tau_loads_with_the_default_and_says_so() {
    let (mut art, _) = sample();
    art.payload.provenance.damping_tau_s = None;
    let old = Artifact::from_bytes(&written_as(&art, 1), "old").unwrap();
    assert_eq!(old.format_version, 1);
    assert_eq!(old.damping_tau(), DampingTau::Default(crate::stream::DAMPING_TAU_S));
    assert!(old.damping_tau().note().is_some_and(|n| n.contains("default")));
    let stream = StreamModel::from_bytes(&written_as(&art, 1), "old").unwrap();
    assert_eq!(stream.damping_tau(), old.damping_tau());
    // Loaded with its own τ, a current model says nothing.
    let (art, bytes) = sample();
    assert_eq!(art.damping_tau().note(), None);
    assert_eq!(
        StreamModel::from_bytes(&bytes, "new").unwrap().damping_tau(),
        art.damping_tau()
    );
}

#[test]
fn wrong_shape_or_missing_tensor_never_half_loads() {
    let (mut art, _) = sample();
    let rec = art.payload.tensors.get_mut("forecast.l1.bias").unwrap();
    rec.shape = vec![rec.shape[0] - 1];
    let TensorValues::F32 { le_bytes } = &mut rec.values else {
        panic!("fresh models are f32")
    };
    le_bytes.truncate(le_bytes.len() - 4);
    let bytes = art.to_bytes().unwrap();
    let checked = Artifact::from_bytes(&bytes, "mem").unwrap();
    match refusal(checked) {
        ArtifactError::Tensors {
            cause: FillError::Shape { name, .. },
            ..
        } => assert_eq!(name, "forecast.l1.bias"),
        other => panic!("expected a shape error, got {other:?}"),
    }
    let (mut art, _) = sample();
    art.payload.tensors.remove("motif.mask_token");
    let e = refusal(art);
    assert!(
        matches!(
            e,
            ArtifactError::Tensors {
                cause: FillError::Missing(_),
                ..
            }
        ),
        "{e:?}"
    );
    let (mut art, _) = sample();
    art.payload.config.d_model = 15;
    let bytes = art.to_bytes().unwrap();
    assert!(matches!(
        Artifact::from_bytes(&bytes, "mem"),
        Err(ArtifactError::Config { .. })
    ));
    assert!(matches!(
        Artifact::from_bytes(b"\x01\x02garbage", "mem"),
        Err(ArtifactError::Malformed { .. })
    ));
}

#[test]
fn config_that_would_build_gigabytes_is_rejected_before_building() {
    // Each of these passed the old per-field limits, so `into_model` would have built
    // modules of many GiB (or overflowed, or built millions of layers) from a sealed
    // artifact of a few KB.
    type Edit = fn(&mut A4merConfig);
    let huge: [(&str, Edit); 6] = [
        ("parameters", |c| c.d_ff = 1 << 40),
        ("parameter count overflows", |c| c.n_motifs = usize::MAX),
        ("parameters", |c| c.head_hidden = 65536),
        ("parameters", |c| {
            c.d_model = 4096;
            c.d_ff = 4096;
        }),
        ("atom_layers", |c| c.atom_layers = 1 << 30),
        ("motif_layers", |c| {
            // Few parameters per layer, so only the layer bound stops a million blocks.
            c.d_model = 2;
            c.d_ff = 1;
            c.motif_layers = 1 << 20;
        }),
    ];
    for (what, edit) in huge {
        let (mut art, _) = sample();
        edit(&mut art.payload.config);
        match Artifact::from_bytes(&art.to_bytes().unwrap(), "mem") {
            Err(ArtifactError::Config { message, .. }) => assert!(message.contains(what), "{what}: {message}"),
            other => panic!("{what}: expected a config error, got {other:?}"),
        }
    }
}

#[test]
fn tensors_for_a_smaller_model_name_the_first_missing_one() {
    let (mut art, _) = sample();
    art.payload.config.motif_layers += 1;
    let checked = Artifact::from_bytes(&art.to_bytes().unwrap(), "mem").unwrap();
    match refusal(checked) {
        ArtifactError::Tensors {
            cause: FillError::Missing(name),
            ..
        } => assert!(name.starts_with("motif.blocks.2."), "{name}"),
        other => panic!("expected a missing tensor, got {other:?}"),
    }
}

/// An artifact holding exactly the tensors its config lists streams in the engine (and,
/// with burn, fills the burn modules): the config alone says what a loader needs.
#[test]
fn an_artifact_of_the_configs_tensor_list_streams() {
    use crate::stream::{Engine, EngineConfig};
    let art = crate::model::test_support::artifact_without_burn(tiny_config(), 3);
    let bytes = art.to_bytes().unwrap();
    let m = std::sync::Arc::new(StreamModel::from_bytes(&bytes, "mem").unwrap());
    let mut e = Engine::new(m, EngineConfig::default()).unwrap();
    let forecasts = crate::model::test_support::stream_walking(&mut e, 90);
    assert!(forecasts > 30, "{forecasts} forecasts from 90 frames");
}

/// A usable prior for `k` motifs: 10 % hazard per 0.1 s, uniform transitions.
fn prior(k: usize) -> AnticipationPrior {
    AnticipationPrior::uniform(k, 0.1, 10, 0.66)
}

#[test]
fn a_model_with_an_anticipation_prior_is_format_3_and_round_trips() {
    let (mut art, _) = sample();
    assert_eq!(art.write_version(), 2, "no prior: the version before it");
    assert!(art.anticipation_note().is_some());
    art.payload.anticipation = Some(prior(tiny_config().n_motifs));
    let back = Artifact::from_bytes(&art.to_bytes().unwrap(), "mem").unwrap();
    assert_eq!(back.format_version, FORMAT_VERSION);
    assert_eq!(back.payload.anticipation, art.payload.anticipation);
    assert_eq!(back.anticipation_note(), None);
    let stream = StreamModel::from_artifact(&back, "mem").unwrap();
    assert!(stream.anticipation().is_some() && stream.anticipation_note().is_none());
}

#[test]
fn a_missing_or_malformed_anticipation_prior_is_refused_naming_the_field() {
    let (art, _) = sample();
    let k = tiny_config().n_motifs;
    let mut bad_hazard = prior(k);
    bad_hazard.hazard[3] = 1.5;
    let mut bad_rows = prior(k);
    bad_rows.transition[1] = 0.9;
    let mut short = prior(k);
    short.median_duration_s.pop();
    for (p, field) in [
        (None, "anticipation"),
        (Some(bad_hazard), "hazard"),
        (Some(bad_rows), "transition"),
        (Some(short), "median_duration_s"),
        (Some(prior(k + 1)), "k"),
    ] {
        let mut bad = art.clone();
        bad.payload.anticipation = p;
        let bytes = written_as(&bad, FORMAT_VERSION);
        match Artifact::from_bytes(&bytes, "mem") {
            Err(e @ ArtifactError::Anticipation { .. }) => {
                assert!(
                    e.to_string().contains(&format!("anticipation.{field}")) || field == "anticipation",
                    "{e}"
                );
                assert!(e.to_string().contains(field), "{e}");
            }
            other => panic!("{field}: expected an anticipation error, got {other:?}"),
        }
        assert!(
            matches!(
                StreamModel::from_bytes(&bytes, "mem"),
                Err(StreamLoadError::Artifact(ArtifactError::Anticipation { .. }))
            ),
            "{field}"
        );
    }
}

#[test]
fn a_model_from_before_the_prior_loads_and_says_so() {
    let (art, _) = sample();
    for version in [1, 2] {
        let old = Artifact::from_bytes(&written_as(&art, version), "old").unwrap();
        assert_eq!(old.payload.anticipation, None);
        assert!(
            old.anticipation_note().is_some_and(|n| n.contains("it stays")),
            "{version}"
        );
        let stream = StreamModel::from_bytes(&written_as(&art, version), "old").unwrap();
        assert!(stream.anticipation_note().is_some());
    }
}

#[test]
fn an_interpolation_calibration_round_trips_and_a_malformed_one_is_refused_naming_the_field() {
    use crate::model::interp::{GapFit, InterpCalibration};
    let (mut art, _) = sample();
    let fit = |gap_frames, tangent_scale| GapFit {
        gap_frames,
        tangent_scale,
        head_scale: 0.25,
        windows: 7,
    };
    art.payload.interpolation = Some(InterpCalibration {
        gaps: vec![fit(6, 1.0), fit(29, 0.5)],
    });
    let back = Artifact::from_bytes(&art.to_bytes().unwrap(), "mem").unwrap();
    assert_eq!(back.payload.interpolation, art.payload.interpolation);
    for gaps in [
        vec![],
        vec![fit(6, f32::NAN)],
        vec![fit(6, 1.5)],
        vec![fit(9, 1.0), fit(6, 1.0)],
    ] {
        let mut bad = art.clone();
        bad.payload.interpolation = Some(InterpCalibration { gaps: gaps.clone() });
        match Artifact::from_bytes(&written_as(&bad, bad.write_version()), "mem") {
            Err(e @ ArtifactError::Interpolation { .. }) => assert!(e.to_string().contains("`interpolation`"), "{e}"),
            other => panic!("{gaps:?}: expected an interpolation error, got {other:?}"),
        }
        assert!(bad.to_bytes().unwrap_err().to_string().contains("interpolation"));
    }
}
