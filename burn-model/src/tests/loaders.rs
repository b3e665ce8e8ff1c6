//! The burn modules against the engine's loader and kernels: the same tensor names, the
//! same refusals, the same bits.

use a4mer_runtime::artifact::{Artifact, ArtifactError, Provenance, TensorValues};
use a4mer_runtime::model::native::NativeNet;
use a4mer_runtime::model::tensors::{FillError, NamedTensor, TensorMap};
use a4mer_runtime::model::{A4merConfig, test_support};
use a4mer_runtime::stream::{StreamLoadError, StreamModel};

use super::{synthetic_frames, tiny_config};
use crate::device::inference_device;
use crate::{A4mer, BurnArtifact, fresh_model, load_model, params};

fn sample() -> (Artifact, Vec<u8>) {
    let model = fresh_model(tiny_config(), 11, &inference_device());
    let prov = Provenance {
        created_by: "test".into(),
        seed: 11,
        damping_tau_s: Some(0.6),
        ..Default::default()
    };
    let art = Artifact::from_model(&model, prov);
    let bytes = art.to_bytes().unwrap();
    (art, bytes)
}

#[test]
fn every_engine_layer_is_named_like_its_tensors() {
    let cfg = tiny_config();
    let m = fresh_model(cfg.clone(), 1, &inference_device());
    let tensors = params::named_tensors(&m.net);
    let net = NativeNet::from_tensors(&tensors, &m.config).unwrap();
    for d in net.layers() {
        let w = tensors
            .get(&format!("{}.weight", d.name))
            .unwrap_or_else(|| panic!("no tensor {}.weight", d.name));
        assert_eq!(w.shape, vec![d.n_in, d.n_out], "{}", d.name);
    }
    let blocks = cfg.atom_layers + cfg.motif_layers;
    assert_eq!(net.layers().len(), 2 + 4 * blocks + 5 + 2);
}

#[test]
fn the_config_lists_exactly_the_burn_modules_tensors() {
    let device = inference_device();
    for cfg in [tiny_config(), A4merConfig::small()] {
        let net = A4mer::new(&cfg, &device);
        let mut burn = params::param_shapes(&net);
        let mut listed = cfg.tensor_shapes();
        burn.sort();
        listed.sort();
        assert_eq!(listed, burn);
        let count: usize = listed.iter().map(|(_, s)| s.iter().product::<usize>()).sum();
        assert_eq!(Some(count), cfg.param_count());
    }
}

#[test]
fn the_engine_refuses_what_the_burn_loader_refuses_with_the_same_error() {
    let device = inference_device();
    let cfg = tiny_config();
    let m = fresh_model(cfg.clone(), 7, &device);
    let mut tensors = params::named_tensors(&m.net);
    let burn_fill = |t: &TensorMap| params::fill(A4mer::new(&cfg, &device), t, &device).err();
    let extra = NamedTensor {
        shape: vec![1],
        values: vec![0.0],
    };
    tensors.insert("extra".into(), extra);
    let e = NativeNet::from_tensors(&tensors, &cfg).err();
    assert_eq!(e, Some(FillError::Unexpected("extra".into())));
    assert_eq!(e, burn_fill(&tensors));
    tensors.remove("extra");
    let interp = tensors.remove("interp.l2.bias");
    let e = NativeNet::from_tensors(&tensors, &cfg).err();
    assert_eq!(e, Some(FillError::Missing("interp.l2.bias".into())));
    assert_eq!(e, burn_fill(&tensors));
    if let Some(mut t) = interp {
        t.shape = vec![t.values.len(), 1];
        tensors.insert("interp.l2.bias".into(), t);
    }
    let e = NativeNet::from_tensors(&tensors, &cfg).err();
    assert!(matches!(e, Some(FillError::Shape { .. })), "{e:?}");
    assert_eq!(e, burn_fill(&tensors));
}

#[test]
fn an_artifact_round_trips_into_the_same_modules() {
    let (art, bytes) = sample();
    let back = Artifact::from_bytes(&bytes, "mem").unwrap();
    assert_eq!(back, art);
    let device = inference_device();
    let model = back.into_model(&device, "mem").unwrap();
    let original = fresh_model(tiny_config(), 11, &device);
    let (a, b) = (params::named_tensors(&original.net), params::named_tensors(&model.net));
    for (k, v) in &a {
        let bits = |x: &NamedTensor| x.values.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(v), bits(&b[k]), "{k}");
    }
    let frames = synthetic_frames(20, 0.3);
    assert_eq!(original.forecast(&frames).unwrap(), model.forecast(&frames).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.a4m");
    art.save(&p).unwrap();
    let (m, prov) = load_model(&p, &device).unwrap();
    assert_eq!(prov.seed, 11);
    assert_eq!(m.config, tiny_config());
    assert!(matches!(
        load_model(&dir.path().join("nope.a4m"), &device),
        Err(ArtifactError::Io { .. })
    ));
}

/// Each artifact the engine's loader refuses, `into_model` refuses for the same reason: a
/// missing tensor, a wrong shape, a layer the config asks for and the file lacks. (Which
/// tensor of a missing layer each names first may differ: they visit the layer in their
/// own order.)
#[test]
fn both_loaders_refuse_the_same_artifacts_alike() {
    let cause = |e: ArtifactError| match e {
        ArtifactError::Tensors { cause, .. } => cause,
        other => panic!("expected a tensor error, got {other:?}"),
    };
    let engine = |art: &Artifact| match StreamModel::from_artifact(art, "mem") {
        Err(StreamLoadError::Artifact(e)) => cause(e),
        other => panic!("the engine's loader: expected an artifact error, got {other:?}"),
    };
    let burn = |art: Artifact| match art.into_model(&inference_device(), "mem") {
        Err(e) => cause(e),
        Ok(_) => panic!("into_model accepted what the engine's loader refused"),
    };
    let (mut art, _) = sample();
    art.payload.tensors.remove("motif.mask_token");
    let missing = FillError::Missing("motif.mask_token".into());
    assert_eq!(engine(&art), missing);
    assert_eq!(burn(art), missing);

    let (mut art, _) = sample();
    art.payload.config.motif_layers += 1;
    for e in [engine(&art), burn(art)] {
        assert!(
            matches!(&e, FillError::Missing(name) if name.starts_with("motif.blocks.2.")),
            "{e:?}"
        );
    }

    let (mut art, _) = sample();
    let rec = art.payload.tensors.get_mut("forecast.l1.bias").unwrap();
    rec.shape = vec![rec.shape[0] - 1];
    let TensorValues::F32 { le_bytes } = &mut rec.values else {
        panic!("fresh models are f32")
    };
    le_bytes.truncate(le_bytes.len() - 4);
    let art = Artifact::from_bytes(&art.to_bytes().unwrap(), "mem").unwrap();
    for e in [engine(&art), burn(art)] {
        assert!(
            matches!(&e, FillError::Shape { name, .. } if name == "forecast.l1.bias"),
            "{e:?}"
        );
    }
}

/// An artifact holding exactly the tensors its config lists fills the burn modules too.
#[test]
fn an_artifact_of_the_configs_tensor_list_fills_the_modules() {
    let art = test_support::artifact_without_burn(tiny_config(), 3);
    art.into_model(&inference_device(), "mem").unwrap();
}
