use super::*;
use a4mer_ros::config::{DEFAULT_NODE_NAME, PARAMETERS};
use a4mer_ros::ros_args::RosArgs;

fn store(args: &[&str]) -> ParamStore {
    let mut all = vec!["--ros-args"];
    all.extend_from_slice(args);
    let (_, ros) = RosArgs::parse(&all).unwrap();
    let p = Parameters::load(&ros, DEFAULT_NODE_NAME, "/a4mer_node").unwrap();
    let c = NodeConfig::from_parameters(&p).unwrap();
    ParamStore::new(&p, &c)
}

fn set(s: &mut ParamStore, name: &str, value: ParameterValue) -> Result<NodeConfig, String> {
    s.set_atomically(&[Parameter {
        name: name.into(),
        value,
    }])
}

#[test]
fn specs_cover_every_parameter_and_their_defaults_are_the_start_up_defaults() {
    let names: Vec<&str> = specs().iter().map(|s| s.name).collect();
    assert_eq!(names, PARAMETERS);
    let mut p = Parameters::default();
    for spec in specs() {
        p.set(spec.name, to_param_value(&(spec.default)()).unwrap(), "test");
    }
    assert_eq!(
        NodeConfig::from_parameters(&p).unwrap(),
        NodeConfig::from_parameters(&Parameters::default()).unwrap()
    );
}

/// A range's ends are accepted and a step past them refused, by the same validation
/// start-up runs: the descriptor says what the node does.
#[test]
fn descriptor_ranges_are_the_validation_limits() {
    for spec in specs() {
        let values = match spec.range {
            Range::None => continue,
            Range::Integer(lo, hi) => [lo, hi, lo - 1, hi + 1].map(ParamValue::Integer),
            Range::Double(lo, hi) => [lo, hi, lo - 1e-3, hi + 1e-3].map(ParamValue::Double),
        };
        for (k, v) in values.into_iter().enumerate() {
            let mut p = Parameters::default();
            p.set(spec.name, v.clone(), "test");
            let r = NodeConfig::from_parameters(&p);
            // min_confidence's upper end is open: "below 1" in its constraints.
            let open_end = spec.name == "input.min_confidence" && k == 1;
            assert_eq!(r.is_ok(), k < 2 && !open_end, "{} = {v:?}: {r:?}", spec.name);
        }
    }
}

#[test]
fn values_read_back_as_given_in_the_declared_type() {
    let s = store(&[
        "-p",
        "input.type:=pose_array",
        "-p",
        "tracks.gap_limit_s:=1",
        "-p",
        "sched.cpus:=[]",
    ]);
    assert_eq!(s.get("input.type"), ParameterValue::String("pose_array".into()));
    assert_eq!(s.get("tracks.gap_limit_s"), ParameterValue::Double(1.0));
    assert_eq!(s.get("sched.cpus"), ParameterValue::IntegerArray(vec![]));
    assert_eq!(s.get("tracks.max"), ParameterValue::Integer(4), "a default");
    assert_eq!(s.get("nope"), ParameterValue::NotSet);
    let d = s.describe("tracks.max");
    assert!(d.read_only && d.description.contains("people"));
    assert!(matches!(
        d.range,
        NumericRange::IntegerRange {
            from_value: 1,
            to_value: 64,
            ..
        }
    ));
    assert!(!s.describe("markers.stride").read_only);
    let listed = s.list(&[], 0);
    assert_eq!(listed.names.len(), PARAMETERS.len());
    assert!(listed.prefixes.contains(&"input".to_string()));
    assert_eq!(s.list(&["link".into()], 0).names.len(), 7);
    assert_eq!(s.list(&[], 1).names, ["model", "use_sim_time"]);
}

#[test]
fn live_changes_apply_and_every_refusal_names_the_parameter_and_why() {
    let mut s = store(&[]);
    let c = set(&mut s, "markers.stride", ParameterValue::Integer(2)).unwrap();
    assert_eq!(c.marker_stride, 2);
    assert_eq!(s.get("markers.stride"), ParameterValue::Integer(2));
    let c = set(&mut s, "diagnostics.period_s", ParameterValue::Double(0.25)).unwrap();
    assert_eq!((c.diagnostics_period_s, c.marker_stride), (0.25, 2), "changes add up");
    for (name, value, why) in [
        ("input.type", s_("pose_array"), "read-only"),
        ("model", s_("/tmp/m.a4m"), "read-only"),
        ("link.device", s_("/dev/ttyS0"), "read-only"),
        ("markers.stride", ParameterValue::Integer(0), "outside 1..=1000"),
        ("markers.stride", ParameterValue::Double(2.0), "wrong type"),
        ("input.min_confidence", ParameterValue::Double(0.5), "safety MCU"),
        ("tf.max_age_s", ParameterValue::Double(0.2), "safety.live_changes:=true"),
        ("diagnostics.period_s", ParameterValue::Double(-1.0), "positive"),
        ("diagnostics.period_s", ParameterValue::NotSet, "wrong type"),
        ("tracks.maxx", ParameterValue::Integer(1), "not declared"),
    ] {
        let e = set(&mut s, name, value.clone()).unwrap_err();
        assert!(
            e.contains(&format!("`{name}`")) && e.contains(why),
            "{name} {value:?}: {e}"
        );
    }
    assert_eq!(s.config().marker_stride, 2, "refusals change nothing");
    // All or none.
    let both = [
        Parameter {
            name: "markers.stride".into(),
            value: ParameterValue::Integer(7),
        },
        Parameter {
            name: "tracks.max".into(),
            value: ParameterValue::Integer(2),
        },
    ];
    assert!(s.set_atomically(&both).is_err());
    assert_eq!(s.get("markers.stride"), ParameterValue::Integer(2));
}

/// What decides who reaches the safety MCU stays as started, whoever asks, unless the node
/// was started to allow it; then a change is checked like any other.
#[test]
fn safety_parameters_change_live_only_when_started_to_allow_it() {
    let closed = store(&[]);
    let open = store(&["-p", "safety.live_changes:=true"]);
    for name in SAFETY_PARAMETERS {
        assert!(closed.describe(name).read_only, "{name}");
    }
    for name in ["input.min_confidence", "tf.max_age_s"] {
        assert!(!open.describe(name).read_only, "{name}");
        assert!(
            closed
                .describe(name)
                .additional_constraints
                .contains("safety.live_changes:=true")
        );
    }
    assert!(!closed.describe("markers.stride").read_only, "not a safety parameter");
    assert!(open.describe("safety.live_changes").read_only, "fixed at start-up");

    let mut open = open;
    let c = set(&mut open, "input.min_confidence", ParameterValue::Double(0.5)).unwrap();
    assert_eq!(c.input_min_confidence, 0.5);
    let e = set(&mut open, "input.min_confidence", ParameterValue::Double(1.0)).unwrap_err();
    assert!(e.contains("`input.min_confidence`") && e.contains("outside"), "{e}");
    let e = set(&mut open, "safety.live_changes", ParameterValue::Boolean(false)).unwrap_err();
    assert!(e.contains("read-only"), "{e}");
    for name in SAFETY_PARAMETERS
        .iter()
        .filter(|n| !["input.min_confidence", "tf.max_age_s"].contains(n))
    {
        assert!(open.describe(name).read_only, "{name} never changes live");
    }
}

fn s_(v: &str) -> ParameterValue {
    s(v)
}
