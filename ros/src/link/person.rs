//! One person as the safety link sees them: observed joints where the camera saw them,
//! filled-in joints with the reach they may have, and the forecast when there is one.

use a4mer_firmware::link::LINK_JOINTS_SMPL24;
use a4mer_runtime::skeleton::SMPL24_PARENTS;
use a4mer_runtime::stream::{Anticipation, HealthState};
use a4mer_runtime::{Joints, NUM_JOINTS, PoseFrame};

use super::LINK_REACH_STEPS;

/// Upper bound of each bone's length, from its parent joint to this joint, metres: about
/// the 99th percentile of adult body dimensions (DIN 33402-2, ISO 7250), rounded up. A
/// joint the camera did not see is placed at its nearest seen joint, and the MCU is told
/// it may lie this far beyond it, summed over the bones between.
pub const MAX_BONE_M: [f32; NUM_JOINTS] = [
    0.0,  // pelvis (root)
    0.13, // left_hip
    0.13, // right_hip
    0.16, // spine1
    0.52, // left_knee
    0.52, // right_knee
    0.16, // spine2
    0.50, // left_ankle
    0.50, // right_ankle
    0.10, // spine3
    0.17, // left_foot
    0.17, // right_foot
    0.26, // neck
    0.20, // left_collar
    0.20, // right_collar
    0.16, // head
    0.16, // left_shoulder
    0.16, // right_shoulder
    0.38, // left_elbow
    0.38, // right_elbow
    0.31, // left_wrist
    0.31, // right_wrist
    0.13, // left_hand
    0.13, // right_hand
];

/// Why a person goes to the MCU without a forecast of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkSource {
    /// The engine's forecast, as published.
    Forecast,
    /// The engine refused this frame (too few joints, a stamp going backwards, ...).
    EngineRejected,
    /// `tracks.max` people are already followed.
    NotFollowed,
    /// The adapter could not turn the body into an engine frame, but some joints are finite.
    BodyRejected,
    /// Out of view since `unseen_ns`: the last observed pose, held for `link.hold_s`.
    Held,
}

/// One person as the safety link sees them, in the forecast frame.
#[derive(Clone, Debug)]
pub struct LinkPerson {
    pub id: u32,
    /// Every joint: observed, or its nearest observed joint's position.
    pub observed: Joints,
    /// How far each joint may lie from `observed`: 0 when seen, else the bones between it
    /// and the joint it was placed at (`MAX_BONE_M`).
    pub reach_m: [f32; NUM_JOINTS],
    /// Forecast steps at the model rate with their spreads; empty: observed pose only.
    pub forecast: Vec<(Joints, f32)>,
    /// The MCU must not trust the forecast (or there is none): its fallback applies.
    pub degraded: bool,
    pub source: LinkSource,
    /// Stamp of `observed`.
    pub stamp_ns: i64,
    /// Time since this person was last seen; 0 for a person in the current message.
    pub unseen_ns: i64,
}

/// Each joint's position and reach: observed joints as they are; every other joint at the
/// observed joint nearest along the skeleton, with the summed bone bounds between. `None`
/// when no joint is observed.
pub fn fill_from_nearest_observed(frame: &PoseFrame) -> Option<(Joints, [f32; NUM_JOINTS])> {
    let mut reach = [f32::INFINITY; NUM_JOINTS];
    let mut from = [usize::MAX; NUM_JOINTS];
    for j in 0..NUM_JOINTS {
        if frame.is_seen(j) {
            reach[j] = 0.0;
            from[j] = j;
        }
    }
    if from.iter().all(|&f| f == usize::MAX) {
        return None;
    }
    // Shortest paths on a 24-joint tree: relaxing every bone both ways, as many rounds as
    // the tree is deep, settles them (Bellman-Ford; no allocation).
    for _ in 0..NUM_JOINTS {
        let mut changed = false;
        for child in 1..NUM_JOINTS {
            let Some(parent) = SMPL24_PARENTS[child] else { continue };
            let bone = MAX_BONE_M[child];
            for (a, b) in [(parent, child), (child, parent)] {
                if reach[a] + bone < reach[b] {
                    reach[b] = reach[a] + bone;
                    from[b] = from[a];
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let joints = std::array::from_fn(|j| frame.joints_in_world[from[j]]);
    Some((joints, reach))
}

/// A link joint placed from one bone away (a hand at its wrist, a foot at its ankle, on
/// rigs without them) stays nominal: the MCU adds its reach. Any other filled-in link
/// joint degrades the frame.
fn filled_beyond_one_terminal_bone(reach: &[f32; NUM_JOINTS]) -> bool {
    LINK_JOINTS_SMPL24.iter().any(|&j| {
        let j = j as usize;
        let terminal = matches!(j, 10 | 11 | 22 | 23);
        reach[j] > 0.0 && !(terminal && reach[j] <= MAX_BONE_M[j])
    })
}

/// A person the engine has a forecast for. `None` when no joint of theirs is observed.
pub fn link_person(id: u32, frame: &PoseFrame, a: &Anticipation) -> Option<LinkPerson> {
    let (observed, reach_m) = fill_from_nearest_observed(frame)?;
    // A published forecast that has lately lost to every baseline within the link's reach
    // must not set the protective distance: the MCU falls back to its certified behaviour
    // instead. A model that merely loses is outvoted by the guard's blend, which then
    // publishes the baseline that wins.
    let losing = a.guard.published_losing_within(LINK_REACH_STEPS);
    let degraded = a.health.state != HealthState::Ok
        || a.forecast.is_empty()
        || reach_m[0] > 0.0
        || losing
        || filled_beyond_one_terminal_bone(&reach_m);
    Some(LinkPerson {
        id,
        observed,
        reach_m,
        forecast: a.forecast.iter().map(|s| (s.joints_in_world, s.spread_m)).collect(),
        degraded,
        source: LinkSource::Forecast,
        stamp_ns: frame.stamp_ns,
        unseen_ns: 0,
    })
}

/// A person seen in this message without a forecast: the observed pose only, Degraded, so
/// the MCU's fallback grows their reach with the pose's age. `None` when no joint is
/// observed.
pub fn observed_person(id: u32, frame: &PoseFrame, source: LinkSource) -> Option<LinkPerson> {
    let (observed, reach_m) = fill_from_nearest_observed(frame)?;
    Some(LinkPerson {
        id,
        observed,
        reach_m,
        forecast: Vec::new(),
        degraded: true,
        source,
        stamp_ns: frame.stamp_ns,
        unseen_ns: 0,
    })
}
