//! The engine the node builds from an artifact without burn (`StreamModel::load`: the
//! network filled from the tensors by name) against the one built from the burn modules
//! (`StreamModel::new`, `NativeNet::from_burn`): the same bits in every output of every
//! frame of a real recording, for the shipped f32 and int8 models.

// The BVH test helpers live with the importer they exercise.
#[path = "../../motion/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_runtime::stream::{Engine, EngineConfig, StreamModel};

#[test]
fn the_burn_free_engine_forecasts_the_same_bits_as_the_burn_built_one() {
    let root = common::repo_root();
    let frames = import_bvh(&root.join("data/mocap/bvhtools_test2.bvh"), &ImportOptions::default())
        .unwrap()
        .frames;
    assert!(frames.len() > 200, "{} frames", frames.len());
    for name in ["a4mer-small.a4m", "a4mer-small-int8.a4m"] {
        let path = root.join("models").join(name);
        let (model, _) = load_model(&path, &inference_device()).unwrap();
        let from_burn = Arc::new(a4mer_burn_model::stream_model(&model).unwrap());
        let from_tensors = Arc::new(StreamModel::load(&path).unwrap());
        assert_eq!(from_tensors.is_int8(), name.contains("int8"), "{name}");
        assert_eq!(
            from_burn.net().int8_layers(),
            from_tensors.net().int8_layers(),
            "{name}"
        );
        // The node's settings (guard blending and calibration on): every output is compared.
        let mut a = Engine::new(from_burn, EngineConfig::default()).unwrap();
        let mut b = Engine::new(from_tensors, EngineConfig::default()).unwrap();
        let mut forecasts = 0;
        for (i, f) in frames.iter().enumerate() {
            let (x, y) = (a.push(f), b.push(f));
            if let (Ok(x), Ok(y)) = (&x, &y) {
                assert_eq!(x.forecast.len(), y.forecast.len(), "{name} frame {i}");
                for (s, t) in x.forecast.iter().zip(&y.forecast) {
                    let bits = |st: &a4mer_runtime::stream::ForecastStep| {
                        let mut v: Vec<u32> = st.joints_in_world.iter().flatten().map(|c| c.to_bits()).collect();
                        v.push(st.spread_m.to_bits());
                        v
                    };
                    assert_eq!(bits(s), bits(t), "{name} frame {i}: forecast step {}", s.dt_s);
                }
                forecasts += usize::from(!x.forecast.is_empty());
            }
            // Everything else too (motifs, health, guard, scale): f32 Debug is the shortest
            // text that reads back to the same bits, so equal text is equal bits.
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "{name} frame {i}");
        }
        assert!(forecasts > frames.len() / 2, "{name}: {forecasts} forecasts");
        assert_eq!(
            format!("{:?}", a.guard_scores()),
            format!("{:?}", b.guard_scores()),
            "{name}"
        );
        assert_eq!(
            format!("{:?}", a.motif_scores()),
            format!("{:?}", b.motif_scores()),
            "{name}"
        );
    }
}
