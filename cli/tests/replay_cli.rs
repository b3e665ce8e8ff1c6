//! `a4mer import --to-bag` then `a4mer replay`: the audit a safety team runs.

mod common;

use serde_json::Value;

use common::a4mer_in_repo as a4mer;

#[test]
fn replay_of_an_imported_take_writes_json_report_and_output_bag_and_fails_on_a_cut_bag() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("take");
    let out = a4mer(&[
        "import",
        "data/mocap/bvhtools_test.bvh",
        "--to-bag",
        bag.to_str().unwrap(),
        "--loop-to-s",
        "40",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = tmp.path().join("audit.html");
    let out_bag = tmp.path().join("out");
    let out = a4mer(&[
        "replay",
        bag.to_str().unwrap(),
        "--json",
        "--report",
        report.to_str().unwrap(),
        "--out",
        out_bag.to_str().unwrap(),
        "--robot",
        "0,0,1",
        "--base-from-forecast=-3,-1.5,0,0,0,0",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["messages"], 1200, "40 s looped at 30 Hz");
    assert_eq!(r["topic"], "/poses");
    assert!(r["mpjpe_mm"]["model"]["world"][4].as_f64().unwrap() > 0.0);
    assert!(r["timing"]["realtime_factor"].as_f64().unwrap() > 1.0);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(r["model_sha256"].as_str().unwrap()));
    assert!(out_bag.join("metadata.yaml").is_file());
    let ssm = &r["ssm"];
    assert_eq!(ssm["robot_position_in_base_m"], serde_json::json!([0.0, 0.0, 1.0]));
    assert!(
        ssm["seconds_run"].as_f64().unwrap() + ssm["seconds_fallback"].as_f64().unwrap() > 30.0,
        "{ssm}"
    );
    assert!(html.contains("plot-ssm"));
    assert!(
        r["settings"].as_array().unwrap().iter().all(|s| s["from"] == "default"),
        "no parameters given: {}",
        r["settings"]
    );
    // The static base pose and TF at once: which one places the poses is ambiguous.
    let both = a4mer(&[
        "replay",
        bag.to_str().unwrap(),
        "--robot",
        "0,0,1",
        "--base-from-forecast=-3,-1.5,0,0,0,0",
        "--ros-args",
        "-p",
        "output.frame_id:=base_link",
    ]);
    assert!(!both.status.success());
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(
        stderr.contains("--base-from-forecast") && stderr.contains("output.frame_id"),
        "{stderr}"
    );

    // The robot's parameters, as its launch gives them: a file, then `-p` after --ros-args.
    let params = tmp.path().join("robot.yaml");
    std::fs::write(
        &params,
        "a4mer_node:\n  ros__parameters:\n    tracks.gap_limit_s: 0.5\n",
    )
    .unwrap();
    let out = a4mer(&[
        "replay",
        bag.to_str().unwrap(),
        "--json",
        "--params-file",
        params.to_str().unwrap(),
        "--ros-args",
        "-p",
        "markers.stride:=7",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let setting = |name: &str| {
        r["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(setting("tracks.gap_limit_s")["value"], "0.5");
    assert!(
        setting("tracks.gap_limit_s")["from"]
            .as_str()
            .unwrap()
            .contains("robot.yaml")
    );
    assert_eq!(setting("markers.stride")["value"], "7");
    let bad = a4mer(&["replay", bag.to_str().unwrap(), "--ros-args", "-p", "tracks.max:=0"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("`tracks.max`") && stderr.contains("outside"),
        "{stderr}"
    );

    let bad = a4mer(&["replay", bag.to_str().unwrap(), "--robot", "0,1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--robot needs 3 values"));

    // The same bag cut short: the report is still written, and the exit code says it stopped.
    let mcap = std::fs::read_dir(&bag)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .unwrap();
    let bytes = std::fs::read(&mcap).unwrap();
    let cut = tmp.path().join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let partial = tmp.path().join("partial.html");
    let out = a4mer(&["replay", cut.to_str().unwrap(), "--report", partial.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("ended in an error after") && stderr.contains("cut.mcap"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(&partial)
            .unwrap()
            .contains("Replay stopped early")
    );
}
