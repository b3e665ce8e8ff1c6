//! The streaming engine on real mocap: parity with the offline batch model, no allocation
//! per frame, and every kind of bad timing or bad frame counted in `health`.

// The BVH test helpers live with the importer they exercise.
#[path = "../../motion/tests/common/mod.rs"]
mod common;
#[path = "../../test-support/compare.rs"]
mod compare;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use a4mer_burn_model::Model;
use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_runtime::stream::{
    Anticipation, Engine, EngineConfig, GuardConfig, HORIZONS_MS, HealthState, Reject, StreamError, StreamModel,
    Tracks, TracksConfig, horizon_step,
};
use a4mer_runtime::{NUM_JOINTS, PoseFrame, frame_period_ns};

/// Counts allocations made on threads that asked for it (tests run in parallel).
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn model() -> &'static (Model, Arc<StreamModel>) {
    static M: OnceLock<(Model, Arc<StreamModel>)> = OnceLock::new();
    M.get_or_init(|| {
        let path = common::repo_root().join("models/a4mer-small.a4m");
        let (model, _) = load_model(&path, &inference_device()).unwrap();
        let stream = Arc::new(a4mer_burn_model::stream_model(&model).unwrap());
        (model, stream)
    })
}

fn take(i: usize) -> Vec<PoseFrame> {
    import_bvh(&common::bundled_mocap()[i], &ImportOptions::default())
        .unwrap()
        .frames
}

/// `frames[lo..lo+n]` restamped on the model grid from `t0_ns`.
fn clip(frames: &[PoseFrame], lo: usize, n: usize, t0_ns: i64) -> Vec<PoseFrame> {
    frames[lo..lo + n]
        .iter()
        .enumerate()
        .map(|(k, f)| PoseFrame {
            stamp_ns: t0_ns + frame_period_ns(k as u64),
            ..*f
        })
        .collect()
}

fn engine() -> Engine {
    // The batch model knows nothing of the guard: compare the model's own forecast.
    let config = EngineConfig {
        guard: GuardConfig::MODEL_ONLY,
        ..EngineConfig::default()
    };
    Engine::new(Arc::clone(&model().1), config).unwrap()
}

/// Compare one streamed anticipation with the batch model on the same frames. Returns
/// the largest relative difference seen (`max|a-b| / max|b|` per output).
/// `head`: the engine's next-motif head distribution (what it publishes is that mixed
/// with the anticipation prior, or "it stays"; the batch model has only the head).
fn check_against_batch(a: &Anticipation, head: &[f32], window: &[PoseFrame]) -> compare::Diff {
    let (model, _) = model();
    let want = model.forecast_history(window).unwrap();
    let last = window[window.len() - 1];
    assert_eq!(a.stamp_ns, last.stamp_ns);
    assert_eq!(a.forecast.len(), want.steps.len());
    // Displacements from the last frame: comparing world positions would hide errors
    // behind the person's distance from the origin.
    let disp = |steps: &mut dyn Iterator<Item = &a4mer_runtime::Joints>| -> Vec<f32> {
        steps
            .flat_map(|j| {
                (0..NUM_JOINTS)
                    .filter(|&k| last.valid[k])
                    .flat_map(move |k| (0..3).map(move |c| j[k][c] - last.joints_in_world[k][c]))
            })
            .collect()
    };
    let got_d = disp(&mut a.forecast.iter().map(|s| &s.joints_in_world));
    let want_d = disp(&mut want.steps.iter().map(|s| &s.joints_in_world));
    let at = a.stamp_ns;
    let r_pose = compare::diff(&format!("displacements at {at}"), got_d, want_d);
    let r_spread = compare::diff(
        &format!("spread_m at {at}"),
        a.forecast.iter().map(|s| s.spread_m),
        want.steps.iter().map(|s| s.spread_m),
    );
    // Top-k of the next-motif distribution: same ids (unless tied within 1e-5), same
    // probabilities.
    let mut top: Vec<(usize, f32)> = head.iter().copied().enumerate().collect();
    top.sort_by(|x, y| y.1.total_cmp(&x.1));
    top.truncate(a.motif_next.top.len().max(1));
    let r_next = compare::diff(
        &format!("motif_next at {at}"),
        top.iter().map(|&(_, p)| p),
        top.iter().map(|&(id, _)| want.motif_next[id]),
    );
    let mut sorted: Vec<f32> = want.motif_next.clone();
    sorted.sort_by(|x, y| y.total_cmp(x));
    for (k, &(_, p)) in top.iter().enumerate() {
        assert!((p - sorted[k]).abs() < 1e-5, "top-{k}: {p} vs {}", sorted[k]);
    }
    match (a.motif_now, want.motif_now) {
        (None, None) => {}
        (Some(g), Some((id, conf))) => {
            assert_eq!(g.id as usize, id, "motif_now at {}", a.stamp_ns);
            assert!(
                (g.confidence - conf).abs() <= 1e-4 * conf.max(1e-3),
                "{} vs {conf}",
                g.confidence
            );
        }
        (g, w) => panic!("motif_now {g:?} vs batch {w:?}"),
    }
    r_pose.worse(r_spread).worse(r_next)
}

#[test]
fn streaming_equals_the_batch_model_on_real_mocap() {
    let frames = take(0);
    let other = take(1);
    let mut worst = compare::Diff::default();
    let mut checked = 0;
    let mut closes = 0;
    // Two takes; 420 frames each reach far past the 16-atom motif window, so the key/value
    // rings wrap several times.
    for (src, lo) in [(&frames, 300usize), (&other, 2000)] {
        let clip = clip(src, lo, 420, 1_700_000_000_000_000_000);
        let mut e = engine();
        for (t, f) in clip.iter().enumerate() {
            let a = e.push(f).unwrap();
            assert_eq!(a.model_frames, 1);
            // Every frame early on, then every 7th and the frames around each close.
            let near_close = e.open_len() <= 2;
            if t >= 1 && (t < 40 || t % 7 == 0 || near_close) {
                worst = worst.worse(check_against_batch(&a, e.motif_inputs().3, &clip[..=t]));
                checked += 1;
            }
        }
        closes += e.atoms_closed();
        // The batch segmentation of the whole clip closes the same atoms.
        let prep = model().0.prepare(&clip).unwrap();
        let n_atoms = model().0.config.n_atoms;
        assert_eq!(e.atoms().len(), prep.input.closed.len().min(n_atoms));
        let last = e.atoms().newest().unwrap();
        let r = prep.input.closed.last().unwrap();
        assert_eq!(last.end_ns, clip[r.end].stamp_ns);
        assert_eq!(last.start_ns, clip[r.start].stamp_ns);
    }
    println!("parity: {checked} frames checked, {closes} atoms closed, {worst}");
    assert!(closes > 2 * 16, "{closes} closes");
    assert!(worst.rel <= 1e-4, "streaming vs batch: {worst}");
}

#[test]
fn push_allocates_nothing_once_running() {
    allocates_nothing(engine());
}

/// The int8 engine too (its kernels keep their buffers on the stack).
#[test]
fn int8_push_allocates_nothing_once_running() {
    let path = common::repo_root().join("models/a4mer-small-int8.a4m");
    let (model, _) = load_model(&path, &inference_device()).unwrap();
    let stream = Arc::new(a4mer_burn_model::stream_model(&model).unwrap());
    assert!(stream.is_int8());
    allocates_nothing(Engine::new(stream, EngineConfig::default()).unwrap());
}

fn allocates_nothing(mut e: Engine) {
    let frames = clip(&take(1), 100, 600, 0);
    for f in &frames[..20] {
        e.push_ref(f).unwrap();
    }
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.with(Cell::get);
    let closes_before = e.atoms_closed();
    for f in &frames[20..] {
        e.push_ref(f).unwrap();
    }
    let after = ALLOCS.with(Cell::get);
    COUNTING.with(|c| c.set(false));
    let closes = e.atoms_closed() - closes_before;
    assert!(closes > 20, "the run must include segment-closing frames ({closes})");
    assert_eq!(after - before, 0, "allocations in {} pushes", frames.len() - 20);
}

#[test]
fn bad_timing_and_bad_frames_are_counted_and_never_reach_the_model() {
    let frames = clip(&take(0), 500, 200, 10_000_000_000);
    let mut e = engine();
    for f in &frames[..40] {
        e.push(f).unwrap();
    }
    assert_eq!(e.health().state, HealthState::Ok, "{:?}", e.health());

    // Duplicate and out-of-order stamps are dropped with their reason.
    let dup = e.push(&frames[39]).unwrap_err();
    assert_eq!(
        dup,
        StreamError::Rejected(Reject::Duplicate {
            stamp_ns: frames[39].stamp_ns
        })
    );
    assert!(matches!(
        e.push(&frames[30]),
        Err(StreamError::Rejected(Reject::OutOfOrder { .. }))
    ));
    assert_eq!(e.health().frames_dropped, 2);

    // NaN joints are marked invalid; the frame is used, the forecast covers the rest.
    let mut f = frames[40];
    f.joints_in_world[20] = [f32::NAN, 0.0, f32::INFINITY];
    let a = e.push(&f).unwrap();
    assert!(!a.valid[20] && a.valid[19]);
    assert!(
        a.forecast
            .iter()
            .all(|s| s.joints_in_world.iter().flatten().all(|c| c.is_finite()))
    );
    assert_eq!(a.health.state, HealthState::Degraded, "recent drops degrade the stream");

    // Too few valid joints: rejected, never fed to the model.
    let mut f = frames[41];
    f.valid[1..20].fill(false);
    assert!(matches!(
        e.push(&f),
        Err(StreamError::Rejected(Reject::TooFewValidJoints { .. }))
    ));
    // No pelvis: rejected.
    let mut f = frames[41];
    f.valid[0] = false;
    assert_eq!(e.push(&f).unwrap_err(), StreamError::NoPelvis { stamp_ns: f.stamp_ns });
    assert_eq!(e.health().frames_dropped, 4);
    assert_eq!(e.health().resets, 0);

    // A gap over 200 ms resets: the anticipations say "warming" again.
    let mut t = 42;
    for f in &frames[t..t + 30] {
        e.push(f).unwrap();
    }
    t += 30;
    let mut late = frames[t];
    late.stamp_ns += 300_000_000;
    let a = e.push(&late).unwrap();
    assert_eq!(a.health.resets, 1);
    assert_eq!(a.health.state, HealthState::Warming);
    assert!(e.atoms().is_empty() && a.motif_now.is_none());

    // A 10 km jump is not the same person: reset, with the reason kept.
    let mut jump = frames[t + 1];
    jump.stamp_ns = late.stamp_ns + frame_period_ns(1);
    for p in jump.joints_in_world.iter_mut() {
        p[0] += 10_000.0;
    }
    let a = e.push(&jump).unwrap();
    assert_eq!(a.health.resets, 2);
    assert!(matches!(a.health.last_error, Some(StreamError::Teleport { .. })));
    // Far beyond any work cell: rejected outright.
    let mut far = jump;
    far.stamp_ns += frame_period_ns(1);
    far.joints_in_world[3][2] = 1e9;
    assert!(matches!(e.push(&far), Err(StreamError::OutOfRange { joint: 3, .. })));
}

/// Forecast-horizons still waiting after `n` frames of one timeline: the forecast made at
/// frame `i` waits for frame `i + step` at each reported horizon.
fn pending_after(n: u64) -> u64 {
    HORIZONS_MS.iter().map(|ms| (horizon_step(*ms) as u64).min(n)).sum()
}

#[test]
fn restarts_discard_pending_forecasts_counted_never_scored_across_timelines() {
    let frames = clip(&take(0), 300, 400, 10_000_000_000);
    let mut e = Engine::new(Arc::clone(&model().1), EngineConfig::default()).unwrap();
    for f in &frames[..60] {
        e.push_ref(f).unwrap();
    }
    assert_eq!(e.guard_scores().discarded, 0, "one clean timeline discards nothing");
    let scored = |e: &Engine| -> u64 { e.guard_scores().error_m.iter().map(|h| h[3].count).sum() };

    // A 300 ms gap: a new timeline. What was pending is dropped, counted.
    let mut shift = 300_000_000;
    for f in &frames[60..100] {
        let mut f = *f;
        f.stamp_ns += shift;
        e.push_ref(&f).unwrap();
    }
    let gap_discards = pending_after(60);
    assert_eq!(e.guard_scores().discarded, gap_discards);

    // A teleport (10 km in one frame) restarts the stream too.
    let teleport_at = 100;
    for (k, f) in frames[teleport_at..150].iter().enumerate() {
        let mut f = *f;
        f.stamp_ns += shift;
        for p in f.joints_in_world.iter_mut() {
            p[0] += 10_000.0;
        }
        let a = e.push_ref(&f).unwrap();
        if k == 0 {
            assert!(matches!(a.health.last_error, Some(StreamError::Teleport { .. })));
        }
    }
    assert_eq!(e.guard_scores().discarded, gap_discards + pending_after(40));

    // The producer's clock jumps back 5 s: a new timeline again.
    shift -= 5_000_000_000;
    let before = scored(&e);
    for f in &frames[150..160] {
        let mut f = *f;
        f.stamp_ns += shift;
        for p in f.joints_in_world.iter_mut() {
            p[0] += 10_000.0;
        }
        e.push_ref(&f).unwrap();
    }
    assert_eq!(
        e.guard_scores().discarded,
        gap_discards + 2 * pending_after(40),
        "{:?}",
        e.health()
    );
    // Ten frames into the new timeline only the 100 and 200 ms horizons of its own
    // forecasts can have come due; nothing older was scored against its frames.
    let after = scored(&e);
    assert_eq!(after, before, "warm-up forecasts are not in the run's totals");
    assert!(e.motif_scores().unscored > 0 || e.motif_scores().scored > 0);
}

/// The published forecast never does much worse than the better baseline, whatever the
/// model: the shipped one, and the same one deliberately wrong (its velocity prior turned
/// around and tripled), on a recording its training never read. The wrong one runs
/// unadapted (adapting to the person would partly turn it back, which is the last arm).
#[test]
fn the_guard_keeps_a_wrong_model_from_the_published_forecast() {
    let held_out = take(1);
    let (model, _) = load_model(&common::repo_root().join("models/a4mer-small.a4m"), &inference_device()).unwrap();
    let mut wrong = model.clone();
    for g in wrong
        .norm
        .prior_gain_s
        .iter_mut()
        .chain(wrong.norm.decode.iter_mut().flat_map(|d| d.gain.iter_mut()))
    {
        *g *= -3.0;
    }
    let unadapted = EngineConfig {
        guard: GuardConfig {
            adapt: false,
            ..GuardConfig::default()
        },
        ..EngineConfig::default()
    };
    let mut wrong_model_m = [f64::NAN; HORIZONS_MS.len()];
    for (name, m, config) in [
        ("shipped", &model, EngineConfig::default()),
        ("wrong", &wrong, unadapted),
        ("wrong, adapted", &wrong, EngineConfig::default()),
    ] {
        let mut e = Engine::new(Arc::new(a4mer_burn_model::stream_model(m).unwrap()), config).unwrap();
        for (k, f) in held_out.iter().enumerate() {
            let f = PoseFrame {
                stamp_ns: frame_period_ns(k as u64),
                ..*f
            };
            e.push_ref(&f).unwrap();
        }
        let s = e.guard_scores();
        for (h, ms) in HORIZONS_MS.iter().enumerate() {
            let [model_m, zero, cv, damped, published] = s.error_m[h].map(|e| e.mean().unwrap());
            let best = zero.min(cv).min(damped);
            println!("{name} {ms} ms: model {model_m:.4} published {published:.4} best baseline {best:.4} m");
            assert!(
                published <= 1.05 * best,
                "{name} at {ms} ms: published {published} vs {best}"
            );
            match name {
                "wrong" => {
                    assert!(
                        model_m > 1.05 * best,
                        "the wrong model must lose at {ms} ms: {model_m} vs {best}"
                    );
                    wrong_model_m[h] = model_m;
                }
                "wrong, adapted" => assert!(
                    model_m < wrong_model_m[h],
                    "adapting must bring the wrong model closer at {ms} ms: {model_m} vs {}",
                    wrong_model_m[h]
                ),
                _ => {}
            }
        }
        let coverage = s.coverage();
        for (h, c) in coverage.iter().enumerate() {
            let c = c.unwrap();
            assert!(
                (0.8..=0.97).contains(&c),
                "{name} at {} ms: coverage {c}",
                HORIZONS_MS[h]
            );
        }
    }
}

#[test]
fn producer_rates_from_15_to_120_hz_give_an_anticipation_per_input() {
    let src = take(1);
    for hz in [15u32, 60, 120] {
        let mut e = engine();
        let period_ns = 1_000_000_000 / hz as i64;
        let mut model_frames = 0u32;
        for k in 0..(2 * hz as usize) {
            // The take is 30 Hz: sample it at the producer's instants (nearest frame is
            // enough here; rates are what is under test).
            let t_ns = k as i64 * period_ns;
            let idx = 200 + (t_ns * 30 / 1_000_000_000) as usize;
            let f = PoseFrame {
                stamp_ns: t_ns,
                ..src[idx]
            };
            let a = e.push(&f).unwrap();
            model_frames += a.model_frames as u32;
            assert!(a.forecast.len() == 30);
        }
        assert!(
            (59..=61).contains(&model_frames),
            "{hz} Hz: {model_frames} model frames in 2 s"
        );
    }
}

#[test]
fn tracks_of_engines_stay_bounded() {
    let frames = clip(&take(0), 0, 120, 0);
    let mut tracks = Tracks::new(TracksConfig::default(), engine);
    let mut refused = 0;
    for (k, f) in frames.iter().enumerate() {
        // Ten people in view for 2 s, then only the last four: at most four are followed,
        // people in view keep their streams, and the first four make room once gone 0.5 s.
        let people = if k < 60 { 0..10u64 } else { 6..10u64 };
        for id in people {
            match tracks.get_or_insert(id, f.stamp_ns) {
                Some(engine) => assert!(engine.push(f).is_ok()),
                None => refused += 1,
            }
        }
        assert!(tracks.len() <= 4);
        if k == 59 {
            assert_eq!(tracks.ids().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
            assert_eq!(tracks.drain_evictions().count(), 0, "nobody in view is dropped");
        }
    }
    // 6 refused per frame for 2 s; then 4 per frame until the first four have been gone
    // 0.5 s (frames 60..=73).
    assert_eq!(refused, 60 * 6 + 14 * 4);
    let mut ids: Vec<u64> = tracks.ids().collect();
    ids.sort();
    assert_eq!(ids, vec![6, 7, 8, 9]);
    assert_eq!(tracks.drain_evictions().count(), 4);
}
