use heapless::Vec;
use proptest::prelude::*;
use std::vec::Vec as StdVec;

use super::*;
use crate::link::{ForecastStep, LINK_JOINTS, MAX_PEOPLE, MAX_STEPS};

const ORIGIN: [f32; 3] = [0.0; 3];

/// A person whose every joint is at `x_mm` on the x axis at step 0, moving by `dx_mm` per step.
fn point_person(x_mm: i16, dx_mm: i16, steps: usize, spread_mm: u16) -> PersonForecast {
    let mut p = PersonForecast {
        track_id: 1,
        unseen_us: 0,
        reach_mm: [0; LINK_JOINTS],
        steps: Vec::new(),
    };
    for k in 0..steps {
        let x = x_mm + dx_mm * k as i16;
        p.steps
            .push(ForecastStep {
                spread_mm: if k == 0 { 0 } else { spread_mm },
                joints_in_base_mm: [[x, 0, 0]; LINK_JOINTS],
            })
            .expect("MAX_STEPS");
    }
    p
}

fn robot(speed: f32) -> RobotState {
    RobotState {
        position_in_base_m: ORIGIN,
        programmed_speed_mps: speed,
    }
}

fn view(people: &[PersonForecast], age_s: f32) -> HumanView<'_> {
    HumanView {
        people,
        step_ms: 100,
        pose_age_s: age_s,
    }
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-4
}

#[test]
fn protective_distance_is_the_sum_of_its_terms() {
    let cfg = SsmConfig::default();
    // S_h = 1.6 * (0.1 + 0.3), S_r = 1.0 * 0.1, S_s = 1.0 * 0.3 / 2,
    // C + Z_d + quantization + Z_r = 0.2 + 0.1 + 0.0005 + 0.02.
    let expected = 0.64 + 0.1 + 0.15 + 0.3205;
    assert!(close(cfg.protective_distance_m(1.6, 1.0), expected));
}

#[test]
fn conservative_scale_matches_hand_computation() {
    let cfg = SsmConfig::default();
    let people = [point_person(2000, 0, 1, 0)];
    let a = assess(&cfg, &robot(5.0), &view(&people, 0.0), ForecastUse::Ignore);
    // separation = 2.0 - 0.15 (robot radius) = 1.85; far speed applies.
    // room = 1.85 - 1.6 * 0.4 - 0.3205 = 0.8895; v = room / (0.1 + 0.15) = 3.558 m/s.
    assert!(close(a.separation_m, 1.85));
    assert!(close(a.s_h_m, 0.64));
    assert!(close(a.s_rs_m, 1.25));
    assert!(close(a.scale, 3.558 / 5.0), "{a:?}");
    // The scale is exactly where S_p at the scaled speed meets the separation.
    assert!(close(cfg.protective_distance_m(1.6, 5.0 * a.scale), a.separation_m));
    assert!(!a.forecast_tightened);
}

#[test]
fn near_speed_applies_within_half_a_metre() {
    let cfg = SsmConfig::default();
    // separation 0.45 m: v_h = 2.0, S_h = 0.8 > separation: stop.
    let people = [point_person(600, 0, 1, 0)];
    let a = assess(&cfg, &robot(1.0), &view(&people, 0.0), ForecastUse::Ignore);
    assert!(close(a.s_h_m, 0.8));
    assert_eq!(a.scale, 0.0);
}

#[test]
fn pose_age_is_counted_as_approach() {
    let cfg = SsmConfig::default();
    let people = [point_person(2000, 0, 1, 0)];
    let fresh = assess(&cfg, &robot(5.0), &view(&people, 0.0), ForecastUse::Ignore);
    let old = assess(&cfg, &robot(5.0), &view(&people, 0.2), ForecastUse::Ignore);
    assert!(close(old.s_h_m - fresh.s_h_m, 1.6 * 0.2));
    assert!(old.scale < fresh.scale);
}

#[test]
fn forecast_of_a_lunge_tightens_and_retreat_does_not_loosen() {
    let cfg = SsmConfig::default();
    // 3 m/s towards the robot (300 mm per 100 ms step), faster than ISO's 1.6 m/s.
    let lunge = [point_person(2500, -300, MAX_STEPS, 0)];
    let ignore = assess(&cfg, &robot(5.0), &view(&lunge, 0.0), ForecastUse::Ignore);
    let tighten = assess(&cfg, &robot(5.0), &view(&lunge, 0.0), ForecastUse::Tighten);
    assert!(tighten.forecast_tightened);
    assert!(tighten.scale < ignore.scale, "{tighten:?} vs {ignore:?}");
    // Step 4 (t = 0.4 s = T_r + T_s) predicts 2.5 - 1.2 = 1.3 m, i.e. S_h = 1.2 m.
    assert!(close(tighten.s_h_m, 1.2), "{tighten:?}");

    // Walking away: the forecast must not raise the allowed speed.
    let retreat = [point_person(2000, 300, MAX_STEPS, 0)];
    let ignore = assess(&cfg, &robot(5.0), &view(&retreat, 0.0), ForecastUse::Ignore);
    let tighten = assess(&cfg, &robot(5.0), &view(&retreat, 0.0), ForecastUse::Tighten);
    assert_eq!(tighten.scale, ignore.scale);
    assert!(!tighten.forecast_tightened);
}

#[test]
fn forecast_spread_counts_against_the_separation() {
    let cfg = SsmConfig::default();
    let sure = [point_person(2500, -200, MAX_STEPS, 0)];
    let unsure = [point_person(2500, -200, MAX_STEPS, 400)];
    let a = assess(&cfg, &robot(5.0), &view(&sure, 0.0), ForecastUse::Tighten);
    let b = assess(&cfg, &robot(5.0), &view(&unsure, 0.0), ForecastUse::Tighten);
    assert!(b.scale < a.scale);
}

#[test]
fn nobody_tracked_standing_robot_and_bad_robot_state() {
    let cfg = SsmConfig::default();
    let nobody = assess(&cfg, &robot(2.0), &view(&[], 0.0), ForecastUse::Tighten);
    assert_eq!((nobody.scale, nobody.separation_m), (1.0, f32::INFINITY));

    let far = [point_person(3000, 0, 1, 0)];
    let near = [point_person(300, 0, 1, 0)];
    assert_eq!(
        assess(&cfg, &robot(0.0), &view(&far, 0.0), ForecastUse::Ignore).scale,
        1.0
    );
    assert_eq!(
        assess(&cfg, &robot(0.0), &view(&near, 0.0), ForecastUse::Ignore).scale,
        0.0
    );

    for bad in [f32::NAN, f32::INFINITY, -1.0] {
        assert_eq!(
            assess(&cfg, &robot(bad), &view(&far, 0.0), ForecastUse::Ignore).scale,
            0.0
        );
    }
    let nan_pos = RobotState {
        position_in_base_m: [0.0, f32::NAN, 0.0],
        programmed_speed_mps: 1.0,
    };
    assert_eq!(assess(&cfg, &nan_pos, &view(&far, 0.0), ForecastUse::Ignore).scale, 0.0);
    assert_eq!(
        assess(&cfg, &robot(1.0), &view(&far, f32::NAN), ForecastUse::Ignore).scale,
        0.0
    );
}

/// Index of the left hand and left shoulder in `LINK_JOINTS_SMPL24`.
const LEFT_HAND: usize = 6;
const LEFT_SHOULDER: usize = 2;

/// A person standing 2.2 m in front of the robot, left shoulder at 2.0 m, left hand where
/// `hand_x_mm` says; stationary over `steps` steps.
fn reaching_person(hand_x_mm: i16, steps: usize) -> PersonForecast {
    let mut p = point_person(2200, 0, steps, 0);
    for step in p.steps.iter_mut() {
        step.joints_in_base_mm[LEFT_SHOULDER] = [2000, 0, 0];
        step.joints_in_base_mm[LEFT_HAND] = [hand_x_mm, 0, 0];
    }
    p
}

/// The sender lost sight of the left hand and filled it in at the shoulder with the arm's
/// length as reach; the hand was in fact stretched out 0.6 m towards the robot. The MCU must
/// not allow more speed than if it had seen the hand.
#[test]
fn a_filled_in_hand_allows_no_more_than_the_hand_seen() {
    let cfg = SsmConfig::default();
    for steps in [1, MAX_STEPS] {
        let seen = [reaching_person(1400, steps)];
        let mut filled = reaching_person(2000, steps);
        filled.reach_mm[LEFT_HAND] = 600;
        let mut unreached = filled.clone();
        unreached.reach_mm = [0; LINK_JOINTS];
        for f in [ForecastUse::Ignore, ForecastUse::Tighten] {
            let truth = assess(&cfg, &robot(5.0), &view(&seen, 0.0), f);
            let told = assess(&cfg, &robot(5.0), &view(core::slice::from_ref(&filled), 0.0), f);
            let untold = assess(&cfg, &robot(5.0), &view(core::slice::from_ref(&unreached), 0.0), f);
            assert!(told.scale <= truth.scale, "{told:?} > {truth:?}");
            assert!(close(told.separation_m, truth.separation_m), "{told:?} vs {truth:?}");
            // Not reaching: 1.85 m instead of 1.25 m of separation, and a faster robot.
            assert!(close(untold.separation_m, 1.85) && untold.scale > truth.scale + 0.4);
            assert!(truth.scale > 0.0, "{truth:?}");
        }
    }
}

/// A held person: the longer unseen, the slower the robot, and never faster than if they had
/// just been seen there.
#[test]
fn a_held_person_slows_the_robot_the_longer_they_are_unseen() {
    let cfg = SsmConfig::default();
    for f in [ForecastUse::Ignore, ForecastUse::Tighten] {
        let mut held = point_person(2500, 0, MAX_STEPS, 0);
        let at_0 = assess(&cfg, &robot(5.0), &view(core::slice::from_ref(&held), 0.02), f);
        let mut last = at_0;
        let mut decreased = false;
        for unseen_ms in (0..=2_000u32).step_by(50) {
            held.unseen_us = unseen_ms * 1000;
            let a = assess(&cfg, &robot(5.0), &view(core::slice::from_ref(&held), 0.02), f);
            assert!(a.scale <= last.scale && a.scale <= at_0.scale, "{unseen_ms} ms: {a:?}");
            assert!(a.s_h_m >= last.s_h_m);
            decreased |= a.scale < last.scale;
            last = a;
        }
        assert!(decreased && at_0.scale == 1.0 && last.scale == 0.0, "{at_0:?} {last:?}");
    }

    // 0.3 s unseen: 0.3 s more at the far speed, as if the frame were that much older.
    let mut held = point_person(2500, 0, 1, 0);
    let fresh = assess(
        &cfg,
        &robot(5.0),
        &view(core::slice::from_ref(&held), 0.02),
        ForecastUse::Ignore,
    );
    held.unseen_us = 300_000;
    let a = assess(
        &cfg,
        &robot(5.0),
        &view(core::slice::from_ref(&held), 0.02),
        ForecastUse::Ignore,
    );
    let b = assess(
        &cfg,
        &robot(5.0),
        &view(core::slice::from_ref(&held), 0.32),
        ForecastUse::Ignore,
    );
    assert!(close(a.s_h_m - fresh.s_h_m, 1.6 * 0.3), "{a:?}");
    assert!(close(b.s_h_m - a.s_h_m, 1.6 * 0.3), "{b:?}");
}

/// The ISO 13855 speed follows each person's own age: at 1.35 m, 0.6 s unseen may already
/// be within 0.5 m, so the near speed applies to them, and only to them.
#[test]
fn each_person_gets_their_own_age_and_speed() {
    let cfg = SsmConfig::default();
    let mut held = point_person(1500, 0, 1, 0);
    held.unseen_us = 600_000;
    let a = assess(
        &cfg,
        &robot(1.0),
        &view(core::slice::from_ref(&held), 0.0),
        ForecastUse::Ignore,
    );
    assert!(close(a.s_h_m, 2.0 * (0.6 + 0.4)), "{a:?}");

    // A fresh person nearby and someone held far away: the fresh one decides, at their age.
    let mut far = point_person(6000, 0, 1, 0);
    far.unseen_us = 500_000;
    let both = [point_person(1500, 0, 1, 0), far];
    let a = assess(&cfg, &robot(1.0), &view(&both, 0.0), ForecastUse::Ignore);
    assert!(close(a.s_h_m, 1.6 * 0.4), "{a:?}");

    // An age that overflows f32 must stop, not pass.
    let mut ancient = point_person(6000, 0, 1, 0);
    ancient.unseen_us = u32::MAX;
    let a = assess(
        &cfg,
        &robot(1.0),
        &view(core::slice::from_ref(&ancient), f32::MAX),
        ForecastUse::Ignore,
    );
    assert_eq!((a.scale, a.s_p_m), (0.0, f32::INFINITY));
}

#[test]
fn config_validation_names_the_field() {
    let mut cfg = SsmConfig {
        stopping_time_s: 0.0,
        ..SsmConfig::default()
    };
    assert_eq!(cfg.validate(), Err(SsmConfigError::NotPositive("stopping_time_s")));
    cfg.stopping_time_s = 0.3;
    cfg.human_uncertainty_m = f32::NAN;
    assert_eq!(cfg.validate(), Err(SsmConfigError::Negative("human_uncertainty_m")));
    cfg.human_uncertainty_m = 0.1;
    cfg.human_speed_near_mps = 1.0;
    assert_eq!(cfg.validate(), Err(SsmConfigError::NearSlowerThanFar));
    assert_eq!(SsmConfig::default().validate(), Ok(()));
}

// ---- properties ----

fn arb_config() -> impl Strategy<Value = SsmConfig> {
    (
        0.1f32..3.0,
        0.0f32..1.0,
        0.0f32..1.5,
        0.0f32..0.5,
        0.01f32..1.0,
        0.0f32..1.0,
        0.0f32..0.3,
        0.0f32..0.1,
        0.0f32..0.5,
    )
        .prop_map(|(far, extra, near_d, t_r, t_s, c, z_d, z_r, radius)| SsmConfig {
            human_speed_far_mps: far,
            human_speed_near_mps: far + extra,
            near_distance_m: near_d,
            reaction_time_s: t_r,
            stopping_time_s: t_s,
            intrusion_distance_m: c,
            human_uncertainty_m: z_d,
            robot_uncertainty_m: z_r,
            robot_radius_m: radius,
        })
}

fn arb_step() -> impl Strategy<Value = ForecastStep> {
    (
        any::<u16>(),
        prop::array::uniform12(prop::array::uniform3(any::<i16>())),
    )
        .prop_map(|(spread_mm, joints_in_base_mm)| ForecastStep {
            spread_mm,
            joints_in_base_mm,
        })
}

/// People anywhere in the i16 range, or near the robot (where the decisions happen).
fn arb_people() -> impl Strategy<Value = StdVec<PersonForecast>> {
    arb_people_at_least(0)
}

fn arb_people_at_least(min: usize) -> impl Strategy<Value = StdVec<PersonForecast>> {
    let step = prop_oneof![
        arb_step(),
        (
            any::<u16>(),
            prop::array::uniform12(prop::array::uniform3(-3000i16..3000))
        )
            .prop_map(|(s, j)| ForecastStep {
                spread_mm: s % 1000,
                joints_in_base_mm: j,
            }),
    ];
    let person = (
        any::<u16>(),
        arb_unseen(),
        arb_reach(),
        prop::collection::vec(step, 1..=MAX_STEPS),
    )
        .prop_map(|(id, unseen_us, reach_mm, steps)| PersonForecast {
            track_id: id,
            unseen_us,
            reach_mm,
            steps: Vec::from_slice(&steps).expect("<= MAX_STEPS"),
        });
    prop::collection::vec(person, min..=MAX_PEOPLE)
}

/// Mostly people seen in the latest message; some held up to the sender's longest hold (5 s);
/// some at any age the link can carry.
fn arb_unseen() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(0u32), 4 => 0u32..5_000_000, 1 => any::<u32>()]
}

/// Mostly fully observed; some joints filled in over up to a limb's length; any reach.
fn arb_reach() -> impl Strategy<Value = [u16; LINK_JOINTS]> {
    prop_oneof![
        4 => Just([0u16; LINK_JOINTS]),
        4 => prop::array::uniform12(prop_oneof![Just(0u16), 0u16..1000]),
        1 => prop::array::uniform12(any::<u16>()),
    ]
}

fn arb_robot() -> impl Strategy<Value = RobotState> {
    let coord = prop_oneof![8 => -3.0f32..3.0, 1 => Just(f32::NAN), 1 => Just(f32::INFINITY)];
    let speed = prop_oneof![8 => 0.0f32..5.0, 1 => Just(f32::NAN), 1 => Just(-0.5f32)];
    (prop::array::uniform3(coord), speed).prop_map(|(p, v)| RobotState {
        position_in_base_m: p,
        programmed_speed_mps: v,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The invariant of the design: a forecast may only tighten the bound computed with the
    /// conservative human speed, never loosen it.
    #[test]
    fn forecast_never_loosens(
        cfg in arb_config(),
        robot in arb_robot(),
        people in arb_people(),
        step_ms in any::<u16>(),
        age_s in 0.0f32..0.5,
    ) {
        let v = HumanView { people: &people, step_ms, pose_age_s: age_s };
        let conservative = assess(&cfg, &robot, &v, ForecastUse::Ignore);
        let predicted = assess(&cfg, &robot, &v, ForecastUse::Tighten);
        prop_assert!(predicted.scale <= conservative.scale, "{predicted:?} > {conservative:?}");
        prop_assert!(predicted.s_h_m >= conservative.s_h_m, "{predicted:?} < {conservative:?}");
    }

    #[test]
    fn scale_is_in_unit_interval(
        cfg in arb_config(),
        robot in arb_robot(),
        people in arb_people(),
        step_ms in any::<u16>(),
        age_s in prop_oneof![0.0f32..1.0, Just(f32::NAN), Just(-1.0f32)],
        tighten in any::<bool>(),
    ) {
        let v = HumanView { people: &people, step_ms, pose_age_s: age_s };
        let f = if tighten { ForecastUse::Tighten } else { ForecastUse::Ignore };
        let s = assess(&cfg, &robot, &v, f).scale;
        prop_assert!((0.0..=1.0).contains(&s), "scale {s}");
    }

    /// Older pose data never allows more speed.
    #[test]
    fn older_data_never_allows_more(
        cfg in arb_config(),
        robot in arb_robot(),
        people in arb_people(),
        age_s in 0.0f32..0.5,
        extra_s in 0.0f32..0.5,
        tighten in any::<bool>(),
    ) {
        let f = if tighten { ForecastUse::Tighten } else { ForecastUse::Ignore };
        let young = assess(&cfg, &robot, &HumanView { people: &people, step_ms: 100, pose_age_s: age_s }, f);
        let old = assess(&cfg, &robot, &HumanView { people: &people, step_ms: 100, pose_age_s: age_s + extra_s }, f);
        prop_assert!(old.scale <= young.scale, "{old:?} > {young:?}");
    }

    /// Another person in the cell never allows more speed.
    #[test]
    fn more_people_never_allow_more(
        cfg in arb_config(),
        robot in arb_robot(),
        // Drawn non-empty: rejecting a third of the cases would hit proptest's reject limit.
        people in arb_people_at_least(1),
        age_s in 0.0f32..0.5,
        tighten in any::<bool>(),
    ) {
        let f = if tighten { ForecastUse::Tighten } else { ForecastUse::Ignore };
        let one = assess(&cfg, &robot, &HumanView { people: &people[..1], step_ms: 100, pose_age_s: age_s }, f);
        let all = assess(&cfg, &robot, &HumanView { people: &people, step_ms: 100, pose_age_s: age_s }, f);
        prop_assert!(all.scale <= one.scale);
    }

    /// Holding someone longer (a larger `unseen_us`) never allows more speed.
    #[test]
    fn held_longer_never_allows_more(
        cfg in arb_config(),
        robot in arb_robot(),
        people in arb_people_at_least(1),
        which in any::<prop::sample::Index>(),
        extra_us in prop_oneof![0u32..1_000_000, any::<u32>()],
        step_ms in any::<u16>(),
        age_s in 0.0f32..0.5,
        tighten in any::<bool>(),
    ) {
        let f = if tighten { ForecastUse::Tighten } else { ForecastUse::Ignore };
        let mut older = people.clone();
        let p = &mut older[which.index(people.len())];
        p.unseen_us = p.unseen_us.saturating_add(extra_us);
        let young = assess(&cfg, &robot, &HumanView { people: &people, step_ms, pose_age_s: age_s }, f);
        let old = assess(&cfg, &robot, &HumanView { people: &older, step_ms, pose_age_s: age_s }, f);
        prop_assert!(old.scale <= young.scale, "{old:?} > {young:?}");
        prop_assert!(old.s_p_m >= young.s_p_m, "{old:?} < {young:?}");
    }

    /// A joint sent up to its reach away from where it truly is (filled in from an ancestor)
    /// never allows more speed than the true pose, fully observed, would.
    #[test]
    fn filled_in_joints_never_allow_more_than_the_truth(
        cfg in arb_config(),
        robot in arb_robot(),
        truth in arb_people_at_least(1),
        offsets in prop::array::uniform12(prop::array::uniform3(-1500i16..1500)),
        step_ms in any::<u16>(),
        age_s in 0.0f32..0.5,
        tighten in any::<bool>(),
    ) {
        let f = if tighten { ForecastUse::Tighten } else { ForecastUse::Ignore };
        let mut truth = truth;
        let mut told = truth.clone();
        for (t, s) in truth.iter_mut().zip(told.iter_mut()) {
            t.reach_mm = [0; LINK_JOINTS];
            for (j, o) in offsets.iter().enumerate() {
                let len = libm::sqrtf(o.iter().map(|c| f32::from(*c) * f32::from(*c)).sum::<f32>());
                // 1 mm beyond the offset: rounding in the distances must not decide.
                s.reach_mm[j] = libm::ceilf(len) as u16 + 1;
                for (ts, ss) in t.steps.iter_mut().zip(s.steps.iter_mut()) {
                    let (true_joint, sent_joint) = (&mut ts.joints_in_base_mm[j], &mut ss.joints_in_base_mm[j]);
                    for ((tv, sv), ov) in true_joint.iter_mut().zip(sent_joint.iter_mut()).zip(o) {
                        // Keep both within the link's range.
                        *tv = (*tv).clamp(-30_000, 30_000);
                        *sv = *tv + ov;
                    }
                }
            }
        }
        let seen = assess(&cfg, &robot, &HumanView { people: &truth, step_ms, pose_age_s: age_s }, f);
        let filled = assess(&cfg, &robot, &HumanView { people: &told, step_ms, pose_age_s: age_s }, f);
        prop_assert!(filled.scale <= seen.scale, "{filled:?} > {seen:?}");
    }
}
