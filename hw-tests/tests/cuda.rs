//! CUDA through libtorch (burn-tch), and its host twin on CPU libtorch: the shipped model
//! against burn-ndarray on the bundled mocap. The parity tests need `--features tch`
//! (`scripts/ci-tch.sh` runs them with a pip-installed libtorch; on a Jetson, JetPack's
//! PyTorch: README, "On the device"). Whether CUDA must run is decided from the machine's
//! GPU device nodes (`a4mer_hw_tests::cuda_expected`), not from libtorch: with a GPU a
//! refusal fails the test; without one the test is listed as skipped, with the reason.
//!
//! "Within 1e-4 relative" means, for each output array `x` (ndarray, the reference) and `y`
//! (tch) of one window: `max_i |x_i - y_i| / max_i |x_i| <= 1e-4` (an L-infinity norm
//! ratio). The forecast is compared as the displacement of each valid joint from its last
//! observed position, which is what the network predicts: world coordinates would add the
//! person's position (metres) to both sides and hide errors in the prediction itself.

#[path = "../../test-support/compare.rs"]
mod compare;

/// A build without libtorch has no CUDA path: it says so by name.
#[cfg(not(feature = "tch"))]
#[test]
fn cuda_needs_a_libtorch_build() {
    use a4mer_burn_model::device::{Backend, BackendError, backend_device};
    let e = backend_device(Backend::TchCuda).unwrap_err();
    assert_eq!(e, BackendError::NotBuilt(Backend::TchCuda));
    assert!(e.to_string().contains("--features tch"), "{e}");
    a4mer_hw_tests::skip("cuda parity", &e.to_string());
}

#[cfg(feature = "tch")]
mod libtorch {
    use a4mer_burn_model::Model;
    use a4mer_burn_model::device::{Backend, BackendError, backend_device};
    use a4mer_burn_model::load_model;
    use a4mer_hw_tests::{bundled_mocap, cuda_expected, repo_root, skip};
    use a4mer_motion::bvh::{ImportOptions, import_bvh};
    use a4mer_runtime::PoseFrame;
    use a4mer_runtime::model::Forecast;

    const REL_TOL: f64 = 1e-4;
    /// Frames of history per window: the 2 s of the evaluation protocol.
    const WINDOW: usize = 60;

    use super::compare;

    /// `max |x - y| / max |x|` over paired values (0 when both are all zero); fails on a
    /// length mismatch or a non-finite value, naming `what`.
    fn rel_linf(what: &str, x: &[f64], y: &[f64]) -> f64 {
        compare::diff(what, y.iter().copied(), x.iter().copied()).rel
    }

    fn displacements(f: &Forecast, last: &PoseFrame) -> Vec<f64> {
        let mut v = Vec::new();
        for s in &f.steps {
            for j in (0..a4mer_runtime::NUM_JOINTS).filter(|&j| f.valid[j]) {
                for c in 0..3 {
                    v.push(s.joints_in_world[j][c] as f64 - last.joints_in_world[j][c] as f64);
                }
            }
        }
        v
    }

    fn model_on(device: &burn::tensor::Device) -> Model {
        let path = repo_root().join("models/a4mer-small.a4m");
        load_model(&path, device).unwrap().0
    }

    /// Worst ratios over all windows, per output.
    #[derive(Debug, Default)]
    struct Worst {
        windows: usize,
        displacement: f64,
        spread: f64,
        motif_next: f64,
        motif_now_conf: f64,
    }

    /// Forecast `WINDOW`-frame windows spread over both recordings with both models.
    fn compare_forecasts(reference: &Model, other: &Model) -> Worst {
        let mut w = Worst::default();
        for path in bundled_mocap() {
            let frames = import_bvh(&path, &ImportOptions::default()).unwrap().frames;
            // Six windows per recording, from the start to the end.
            let last_start = frames.len() - WINDOW;
            for k in 0..6 {
                let start = k * last_start / 5;
                let window = &frames[start..start + WINDOW];
                let a = reference.forecast(window).unwrap();
                let b = other.forecast(window).unwrap();
                let where_ = format!("{} frames {start}..{}", path.display(), start + WINDOW);
                assert_eq!(a.steps.len(), b.steps.len(), "{where_}");
                assert_eq!(a.valid, b.valid, "{where_}");
                let last = &window[WINDOW - 1];
                let disp = rel_linf(
                    &format!("{where_}: displacement"),
                    &displacements(&a, last),
                    &displacements(&b, last),
                );
                w.displacement = w.displacement.max(disp);
                let spread = |f: &Forecast| f.steps.iter().map(|s| s.spread_m as f64).collect::<Vec<_>>();
                w.spread = w
                    .spread
                    .max(rel_linf(&format!("{where_}: spread_m"), &spread(&a), &spread(&b)));
                let next = |f: &Forecast| f.motif_next.iter().map(|&p| p as f64).collect::<Vec<_>>();
                w.motif_next = w
                    .motif_next
                    .max(rel_linf(&format!("{where_}: motif_next"), &next(&a), &next(&b)));
                match (a.motif_now, b.motif_now) {
                    (Some((ma, ca)), Some((mb, cb))) => {
                        assert_eq!(ma, mb, "{where_}: current motif");
                        let conf = rel_linf(&format!("{where_}: motif_now confidence"), &[ca as f64], &[cb as f64]);
                        w.motif_now_conf = w.motif_now_conf.max(conf);
                    }
                    (None, None) => {}
                    (x, y) => panic!("{where_}: current motif {x:?} vs {y:?}"),
                }
                w.windows += 1;
            }
        }
        w
    }

    fn assert_forecast_parity(name: &str, w: &Worst) {
        println!("{name} vs ndarray over {} windows (max L-inf ratio): {w:?}", w.windows);
        assert_eq!(w.windows, 12);
        for (what, v) in [
            ("displacement", w.displacement),
            ("spread_m", w.spread),
            ("motif_next", w.motif_next),
            ("motif_now confidence", w.motif_now_conf),
        ] {
            assert!(
                v <= REL_TOL,
                "{name}: {what} differs from ndarray by {v:e} relative (> {REL_TOL:e})"
            );
        }
    }

    #[test]
    fn libtorch_cpu_forecasts_match_ndarray_on_mocap() {
        let reference = model_on(&backend_device(Backend::Ndarray).unwrap());
        let tch = model_on(&backend_device(Backend::TchCpu).unwrap());
        assert_forecast_parity("tch-cpu", &compare_forecasts(&reference, &tch));
    }

    #[test]
    fn libtorch_cpu_motifs_match_ndarray_on_a_whole_recording() {
        let reference = model_on(&backend_device(Backend::Ndarray).unwrap());
        let tch = model_on(&backend_device(Backend::TchCpu).unwrap());
        let path = &bundled_mocap()[1];
        let frames = import_bvh(path, &ImportOptions::default()).unwrap().frames;
        let a = reference.motifs(&frames).unwrap();
        let b = tch.motifs(&frames).unwrap();
        assert!(a.len() > 10, "{} atoms", a.len());
        assert_eq!(a.len(), b.len(), "atom count");
        let mut worst_conf = 0.0f64;
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (x.start_frame, x.end_frame, x.motif),
                (y.start_frame, y.end_frame, y.motif)
            );
            let what = format!("motif confidence, frames {}..{}", x.start_frame, x.end_frame);
            worst_conf = worst_conf.max(rel_linf(&what, &[x.confidence as f64], &[y.confidence as f64]));
        }
        println!(
            "tch-cpu vs ndarray motifs on {}: {} atoms, identical spans and ids; confidence max ratio {worst_conf:e}",
            path.display(),
            a.len()
        );
        assert!(
            worst_conf <= REL_TOL,
            "motif confidence differs by {worst_conf:e} relative"
        );
    }

    /// With a GPU (found without libtorch), the parity test on CUDA, and a refusal fails;
    /// without one (CI), the refusal must name the reason and the test is listed as skipped.
    #[test]
    fn libtorch_cuda_matches_ndarray_or_skips_with_a_reason() {
        let gpu = cuda_expected().unwrap_or_else(|e| panic!("{e}"));
        let device = match backend_device(Backend::TchCuda) {
            Err(e @ BackendError::NoCuda(_)) if !gpu => {
                let msg = e.to_string();
                assert!(msg.contains("tch-cuda") && msg.contains("CUDA"), "{msg}");
                return skip("tch-cuda parity", &msg);
            }
            Err(e) => panic!("tch-cuda: {e} (this machine has a GPU: {gpu})"),
            Ok(_) if !gpu => panic!(
                "tch-cuda: libtorch found a CUDA device where no GPU device node is; \
                 set A4MER_EXPECT_CUDA=1 if this machine has one"
            ),
            Ok(d) => d,
        };
        let reference = model_on(&backend_device(Backend::Ndarray).unwrap());
        let cuda = model_on(&device);
        assert_forecast_parity("tch-cuda", &compare_forecasts(&reference, &cuda));
    }
}
