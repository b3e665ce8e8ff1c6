//! The safety link end to end over a pseudo-terminal pair standing in for the UART:
//! real mocap → forecast (constant velocity: the link is under test, not the model) → link
//! frames → a host twin of the MCU (the firmware's `LinkReceiver` + `Monitor`) → SSM
//! command. And the link's failures: a stalled reader, garbage on the line, the cable pulled.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use a4mer_firmware::link::{LinkReceiver, ModelHealth};
use a4mer_firmware::monitor::{Command, Mode, Monitor, MonitorConfig};
use a4mer_firmware::ssm::RobotState;
use a4mer_measure::eval::{ConstantVelocity, Forecaster};
use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_node::link_sender::LinkSender;
use a4mer_ros::link::{LinkConfig, LinkPerson, LinkSource, Monitored, Outgoing, RigidTransform, people_for_link};
use a4mer_runtime::PoseFrame;
use serialport::{SerialPort, TTYPort};

fn real_take() -> Vec<PoseFrame> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mocap/bvhtools_test2.bvh");
    import_bvh(&path, &ImportOptions::default()).unwrap().frames
}

/// The frame the node would send after seeing `observed` (oldest first).
fn outgoing(observed: &[PoseFrame], base: &RigidTransform) -> Outgoing {
    let forecast = ConstantVelocity.forecast(observed);
    let with_spread: Vec<_> = forecast
        .iter()
        .enumerate()
        .map(|(k, p)| (*p, 0.01 * (k + 1) as f32))
        .collect();
    let last = observed.last().unwrap();
    let selected = people_for_link(
        &[person(7, &last.joints_in_world, with_spread)],
        base,
        &Monitored::default(),
        6,
    )
    .unwrap();
    Outgoing {
        health: ModelHealth::Nominal,
        step_ms: 200,
        omitted: selected.omitted,
        pose_age_us: 20_000,
        people: selected.people,
    }
}

fn person(id: u32, observed: &[[f32; 3]; 24], forecast: Vec<([[f32; 3]; 24], f32)>) -> LinkPerson {
    LinkPerson {
        id,
        observed: *observed,
        reach_m: [0.0; 24],
        forecast,
        degraded: false,
        source: LinkSource::Forecast,
        stamp_ns: 0,
        unseen_ns: 0,
    }
}

/// The MCU's twin: reads the master side, feeds bytes to the firmware's receiver and monitor.
struct Twin {
    receiver: LinkReceiver,
    monitor: Monitor,
    start: Instant,
    /// When the last frame was accepted, on `now_us`'s clock.
    last_accept_us: u64,
    accepted_people: usize,
    /// Per accepted frame: whether it carried a held person, and the speed scale the MCU
    /// commanded for `robot` the moment it arrived.
    log: Vec<(bool, f32)>,
    robot: RobotState,
}

impl Twin {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

fn spawn_twin(master: TTYPort, reading: Arc<AtomicBool>, stop: Arc<AtomicBool>) -> Arc<Mutex<Twin>> {
    let robot = RobotState {
        position_in_base_m: [0.0, 0.0, 1.0],
        programmed_speed_mps: 1.0,
    };
    spawn_twin_for(master, reading, stop, robot)
}

fn spawn_twin_for(
    mut master: TTYPort,
    reading: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    robot: RobotState,
) -> Arc<Mutex<Twin>> {
    let twin = Arc::new(Mutex::new(Twin {
        receiver: LinkReceiver::new(),
        monitor: Monitor::new(MonitorConfig::default()).unwrap(),
        start: Instant::now(),
        last_accept_us: 0,
        accepted_people: 0,
        log: Vec::new(),
        robot,
    }));
    master.set_timeout(Duration::from_millis(20)).unwrap();
    let t = Arc::clone(&twin);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            if !reading.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let n = match master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
                Err(_) => break,
            };
            let mut twin = t.lock().unwrap();
            for &b in &buf[..n] {
                if let Some(Ok(frame)) = twin.receiver.push(b) {
                    let now = twin.now_us();
                    twin.last_accept_us = now;
                    twin.accepted_people = frame.people.len();
                    let held = frame.people.iter().any(|p| p.unseen_us > 0);
                    twin.monitor.accept_frame(frame, now);
                    let robot = twin.robot;
                    let scale = twin.monitor.command(&robot, now).0.scale();
                    twin.log.push((held, scale));
                }
            }
        }
    });
    twin
}

/// Liveness: done as soon as `cond` holds; only an implementation that never gets there
/// waits out the 30 s.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn pose_to_forecast_to_link_to_ssm_decision_and_the_link_failing() {
    let take = real_take();
    let (master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
    let slave_path = slave.name().expect("pty has a name");
    // The person walks around ~3.6 m from the capture origin; put the robot base there.
    let base = RigidTransform::from_xyz_rpy([-3.0, -1.5, 0.0, 0.0, 0.0, 0.0]);
    let sender = LinkSender::start(
        LinkConfig {
            device: slave_path.clone().into(),
            baud: 921_600,
            base_from_forecast: base,
        },
        42,
    )
    .unwrap();
    let reading = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let twin = spawn_twin(master, Arc::clone(&reading), Arc::clone(&stop));
    let robot = RobotState {
        position_in_base_m: [0.0, 0.0, 1.0],
        programmed_speed_mps: 1.0,
    };

    // 1. Healthy stream at 30 Hz: the MCU runs, scaled by the person's distance.
    let mut t = 60;
    let send = |n: usize, t: &mut usize| {
        for _ in 0..n {
            sender.offer(outgoing(&take[*t - 60..=*t], &base));
            *t += 1;
            std::thread::sleep(Duration::from_millis(33));
        }
    };
    send(30, &mut t);
    // Every offer is sent or replaced by a newer one (how many is the host's timing), and
    // every frame sent arrives intact: a pty loses nothing.
    wait_until("frames accepted", || {
        let s = sender.stats();
        s.frames_sent + s.frames_superseded + s.frames_dropped_write_timeout == 30
            && u64::from(twin.lock().unwrap().receiver.counters().accepted) == s.frames_sent
    });
    {
        let mut tw = twin.lock().unwrap();
        // The MCU's decision as the last frame arrived, however late this thread looks.
        let now = tw.last_accept_us;
        let (command, _) = tw.monitor.command(&robot, now);
        assert_eq!(tw.monitor.mode(), Mode::Run, "{command:?}");
        assert!(
            matches!(command, Command::Run { scale } if (0.0..=1.0).contains(&scale)),
            "{command:?}"
        );
        assert_eq!(tw.accepted_people, 1);
        assert_eq!(tw.receiver.counters().dropped(), 0, "{:?}", tw.receiver.counters());
    }
    let s = sender.stats();
    assert!(s.frames_sent >= 1 && s.frames_dropped_write_timeout == 0, "{s:?}");

    // 2. Garbage on the line (another writer on the same pty): dropped and counted, the
    //    stream resynchronises on the next delimiter.
    {
        // The sender holds the port exclusively (TIOCEXCL); root may still open it plainly.
        let mut junk = std::fs::OpenOptions::new().write(true).open(&slave_path).unwrap();
        junk.write_all(&[0x00, 0x13, 0x37, 0xff, 0x42, 0x99, 0x00, 0x05, 0x05, 0x00])
            .unwrap();
    }
    send(15, &mut t);
    wait_until("garbage counted", || {
        twin.lock().unwrap().receiver.counters().dropped() >= 1
    });
    let accepted_before = twin.lock().unwrap().receiver.counters().accepted;
    send(10, &mut t);
    wait_until("stream resumes after garbage", || {
        twin.lock().unwrap().receiver.counters().accepted > accepted_before
    });

    // 3. The reader stalls (MCU busy, cable half-connected): offers never block the caller.
    reading.store(false, Ordering::Relaxed);
    let frames: Vec<Outgoing> = (0..300).map(|k| outgoing(&take[t + k - 60..=t + k], &base)).collect();
    t += 300;
    let stalled = Instant::now();
    for f in frames {
        sender.offer(f);
    }
    eprintln!("300 offers with the reader stalled: {:?}", stalled.elapsed());
    // A blocking offer waits on the stalled reader for good; a loaded host takes
    // milliseconds.
    assert!(
        stalled.elapsed() < Duration::from_secs(10),
        "300 offers took {:?} with the reader stalled",
        stalled.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    let s = sender.stats();
    assert!(s.frames_superseded > 0, "{s:?}");
    reading.store(true, Ordering::Relaxed);

    // 4. The cable is pulled: the twin stops, its side of the pty closes. The sender notices,
    //    keeps accepting offers without blocking, and the MCU protective-stops at its deadline.
    stop.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    let frames: Vec<Outgoing> = (0..60).map(|k| outgoing(&take[t + k - 60..=t + k], &base)).collect();
    let mut offering = Duration::ZERO;
    for f in frames {
        let offered = Instant::now();
        sender.offer(f);
        offering += offered.elapsed();
        std::thread::sleep(Duration::from_millis(5));
    }
    // As above: only an offer that blocks on the dead line gets near this.
    assert!(
        offering < Duration::from_secs(10),
        "60 offers took {offering:?} after the pull"
    );
    wait_until("the sender to notice the pulled cable", || {
        let s = sender.stats();
        s.write_errors >= 1 && !s.connected
    });
    {
        let mut tw = twin.lock().unwrap();
        let deadline_us = tw.now_us() + 400_000;
        tw.monitor.poll(deadline_us);
        let (command, _) = tw.monitor.command(&robot, deadline_us);
        assert_eq!(command, Command::ProtectiveStop);
        assert_eq!(tw.monitor.mode(), Mode::ProtectiveStop);
    }
    drop(sender); // joins the writer thread: it must not be stuck either
}

#[test]
fn a_missing_device_is_reported_not_fatal() {
    let sender = LinkSender::start(
        LinkConfig {
            device: "/dev/a4mer-no-such-tty".into(),
            baud: 921_600,
            base_from_forecast: RigidTransform::IDENTITY,
        },
        1,
    )
    .unwrap();
    let take = real_take();
    for t in 60..70 {
        sender.offer(outgoing(&take[t - 60..=t], &RigidTransform::IDENTITY));
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_until("error reported", || sender.stats().last_error.is_some());
    let s = sender.stats();
    assert!(!s.connected && s.frames_sent == 0, "{s:?}");
    assert!(s.last_error.unwrap().contains("/dev/a4mer-no-such-tty"));
}

#[test]
fn people_for_link_keeps_the_nearest_and_rejects_non_finite_positions() {
    let take = real_take();
    let near = take[100].joints_in_world;
    let mut far = near;
    for p in far.iter_mut() {
        p[0] += 5.0;
    }
    let mut middle = near;
    for p in middle.iter_mut() {
        p[0] += 1.0;
    }
    let base = RigidTransform::from_xyz_rpy([-near[0][0] as f64, -near[0][1] as f64, 0.0, 0.0, 0.0, 0.0]);
    let people = [
        person(1, &far, Vec::new()),
        person(2, &near, Vec::new()),
        person(3, &middle, Vec::new()),
    ];
    // Monitored: the base's origin.
    let sel = people_for_link(&people, &base, &Monitored::default(), 6).unwrap();
    assert_eq!(sel.people.iter().map(|p| p.track_id).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(sel.omitted, 1, "the third is counted, not silently dropped");
    // The pelvis lands at the base origin (x, y) after the transform.
    let pelvis = sel.people[0].steps[0].joints_in_base_mm[0];
    assert!(pelvis[0].abs() <= 1 && pelvis[1].abs() <= 1, "{pelvis:?}");

    let mut broken = near;
    broken[15][2] = f32::NAN; // head: a link joint
    assert!(people_for_link(&[person(9, &broken, Vec::new())], &base, &Monitored::default(), 6).is_err());
}

#[test]
fn a_radius_beyond_the_link_field_is_sent_as_the_largest_one_and_a_nan_spread_is_refused() {
    let near = real_take()[100].joints_in_world;
    let base = RigidTransform::from_xyz_rpy([-near[0][0] as f64, -near[0][1] as f64, 0.0, 0.0, 0.0, 0.0]);
    let forecast: Vec<([[f32; 3]; 24], f32)> = [0.3, 194.9, f32::INFINITY].iter().map(|s| (near, *s)).collect();
    let sel = people_for_link(&[person(1, &near, forecast)], &base, &Monitored::default(), 1).unwrap();
    let spreads: Vec<u16> = sel.people[0].steps.iter().map(|s| s.spread_mm).collect();
    let max_mm = (a4mer_ros::link::LINK_MAX_SPREAD_M * 1000.0) as u16;
    assert_eq!(spreads, vec![0, 300, max_mm, max_mm]);
    let nan: Vec<([[f32; 3]; 24], f32)> = vec![(near, f32::NAN)];
    assert!(people_for_link(&[person(1, &near, nan)], &base, &Monitored::default(), 1).is_err());
}

/// At 120 Hz into a 460 800 baud line the wire carries about one frame in four. The
/// writer sends the newest and drops the rest rather than queueing them, and ages each
/// frame when it encodes it, by the time it waited. Whether the age the MCU works with (the
/// frame's age plus its latency allowance at that baud) covers the pose's true age at
/// arrival is printed: it holds on a host that runs the writer and the far end on time, which
/// a shared test machine does not promise.
#[test]
fn at_120_hz_and_460800_baud_the_newest_frame_is_sent_aged_by_its_wait() {
    const BAUD: u32 = 460_800;
    const DETECTOR_AGE_US: u32 = 20_000;
    let take = real_take();
    let (mut master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
    let base = RigidTransform::from_xyz_rpy([-3.0, -1.5, 0.0, 0.0, 0.0, 0.0]);
    let sender = LinkSender::start(
        LinkConfig {
            device: slave.name().unwrap().into(),
            baud: BAUD,
            base_from_forecast: base,
        },
        5,
    )
    .unwrap();
    // The far end reads no faster than the UART would deliver: 10 bits per byte.
    let bytes_per_s = f64::from(BAUD) / 10.0;
    let stop = Arc::new(AtomicBool::new(false));
    let arrivals: Arc<Mutex<Vec<(Instant, u16, u32)>>> = Arc::default();
    master.set_timeout(Duration::from_millis(5)).unwrap();
    let reader = {
        let (stop, arrivals) = (Arc::clone(&stop), Arc::clone(&arrivals));
        std::thread::spawn(move || {
            let mut rx = LinkReceiver::new();
            let started = Instant::now();
            let mut total = 0usize;
            let mut buf = [0u8; 32];
            while !stop.load(Ordering::Relaxed) {
                let n = match master.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
                    Err(_) => break,
                };
                for &b in &buf[..n] {
                    total += 1;
                    let due = started + Duration::from_secs_f64(total as f64 / bytes_per_s);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    if let Some(Ok(frame)) = rx.push(b) {
                        let p = &frame.people[0];
                        arrivals
                            .lock()
                            .unwrap()
                            .push((Instant::now(), p.track_id, frame.header.pose_age_us));
                    }
                }
            }
        })
    };
    let period = Duration::from_secs_f64(1.0 / 120.0);
    let started = Instant::now();
    let mut captured = Vec::new();
    for i in 0..360usize {
        let t = 60 + i % (take.len() - 80);
        let mut out = outgoing(&take[t - 60..=t], &base);
        out.people[0].track_id = i as u16;
        out.pose_age_us = DETECTOR_AGE_US;
        captured.push(Instant::now() - Duration::from_micros(u64::from(DETECTOR_AGE_US)));
        sender.offer(out);
        let due = started + period * (i as u32 + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let stats = sender.stats();
    drop(sender);

    let allowance_us = MonitorConfig::for_baud(BAUD).link_latency_us;
    let arrivals = arrivals.lock().unwrap();
    let mut worst_margin_us = i64::MAX;
    let mut true_ages_us = Vec::new();
    for (at, id, age_us) in arrivals.iter() {
        let true_age_us = at.duration_since(captured[*id as usize]).as_micros() as i64;
        let mcu_age_us = i64::from(*age_us) + allowance_us as i64;
        worst_margin_us = worst_margin_us.min(mcu_age_us - true_age_us);
        true_ages_us.push(true_age_us);
    }
    true_ages_us.sort_unstable();
    let p = |q: f64| true_ages_us[((true_ages_us.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "120 Hz into {BAUD} baud: {} offered, {} sent, {} superseded, {} arrived; true age at arrival p50 {:.1} ms, max {:.1} ms; MCU allowance {:.1} ms; smallest margin (MCU age - true age) {:.1} ms",
        captured.len(),
        stats.frames_sent,
        stats.frames_superseded,
        arrivals.len(),
        p(0.5),
        p(1.0),
        allowance_us as f64 / 1000.0,
        worst_margin_us as f64 / 1000.0
    );
    assert!(!arrivals.is_empty(), "the line must carry frames");
    // Dropped, not queued: every offer was sent or replaced by a newer one (the last may
    // still be waiting), and what arrived came newest-last, each frame once.
    assert!(
        stats.frames_superseded > 0,
        "{stats:?}: frames must be dropped, not queued"
    );
    assert!(
        stats.frames_sent + stats.frames_superseded + 1 >= captured.len() as u64,
        "{stats:?}: offers unaccounted for"
    );
    let ids: Vec<u16> = arrivals.iter().map(|(_, id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of offer order: {ids:?}");
    // Aged when encoded: at least what it was offered with, plus its wait (so some are
    // older than offered), and never older than it truly is once it has arrived.
    for (at, id, age_us) in arrivals.iter() {
        let true_age_us = at.duration_since(captured[*id as usize]).as_micros() as u64;
        assert!(
            (u64::from(DETECTOR_AGE_US)..=true_age_us + 1).contains(&u64::from(*age_us)),
            "frame {id}: encoded age {age_us} µs, offered at {DETECTOR_AGE_US} µs, {true_age_us} µs old on arrival"
        );
    }
    assert!(
        arrivals.iter().any(|(_, _, age_us)| *age_us > DETECTOR_AGE_US),
        "no frame aged by its wait"
    );
}

/// The person nearest the robot drops out of view for ten frames (an arm passing in front
/// of the camera): held, their reach growing, the MCU behind the pseudo-terminal never lets
/// the robot speed up during the dropout.
#[test]
fn a_ten_frame_dropout_never_raises_the_mcus_speed_limit_over_the_line() {
    use a4mer_ros::link::{Hold, HoldConfig, outgoing as link_frame};
    let take = real_take();
    let (master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
    let sender = LinkSender::start(
        LinkConfig {
            device: slave.name().unwrap().into(),
            baud: 921_600,
            base_from_forecast: RigidTransform::IDENTITY,
        },
        3,
    )
    .unwrap();
    // The robot's tool 1.25 m in front of where the person stands when they vanish.
    let pelvis = take[90].joints_in_world[0];
    let robot = RobotState {
        position_in_base_m: [pelvis[0] + 1.25, pelvis[1], 1.0],
        programmed_speed_mps: 1.0,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let twin = spawn_twin_for(master, Arc::new(AtomicBool::new(true)), Arc::clone(&stop), robot);
    let mut hold = Hold::new(HoldConfig::default());
    let mut holds = 0;
    for t in 60..120usize {
        let now_ns = take[t].stamp_ns;
        let forecast: Vec<_> = ConstantVelocity
            .forecast(&take[t - 60..=t])
            .iter()
            .enumerate()
            .map(|(k, p)| (*p, 0.01 * (k + 1) as f32))
            .collect();
        let mut far = take[t].joints_in_world;
        for j in far.iter_mut() {
            j[1] += 3.0;
        }
        let mut people = vec![LinkPerson {
            stamp_ns: now_ns,
            ..person(2, &far, forecast.clone())
        }];
        if !(90..100).contains(&t) {
            people.push(LinkPerson {
                stamp_ns: now_ns,
                ..person(1, &take[t].joints_in_world, forecast)
            });
        }
        hold.update(now_ns, &mut people, |e| {
            holds += usize::from(matches!(e, a4mer_ros::link::HoldEvent::Held { .. }))
        });
        sender.offer(link_frame(&people, &RigidTransform::IDENTITY, &Monitored::default(), 0, false).unwrap());
        std::thread::sleep(Duration::from_millis(33));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    drop(sender);
    assert_eq!(holds, 1);
    let log = twin.lock().unwrap().log.clone();
    let first_held = log
        .iter()
        .position(|(held, _)| *held)
        .expect("the held person crossed the line");
    let before = log[first_held - 1].1;
    let during: Vec<f32> = log.iter().filter(|(held, _)| *held).map(|(_, s)| *s).collect();
    println!("speed scale before the dropout {before}, during it {during:?}");
    assert!(
        before > 0.0 && before < 1.0,
        "the person must limit the robot: {before}"
    );
    assert!(during.iter().all(|s| *s <= before), "{during:?} > {before}");
}
