//! The bad-input corpus (a4mer-ros's `tests/bad_inputs/cases.toml`) replayed by `a4mer
//! replay`: every case must be listed as the event the corpus names and the replay finish
//! (the engine path and the node over DDS: a4mer-ros's `bad_inputs`).

#[path = "../../node/tests/common/mod.rs"]
mod common;
#[path = "../../node/tests/bad_inputs/corpus.rs"]
mod corpus;

use a4mer_bag::{BagWriter, QosProfile};
use a4mer_replay::{ReplayOptions, replay};
use a4mer_ros::config::NodeConfig;
use a4mer_ros::model::LoadedModel;
use a4mer_ros::msg::Skeleton3DArray;
use a4mer_ros::ros_args::Parameters;

use corpus::{corpus, messages};

#[test]
fn replay_lists_every_case_as_its_expected_event_and_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let model = LoadedModel::load(None).unwrap();
    for (i, case) in corpus().iter().enumerate() {
        let id = 1 + 1000 * i as u32;
        let t0 = 1_700_000_000_000_000_000;
        let (msgs, bad) = messages(case, id, t0);
        let bag = tmp.path().join(&case.name);
        let mut w = BagWriter::create(&bag).unwrap();
        let topic = w
            .add_topic::<Skeleton3DArray>("/poses", &[QosProfile::sensor_data()])
            .unwrap();
        for (k, m) in msgs.iter().enumerate() {
            w.write(topic, t0 + k as i64 * 33_333_333, m).unwrap();
        }
        w.finish().unwrap();
        let r = replay(
            &bag,
            &ReplayOptions {
                topic: None,
                safety: None,
                model: model.clone(),
                config: NodeConfig::from_parameters(&Parameters::default()).unwrap(),
                params: Parameters::default(),
                out_dir: None,
            },
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(r.stopped_at, None, "{}", case.name);
        assert_eq!(r.messages as usize, msgs.len(), "{}", case.name);
        let kinds: Vec<&str> = r.events.iter().map(|e| e.kind.as_str()).collect();
        let want: &[&str] = match case.expect.as_str() {
            "accepted" | "no_people" => &[],
            // A second warm-up: the stream restarted (a reset, or the track begun anew).
            "reset" => &["warming_up"],
            other => &[other],
        };
        if case.expect == "reset" {
            assert!(
                kinds.iter().filter(|k| **k == "warming_up").count() >= 2,
                "{}: {kinds:?}",
                case.name
            );
        }
        for k in want {
            assert!(kinds.contains(k), "{}: no {k} event in {kinds:?}", case.name);
        }
        if want.is_empty() {
            let bad_kinds: Vec<&&str> = kinds
                .iter()
                .filter(|k| !["motif_transition", "warming_up", "ok", "gap"].contains(*k))
                .collect();
            assert!(bad_kinds.is_empty(), "{}: {bad_kinds:?}", case.name);
        }
        assert!(r.forecasts > 0, "{}", case.name);
        let bad_t_s = (bad as f64 * 33_333_333.0) / 1e9;
        // A rejected stamp is listed at that stamp; the others where they were sent.
        if let Some(k) = want.first().filter(|_| case.kind != "stamp") {
            let at = r
                .events
                .iter()
                .find(|e| e.kind == *k)
                .map(|e| e.t_s)
                .unwrap_or(f64::NAN);
            assert!(
                (at - bad_t_s).abs() < 0.1 || case.expect == "reset",
                "{}: {k} at {at} s, sent at {bad_t_s} s",
                case.name
            );
        }
    }
}
