//! `a4mer selftest`: after flashing, prove on the device that the model the node runs loads,
//! forecasts as well as when it was made, and keeps up with 30 Hz.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use sha2::{Digest, Sha256};

use a4mer_ros::node::model_bytes;
use a4mer_runtime::artifact::{Artifact, FORMAT_VERSION};
use a4mer_runtime::device::inference_device;
use a4mer_runtime::stream::StreamModel;
use a4mer_train::bench::bench_engine;
use a4mer_train::data::load_motions;
use a4mer_train::eval::{Split, evaluate};
use a4mer_train::forecaster::EngineForecaster;

use crate::{SourceArgs, print_json};

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
    /// Write the report (JSON) here for the fleet log.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print the report as JSON instead of lines.
    #[arg(long)]
    json: bool,
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
    let (bytes, origin) = model_bytes(args.model.as_deref())?;
    let sha = hex::encode(Sha256::digest(&bytes));
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
        format!("{origin}: SHA-256 verified, format version {FORMAT_VERSION}"),
    );
    let recorded = recorded_mpjpe(&artifact).with_context(|| format!("model {origin}"))?;
    let int8 = artifact.payload.quantization.is_some();
    let model = artifact
        .into_model(&inference_device(), &origin)
        .with_context(|| format!("model {origin}"))?;
    let stream = Arc::new(StreamModel::new(&model).context("preparing the engine")?);

    let data = match &args.data {
        Some(d) => d.clone(),
        None => vec![default_clips()?],
    };
    let motions = load_motions(&data, &args.source.import_options())
        .with_context(|| format!("loading the bundled clip from {}", data[0].display()))?;
    let mut forecaster = EngineForecaster::new(Arc::clone(&stream));
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
    let bench = bench_engine(stream, &takes, args.frames.max(100)).context("timing the engine")?;
    check(
        "latency",
        bench.push_us.p99 <= MAX_P99_US,
        format!(
            "push p50 {:.0} µs, p99 {:.0} µs over {} frames (limit {MAX_P99_US:.0} µs)",
            bench.push_us.median, bench.push_us.p99, bench.frames
        ),
    );
    let report = Report {
        pass: checks.iter().all(|c| c.pass),
        model: origin,
        model_sha256: sha,
        format_version: FORMAT_VERSION,
        int8,
        machine: format!("{} {}", std::env::consts::ARCH, std::env::consts::OS),
        horizons_ms: eval.horizons_ms.clone(),
        mpjpe_world_mm: measured,
        recorded_mpjpe_world_mm: recorded,
        push_p50_us: bench.push_us.median,
        push_p99_us: bench.push_us.p99,
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
