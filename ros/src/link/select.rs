//! Which people go to the MCU: the two nearest the points it monitors, in the robot base
//! frame, millimetres; a frame that leaves anyone out, or carries anyone the MCU must not
//! trust, is Degraded.

use a4mer_firmware::link::{
    ForecastStep, LINK_JOINTS, LINK_JOINTS_SMPL24, MAX_PEOPLE, MAX_STEPS, ModelHealth, PersonForecast, PositionError,
};
use a4mer_runtime::Joints;

use super::person::LinkPerson;
use super::{LINK_MAX_SPREAD_M, LINK_STEP_MS, LINK_STRIDE, Outgoing, Placed, RigidTransform, distance_m};

/// What the MCU watches, in the robot base frame: the points it monitors (the tool, the
/// elbow, the base) with the radius the robot's moving parts may reach around them
/// (`link.monitored_points`, `link.monitored_radius_m`). People are ranked by how near
/// they may be to any of them: their nearest link joint's distance, less its filled-in
/// reach and, for a held person, the distance they may have covered since last seen.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitored {
    pub points_in_base_m: Vec<[f32; 3]>,
    pub radius_m: f32,
    pub human_speed_mps: f32,
}

impl Default for Monitored {
    /// The base's origin, as a robot whose reach the node is not told.
    fn default() -> Self {
        Self {
            points_in_base_m: vec![[0.0; 3]],
            radius_m: 0.0,
            human_speed_mps: 1.6,
        }
    }
}

impl Monitored {
    fn nearness_m(&self, joints_in_base: &[[f32; 3]; LINK_JOINTS], reach_m: &[f32; LINK_JOINTS], unseen_s: f32) -> f32 {
        let mut nearest = f32::INFINITY;
        for (q, reach) in joints_in_base.iter().zip(reach_m) {
            for c in &self.points_in_base_m {
                nearest = nearest.min(distance_m(q, c) - self.radius_m - reach);
            }
        }
        nearest - self.human_speed_mps * unseen_s
    }
}

/// The people a link frame carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Selected {
    pub people: heapless::Vec<PersonForecast, MAX_PEOPLE>,
    /// Seen but left out for lack of room.
    pub omitted: u8,
    /// A person sent is one the MCU must not trust.
    pub degraded: bool,
}

/// The link's view of up to `MAX_PEOPLE` people, nearest the monitored points first: the
/// observed pose plus every `stride`-th forecast step, the link joints only, in the base
/// frame, millimetres; and how many were left out.
pub fn people_for_link(
    people: &[LinkPerson],
    base_from_forecast: &RigidTransform,
    monitored: &Monitored,
    stride: usize,
) -> Result<Selected, PositionError> {
    let stride = stride.max(1);
    let pick = |pose: &Joints| -> [[f32; 3]; LINK_JOINTS] {
        std::array::from_fn(|k| base_from_forecast.apply(pose[LINK_JOINTS_SMPL24[k] as usize]))
    };
    let link_reach =
        |p: &LinkPerson| -> [f32; LINK_JOINTS] { std::array::from_fn(|k| p.reach_m[LINK_JOINTS_SMPL24[k] as usize]) };
    let mut order: Vec<(f32, usize)> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let unseen_s = p.unseen_ns.max(0) as f32 / 1e9;
            (monitored.nearness_m(&pick(&p.observed), &link_reach(p), unseen_s), i)
        })
        .collect();
    // A NaN ranks first: the MCU sees it refused rather than someone near left out.
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = heapless::Vec::new();
    let mut degraded = false;
    for &(_, i) in order.iter().take(MAX_PEOPLE) {
        let p = &people[i];
        degraded |= p.degraded;
        let mut steps = heapless::Vec::<ForecastStep, MAX_STEPS>::new();
        // Capacity: 1 + (MAX_STEPS - 1) by construction.
        let _ = steps.push(ForecastStep::from_metres(&pick(&p.observed), 0.0)?);
        for (pose, spread_m) in p.forecast.iter().skip(stride - 1).step_by(stride).take(MAX_STEPS - 1) {
            // `min` would turn a NaN into the maximum: a NaN stays one and is refused.
            let spread_m = if spread_m.is_nan() {
                *spread_m
            } else {
                spread_m.min(LINK_MAX_SPREAD_M)
            };
            let _ = steps.push(ForecastStep::from_metres(&pick(pose), spread_m)?);
        }
        let reach_mm = link_reach(p).map(|r| {
            // Rounded up, saturating: a reach is never sent shorter than it is.
            let mm = (r * 1000.0).ceil();
            if mm.is_nan() {
                u16::MAX
            } else {
                mm.clamp(0.0, f32::from(u16::MAX)) as u16
            }
        });
        let _ = out.push(PersonForecast {
            track_id: p.id as u16,
            unseen_us: (p.unseen_ns.max(0) / 1000).min(i64::from(u32::MAX)) as u32,
            reach_mm,
            steps,
        });
    }
    let omitted = order.len().saturating_sub(MAX_PEOPLE).min(usize::from(u8::MAX)) as u8;
    Ok(Selected {
        people: out,
        omitted,
        degraded,
    })
}

/// The link frame for one message's people (live and held): 100 ms steps; Degraded if a
/// person sent is, or anyone was left out, or `degraded` (a transform held past its newest
/// sample). `pose_age_us`: how much older than the message its poses are.
pub fn outgoing(
    people: &[LinkPerson],
    base: &RigidTransform,
    monitored: &Monitored,
    pose_age_us: u64,
    degraded: bool,
) -> Result<Outgoing, PositionError> {
    let Selected {
        people: sent,
        omitted,
        degraded: sent_degraded,
    } = people_for_link(people, base, monitored, LINK_STRIDE)?;
    Ok(Outgoing {
        health: if degraded || omitted > 0 || sent_degraded {
            ModelHealth::Degraded
        } else {
            ModelHealth::Nominal
        },
        step_ms: LINK_STEP_MS,
        omitted,
        pose_age_us: pose_age_us.min(u64::from(u32::MAX)) as u32,
        people: sent,
    })
}

/// The link frame for a message whose people could not be placed in the base frame (no
/// usable transform): `Degraded`, carrying the last people that were placed, as old as
/// they are, so the MCU's fallback keeps them and grows their reach with that age until its
/// deadline stops the robot. Nobody placed yet, or a stamp older than theirs (the clock
/// stepped back: their age is unknown): no age the MCU could trust, so the largest, which
/// it treats as pose data past its deadline (a protective stop), never as fresh.
pub fn unplaced(last: Option<&Placed>, stamp_ns: i64) -> Outgoing {
    let (people, pose_age_us) = match last {
        Some(p) if stamp_ns >= p.stamp_ns => (
            p.people.clone(),
            ((stamp_ns - p.stamp_ns) / 1000).min(i64::from(u32::MAX)) as u32,
        ),
        Some(p) => (p.people.clone(), u32::MAX),
        None => (heapless::Vec::new(), u32::MAX),
    };
    Outgoing {
        health: ModelHealth::Degraded,
        step_ms: LINK_STEP_MS,
        omitted: 0,
        pose_age_us,
        people,
    }
}
