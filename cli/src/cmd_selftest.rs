//! `a4mer selftest`: after flashing, prove on the device that the model the node runs loads,
//! forecasts as well as when it was made, and keeps up with 30 Hz; with `--node`, that
//! poses reach the node and forecasts come back over DDS in time.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use a4mer_burn_model::BurnArtifact;
use a4mer_burn_model::device::inference_device;
use a4mer_measure::bench::bench_engine;
use a4mer_measure::eval::{Split, evaluate};
use a4mer_measure::forecaster::EngineForecaster;
use a4mer_motion::load_motions;
use a4mer_ros::model::model_bytes;
use a4mer_runtime::artifact::Artifact;
use a4mer_runtime::stream::{EngineConfig, GuardConfig};

use crate::args::{SourceArgs, print_json};
use crate::selftest_forecasts::{
    ForecastsHeader, compare_forecasts, engine_forecasts, read_forecasts, write_forecasts,
};
use crate::selftest_node::run_node;

/// A frame must be done well inside the 33 ms a 30 Hz producer leaves.
const MAX_P99_US: f64 = 10_000.0;

#[derive(Args)]
pub struct SelftestArgs {
    /// Model artifact. Default: the one built into the node and this binary.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The bundled clip(s); their held-out part is scored as when the model was made.
    /// Default: `data/mocap` beside the installed binary (`/opt/a4mer/data/mocap` in a
    /// device bundle), else `data/mocap` in the current directory (a checkout).
    #[arg(long, num_args = 1.., value_name = "FILE|DIR")]
    data: Option<Vec<PathBuf>>,
    /// Largest allowed difference from the recorded MPJPE, percent.
    #[arg(long, default_value_t = 2.0)]
    tolerance_pct: f64,
    /// Frames for the latency measurement.
    #[arg(long, default_value_t = 5_000)]
    frames: usize,
    /// Largest allowed per-frame `push` p99, µs. Raise it only where time means nothing,
    /// e.g. under an instruction-set emulator.
    #[arg(long, default_value_t = MAX_P99_US, value_name = "US")]
    push_p99_limit_us: f64,
    /// Write the report (JSON) here for the fleet log.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print the report as JSON instead of lines.
    #[arg(long)]
    json: bool,
    /// Also prove the DDS path: a publisher of the bundled clip at 30 Hz, the node
    /// (`a4mer_node` beside this binary) and a subscriber on a private loopback domain;
    /// reports pose-in → forecast-out latency.
    #[arg(long)]
    node: bool,
    /// Length of the `--node` run, seconds.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    node_seconds: f64,
    /// Largest allowed `--node` end-to-end p99, milliseconds.
    #[arg(long, default_value_t = 10.0, value_name = "MS")]
    node_p99_ms: f64,
    /// Write the engine's forecast after every frame of the clip here (to compare with
    /// another machine's by `--forecasts-against`).
    #[arg(long, value_name = "FILE")]
    forecasts_out: Option<PathBuf>,
    /// Compare the engine's forecasts with another machine's (`--forecasts-out` there):
    /// the same model on the same clip must agree within `--parity-m`.
    #[arg(long, value_name = "FILE")]
    forecasts_against: Option<PathBuf>,
    /// Largest allowed difference from `--forecasts-against`, metres.
    #[arg(long, default_value_t = 1e-5, value_name = "M")]
    parity_m: f64,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Serialize)]
struct Check {
    name: String,
    pass: bool,
    detail: String,
}

#[derive(Serialize)]
struct Report {
    pass: bool,
    model: String,
    model_sha256: String,
    format_version: u32,
    int8: bool,
    machine: String,
    horizons_ms: Vec<u32>,
    mpjpe_world_mm: Vec<f64>,
    recorded_mpjpe_world_mm: Vec<f64>,
    push_p50_us: f64,
    push_p99_us: f64,
    /// The int8 kernel this CPU runs (`avx512-vnni`, `sdot`, `portable`).
    int8_kernel: &'static str,
    /// `--forecasts-against`: largest difference from the other machine, metres.
    parity_max_diff_m: Option<f64>,
    /// `--node`: pose published → forecast received, milliseconds.
    node_e2e_p50_ms: Option<f64>,
    node_e2e_p99_ms: Option<f64>,
    node_e2e_max_ms: Option<f64>,
    checks: Vec<Check>,
}

/// Where the bundled clips are: a bundle keeps them at `<root>/data/mocap` beside
/// `<root>/bin/a4mer`; a checkout at `./data/mocap`.
fn default_clips() -> Result<PathBuf> {
    const CLIPS: &str = "data/mocap";
    let beside_binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join(CLIPS)));
    let candidates: Vec<PathBuf> = beside_binary.into_iter().chain([PathBuf::from(CLIPS)]).collect();
    match candidates.iter().find(|p| p.is_dir()) {
        Some(p) => Ok(p.clone()),
        None => bail!(
            "no bundled clip: looked in {}; pass --data FILE|DIR",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// The held-out world MPJPE recorded in the artifact: the quantization report's int8 row,
/// or the training run's evaluation.
fn recorded_mpjpe(artifact: &Artifact) -> Result<Vec<f64>> {
    let pick = |json: &str, path: &[&str]| -> Result<Vec<f64>> {
        let v: serde_json::Value = serde_json::from_str(json).context("parsing the recorded report")?;
        let mut at = &v;
        for p in path {
            at = &at[*p];
        }
        at.as_array()
            .context("the recorded report has no world MPJPE")?
            .iter()
            .map(|x| x.as_f64().context("a non-number in the recorded MPJPE"))
            .collect()
    };
    let p = &artifact.payload;
    match (&p.quantization, &p.provenance.eval_json) {
        (Some(q), _) => pick(
            q.report_json
                .as_deref()
                .context("the int8 artifact carries no quantization report")?,
            &["int8", "mpjpe_world_mm"],
        ),
        (None, Some(e)) => pick(e, &["mpjpe_mm", "model", "world"]),
        (None, None) => bail!("the artifact records no held-out evaluation to compare with"),
    }
}

pub fn run(args: SelftestArgs) -> Result<()> {
    if !(args.node_seconds.is_finite() && (3.0..=600.0).contains(&args.node_seconds)) {
        bail!("--node-seconds {} is outside 3..=600", args.node_seconds);
    }
    let (bytes, origin) = model_bytes(args.model.as_deref())?;
    let sha = a4mer_runtime::digest::sha256_hex(&bytes);
    let mut checks = Vec::new();
    let mut check = |name: &str, pass: bool, detail: String| {
        checks.push(Check {
            name: name.into(),
            pass,
            detail,
        })
    };
    // Integrity and format first: nothing else is meaningful without them.
    let artifact = Artifact::from_bytes(&bytes, &origin).with_context(|| format!("model {origin}"))?;
    check(
        "model",
        true,
        format!(
            "{origin}: SHA-256 verified, format and provenance checked{}",
            artifact
                .damping_tau()
                .note()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
    );
    let damping_tau = artifact.damping_tau();
    let format_version = artifact.format_version;
    let recorded = recorded_mpjpe(&artifact).with_context(|| format!("model {origin}"))?;
    let int8 = artifact.payload.quantization.is_some();
    let model = artifact
        .into_model(&inference_device(), &origin)
        .with_context(|| format!("model {origin}"))?;
    let stream = Arc::new(
        a4mer_burn_model::stream_model(&model)
            .context("preparing the engine")?
            .with_damping_tau(damping_tau),
    );

    let data = match &args.data {
        Some(d) => d.clone(),
        None => vec![default_clips()?],
    };
    let motions = load_motions(&data, &args.source.import_options())
        .with_context(|| format!("loading the bundled clip from {}", data[0].display()))?;
    // The model's own forecasts, as the artifact's recorded numbers were measured: the
    // guard's blend would move them with the clip's baselines.
    let raw = EngineConfig {
        guard: GuardConfig::MODEL_ONLY,
        ..EngineConfig::default()
    };
    let mut forecaster = EngineForecaster::with_config(Arc::clone(&stream), raw);
    let eval = evaluate(&motions, Split::Heldout, 5, Some(&mut forecaster)).context("scoring the bundled clip")?;
    let measured = eval
        .mpjpe_mm
        .model
        .as_ref()
        .map(|m| m.world.clone())
        .unwrap_or_default();
    if measured.len() != recorded.len() {
        bail!(
            "{} horizons measured, {} recorded in the model",
            measured.len(),
            recorded.len()
        );
    }
    for ((ms, m), r) in eval.horizons_ms.iter().zip(&measured).zip(&recorded) {
        let diff_pct = (m - r) / r.max(1e-9) * 100.0;
        check(
            &format!("MPJPE {ms} ms"),
            diff_pct.abs() <= args.tolerance_pct,
            format!(
                "{m:.1} mm, recorded {r:.1} mm ({diff_pct:+.2} %, limit ±{} %)",
                args.tolerance_pct
            ),
        );
    }
    check(
        "engine",
        forecaster.failures == 0,
        format!(
            "{} windows, {} rejected{}",
            eval.windows,
            forecaster.failures,
            forecaster.last_error.map(|e| format!(" ({e})")).unwrap_or_default()
        ),
    );
    let takes: Vec<&[a4mer_runtime::PoseFrame]> = motions.iter().map(|m| m.frames.as_slice()).collect();
    let mut parity_max_diff_m = None;
    if args.forecasts_out.is_some() || args.forecasts_against.is_some() {
        let values = engine_forecasts(&stream, &takes)?;
        let header = ForecastsHeader {
            format: "a4mer-forecasts-1".into(),
            model_sha256: sha.clone(),
            clips: motions
                .iter()
                .map(|m| m.source.file_name().unwrap_or_default().to_string_lossy().into_owned())
                .collect(),
            frames: takes.iter().map(|t| t.len()).sum(),
            values_per_frame: values.len() / takes.iter().map(|t| t.len()).sum::<usize>().max(1),
            machine: format!("{} {}", std::env::consts::ARCH, a4mer_kernels::Kernel::best().name()),
        };
        if let Some(path) = &args.forecasts_out {
            write_forecasts(path, &header, &values)?;
        }
        if let Some(path) = &args.forecasts_against {
            let (theirs, their_values) = read_forecasts(path)?;
            match compare_forecasts(&header, &values, &theirs, &their_values) {
                Ok((diff_m, frame)) => {
                    parity_max_diff_m = Some(diff_m);
                    check(
                        "forecast parity",
                        diff_m <= args.parity_m,
                        format!(
                            "{} frames against {} ({}): largest difference {diff_m:.2e} m at frame {frame} (limit {:.0e} m)",
                            header.frames,
                            path.display(),
                            theirs.machine,
                            args.parity_m
                        ),
                    );
                }
                Err(why) => check("forecast parity", false, format!("{}: {why}", path.display())),
            }
        }
    }
    let bench = bench_engine(stream, &takes, args.frames.max(100)).context("timing the engine")?;
    check(
        "latency",
        bench.push_us.p99 <= args.push_p99_limit_us,
        format!(
            "push p50 {:.0} µs, p99 {:.0} µs over {} frames (limit {:.0} µs)",
            bench.push_us.median, bench.push_us.p99, bench.frames, args.push_p99_limit_us
        ),
    );
    let (mut node_p50, mut node_p99, mut node_max) = (None, None, None);
    if args.node {
        match run_node(args.model.as_deref(), &takes, args.node_seconds) {
            Ok(run) => {
                let s = &run.summary;
                let l = &s.end_to_end_latency_ms;
                (node_p50, node_p99, node_max) = (l.p50, l.p99, l.max);
                // The first second is the engine's warm-up; discovery may lose a few
                // best-effort frames before it.
                let expected = s.frames_sent.saturating_sub(30 + 15);
                let received_ok = s.forecasts_received >= expected * 9 / 10 && s.forecasts_received > 0;
                check(
                    "node over DDS",
                    received_ok,
                    format!(
                        "{} poses sent, {} forecasts received (need {}), first after {} s; {}",
                        s.frames_sent,
                        s.forecasts_received,
                        (expected * 9 / 10).max(1),
                        s.first_forecast_s
                            .map(|t| format!("{t:.2}"))
                            .unwrap_or_else(|| "-".into()),
                        run.how
                    ),
                );
                let fmt = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
                check(
                    "node latency",
                    l.p99.is_some_and(|p| p <= args.node_p99_ms),
                    format!(
                        "pose in -> forecast out p50 {} ms, p99 {} ms, max {} ms over {} forecasts (limit p99 {} ms)",
                        fmt(l.p50),
                        fmt(l.p99),
                        fmt(l.max),
                        l.count,
                        args.node_p99_ms
                    ),
                );
            }
            Err(e) => check("node over DDS", false, format!("{e:#}")),
        }
    }
    let report = Report {
        pass: checks.iter().all(|c| c.pass),
        model: origin,
        model_sha256: sha,
        format_version,
        int8,
        machine: format!("{} {}", std::env::consts::ARCH, std::env::consts::OS),
        horizons_ms: eval.horizons_ms.clone(),
        mpjpe_world_mm: measured,
        recorded_mpjpe_world_mm: recorded,
        push_p50_us: bench.push_us.median,
        push_p99_us: bench.push_us.p99,
        int8_kernel: a4mer_kernels::Kernel::best().name(),
        parity_max_diff_m,
        node_e2e_p50_ms: node_p50,
        node_e2e_p99_ms: node_p99,
        node_e2e_max_ms: node_max,
        checks,
    };
    if let Some(path) = &args.report {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        print_json(&report)?;
    } else {
        println!("info  {}, int8 kernel {}", report.machine, report.int8_kernel);
        for c in &report.checks {
            println!("{}  {}: {}", if c.pass { "ok  " } else { "FAIL" }, c.name, c.detail);
        }
        println!("{}", if report.pass { "PASS" } else { "FAIL" });
    }
    if !report.pass {
        bail!("selftest failed");
    }
    Ok(())
}
