use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use a4mer_measure::eval::{
    EvalReport, MethodScores, MpjpeTable, Scored, Split, evaluate, evaluate_perturbations, fit_damping_tau,
};
use a4mer_motion::load_motions;
use a4mer_motion::perturb::Perturbation;

use a4mer_burn_model::device::{Backend, backend_device};
use a4mer_burn_model::load_model;
use a4mer_measure::forecaster::{EngineForecaster, ModelForecaster};
use a4mer_measure::interp_eval::evaluate_interpolation;
use a4mer_measure::online::{Online, SpanScores};
use a4mer_runtime::stream::{EngineConfig, GuardConfig};

use crate::args::{SourceArgs, print_json};

#[derive(Args)]
pub struct EvalArgs {
    /// Recordings: BVH files or directories of them.
    #[arg(long, required = true, num_args = 1.., value_name = "FILE|DIR")]
    data: Vec<PathBuf>,
    /// Part of each recording to score: all, train (first 80 %) or heldout (last 20 %).
    #[arg(long, default_value = "all")]
    split: Split,
    /// Frames between window origins.
    #[arg(long, default_value_t = 5)]
    stride: usize,
    /// A trained model (.a4m) to score next to the baselines (adds the `model` key).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Backend that runs the model: ndarray, tch-cpu or tch-cuda (the tch ones need a build
    /// with `--features tch`).
    #[arg(long, default_value_t = Backend::Ndarray, value_name = "BACKEND")]
    backend: Backend,
    /// Forecast through the streaming engine (what the node runs) instead of the offline
    /// batch model. Always on for an int8 model: its int8 kernels run only in the engine.
    #[arg(long)]
    engine: bool,
    /// Also score the perturbation suite (body scale, speed, source rate, mirror, rig joint
    /// sets, camera jitter and dropped joints), each condition built from the recordings.
    #[arg(long)]
    perturb: bool,
    /// Publish the model's own forecast and spread from the engine, without the guard's
    /// blend and calibration (the guard still scores): an A/B comparison of the guard.
    #[arg(long)]
    model_only: bool,
    /// Also score gap filling against linear interpolation on gaps of 0.2 to 1.0 s cut out
    /// of the recordings: the model's fill per its calibration, the Hermite curve and the
    /// head as trained (adds the `interpolation` key).
    #[arg(long)]
    interpolation: bool,
    /// Print the damped-velocity baseline's time constant fitted on these recordings (their
    /// `--split`) and stop. Give it training recordings only: the protocol's τ is fitted
    /// once on the shipped model's training recordings.
    #[arg(long)]
    fit_damping_tau: bool,
    /// Adapt the decode's gains to each person online from the guard's scores, as the node
    /// does (`guard.adapt`). Default: true, except with `--model-only` (the model as shipped).
    /// `online_by_time` then shows the live errors in a recording's first 10 s, 10 to 30 s
    /// and after 30 s.
    #[arg(long, value_name = "BOOL")]
    adapt: Option<bool>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let motions = load_motions(&args.data, &args.source.import_options()).context("loading recordings")?;
    if args.fit_damping_tau {
        let streams: Vec<Scored<'_>> = motions
            .iter()
            .map(|m| {
                let f = args.split.frames(&m.frames);
                Scored { observed: f, truth: f }
            })
            .collect();
        let tau_s = fit_damping_tau(&streams, args.stride).context("no recording is long enough for one window")?;
        println!("{tau_s:.3}");
        return Ok(());
    }
    let (loaded, provenance) = match &args.model {
        Some(p) => {
            let device = backend_device(args.backend)?;
            let (m, prov) =
                load_model(p, &device).with_context(|| format!("loading model {} on {}", p.display(), args.backend))?;
            (Some(m), Some(prov))
        }
        None => (None, None),
    };
    let seen = match &provenance {
        Some(prov) => crate::args::recordings_trained_on(motions.iter().map(|m| m.source.as_path()), prov)?,
        None => Vec::new(),
    };
    let int8 = loaded.as_ref().is_some_and(|m| m.quant.is_some());
    let use_engine = args.engine || int8;
    let engine_config = EngineConfig {
        guard: GuardConfig {
            adapt: args.adapt.unwrap_or(!args.model_only),
            ..if args.model_only {
                GuardConfig::MODEL_ONLY
            } else {
                GuardConfig::default()
            }
        },
        ..EngineConfig::default()
    };
    let mut batch = None;
    let mut streamed = None;
    let mut online = None;
    let damping_tau = provenance.as_ref().map(|p| p.damping_tau());
    if let Some(note) = damping_tau.and_then(|t| t.note()) {
        eprintln!("a4mer eval: note: {note}");
    }
    if let Some(note) = loaded
        .as_ref()
        .and_then(|m| a4mer_runtime::artifact::anticipation_note(m.anticipation.as_ref()))
    {
        eprintln!("a4mer eval: note: {note}");
    }
    if let (Some(m), Some(tau)) = (&loaded, damping_tau) {
        let stream = std::sync::Arc::new(
            a4mer_burn_model::stream_model(m)
                .context("preparing the model for the streaming engine")?
                .with_damping_tau(tau),
        );
        online = Some(Online::new(stream.clone(), engine_config.clone()).context("engine settings")?);
        if use_engine {
            streamed = Some(EngineForecaster::with_config(stream, engine_config.clone()));
        } else {
            batch = Some(ModelForecaster::new(m).with_damping_tau_s(tau.seconds()));
        }
    }
    let forecaster: Option<&mut dyn a4mer_measure::eval::Forecaster> = match (&mut batch, &mut streamed) {
        (Some(b), _) => Some(b),
        (_, Some(s)) => Some(s),
        _ => None,
    };
    let mut forecaster = forecaster;
    let mut report = evaluate(&motions, args.split, args.stride, forecaster.as_deref_mut())?;
    let streams: Vec<_> = motions.iter().map(|m| args.split.frames(&m.frames)).collect();
    let (live, by_time) = online.as_ref().map(|o| o.score_with_spans(&streams)).unzip();
    report.online = live;
    if args.interpolation {
        let m = loaded.as_ref().context("--interpolation needs --model")?;
        report.interpolation = Some(evaluate_interpolation(m, &motions, args.split, args.stride));
    }
    if args.perturb {
        report.perturbations = evaluate_perturbations(
            &motions,
            args.split,
            args.stride,
            &Perturbation::suite(),
            forecaster,
            online.as_ref(),
        );
    }
    let (failures, last_error) = match (&batch, &streamed) {
        (Some(b), _) => (b.failures, b.last_error.clone()),
        (_, Some(s)) => (s.failures, s.last_error.clone()),
        _ => (0, None),
    };
    if failures > 0 {
        eprintln!(
            "a4mer eval: the model refused {} window(s) (left out of every method's scores); last error: {}",
            failures,
            last_error.as_deref().unwrap_or("?")
        );
    }
    for f in &report.too_short {
        eprintln!("a4mer eval: {f}: too short for one window (2 s observed + 1 s forecast) in this split; not scored");
    }
    if !seen.is_empty() {
        let whole = args.split != Split::Heldout;
        eprintln!(
            "a4mer eval: warning: this model's training read {} of these recordings ({}){}: these are not numbers on unseen recordings",
            seen.len(),
            seen.join(", "),
            if whole { "" } else { ", at least their training part" }
        );
    }
    if args.json {
        #[derive(serde::Serialize)]
        struct WithSpans<'a> {
            #[serde(flatten)]
            report: &'a a4mer_measure::eval::EvalReport,
            online_by_time: &'a Option<Vec<SpanScores>>,
        }
        return print_json(&WithSpans {
            report: &report,
            online_by_time: &by_time,
        });
    }
    println!(
        "a4mer eval: {} recording(s), split {:?}, {} windows (stride {}), {} joints, {} Hz",
        motions.len(),
        args.split,
        report.windows,
        args.stride,
        report.joints,
        report.fps
    );
    if report.windows_refused_by_model > 0 {
        println!(
            "{} window(s) the model refused (no forecast of its own): left out of every method's scores",
            report.windows_refused_by_model
        );
    }
    if loaded.is_some() {
        println!(
            "model runs: {}",
            match (use_engine, int8) {
                (true, true) => "streaming engine, int8 kernels",
                (true, false) => "streaming engine, f32",
                _ => "offline batch model (burn), f32",
            }
        );
    }
    print_table(&report);
    if let Some(o) = &report.online {
        print_online(o);
    }
    if let Some(spans) = &by_time {
        print_spans(spans, engine_config.guard.adapt);
    }
    if let Some(i) = &report.interpolation {
        println!();
        println!("interpolation: fill per gap length from {}", i.calibration);
        println!(
            "{:<22} {:>7} {:>8} {:>8} {:>10} {:>8} {:>8} {:>12}",
            "gap (mm)", "windows", "linear", "curve", "head", "model", "gain", "tangent/head"
        );
        for g in &i.gaps {
            println!(
                "{:<22} {:>7} {:>8} {:>8} {:>10} {:>8} {:>8} {:>12}",
                format!("{} ms ({} frames)", g.gap_ms, g.gap_frames),
                g.windows,
                opt(g.linear_mm, |v| format!("{v:.1}")),
                opt(g.curve_mm, |v| format!("{v:.1}")),
                opt(g.head_as_trained_mm, |v| format!("{v:.1}")),
                opt(g.model_mm, |v| format!("{v:.1}")),
                opt(g.model_gain_pct, |v| format!("{v:+.1}%")),
                format!("{:.2}/{:.2}", g.tangent_scale, g.head_scale)
            );
        }
        println!(
            "(curve: Hermite at the chosen tangent scale; head: the head as trained, its whole residual on linear)"
        );
        let losing: Vec<String> = i
            .by_recording
            .iter()
            .flat_map(|r| {
                r.gaps
                    .iter()
                    .filter(|g| g.model_gain_pct.is_some_and(|p| p < 0.0))
                    .map(|g| {
                        format!(
                            "{} at {} ms ({:+.1}%)",
                            r.recording,
                            g.gap_ms,
                            g.model_gain_pct.unwrap_or(0.0)
                        )
                    })
            })
            .collect();
        if losing.is_empty() {
            println!(
                "on each of the {} recordings the model's fill is no worse than linear at every gap",
                i.by_recording.len()
            );
        } else {
            println!("where the model's fill loses to linear: {}", losing.join("; "));
        }
        match i.head_wins_from_ms {
            Some(ms) => println!("the model's fill beats linear interpolation from {ms} ms gaps on"),
            None => println!("the model's fill does not beat linear interpolation on the longest gap"),
        }
    }
    if !report.perturbations.is_empty() {
        print_perturbations(&report);
    }
    Ok(())
}

/// Per condition and horizon: the model's world gain over the better baseline (negative:
/// the model loses), with the better baseline's error beside it.
fn print_perturbations(report: &EvalReport) {
    println!();
    // "N+Mr": N windows scored, M refused by the model and scored for no method.
    print!("{:<32} {:>7}", "condition (world, gain vs best", "windows");
    for ms in &report.horizons_ms {
        print!("{:>17}", format!("{ms} ms"));
    }
    println!();
    for p in &report.perturbations {
        let windows = if p.windows_refused_by_model > 0 {
            format!("{}+{}r", p.windows, p.windows_refused_by_model)
        } else {
            p.windows.to_string()
        };
        print!("{:<32} {:>7}", p.name, windows);
        let best = p.mpjpe_mm.best_baseline_world();
        match p.mpjpe_mm.model_gain_pct() {
            Some(gain) => {
                for (g, b) in gain.iter().zip(&best) {
                    print!("{:>17}", format!("{g:+.1}% of {b:.1}"));
                }
            }
            None => {
                for b in &best {
                    print!("{:>17}", format!("best {b:.1}"));
                }
            }
        }
        println!();
    }
    if report.perturbations.iter().any(|p| p.online.is_some()) {
        println!();
        print!("{:<32} {:>7}", "condition (engine, live)", "");
        for ms in &report.horizons_ms {
            print!("{:>17}", format!("{ms} ms"));
        }
        println!();
        for p in &report.perturbations {
            let Some(o) = &p.online else { continue };
            print!("{:<32} {:>7}", p.name, "cover");
            for c in &o.calibration.coverage {
                print!(
                    "{:>17}",
                    c.map(|c| format!("{:.1}%", c * 100.0)).unwrap_or_else(|| "-".into())
                );
            }
            println!();
            print!("{:<32} {:>7}", "", "pub/bl");
            for r in &o.guard.published_over_best_baseline {
                print!("{:>17}", r.map(|r| format!("{r:.3}")).unwrap_or_else(|| "-".into()));
            }
            println!();
        }
    }
    let losing: Vec<&str> = report
        .perturbations
        .iter()
        .filter(|p| losing_condition(&report.horizons_ms, &p.mpjpe_mm))
        .map(|p| p.name.as_str())
        .collect();
    if report.mpjpe_mm.model.is_some() {
        if losing.is_empty() {
            println!(
                "model at least as good as the best baseline (zero, constant, damped velocity) at 400 and 1000 ms, and within +5 % at 100 ms, in every condition"
            );
        } else {
            println!(
                "model loses (worse than the best baseline at 400 or 1000 ms, or by over 5 % at 100 ms) in: {}",
                losing.join(", ")
            );
        }
    }
}

/// The suite's bar for one condition: at least as good as the better baseline at 400 and
/// 1000 ms, and within 5 % of it at 100 ms.
fn losing_condition(horizons_ms: &[u32], t: &MpjpeTable) -> bool {
    let Some(gain) = t.model_gain_pct() else { return false };
    let at = |ms: u32| {
        horizons_ms
            .iter()
            .position(|h| *h == ms)
            .and_then(|i| gain.get(i).copied())
    };
    at(100).is_some_and(|g| g < -5.0) || at(400).is_some_and(|g| g < 0.0) || at(1000).is_some_and(|g| g < 0.0)
}

fn print_table(report: &EvalReport) {
    print!("{:<18} {:<16}", "MPJPE (mm)", "frame");
    for ms in &report.horizons_ms {
        print!("{:>9}", format!("{ms} ms"));
    }
    println!();
    let t = &report.mpjpe_mm;
    let rows: Vec<(&str, &MethodScores)> = [
        Some(("zero_velocity", &t.zero_velocity)),
        Some(("constant_velocity", &t.constant_velocity)),
        Some(("damped_velocity", &t.damped_velocity)),
        t.model.as_ref().map(|m| ("model", m)),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (name, scores) in rows {
        for (frame, values) in [("world", &scores.world), ("pelvis_relative", &scores.pelvis_relative)] {
            print!("{name:<18} {frame:<16}");
            for v in values {
                print!("{v:>9.1}");
            }
            println!();
        }
    }
    println!("(damped velocity: tau {} s)", t.damping_tau_s);
    for (what, gain) in [
        ("model gain, world, vs best of the three", t.model_gain_pct()),
        ("  vs better of zero and constant", t.model_gain_vs_trivial_pct()),
    ] {
        let Some(gain) = gain else { continue };
        print!("{what:<35}");
        for g in gain {
            print!("{:>9}", format!("{g:+.1}%"));
        }
        println!();
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

/// The engine's live scores: what the guard published against its sources, the calibrated
/// radius's coverage, and the next-motif distribution against "the motif stays".
pub fn print_online(o: &a4mer_runtime::stream::OnlineReport) {
    let g = &o.guard;
    println!();
    print!("{:<35}", "live, after warm-up (world MPJPE mm)");
    for ms in &g.horizons_ms {
        print!("{:>9}", format!("{ms} ms"));
    }
    println!();
    for (name, row) in [
        ("model", &g.mpjpe_mm.model),
        ("zero_velocity", &g.mpjpe_mm.zero_velocity),
        ("constant_velocity", &g.mpjpe_mm.constant_velocity),
        ("damped_velocity", &g.mpjpe_mm.damped_velocity),
        ("published (guard)", &g.mpjpe_mm.published),
    ] {
        print!("{name:<35}");
        for v in row {
            print!("{:>9}", opt(*v, |v| format!("{v:.1}")));
        }
        println!();
    }
    for (name, ratios) in [
        ("published / best baseline", &g.published_over_best_baseline),
        (
            "  / better of zero and constant",
            &g.published_over_better_trivial_baseline,
        ),
    ] {
        print!("{name:<35}");
        for v in ratios {
            print!("{:>9}", opt(*v, |v| format!("{v:.3}")));
        }
        println!();
    }
    print!("{:<35}", "guard followed the model");
    for v in &g.followed.model {
        print!("{:>9}", opt(*v, |v| format!("{:.0}%", v * 100.0)));
    }
    println!();
    let c = &o.calibration;
    print!("{:<35}", format!("inside the {:.0} % radius", c.nominal * 100.0));
    for v in &c.coverage {
        print!("{:>9}", opt(*v, |v| format!("{:.1}%", v * 100.0)));
    }
    println!();
    if g.discarded > 0 {
        println!("{} forecast-horizons discarded unscored (stream restarts)", g.discarded);
    }
    let a = &o.anticipation;
    let pct = |v: Option<f64>| opt(v, |v| format!("{:.1}%", v * 100.0));
    let num = |v: Option<f64>| opt(v, |v| format!("{v:.3}"));
    println!(
        "motif {:.1} s ahead ({} scored, {} published as it stays): top-1 {}, top-3 {}, top-3 where it changed {} ({}), brier {} (skill against it stays {}; the model alone {}), ECE {}; the motif stays: top-1 {}, brier {}",
        a.horizon_s,
        a.scored,
        a.published_stays,
        pct(a.top1),
        pct(a.top3),
        pct(a.change_top3),
        a.change_scored,
        num(a.brier),
        pct(a.brier_skill),
        pct(a.model_brier_skill),
        num(a.ece),
        pct(a.stay_top1),
        num(a.stay_brier)
    );
    println!(
        "time to the next motif change: mean error {} s, baseline (median duration minus time spent) {} s, ratio {}, over {} predictions ({} censored)",
        num(a.transition_mae_s),
        num(a.transition_baseline_mae_s),
        num(a.transition_over_baseline),
        a.transition_scored,
        a.transition_censored
    );
}

/// The live errors by time in the recording: a person just met against one watched a while.
fn print_spans(spans: &[SpanScores], adapt: bool) {
    println!();
    println!(
        "live error by time in the recording (mm; model {}; 100 / 200 / 400 / 600 / 1000 ms):",
        if adapt { "adapted to the person" } else { "as shipped" }
    );
    let row = |v: &[Option<f64>]| {
        v.iter()
            .map(|x| x.map_or("-".into(), |x| format!("{x:.1}")))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    for s in spans {
        let span = match s.to_s {
            Some(to) => format!("{:.0}-{to:.0} s", s.from_s),
            None => format!("after {:.0} s", s.from_s),
        };
        println!(
            "  {span:<10} model {}; damped velocity {}; published {} ({} scored at 1 s)",
            row(&s.model_mm),
            row(&s.damped_velocity_mm),
            row(&s.published_mm),
            s.scored.last().copied().unwrap_or(0)
        );
    }
}
