//! `a4mer demo` end to end: real DDS on loopback, the node as its own process.

use std::process::Command;

use serde_json::Value;

#[test]
fn demo_streams_real_mocap_through_the_node_process_and_scores_the_forecasts() {
    let domain = 180 + std::process::id() % 40;
    let out = Command::new(env!("CARGO_BIN_EXE_a4mer"))
        .args(["demo", "--seconds", "4", "--people", "2", "--node-process", "--json"])
        .args(["--domain", &domain.to_string()])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["frames_sent"], 120, "4 s at 30 Hz");
    assert_eq!(s["people"], 2);
    // At most one per frame after the 30-frame warm-up (and a few frames may go before
    // discovery completes); how many fewer arrive is the host's timing (best-effort input).
    let forecasts = s["forecasts_received"].as_u64().unwrap();
    eprintln!("{forecasts} forecasts for 2 people of 120 frames");
    assert!((1..=2 * 92).contains(&forecasts), "{forecasts} forecasts for 2 people");
    assert_eq!(s["end_to_end_latency_ms"]["count"].as_u64().unwrap(), forecasts);
    let mpjpe: Vec<f64> = s["mpjpe_mm"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(mpjpe.len(), 3, "scored at 100, 400 and 1000 ms: {}", s["mpjpe_mm"]);
    assert!(
        mpjpe[0] < mpjpe[1] && mpjpe[1] < mpjpe[2],
        "error grows with the horizon: {mpjpe:?}"
    );
    assert!(mpjpe[0] > 0.0 && mpjpe[2] < 1000.0, "{mpjpe:?}");
    // The baselines are scored on the same forecasts' origins: at 100 ms holding the last
    // pose is worse than moving it on (real walking), and at 1 s constant velocity
    // overshoots more than its damped form.
    let b = &s["baselines_mpjpe_mm"];
    let at = |name: &str, h: usize| b[name][h].as_f64().unwrap_or_else(|| panic!("{name}[{h}]: {b}"));
    assert!(at("zero_velocity", 0) > at("constant_velocity", 0), "{b}");
    assert!(at("damped_velocity", 2) < at("constant_velocity", 2), "{b}");
    assert!(b["damping_tau_s"].as_f64().unwrap() > 0.0);
    // The motifs received are scored when they fall due. The bundled model predates the
    // anticipation prior, so every one is "it stays" and scores exactly as "it stays" does.
    let m = &s["motifs"];
    let scored = m["scored"].as_u64().unwrap();
    assert!(scored > 0, "{m}");
    assert_eq!(m["published_stays"].as_u64(), Some(scored), "{m}");
    assert_eq!(m["top1"], m["stay_top1"], "{m}");
    if let Some(skill) = m["brier_skill"].as_f64() {
        assert!(skill.abs() < 1e-12, "{m}");
    }
    assert!(s["node_peak_rss_mb"].as_f64().unwrap() > 1.0);
    assert!(s["first_forecast_s"].as_f64().unwrap() >= 1.0, "after the 1 s warm-up");
    assert!(stderr.contains("t=  1s"), "a live line per second: {stderr}");
    assert!(
        stderr.contains("a4mer_node: stopped after"),
        "the node stopped cleanly: {stderr}"
    );
}
