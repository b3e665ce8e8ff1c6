//! What the MCU is told, through the real path: people → link frame → the firmware's codec
//! and `LinkReceiver` → its `Monitor`. Every check compares the MCU's speed limit with what
//! the truth (everyone, fully visible, assessed by the firmware's own SSM) allows.

use a4mer_firmware::link::{LinkFrame, LinkReceiver, MAX_WIRE_LEN, ModelHealth, PersonForecast, encode_frame};
use a4mer_firmware::monitor::{Command, Mode, Monitor, MonitorConfig};
use a4mer_firmware::ssm::{ForecastUse, HumanView, RobotState, SsmConfig, assess};
use a4mer_runtime::{Joints, NUM_JOINTS, PoseFrame};

use super::*;

const ROBOT_AT_1M: RobotState = RobotState {
    position_in_base_m: [0.0, 0.0, 1.0],
    programmed_speed_mps: 1.0,
};

/// A standing person: pelvis at (x, y), joints in a column up to the head, shoulders and
/// arms out along +y and -y.
pub(super) fn standing(x: f32, y: f32) -> Joints {
    std::array::from_fn(|j| [x, y + if j % 2 == 0 { 0.05 } else { -0.05 }, 0.1 + 0.065 * j as f32])
}

pub(super) fn seen(id: u32, joints: Joints, stamp_ns: i64) -> LinkPerson {
    let frame = PoseFrame::new(stamp_ns, joints, [true; NUM_JOINTS]);
    let mut p = observed_person(id, &frame, LinkSource::Forecast).unwrap();
    p.degraded = false;
    p
}

/// The frame as the MCU decodes it off the wire.
pub(super) fn over_the_wire(frame: &Outgoing, seq: u32) -> LinkFrame {
    let sent = LinkFrame {
        header: a4mer_firmware::link::Header {
            session: 1,
            seq,
            sender_stamp_us: 0,
            pose_age_us: frame.pose_age_us,
        },
        health: frame.health,
        step_ms: frame.step_ms,
        omitted: frame.omitted,
        people: frame.people.clone(),
    };
    let mut wire = [0u8; MAX_WIRE_LEN];
    let n = encode_frame(&sent, &mut wire).unwrap();
    let mut rx = LinkReceiver::new();
    let got = wire[..n].iter().find_map(|b| rx.push(*b)).unwrap().unwrap();
    assert_eq!(got, sent);
    got
}

/// The MCU's command the moment this frame arrives.
fn mcu(frame: &Outgoing, robot: &RobotState) -> (Mode, Command) {
    let mut m = Monitor::new(MonitorConfig::default()).unwrap();
    m.accept_frame(over_the_wire(frame, 1), 1_000);
    let (command, _) = m.command(robot, 1_000);
    (m.mode(), command)
}

/// The speed limit the truth allows: everyone, exactly where they are, no forecast.
fn truth_scale(people: &[Joints], robot: &RobotState, age_us: u32) -> f32 {
    let sent: Vec<PersonForecast> = people
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let p = seen(i as u32, *j, 0);
            people_for_link(&[p], &RigidTransform::IDENTITY, &Monitored::default(), 1)
                .unwrap()
                .people[0]
                .clone()
        })
        .collect();
    let age_s = (age_us as u64 + MonitorConfig::default().link_latency_us) as f32 / 1e6;
    let view = HumanView {
        people: &sent,
        step_ms: LINK_STEP_MS,
        pose_age_s: age_s,
    };
    assess(&SsmConfig::default(), robot, &view, ForecastUse::Ignore).scale
}

fn one_person_2m_away() -> Outgoing {
    let people = [seen(7, standing(2.0, 0.0), 0)];
    outgoing(&people, &RigidTransform::IDENTITY, &Monitored::default(), 0, false).unwrap()
}

#[test]
fn an_unplaced_message_carries_the_last_placed_people_as_old_as_they_are() {
    let placed_frame = one_person_2m_away();
    let placed = Placed {
        people: placed_frame.people.clone(),
        stamp_ns: 5_000_000_000,
    };
    let later = unplaced(Some(&placed), 5_000_000_000 + 60_000_000);
    assert_eq!(later.health, ModelHealth::Degraded);
    assert_eq!(later.people, placed_frame.people);
    assert_eq!(later.pose_age_us, 60_000);
    // Degraded: the MCU's certified fallback on those people, not the forecast.
    assert!(matches!(
        mcu(&later, &ROBOT_AT_1M),
        (Mode::Fallback, Command::Fallback { .. })
    ));
    // Once they are older than its deadline, it stops the robot.
    let much_later = unplaced(Some(&placed), 5_000_000_000 + 400_000_000);
    assert_eq!(
        mcu(&much_later, &ROBOT_AT_1M),
        (Mode::ProtectiveStop, Command::ProtectiveStop)
    );
}

#[test]
fn a_clock_stepping_back_20_s_ages_the_frame_to_the_deadline_never_to_zero() {
    let placed_frame = one_person_2m_away();
    let placed = Placed {
        people: placed_frame.people,
        stamp_ns: 100_000_000_000,
    };
    let stepped_back = unplaced(Some(&placed), 80_000_000_000);
    assert_eq!(stepped_back.pose_age_us, u32::MAX);
    assert_eq!(
        mcu(&stepped_back, &ROBOT_AT_1M),
        (Mode::ProtectiveStop, Command::ProtectiveStop)
    );
}

#[test]
fn nobody_ever_placed_is_pose_data_past_any_deadline_not_an_empty_scene() {
    let frame = unplaced(None, 1);
    assert!(frame.people.is_empty());
    assert_eq!((frame.health, frame.pose_age_us), (ModelHealth::Degraded, u32::MAX));
    assert_eq!(
        mcu(&frame, &ROBOT_AT_1M),
        (Mode::ProtectiveStop, Command::ProtectiveStop)
    );
    // What an empty frame would have meant: nobody there, full speed.
    let empty = outgoing(&[], &RigidTransform::IDENTITY, &Monitored::default(), 0, false).unwrap();
    assert!(matches!(mcu(&empty, &ROBOT_AT_1M), (Mode::Run, Command::Run { .. })));
}

#[test]
fn the_two_nearest_the_tool_go_out_and_a_frame_that_leaves_someone_out_says_so() {
    // A and B 0.8 m from the base on its far side; C 1.3 m from the base but 0.2 m from
    // the extended tool.
    let tool = RobotState {
        position_in_base_m: [1.1, 0.0, 1.0],
        programmed_speed_mps: 1.0,
    };
    let (a, b, c) = (standing(-0.8, 0.0), standing(-0.8 * 0.6, 0.8 * 0.8), standing(1.3, 0.0));
    let people = [seen(1, a, 0), seen(2, b, 0), seen(3, c, 0)];
    let truth = truth_scale(&[a, b, c], &tool, 0);
    let monitored = Monitored {
        points_in_base_m: vec![[0.0, 0.0, 1.0], tool.position_in_base_m],
        ..Monitored::default()
    };
    let frame = outgoing(&people, &RigidTransform::IDENTITY, &monitored, 0, false).unwrap();
    assert!(
        frame.people.iter().any(|p| p.track_id == 3),
        "C, nearest the tool, is sent"
    );
    assert_eq!((frame.omitted, frame.health), (1, ModelHealth::Degraded));
    let (mode, command) = mcu(&frame, &tool);
    assert_eq!(mode, Mode::Fallback, "a frame that left someone out is not trusted");
    assert!(command.scale() <= truth, "{} > truth {truth}", command.scale());
    // Nearest the base alone (what the node did before): C is left out, and the MCU would
    // let the tool run faster than the truth allows.
    let base_only = outgoing(&people, &RigidTransform::IDENTITY, &Monitored::default(), 0, false).unwrap();
    assert!(base_only.people.iter().all(|p| p.track_id != 3));
    assert!(mcu(&base_only, &tool).1.scale() > truth);
}

#[test]
fn a_hidden_forearm_is_sent_with_its_reach_and_never_allows_more_speed_than_the_truth() {
    // Right arm reaching 0.6 m beyond the shoulder toward the robot (at x = 0).
    let mut truth = standing(1.85, 0.0);
    let shoulder = truth[17];
    truth[19] = [shoulder[0] - 0.3, shoulder[1], shoulder[2]];
    truth[21] = [shoulder[0] - 0.5, shoulder[1], shoulder[2]];
    truth[23] = [shoulder[0] - 0.6, shoulder[1], shoulder[2]];
    let robot = RobotState {
        position_in_base_m: [0.0, 0.0, shoulder[2]],
        programmed_speed_mps: 1.0,
    };
    let mut valid = [true; NUM_JOINTS];
    for hidden in [19, 21, 23] {
        valid[hidden] = false;
    }
    let frame = PoseFrame::new(0, truth, valid);
    let hidden = observed_person(1, &frame, LinkSource::EngineRejected).unwrap();
    // Placed at the shoulder, with the bones' reach.
    assert_eq!(hidden.observed[23], shoulder);
    let reach = MAX_BONE_M[19] + MAX_BONE_M[21] + MAX_BONE_M[23];
    assert!((hidden.reach_m[23] - reach).abs() < 1e-6, "{}", hidden.reach_m[23]);
    let sent = outgoing(&[hidden], &RigidTransform::IDENTITY, &Monitored::default(), 0, false).unwrap();
    assert_eq!(
        sent.people[0].reach_mm[7],
        (reach * 1000.0).ceil() as u16,
        "right hand's reach on the wire"
    );
    let hidden_scale = mcu(&sent, &robot).1.scale();
    let truth_scale = truth_scale(&[truth], &robot, 0);
    assert!(
        truth_scale > 0.0 && truth_scale < 1.0,
        "the case must be a real limit: {truth_scale}"
    );
    assert!(hidden_scale <= truth_scale, "{hidden_scale} > truth {truth_scale}");
    // Without the reach the hand would sit at the shoulder, 0.6 m further than it is.
    let mut no_reach = sent.clone();
    no_reach.people[0].reach_mm = [0; 12];
    assert!(mcu(&no_reach, &robot).1.scale() > truth_scale);
}

#[test]
fn a_person_with_no_finite_joint_cannot_be_placed_and_one_with_any_can() {
    let mut joints = standing(1.0, 0.0);
    joints[0] = [f32::NAN; 3];
    let mut valid = [false; NUM_JOINTS];
    assert!(observed_person(1, &PoseFrame::new(0, joints, valid), LinkSource::BodyRejected).is_none());
    valid[0] = true; // NaN but flagged valid: still not a position
    assert!(observed_person(1, &PoseFrame::new(0, joints, valid), LinkSource::BodyRejected).is_none());
    valid[15] = true;
    let p = observed_person(1, &PoseFrame::new(0, joints, valid), LinkSource::BodyRejected).unwrap();
    assert!(p.observed.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(p.observed[0], joints[15], "the pelvis at the head, the only joint seen");
    assert!(p.degraded);
}

mod hold;
