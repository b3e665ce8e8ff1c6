use std::format;

use super::*;
use crate::link::tests::person;
use crate::link::{Header, LinkFrame, MAX_STEPS, MAX_WIRE_LEN, ModelHealth, transmit_time_us};

fn cfg() -> MonitorConfig {
    MonitorConfig {
        stale_after_us: 100_000,
        deadline_us: 300_000,
        link_latency_us: 0,
        ssm: SsmConfig::default(),
    }
}

fn frame(seq: u32, health: ModelHealth, pose_age_us: u32) -> LinkFrame {
    let mut people = heapless::Vec::new();
    people.push(person(1, 2500, MAX_STEPS)).expect("MAX_PEOPLE");
    LinkFrame {
        header: Header {
            session: 1,
            seq,
            sender_stamp_us: 0,
            pose_age_us,
        },
        health,
        step_ms: 100,
        omitted: 0,
        people,
    }
}

const ROBOT: RobotState = RobotState {
    position_in_base_m: [0.0; 3],
    programmed_speed_mps: 5.0,
};

fn tr(at_us: u64, from: Mode, to: Mode, reason: Reason, age: u64) -> Option<Transition> {
    Some(Transition {
        at_us,
        from,
        to,
        reason,
        pose_age_us: Some(age),
    })
}

#[test]
fn starts_in_protective_stop() {
    let mut m = Monitor::new(cfg()).expect("valid");
    assert_eq!((m.mode(), m.reason()), (Mode::ProtectiveStop, Reason::Startup));
    assert_eq!(m.command(&ROBOT, 5_000_000), (Command::ProtectiveStop, None));
    assert_eq!(m.next_change_us(), None);
    assert_eq!(m.assessment(&ROBOT, 0), None);
}

#[test]
fn run_fallback_stop_at_the_exact_microsecond() {
    let mut m = Monitor::new(cfg()).expect("valid");
    let t0 = 1_000;
    assert_eq!(
        m.accept_frame(frame(1, ModelHealth::Nominal, 0), t0),
        Some(Transition {
            at_us: t0,
            from: Mode::ProtectiveStop,
            to: Mode::Run,
            reason: Reason::Fresh,
            pose_age_us: Some(0),
        })
    );
    assert_eq!(m.next_change_us(), Some(t0 + 100_001));
    assert_eq!(m.poll(t0 + 100_000), None);
    assert_eq!(
        m.poll(t0 + 100_001),
        tr(t0 + 100_001, Mode::Run, Mode::Fallback, Reason::Stale, 100_001)
    );
    assert_eq!(m.next_change_us(), Some(t0 + 300_001));
    assert_eq!(m.poll(t0 + 300_000), None);
    assert_eq!(
        m.poll(t0 + 300_001),
        tr(
            t0 + 300_001,
            Mode::Fallback,
            Mode::ProtectiveStop,
            Reason::Deadline,
            300_001
        )
    );
    assert_eq!(m.next_change_us(), None);
    assert_eq!(m.command(&ROBOT, t0 + 400_000), (Command::ProtectiveStop, None));

    // A new frame recovers directly to Run.
    assert_eq!(
        m.accept_frame(frame(2, ModelHealth::Nominal, 0), t0 + 500_000),
        tr(t0 + 500_000, Mode::ProtectiveStop, Mode::Run, Reason::Fresh, 0)
    );
}

#[test]
fn pose_age_and_link_latency_count_towards_the_thresholds() {
    let mut m = Monitor::new(MonitorConfig {
        link_latency_us: 5_000,
        ..cfg()
    })
    .expect("valid");
    // 40 ms old at send + 5 ms on the wire: stale 55 ms after reception.
    m.accept_frame(frame(1, ModelHealth::Nominal, 40_000), 0);
    assert_eq!(m.mode(), Mode::Run);
    assert_eq!(m.next_change_us(), Some(55_001));
    assert_eq!(m.poll(55_000), None);
    assert_eq!(
        m.poll(55_001),
        tr(55_001, Mode::Run, Mode::Fallback, Reason::Stale, 100_001)
    );
    // A frame already older than the deadline is no valid frame.
    assert_eq!(
        m.accept_frame(frame(2, ModelHealth::Nominal, 300_000), 60_000),
        tr(60_000, Mode::Fallback, Mode::ProtectiveStop, Reason::Deadline, 305_000)
    );
}

#[test]
fn degraded_health_falls_back_and_reason_changes_are_logged() {
    let mut m = Monitor::new(cfg()).expect("valid");
    assert_eq!(
        m.accept_frame(frame(1, ModelHealth::Degraded, 0), 0),
        tr(
            0,
            Mode::ProtectiveStop,
            Mode::Fallback,
            Reason::Health(ModelHealth::Degraded),
            0
        )
    );
    // Degraded, then the data also goes stale: same mode, new reason, logged.
    assert_eq!(m.next_change_us(), Some(100_001));
    assert_eq!(
        m.poll(100_001),
        tr(100_001, Mode::Fallback, Mode::Fallback, Reason::Stale, 100_001)
    );
    assert_eq!(
        m.accept_frame(frame(2, ModelHealth::Failed, 0), 120_000),
        tr(
            120_000,
            Mode::Fallback,
            Mode::Fallback,
            Reason::Health(ModelHealth::Failed),
            0
        )
    );
    assert_eq!(
        m.accept_frame(frame(3, ModelHealth::Nominal, 0), 150_000),
        tr(150_000, Mode::Fallback, Mode::Run, Reason::Fresh, 0)
    );
    // Same mode and reason again: nothing to log.
    assert_eq!(m.accept_frame(frame(4, ModelHealth::Nominal, 0), 180_000), None);
}

#[test]
fn people_left_out_never_run() {
    let mut m = Monitor::new(cfg()).expect("valid");
    let mut crowded = frame(1, ModelHealth::Nominal, 0);
    crowded.omitted = 1;
    assert_eq!(
        m.accept_frame(crowded.clone(), 0),
        tr(0, Mode::ProtectiveStop, Mode::Fallback, Reason::Omitted, 0)
    );
    let (command, _) = m.command(&ROBOT, 10_000);
    let Command::Fallback { scale } = command else {
        panic!("expected Fallback, got {command:?}");
    };
    // The people sent are still assessed, with the conservative speeds only.
    let mut alone = crowded.clone();
    alone.omitted = 0;
    alone.health = ModelHealth::Degraded;
    let mut d = Monitor::new(cfg()).expect("valid");
    d.accept_frame(alone, 0);
    assert_eq!(d.command(&ROBOT, 10_000).0, Command::Fallback { scale });

    // Stale data is still noticed at its exact microsecond, and then the deadline.
    assert_eq!(m.next_change_us(), Some(100_001));
    assert_eq!(
        m.poll(100_001),
        tr(100_001, Mode::Fallback, Mode::Fallback, Reason::Stale, 100_001)
    );
    // Degraded health is named before omitted people; everyone sent again: Run.
    crowded.header.seq = 2;
    crowded.health = ModelHealth::Degraded;
    assert_eq!(
        m.accept_frame(crowded, 120_000),
        tr(
            120_000,
            Mode::Fallback,
            Mode::Fallback,
            Reason::Health(ModelHealth::Degraded),
            0
        )
    );
    assert_eq!(
        m.accept_frame(frame(3, ModelHealth::Nominal, 0), 150_000),
        tr(150_000, Mode::Fallback, Mode::Run, Reason::Fresh, 0)
    );
}

/// A held person's own age is charged in the SSM; the deadline follows the frame's freshest
/// data, so holding someone for longer than the deadline slows the robot without stopping it.
#[test]
fn a_held_person_slows_the_robot_but_does_not_trip_the_deadline() {
    let fresh = frame(1, ModelHealth::Nominal, 10_000);
    let mut held = fresh.clone();
    held.people[0].unseen_us = 400_000; // beyond deadline_us
    let mut m = Monitor::new(cfg()).expect("valid");
    m.accept_frame(fresh, 0);
    let (Command::Run { scale: fresh_scale }, _) = m.command(&ROBOT, 5_000) else {
        panic!("expected Run");
    };
    let mut m = Monitor::new(cfg()).expect("valid");
    assert_eq!(
        m.accept_frame(held, 0),
        tr(0, Mode::ProtectiveStop, Mode::Run, Reason::Fresh, 10_000)
    );
    assert_eq!(m.next_change_us(), Some(90_001));
    let (Command::Run { scale: held_scale }, _) = m.command(&ROBOT, 5_000) else {
        panic!("expected Run");
    };
    assert!(held_scale < fresh_scale, "held {held_scale} fresh {fresh_scale}");
    let a = m.assessment(&ROBOT, 5_000).expect("Run");
    // 0.4 s more of approach at the ISO 13855 far speed (1.6 m/s).
    let fresh_a = {
        let mut f = Monitor::new(cfg()).expect("valid");
        f.accept_frame(frame(1, ModelHealth::Nominal, 10_000), 0);
        f.assessment(&ROBOT, 5_000).expect("Run")
    };
    assert!((a.s_h_m - fresh_a.s_h_m - 0.64).abs() < 1e-3, "{a:?} vs {fresh_a:?}");
}

#[test]
fn latency_allowance_follows_the_baud_rate() {
    let fast = MonitorConfig::for_baud(921_600);
    let slow = MonitorConfig::for_baud(460_800);
    assert_eq!(MonitorConfig::default(), fast);
    assert_eq!(fast.link_latency_us, u64::from(transmit_time_us(MAX_WIRE_LEN, 921_600)));
    let ratio = slow.link_latency_us as f64 / fast.link_latency_us as f64;
    assert!(
        (ratio - 2.0).abs() < 1e-3,
        "{} vs {}",
        slow.link_latency_us,
        fast.link_latency_us
    );
    // The worst-case frame takes ~18 ms at 921 600 baud, ~36 ms at 460 800.
    assert!((17_000..20_000).contains(&fast.link_latency_us), "{fast:?}");
    assert!(slow.validate().is_ok());

    // The same frame is older on arrival at the slower rate: stale sooner.
    let at = |c: MonitorConfig| {
        let mut m = Monitor::new(c).expect("valid");
        m.accept_frame(frame(1, ModelHealth::Nominal, 20_000), 0);
        m.next_change_us()
    };
    assert_eq!(
        at(fast).zip(at(slow)).map(|(f, s)| f - s),
        Some(slow.link_latency_us - fast.link_latency_us)
    );
    // No frame outruns a line at 0 baud.
    let mut dead = Monitor::new(MonitorConfig::for_baud(0)).expect("valid");
    dead.accept_frame(frame(1, ModelHealth::Nominal, 0), 0);
    assert_eq!(dead.mode(), Mode::ProtectiveStop);
}

#[test]
fn run_uses_the_forecast_fallback_does_not() {
    // The test person walks towards the robot at 1 m/s; make the forecast a 4 m/s lunge.
    let mut lunge = frame(1, ModelHealth::Nominal, 0);
    for (k, step) in lunge.people[0].steps.iter_mut().enumerate() {
        for j in step.joints_in_base_mm.iter_mut() {
            j[0] = 2500 - 400 * k as i16;
        }
    }
    let mut degraded = lunge.clone();
    degraded.health = ModelHealth::Degraded;

    let mut m = Monitor::new(cfg()).expect("valid");
    m.accept_frame(lunge, 0);
    let (run, _) = m.command(&ROBOT, 10_000);
    let Command::Run { scale: run_scale } = run else {
        panic!("expected Run, got {run:?}");
    };
    assert!(m.assessment(&ROBOT, 10_000).is_some_and(|a| a.forecast_tightened));

    let mut m = Monitor::new(cfg()).expect("valid");
    m.accept_frame(degraded, 0);
    let (fallback, _) = m.command(&ROBOT, 10_000);
    let Command::Fallback { scale: fb_scale } = fallback else {
        panic!("expected Fallback, got {fallback:?}");
    };
    assert!(run_scale < fb_scale, "run {run_scale} fallback {fb_scale}");
    assert!(fb_scale > 0.0);
    assert_eq!(run.scale(), run_scale);
}

#[test]
fn transitions_render_with_their_reason() {
    let t = Transition {
        at_us: 101_001,
        from: Mode::Run,
        to: Mode::Fallback,
        reason: Reason::Stale,
        pose_age_us: Some(100_001),
    };
    assert_eq!(
        format!("{t}"),
        "t=101001us Run -> Fallback: pose data stale (pose age 100001us)"
    );
    let t = Transition {
        reason: Reason::Health(ModelHealth::Degraded),
        pose_age_us: None,
        ..t
    };
    assert_eq!(format!("{t}"), "t=101001us Run -> Fallback: model health Degraded");
    let t = Transition {
        reason: Reason::Omitted,
        pose_age_us: Some(12_000),
        ..t
    };
    assert_eq!(
        format!("{t}"),
        "t=101001us Run -> Fallback: people left out of the frame (pose age 12000us)"
    );
}

#[test]
fn config_validation() {
    let bad = MonitorConfig {
        stale_after_us: 300_000,
        ..cfg()
    };
    assert!(matches!(
        Monitor::new(bad),
        Err(MonitorConfigError::StaleAfterDeadline { .. })
    ));
    let bad = MonitorConfig {
        ssm: SsmConfig {
            reaction_time_s: -0.1,
            ..SsmConfig::default()
        },
        ..cfg()
    };
    assert!(matches!(
        Monitor::new(bad),
        Err(MonitorConfigError::Ssm(SsmConfigError::Negative("reaction_time_s")))
    ));
    assert!(MonitorConfig::default().validate().is_ok());
}
