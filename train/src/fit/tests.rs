//! Training tests on a small real-motion fixture (the first 20 s of a bundled take).

use std::path::PathBuf;

use a4mer_burn_model::params::named_tensors;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::model::A4merConfig;
use a4mer_runtime::model::segment::SegmenterConfig;

use super::*;
use a4mer_motion::{ImportOptions, import_bvh};

fn fixture() -> Vec<Vec<PoseFrame>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mocap/bvhtools_test2.bvh");
    let m = import_bvh(&p, &ImportOptions::default()).expect("bundled mocap imports");
    vec![m.frames[..600].to_vec()]
}

fn tiny(seed: u64, pretrain_epochs: usize, finetune_epochs: usize) -> TrainConfig {
    TrainConfig {
        model: A4merConfig {
            d_model: 16,
            n_heads: 2,
            d_ff: 32,
            atom_layers: 1,
            motif_layers: 1,
            segmenter: SegmenterConfig {
                l_min: 3,
                l_max: 8,
                tau: 1.0,
            },
            n_atoms: 8,
            horizon: 6,
            obs_frames: 20,
            n_motifs: 4,
            motif_span: 2,
            motif_lookahead_frames: 4,
            head_hidden: 32,
        },
        seed,
        pretrain_epochs,
        finetune_epochs,
        batch: 8,
        pretrain_stride: 2,
        finetune_stride: 2,
        pretrain_lr: 3e-3,
        finetune_lr: 3e-3,
        ema_momentum: 0.9,
        tau_quantile: 0.8,
        val_fraction: 0.1,
        joint_dropout: 0.05,
        augment: false,
        augment_rig: false,
        decode_edges: DecodeEdges {
            speed_mps: vec![0.2, 0.6],
            roughness: vec![0.5],
        },
        finetune_encoders_lr_scale: 0.0,
        finetune_encoders_epochs: 0,
    }
}

/// Augmenting the rig changes each variant's proportions, and leaving it off keeps the
/// random stream, so a recipe without it reproduces its model.
#[test]
fn rig_augmentation_changes_proportions_and_leaves_the_default_stream_alone() {
    let take = &fixture()[0][..200];
    let bone = |f: &PoseFrame, j: usize| {
        let p = a4mer_runtime::skeleton::SMPL24_PARENTS[j].unwrap();
        let (a, b) = (f.joints_in_world[j], f.joints_in_world[p]);
        (0..3).map(|c| (a[c] - b[c]).powi(2)).sum::<f32>().sqrt()
    };
    // Left knee to ankle against left hip to knee, over the frames that see all three: a
    // ratio body scale, speed and yaw keep, and camera jitter only blurs.
    let ratio = |v: &[PoseFrame]| {
        let r: Vec<f32> = v
            .iter()
            .filter(|f| f.valid[1] && f.valid[4] && f.valid[7])
            .map(|f| bone(f, 7) / bone(f, 4))
            .collect();
        // A variant whose rig lacks the legs has no ratio.
        (!r.is_empty()).then(|| r.iter().sum::<f32>() / r.len() as f32)
    };
    let plain = dataset::augment(take, false, &mut rng_for(5, 0, 0));
    let again = dataset::augment(take, false, &mut rng_for(5, 0, 0));
    let rig = dataset::augment(take, true, &mut rng_for(5, 0, 0));
    assert_eq!(plain, again, "deterministic for a seed");
    assert_eq!(plain.len(), rig.len());
    let (r0, k) = (ratio(&plain[0]).unwrap(), dataset::RANDOM_VARIANTS + 1);
    for r in plain.iter().take(k).filter_map(|v| ratio(v)) {
        assert!(
            (r / r0 - 1.0).abs() < 0.01,
            "without rig the proportions stay: {r} vs {r0}"
        );
    }
    let ratios: Vec<f32> = rig.iter().take(k).skip(1).filter_map(|v| ratio(v)).collect();
    let changed = ratios.iter().filter(|r| (**r / r0 - 1.0).abs() > 0.03).count();
    assert!(
        !ratios.is_empty() && changed * 3 >= ratios.len() * 2,
        "{ratios:?} against {r0}"
    );
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

#[test]
fn a_tiny_training_run_reduces_its_loss() {
    let data = fixture();
    let (model, rep) = train(&data, &tiny(3, 8, 4), None, &mut |_| {}).unwrap();
    let s = &rep.pretrain_step_loss;
    assert!(s.len() >= 200, "only {} pre-training steps", s.len());
    assert!(s.iter().all(|v| v.is_finite()));
    let (first, last) = (mean(&s[..20]), mean(&s[s.len() - 20..]));
    assert!(last < 0.7 * first, "pre-training loss went from {first} to {last}");
    let f = &rep.finetune_epoch_loss;
    assert!(f[f.len() - 1] < f[0], "fine-tuning loss {f:?}");
    // The trained model forecasts, and better than holding the last pose on its own fixture.
    let frames = &data[0][100..120];
    let fc = model.forecast(frames).unwrap();
    assert_eq!(fc.steps.len(), 6);
    assert!(rep.val_mpjpe_mm.iter().all(|v| v.is_finite()));
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let data = fixture();
    let cfg = tiny(5, 1, 1);
    let (a, ra) = train(&data, &cfg, None, &mut |_| {}).unwrap();
    let (b, rb) = train(&data, &cfg, None, &mut |_| {}).unwrap();
    assert_eq!(ra.pretrain_step_loss, rb.pretrain_step_loss);
    assert_eq!(named_tensors(&a.net), named_tensors(&b.net));
    assert_eq!(a.vocab, b.vocab);
    let (c, _) = train(&data, &tiny(6, 1, 1), None, &mut |_| {}).unwrap();
    assert_ne!(named_tensors(&a.net), named_tensors(&c.net));
}

#[test]
fn resume_from_a_checkpoint_continues_the_same_run() {
    let data = fixture();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("run.ckpt");
    let full = tiny(9, 2, 1);
    let (a, _) = train(&data, &full, None, &mut |_| {}).unwrap();
    // Interrupt after the first pre-training epoch by running a config that stops there,
    // then resume the full run from its checkpoint.
    let mut count = 0usize;
    let stop = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train(&data, &full, Some(&ck), &mut |p| {
            if p.stage == "pretrain" && p.epoch == 2 {
                count += 1;
                panic!("simulated interruption");
            }
        })
    }));
    assert!(stop.is_err() && count == 1);
    let (b, _) = train(&data, &full, Some(&ck), &mut |_| {}).unwrap();
    assert_eq!(named_tensors(&a.net), named_tensors(&b.net));
}

#[test]
fn the_calibrated_decode_fits_its_training_windows_at_least_as_well_as_the_plain_prior() {
    let data = fixture();
    let cfg = tiny(4, 1, 2);
    let (model, rep) = train(&data, &cfg, None, &mut |_| {}).unwrap();
    let decode = model.norm.decode.as_ref().expect("training fits the decode");
    assert_eq!(decode.check(cfg.model.horizon), Ok(()));
    assert_eq!(rep.decode_windows_per_regime.len(), decode.regimes());
    assert!(decode.regimes() > 1, "{decode:?}");
    let mut plain = model.clone();
    plain.norm.decode = None;
    // Squared error over the training part's windows, as the fit measured it.
    let frames = &data[0][..540];
    let (obs, h) = (cfg.model.obs_frames, cfg.model.horizon);
    let sq = |m: &a4mer_burn_model::Model| -> f64 {
        let mut sum = 0.0f64;
        for origin in (obs..frames.len() - h - 1).step_by(2) {
            let f = m.forecast(&frames[origin + 1 - obs..=origin]).unwrap();
            for (s, step) in f.steps.iter().enumerate() {
                let truth = &frames[origin + 1 + s];
                for j in 0..a4mer_runtime::NUM_JOINTS {
                    if truth.valid[j] {
                        let (a, b) = (step.joints_in_world[j], truth.joints_in_world[j]);
                        sum += (0..3).map(|c| ((a[c] - b[c]) as f64).powi(2)).sum::<f64>();
                    }
                }
            }
        }
        sum
    };
    let (calibrated, uncalibrated) = (sq(&model), sq(&plain));
    assert!(
        calibrated <= uncalibrated * 1.01,
        "calibrated {calibrated} against the plain prior's {uncalibrated}"
    );
    // A spread factor exists for every regime and step, and scales the spread.
    assert!(decode.spread_gain.iter().all(|g| *g > 0.0 && g.is_finite()));
}

#[test]
fn the_decode_also_fits_each_training_recording_slowed_down() {
    let data = fixture();
    let slowed = dataset::slowed_for_decode(&data[0]);
    let speeds = dataset::DECODE_SLOW_SPEEDS;
    assert_eq!(slowed.len(), 2 * speeds.len(), "as recorded and mirrored");
    for (k, s) in speeds.iter().enumerate() {
        let n = a4mer_motion::perturb::change_speed(&data[0], *s).len();
        assert!(n > 3 * data[0].len(), "{s}x is slower than a third of the speed");
        assert_eq!((slowed[k].len(), slowed[k + speeds.len()].len()), (n, n));
    }
    assert!(
        slowed == dataset::slowed_for_decode(&data[0]),
        "the same for every call: no random draw"
    );

    // The fit counts the heads' windows and, when augmenting, the slowed recordings' too.
    let cfg = tiny(4, 1, 1);
    let (mut model, rep) = train(&data, &cfg, None, &mut |_| {}).unwrap();
    let (obs, h) = (cfg.model.obs_frames, cfg.model.horizon + 1);
    let heads =
        |c: &TrainConfig| window_refs(&training_clips(&data, c).unwrap().clips, obs, h, c.finetune_stride).len() as u64;
    assert_eq!(rep.decode_windows_per_regime.iter().sum::<u64>(), heads(&cfg));
    let augmenting = TrainConfig { augment: true, ..cfg };
    let recs = training_clips(&data, &augmenting).unwrap().train_recs;
    let slowed_clips: Vec<Clip> = recs
        .iter()
        .flat_map(|r| dataset::slowed_for_decode(r))
        .map(|v| Clip::new(v).unwrap())
        .collect();
    let slowed_windows = window_refs(&slowed_clips, obs, h, augmenting.finetune_stride).len() as u64;
    assert!(slowed_windows > 0);
    let fitted = refit_decode(&mut model, &data, &augmenting).unwrap();
    assert_eq!(fitted.iter().sum::<u64>(), heads(&augmenting) + slowed_windows);
}

#[test]
fn end_to_end_fine_tuning_moves_only_what_it_keeps_and_is_deterministic() {
    let data = fixture();
    let frozen_cfg = tiny(7, 1, 2);
    let (frozen, _) = train(&data, &frozen_cfg, None, &mut |_| {}).unwrap();
    let mut cfg = frozen_cfg.clone();
    cfg.finetune_encoders_lr_scale = 0.3;
    cfg.finetune_encoders_epochs = 2;
    let mut stages = Vec::new();
    let (a, ra) = train(&data, &cfg, None, &mut |p| {
        if stages.last() != Some(&p.stage) {
            stages.push(p.stage);
        }
    })
    .unwrap();
    assert_eq!(ra.encoder_finetune_val_mpjpe_mm.len(), 2);
    assert!(ra.encoder_finetune_val_mpjpe_mm.iter().all(|v| v.is_finite()));
    let enc = |m: &a4mer_burn_model::Model| {
        named_tensors(&m.net)
            .into_iter()
            .filter(|(k, _)| k.starts_with("atom.") || k.starts_with("motif."))
            .collect::<Vec<_>>()
    };
    assert!(!enc(&frozen).is_empty());
    if ra.encoder_finetune_best_epoch > 0 {
        // An end-to-end epoch was kept: the encoders moved and the next-motif head was
        // refitted on the rebuilt codes.
        assert_ne!(enc(&a), enc(&frozen));
        assert_eq!(stages.last(), Some(&"next-motif"));
    } else {
        assert_eq!(enc(&a), enc(&frozen));
        assert_eq!(named_tensors(&a.net), named_tensors(&frozen.net));
    }
    let (b, rb) = train(&data, &cfg, None, &mut |_| {}).unwrap();
    assert_eq!(ra.encoder_finetune_val_mpjpe_mm, rb.encoder_finetune_val_mpjpe_mm);
    assert_eq!(named_tensors(&a.net), named_tensors(&b.net));
    assert_eq!(a.vocab, b.vocab);
    assert_eq!(a.norm, b.norm);
}

#[test]
fn end_to_end_fine_tuning_refuses_to_resume() {
    let data = fixture();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("run.ckpt");
    let mut cfg = tiny(8, 1, 1);
    train(&data, &cfg, Some(&ck), &mut |_| {}).unwrap();
    assert!(ck.exists());
    cfg.finetune_encoders_lr_scale = 0.2;
    cfg.finetune_encoders_epochs = 1;
    let Err(err) = train(&data, &cfg, Some(&ck), &mut |_| {}) else {
        panic!("resuming an end-to-end run was not refused");
    };
    assert!(err.to_string().contains("resuming is not supported"), "{err}");
}

#[test]
fn a_run_on_a_foundation_keeps_its_encoders_and_normalisation_and_trains_the_heads() {
    let data = fixture();
    let (base, _) = train(&data, &tiny(9, 2, 1), None, &mut |_| {}).unwrap();
    // The user's data: another part of the take, which the foundation's normalisation was
    // not fitted on.
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mocap/bvhtools_test2.bvh");
    let theirs = vec![import_bvh(&p, &ImportOptions::default()).unwrap().frames[1200..1800].to_vec()];
    let cfg = tiny(10, 0, 2);
    let split = |m: &a4mer_burn_model::Model| {
        named_tensors(&m.net)
            .into_iter()
            .partition::<Vec<_>, _>(|(k, _)| ["forecast.", "next_motif.", "interp."].iter().any(|h| k.starts_with(h)))
    };
    let on = |random_encoders| {
        let f = Foundation {
            model: &base,
            random_encoders,
        };
        train_from(&theirs, &cfg, Some(&f), None, &mut |_| {}).unwrap().0
    };
    let (base_heads, base_encoders) = split(&base);
    let transferred = on(false);
    let (heads, encoders) = split(&transferred);
    assert_eq!(encoders, base_encoders, "the encoders are the foundation's, untouched");
    assert_ne!(heads, base_heads, "the heads were trained on this data");
    assert_eq!(transferred.config.segmenter.tau, base.config.segmenter.tau);
    let mut norm = transferred.norm.clone();
    assert!(norm.decode.is_some(), "the decode is fitted on this data");
    norm.decode = base.norm.decode.clone();
    assert_eq!(norm, base.norm, "the normalisation is the foundation's");

    // The ablation's baseline: the same normalisation, the encoders a run without
    // pre-training starts from.
    let random = on(true);
    let (_, random_encoders) = split(&random);
    let (_, fresh_encoders) = split(&train(&theirs, &cfg, None, &mut |_| {}).unwrap().0);
    assert_eq!(random_encoders, fresh_encoders);
    assert_ne!(random_encoders, base_encoders);
    let mut norm = random.norm.clone();
    norm.decode = base.norm.decode.clone();
    assert_eq!(norm, base.norm);

    // Pre-training on top of a foundation, or another network, is refused.
    let f = Foundation {
        model: &base,
        random_encoders: false,
    };
    let Err(err) = train_from(&theirs, &tiny(10, 1, 1), Some(&f), None, &mut |_| {}) else {
        panic!("pre-training on a foundation was not refused");
    };
    assert!(err.to_string().contains("does not pre-train"), "{err}");
    let mut wider = tiny(10, 0, 1);
    wider.model.d_model = 32;
    wider.model.head_hidden = 64;
    let Err(err) = train_from(&theirs, &wider, Some(&f), None, &mut |_| {}) else {
        panic!("a foundation of another network was not refused");
    };
    assert!(err.to_string().contains("not the one this run trains"), "{err}");
}
