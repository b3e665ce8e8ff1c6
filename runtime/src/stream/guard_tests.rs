use super::*;

const HORIZON: usize = 30;

/// A person swaying: every joint on its own slow sine, so neither baseline is exact.
fn truth(frame: u64) -> PoseFrame {
    let t = frame as f32 / FPS as f32;
    let mut joints = [[0.0f32; 3]; NUM_JOINTS];
    for (j, p) in joints.iter_mut().enumerate() {
        let phase = j as f32 * 0.3;
        *p = [
            0.4 * (1.3 * t + phase).sin(),
            0.3 * (0.9 * t + phase).cos(),
            0.1 * j as f32 + 0.05 * (2.0 * t).sin(),
        ];
    }
    PoseFrame {
        stamp_ns: (frame as i64 * 1_000_000_000) / FPS as i64,
        joints_in_world: joints,
        valid: [true; NUM_JOINTS],
    }
}

/// Deterministic noise in [-1, 1].
fn noise(i: u64) -> f32 {
    let x = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((x >> 33) as f32 / (1u64 << 31) as f32) - 1.0
}

/// Stream frames `from..to` into `g`; the "model" forecasts the truth plus `bias_m` plus
/// noise of `noise_m`, stating `spread_m`.
fn stream(g: &mut Guard, from: u64, to: u64, bias_m: f32, noise_m: f32, spread_m: f32) {
    for t in from..to {
        g.on_frame(&truth(t));
        let mut steps: Vec<ForecastStep> = (1..=HORIZON as u64)
            .map(|k| {
                let f = truth(t + k);
                let joints = std::array::from_fn(|j| {
                    std::array::from_fn(|a| {
                        f.joints_in_world[j][a] + bias_m + noise_m * noise(t * 1000 + k * 97 + (j * 3 + a) as u64)
                    })
                });
                ForecastStep {
                    dt_s: k as f32 / FPS as f32,
                    joints_in_world: joints,
                    spread_m,
                }
            })
            .collect();
        g.publish(&mut steps, true);
    }
}

/// The guard's blend and radius alone: these tests feed deliberately wrong models, which
/// adaptation would partly correct (it has its own tests, and the last one here).
fn unadapted() -> GuardConfig {
    GuardConfig {
        adapt: false,
        ..GuardConfig::default()
    }
}

fn run(config: GuardConfig, frames: u64, bias_m: f32, noise_m: f32, spread_m: f32) -> Guard {
    let mut g = Guard::new(config, HORIZON, DAMPING_TAU_S);
    stream(&mut g, 0, frames, bias_m, noise_m, spread_m);
    g
}

/// Scores of frames `from..to` only: what a run adds after `before`.
fn since(after: &GuardScores, before: &GuardScores) -> GuardScores {
    let mut d = *after;
    for h in 0..NUM_HORIZONS {
        for s in 0..=NUM_SOURCES {
            d.error_m[h][s].total -= before.error_m[h][s].total;
            d.error_m[h][s].count -= before.error_m[h][s].count;
        }
        d.covered[h].total -= before.covered[h].total;
        d.covered[h].count -= before.covered[h].count;
    }
    d
}

fn mean(s: &Sum) -> f64 {
    s.mean().expect("scored")
}

#[test]
fn a_wrong_model_is_outvoted_and_reported_as_losing() {
    // One second of warm-up (what the engine flags as Warming), then what counts.
    let mut g = run(unadapted(), 30, 0.5, 0.0, 0.1);
    let warm = *g.scores();
    stream(&mut g, 30, 600, 0.5, 0.0, 0.1);
    let s = &since(g.scores(), &warm);
    for h in 0..NUM_HORIZONS {
        let [m, z, c, d, published] = s.error_m[h].map(|e| mean(&e));
        let best = z.min(c).min(d);
        assert!(m > 0.45, "h{h}: the model is 0.5 m off: {m}");
        assert!(
            published < 1.05 * best,
            "h{h}: published {published} vs baseline {best}"
        );
        assert!(g.view().weights[h][0] < 0.01, "h{h}: {:?}", g.view().weights[h]);
        assert!(g.view().model_losing[h]);
        assert!(
            !g.view().published_losing[h],
            "h{h}: the blend follows the baselines, so what is published does not lose"
        );
    }
    assert!(g.view().model_losing_within(3));
    assert!(!g.view().published_losing_within(HORIZON));
}

#[test]
fn a_good_model_is_followed() {
    let g = run(unadapted(), 600, 0.0, 0.002, 0.01);
    for h in 0..NUM_HORIZONS {
        assert!(g.view().weights[h][0] > 0.99, "h{h}: {:?}", g.view().weights[h]);
        assert!(!g.view().model_losing[h]);
        let followed = g.scores().followed[h];
        assert!(
            followed[0] > 9 * (followed[1] + followed[2] + followed[3]),
            "h{h}: {followed:?}"
        );
    }
}

#[test]
fn without_blending_the_model_is_published_but_still_scored() {
    let g = run(
        GuardConfig {
            blend: false,
            calibrate: false,
            damped_source: true,
            adapt: false,
        },
        200,
        0.5,
        0.0,
        0.1,
    );
    let s = g.scores();
    let [m, _, _, _, published] = s.error_m[0].map(|e| mean(&e));
    assert!((m - published).abs() < 1e-6, "{m} {published}");
    assert!(g.view().model_losing[0], "the scores still see the model losing");
    // Published as it is, the wrong model is worse than every baseline: that, and only
    // that, is what marks the safety link Degraded.
    assert!(g.view().published_losing[0]);
    assert!(g.view().published_losing_within(3));
}

#[test]
fn the_radius_reaches_nominal_coverage_whatever_the_stated_spread() {
    // Spreads 30x too wide and 6x too narrow for 3 cm of noise, as on unseen people.
    for spread_m in [1.0f32, 0.005] {
        let mut g = run(unadapted(), 900, 0.0, 0.03, spread_m);
        let warm = *g.scores();
        stream(&mut g, 900, 2700, 0.0, 0.03, spread_m);
        let late = since(g.scores(), &warm).coverage();
        for (h, c) in late.iter().enumerate() {
            let c = c.expect("scored");
            assert!((0.85..=0.95).contains(&c), "spread {spread_m}, h{h}: coverage {c}");
        }
    }
}

#[test]
fn a_restart_discards_what_is_pending_and_counts_it() {
    let mut g = run(unadapted(), 10, 0.0, 0.0, 0.1);
    let scored_before: u64 = g.scores().covered.iter().map(|c| c.count).sum();
    g.restart();
    // 10 forecasts pending: 100 ms scored for frames 0..=6, the rest discarded.
    let expected: u64 = (0..10u64)
        .map(|t| {
            HORIZONS_MS
                .iter()
                .filter(|ms| t + horizon_step(**ms) as u64 > 9)
                .count() as u64
        })
        .sum();
    assert_eq!(g.scores().discarded, expected);
    // The next frames start a new timeline: nothing old is scored against them.
    for t in 1000..1040 {
        g.on_frame(&truth(t));
    }
    let scored_after: u64 = g.scores().covered.iter().map(|c| c.count).sum();
    assert_eq!(scored_before, scored_after);
}

#[test]
fn histogram_quantiles() {
    let mut h = [0.0f32; BINS];
    assert_eq!(quantile(&h, 0.9), None);
    for i in 1..=1000 {
        h[bin(i as f32 / 1000.0)] += 1.0;
    }
    let q = quantile(&h, 0.9).expect("filled");
    assert!((q / 0.9 - 1.0).abs() < 0.16, "{q}");
    assert_eq!(bin(f32::NAN), 0);
    assert_eq!(bin(1e9), BINS - 1);
}

#[test]
fn steps_between_horizons_interpolate() {
    let g = Guard::new(unadapted(), HORIZON, DAMPING_TAU_S);
    let mut v = GuardView::default();
    v.weights[0] = [1.0, 0.0, 0.0, 0.0];
    v.weights[1] = [0.0, 1.0, 0.0, 0.0];
    v.radius_scale[0] = 1.0;
    v.radius_scale[1] = 2.0;
    assert_eq!(g.at_step(&v, 1), ([1.0, 0.0, 0.0, 0.0], 1.0));
    let (w, c) = g.at_step(&v, 5);
    assert!(
        (w[0] - 1.0 / 3.0).abs() < 1e-6 && (c - 5.0 / 3.0).abs() < 1e-6,
        "{w:?} {c}"
    );
}

/// x(t) = A (1 − e^(−t/τ)) with the guard's own τ: the damped velocity is exact (up to the
/// last frame's velocity), so a model no better than constant velocity is outvoted by it.
fn exponential_approach(config: GuardConfig) -> Guard {
    let tau = DAMPING_TAU_S;
    let at = |frame: u64| -> PoseFrame {
        // Each joint starts its approach at its own time, so it never stops for all.
        let t = frame as f32 / FPS as f32;
        let joints = std::array::from_fn(|j| {
            let local = (t + 0.2 * j as f32) % 3.0;
            [2.0 * (1.0 - (-local / tau).exp()), 0.0, 0.1 * j as f32]
        });
        PoseFrame {
            stamp_ns: (frame as i64 * 1_000_000_000) / FPS as i64,
            joints_in_world: joints,
            valid: [true; NUM_JOINTS],
        }
    };
    let mut g = Guard::new(config, HORIZON, DAMPING_TAU_S);
    let mut prev = at(0);
    for t in 0..900u64 {
        let f = at(t);
        g.on_frame(&f);
        // The "model" is constant velocity.
        let mut steps: Vec<ForecastStep> = (1..=HORIZON)
            .map(|k| ForecastStep {
                dt_s: k as f32 / FPS as f32,
                joints_in_world: std::array::from_fn(|j| {
                    std::array::from_fn(|a| {
                        f.joints_in_world[j][a] + (f.joints_in_world[j][a] - prev.joints_in_world[j][a]) * k as f32
                    })
                }),
                spread_m: 0.1,
            })
            .collect();
        g.publish(&mut steps, true);
        prev = f;
    }
    g
}

#[test]
fn an_exponential_approach_is_published_from_the_damped_baseline() {
    let g = exponential_approach(unadapted());
    let errors = g.live_errors_m();
    let h = NUM_HORIZONS - 1;
    let [m, _, c, d] = errors[h].map(|e| e.expect("scored"));
    assert!(d < 0.8 * c && d < 0.8 * m, "1 s: damped {d}, constant {c}, model {m}");
    let w = g.view().weights[h];
    assert!(w[3] > w[0] && w[3] > w[2], "{w:?}");
}

/// The same approach with adaptation: the constant-velocity "model" learns to damp its
/// displacement, and is then about as good as the damped baseline built for this motion.
#[test]
fn adaptation_learns_an_exponential_approach() {
    let g = exponential_approach(GuardConfig::default());
    let h = NUM_HORIZONS - 1;
    let [m, _, c, d] = g.live_errors_m()[h].map(|e| e.expect("scored"));
    assert!(
        m < 0.8 * c && m < 1.05 * d,
        "1 s: adapted model {m}, damped {d}, constant {c}"
    );
    // The model is constant velocity, so its displacement and the damped one are parallel:
    // only their sum is learnt, and it must be shorter than the model's.
    assert_ne!(g.adapt_gains()[h], SHIPPED_GAINS);
}

/// The three-source guard (the bench's "old"): the damped source gets no weight and no
/// score, and the blend still outvotes a wrong model with the other two.
#[test]
fn without_the_damped_source_the_guard_weighs_three() {
    let three = GuardConfig {
        damped_source: false,
        ..unadapted()
    };
    let g = run(three, 600, 0.5, 0.0, 0.1);
    for h in 0..NUM_HORIZONS {
        assert_eq!(g.view().weights[h][3], 0.0, "h{h}");
        assert!(g.view().weights[h][0] < 0.01, "h{h}: {:?}", g.view().weights[h]);
        assert_eq!(
            g.scores().error_m[h][3].count,
            0,
            "h{h}: the damped column is not scored"
        );
        assert!(g.scores().error_m[h][2].count > 0);
        assert!(g.live_errors_m()[h][3].is_none());
        assert!(!g.view().published_losing[h]);
    }
}
