//! The watchdog on embassy-time's mock clock: every transition checked at the exact
//! microsecond, including the embassy `Timer` that wakes the safety task.
#![cfg(feature = "watchdog")]

use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Waker};

use a4mer_firmware::link::{ForecastStep, Header, LINK_JOINTS, LinkFrame, ModelHealth, PersonForecast};
use a4mer_firmware::monitor::{Command, Mode, MonitorConfig, Reason, Transition};
use a4mer_firmware::ssm::{RobotState, SsmConfig};
use a4mer_firmware::watchdog::Watchdog;
use embassy_time::{Duration, Instant, MockDriver, Timer};

/// The mock clock is process-global: one test at a time.
static CLOCK: Mutex<()> = Mutex::new(());

fn clock() -> MutexGuard<'static, ()> {
    let guard = CLOCK.lock().unwrap_or_else(|e| e.into_inner());
    MockDriver::get().reset();
    guard
}

fn advance_us(us: u64) {
    MockDriver::get().advance(Duration::from_micros(us));
}

fn cfg() -> MonitorConfig {
    MonitorConfig {
        stale_after_us: 100_000,
        deadline_us: 300_000,
        link_latency_us: 2_000,
        ssm: SsmConfig::default(),
    }
}

fn frame(seq: u32, health: ModelHealth, pose_age_us: u32) -> LinkFrame {
    let mut steps = heapless::Vec::new();
    for k in 0..3i16 {
        let step = ForecastStep {
            spread_mm: 0,
            joints_in_base_mm: [[2500 - 100 * k, 0, 1000]; LINK_JOINTS],
        };
        steps.push(step).expect("MAX_STEPS");
    }
    let mut people = heapless::Vec::new();
    let person = PersonForecast {
        track_id: 1,
        unseen_us: 0,
        reach_mm: [0; LINK_JOINTS],
        steps,
    };
    people.push(person).expect("MAX_PEOPLE");
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
    position_in_base_m: [0.0, 0.0, 1.0],
    programmed_speed_mps: 1.0,
};

fn expect(at_us: u64, from: Mode, to: Mode, reason: Reason, age: u64) -> Option<Transition> {
    Some(Transition {
        at_us,
        from,
        to,
        reason,
        pose_age_us: Some(age),
    })
}

/// Polls `fut` once with a no-op waker.
fn ready<F: Future>(fut: std::pin::Pin<&mut F>) -> bool {
    fut.poll(&mut Context::from_waker(Waker::noop())).is_ready()
}

#[test]
fn transitions_at_the_exact_microsecond() {
    let _c = clock();
    let mut wd = Watchdog::new(cfg()).expect("valid config");
    assert_eq!(wd.command(&ROBOT), (Command::ProtectiveStop, None));

    advance_us(1_234);
    // 8 ms old at send + 2 ms link latency: stale 90 ms after reception.
    assert_eq!(
        wd.on_frame(frame(1, ModelHealth::Nominal, 8_000)),
        expect(1_234, Mode::ProtectiveStop, Mode::Run, Reason::Fresh, 10_000)
    );
    let (cmd, t) = wd.command(&ROBOT);
    assert_eq!(t, None);
    assert!(
        matches!(cmd, Command::Run { scale } if scale > 0.0 && scale <= 1.0),
        "{cmd:?}"
    );
    assert_eq!(wd.next_change(), Some(Instant::from_micros(1_234 + 90_001)));

    advance_us(90_000);
    assert_eq!(wd.poll(), None);
    assert_eq!(wd.mode(), Mode::Run);
    advance_us(1);
    assert_eq!(
        wd.poll(),
        expect(91_235, Mode::Run, Mode::Fallback, Reason::Stale, 100_001)
    );
    assert!(matches!(wd.command(&ROBOT).0, Command::Fallback { .. }));

    assert_eq!(wd.next_change(), Some(Instant::from_micros(1_234 + 290_001)));
    advance_us(199_999);
    assert_eq!(wd.poll(), None);
    advance_us(1);
    assert_eq!(
        wd.command(&ROBOT),
        (
            Command::ProtectiveStop,
            expect(291_235, Mode::Fallback, Mode::ProtectiveStop, Reason::Deadline, 300_001)
        )
    );
    assert_eq!(wd.next_change(), None);
}

#[test]
fn degraded_health_falls_back_on_arrival() {
    let _c = clock();
    let mut wd = Watchdog::new(cfg()).expect("valid config");
    advance_us(50);
    assert_eq!(
        wd.on_frame(frame(1, ModelHealth::Degraded, 0)),
        expect(
            50,
            Mode::ProtectiveStop,
            Mode::Fallback,
            Reason::Health(ModelHealth::Degraded),
            2_000
        )
    );
    advance_us(10_000);
    assert_eq!(
        wd.on_frame(frame(2, ModelHealth::Nominal, 0)),
        expect(10_050, Mode::Fallback, Mode::Run, Reason::Fresh, 2_000)
    );
}

/// The embassy timer the safety task sleeps on fires exactly at the threshold crossing.
#[test]
fn timer_wakes_exactly_at_the_next_change() {
    let _c = clock();
    let mut wd = Watchdog::new(cfg()).expect("valid config");
    wd.on_frame(frame(1, ModelHealth::Nominal, 0));
    let far = Instant::from_secs(10);
    {
        let mut sleep = pin!(wd.sleep_until_change_or(far));
        assert!(!ready(sleep.as_mut()));
        advance_us(98_000); // stale after 100_000 - 2_000 (latency) us
        assert!(!ready(sleep.as_mut()));
        advance_us(1);
        assert!(ready(sleep.as_mut()));
    }
    assert_eq!(
        wd.poll(),
        expect(98_001, Mode::Run, Mode::Fallback, Reason::Stale, 100_001)
    );

    // A control tick earlier than the next change wins.
    {
        let tick = Instant::now() + Duration::from_micros(500);
        let mut sleep = pin!(wd.sleep_until_change_or(tick));
        assert!(!ready(sleep.as_mut()));
        advance_us(499);
        assert!(!ready(sleep.as_mut()));
        advance_us(1);
        assert!(ready(sleep.as_mut()));
    }

    // A plain embassy Timer on the same clock, for reference.
    let mut t = pin!(Timer::after_micros(10));
    assert!(!ready(t.as_mut()));
    advance_us(10);
    assert!(ready(t.as_mut()));
}
