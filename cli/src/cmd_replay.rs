//! `a4mer replay`: a bag through the node's engine, driven by bag time, for safety audits.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use a4mer_firmware::monitor::MonitorConfig;
use a4mer_firmware::ssm::RobotState;
use a4mer_replay::{HORIZONS_MS, ReplayOptions, ReplayReport, SafetySetup, replay, report};
use a4mer_ros::config::NodeConfig;
use a4mer_ros::link::RigidTransform;
use a4mer_ros::model::LoadedModel;
use a4mer_ros::ros_args::Parameters;
use a4mer_ros::startup::parameters_from_args;

use crate::args::print_json;

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
    /// as the node's `link.base_from_forecast` (without `output.frame_id` only: with it, the
    /// bag's TF places the poses).
    #[arg(
        long,
        value_name = "X,Y,Z,R,P,Y",
        value_delimiter = ',',
        allow_hyphen_values = true,
        requires = "robot"
    )]
    base_from_forecast: Option<Vec<f64>>,
    /// The robot's node parameters file (as `a4mer_node --ros-args --params-file`): the
    /// audit runs with its settings, and the report lists them.
    #[arg(long, value_name = "FILE")]
    params_file: Option<PathBuf>,
    /// The node's ROS arguments, as its launch gives them (`-p name:=value`, `--params-file`,
    /// `-r __node:=...`). Everything after it is taken, so it comes last.
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true, value_name = "ARGS")]
    ros_args: Option<Vec<String>>,
}

fn print_table(r: &ReplayReport) {
    println!("bag      {} (sha256 {})", r.bag, &r.bag_sha256[..16]);
    println!("model    {} (sha256 {})", r.model, &r.model_sha256[..16]);
    for note in r.damping_tau_note.iter().chain(&r.anticipation_note) {
        println!("note     {note}");
    }
    let set: Vec<String> = r
        .settings
        .iter()
        .filter(|s| s.from != "default")
        .map(|s| format!("{} = {} ({})", s.name, s.value, s.from))
        .collect();
    println!(
        "settings {}",
        if set.is_empty() {
            "the node's defaults".to_string()
        } else {
            set.join("; ")
        }
    );
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

/// The node's configuration from `--params-file` and `--ros-args`, as `a4mer_node` reads it.
fn node_parameters(args: &ReplayArgs) -> Result<(Parameters, NodeConfig)> {
    let mut ros = vec!["--ros-args".to_string()];
    if let Some(f) = &args.params_file {
        ros.extend(["--params-file".to_string(), f.display().to_string()]);
    }
    ros.extend(args.ros_args.iter().flatten().cloned());
    let (_, params, config) = parameters_from_args(&ros).context("the node's parameters")?;
    Ok((params, config))
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let (params, config) = node_parameters(&args)?;
    anyhow::ensure!(
        args.model.is_none() || config.model.is_none(),
        "the model is given twice (--model and the `model` parameter): give it once"
    );
    let model = LoadedModel::load(args.model.as_deref().or(config.model.as_deref())).context("loading the model")?;
    let safety = match &args.robot {
        Some(p) => {
            anyhow::ensure!(p.len() == 3, "--robot needs 3 values x,y,z (metres), got {}", p.len());
            let from_params = config.link.as_ref().map(|l| l.base_from_forecast);
            anyhow::ensure!(
                args.base_from_forecast.is_none() || from_params.is_none(),
                "the robot base pose is given twice (--base-from-forecast and `link.base_from_forecast_xyz_rpy`): give it once"
            );
            anyhow::ensure!(
                args.base_from_forecast.is_none() || config.output_frame_id.is_empty(),
                "--base-from-forecast is the static fallback for a node without `output.frame_id`; with \
                 `output.frame_id` ({}) the poses are placed in that frame through the bag's TF: leave it out",
                config.output_frame_id
            );
            let base_from_forecast = match &args.base_from_forecast {
                Some(v) => RigidTransform::from_xyz_rpy(v.as_slice().try_into().map_err(|_| {
                    anyhow::anyhow!(
                        "--base-from-forecast needs 6 values x,y,z,roll,pitch,yaw, got {}",
                        v.len()
                    )
                })?),
                None => from_params.unwrap_or_else(|| RigidTransform::from_xyz_rpy([0.0; 6])),
            };
            anyhow::ensure!(
                p.iter().all(|v| v.is_finite()) && args.robot_speed.is_finite() && args.robot_speed >= 0.0,
                "--robot and --robot-speed must be finite (speed >= 0)"
            );
            Some(SafetySetup {
                base_from_forecast,
                robot: RobotState {
                    position_in_base_m: [p[0], p[1], p[2]],
                    programmed_speed_mps: args.robot_speed,
                },
                // The MCU's latency allowance follows the link's configured baud.
                monitor: MonitorConfig::for_baud(config.link.as_ref().map_or(921_600, |l| l.baud)),
            })
        }
        None => None,
    };
    let opts = ReplayOptions {
        safety,
        topic: args.topic.clone(),
        model,
        config,
        params,
        out_dir: args.out.clone(),
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
