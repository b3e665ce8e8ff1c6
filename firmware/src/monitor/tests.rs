use std::format;

use super::*;
use crate::link::tests::person;
use crate::link::{Header, LinkFrame, MAX_STEPS, ModelHealth};

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
