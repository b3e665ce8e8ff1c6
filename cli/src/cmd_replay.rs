//! `a4mer replay`: a bag through the node's engine, driven by bag time, for safety audits.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use a4mer_firmware::monitor::MonitorConfig;
use a4mer_firmware::ssm::RobotState;
use a4mer_ros::link::RigidTransform;
use a4mer_ros::node::LoadedModel;
use a4mer_ros::outputs::MarkerStyle;
use a4mer_ros::replay::{HORIZONS_MS, ReplayOptions, ReplayReport, SafetySetup, replay, report};
use a4mer_runtime::stream::{EngineConfig, TracksConfig};

use crate::print_json;

#[derive(Args)]
pub struct ReplayArgs {
    /// rosbag2 bag: a directory with metadata.yaml (MCAP or sqlite3) or a bare .mcap/.db3 file.
    bag: PathBuf,
    /// Model artifact. Default: the node's bundled model.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Pose topic. Default: the first topic of a type the node reads.
    #[arg(long)]
    topic: Option<String>,
    /// Write a new bag with the input poses and our forecasts, motifs and markers.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write the self-contained HTML audit report here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print the result as one JSON object (`timing` is the only non-deterministic field).
    #[arg(long)]
    json: bool,
    /// Also run the safety MCU's speed and separation monitoring for a robot at x,y,z
    /// (metres, robot base frame) and show its decision over time.
    #[arg(long, value_name = "X,Y,Z", value_delimiter = ',', allow_hyphen_values = true)]
    robot: Option<Vec<f32>>,
    /// The robot's programmed speed for the monitoring, m/s.
    #[arg(long, default_value_t = 1.0, requires = "robot")]
    robot_speed: f32,
    /// Pose of the bag's pose frame in the robot base frame: x,y,z (m), roll,pitch,yaw (rad),
    /// as the node's `link.base_from_forecast`.
    #[arg(
        long,
        value_name = "X,Y,Z,R,P,Y",
        value_delimiter = ',',
        allow_hyphen_values = true,
        requires = "robot"
    )]
    base_from_forecast: Option<Vec<f64>>,
}

fn print_table(r: &ReplayReport) {
    println!("bag      {} (sha256 {})", r.bag, &r.bag_sha256[..16]);
    println!("model    {} (sha256 {})", r.model, &r.model_sha256[..16]);
    println!(
        "topic    {} ({}): {} messages, {} frames, {} forecasts, people {:?}, {:.1} s",
        r.topic, r.input_type, r.messages, r.frames, r.forecasts, r.people, r.duration_s
    );
    let heads: Vec<String> = HORIZONS_MS.iter().map(|h| format!("{h:>7} ms")).collect();
    println!("\nMPJPE (mm)                       {}", heads.join(""));
    let s = &r.mpjpe_mm;
    for (name, t) in [
        ("model", &s.model),
        ("zero velocity", &s.zero_velocity),
        ("constant velocity", &s.constant_velocity),
    ] {
        for (frame, v) in [("world", &t.world), ("pelvis-rel", &t.pelvis_relative)] {
            let cells: Vec<String> = v
                .iter()
                .map(|v| {
                    v.map(|v| format!("{v:>10.1}"))
                        .unwrap_or_else(|| format!("{:>10}", "-"))
                })
                .collect();
            println!("{name:<18} {frame:<12}  {}", cells.join(""));
        }
    }
    let mut kinds = std::collections::BTreeMap::new();
    for e in &r.events {
        *kinds.entry(e.kind.as_str()).or_insert(0u64) += 1;
    }
    println!(
        "\nevents   {kinds:?}{}",
        if r.events_dropped > 0 {
            format!(" (+{} not listed)", r.events_dropped)
        } else {
            String::new()
        }
    );
    let t = &r.timing;
    let us = |v: Option<u32>| v.map(|v| format!("{v} µs")).unwrap_or_else(|| "-".into());
    println!(
        "compute  push p50 {}, p99 {}, max {}; {:.0}x real time",
        us(t.push_p50_us),
        us(t.push_p99_us),
        us(t.push_max_us),
        t.realtime_factor.unwrap_or(0.0)
    );
    if let Some(s) = &r.ssm {
        println!(
            "safety   robot at {:?} m, {} m/s: run {:.1} s, fallback {:.1} s, protective stop {:.1} s; closest {} m",
            s.robot_position_in_base_m,
            s.programmed_speed_mps,
            s.seconds_run,
            s.seconds_fallback,
            s.seconds_protective_stop,
            s.min_separation_m
                .map(|m| format!("{m:.2}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    if let Some(e) = &r.stopped_at {
        println!("\nSTOPPED EARLY: {e}");
    }
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let model = LoadedModel::load(args.model.as_deref()).context("loading the model")?;
    let safety = match &args.robot {
        Some(p) => {
            anyhow::ensure!(p.len() == 3, "--robot needs 3 values x,y,z (metres), got {}", p.len());
            let pose: [f64; 6] = match &args.base_from_forecast {
                Some(v) => v.as_slice().try_into().map_err(|_| {
                    anyhow::anyhow!(
                        "--base-from-forecast needs 6 values x,y,z,roll,pitch,yaw, got {}",
                        v.len()
                    )
                })?,
                None => [0.0; 6],
            };
            anyhow::ensure!(
                p.iter().all(|v| v.is_finite()) && args.robot_speed.is_finite() && args.robot_speed >= 0.0,
                "--robot and --robot-speed must be finite (speed >= 0)"
            );
            Some(SafetySetup {
                base_from_forecast: RigidTransform::from_xyz_rpy(pose),
                robot: RobotState {
                    position_in_base_m: [p[0], p[1], p[2]],
                    programmed_speed_mps: args.robot_speed,
                },
                monitor: MonitorConfig::default(),
            })
        }
        None => None,
    };
    let opts = ReplayOptions {
        safety,
        topic: args.topic.clone(),
        model,
        engine: EngineConfig::default(),
        tracks: TracksConfig::default(),
        out_dir: args.out.clone(),
        markers: MarkerStyle::default(),
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} replay {pos}/{len} messages [{elapsed_precise}, {per_sec}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let r = replay(&args.bag, &opts, &mut |done, total| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        if done % 256 == 0 {
            bar.set_position(done);
        }
    })
    .with_context(|| format!("replaying {}", args.bag.display()))?;
    bar.finish_and_clear();
    if let Some(path) = &args.report {
        let tmp = path.with_extension("html.tmp");
        std::fs::write(&tmp, report::html(&r)).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        print_json(&r)?;
    } else {
        print_table(&r);
        if let Some(p) = &args.report {
            println!("report   {}", p.display());
        }
        if let Some(o) = &r.output_bag {
            println!("output   {o}");
        }
    }
    if let Some(e) = &r.stopped_at {
        anyhow::bail!("the bag ended in an error after {} messages: {e}", r.messages);
    }
    Ok(())
}
