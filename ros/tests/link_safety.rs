//! Every person the camera sees reaches the safety MCU, forecast or not: real mocap through
//! the node's own per-message pipeline (what the node and replay run), the firmware's codec
//! and its monitor. Each scenario runs twice, once as the camera really sees it and once
//! fully visible, and the MCU's speed limit must never be higher in the first.

use a4mer_firmware::link::{Header as LinkHeader, LinkFrame, LinkReceiver, MAX_WIRE_LEN, ModelHealth, PositionError};
use a4mer_firmware::monitor::{Monitor, MonitorConfig};
use a4mer_firmware::ssm::RobotState;
use a4mer_motion::bvh::{ImportOptions, import_bvh};
use a4mer_ros::adapters::{AdapterError, InputMessage, Person};
use a4mer_ros::link::{HoldEvent, LinkSource, Outgoing, RigidTransform};
use a4mer_ros::model::LoadedModel;
use a4mer_ros::msg::{Header, Point, Skeleton3D, Skeleton3DArray, Time};
use a4mer_ros::pipeline::{Pipeline, Pushed, Sink};
use a4mer_ros::startup::parameters_from_args;
use a4mer_ros::tf::{TfBuffer, TfError};
use a4mer_runtime::stream::Eviction;
use a4mer_runtime::{Joints, PoseFrame};

const FRAME_NS: i64 = 33_333_333;
const START_NS: i64 = 1_700_000_000_000_000_000;
/// The tool, in the camera frame the poses are in (the link's base frame here).
const TOOL: RobotState = RobotState {
    position_in_base_m: [0.0, 0.0, 1.0],
    programmed_speed_mps: 1.0,
};
/// A rig without feet, seen from the legs down: pelvis, hips, knees, ankles (7 joints).
const LEGS_AND_PELVIS: [usize; 7] = [0, 1, 2, 4, 5, 7, 8];

#[derive(Default)]
struct Collect {
    frames: Vec<Outgoing>,
    without_forecast: Vec<(u32, LinkSource)>,
    holds: Vec<HoldEvent>,
    baseline_forecasts: Vec<a4mer_ros::msg::PoseForecast>,
    rejected_frames: u64,
    rejected_bodies: u64,
    not_followed: u64,
}

impl Sink for Collect {
    fn unusable(&mut self, why: String) {
        panic!("unusable: {why}");
    }
    fn rejected_body(&mut self, _why: &AdapterError) {
        self.rejected_bodies += 1;
    }
    fn not_followed(&mut self, _person: &Person, _max_tracks: usize) {
        self.not_followed += 1;
    }
    fn pushed(&mut self, step: Pushed<'_>) {
        self.rejected_frames += u64::from(step.result.is_err());
    }
    fn link_frame(&mut self, frame: Result<Outgoing, PositionError>) {
        self.frames.push(frame.expect("a link frame"));
    }
    fn link_without_forecast(&mut self, person_id: u32, source: LinkSource) {
        self.without_forecast.push((person_id, source));
    }
    fn hold_event(&mut self, event: &HoldEvent) {
        self.holds.push(*event);
    }
    fn baseline_forecast(&mut self, _person: &Person, forecast: a4mer_ros::msg::PoseForecast) {
        self.baseline_forecasts.push(forecast);
    }
    fn transform_unavailable(&mut self, why: &TfError, _people: usize) {
        panic!("no TF in these scenes: {why}");
    }
    fn evicted(&mut self, _id: u32, _why: Eviction, _max_tracks: usize) {}
}

fn take() -> Vec<PoseFrame> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mocap/bvhtools_test2.bvh");
    import_bvh(&path, &ImportOptions::default()).unwrap().frames
}

/// A person: the take from `offset` frames on, moved so their first pelvis sits at (x, y).
struct Actor {
    id: u32,
    offset: usize,
    at: [f32; 2],
}

impl Actor {
    /// The pose at frame `k`, joints the recording's rig lacks not finite.
    fn joints(&self, take: &[PoseFrame], k: usize) -> Joints {
        let first = take[self.offset].joints_in_world[0];
        let f = &take[(self.offset + k) % take.len()];
        std::array::from_fn(|j| {
            let p = f.joints_in_world[j];
            if f.valid[j] {
                [p[0] - first[0] + self.at[0], p[1] - first[1] + self.at[1], p[2]]
            } else {
                [f32::NAN; 3]
            }
        })
    }
}

fn body(id: u32, joints: &Joints, seen: impl Fn(usize) -> bool) -> Skeleton3D {
    Skeleton3D {
        id,
        layout: "smpl24".into(),
        joint_names: Vec::new(),
        joints: joints
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let v = |c: f32| if seen(j) { f64::from(c) } else { f64::NAN };
                Point {
                    x: v(p[0]),
                    y: v(p[1]),
                    z: v(p[2]),
                }
            })
            .collect(),
        confidences: Vec::new(),
    }
}

fn message(k: usize, bodies: Vec<Skeleton3D>) -> InputMessage {
    InputMessage::Skeleton3DArray(Skeleton3DArray {
        header: Header {
            stamp: Time::from_ns(START_NS + k as i64 * FRAME_NS).unwrap(),
            frame_id: "camera".into(),
        },
        bodies,
    })
}

/// What a scene gave: the link frames, and per message the MCU's speed scale on each and
/// the scale its certified behaviour (the same frame marked Degraded) would give.
struct Ran {
    sink: Collect,
    scales: Vec<f32>,
    certified: Vec<f32>,
}

/// Runs the scene through a pipeline with these parameters.
fn run(params: &[&str], frames: usize, scene: impl Fn(usize) -> Vec<Skeleton3D>) -> Ran {
    let mut args = vec!["--ros-args"];
    for p in params {
        args.extend(["-p", p]);
    }
    let (_, _, config) = parameters_from_args(&args).unwrap();
    let model = LoadedModel::load(None).unwrap();
    let mut pipeline = Pipeline::new(&config, &model, Some(RigidTransform::IDENTITY)).unwrap();
    let tf = TfBuffer::new(10.0);
    let mut sink = Collect::default();
    let mut monitor = Monitor::new(MonitorConfig::default()).unwrap();
    let mut rx = LinkReceiver::new();
    let mut certified_monitor = Monitor::new(MonitorConfig::default()).unwrap();
    let (mut scales, mut certified) = (Vec::new(), Vec::new());
    for k in 0..frames {
        let before = sink.frames.len();
        pipeline.on_message(&message(k, scene(k)), &tf, &mut sink);
        assert_eq!(sink.frames.len(), before + 1, "message {k}: one link frame per message");
        let out = &sink.frames[before];
        let frame = LinkFrame {
            header: LinkHeader {
                session: 1,
                seq: k as u32,
                sender_stamp_us: 0,
                // A detector's own 20 ms.
                pose_age_us: out.pose_age_us + 20_000,
            },
            health: out.health,
            step_ms: out.step_ms,
            omitted: out.omitted,
            people: out.people.clone(),
        };
        let mut wire = [0u8; MAX_WIRE_LEN];
        let n = a4mer_firmware::link::encode_frame(&frame, &mut wire).unwrap();
        let decoded = wire[..n].iter().find_map(|b| rx.push(*b)).unwrap().unwrap();
        let now_us = k as u64 * 33_333;
        let degraded = LinkFrame {
            health: ModelHealth::Degraded,
            ..decoded.clone()
        };
        monitor.accept_frame(decoded, now_us);
        scales.push(monitor.command(&TOOL, now_us).0.scale());
        certified_monitor.accept_frame(degraded, now_us);
        certified.push(certified_monitor.command(&TOOL, now_us).0.scale());
    }
    Ran {
        sink,
        scales,
        certified,
    }
}

fn has(frame: &Outgoing, id: u32) -> bool {
    frame.people.iter().any(|p| u32::from(p.track_id) == id)
}

/// The nearer person is in every link frame, and while partly seen (`span`) never allows
/// more speed than the MCU's certified behaviour gives them fully visible. (A forecast may
/// tighten that bound further when the person is fully visible: the guard's radius is
/// uncapped, so a nominal frame can stop the robot where the certified bound would not.
/// After the span both runs see them whole, but the engine that lost them warms up again
/// while the other one forecasts: the MCU's speed then differs either way.)
fn check_never_faster(what: &str, seen: &Ran, truth: &Ran, id: u32, span: std::ops::Range<usize>) {
    let mut tighter = 0;
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    println!(
        "{what}: mean speed scale while partly seen {:.3}; fully visible {:.3} (certified {:.3})",
        mean(&seen.scales[span.clone()]),
        mean(&truth.scales[span.clone()]),
        mean(&truth.certified[span.clone()])
    );
    for k in 0..seen.scales.len() {
        assert!(
            has(&seen.sink.frames[k], id),
            "{what}: message {k}: person {id} missing from the link frame"
        );
        if span.contains(&k) {
            assert!(
                seen.scales[k] <= truth.certified[k] + 1e-6,
                "{what}: message {k}: speed scale {} with the person partly seen, {} certified fully visible",
                seen.scales[k],
                truth.certified[k]
            );
            assert_eq!(seen.sink.frames[k].health, ModelHealth::Degraded, "{what}: message {k}");
            tighter += usize::from(seen.scales[k] < truth.certified[k]);
        }
    }
    println!(
        "{what}: person {id} in {} of {} link frames; speed limit tighter than certified fully visible in {tighter} of {} frames of the span",
        seen.sink.frames.iter().filter(|f| has(f, id)).count(),
        seen.sink.frames.len(),
        span.len()
    );
}

/// The person nearer the tool, and one farther away, both from the same real take.
const NEAR: Actor = Actor {
    id: 2,
    offset: 0,
    at: [1.4, 0.0],
};
const FAR: Actor = Actor {
    id: 1,
    offset: 200,
    at: [4.0, 2.0],
};

/// The scene: a far person in full view and a nearer one who, for 2 s, shows only `seen`.
fn partly_seen(seen_joints: &'static [usize]) -> (Ran, Ran) {
    let take = take();
    let (near, far) = (NEAR, FAR);
    let scene = |hide: bool| {
        let (take, near, far) = (&take, &near, &far);
        move |k: usize| {
            let partly = hide && PARTLY.contains(&k);
            vec![
                body(far.id, &far.joints(take, k), |_| true),
                body(near.id, &near.joints(take, k), |j| !partly || seen_joints.contains(&j)),
            ]
        }
    };
    (run(&[], 240, scene(true)), run(&[], 240, scene(false)))
}

const PARTLY: std::ops::Range<usize> = 120..180;

#[test]
fn a_nearer_person_seen_from_the_legs_down_for_2_s_is_in_every_link_frame_degraded() {
    // Seven joints: the engine's minimum, so it still forecasts; the link fills the upper
    // body from the pelvis with its reach.
    let (seen, truth) = partly_seen(&LEGS_AND_PELVIS);
    assert_eq!(seen.sink.rejected_frames, 0, "7 joints are a body to the engine");
    check_never_faster("legs and pelvis", &seen, &truth, 2, PARTLY);
}

#[test]
fn a_nearer_person_the_engine_refuses_for_2_s_is_in_every_link_frame_degraded() {
    // Pelvis and hips only: too few for the engine, enough to place the person.
    let (seen, truth) = partly_seen(&[0, 1, 2]);
    assert!(
        seen.sink.rejected_frames >= 60,
        "the engine refuses 3 joints: {}",
        seen.sink.rejected_frames
    );
    let refused = seen
        .sink
        .without_forecast
        .iter()
        .filter(|(id, s)| *id == 2 && *s == LinkSource::EngineRejected);
    assert!(refused.count() >= 60);
    // Each refused frame still yields a forecast, from the baselines: the three joints
    // seen, the others NaN, the spread growing at the ISO 13855 speed.
    let b = &seen.sink.baseline_forecasts;
    assert_eq!(b.len() as u64, seen.sink.rejected_frames);
    for f in b {
        assert_eq!((f.person_id, f.num_steps), (2, 30));
        let finite = f.points[..24].iter().filter(|p| p.x.is_finite()).count();
        assert_eq!(finite, 3);
        assert!((f.spread_m[29] - 1.6).abs() < 1e-3, "{}", f.spread_m[29]);
        assert!(f.model_losing.iter().all(|l| *l));
    }
    check_never_faster("pelvis and hips", &seen, &truth, 2, PARTLY);
}

#[test]
fn a_fifth_person_beyond_tracks_max_and_nearest_is_in_every_link_frame() {
    let take = take();
    let actors: Vec<Actor> = (0..5u32)
        .map(|i| Actor {
            id: i + 1,
            offset: 40 * i as usize,
            at: if i == 4 { [1.4, 0.0] } else { [3.5 + i as f32, 2.0] },
        })
        .collect();
    let scene = |k: usize| {
        actors
            .iter()
            .map(|a| body(a.id, &a.joints(&take, k), |_| true))
            .collect()
    };
    let seen = run(&["tracks.max:=4"], 150, scene);
    let truth = run(&["tracks.max:=5"], 150, scene);
    assert_eq!(seen.sink.not_followed, 150);
    check_never_faster("not followed", &seen, &truth, 5, 0..150);
}

#[test]
fn a_body_the_adapter_rejects_with_finite_joints_is_in_every_link_frame() {
    let take = take();
    let (near, far) = (NEAR, FAR);
    let bad = 60..120;
    let scene = |broken: bool| {
        let (take, near, far, bad) = (&take, &near, &far, bad.clone());
        move |k: usize| {
            let mut b = body(near.id, &near.joints(take, k), |_| true);
            if broken && bad.contains(&k) {
                b.confidences = vec![0.9; 3]; // 3 confidences for 24 joints
            }
            vec![body(far.id, &far.joints(take, k), |_| true), b]
        }
    };
    let seen = run(&[], 150, scene(true));
    let truth = run(&[], 150, scene(false));
    assert_eq!(seen.sink.rejected_bodies, 60);
    check_never_faster("body rejected", &seen, &truth, near.id, bad);
}

/// The camera's pose in the base frame sampled once, then reused for later messages (up to
/// `tf.max_age_s`): the time it is reused adds to the link frame's age and degrades it.
#[test]
fn a_transform_held_past_its_newest_sample_ages_the_link_frame_and_degrades_it() {
    let take = take();
    let args = [
        "--ros-args",
        "-p",
        "output.frame_id:=base_link",
        "-p",
        "tf.max_age_s:=0.5",
    ];
    let (_, _, config) = parameters_from_args(&args).unwrap();
    let model = LoadedModel::load(None).unwrap();
    let mut pipeline = Pipeline::new(&config, &model, Some(RigidTransform::IDENTITY)).unwrap();
    let mut tf = TfBuffer::new(10.0);
    tf.insert(
        &a4mer_ros::msg::TransformStamped {
            header: Header {
                stamp: Time::from_ns(START_NS).unwrap(),
                frame_id: "base_link".into(),
            },
            child_frame_id: "camera".into(),
            transform: Default::default(),
        },
        false,
    );
    let near = NEAR;
    let mut sink = Collect::default();
    for k in 0..10 {
        pipeline.on_message(
            &message(k, vec![body(near.id, &near.joints(&take, k), |_| true)]),
            &tf,
            &mut sink,
        );
    }
    assert_eq!(sink.frames.len(), 10);
    assert_eq!(sink.frames[0].pose_age_us, 0, "the transform's own stamp");
    for (k, f) in sink.frames.iter().enumerate().skip(1) {
        let held_us = (k as i64 * FRAME_NS / 1000) as u32;
        assert_eq!(f.pose_age_us, held_us, "message {k}");
        assert_eq!(f.health, ModelHealth::Degraded, "message {k}");
    }
}
