//! The bad-input corpus (`cases.toml`) as messages: shared by the node's tests (a4mer-ros's
//! `bad_inputs`) and replay's (a4mer-replay's `bad_inputs`), which include this file.
// Each includer reads part of a case: only DDS drops messages (`transport_may_drop`).
#![allow(dead_code)]

use a4mer_ros::adapters::skeleton_array;
use a4mer_ros::msg::{Point, Skeleton3DArray, Time};
use a4mer_runtime::PoseFrame;
use serde::Deserialize;

use crate::common::mocap_frames_from;

pub const PREFIX: usize = 40;
pub const AFTER: usize = 10;
const YEAR_NS: i64 = 365 * 24 * 3600 * 1_000_000_000;

#[derive(Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Deserialize, Clone, Debug)]
pub struct Case {
    pub name: String,
    pub kind: String,
    pub expect: String,
    pub joints: Option<toml::Value>,
    pub offset: Option<[f64; 3]>,
    pub stamp: Option<String>,
    pub bytes: Option<usize>,
    pub count: Option<u32>,
    #[serde(default)]
    pub transport_may_drop: bool,
}

pub fn corpus() -> Vec<Case> {
    let text = include_str!("cases.toml");
    toml::from_str::<Corpus>(text).unwrap().case
}

/// The messages of one case for person `id`: the warm prefix, the bad message, the good
/// frames after it. Also the index of the bad message.
pub fn messages(case: &Case, id: u32, t0_ns: i64) -> (Vec<Skeleton3DArray>, usize) {
    let frames: Vec<PoseFrame> = mocap_frames_from(0, PREFIX + 1 + AFTER)
        .into_iter()
        .map(|f| PoseFrame {
            stamp_ns: f.stamp_ns - 1_700_000_000_000_000_000 + t0_ns,
            ..f
        })
        .collect();
    let good = |f: &PoseFrame| skeleton_array(f.stamp_ns, "world", &[(id, f)]).unwrap();
    let mut out: Vec<Skeleton3DArray> = frames[..PREFIX].iter().map(good).collect();
    let f = frames[PREFIX];
    let mut bad = good(&f);
    let body = &mut bad.bodies[0];
    let set_all = |body: &mut a4mer_ros::msg::Skeleton3D, v: f64, which: &dyn Fn(usize) -> bool| {
        for (j, p) in body.joints.iter_mut().enumerate() {
            if which(j) {
                *p = Point { x: v, y: v, z: v };
            }
        }
    };
    match case.kind.as_str() {
        "nan_joints" | "inf_joints" => {
            let v = if case.kind == "nan_joints" {
                f64::NAN
            } else {
                f64::INFINITY
            };
            match &case.joints {
                Some(toml::Value::Array(list)) => {
                    let list: Vec<usize> = list.iter().map(|j| j.as_integer().unwrap() as usize).collect();
                    set_all(body, v, &|j| list.contains(&j));
                }
                _ => set_all(body, v, &|_| true),
            }
        }
        "all_joints_identical" => {
            let p = body.joints[0];
            body.joints.iter_mut().for_each(|q| *q = p);
        }
        "offset_m" => {
            let o = case.offset.unwrap();
            for p in &mut body.joints {
                p.x += o[0];
                p.y += o[1];
                p.z += o[2];
            }
        }
        "truncate_joints" => {
            let n = case.joints.as_ref().and_then(|v| v.as_integer()).unwrap() as usize;
            body.joints.truncate(n);
            if n == 0 {
                body.joint_names.clear();
                body.confidences.clear();
            }
        }
        "no_bodies" => bad.bodies.clear(),
        "stamp" => {
            let last = frames[PREFIX - 1].stamp_ns;
            let ns = match case.stamp.as_deref().unwrap() {
                "zero" => 0,
                "back_100ms" => last - 100_000_000,
                "duplicate" => last,
                "ahead_10y" => f.stamp_ns + 10 * YEAR_NS,
                other => panic!("stamp {other}"),
            };
            bad.header.stamp = Time::from_ns(ns).unwrap();
        }
        "huge_body" => {
            let n = case.bytes.unwrap() / 24;
            body.joints = vec![Point { x: 1.0, y: 1.0, z: 1.0 }; n];
        }
        "people" => {
            let n = case.count.unwrap();
            let bodies: Vec<_> = (0..n).map(|k| (id + k, &f)).collect();
            bad = skeleton_array(f.stamp_ns, "world", &bodies).unwrap();
        }
        other => panic!("{}: unknown kind {other}", case.name),
    }
    out.push(bad);
    out.extend(frames[PREFIX + 1..].iter().map(good));
    (out, PREFIX)
}
