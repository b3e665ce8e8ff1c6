//! Host twin of the safety link under a published forecast that loses to every baseline (a
//! deliberately wrong model, published without the guard's blend, which would otherwise
//! outvote it): when the engine's guard sees what is published doing worse than all three
//! baselines within the link's reach, the frames the node's writer sends are Degraded, they
//! arrive so through a pseudo-terminal pair, and the firmware's monitor falls back to its
//! certified behaviour on them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_firmware::link::ModelHealth;
use a4mer_firmware::monitor::{Mode, Monitor, MonitorConfig, Reason};
use a4mer_hw_tests::repo_root;
use a4mer_hw_tests::serial::{LinkReader, pty_pair, take};
use a4mer_node::link_sender::LinkSender;
use a4mer_ros::link::{LINK_REACH_STEPS, LinkConfig, Monitored, RigidTransform, link_person, outgoing};
use a4mer_runtime::stream::{Engine, EngineConfig, GuardConfig, HealthState};
use a4mer_runtime::{PoseFrame, frame_period_ns};
use serialport::SerialPort;

/// What crossed the line, by the index the test put in the person's track id.
struct Crossed {
    /// Per offered frame: the guard said "published losing within the link's reach", and the
    /// stream was otherwise healthy.
    losing: Vec<bool>,
    healthy: Vec<bool>,
    received: Vec<(u32, ModelHealth)>,
    /// Frames the writer wrote (the rest it replaced by newer ones, unsent).
    sent: u64,
    monitor_fell_back_on_health: usize,
}

fn run(frames: &[PoseFrame], guard: GuardConfig) -> Crossed {
    let (mut model, _) = load_model(&repo_root().join("models/a4mer-small-int8.a4m"), &inference_device()).unwrap();
    // Deliberately wrong: the velocity prior turned around, so every forecast runs the
    // wrong way.
    for g in model
        .norm
        .prior_gain_s
        .iter_mut()
        .chain(model.norm.decode.iter_mut().flat_map(|d| d.gain.iter_mut()))
    {
        *g = -*g;
    }
    let config = EngineConfig {
        guard,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(Arc::new(a4mer_burn_model::stream_model(&model).unwrap()), config).unwrap();
    let (device, mut master, _slave) = pty_pair().unwrap();
    master.set_timeout(Duration::from_millis(20)).unwrap();
    let reader = LinkReader::spawn(Box::new(master));
    // The recording walks ~3.6 m from its origin: a base there keeps positions in range.
    let base = RigidTransform::from_xyz_rpy([-3.0, -1.5, 0.0, 0.0, 0.0, 0.0]);
    let sender = LinkSender::start(
        LinkConfig {
            device: device.into(),
            // The writer paces itself by the baud: fast enough for a frame every 6 ms.
            baud: 4_000_000,
            base_from_forecast: base,
        },
        7,
    )
    .unwrap();
    let (mut losing, mut healthy) = (Vec::new(), Vec::new());
    for (i, f) in frames.iter().enumerate() {
        let f = PoseFrame {
            stamp_ns: frame_period_ns(i as u64),
            ..*f
        };
        let a = engine.push_ref(&f).unwrap();
        losing.push(a.guard.published_losing_within(LINK_REACH_STEPS));
        healthy.push(a.health.state == HealthState::Ok);
        // The frame's index rides in the track id.
        let person = link_person(i as u32, &f, a).unwrap();
        let out = outgoing(&[person], &base, &Monitored::default(), 0, false).unwrap();
        sender.offer(out);
        // One frame at a time through the one-slot writer: on time, none is replaced unsent
        // (a late writer may replace some, as designed).
        std::thread::sleep(Duration::from_millis(6));
    }
    // Until every offer is written or replaced (liveness: 30 s is a writer that stopped),
    // then a moment for the far end to read the last bytes.
    let waiting = Instant::now();
    let sent = loop {
        let s = sender.stats();
        if s.frames_sent + s.frames_superseded >= frames.len() as u64 {
            break s.frames_sent;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "offers unaccounted for: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(300));
    drop(sender);
    let (_, frames, _) = reader.finish().unwrap();
    let mut monitor = Monitor::new(MonitorConfig::for_baud(4_000_000)).unwrap();
    let mut fell_back = 0;
    let mut received = Vec::new();
    for (k, frame) in frames.into_iter().enumerate() {
        received.push((u32::from(frame.people[0].track_id), frame.health));
        let now_us = 33_333 * k as u64;
        monitor.accept_frame(frame, now_us);
        if monitor.mode() == Mode::Fallback && monitor.reason() == Reason::Health(ModelHealth::Degraded) {
            fell_back += 1;
        }
    }
    Crossed {
        losing,
        healthy,
        received,
        sent,
        monitor_fell_back_on_health: fell_back,
    }
}

#[test]
fn host_twin_a_published_forecast_losing_to_every_baseline_degrades_the_link_and_the_mcu_falls_back() {
    // Published as it is: neither blended nor adapted to the person (adapting would learn to
    // turn the prior back around, which is its job but not what this test is about).
    let unblended = GuardConfig {
        blend: false,
        adapt: false,
        ..GuardConfig::default()
    };
    let c = run(&take().unwrap()[..450], unblended);
    let losing_healthy = c.losing.iter().zip(&c.healthy).filter(|(l, h)| **l && **h).count();
    println!(
        "{} frames: {} with the published forecast losing within {} ms (stream otherwise healthy: {}); {} received; the monitor fell back on health {} times",
        c.losing.len(),
        c.losing.iter().filter(|l| **l).count(),
        LINK_REACH_STEPS * 1000 / 30,
        losing_healthy,
        c.received.len(),
        c.monitor_fell_back_on_health
    );
    assert!(
        losing_healthy > c.losing.len() / 2,
        "a wrong model published as it is must be seen losing most of the time"
    );
    // Every frame written arrives (the last may still be on its way).
    assert!(
        c.sent >= 1 && c.received.len() as u64 + 1 >= c.sent,
        "frames lost on the line: {} of {} written",
        c.received.len(),
        c.sent
    );
    for (i, health) in &c.received {
        let i = *i as usize;
        if c.losing[i] {
            assert_eq!(
                *health,
                ModelHealth::Degraded,
                "frame {i}: the published forecast was losing"
            );
        } else if c.healthy[i] {
            assert_eq!(
                *health,
                ModelHealth::Nominal,
                "frame {i}: a healthy stream, published forecast not losing"
            );
        }
    }
    assert!(c.monitor_fell_back_on_health > 0);
}

/// The same wrong model under the guard's blend, as the node runs it: the blend follows the
/// baselines, so what is published does not lose and a healthy stream's frames stay Nominal.
#[test]
fn host_twin_a_losing_model_outvoted_by_the_blend_keeps_the_link_nominal() {
    let c = run(&take().unwrap()[..450], GuardConfig::default());
    let healthy = c.healthy.iter().filter(|h| **h).count();
    let losing = c.losing.iter().filter(|l| **l).count();
    println!(
        "{} frames, {healthy} healthy, {losing} with the published forecast losing",
        c.losing.len()
    );
    assert!(
        healthy > c.losing.len() / 2,
        "the stream must be healthy most of the time"
    );
    assert!(
        losing * 20 < c.losing.len(),
        "the blend must keep the published forecast from losing to every baseline ({losing} frames)"
    );
    // Of the healthy frames that crossed (how many did is the host's timing), Nominal.
    let healthy_received: Vec<ModelHealth> = c
        .received
        .iter()
        .filter(|(i, _)| c.healthy[*i as usize])
        .map(|(_, h)| *h)
        .collect();
    let nominal = healthy_received.iter().filter(|h| **h == ModelHealth::Nominal).count();
    assert!(
        !healthy_received.is_empty() && nominal > healthy_received.len() * 9 / 10,
        "{nominal} of {} healthy frames received sent Nominal",
        healthy_received.len()
    );
}
