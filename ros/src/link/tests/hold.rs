//! People who drop out of view, through `Hold` → link frame → codec → the MCU's monitor,
//! clocked by the frames' own stamps at 30 Hz.

use a4mer_firmware::monitor::{Monitor, MonitorConfig};
use a4mer_firmware::ssm::RobotState;

use super::{over_the_wire, seen, standing};
use crate::link::*;

const FRAME_NS: i64 = 33_333_333;

const ROBOT: RobotState = RobotState {
    position_in_base_m: [0.0, 0.0, 1.0],
    programmed_speed_mps: 1.0,
};

struct Cell {
    hold: Hold,
    monitor: Monitor,
    events: Vec<HoldEvent>,
    seq: u32,
}

impl Cell {
    fn new() -> Self {
        Self {
            hold: Hold::new(HoldConfig::default()),
            monitor: Monitor::new(MonitorConfig::default()).unwrap(),
            events: Vec::new(),
            seq: 0,
        }
    }

    /// Frame `k` with these people in view; the MCU's speed scale on it.
    fn frame(&mut self, k: i64, in_view: &[(u32, [f32; 2])]) -> (f32, Outgoing) {
        let now_ns = k * FRAME_NS;
        let mut people: Vec<LinkPerson> = in_view
            .iter()
            .map(|(id, [x, y])| seen(*id, standing(*x, *y), now_ns))
            .collect();
        self.hold.update(now_ns, &mut people, |e| self.events.push(e));
        let frame = outgoing(&people, &RigidTransform::IDENTITY, &Monitored::default(), 0, false).unwrap();
        self.seq += 1;
        let now_us = (now_ns / 1000) as u64;
        self.monitor.accept_frame(over_the_wire(&frame, self.seq), now_us);
        (self.monitor.command(&ROBOT, now_us).0.scale(), frame)
    }

    fn count(&self, f: impl Fn(&HoldEvent) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
}

const NEAR: (u32, [f32; 2]) = (1, [1.25, 0.0]);
const FAR: (u32, [f32; 2]) = (2, [4.0, 1.0]);

fn dropout(frames: i64) -> (Cell, Vec<f32>, f32) {
    let mut cell = Cell::new();
    let mut before = 0.0;
    for k in 0..30 {
        before = cell.frame(k, &[NEAR, FAR]).0;
    }
    let during: Vec<f32> = (30..30 + frames).map(|k| cell.frame(k, &[FAR]).0).collect();
    cell.frame(30 + frames, &[NEAR, FAR]);
    (cell, during, before)
}

#[test]
fn a_one_and_a_ten_frame_dropout_never_raise_the_mcus_speed_limit() {
    for frames in [1, 10] {
        let (cell, during, before) = dropout(frames);
        assert!(
            before > 0.0 && before < 1.0,
            "the near person must limit the robot: {before}"
        );
        for (k, scale) in during.iter().enumerate() {
            assert!(
                *scale <= before,
                "{frames}-frame dropout, frame {k}: {scale} > {before}"
            );
        }
        assert_eq!(cell.count(|e| matches!(e, HoldEvent::Held { id: 1, .. })), 1);
        assert_eq!(
            cell.count(|e| matches!(e, HoldEvent::Reacquired { id: 1, as_id: 1, .. })),
            1,
            "{:?}",
            cell.events
        );
        assert_eq!(cell.hold.held_count(), 0);
    }
}

#[test]
fn a_held_person_is_in_the_frame_degraded_with_their_age() {
    let mut cell = Cell::new();
    cell.frame(0, &[NEAR, FAR]);
    let (_, frame) = cell.frame(6, &[FAR]);
    assert_eq!(frame.health, a4mer_firmware::link::ModelHealth::Degraded);
    let held = frame.people.iter().find(|p| p.track_id == 1).unwrap();
    assert_eq!(held.unseen_us, (6 * FRAME_NS / 1000) as u32);
}

#[test]
fn a_dropout_longer_than_the_hold_is_released_and_counted_and_nothing_is_held_forever() {
    let mut cell = Cell::new();
    cell.frame(0, &[NEAR, FAR]);
    let hold_frames = HoldConfig::default().hold_ns / FRAME_NS;
    let mut last = None;
    for k in 1..hold_frames + 10 {
        last = Some(cell.frame(k, &[FAR]).1);
    }
    assert_eq!(
        cell.count(|e| matches!(
            e,
            HoldEvent::Released {
                id: 1,
                why: ReleaseWhy::HoldExpired,
                ..
            }
        )),
        1
    );
    assert_eq!(cell.hold.held_count(), 0);
    assert!(last.unwrap().people.iter().all(|p| p.track_id != 1));
}

#[test]
fn an_id_swap_is_one_reacquisition_with_no_gap() {
    let mut cell = Cell::new();
    for k in 0..10 {
        cell.frame(k, &[NEAR, FAR]);
    }
    let (_, frame) = cell.frame(10, &[(9, NEAR.1), FAR]);
    assert_eq!(
        cell.events,
        vec![HoldEvent::Reacquired {
            id: 1,
            as_id: 9,
            held_ns: FRAME_NS
        }]
    );
    assert!(frame.people.iter().any(|p| p.track_id == 9));
    assert!(frame.people.iter().all(|p| p.track_id != 1), "not sent twice");
    assert_eq!(cell.hold.held_count(), 0);
}

#[test]
fn many_people_flickering_at_once_stay_within_fixed_memory() {
    let mut cell = Cell::new();
    for k in 0..120 {
        // 200 people, half of them in view on alternate frames, 1 m apart.
        let in_view: Vec<(u32, [f32; 2])> = (0..200u32)
            .filter(|i| (i + k as u32).is_multiple_of(2))
            .map(|i| (i, [2.0 + (i / 20) as f32, (i % 20) as f32]))
            .collect();
        let (_, frame) = cell.frame(k, &in_view);
        assert!(cell.hold.held_count() <= HOLD_CAPACITY);
        assert!(frame.omitted > 0 && frame.health == a4mer_firmware::link::ModelHealth::Degraded);
    }
    assert!(
        cell.count(|e| matches!(
            e,
            HoldEvent::Released {
                why: ReleaseWhy::TableFull,
                ..
            }
        )) > 0
    );
}
