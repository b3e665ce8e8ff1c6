//! `ros::replay` on real mocap: bags written by `rosbags` (MCAP and sqlite3) replay, our
//! output bag reads back in `rosbags`, replays are byte-identical, corrupt bags stop with
//! a clear error and a partial report, and the report renders in headless Chromium.

#[path = "../../node/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use a4mer_bag::{BagWriter, QosProfile};
use a4mer_replay::{ReplayError, ReplayOptions, ReplayReport, replay, report};
use a4mer_ros::adapters::skeleton_array;
use a4mer_ros::config::NodeConfig;
use a4mer_ros::model::LoadedModel;
use a4mer_ros::msg::Skeleton3DArray;
use a4mer_ros::ros_args::Parameters;
use a4mer_ros::startup::parameters_from_args;
use a4mer_runtime::PoseFrame;
use serde_json::Value;
use sha2::Digest;

use common::{manifest, mocap_frames_from, python_with_rosbags, require_peers, run_py, workspace};

fn options(out_dir: Option<PathBuf>, topic: Option<&str>) -> ReplayOptions {
    ReplayOptions {
        topic: topic.map(str::to_string),
        safety: None,
        model: LoadedModel::load(None).unwrap(),
        config: NodeConfig::from_parameters(&Parameters::default()).unwrap(),
        params: Parameters::default(),
        out_dir,
    }
}

fn run(bag: &Path, opts: &ReplayOptions) -> Result<ReplayReport, ReplayError> {
    replay(bag, opts, &mut |_, _| {})
}

/// The report without what may differ between runs or bags holding the same poses.
fn deterministic(r: &ReplayReport) -> Value {
    let mut v = serde_json::to_value(r).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["timing", "output_bag", "bag", "bag_sha256", "input_type", "topic"] {
        o.remove(k);
    }
    v
}

/// Our own bag of `frames` (what `a4mer import --to-bag` writes).
fn our_bag(dir: &Path, frames: &[PoseFrame]) -> PathBuf {
    let bag = dir.join("poses");
    let mut w = BagWriter::create(&bag).unwrap();
    let t = w
        .add_topic::<Skeleton3DArray>("/poses", &[QosProfile::sensor_data()])
        .unwrap();
    for f in frames {
        w.write(t, f.stamp_ns, &skeleton_array(f.stamp_ns, "mocap", &[(1, f)]).unwrap())
            .unwrap();
    }
    w.finish().unwrap();
    bag
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn rosbags_written_bags_replay_and_our_output_bag_reads_back_in_rosbags() {
    let Some(python) = python_with_rosbags() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let frames = mocap_frames_from(0, 600);
    let doc = serde_json::json!({
        "frame_id": "mocap",
        "frames": frames.iter().map(|f| serde_json::json!({
            "stamp_ns": f.stamp_ns, "joints": f.joints_in_world, "valid": f.valid,
        })).collect::<Vec<_>>(),
    });
    let json_path = tmp.path().join("frames.json");
    std::fs::write(&json_path, doc.to_string()).unwrap();
    let msg_dir = workspace().join("ros/msgs/msg");
    let mut reports = Vec::new();
    for (storage, compression) in [("mcap", "storage"), ("sqlite3", "none")] {
        let bag = tmp.path().join(format!("theirs_{storage}"));
        run_py(
            &python,
            "rosbags_write.py",
            &[&json_path, &msg_dir, &bag, Path::new(storage), Path::new(compression)],
        );
        let out = tmp.path().join(format!("out_{storage}"));
        let r = run(&bag, &options(Some(out.clone()), None)).unwrap();
        assert_eq!(r.stopped_at, None);
        assert_eq!(r.topic, "/poses", "the first pose topic");
        assert_eq!((r.messages, r.frames, r.people.clone()), (600, 600, vec![1]));
        assert!(
            (560..=571).contains(&r.forecasts),
            "{} forecasts after warm-up",
            r.forecasts
        );
        let s = &r.mpjpe_mm;
        assert!(s.scored[4] > 500, "forecasts scored at 1 s: {:?}", s.scored);
        let (model, cv) = (s.model.world[4].unwrap(), s.constant_velocity.world[4].unwrap());
        assert!(model < cv, "model {model} mm vs constant velocity {cv} mm at 1 s");
        assert!(
            r.events.iter().any(|e| e.kind == "motif_transition"),
            "motif transitions listed"
        );
        assert!(r.events.iter().any(|e| e.kind == "ok"), "the end of warm-up is listed");
        assert!(!r.motif_timeline.is_empty() && !r.error_over_time.is_empty());

        let check: Value = serde_json::from_str(&run_py(&python, "rosbags_check.py", &[&out])).unwrap();
        let topics = check["topics"].as_object().unwrap();
        let count = |t: &str| topics[t]["count"].as_u64().unwrap();
        let identical = |t: &str| topics[t]["identical"].as_u64().unwrap();
        assert_eq!((count("/poses"), identical("/poses")), (600, 600));
        assert_eq!(count("/a4mer/motifs"), 600);
        assert_eq!(count("/a4mer/forecast"), r.forecasts);
        assert_eq!(count("/a4mer/forecast_markers"), r.forecasts);
        for t in ["/a4mer/motifs", "/a4mer/forecast", "/a4mer/forecast_markers"] {
            assert_eq!(identical(t), count(t), "{t}: every message decodes in rosbags");
        }
        reports.push(deterministic(&r));
    }
    assert_eq!(reports[0], reports[1], "MCAP and sqlite3 storage give the same result");
}

#[test]
fn replays_are_byte_identical_across_runs_and_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = our_bag(tmp.path(), &mocap_frames_from(0, 450));
    let out_a = tmp.path().join("a").join("out");
    let a = run(&bag, &options(Some(out_a.clone()), None)).unwrap();
    // The same replay while three others run on other threads.
    let others: Vec<_> = (0..3)
        .map(|k| {
            let (bag, out) = (bag.clone(), tmp.path().join(format!("other{k}")));
            std::thread::spawn(move || run(&bag, &options(Some(out), None)).unwrap())
        })
        .collect();
    let out_b = tmp.path().join("b").join("out");
    let b = run(&bag, &options(Some(out_b.clone()), None)).unwrap();
    let c: Vec<ReplayReport> = others.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        serde_json::to_string(&deterministic(&a)).unwrap(),
        serde_json::to_string(&deterministic(&b)).unwrap()
    );
    for r in &c {
        assert_eq!(deterministic(r), deterministic(&a));
    }
    let (fa, fb) = (files(&out_a), files(&out_b));
    assert_eq!(a.ssm, None);
    assert_eq!(fa.len(), 2, "metadata.yaml and the MCAP file");
    for ((na, da), (nb, db)) in fa.iter().zip(&fb) {
        assert_eq!(na, nb);
        assert!(da == db, "{na}: output bags differ");
    }
    assert_eq!(a.bag_sha256, b.bag_sha256);
}

#[test]
fn corrupt_bags_stop_with_a_clear_error_and_a_partial_report() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = mocap_frames_from(0, 3000);
    let bag = our_bag(tmp.path(), &frames);
    let mcap = std::fs::read_dir(&bag)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .unwrap();
    let bytes = std::fs::read(&mcap).unwrap();

    // Truncated: the report covers the messages before the cut and says where it stopped.
    let cut = tmp.path().join("truncated.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let r = run(&cut, &options(None, None)).unwrap();
    let stop = r.stopped_at.clone().expect("stopped early");
    assert!(stop.contains("truncated.mcap"), "names the file: {stop}");
    assert!(
        r.messages > 500 && r.messages < 3000,
        "{} messages before the cut",
        r.messages
    );
    assert!(report::html(&r).contains("Replay stopped early"));

    // A flipped byte inside a chunk: its CRC no longer matches.
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    let crc = tmp.path().join("bad_crc.mcap");
    std::fs::write(&crc, &bad).unwrap();
    let r = run(&crc, &options(None, None)).unwrap();
    let stop = r.stopped_at.clone().expect("stopped at the bad chunk");
    assert!(stop.to_lowercase().contains("crc"), "{stop}");
    assert!(r.messages < 3000);

    // An unknown type on the chosen topic.
    let odd = tmp.path().join("odd");
    let mut w = BagWriter::create(&odd).unwrap();
    let t = w
        .add_topic_raw(
            "/poses",
            "std_msgs/msg/String",
            "string data\n",
            &[QosProfile::sensor_data()],
        )
        .unwrap();
    w.write_raw(t, 1, &[0, 1, 0, 0, 3, 0, 0, 0, b'h', b'i', 0]).unwrap();
    w.finish().unwrap();
    let e = run(&odd, &options(None, Some("/poses"))).unwrap_err().to_string();
    assert!(e.contains("/poses") && e.contains("std_msgs/msg/String"), "{e}");
    let e = run(&odd, &options(None, None)).unwrap_err().to_string();
    assert!(e.contains("no pose topic") && e.contains("std_msgs/msg/String"), "{e}");

    // An empty bag: a report of nothing, saying so.
    let empty = our_bag(&tmp.path().join("empty_dir"), &[]);
    let r = run(&empty, &options(None, None)).unwrap();
    assert_eq!(r.messages, 0);
    assert!(
        r.stopped_at.as_deref().unwrap_or("").contains("no messages on /poses"),
        "{:?}",
        r.stopped_at
    );
}

const CHROMIUM_FLAGS: [&str; 6] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
];

/// Load `url` in headless Chromium: its DOM, and every network request the page itself
/// started (Chromium's own background requests carry the initiator "not an origin").
fn load_in_chromium(chromium: &str, url: &str, dir: &Path) -> (String, Vec<String>) {
    let netlog = dir.join("netlog.json");
    let out = Command::new(chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(["--virtual-time-budget=2000", "--dump-dom", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap()).unwrap();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .unwrap();
    let page_requests = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:"))
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), page_requests)
}

#[test]
fn report_renders_in_headless_chromium_with_its_plots_and_no_network_requests() {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(chromium) = chromium else {
        assert!(!require_peers(), "chromium is required here (apt-get install chromium)");
        return common::skip::skip("report_renders_in_headless_chromium", "no chromium");
    };
    let tmp = tempfile::tempdir().unwrap();
    let bag = our_bag(tmp.path(), &mocap_frames_from(0, 450));
    let r = run(&bag, &options(None, None)).unwrap();
    let html_path = tmp.path().join("report.html");
    std::fs::write(&html_path, report::html(&r)).unwrap();
    let url = format!("file://{}", html_path.display());
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay-report.png");

    // The check can fail: a page that fetches an image over HTTP is caught.
    let control = tmp.path().join("control.html");
    std::fs::write(
        &control,
        "<html><body><img src=\"http://127.0.0.1:9/x.png\"></body></html>",
    )
    .unwrap();
    let (_, fetched) = load_in_chromium(chromium, &format!("file://{}", control.display()), tmp.path());
    assert!(
        fetched.iter().any(|u| u.starts_with("http://127.0.0.1:9/")),
        "control page: {fetched:?}"
    );

    let (dom, fetched) = load_in_chromium(chromium, &url, tmp.path());
    assert!(fetched.is_empty(), "the report fetched {fetched:?}");
    for id in ["plot-error-horizon", "plot-error-time", "plot-motifs", "plot-latency"] {
        let at = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} not in the DOM"));
        assert!(dom[at..].starts_with(&format!("id=\"{id}\"><svg")), "{id} holds an SVG");
    }
    assert!(dom.contains("<table id=\"events\">") && dom.contains("motif_transition"));
    assert!(dom.contains(&r.model_sha256) && dom.contains(&r.bag_sha256));
    let out = Command::new(chromium)
        .args(CHROMIUM_FLAGS)
        .args([
            "--window-size=1000,2600",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success() && shot.is_file(),
        "screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn replay_shows_the_safety_monitors_decision_for_a_configured_robot() {
    let tmp = tempfile::tempdir().unwrap();
    // A stretch where the shipped model is not losing to a baseline: at the take's start
    // it is, and the link frames then go out Degraded (the MCU falls back throughout).
    let bag = our_bag(tmp.path(), &mocap_frames_from(900, 450));
    let mut opts = options(None, None);
    // The person walks ~3.6 m from the capture origin; the robot base sits there.
    opts.safety = Some(a4mer_replay::SafetySetup {
        base_from_forecast: a4mer_ros::link::RigidTransform::from_xyz_rpy([-3.0, -1.5, 0.0, 0.0, 0.0, 0.0]),
        robot: a4mer_firmware::ssm::RobotState {
            position_in_base_m: [0.0, 0.0, 1.0],
            programmed_speed_mps: 1.0,
        },
        monitor: a4mer_firmware::monitor::MonitorConfig::default(),
    });
    let r = run(&bag, &opts).unwrap();
    let s = r.ssm.clone().expect("ssm summary");
    // 15 s of bag time, one point per 100 ms.
    assert!((140..=151).contains(&s.timeline.len()), "{} points", s.timeline.len());
    assert_eq!(s.timeline[0].mode, "fallback", "warm-up frames are degraded");
    assert!(s.seconds_run > 5.0, "healthy forecasts drive Run: {s:?}");
    assert!(s.seconds_fallback > 0.5 && s.seconds_fallback < 3.0, "{s:?}");
    assert!(s.timeline.iter().all(|p| (0.0..=1.0).contains(&p.scale)));
    // The engines' live scores come with the audit: the 90 % radius held, the guard's
    // choice is plotted over time.
    let online = r.online.as_ref().expect("live scores");
    for (h, c) in online.calibration.coverage.iter().enumerate() {
        let c = c.expect("scored");
        assert!((0.8..=0.97).contains(&c), "coverage at horizon {h}: {c}");
    }
    assert!(
        online.guard.scored.iter().all(|n| *n > 100),
        "{:?}",
        online.guard.scored
    );
    assert!(online.anticipation.scored > 100);
    assert!(
        (14..=16).contains(&r.guard_over_time.len()),
        "{}",
        r.guard_over_time.len()
    );
    let closest = s.min_separation_m.unwrap();
    assert!(closest > 0.0 && closest < 5.0, "{closest}");
    assert!(r.events.iter().any(|e| e.kind == "ssm_mode"));
    let html = report::html(&r);
    assert!(html.contains("id=\"plot-ssm\"><svg"));
    // Deterministic like the rest.
    assert_eq!(deterministic(&run(&bag, &opts).unwrap()), deterministic(&r));
}

/// SHA-256 of the output bag's files and of the report JSON without `timing` and paths,
/// for a replay of `mocap_frames_from(0, 600)` with the built-in model as loaded by `load`.
fn replay_digests(load: impl FnOnce() -> LoadedModel) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let bag = our_bag(tmp.path(), &mocap_frames_from(0, 600));
    let out = tmp.path().join("out");
    let opts = ReplayOptions {
        model: load(),
        ..options(Some(out.clone()), None)
    };
    let r = run(&bag, &opts).unwrap();
    let mut h = sha2::Sha256::new();
    for (name, bytes) in files(&out) {
        h.update(name.as_bytes());
        h.update(&bytes);
    }
    let bag_sha = hex::encode(h.finalize());
    let json_sha = hex::encode(sha2::Sha256::digest(deterministic(&r).to_string().as_bytes()));
    serde_json::json!({"output_bag_sha256": bag_sha, "report_sha256": json_sha})
}

/// The replay's digests per int8 kernel path, each entry produced by that path. The
/// `portable` entry is checked on every machine (the kernel is forced with
/// `with_portable_kernel`), so a CPU without VNNI or `sdot` checks the same entry as this
/// one; the machine's own kernel is checked against its entry when there is one. Code
/// changes that must not change behaviour keep these; a change that means to alter outputs
/// updates the fixture with `A4MER_BLESS_REPLAY=1`, and the diff shows it in review.
#[test]
fn replay_outputs_match_the_recorded_fixture() {
    let fixture = manifest().join("tests/fixtures/replay_golden.json");
    let load = || LoadedModel::load(None).unwrap();
    let mut now = vec![("portable", replay_digests(|| a4mer_kernels::with_portable_kernel(load)))];
    let native = a4mer_kernels::Kernel::best().name();
    if native != "portable" {
        now.push((native, replay_digests(load)));
    }
    let mut golden: serde_json::Map<String, Value> = std::fs::read_to_string(&fixture)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    // "0" or an empty value must not re-bless: a fixture rewritten by accident passes.
    if std::env::var("A4MER_BLESS_REPLAY").as_deref() == Ok("1") {
        for (kernel, digests) in now {
            golden.insert(kernel.to_string(), digests);
        }
        std::fs::write(&fixture, serde_json::to_string_pretty(&golden).unwrap() + "\n").unwrap();
        return;
    }
    for (kernel, digests) in &now {
        match golden.get(*kernel) {
            Some(want) => assert_eq!(digests, want, "replay outputs changed ({kernel} kernel)"),
            None if *kernel == "portable" => panic!(
                "{}: no entry for the portable kernel; record one with A4MER_BLESS_REPLAY=1",
                fixture.display()
            ),
            // A path this fixture has no entry for yet (e.g. `sdot`, recorded on such a CPU).
            None => common::skip::skip(
                "replay_outputs_match_the_recorded_fixture",
                &format!("no {kernel} entry to check this CPU's kernel against (the portable one was checked)"),
            ),
        }
    }
}

/// Two people walking side by side, 2 m apart, on one topic.
fn two_people_bag(dir: &Path, frames: &[PoseFrame]) -> PathBuf {
    let bag = dir.join("two_people");
    let mut w = BagWriter::create(&bag).unwrap();
    // The capture frame is the robot's base: an identity on /tf_static, so a replay with
    // `output.frame_id: base_link` places every frame where it was.
    let statics = w
        .add_topic::<a4mer_ros::msg::TFMessage>("/tf_static", &[QosProfile::reliable(1)])
        .unwrap();
    let identity = a4mer_ros::msg::TFMessage {
        transforms: vec![a4mer_ros::msg::TransformStamped {
            header: a4mer_ros::msg::Header {
                stamp: a4mer_ros::msg::Time::from_ns(frames[0].stamp_ns).unwrap(),
                frame_id: "base_link".into(),
            },
            child_frame_id: "mocap".into(),
            transform: Default::default(),
        }],
    };
    w.write(statics, frames[0].stamp_ns, &identity).unwrap();
    let t = w
        .add_topic::<Skeleton3DArray>("/poses", &[QosProfile::sensor_data()])
        .unwrap();
    for f in frames {
        let mut beside = *f;
        for j in beside.joints_in_world.iter_mut() {
            j[1] += 2.0;
        }
        let msg = skeleton_array(f.stamp_ns, "mocap", &[(1, f), (2, &beside)]).unwrap();
        w.write(t, f.stamp_ns, &msg).unwrap();
    }
    w.finish().unwrap();
    bag
}

/// An audit runs the robot's own settings: its parameters file and `-p` overrides, read
/// exactly as `a4mer_node` reads them, change what replay does, and the report lists
/// every setting with where it came from.
#[test]
fn replay_runs_the_nodes_parameters_and_lists_them() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = mocap_frames_from(900, 150);
    let bag = two_people_bag(tmp.path(), &frames);
    let file = tmp.path().join("robot.yaml");
    std::fs::write(
        &file,
        "/**:\n  ros__parameters:\n    tracks.max: 1\n    output.frame_id: base_link\n",
    )
    .unwrap();
    let args = [
        "--ros-args",
        "--params-file",
        file.to_str().unwrap(),
        "-p",
        "markers.stride:=10",
    ];
    let (_, params, config) = parameters_from_args(&args).unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(Some(out.clone()), None);
    opts.config = config;
    opts.params = params;
    let r = run(&bag, &opts).unwrap();
    let defaults = run(&bag, &options(None, None)).unwrap();

    // tracks.max = 1: the second person is never followed, once per message, and nothing
    // else happens to them; with the defaults both are followed alike.
    let kinds = |r: &ReplayReport, id: u32| -> Vec<String> {
        r.events
            .iter()
            .filter(|e| e.person_id == Some(id))
            .map(|e| e.kind.clone())
            .collect()
    };
    assert_eq!(kinds(&r, 2), vec!["person_not_followed".to_string(); frames.len()]);
    assert!(kinds(&defaults, 2).iter().all(|k| k != "person_not_followed"));
    assert!(r.forecasts > 0);
    assert_eq!(defaults.forecasts, 2 * r.forecasts);

    let setting = |name: &str| r.settings.iter().find(|s| s.name == name).unwrap().clone();
    assert_eq!(setting("tracks.max").value, "1");
    assert!(
        setting("tracks.max").from.contains("robot.yaml"),
        "{:?}",
        setting("tracks.max")
    );
    assert_eq!(setting("markers.stride").value, "10");
    assert_eq!(setting("markers.stride").from, "-p markers.stride:=10");
    assert_eq!(setting("tracks.gap_limit_s").from, "default");
    assert_eq!(r.settings.len(), a4mer_ros::config::PARAMETERS.len());

    // The outputs come out as the node would publish them: in base_link, with every
    // 10th step drawn.
    let reader = a4mer_bag::BagReader::open(&out).unwrap();
    let topic = |name: &str| reader.topics().iter().position(|t| t.name == name).unwrap();
    let (forecast, markers) = (topic("/a4mer/forecast"), topic("/a4mer/forecast_markers"));
    let (mut forecasts, mut marker_points) = (0, Vec::new());
    for m in reader.messages() {
        let m = m.unwrap();
        if m.topic == forecast {
            let f: a4mer_ros::msg::PoseForecast = a4mer_ros::msg::decode(&m.data).unwrap();
            assert_eq!(f.header.frame_id, "base_link");
            forecasts += 1;
        } else if m.topic == markers {
            let a: a4mer_ros::msg::MarkerArray = a4mer_ros::msg::decode(&m.data).unwrap();
            marker_points.push(a.markers.len());
        }
    }
    assert_eq!(forecasts, r.forecasts);
    let default_out = tmp.path().join("default_out");
    run(&bag, &options(Some(default_out.clone()), None)).unwrap();
    let reader = a4mer_bag::BagReader::open(&default_out).unwrap();
    let markers = reader
        .topics()
        .iter()
        .position(|t| t.name == "/a4mer/forecast_markers")
        .unwrap();
    let default_points: Vec<usize> = reader
        .messages()
        .map(|m| m.unwrap())
        .filter(|m| m.topic == markers)
        .map(|m| {
            a4mer_ros::msg::decode::<a4mer_ros::msg::MarkerArray>(&m.data)
                .unwrap()
                .markers
                .len()
        })
        .collect();
    assert!(
        marker_points.iter().max() < default_points.iter().max(),
        "stride 10 draws fewer markers than stride 5: {:?} vs {:?}",
        marker_points.iter().max(),
        default_points.iter().max()
    );
}

/// A parameters file for another input type than the bag's topic is refused, naming both:
/// the audit would not run what the robot runs.
#[test]
fn replay_refuses_a_bag_whose_pose_type_differs_from_the_nodes_input_type() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = our_bag(tmp.path(), &mocap_frames_from(0, 30));
    let (_, params, config) = parameters_from_args(&["--ros-args", "-p", "input.type:=pose_array"]).unwrap();
    let mut opts = options(None, None);
    opts.config = config;
    opts.params = params;
    let e = run(&bag, &opts).unwrap_err().to_string();
    assert!(
        e.contains("a4mer_msgs/msg/Skeleton3DArray") && e.contains("`input.type` is pose_array"),
        "{e}"
    );
}
